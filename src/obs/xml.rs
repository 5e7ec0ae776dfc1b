//! Reading OBS XML documents into typed values (quick-xml + serde), with errors that
//! say which document was broken.

use anyhow::{anyhow, Result};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::de::DeserializeOwned;

/// Deserialize `text`; `what` names the document for the error ("project meta of 'X'").
pub fn parse<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    if text.trim().is_empty() {
        return Err(anyhow!("the {what} is empty: the server sent no document; try again, or check the URL with `osc api`"));
    }
    deserialize(text).map_err(|e| {
        anyhow!("the {what} is not a readable XML document ({e}): the answer was cut off or malformed; try again")
    })
}

/// `quick_xml::de::from_str`, for any text without panicking. quick-xml 0.36's
/// deserializer reaches an `unreachable!` on a `<!DOCTYPE` inside an element (the text
/// around it arrives as two text events). XML allows a DOCTYPE only before the root
/// element, so such documents are refused before quick-xml sees them.
pub fn deserialize<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    if misplaced_doctype(text) {
        return Err("a <!DOCTYPE> inside the document".to_string());
    }
    quick_xml::de::from_str(text).map_err(|e| e.to_string())
}

/// Is there a DOCTYPE declaration after the root element has started?
fn misplaced_doctype(text: &str) -> bool {
    if !text
        .as_bytes()
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"<!doctype"))
    {
        return false;
    }
    let mut reader = Reader::from_str(text);
    let mut in_root = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_) | Event::Empty(_)) => in_root = true,
            Ok(Event::DocType(_)) if in_root => return true,
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// `"1"`/`"true"` attributes as OBS writes flags.
pub fn flag(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("1") | Some("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        title: Option<String>,
    }

    #[test]
    fn a_doctype_inside_an_element_is_an_error_not_a_panic() {
        let e = parse::<Doc>(
            "<doc><title>a<!DOCTYPE x [<!ENTITY e \"v\">]>b</title></doc>",
            "test document",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("<!DOCTYPE> inside the document"), "{e}");
        let d: Doc = parse("<!DOCTYPE doc>\n<doc><title>t</title></doc>", "d").unwrap();
        assert_eq!(d.title.as_deref(), Some("t"));
        let d: Doc = parse("<doc><title><![CDATA[<!DOCTYPE>]]></title></doc>", "d").unwrap();
        assert_eq!(d.title.as_deref(), Some("<!DOCTYPE>"));
    }
}
