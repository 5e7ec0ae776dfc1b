//! Reading OBS XML documents into typed values (quick-xml + serde), with errors that
//! say which document was broken.

use anyhow::{anyhow, Result};
use serde::de::DeserializeOwned;

/// Deserialize `text`; `what` names the document for the error ("project meta of 'X'").
pub fn parse<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    if text.trim().is_empty() {
        return Err(anyhow!("the {what} is empty: the server sent no document; try again, or check the URL with `osc api`"));
    }
    quick_xml::de::from_str(text).map_err(|e| {
        anyhow!("the {what} is not a readable XML document ({e}): the answer was cut off or malformed; try again")
    })
}

/// `"1"`/`"true"` attributes as OBS writes flags.
pub fn flag(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("1") | Some("true"))
}
