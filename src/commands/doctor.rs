//! `archbuild doctor`: every precondition, each with its fix.

use anyhow::Result;

use std::path::PathBuf;

use crate::accel::host;
use crate::arch::{self, ARCHES};
use crate::{binfmt, settings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Architectures to check (default: all emulated ones)
    #[arg(value_parser = super::generate::ArchNames, hide_possible_values = true)]
    pub arches: Vec<String>,
}

struct Check {
    ok: bool,
    /// A failed check that archbuild repairs by itself when it needs to.
    self_healing: bool,
    /// A failed check that only matters for an optional feature nobody uses here.
    optional: bool,
    what: String,
    fix: String,
}

fn check(ok: bool, what: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        ok,
        self_healing: false,
        optional: false,
        what: what.into(),
        fix: fix.into(),
    }
}

/// One bootstrap backend is enough: each is reported, and only having none fails.
fn backend_checks(on_path: &dyn Fn(&str) -> bool) -> Vec<Check> {
    let debian_tool = ["mmdebstrap", "debootstrap"]
        .into_iter()
        .find(|t| on_path(t));
    let zypper = on_path("zypper");
    let mut checks = vec![
        Check {
            self_healing: debian_tool.is_none() && zypper,
            ..check(
                debian_tool.is_some(),
                match debian_tool {
                    Some(tool) => format!("bootstrap backend debian: {tool}"),
                    None => "bootstrap backend debian (Debian/Ubuntu roots): neither mmdebstrap nor debootstrap installed".into(),
                },
                "install mmdebstrap (or debootstrap) for Debian and Ubuntu roots",
            )
        },
        Check {
            self_healing: !zypper && debian_tool.is_some(),
            ..check(
                zypper,
                if zypper {
                    "bootstrap backend zypper".to_string()
                } else {
                    "bootstrap backend zypper (openSUSE roots): zypper not installed".to_string()
                },
                "install zypper for openSUSE roots",
            )
        },
    ];
    if !on_path("nsenter") {
        checks.push(Check {
            self_healing: true,
            ..check(
                false,
                "nsenter not installed (only for entering by hand with `nsenter --mount=PIN`; `archbuild enter` does not need it)",
                "install util-linux",
            )
        });
    }
    checks
}

/// One accelerated container, as the host shows it.
struct Accelerated {
    name: String,
    arch: &'static arch::Arch,
    /// Why its arch's bundle cannot be used, if it cannot.
    bundle_problem: Option<String>,
    /// While it runs: the interpreter of the binfmt entry the kernel uses for its arch
    /// (None: no entry).
    running_with: Option<Option<PathBuf>>,
}

/// What acceleration needs on this host.
struct AccelFacts {
    /// The handler `start --accel` would register, or why there is none.
    handler: Result<PathBuf, String>,
    /// The programs `accel bundle` runs that are not on PATH.
    missing_tools: Vec<&'static str>,
    accelerated: Vec<Accelerated>,
}

/// The checks of acceleration: the handler and the bundle tools fail only when a
/// container is accelerated (otherwise they are notes), an accelerated container's
/// bundle must be usable, and a running one's arch entry must run the handler.
fn accel_checks(facts: &AccelFacts) -> Vec<Check> {
    let needed = !facts.accelerated.is_empty();
    let mut checks = vec![match &facts.handler {
        Ok(path) => check(
            true,
            format!("acceleration handler {} (static, root-owned)", path.display()),
            "",
        ),
        Err(e) => Check {
            optional: !needed,
            ..check(
                false,
                format!(
                    "acceleration handler{}: {e}",
                    if needed { "" } else { " (only for --accel)" }
                ),
                "install archbuild's package (/usr/libexec/archbuild/archbuild-accel) or `accel-handler/build-static --release` and install the result as root beside archbuild",
            )
        },
    }];
    for (tool, package) in [
        ("patchelf", "patchelf"),
        ("dpkg-deb", "dpkg"),
        ("apt-get", "apt"),
    ] {
        if facts.missing_tools.contains(&tool) {
            checks.push(Check {
                optional: true,
                ..check(
                    false,
                    format!("{tool} not installed (only for `archbuild accel bundle` and `bootstrap --accel`)"),
                    format!("install {package}"),
                )
            });
        }
    }
    for a in &facts.accelerated {
        let arch = a.arch.obs;
        let name = &a.name;
        checks.push(match &a.bundle_problem {
            None => check(
                true,
                format!("{arch}: {name} is accelerated and its bundle is usable"),
                "",
            ),
            Some(problem) => check(
                false,
                format!("{arch}: {name} is accelerated, but {problem}"),
                format!("`archbuild accel bundle {name}`, or `archbuild start {name} --no-accel`"),
            ),
        });
        let Some(interpreter) = &a.running_with else {
            continue;
        };
        let handler = facts.handler.as_ref().ok().map(PathBuf::as_path);
        let runs_handler = interpreter
            .as_deref()
            .is_some_and(|i| host::is_handler(i, handler));
        checks.push(check(
            runs_handler,
            match interpreter {
                _ if runs_handler => format!("{arch}: the binfmt entry runs the handler for the running {name}"),
                Some(i) => format!(
                    "{arch}: {name} runs accelerated, but the arch's binfmt entry runs {} (flushed by systemd-binfmt?): it runs emulated",
                    i.display()
                ),
                None => format!("{arch}: {name} runs accelerated, but the arch has no binfmt entry"),
            },
            format!("`archbuild stop {name} && archbuild start {name}` (start registers the handler's entry)"),
        ));
    }
    checks
}

fn accel_facts(
    on_path: &dyn Fn(&str) -> bool,
    table: &[binfmt::LiveEntry],
    arches: &[&arch::Arch],
) -> AccelFacts {
    let accelerated = crate::state::list_readable()
        .map(|(records, _)| records)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.accel)
        .filter_map(|r| {
            let arch = arch::lookup(&r.arch).ok()?;
            if !arches.iter().any(|a| a.obs == arch.obs) {
                return None;
            }
            let bundle_problem = host::check_bundle(&host::bundle_on_host(arch), arch)
                .err()
                .map(|e| crate::error::one_line(&e));
            let running_with = crate::container::is_running(&r.name)
                .then(|| binfmt::winner(table, arch).map(|live| live.entry.interpreter.clone()));
            Some(Accelerated {
                name: r.name,
                arch,
                bundle_problem,
                running_with,
            })
        })
        .collect();
    AccelFacts {
        handler: host::find_handler().map_err(|e| crate::error::one_line(&e)),
        missing_tools: ["patchelf", "dpkg-deb", "apt-get"]
            .into_iter()
            .filter(|t| !on_path(t))
            .collect(),
        accelerated,
    }
}

pub fn run(args: Args) -> Result<()> {
    let host = arch::host()?;
    let mut checks = vec![check(
        crate::user::is_root(),
        "running as root",
        "run archbuild with sudo",
    )];
    let kernel = crate::arch::host_kernel_release()?;
    let (major, minor) = {
        let mut parts = kernel
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|p| p.parse::<u32>().ok());
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    };
    checks.push(check(
        (major, minor) >= (4, 8),
        format!("kernel {kernel} supports the binfmt F flag (needs >= 4.8)"),
        "upgrade the kernel",
    ));
    let binfmt_dir = settings::binfmt_misc_dir();
    let mounted = binfmt_dir.join("register").exists();
    checks.push(check(
        mounted,
        format!("binfmt_misc mounted at {}", binfmt_dir.display()),
        format!("modprobe binfmt_misc && mount -t binfmt_misc binfmt_misc {} (archbuild does this itself as root)", binfmt_dir.display()),
    ));
    let table = if mounted {
        binfmt::read_table().unwrap_or_default()
    } else {
        Vec::new()
    };
    let arches: Vec<&arch::Arch> = if args.arches.is_empty() {
        ARCHES.iter().filter(|a| !a.is_native_on(host)).collect()
    } else {
        args.arches
            .iter()
            .map(|n| arch::lookup(n))
            .collect::<Result<_>>()?
    };
    for a in arches.iter().copied() {
        let found = crate::emulator::find(a, None);
        checks.push(check(
            found.is_ok(),
            format!("{}: static qemu-{} emulator", a.obs, a.qemu),
            found
                .as_ref()
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default(),
        ));
        let verdict = binfmt::winner(&table, a).map(binfmt::usability);
        checks.push(Check {
            self_healing: true,
            ..check(
                verdict == Some(binfmt::Usability::Works),
                match &verdict {
                    Some(binfmt::Usability::Works) => {
                        format!("{}: binfmt entry works in containers", a.obs)
                    }
                    Some(why) => format!("{}: binfmt entry {why}", a.obs),
                    None => format!("{}: no binfmt entry", a.obs),
                },
                format!(
                    "`archbuild binfmt install {}` (start and enter register one themselves)",
                    a.obs
                ),
            )
        });
    }
    let on_path = |tool: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .any(|d| d.join(tool).is_file())
    };
    checks.extend(backend_checks(&on_path));
    checks.extend(accel_checks(&accel_facts(&on_path, &table, &arches)));
    let mut failed = 0;
    for c in &checks {
        if c.ok {
            println!("ok    {}", c.what);
        } else if c.self_healing || c.optional {
            println!("note  {} -> {}", c.what, c.fix);
        } else {
            failed += 1;
            println!("FAIL  {} -> fix: {}", c.what, c.fix);
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed; each FAIL line above names its fix");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(tools: &[&str]) -> Vec<(bool, bool)> {
        backend_checks(&|t| tools.contains(&t))
            .iter()
            .map(|c| (c.ok, c.self_healing))
            .collect()
    }

    /// (ok, a note rather than a failure, what) of each acceleration check.
    fn accel_lines(facts: &AccelFacts) -> Vec<(bool, bool, String)> {
        accel_checks(facts)
            .into_iter()
            .map(|c| (c.ok, c.self_healing || c.optional, c.what))
            .collect()
    }

    fn accelerated(
        bundle_problem: Option<&str>,
        running_with: Option<Option<&str>>,
    ) -> Accelerated {
        Accelerated {
            name: "trixie".into(),
            arch: arch::lookup("aarch64").unwrap(),
            bundle_problem: bundle_problem.map(str::to_string),
            running_with: running_with.map(|i| i.map(PathBuf::from)),
        }
    }

    #[test]
    fn acceleration_fails_only_where_a_container_is_accelerated() {
        let installed = PathBuf::from(host::INSTALLED_HANDLER);
        // Nobody accelerates: a missing handler and missing tools are notes.
        let unused = AccelFacts {
            handler: Err("the acceleration handler archbuild-accel is not installed".into()),
            missing_tools: vec!["patchelf", "apt-get"],
            accelerated: vec![],
        };
        let lines = accel_lines(&unused);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines.iter().all(|(ok, note, _)| !ok && *note), "{lines:?}");
        assert!(lines[0].2.contains("only for --accel"), "{lines:?}");
        assert!(
            lines[1].2.starts_with("patchelf not installed"),
            "{lines:?}"
        );
        assert!(lines[2].2.starts_with("apt-get not installed"), "{lines:?}");
        // An accelerated container: the handler is needed, its bundle must be usable.
        let broken = AccelFacts {
            accelerated: vec![accelerated(
                Some("no acceleration bundle for aarch64"),
                None,
            )],
            missing_tools: vec![],
            ..unused
        };
        let lines = accel_lines(&broken);
        assert_eq!(
            lines.iter().filter(|(ok, note, _)| !ok && !note).count(),
            2,
            "{lines:?}"
        );
        assert!(lines[1]
            .2
            .contains("trixie is accelerated, but no acceleration bundle"));
        // Running: the arch's live entry must be the handler.
        let running = |interpreter: Option<&str>| AccelFacts {
            handler: Ok(installed.clone()),
            missing_tools: vec![],
            accelerated: vec![accelerated(None, Some(interpreter))],
        };
        let fine = accel_lines(&running(Some(host::INSTALLED_HANDLER)));
        assert!(fine.iter().all(|(ok, _, _)| *ok), "{fine:?}");
        assert!(fine[2].2.contains("runs the handler"), "{fine:?}");
        for flushed in [Some("/usr/bin/qemu-aarch64-static"), None] {
            let lines = accel_lines(&running(flushed));
            assert!(!lines[2].0, "{lines:?}");
            assert!(
                lines[2].2.contains("trixie runs accelerated, but"),
                "{lines:?}"
            );
        }
        let fixes: Vec<String> = accel_checks(&running(None))
            .into_iter()
            .map(|c| c.fix)
            .collect();
        assert!(fixes[2].contains("archbuild stop trixie && archbuild start trixie"));
    }

    #[test]
    fn one_backend_is_enough_and_none_fails() {
        let fails = |v: &[(bool, bool)]| v.iter().filter(|(ok, note)| !ok && !note).count();
        assert_eq!(fails(&verdicts(&["mmdebstrap", "nsenter"])), 0);
        assert_eq!(fails(&verdicts(&["debootstrap", "nsenter"])), 0);
        assert_eq!(fails(&verdicts(&["zypper", "nsenter"])), 0);
        assert_eq!(fails(&verdicts(&["zypper"])), 0, "nsenter is a note");
        assert_eq!(fails(&verdicts(&["nsenter"])), 2);
        assert_eq!(
            verdicts(&["mmdebstrap", "zypper", "nsenter"]),
            [(true, false), (true, false)]
        );
    }
}
