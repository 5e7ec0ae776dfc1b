//! Built-in distributions as data: which repositories make a root of an arch, for which
//! backend. `--dist` picks one; `--repo` replaces its repositories.

use anyhow::Result;
use serde::Serialize;

use crate::arch::Arch;
use crate::bootstrap::plan::{Backend, Plan, Repository};
use crate::error::usage;

/// One built-in distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Distribution {
    /// Name given to `--dist`.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    pub backend: Backend,
    /// Human description for listings.
    pub title: &'static str,
    /// Debian suite; None for rpm-md distributions.
    pub suite: Option<&'static str>,
    /// OBS arches this distribution publishes.
    pub arches: &'static [&'static str],
}

const OPENSUSE: &str = "http://download.opensuse.org";

pub const DISTRIBUTIONS: &[Distribution] = &[
    Distribution {
        name: "tumbleweed",
        aliases: &["opensuse-tumbleweed", "openSUSE_Tumbleweed", "tw"],
        backend: Backend::Zypper,
        title: "openSUSE Tumbleweed",
        suite: None,
        arches: &[
            "x86_64", "i586", "aarch64", "armv7l", "armv6l", "ppc64le", "s390x", "riscv64",
        ],
    },
    Distribution {
        name: "leap-15.6",
        aliases: &["opensuse-leap-15.6", "15.6", "leap"],
        backend: Backend::Zypper,
        title: "openSUSE Leap 15.6",
        suite: None,
        arches: &["x86_64", "aarch64", "armv7l", "ppc64le", "s390x"],
    },
    Distribution {
        name: "debian-12",
        aliases: &["bookworm", "debian12"],
        backend: Backend::Debian,
        title: "Debian 12 (bookworm)",
        suite: Some("bookworm"),
        arches: &[
            "x86_64", "i586", "aarch64", "armv7l", "armv6l", "ppc64le", "s390x",
        ],
    },
    Distribution {
        name: "debian-13",
        aliases: &["trixie", "debian13"],
        backend: Backend::Debian,
        title: "Debian 13 (trixie)",
        suite: Some("trixie"),
        arches: &[
            "x86_64", "i586", "aarch64", "armv7l", "armv6l", "ppc64le", "s390x", "riscv64",
        ],
    },
    Distribution {
        name: "ubuntu-24.04",
        aliases: &["noble", "ubuntu24.04"],
        backend: Backend::Debian,
        title: "Ubuntu 24.04 LTS (noble)",
        suite: Some("noble"),
        arches: &["x86_64", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"],
    },
];

/// Find a distribution by name or alias (case-insensitive).
pub fn lookup(name: &str) -> Result<&'static Distribution> {
    DISTRIBUTIONS
        .iter()
        .find(|d| {
            d.name.eq_ignore_ascii_case(name) || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| {
            usage(format!(
                "unknown distribution '{name}': use one of {}, or give repositories with --repo URL",
                names().join(", ")
            ))
        })
}

pub fn names() -> Vec<&'static str> {
    DISTRIBUTIONS.iter().map(|d| d.name).collect()
}

/// The default `--dist`: Tumbleweed where the host has zypper, Debian 12 elsewhere.
pub fn default_name(host_has_zypper: bool) -> &'static str {
    if host_has_zypper {
        "tumbleweed"
    } else {
        "debian-12"
    }
}

/// True when `tool` is an executable on PATH.
pub fn have_tool(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The openSUSE download tree path of Tumbleweed's oss repository for `arch`.
fn tumbleweed_url(arch: &Arch) -> String {
    let tree = match arch.obs {
        "x86_64" | "i586" => "tumbleweed".to_string(),
        "ppc64le" => "ports/ppc/tumbleweed".to_string(),
        "s390x" => "ports/zsystems/tumbleweed".to_string(),
        "riscv64" => "ports/riscv/tumbleweed".to_string(),
        // aarch64, armv7hl, armv6hl
        _ => format!("ports/{}/tumbleweed", arch.rpm),
    };
    format!("{OPENSUSE}/{tree}/repo/oss/")
}

fn leap_urls(arch: &Arch, version: &str) -> Vec<Repository> {
    // Leap 15.3+ publishes x86_64, aarch64, ppc64le and s390x in one tree; 32-bit ARM
    // lives under ports.
    let base = match arch.obs {
        "armv7l" => format!("{OPENSUSE}/ports/armv7hl/distribution/leap/{version}"),
        _ => format!("{OPENSUSE}/distribution/leap/{version}"),
    };
    let update = match arch.obs {
        "armv7l" => format!("{OPENSUSE}/ports/armv7hl/update/leap/{version}/oss/"),
        _ => format!("{OPENSUSE}/update/leap/{version}/oss/"),
    };
    vec![
        Repository {
            name: "repo-oss".into(),
            url: format!("{base}/repo/oss/"),
            suite: None,
            components: vec![],
        },
        Repository {
            name: "repo-update".into(),
            url: update,
            suite: None,
            components: vec![],
        },
    ]
}

fn debian_mirror(dist: &Distribution, arch: &Arch) -> &'static str {
    match dist.name {
        "ubuntu-24.04" if matches!(arch.obs, "x86_64" | "i586") => {
            "http://archive.ubuntu.com/ubuntu"
        }
        "ubuntu-24.04" => "http://ports.ubuntu.com/ubuntu-ports",
        _ => "http://deb.debian.org/debian",
    }
}

/// The repositories of `dist` for `arch`.
pub fn repositories(dist: &Distribution, arch: &Arch) -> Result<Vec<Repository>> {
    if !dist.arches.contains(&arch.obs) {
        let having: Vec<&str> = DISTRIBUTIONS
            .iter()
            .filter(|d| d.arches.contains(&arch.obs))
            .map(|d| d.name)
            .collect();
        return Err(usage(format!(
            "{} has no {} port: pick a distribution that has one ({}) with --dist, or give --repo URL",
            dist.title,
            arch.obs,
            having.join(", ")
        )));
    }
    Ok(match (dist.backend, dist.name) {
        (Backend::Zypper, "tumbleweed") => vec![Repository {
            name: "repo-oss".into(),
            url: tumbleweed_url(arch),
            suite: None,
            components: vec![],
        }],
        (Backend::Zypper, _) => leap_urls(arch, "15.6"),
        (Backend::Debian, _) => {
            let components = if dist.name.starts_with("ubuntu") {
                vec!["main".to_string(), "universe".to_string()]
            } else {
                vec!["main".to_string()]
            };
            vec![Repository {
                name: dist.name.into(),
                url: debian_mirror(dist, arch).into(),
                suite: dist.suite.map(String::from),
                components,
            }]
        }
    })
}

/// What makes the root usable for `osc build`, per backend: osc, obs-build and sudo.
///
/// Debian's obs-build needs more than it declares to make a build root: it unpacks .deb
/// files with `ar` (binutils) and `unxz` (xz-utils), reads changelogs with Date::Parse
/// (libtimedate-perl), and cpio unpacks sources.
pub fn osc_packages(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Zypper => &["osc", "build", "sudo"],
        Backend::Debian => &[
            "osc",
            "obs-build",
            "sudo",
            "binutils",
            "xz-utils",
            "libtimedate-perl",
            "cpio",
        ],
    }
}

/// A plan for a built-in distribution.
pub fn plan(dist: &Distribution, arch: &Arch, packages: Vec<String>) -> Result<Plan> {
    Ok(Plan {
        arch: arch.obs.to_string(),
        backend: dist.backend,
        source: dist.name.to_string(),
        repositories: repositories(dist, arch)?,
        packages,
        emulator: None,
    })
}

/// A plan from `--repo URL...`. For the Debian backend a URL may carry its suite and
/// components as `URL SUITE [COMPONENT...]` (sources.list style); without them the
/// suite of `dist` (or Debian 12) is used.
pub fn plan_from_urls(
    urls: &[String],
    backend: Backend,
    dist: Option<&Distribution>,
    arch: &Arch,
    packages: Vec<String>,
) -> Result<Plan> {
    let mut repositories = Vec::new();
    for (i, spec) in urls.iter().enumerate() {
        let mut words = spec.split_whitespace();
        let url = words
            .next()
            .ok_or_else(|| usage("--repo needs a URL or a directory"))?;
        let url = if url.starts_with('/') || url.contains("://") {
            url.to_string()
        } else if std::path::Path::new(url).exists() {
            std::fs::canonicalize(url)?.display().to_string()
        } else {
            return Err(usage(format!(
                "--repo '{url}' is neither a URL nor an existing directory: give http(s)://..., file:///... or a path"
            )));
        };
        let rest: Vec<String> = words.map(String::from).collect();
        let repo = match backend {
            Backend::Zypper => {
                if !rest.is_empty() {
                    return Err(usage(format!(
                        "--repo '{spec}': rpm-md repositories take only a URL"
                    )));
                }
                Repository {
                    name: format!("repo-{}", i + 1),
                    url,
                    suite: None,
                    components: vec![],
                }
            }
            Backend::Debian => {
                let suite = rest
                    .first()
                    .cloned()
                    .or_else(|| dist.and_then(|d| d.suite).map(String::from))
                    .unwrap_or_else(|| "bookworm".into());
                let components = if rest.len() > 1 {
                    rest[1..].to_vec()
                } else {
                    vec!["main".to_string()]
                };
                Repository {
                    name: format!("repo-{}", i + 1),
                    url,
                    suite: Some(suite),
                    components,
                }
            }
        };
        repositories.push(repo);
    }
    Ok(Plan {
        arch: arch.obs.to_string(),
        backend,
        source: "repo".into(),
        repositories,
        packages,
        emulator: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch;

    #[test]
    fn every_distribution_has_repositories_for_its_arches() {
        for dist in DISTRIBUTIONS {
            for name in dist.arches {
                let a = arch::lookup(name).unwrap();
                let repos = repositories(dist, a).unwrap();
                assert!(!repos.is_empty(), "{} {}", dist.name, name);
                for r in &repos {
                    assert!(r.url.starts_with("http://"), "{}", r.url);
                    assert_eq!(r.suite.is_some(), dist.backend == Backend::Debian);
                }
            }
        }
    }

    #[test]
    fn tumbleweed_uses_ports_for_non_x86() {
        let tw = lookup("tumbleweed").unwrap();
        let url = |a: &str| {
            repositories(tw, arch::lookup(a).unwrap()).unwrap()[0]
                .url
                .clone()
        };
        assert_eq!(
            url("x86_64"),
            "http://download.opensuse.org/tumbleweed/repo/oss/"
        );
        assert_eq!(
            url("aarch64"),
            "http://download.opensuse.org/ports/aarch64/tumbleweed/repo/oss/"
        );
        assert_eq!(
            url("armv7l"),
            "http://download.opensuse.org/ports/armv7hl/tumbleweed/repo/oss/"
        );
        assert_eq!(
            url("s390x"),
            "http://download.opensuse.org/ports/zsystems/tumbleweed/repo/oss/"
        );
        assert_eq!(
            url("riscv64"),
            "http://download.opensuse.org/ports/riscv/tumbleweed/repo/oss/"
        );
    }

    #[test]
    fn riscv64_only_from_trixie() {
        let rv = arch::lookup("riscv64").unwrap();
        let err = repositories(lookup("bookworm").unwrap(), rv)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no riscv64 port") && err.contains("--dist"),
            "{err}"
        );
        let repos = repositories(lookup("debian-13").unwrap(), rv).unwrap();
        assert_eq!(repos[0].suite.as_deref(), Some("trixie"));
    }

    #[test]
    fn ubuntu_uses_ports_mirror_off_x86() {
        let u = lookup("noble").unwrap();
        let url = |a: &str| {
            repositories(u, arch::lookup(a).unwrap()).unwrap()[0]
                .url
                .clone()
        };
        assert_eq!(url("x86_64"), "http://archive.ubuntu.com/ubuntu");
        assert_eq!(url("aarch64"), "http://ports.ubuntu.com/ubuntu-ports");
    }

    #[test]
    fn default_follows_the_host_package_manager() {
        assert_eq!(default_name(true), "tumbleweed");
        assert_eq!(default_name(false), "debian-12");
    }

    #[test]
    fn unknown_distribution_lists_the_known_ones() {
        let err = lookup("gentoo").unwrap_err().to_string();
        assert!(
            err.contains("tumbleweed") && err.contains("--repo"),
            "{err}"
        );
    }

    #[test]
    fn repo_urls_replace_the_distribution() {
        let a = arch::lookup("aarch64").unwrap();
        let plan = plan_from_urls(
            &["http://mirror.example/debian trixie main contrib".into()],
            Backend::Debian,
            None,
            a,
            vec![],
        )
        .unwrap();
        assert_eq!(plan.repositories[0].suite.as_deref(), Some("trixie"));
        assert_eq!(plan.repositories[0].components, ["main", "contrib"]);
        let err =
            plan_from_urls(&["no-such-dir".into()], Backend::Zypper, None, a, vec![]).unwrap_err();
        assert!(err.to_string().contains("neither a URL"), "{err}");
    }
}
