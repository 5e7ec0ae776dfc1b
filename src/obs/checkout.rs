//! The osc package checkout in a directory: `.osc/_project`, `.osc/_apiurl`.

use std::path::Path;

/// The checkout's project and API URL, when `dir` (or its `.osc`) is an osc checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub project: String,
    pub apiurl: Option<String>,
}

pub fn read(dir: &Path) -> Option<Checkout> {
    let store = dir.join(".osc");
    let project = std::fs::read_to_string(store.join("_project"))
        .ok()?
        .trim()
        .to_string();
    if project.is_empty() {
        return None;
    }
    let apiurl = std::fs::read_to_string(store.join("_apiurl"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    Some(Checkout { project, apiurl })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_store_files() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(super::read(d.path()), None);
        std::fs::create_dir(d.path().join(".osc")).unwrap();
        std::fs::write(d.path().join(".osc/_project"), "home:alice\n").unwrap();
        std::fs::write(d.path().join(".osc/_apiurl"), "https://api.example.test\n").unwrap();
        let c = super::read(d.path()).unwrap();
        assert_eq!(c.project, "home:alice");
        assert_eq!(c.apiurl.as_deref(), Some("https://api.example.test"));
    }
}
