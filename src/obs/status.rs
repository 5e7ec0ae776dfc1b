//! The `<status code="..."><summary>...</summary></status>` document OBS answers
//! errors (and some successes) with.

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Status {
    #[serde(rename = "@code", default)]
    pub code: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
}

impl Status {
    /// Parse a body as a status document; None when it is not one.
    pub fn from_body(body: &str) -> Option<Status> {
        let t = body.trim_start();
        if !t.starts_with("<status") && !t.starts_with("<?xml") {
            return None;
        }
        let s: Status = super::xml::deserialize(body).ok()?;
        if s.code.is_empty() {
            None
        } else {
            Some(s)
        }
    }

    /// One line: `summary (code)`.
    pub fn one_line(&self) -> String {
        let summary = self
            .summary
            .as_deref()
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| !s.is_empty());
        match summary {
            Some(s) => format!("{} ({})", s, self.code),
            None => self.code.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_and_ok_documents() {
        let s = Status::from_body("<status code=\"unknown_project\">\n  <summary>Project not found: home:x</summary>\n</status>\n").unwrap();
        assert_eq!(s.code, "unknown_project");
        assert_eq!(s.one_line(), "Project not found: home:x (unknown_project)");
        let ok = Status::from_body(include_str!("../../tests/data/obs/status_ok_with_data.xml"))
            .unwrap();
        assert_eq!(ok.code, "ok");
        assert_eq!(ok.details.as_deref(), Some("Operation successfull."));
        assert_eq!(Status::from_body("<html>oops</html>"), None);
    }
}
