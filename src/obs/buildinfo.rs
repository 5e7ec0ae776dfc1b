//! `_buildinfo` (`POST /build/<prj>/<repo>/<arch>/<pkg>/_buildinfo`): the resolved
//! build dependencies of a package, as the backend computes them.

use serde::Deserialize;

use super::xml::flag;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BuildInfo {
    #[serde(rename = "@project", default)]
    pub project: String,
    #[serde(rename = "@repository", default)]
    pub repository: String,
    #[serde(rename = "@package", default)]
    pub package: String,
    #[serde(rename = "@downloadurl", default)]
    pub downloadurl: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
    /// Set when the backend could not resolve the build (`unresolvable: ...`).
    #[serde(default)]
    pub error: Option<String>,
    #[serde(rename = "bdep", default)]
    pub bdeps: Vec<Bdep>,
    #[serde(rename = "path", default)]
    pub paths: Vec<BuildPath>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Bdep {
    #[serde(rename = "@name")]
    pub name: String,
    #[serde(rename = "@version", default)]
    pub version: Option<String>,
    #[serde(rename = "@release", default)]
    pub release: Option<String>,
    #[serde(rename = "@arch", default)]
    pub arch: Option<String>,
    #[serde(rename = "@project", default)]
    pub project: Option<String>,
    #[serde(rename = "@repository", default)]
    pub repository: Option<String>,
    #[serde(rename = "@preinstall", default)]
    pub preinstall: Option<String>,
    #[serde(rename = "@vminstall", default)]
    pub vminstall: Option<String>,
    #[serde(rename = "@runscripts", default)]
    pub runscripts: Option<String>,
    #[serde(rename = "@notmeta", default)]
    pub notmeta: Option<String>,
    #[serde(rename = "@noinstall", default)]
    pub noinstall: Option<String>,
}

impl Bdep {
    pub fn is_preinstall(&self) -> bool {
        flag(&self.preinstall)
    }
    pub fn is_runscripts(&self) -> bool {
        flag(&self.runscripts)
    }
    pub fn is_vminstall(&self) -> bool {
        flag(&self.vminstall)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BuildPath {
    #[serde(rename = "@project")]
    pub project: String,
    #[serde(rename = "@repository")]
    pub repository: String,
    #[serde(rename = "@url", default)]
    pub url: Option<String>,
}

impl BuildInfo {
    pub fn parse(text: &str, what: &str) -> anyhow::Result<BuildInfo> {
        super::xml::parse(text, &format!("_buildinfo of {what}"))
    }

    /// Names of the packages unpacked first (`preinstall="1"`).
    pub fn preinstalls(&self) -> Vec<&str> {
        self.bdeps
            .iter()
            .filter(|b| b.is_preinstall())
            .map(|b| b.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_backend_example() {
        let b =
            BuildInfo::parse(include_str!("../../tests/data/obs/buildinfo.xml"), "screen").unwrap();
        assert_eq!(b.project, "openSUSE:13.2");
        assert_eq!(b.package, "screen");
        assert_eq!(b.arch.as_deref(), Some("i586"));
        assert_eq!(b.bdeps.len(), 104);
        assert_eq!(b.bdeps[0].name, "aaa_base");
        assert!(b.bdeps[0].is_preinstall() && b.bdeps[0].is_runscripts());
        assert!(b.preinstalls().contains(&"rpm"));
        assert!(b
            .bdeps
            .iter()
            .any(|d| d.is_vminstall() && d.name == "kernel-obs-build"));
        assert_eq!(b.error, None);
    }
}
