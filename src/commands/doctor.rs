//! `archbuild doctor`: every precondition, each with its fix.

use anyhow::Result;

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
    what: String,
    fix: String,
}

fn check(ok: bool, what: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        ok,
        self_healing: false,
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
    for a in arches {
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
    let mut failed = 0;
    for c in &checks {
        if c.ok {
            println!("ok    {}", c.what);
        } else if c.self_healing {
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
