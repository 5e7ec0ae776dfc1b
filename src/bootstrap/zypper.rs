//! The zypper backend: rpm-md repositories, `zypper --root`, and the architecture
//! override that makes an x86_64 zypper install another arch's packages: a zypp.conf
//! with `arch = <rpm arch>` named by `ZYPP_CONF`.
//!
//! The repositories are written as `.repo` files into the root's `/etc/zypp/repos.d`
//! (so zypper inside the container knows them) and the arch override is recorded in the
//! root's `/etc/zypp/zypp.conf` (so it holds there too, whatever `uname -m` says).

use std::path::Path;

use anyhow::{Context as _, Result};

use super::plan::{Plan, Repository};
use super::{fraction, Action, Backend, Context, Event, STATE_DIR_IN_ROOT};
use crate::arch;

/// What every zypper root gets: a shell, coreutils, rpm, zypper, sudo and the shadow
/// tools (useradd, for the invoking user's account).
pub const MINIMAL: &[&str] = &["bash", "coreutils", "rpm", "zypper", "sudo", "shadow"];

pub struct Zypper;

/// True for a repository on this machine (its own files: no signature is asked for).
fn is_local(url: &str) -> bool {
    url.starts_with('/') || url.starts_with("file:") || url.starts_with("dir:")
}

/// The `.repo` file zypper itself would write for `repo`.
pub fn repo_file(repo: &Repository) -> String {
    let url = if repo.url.starts_with('/') {
        format!("dir://{}", repo.url)
    } else {
        repo.url.clone()
    };
    let gpgcheck = if is_local(&repo.url) { 0 } else { 1 };
    format!(
        "[{alias}]\nname={alias}\nenabled=1\nautorefresh=1\nbaseurl={url}\ntype=rpm-md\ngpgcheck={gpgcheck}\nkeeppackages=0\n",
        alias = repo.name
    )
}

/// The zypp.conf used while bootstrapping.
pub fn zypp_conf(rpm_arch: &str) -> String {
    format!("# written by archbuild bootstrap: install packages of this architecture\n[main]\narch = {rpm_arch}\n")
}

/// `text` (a zypp.conf) with `arch = rpm_arch` set in its `[main]` section.
pub fn with_arch(text: &str, rpm_arch: &str) -> String {
    let line = format!("arch = {rpm_arch}");
    let mut out = Vec::new();
    let mut in_main = false;
    let mut done = false;
    for l in text.lines() {
        let t = l.trim();
        if t.starts_with('[') {
            in_main = t == "[main]";
            out.push(l.to_string());
            if in_main && !done {
                out.push(line.clone());
                done = true;
            }
            continue;
        }
        let key = t.split('=').next().unwrap_or("").trim();
        if in_main && key == "arch" {
            continue; // replaced by ours
        }
        out.push(l.to_string());
    }
    if !done {
        out.push("[main]".into());
        out.push(line);
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

impl Zypper {
    fn zypper(root: &Path, conf: &Path, phase: &str, args: &[&str]) -> Action {
        let mut argv: Vec<String> = vec![
            "zypper".into(),
            "--root".into(),
            root.display().to_string(),
            "--non-interactive".into(),
            "--gpg-auto-import-keys".into(),
        ];
        argv.extend(args.iter().map(|s| s.to_string()));
        Action::Run {
            phase: phase.into(),
            argv,
            env: vec![
                ("ZYPP_CONF".into(), conf.display().to_string()),
                ("LC_ALL".into(), "C.UTF-8".into()),
            ],
        }
    }
}

impl Backend for Zypper {
    fn tool(&self) -> &'static str {
        "zypper"
    }

    fn actions(&self, plan: &Plan, root: &Path, _ctx: &Context) -> Result<Vec<Action>> {
        let arch = arch::lookup(&plan.arch)?;
        let conf = root.join(STATE_DIR_IN_ROOT).join("zypp.conf");
        let mut actions = vec![
            // openSUSE keeps the rpm database in /usr/lib/sysimage/rpm with /var/lib/rpm
            // pointing there; making both first means the host's rpm (whatever its own
            // default) and the root's rpm use the same database.
            Action::Mkdir {
                path: root.join("usr/lib/sysimage/rpm"),
            },
            Action::Mkdir {
                path: root.join("var/lib"),
            },
            Action::Symlink {
                path: root.join("var/lib/rpm"),
                target: "../../usr/lib/sysimage/rpm".into(),
            },
            Action::Mkdir {
                path: root.join("etc/zypp/repos.d"),
            },
            Action::WriteFile {
                path: conf.clone(),
                contents: zypp_conf(arch.rpm),
            },
        ];
        for repo in &plan.repositories {
            actions.push(Action::WriteFile {
                path: root
                    .join("etc/zypp/repos.d")
                    .join(format!("{}.repo", repo.name)),
                contents: repo_file(repo),
            });
        }
        actions.push(Self::zypper(
            root,
            &conf,
            "reading repositories",
            &["refresh"],
        ));
        let mut install = vec!["install", "--no-recommends", "--auto-agree-with-licenses"];
        let mut packages: Vec<&str> = MINIMAL.to_vec();
        for p in &plan.packages {
            if !packages.contains(&p.as_str()) {
                packages.push(p);
            }
        }
        install.extend(packages);
        actions.push(Self::zypper(root, &conf, "installing packages", &install));
        Ok(actions)
    }

    fn event(&self, line: &str) -> Option<Event> {
        let t = line.trim();
        if let Some((done, total)) = fraction(t) {
            if t.contains("Installing:") {
                return Some(Event::Count {
                    what: "packages installed",
                    done,
                    total: Some(total),
                });
            }
        }
        if t.starts_with("Retrieving") {
            // "Retrieving: pkg ... (3/40), 1.2 MiB" or "Retrieving package pkg (3/40), ..."
            if let Some(start) = t.rfind(" (") {
                if let Some((done, total)) = fraction(&t[start..]) {
                    return Some(Event::Count {
                        what: "packages downloaded",
                        done,
                        total: Some(total),
                    });
                }
            }
            if t.starts_with("Retrieving repository") {
                return Some(Event::Phase("reading repository metadata".into()));
            }
        }
        for (prefix, phase) in [
            ("Building repository", "building repository cache"),
            ("Resolving package dependencies", "resolving dependencies"),
            ("Checking for file conflicts", "checking file conflicts"),
        ] {
            if t.starts_with(prefix) {
                return Some(Event::Phase(phase.into()));
            }
        }
        None
    }

    fn resumable(&self) -> bool {
        true
    }

    /// Record the arch override in the root's own zypp.conf, so zypper run inside the
    /// container installs this arch's packages even where `uname -m` (armv7l under
    /// qemu-arm) would make libzypp guess another one.
    fn finish(&self, plan: &Plan, root: &Path) -> Result<()> {
        let arch = arch::lookup(&plan.arch)?;
        let path = root.join("etc/zypp/zypp.conf");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        std::fs::write(&path, with_arch(&text, arch.rpm))
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::plan::Backend as B;

    fn plan() -> Plan {
        Plan {
            arch: "armv7l".into(),
            backend: B::Zypper,
            source: "repo".into(),
            repositories: vec![
                Repository {
                    name: "oss".into(),
                    url: "http://x/oss/".into(),
                    suite: None,
                    components: vec![],
                },
                Repository {
                    name: "local".into(),
                    url: "/srv/repo".into(),
                    suite: None,
                    components: vec![],
                },
            ],
            packages: vec!["osc".into(), "sudo".into()],
            emulator: None,
        }
    }

    #[test]
    fn actions_override_the_arch_and_record_repositories() {
        let ctx = Context {
            package_cache: "/c".into(),
        };
        let actions = Zypper.actions(&plan(), Path::new("/r"), &ctx).unwrap();
        let conf = actions
            .iter()
            .find_map(|a| match a {
                Action::WriteFile { path, contents } if path.ends_with("zypp.conf") => {
                    Some(contents.clone())
                }
                _ => None,
            })
            .unwrap();
        assert!(conf.contains("arch = armv7hl"), "{conf}");
        let files: Vec<String> = actions
            .iter()
            .filter_map(|a| match a {
                Action::WriteFile { path, contents } if path.starts_with("/r/etc/zypp/repos.d") => {
                    Some(contents.clone())
                }
                _ => None,
            })
            .collect();
        assert_eq!(files.len(), 2);
        assert!(files[0].contains("baseurl=http://x/oss/") && files[0].contains("gpgcheck=1"));
        assert!(files[1].contains("baseurl=dir:///srv/repo") && files[1].contains("gpgcheck=0"));
        let Action::Run { argv, env, .. } = actions.last().unwrap() else {
            panic!()
        };
        assert_eq!(&argv[..3], ["zypper", "--root", "/r"]);
        assert!(argv.contains(&"--no-recommends".to_string()));
        assert_eq!(argv.iter().filter(|a| *a == "sudo").count(), 1);
        assert!(argv.ends_with(&["shadow".into(), "osc".into()]));
        assert!(env
            .iter()
            .any(|(k, v)| k == "ZYPP_CONF" && v.ends_with("zypp.conf")));
    }

    #[test]
    fn arch_is_set_in_main_section() {
        assert_eq!(with_arch("", "aarch64"), "[main]\narch = aarch64\n");
        let t = with_arch(
            "# c\n[main]\n# arch = i686\narch = x86_64\nsolver.x = 1\n",
            "armv7hl",
        );
        assert_eq!(
            t,
            "# c\n[main]\narch = armv7hl\n# arch = i686\nsolver.x = 1\n"
        );
    }

    #[test]
    fn output_becomes_progress() {
        let z = Zypper;
        assert_eq!(
            z.event("(3/40) Installing: bash-5.2-1.aarch64 ..........[done]"),
            Some(Event::Count {
                what: "packages installed",
                done: 3,
                total: Some(40)
            })
        );
        assert_eq!(
            z.event("Retrieving: bash-5.2-1.aarch64 (repo-oss) (7/40), 1.2 MiB"),
            Some(Event::Count {
                what: "packages downloaded",
                done: 7,
                total: Some(40)
            })
        );
        assert!(matches!(
            z.event("Resolving package dependencies..."),
            Some(Event::Phase(_))
        ));
        assert_eq!(z.event("random"), None);
    }
}
