//! From OBS project/repository/arch to the bootstrap [`Plan`] of a root that matches it:
//! what `archbuild bootstrap ARCH --obs PROJECT/REPOSITORY` executes and `obs plan` shows.
//!
//! - backend: `Binarytype: deb` (given, or derived from `Type:`/the preinstalls as
//!   obs-build does) or `Repotype: debian` -> Debian; anything else -> zypper;
//! - repositories: see [`super::repositories`];
//! - packages: the prjconf's `Preinstall` (what rpm/dpkg need to run) and `Required`
//!   (always in a build root) lists; `Support` (checkers and helpers for package builds)
//!   is left out of a minimal root. `-name` entries are exclusions, not packages;
//! - emulator: as [`crate::bootstrap::emulator_probe`] finds it on this host.

use anyhow::Result;

use super::client::Client;
use super::configuration::Configuration;
use super::meta::{PathElement, ProjectMeta};
use super::pathchain::{self, MetaCache, MetaSource};
use super::prjconf::{BinaryType, Prjconf};
use super::repositories;
use crate::arch;
use crate::bootstrap::plan::{Backend, Plan};
/// What a plan is made from: project metas, the combined build config, the instance
/// configuration. The API [`Client`] is one; tests use maps.
pub trait ObsSource: MetaSource {
    /// `/build/<project>/<repository>/_buildconfig`
    fn buildconfig(&self, project: &str, repository: &str) -> Result<String>;
    /// `/configuration`
    fn configuration(&self) -> Result<Configuration>;
    /// `/configuration` of the remote instance an interconnect project stands for
    /// (its `<remoteurl>`, e.g. `https://api.opensuse.org/public`).
    fn remote_configuration(&self, remoteurl: &str) -> Result<Configuration>;
}

impl ObsSource for Client {
    fn buildconfig(&self, project: &str, repository: &str) -> Result<String> {
        Client::buildconfig(self, project, repository)
    }
    fn configuration(&self) -> Result<Configuration> {
        Client::configuration(self)
    }
    fn remote_configuration(&self, remoteurl: &str) -> Result<Configuration> {
        let api = super::oscrc::ApiConfig {
            apiurl: remoteurl.trim_end_matches('/').to_string(),
            user: None,
            password: None,
            oscrc: None,
        };
        Client::new(&api)?.configuration()
    }
}

/// Everything `obs plan` shows: the plan and what it was made from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explained {
    pub plan: Plan,
    pub project: String,
    pub repository: String,
    /// The expanded build path, the repository itself first.
    pub path: Vec<PathElement>,
    pub binarytype: BinaryType,
    pub repotype: Vec<String>,
    pub preinstall: Vec<String>,
    pub required: Vec<String>,
    pub support: Vec<String>,
    pub runscripts: Vec<String>,
}

/// The bootstrap plan for `arch` (any name `arch::lookup` takes) of `project`/`repository`.
/// This is what `archbuild bootstrap ARCH --obs PROJECT/REPOSITORY` executes.
///
/// The client's HTTP runtime runs a thread while the [`Client`] lives: drop it before
/// `unshare(CLONE_NEWNS)`/`setns` in the same process (or use [`for_prp`]).
pub fn for_repository(
    client: &Client,
    project: &str,
    repository: &str,
    arch: &str,
) -> Result<Plan> {
    Ok(explain(client, project, repository, arch)?.plan)
}

/// Everything in one call, for `bootstrap ARCH --obs PROJECT/REPOSITORY`: read the oscrc
/// as osc does (`config` is `--config`, `apiurl` is `-A`, URL or alias; the checkout in
/// the current directory supplies its `.osc/_apiurl`), ask OBS, return the plan. The
/// HTTP client and its thread are gone when this returns.
pub fn for_prp(
    prp: &str,
    arch: &str,
    apiurl: Option<&str>,
    config: Option<&std::path::Path>,
) -> Result<Plan> {
    let (project, repository) = split_prp(prp)?;
    let here = std::env::current_dir()
        .ok()
        .and_then(|d| super::checkout::read(&d));
    let store_apiurl = here.as_ref().and_then(|c| c.apiurl.as_deref());
    let api = super::oscrc::load(config, apiurl, store_apiurl)?;
    let client = Client::new(&api)?;
    let plan = for_repository(&client, project, repository, arch);
    drop(client);
    plan
}

/// Parse `PROJECT/REPOSITORY` (the project may contain `:` but not `/`).
pub fn split_prp(prp: &str) -> Result<(&str, &str)> {
    match prp.rsplit_once('/') {
        Some((p, r)) if !p.is_empty() && !r.is_empty() && !p.contains('/') => Ok((p, r)),
        _ => Err(crate::error::usage(format!(
            "'{prp}' is not PROJECT/REPOSITORY: write it as e.g. openSUSE:Factory/standard (see `archbuild obs repos PROJECT`)"
        ))),
    }
}

/// The plan with what it was made from.
pub fn explain(
    source: &dyn ObsSource,
    project: &str,
    repository: &str,
    arch_name: &str,
) -> Result<Explained> {
    let cache = MetaCache::new(source);
    let meta = cache.project_meta(project)?;
    let repo = meta
        .repository(repository)
        .ok_or_else(|| unknown_repository(&meta, repository))?;
    let arch = resolve_arch(arch_name, &repo.arches, project, repository)?;

    let start = PathElement::new(project, repository);
    let path = pathchain::expand(&start, &cache)?;

    let config_text = source.buildconfig(project, repository)?;
    let conf = Prjconf::parse_with(
        &config_text,
        arch.obs,
        &[("_project", project), ("_repository", repository)],
    );
    let binarytype = conf.binary_type();
    let backend = if binarytype == BinaryType::Deb || conf.repotype.iter().any(|r| r == "debian") {
        Backend::Debian
    } else {
        Backend::Zypper
    };
    let repositories = repositories::for_path(source, &cache, &path, &conf, arch.obs, backend)?;

    let mut seen = std::collections::HashSet::new();
    let packages: Vec<String> = conf
        .preinstall
        .iter()
        .chain(conf.required.iter())
        .filter(|p| !p.starts_with('-') && seen.insert(p.as_str()))
        .cloned()
        .collect();

    let emulator = crate::bootstrap::emulator_probe::planned_emulator(arch);

    let plan = Plan {
        arch: arch.obs.to_string(),
        backend,
        source: format!("obs:{project}/{repository}"),
        repositories,
        packages,
        emulator,
    };
    Ok(Explained {
        plan,
        project: project.to_string(),
        repository: repository.to_string(),
        path,
        binarytype,
        repotype: conf.repotype.clone(),
        preinstall: conf.preinstall.clone(),
        required: conf.required.clone(),
        support: conf.support.clone(),
        runscripts: conf.runscripts.clone(),
    })
}

fn unknown_repository(meta: &ProjectMeta, repository: &str) -> anyhow::Error {
    let names = meta.repository_names();
    if names.is_empty() {
        crate::error::usage(format!(
            "project '{}' has no repositories, so no '{repository}': add one with `osc meta prj -e {}`, or use a project that builds",
            meta.name, meta.name
        ))
    } else {
        crate::error::usage(format!(
            "project '{}' has no repository '{repository}': use one of {}",
            meta.name,
            names.join(", ")
        ))
    }
}

fn resolve_arch(
    name: &str,
    valid: &[String],
    project: &str,
    repository: &str,
) -> Result<&'static arch::Arch> {
    let list = || {
        if valid.is_empty() {
            "none".to_string()
        } else {
            valid.join(", ")
        }
    };
    // An arch the repository builds is taken as OBS names it even if archbuild does not know it.
    let found = arch::lookup(name).map_err(|_| {
        crate::error::usage(format!(
            "unknown architecture '{name}': {project}/{repository} builds for {} (see `archbuild arches`)",
            list()
        ))
    })?;
    if !valid.iter().any(|a| a == found.obs) {
        return Err(crate::error::usage(format!(
            "{project}/{repository} does not build for {}: use one of {}",
            found.obs,
            list()
        )));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake {
        metas: HashMap<String, ProjectMeta>,
        configs: HashMap<String, String>,
        download_url: Option<String>,
    }

    impl MetaSource for Fake {
        fn project_meta(&self, project: &str) -> Result<ProjectMeta> {
            self.metas.project_meta(project)
        }
    }

    impl ObsSource for Fake {
        fn buildconfig(&self, project: &str, repository: &str) -> Result<String> {
            Ok(self
                .configs
                .get(&format!("{project}/{repository}"))
                .cloned()
                .unwrap_or_default())
        }
        fn configuration(&self) -> Result<Configuration> {
            Ok(Configuration {
                download_url: self.download_url.clone(),
                ..Default::default()
            })
        }
        fn remote_configuration(&self, remoteurl: &str) -> Result<Configuration> {
            assert_eq!(remoteurl, "https://api.opensuse.org/public");
            Ok(Configuration {
                download_url: Some("http://remote.test/repositories".into()),
                ..Default::default()
            })
        }
    }

    fn fake(metas: &[&str], configs: &[(&str, &str)], download_url: Option<&str>) -> Fake {
        Fake {
            metas: metas
                .iter()
                .map(|d| {
                    let m = ProjectMeta::parse(d, "t").unwrap();
                    (m.name.clone(), m)
                })
                .collect(),
            configs: configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            download_url: download_url.map(str::to_string),
        }
    }

    const HOME: &str = r#"<project name="home:alice"><repository name="openSUSE_Tumbleweed"><path project="openSUSE:Factory" repository="snapshot"/><arch>x86_64</arch><arch>aarch64</arch></repository></project>"#;
    const FACTORY: &str = r#"<project name="openSUSE:Factory"><repository name="snapshot"><arch>x86_64</arch><arch>aarch64</arch></repository></project>"#;

    #[test]
    fn tumbleweed_aarch64_from_repourl() {
        let f = fake(
            &[HOME, FACTORY],
            &[(
                "home:alice/openSUSE_Tumbleweed",
                include_str!("../../tests/data/obs/prjconf_tumbleweed.txt"),
            )],
            None,
        );
        let e = explain(&f, "home:alice", "openSUSE_Tumbleweed", "aarch64").unwrap();
        assert_eq!(e.plan.backend, Backend::Zypper);
        assert_eq!(e.plan.arch, "aarch64");
        assert_eq!(e.plan.source, "obs:home:alice/openSUSE_Tumbleweed");
        assert_eq!(e.plan.repositories.len(), 1);
        assert_eq!(
            e.plan.repositories[0].url,
            "https://download.opensuse.org/ports/aarch64/tumbleweed/repo/oss"
        );
        assert!(e.plan.packages.contains(&"rpm".to_string()));
        assert!(e.plan.packages.contains(&"rpm-build".to_string()));
        assert!(!e.plan.packages.iter().any(|p| p.starts_with('-')));
        assert_eq!(e.path.len(), 2);
    }

    #[test]
    fn published_repositories_when_nothing_else() {
        let f = fake(&[HOME, FACTORY], &[], Some("http://dl.test/repositories/"));
        let e = explain(&f, "home:alice", "openSUSE_Tumbleweed", "x86_64").unwrap();
        let urls: Vec<&str> = e.plan.repositories.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            ["http://dl.test/repositories/openSUSE:/Factory/snapshot/"]
        );
        let f = fake(&[HOME, FACTORY], &[], None);
        let err = explain(&f, "home:alice", "openSUSE_Tumbleweed", "x86_64")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("download_url") && err.contains("--repo"),
            "{err}"
        );
    }

    #[test]
    fn interconnect_projects_are_published_by_the_remote_instance() {
        let remote = include_str!("../../tests/data/obs/project_meta_remote_instance.xml");
        let prj = include_str!("../../tests/data/obs/project_meta_path_to_remote_tumbleweed.xml");
        let tw = r#"<project name="openSUSE.org:openSUSE:Tumbleweed"><repository name="standard"><arch>x86_64</arch></repository></project>"#;
        let f = fake(&[remote, prj, tw], &[], None);
        let e = explain(&f, "test:factory", "standard", "x86_64").unwrap();
        let urls: Vec<&str> = e.plan.repositories.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            ["http://remote.test/repositories/openSUSE:/Tumbleweed/standard/"]
        );
    }

    #[test]
    fn debian_from_dod_and_repourl() {
        let deb = r#"<project name="Debian:12"><repository name="main"><download arch="aarch64" url="http://deb.test/debian/bookworm/main,contrib" repotype="deb"/><arch>aarch64</arch></repository></project>"#;
        let f = fake(
            &[deb],
            &[(
                "Debian:12/main",
                include_str!("../../tests/data/obs/prjconf_debian12.txt"),
            )],
            None,
        );
        let e = explain(&f, "Debian:12", "main", "arm64").unwrap();
        assert_eq!(e.plan.backend, Backend::Debian);
        assert_eq!(e.plan.arch, "aarch64");
        let r = &e.plan.repositories;
        assert_eq!(r[0].url, "http://deb.test/debian");
        assert_eq!(r[0].suite.as_deref(), Some("bookworm"));
        assert_eq!(r[0].components, ["main", "contrib"]);
        assert_eq!(r[1].url, "http://ftp.de.debian.org/debian");
        assert_eq!(r[1].components, ["main"]);
        assert!(e.plan.packages.contains(&"dpkg".to_string()));
    }

    #[test]
    fn unknown_repository_and_arch_list_the_valid_ones() {
        let f = fake(&[HOME, FACTORY], &[], None);
        let err = explain(&f, "home:alice", "nope", "x86_64").unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        assert!(err.to_string().contains("openSUSE_Tumbleweed"), "{err}");
        let err = explain(&f, "home:alice", "openSUSE_Tumbleweed", "s390x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x86_64, aarch64"), "{err}");
        let err = explain(&f, "home:alice", "openSUSE_Tumbleweed", "vax")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x86_64, aarch64"), "{err}");
    }

    #[test]
    fn prp_split() {
        assert_eq!(
            split_prp("openSUSE:Factory/standard").unwrap(),
            ("openSUSE:Factory", "standard")
        );
        assert!(split_prp("openSUSE:Factory").is_err());
    }
}
