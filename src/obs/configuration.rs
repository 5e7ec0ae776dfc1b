//! `GET /configuration`: the instance's settings; archbuild needs `download_url`, the
//! prefix under which published repositories appear (schema: OBS `configuration.rng`).

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Configuration {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub download_url: Option<String>,
    #[serde(default)]
    pub obs_url: Option<String>,
    #[serde(default)]
    pub schedulers: Option<Schedulers>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Schedulers {
    #[serde(rename = "arch", default)]
    pub arches: Vec<String>,
}

impl Configuration {
    pub fn parse(text: &str) -> anyhow::Result<Configuration> {
        super::xml::parse(text, "/configuration document")
    }
}

/// Where OBS publishes `project`/`repository` under `download_url`: every `:` in the
/// project becomes `:/` (`home:alice` -> `home:/alice`).
pub fn published_url(download_url: &str, project: &str, repository: &str) -> String {
    format!(
        "{}/{}/{}/",
        download_url.trim_end_matches('/'),
        project.replace(':', ":/"),
        repository
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_example_and_download_url() {
        let c =
            Configuration::parse(include_str!("../../tests/data/obs/configuration.xml")).unwrap();
        assert_eq!(c.title.as_deref(), Some("openSUSE Build Service"));
        assert_eq!(c.download_url, None);
        assert_eq!(c.schedulers.unwrap().arches, ["i586"]);
        let c = Configuration::parse("<configuration><download_url>http://dl.test/repositories</download_url></configuration>").unwrap();
        assert_eq!(
            c.download_url.as_deref(),
            Some("http://dl.test/repositories")
        );
    }

    #[test]
    fn published_url_as_obs_lays_it_out() {
        assert_eq!(
            published_url(
                "https://download.opensuse.org/repositories/",
                "openSUSE:Factory:ARM",
                "standard"
            ),
            "https://download.opensuse.org/repositories/openSUSE:/Factory:/ARM/standard/"
        );
    }
}
