//! Project meta (`GET /source/<project>/_meta`): repositories with their build path,
//! arches and download-on-demand entries (schema: OBS `obs.rng`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProjectMeta {
    #[serde(rename = "@name", default)]
    pub name: String,
    /// Set on interconnect projects that stand for a remote OBS instance.
    #[serde(default)]
    pub remoteurl: Option<String>,
    #[serde(rename = "repository", default)]
    pub repositories: Vec<RepositoryMeta>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RepositoryMeta {
    #[serde(rename = "@name")]
    pub name: String,
    #[serde(rename = "@rebuild", default)]
    pub rebuild: Option<String>,
    #[serde(rename = "download", default)]
    pub downloads: Vec<Download>,
    #[serde(rename = "path", default)]
    pub paths: Vec<PathElement>,
    #[serde(rename = "arch", default)]
    pub arches: Vec<String>,
}

/// `<path project= repository=>`: one element of a repository's build path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
pub struct PathElement {
    #[serde(rename(deserialize = "@project"))]
    pub project: String,
    #[serde(rename(deserialize = "@repository"))]
    pub repository: String,
}

impl PathElement {
    pub fn new(project: &str, repository: &str) -> PathElement {
        PathElement {
            project: project.to_string(),
            repository: repository.to_string(),
        }
    }
}

impl std::fmt::Display for PathElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.project, self.repository)
    }
}

/// `<download arch= url= repotype=>`: download on demand (DoD) from an external repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Download {
    #[serde(rename(deserialize = "@arch"))]
    pub arch: String,
    #[serde(rename(deserialize = "@url"))]
    pub url: String,
    #[serde(rename(deserialize = "@repotype"))]
    pub repotype: DownloadRepoType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archfilter: Option<String>,
}

/// The metadata format of a download-on-demand repository (`obs.rng`'s choice).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum DownloadRepoType {
    /// `rpmmd`: rpm-md (repodata/repomd.xml).
    RpmMd,
    Susetags,
    /// `deb`: a Debian archive, `<mirror>/<suite>/<components>`.
    Deb,
    Arch,
    Mdk,
    Registry,
    /// A value the schema does not list, as written.
    Other(String),
}

impl From<String> for DownloadRepoType {
    fn from(s: String) -> DownloadRepoType {
        match s.as_str() {
            "rpmmd" => DownloadRepoType::RpmMd,
            "susetags" => DownloadRepoType::Susetags,
            "deb" => DownloadRepoType::Deb,
            "arch" => DownloadRepoType::Arch,
            "mdk" => DownloadRepoType::Mdk,
            "registry" => DownloadRepoType::Registry,
            _ => DownloadRepoType::Other(s),
        }
    }
}

impl From<DownloadRepoType> for String {
    fn from(t: DownloadRepoType) -> String {
        match t {
            DownloadRepoType::RpmMd => "rpmmd".into(),
            DownloadRepoType::Susetags => "susetags".into(),
            DownloadRepoType::Deb => "deb".into(),
            DownloadRepoType::Arch => "arch".into(),
            DownloadRepoType::Mdk => "mdk".into(),
            DownloadRepoType::Registry => "registry".into(),
            DownloadRepoType::Other(s) => s,
        }
    }
}

impl ProjectMeta {
    pub fn repository(&self, name: &str) -> Option<&RepositoryMeta> {
        self.repositories.iter().find(|r| r.name == name)
    }

    pub fn repository_names(&self) -> Vec<&str> {
        self.repositories.iter().map(|r| r.name.as_str()).collect()
    }

    pub fn parse(text: &str, project: &str) -> anyhow::Result<ProjectMeta> {
        super::xml::parse(text, &format!("project meta of '{project}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_api_example() {
        let m = ProjectMeta::parse(
            include_str!("../../tests/data/obs/project_meta.xml"),
            "superkde",
        )
        .unwrap();
        assert_eq!(m.name, "superkde");
        assert_eq!(
            m.repository_names(),
            ["kde4:factory", "suselinux-9.3", "gnomespecial"]
        );
        let g = m.repository("gnomespecial").unwrap();
        assert_eq!(
            g.paths,
            [
                PathElement::new("gnome3", "suselinux-9.3"),
                PathElement::new("suselinux-9.3", "standard")
            ]
        );
        assert_eq!(g.arches, ["i386"]);
    }

    #[test]
    fn reads_download_on_demand() {
        let m = ProjectMeta::parse(
            include_str!("../../tests/data/obs/project_meta_dod_several.xml"),
            "home:user5",
        )
        .unwrap();
        let r = m.repository("standard").unwrap();
        assert_eq!(r.downloads.len(), 2);
        assert_eq!(r.downloads[0].url, "http://mola.org2");
        assert_eq!(r.downloads[0].archfilter.as_deref(), Some("i586, noarch"));
        assert_eq!(r.downloads[0].repotype, DownloadRepoType::RpmMd);
        assert_eq!(r.downloads[1].repotype, DownloadRepoType::Deb);
        assert_eq!(r.arches, ["i586", "x86_64"]);
    }

    #[test]
    fn reads_remote_instance_and_rejects_garbage() {
        let m = ProjectMeta::parse(
            include_str!("../../tests/data/obs/project_meta_remote_instance.xml"),
            "openSUSE.org",
        )
        .unwrap();
        assert_eq!(
            m.remoteurl.as_deref(),
            Some("https://api.opensuse.org/public")
        );
        let err = ProjectMeta::parse("<project name='x'><repository name='a'>", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("project meta of 'x'"), "{err}");
    }
}
