//! The osc package checkout in a directory: `.osc/_project`, `.osc/_package`,
//! `.osc/_apiurl`, as every osc store format (1.0 and 2.0) keeps them.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::usage;

pub const NOT_A_CHECKOUT: &str =
    "not an osc package checkout: run it in a directory made by `osc checkout`";

/// What the checkout's store says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub dir: PathBuf,
    pub apiurl: Option<String>,
    pub project: String,
    pub package: String,
}

fn read_store(dir: &Path, name: &str) -> Option<String> {
    let text = fs::read_to_string(dir.join(".osc").join(name)).ok()?;
    let value = text.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// Read the package checkout at `dir`.
pub fn read(dir: &Path) -> Result<Checkout> {
    if !dir.join(".osc").is_dir() {
        return Err(usage(format!("{} is {NOT_A_CHECKOUT}", dir.display())));
    }
    let Some(project) = read_store(dir, "_project") else {
        return Err(usage(format!("{} is {NOT_A_CHECKOUT}", dir.display())));
    };
    let Some(package) = read_store(dir, "_package") else {
        return Err(usage(format!(
            "{} is a checkout of project {project}, not of a package: change into one of its package directories",
            dir.display()
        )));
    };
    Ok(Checkout {
        dir: dir.to_path_buf(),
        apiurl: read_store(dir, "_apiurl"),
        project,
        package,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, files: &[(&str, &str)]) {
        fs::create_dir_all(dir.join(".osc")).unwrap();
        for (name, text) in files {
            fs::write(dir.join(".osc").join(name), text).unwrap();
        }
    }

    #[test]
    fn package_checkout_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        store(
            tmp.path(),
            &[
                ("_project", "home:pkger:arm\n"),
                ("_package", "efitools\n"),
                ("_apiurl", "https://api.opensuse.org\n"),
                ("_osclib_version", "2.0\n"),
            ],
        );
        let c = read(tmp.path()).unwrap();
        assert_eq!(c.project, "home:pkger:arm");
        assert_eq!(c.package, "efitools");
        assert_eq!(c.apiurl.as_deref(), Some("https://api.opensuse.org"));
    }

    #[test]
    fn missing_apiurl_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        store(tmp.path(), &[("_project", "p"), ("_package", "k")]);
        assert_eq!(read(tmp.path()).unwrap().apiurl, None);
    }

    #[test]
    fn plain_directory_is_not_a_checkout() {
        let tmp = tempfile::tempdir().unwrap();
        let err = read(tmp.path()).unwrap_err().to_string();
        assert!(err.contains(NOT_A_CHECKOUT), "{err}");
    }

    #[test]
    fn empty_store_is_not_a_checkout() {
        let tmp = tempfile::tempdir().unwrap();
        store(tmp.path(), &[("_project", "\n")]);
        assert!(read(tmp.path())
            .unwrap_err()
            .to_string()
            .contains(NOT_A_CHECKOUT));
    }

    #[test]
    fn project_checkout_is_told_apart() {
        let tmp = tempfile::tempdir().unwrap();
        store(tmp.path(), &[("_project", "devel:ARM")]);
        let err = read(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("checkout of project devel:ARM, not of a package"),
            "{err}"
        );
    }
}
