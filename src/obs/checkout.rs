//! The osc checkout in a directory: `.osc/_project`, `.osc/_package`, `.osc/_apiurl`, as
//! every osc store format (1.0 and 2.0) keeps them. The one reader of the store.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::usage;

pub const NOT_A_CHECKOUT: &str =
    "not an osc package checkout: run it in a directory made by `osc checkout`";

/// What the checkout's store says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub dir: PathBuf,
    pub project: String,
    /// None for a project checkout.
    pub package: Option<String>,
    pub apiurl: Option<String>,
}

fn read_store(dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".osc").join(name)).ok()?;
    let value = text.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The checkout (project or package) at `dir`, when it is one.
pub fn read(dir: &Path) -> Option<Checkout> {
    Some(Checkout {
        dir: dir.to_path_buf(),
        project: read_store(dir, "_project")?,
        package: read_store(dir, "_package"),
        apiurl: read_store(dir, "_apiurl"),
    })
}

/// The package checkout at `dir`; the error says what `dir` is instead.
pub fn read_package(dir: &Path) -> Result<(Checkout, String)> {
    let Some(checkout) = read(dir) else {
        return Err(usage(format!("{} is {NOT_A_CHECKOUT}", dir.display())));
    };
    match checkout.package.clone() {
        Some(package) => Ok((checkout, package)),
        None => Err(usage(format!(
            "{} is a checkout of project {}, not of a package: change into one of its package directories",
            dir.display(),
            checkout.project
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir.join(".osc")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(".osc").join(name), text).unwrap();
        }
    }

    #[test]
    fn package_checkout_of_store_2_0_is_read() {
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
        let (c, package) = read_package(tmp.path()).unwrap();
        assert_eq!(c.project, "home:pkger:arm");
        assert_eq!(package, "efitools");
        assert_eq!(c.apiurl.as_deref(), Some("https://api.opensuse.org"));
    }

    #[test]
    fn missing_apiurl_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        store(tmp.path(), &[("_project", "p"), ("_package", "k")]);
        assert_eq!(read(tmp.path()).unwrap().apiurl, None);
    }

    #[test]
    fn plain_directory_or_empty_store_is_not_a_checkout() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(read(tmp.path()), None);
        let err = read_package(tmp.path()).unwrap_err().to_string();
        assert!(err.contains(NOT_A_CHECKOUT), "{err}");
        store(tmp.path(), &[("_project", "\n")]);
        assert!(read_package(tmp.path())
            .unwrap_err()
            .to_string()
            .contains(NOT_A_CHECKOUT));
    }

    #[test]
    fn project_checkout_is_told_apart() {
        let tmp = tempfile::tempdir().unwrap();
        store(tmp.path(), &[("_project", "devel:ARM")]);
        assert_eq!(read(tmp.path()).unwrap().project, "devel:ARM");
        let err = read_package(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("checkout of project devel:ARM, not of a package"),
            "{err}"
        );
    }
}
