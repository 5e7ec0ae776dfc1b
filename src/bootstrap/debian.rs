//! The Debian backend: mmdebstrap (preferred) or debootstrap (`--foreign`, then the
//! second stage run inside the root under emulation), with the arch mapped to Debian's
//! name. Downloaded .deb files are kept in a cache outside the root and reused.
//!
//! mmdebstrap runs in `root` mode: as root it chroots into the new root to run the
//! maintainer scripts, which works for a foreign arch through the F-flag binfmt entry
//! that `binfmt::ensure` guarantees before the bootstrap starts. Its own qemu check
//! (which wants `arch-test` and an entry called `qemu-<target>`) is skipped for that
//! reason.

use std::cell::Cell;
use std::path::Path;

use anyhow::{bail, Result};

use super::distributions::have_tool;
use super::plan::{Plan, Repository};
use super::{shell_quote, Action, Backend, Context, Event};
use crate::arch;

/// Packages on top of Debian's `minbase` (Essential + apt + Priority: required, which
/// brings bash, coreutils, login and passwd): sudo.
pub const MINIMAL: &[&str] = &["sudo"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Mmdebstrap,
    Debootstrap,
}

/// debootstrap's per-package lines (`I: Extracting bash`) become counts.
const PER_PACKAGE: [(&str, &str); 5] = [
    ("Retrieving", "packages downloaded"),
    ("Validating", "packages validated"),
    ("Extracting", "packages extracted"),
    ("Unpacking", "packages unpacked"),
    ("Configuring", "packages configured"),
];

pub struct Debian {
    pub tool: Tool,
    packages_set_up: Cell<u64>,
    per_package: [Cell<u64>; 5],
}

impl Debian {
    pub fn new(tool: Tool) -> Debian {
        Debian {
            tool,
            packages_set_up: Cell::new(0),
            per_package: Default::default(),
        }
    }

    /// mmdebstrap when installed, else debootstrap. `ARCHBUILD_DEBIAN_TOOL` forces one.
    pub fn choose() -> Result<Debian> {
        let forced = crate::settings::debian_tool();
        let tool = match forced.as_deref() {
            Some("mmdebstrap") => Tool::Mmdebstrap,
            Some("debootstrap") => Tool::Debootstrap,
            Some(other) => bail!("ARCHBUILD_DEBIAN_TOOL={other} is not mmdebstrap or debootstrap: fix or unset it"),
            None if have_tool("mmdebstrap") => Tool::Mmdebstrap,
            None if have_tool("debootstrap") => Tool::Debootstrap,
            None => bail!(
                "the debian backend needs mmdebstrap or debootstrap: install mmdebstrap (Debian/Ubuntu: apt install mmdebstrap; openSUSE: zypper install mmdebstrap)"
            ),
        };
        Ok(Debian::new(tool))
    }
}

/// The sources.list line of `repo`.
pub fn sources_line(repo: &Repository, default_suite: &str) -> String {
    let url = if repo.url.starts_with('/') {
        format!("file://{}", repo.url)
    } else {
        repo.url.clone()
    };
    let suite = repo.suite.as_deref().unwrap_or(default_suite);
    let components = if repo.components.is_empty() {
        "main".to_string()
    } else {
        repo.components.join(" ")
    };
    format!("deb {url} {suite} {components}")
}

/// A keyring to verify `repos` with, where the host's apt would not know the key:
/// Ubuntu's archive on any host, Debian's on a host that is not Debian.
fn keyring(repos: &[Repository]) -> Result<Option<&'static str>> {
    if repos.iter().any(|r| r.url.contains("ubuntu")) {
        let k = "/usr/share/keyrings/ubuntu-archive-keyring.gpg";
        if !Path::new(k).exists() {
            bail!("{k} is missing: install ubuntu-keyring to verify Ubuntu's archive");
        }
        return Ok(Some(k));
    }
    let k = "/usr/share/keyrings/debian-archive-keyring.gpg";
    if !Path::new("/etc/debian_version").exists() && Path::new(k).exists() {
        return Ok(Some(k));
    }
    Ok(None)
}

fn packages(plan: &Plan) -> Vec<String> {
    let mut all: Vec<String> = MINIMAL.iter().map(|s| s.to_string()).collect();
    for p in &plan.packages {
        if !all.contains(p) {
            all.push(p.clone());
        }
    }
    all
}

impl Backend for Debian {
    fn tool(&self) -> &'static str {
        match self.tool {
            Tool::Mmdebstrap => "mmdebstrap",
            Tool::Debootstrap => "debootstrap",
        }
    }

    fn actions(&self, plan: &Plan, root: &Path, ctx: &Context) -> Result<Vec<Action>> {
        let arch = arch::lookup(&plan.arch)?;
        let first = plan
            .repositories
            .first()
            .ok_or_else(|| anyhow::anyhow!("the plan has no repository: give --dist or --repo"))?;
        let suite = first.suite.clone().unwrap_or_else(|| "bookworm".into());
        let cache = ctx.package_cache.display().to_string();
        let env = vec![("LC_ALL".to_string(), "C.UTF-8".to_string())];
        let keyring = keyring(&plan.repositories)?;
        Ok(match self.tool {
            Tool::Mmdebstrap => {
                let mut argv: Vec<String> = vec![
                    "mmdebstrap".into(),
                    "--mode=root".into(),
                    // apt's and dpkg's output into the log (and package counts)
                    "--verbose".into(),
                    "--variant=minbase".into(),
                    format!("--arch={}", arch.deb),
                    format!("--include={}", packages(plan).join(",")),
                    // binfmt::ensure has made sure foreign binaries run (F flag)
                    "--skip=check/qemu".into(),
                    // archbuild's log and state are already inside the root
                    "--skip=check/empty".into(),
                    // keep downloaded packages in the cache
                    "--skip=essential/unlink".into(),
                    format!(
                        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives && mount --bind {} \"$1\"/var/cache/apt/archives",
                        shell_quote(&cache)
                    ),
                    "--customize-hook=umount \"$1\"/var/cache/apt/archives".into(),
                ];
                if let Some(k) = keyring {
                    argv.push(format!("--keyring={k}"));
                }
                argv.push(suite.clone());
                argv.push(root.display().to_string());
                argv.extend(plan.repositories.iter().map(|r| sources_line(r, &suite)));
                vec![
                    Action::Mkdir {
                        path: ctx.package_cache.clone(),
                    },
                    Action::Run {
                        phase: "running mmdebstrap".into(),
                        argv,
                        env,
                    },
                ]
            }
            Tool::Debootstrap => {
                let components = if first.components.is_empty() {
                    "main".to_string()
                } else {
                    first.components.join(",")
                };
                let url = if first.url.starts_with('/') {
                    format!("file://{}", first.url)
                } else {
                    first.url.clone()
                };
                let mut argv: Vec<String> = vec![
                    "debootstrap".into(),
                    "--foreign".into(),
                    format!("--arch={}", arch.deb),
                    "--variant=minbase".into(),
                    format!("--include={}", packages(plan).join(",")),
                    format!("--components={components}"),
                    format!("--cache-dir={cache}"),
                ];
                if let Some(k) = keyring {
                    argv.push(format!("--keyring={k}"));
                }
                argv.extend([suite.clone(), root.display().to_string(), url]);
                let sources: String = plan
                    .repositories
                    .iter()
                    .map(|r| sources_line(r, &suite) + "\n")
                    .collect();
                vec![
                    Action::Mkdir {
                        path: ctx.package_cache.clone(),
                    },
                    Action::Run {
                        phase: "debootstrap: first stage".into(),
                        argv,
                        env: env.clone(),
                    },
                    Action::Run {
                        phase: "debootstrap: second stage (emulated)".into(),
                        argv: vec![
                            "chroot".into(),
                            root.display().to_string(),
                            "/debootstrap/debootstrap".into(),
                            "--second-stage".into(),
                        ],
                        env,
                    },
                    Action::WriteFile {
                        path: root.join("etc/apt/sources.list"),
                        contents: sources,
                    },
                ]
            }
        })
    }

    fn event(&self, line: &str) -> Option<Event> {
        let t = line.trim();
        if t.starts_with("Setting up ") {
            let n = self.packages_set_up.get() + 1;
            self.packages_set_up.set(n);
            return Some(Event::Count {
                what: "packages set up",
                done: n,
                total: None,
            });
        }
        let info = t.strip_prefix("I: ")?;
        if info.starts_with("running --") {
            return None;
        }
        let mut words = info.split_whitespace();
        let verb = words.next().unwrap_or("");
        let object = words.next().unwrap_or("");
        if let Some(i) = PER_PACKAGE.iter().position(|(v, _)| *v == verb) {
            if !matches!(object, "Packages" | "Release" | "InRelease" | "") {
                let n = self.per_package[i].get() + 1;
                self.per_package[i].set(n);
                return Some(Event::Count {
                    what: PER_PACKAGE[i].1,
                    done: n,
                    total: None,
                });
            }
        }
        Some(Event::Phase(
            info.trim_end_matches("...").trim().to_string(),
        ))
    }

    fn resumable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::plan::Backend as B;

    fn plan() -> Plan {
        Plan {
            arch: "aarch64".into(),
            backend: B::Debian,
            source: "debian-12".into(),
            repositories: vec![Repository {
                name: "debian-12".into(),
                url: "http://deb.debian.org/debian".into(),
                suite: Some("bookworm".into()),
                components: vec!["main".into()],
            }],
            packages: vec!["osc".into(), "sudo".into()],
            emulator: None,
        }
    }

    #[test]
    fn mmdebstrap_command_maps_the_arch_and_caches_packages() {
        let ctx = Context {
            package_cache: "/cache/deb arm64".into(),
        };
        let actions = Debian::new(Tool::Mmdebstrap)
            .actions(&plan(), Path::new("/r"), &ctx)
            .unwrap();
        let Action::Run { argv, .. } = &actions[1] else {
            panic!()
        };
        assert_eq!(argv[0], "mmdebstrap");
        assert!(argv.contains(&"--arch=arm64".to_string()));
        assert!(argv.contains(&"--include=sudo,osc".to_string()));
        assert!(argv
            .iter()
            .any(|a| a.contains("mount --bind '/cache/deb arm64'")));
        assert!(argv.ends_with(&[
            "bookworm".into(),
            "/r".into(),
            "deb http://deb.debian.org/debian bookworm main".into()
        ]));
    }

    #[test]
    fn debootstrap_runs_the_second_stage_inside() {
        let ctx = Context {
            package_cache: "/c".into(),
        };
        let actions = Debian::new(Tool::Debootstrap)
            .actions(&plan(), Path::new("/r"), &ctx)
            .unwrap();
        let Action::Run { argv, .. } = &actions[1] else {
            panic!()
        };
        assert!(
            argv.contains(&"--foreign".to_string()) && argv.contains(&"--arch=arm64".to_string())
        );
        let Action::Run { argv, .. } = &actions[2] else {
            panic!()
        };
        assert_eq!(
            argv,
            &["chroot", "/r", "/debootstrap/debootstrap", "--second-stage"]
        );
    }

    #[test]
    fn output_becomes_progress() {
        let d = Debian::new(Tool::Mmdebstrap);
        assert_eq!(
            d.event("I: extracting archives..."),
            Some(Event::Phase("extracting archives".into()))
        );
        assert_eq!(
            d.event("Setting up sudo (1.9) ..."),
            Some(Event::Count {
                what: "packages set up",
                done: 1,
                total: None
            })
        );
        assert_eq!(d.event("Get:1 http://x"), None);
        let d = Debian::new(Tool::Debootstrap);
        assert_eq!(
            d.event("I: Extracting bash..."),
            Some(Event::Count {
                what: "packages extracted",
                done: 1,
                total: None
            })
        );
        assert_eq!(
            d.event("I: Retrieving Packages"),
            Some(Event::Phase("Retrieving Packages".into()))
        );
    }
}
