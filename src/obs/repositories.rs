//! Where a root of an OBS repository installs from, first found wins:
//!
//! - the download-on-demand entries (`<download>`) of every repository on the expanded
//!   path for this arch, plus the prjconf's `RepoURL` lines;
//! - when there are none, the published repositories of the path under the instance's
//!   `download_url` (`/configuration`; for interconnect projects the remote instance's),
//!   leaving out the requested repository itself when it has a path (its own packages
//!   are not needed to make a root).

use std::collections::HashMap;

use anyhow::{anyhow, Result};

use super::bootstrap_plan::ObsSource;
use super::configuration::published_url;
use super::meta::{Download, DownloadRepoType, PathElement};
use super::pathchain::{MetaCache, MetaSource};
use super::prjconf::Prjconf;
use crate::bootstrap::plan::{Backend, Repository};

/// The repositories for `path` (the expanded build path of `project`/`repository`,
/// itself first) and scheduler arch `arch`.
pub fn for_path(
    source: &dyn ObsSource,
    cache: &MetaCache,
    path: &[PathElement],
    conf: &Prjconf,
    arch: &str,
    backend: Backend,
) -> Result<Vec<Repository>> {
    let mut repositories: Vec<Repository> = Vec::new();
    for elem in path {
        let m = cache.project_meta(&elem.project)?;
        if let Some(r) = m.repository(&elem.repository) {
            for d in r.downloads.iter().filter(|d| d.arch == arch) {
                push_unique(&mut repositories, from_download(d, elem)?);
            }
        }
    }
    for (i, line) in conf.repourl.iter().enumerate() {
        push_unique(&mut repositories, from_repourl(line, i, backend)?);
    }
    if repositories.is_empty() {
        for repo in published(source, cache, path, backend)? {
            push_unique(&mut repositories, repo);
        }
    }
    Ok(repositories)
}

/// The published repositories of `path`, leaving out its first element when there are others.
fn published(
    source: &dyn ObsSource,
    cache: &MetaCache,
    path: &[PathElement],
    backend: Backend,
) -> Result<Vec<Repository>> {
    let no_download_url = |instance: &str| {
        let start = path.first().map(ToString::to_string).unwrap_or_default();
        anyhow!(
            "{start} names no repositories to install from (no download-on-demand entry, no RepoURL in its prjconf) and {instance} /configuration has no download_url: bootstrap with --repo URL instead"
        )
    };
    let mut local_download_url: Option<String> = None;
    let mut remote_download_urls: HashMap<String, String> = HashMap::new();
    let skip_self = path.len() > 1;
    let mut out = Vec::new();
    for elem in path.iter().skip(usize::from(skip_self)) {
        // published where the project lives: here, or on the remote instance of an
        // interconnect project (openSUSE.org:openSUSE:Tumbleweed -> openSUSE:Tumbleweed)
        let (download_url, name) = match remote_of(cache, &elem.project) {
            Some((remoteurl, name)) => {
                if !remote_download_urls.contains_key(&remoteurl) {
                    let c = source.remote_configuration(&remoteurl)?;
                    let d = c.download_url.ok_or_else(|| {
                        no_download_url(&format!("the remote instance {remoteurl}"))
                    })?;
                    remote_download_urls.insert(remoteurl.clone(), d);
                }
                (remote_download_urls[&remoteurl].clone(), name)
            }
            None => {
                if local_download_url.is_none() {
                    let c = source.configuration()?;
                    local_download_url = Some(
                        c.download_url
                            .ok_or_else(|| no_download_url("the instance's"))?,
                    );
                }
                (
                    local_download_url.clone().unwrap_or_default(),
                    elem.project.clone(),
                )
            }
        };
        out.push(Repository {
            name: alias(elem),
            url: published_url(&download_url, &name, &elem.repository),
            // published Debian repositories are flat: deb URL ./
            suite: (backend == Backend::Debian).then(|| "./".to_string()),
            components: vec![],
        });
    }
    Ok(out)
}

/// The interconnect project a project name starts with (`openSUSE.org` in
/// `openSUSE.org:openSUSE:Tumbleweed`): its remote URL and the name on the remote side.
fn remote_of(cache: &MetaCache, project: &str) -> Option<(String, String)> {
    for (i, _) in project.match_indices(':') {
        if let Ok(meta) = cache.project_meta(&project[..i]) {
            if let Some(url) = meta.remoteurl.filter(|u| !u.trim().is_empty()) {
                return Some((url.trim().to_string(), project[i + 1..].to_string()));
            }
        }
    }
    None
}

fn push_unique(list: &mut Vec<Repository>, r: Repository) {
    if !list
        .iter()
        .any(|x| x.url == r.url && x.suite == r.suite && x.components == r.components)
    {
        list.push(r);
    }
}

fn alias(elem: &PathElement) -> String {
    format!("{}_{}", elem.project, elem.repository).replace([':', '/'], "_")
}

/// A Debian archive URL written as `<base>/<suite>/<components>` (DoD `deb` entries,
/// `RepoURL: debian@...`), or a flat repository `<url>/.[/<components>]`.
fn debian_repository(name: String, url: &str) -> Result<Repository> {
    let url = url.trim_end_matches('/');
    if let Some((base, comps)) = url
        .split_once("/./")
        .or_else(|| url.strip_suffix("/.").map(|b| (b, "")))
    {
        return Ok(Repository {
            name,
            url: base.to_string(),
            suite: Some("./".into()),
            components: comps
                .split([',', '/'])
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    let not_debian = || {
        anyhow!(
            "Debian repository URL '{url}' is not <mirror>/<suite>/<components>: fix the project's <download> or RepoURL entry"
        )
    };
    let mut parts = url.rsplitn(3, '/');
    let (Some(components), Some(suite), Some(base)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(not_debian());
    };
    if base.ends_with(':') || base.is_empty() {
        return Err(not_debian());
    }
    Ok(Repository {
        name,
        url: base.to_string(),
        suite: Some(suite.to_string()),
        components: components
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

fn from_download(d: &Download, elem: &PathElement) -> Result<Repository> {
    let name = format!("{}-dod", alias(elem));
    match d.repotype {
        DownloadRepoType::Deb => debian_repository(name, &d.url),
        _ => Ok(Repository {
            name,
            url: d.url.clone(),
            suite: None,
            components: vec![],
        }),
    }
}

fn from_repourl(line: &str, i: usize, backend: Backend) -> Result<Repository> {
    let name = format!("repourl{}", i + 1);
    let (kind, url) = match line.split_once('@') {
        Some((k, u)) if !k.contains('/') && !k.contains(':') => (Some(k), u),
        _ => (None, line),
    };
    let debian = match kind {
        Some("debian") => true,
        Some(_) => false,
        None => backend == Backend::Debian,
    };
    if debian {
        debian_repository(name, url)
    } else {
        Ok(Repository {
            name,
            url: url.to_string(),
            suite: None,
            components: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_urls() {
        let r =
            debian_repository("n".into(), "http://d.test/debian/bookworm/main,contrib/").unwrap();
        assert_eq!(
            (r.url.as_str(), r.suite.as_deref(), r.components.as_slice()),
            (
                "http://d.test/debian",
                Some("bookworm"),
                &["main".to_string(), "contrib".to_string()][..]
            )
        );
        let flat = debian_repository("n".into(), "http://d.test/repo/./main").unwrap();
        assert_eq!(
            (flat.url.as_str(), flat.suite.as_deref()),
            ("http://d.test/repo", Some("./"))
        );
        assert!(debian_repository("n".into(), "http://x").is_err());
        assert!(debian_repository("n".into(), "").is_err());
    }

    #[test]
    fn repourl_kinds() {
        let r = from_repourl("debian@http://d.test/debian/sid/main", 0, Backend::Zypper).unwrap();
        assert_eq!(
            (r.name.as_str(), r.suite.as_deref()),
            ("repourl1", Some("sid"))
        );
        let r = from_repourl("http://r.test/oss", 1, Backend::Zypper).unwrap();
        assert_eq!((r.url.as_str(), r.suite), ("http://r.test/oss", None));
    }
}
