//! Which entry the kernel uses for an arch, whether it works in containers, and what to
//! do about it: decided by [`decide`] from the live table (plain data), carried out by
//! [`apply`].

use std::fmt;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::entry::{sample_header, Entry, Flags, LiveEntry};
use super::table;
use crate::arch::Arch;
use crate::emulator::Emulator;
use crate::settings;

/// Why an entry does or does not run binaries inside a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Usability {
    Works,
    Disabled,
    NoFixBinary,
    EmulatorProblem(String),
}

impl fmt::Display for Usability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Usability::Works => f.write_str("works in containers"),
            Usability::Disabled => f.write_str("is disabled"),
            Usability::NoFixBinary => {
                f.write_str("lacks the F flag, so its interpreter is not found inside a container")
            }
            Usability::EmulatorProblem(why) => f.write_str(why),
        }
    }
}

/// Judge a live entry: enabled, F flag, and a static root-owned interpreter.
pub fn usability(live: &LiveEntry) -> Usability {
    if !live.enabled {
        return Usability::Disabled;
    }
    if !live.entry.flags.fix_binary {
        return Usability::NoFixBinary;
    }
    match crate::emulator::verify(&live.entry.interpreter) {
        Ok(_) => Usability::Works,
        Err(e) => Usability::EmulatorProblem(format!("{e:#}")),
    }
}

/// The entry the kernel would use for `arch` now: the newest enabled match.
/// `table` must be in kernel order (newest first), as `read_table` returns it.
pub fn winner<'a>(table: &'a [LiveEntry], arch: &Arch) -> Option<&'a LiveEntry> {
    let header = sample_header(arch);
    table
        .iter()
        .find(|e| e.enabled && e.entry.matches_header(&header))
}

/// The entry archbuild registers for `arch` with `emulator`: flags `FP`.
pub fn own_entry(arch: &Arch, emulator: &Path) -> Entry {
    Entry::for_arch(
        arch,
        emulator,
        Flags {
            fix_binary: true,
            preserve_argv0: true,
            ..Flags::default()
        },
    )
}

/// What makes `arch`'s binaries run in containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The host runs this arch natively; no entry is needed.
    Native,
    /// The entry the kernel already picks works in containers.
    Keep { entry: String },
    /// Register archbuild's own entry (replacing one of the same name), because `reason`.
    Register { entry: Entry, reason: String },
}

/// The inputs of [`decide`].
pub struct Situation<'a> {
    pub arch: &'a Arch,
    pub native: bool,
    /// The live table, newest first.
    pub table: &'a [LiveEntry],
    /// The emulator the user asked for (`--emulator`), if any.
    pub requested: Option<&'a Path>,
    /// `ARCHBUILD_BINFMT_OWN_ONLY`: keep an entry of archbuild's own even beside a
    /// working one (whoever owns that one may remove it while our processes still exec).
    pub own_only: bool,
}

/// Decide what to do for `s.arch`. `emulator` finds the emulator archbuild's entry
/// would use; it is asked only when an entry is to be registered.
pub fn decide(s: &Situation, emulator: &dyn Fn() -> Result<Emulator>) -> Result<Action> {
    if s.native {
        return Ok(Action::Native);
    }
    let own_name = format!("{}{}", settings::binfmt_prefix(), s.arch.qemu);
    let own_missing = s.own_only
        && !s.table.iter().any(|e| {
            e.entry.name == own_name
                && e.entry.matches_header(&sample_header(s.arch))
                && usability(e) == Usability::Works
        });
    let reason = match winner(s.table, s.arch) {
        Some(live) if is_accel_handler(&live.entry.interpreter) => format!(
            "entry '{}' runs the acceleration handler {}, which needs qemu inside the root (a build root or chroot has none)",
            live.entry.name,
            live.entry.interpreter.display()
        ),
        Some(live) => match usability(live) {
            Usability::Works if own_missing => format!(
                "archbuild keeps its own entry beside '{}' (ARCHBUILD_BINFMT_OWN_ONLY)",
                live.entry.name
            ),
            Usability::Works
                if s.requested
                    .is_none_or(|wanted| wanted == live.entry.interpreter.as_path()) =>
            {
                return Ok(Action::Keep {
                    entry: live.entry.name.clone(),
                })
            }
            Usability::Works => format!(
                "entry '{}' uses {}, not the requested emulator",
                live.entry.name,
                live.entry.interpreter.display()
            ),
            why => format!("entry '{}' {why}", live.entry.name),
        },
        None => format!("no binfmt entry handles {} binaries", s.arch.obs),
    };
    Ok(Action::Register {
        entry: own_entry(s.arch, &emulator()?.path),
        reason,
    })
}

/// Is `interpreter` archbuild's acceleration handler (by its file name: the handler, or
/// the handler file with an arch's qemu, `archbuild-accel-<target>`)?
pub fn is_accel_handler(interpreter: &Path) -> bool {
    interpreter.file_name().is_some_and(|n| {
        n.to_str()
            .is_some_and(|n| n.starts_with(crate::accel::host::HANDLER_NAME))
    })
}

/// The entry archbuild registers for an accelerated `arch`: the same match and flags
/// as [`own_entry`], the acceleration handler as interpreter (it execs qemu itself
/// whenever it does not run a native tool).
pub fn accel_entry(arch: &Arch, handler: &Path) -> Entry {
    own_entry(arch, handler)
}

/// Decide for an accelerated container of `s.arch`: keep the winner when it is already
/// `handler` with flags `F` and `P`, else register [`accel_entry`].
pub fn decide_accel(s: &Situation, handler: &Path) -> Action {
    if s.native {
        return Action::Native;
    }
    let reason = match winner(s.table, s.arch) {
        Some(live)
            if live.entry.interpreter == handler
                && live.entry.flags.fix_binary
                && live.entry.flags.preserve_argv0 =>
        {
            return Action::Keep {
                entry: live.entry.name.clone(),
            }
        }
        Some(live) => format!(
            "the container is accelerated and entry '{}' runs {}",
            live.entry.name,
            live.entry.interpreter.display()
        ),
        None => format!("no binfmt entry handles {} binaries", s.arch.obs),
    };
    Action::Register {
        entry: accel_entry(s.arch, handler),
        reason,
    }
}

/// What [`apply`] found or did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Ensured {
    Native,
    Existing(String),
    Registered { name: String, reason: String },
}

/// Carry out `action` for `arch`, saying on stderr what was registered and why.
pub fn apply(action: &Action, arch: &Arch) -> Result<Ensured> {
    match action {
        Action::Native => Ok(Ensured::Native),
        Action::Keep { entry } => Ok(Ensured::Existing(entry.clone())),
        Action::Register { entry, reason } => {
            table::register(entry)?;
            eprintln!(
                "archbuild: registered binfmt entry {} for {} ({}, flags {}) because {}",
                entry.name,
                arch.obs,
                entry.interpreter.display(),
                entry.flags,
                reason
            );
            Ok(Ensured::Registered {
                name: entry.name.clone(),
                reason: reason.clone(),
            })
        }
    }
}

/// Whether `arch` is native here, and the live table (read only when it is not).
fn live_table(arch: &Arch) -> Result<(bool, Vec<LiveEntry>)> {
    let native = arch.is_native_on(crate::arch::host()?);
    if native {
        return Ok((true, Vec::new()));
    }
    table::ensure_mounted()?;
    Ok((false, table::read_table()?))
}

/// The situation on this host now, for `arch`.
pub fn decide_now(arch: &Arch, requested: Option<&Path>) -> Result<Action> {
    let (native, table) = live_table(arch)?;
    decide(
        &Situation {
            arch,
            native,
            table: &table,
            requested,
            own_only: crate::settings::binfmt_own_only(),
        },
        &|| crate::emulator::find(arch, requested),
    )
}

/// Before an accelerated container is entered or an accelerated build starts: make the
/// entry the kernel picks for `arch` the acceleration handler `handler`.
pub fn ensure_accel(arch: &Arch, handler: &Path) -> Result<Ensured> {
    let _table = crate::locks::binfmt()?;
    let (native, table) = live_table(arch)?;
    let situation = Situation {
        arch,
        native,
        table: &table,
        requested: None,
        own_only: crate::settings::binfmt_own_only(),
    };
    apply(&decide_accel(&situation, handler), arch)
}

/// Before a container of `arch` starts or is entered: make sure the entry the kernel
/// will pick for it works inside a container (systemd-binfmt may have flushed the table
/// since), registering archbuild's own `FP` entry when it does not.
pub fn ensure(arch: &Arch, requested: Option<&Path>) -> Result<Ensured> {
    let _table = crate::locks::binfmt()?;
    apply(&decide_now(arch, requested)?, arch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn live(arch: &Arch, name: &str, enabled: bool, flags: &str, emulator: &str) -> LiveEntry {
        LiveEntry {
            enabled,
            entry: Entry::for_arch(arch, Path::new(emulator), Flags::parse(flags).unwrap())
                .renamed(name),
        }
    }

    fn fake_emulator() -> Result<Emulator> {
        Ok(Emulator {
            path: PathBuf::from("/usr/bin/qemu-arm-static"),
        })
    }

    fn no_emulator() -> Result<Emulator> {
        anyhow::bail!("no emulator")
    }

    fn situation<'a>(arch: &'a Arch, table: &'a [LiveEntry]) -> Situation<'a> {
        Situation {
            arch,
            native: false,
            table,
            requested: None,
            own_only: false,
        }
    }

    #[test]
    fn winner_is_the_newest_enabled_match() {
        let arm = crate::arch::lookup("armv7l").unwrap();
        let table = vec![
            live(arm, "newest-disabled", false, "F", "/usr/bin/qemu-arm"),
            live(arm, "newer", true, "P", "/usr/bin/qemu-arm"),
            live(arm, "old", true, "FP", "/usr/bin/qemu-arm"),
        ];
        assert_eq!(winner(&table, arm).unwrap().entry.name, "newer");
        assert!(winner(&table, crate::arch::lookup("s390x").unwrap()).is_none());
    }

    #[test]
    fn a_plain_build_replaces_the_acceleration_handler_with_qemu() {
        // the handler execs qemu from inside the root; a build root has none
        let arm = crate::arch::lookup("armv7l").unwrap();
        let table = [live(
            arm,
            "archbuild-arm",
            true,
            "FP",
            "/usr/libexec/archbuild/archbuild-accel",
        )];
        match decide(&situation(arm, &table), &fake_emulator).unwrap() {
            Action::Register { entry, reason } => {
                assert_eq!(entry.interpreter, Path::new("/usr/bin/qemu-arm-static"));
                assert!(reason.contains("acceleration handler"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(is_accel_handler(Path::new("/x/archbuild-accel")));
        assert!(!is_accel_handler(Path::new("/usr/bin/qemu-arm-static")));
    }

    #[test]
    fn native_arches_need_nothing_and_ask_for_no_emulator() {
        let arm = crate::arch::lookup("armv7l").unwrap();
        let s = Situation {
            native: true,
            ..situation(arm, &[])
        };
        assert_eq!(decide(&s, &no_emulator).unwrap(), Action::Native);
    }

    #[test]
    fn a_missing_or_broken_winner_makes_archbuild_register_its_own() {
        let arm = crate::arch::lookup("armv7l").unwrap();
        let cases: [(&[LiveEntry], &str); 3] = [
            (&[], "no binfmt entry handles armv7l"),
            (
                &[live(arm, "qemu-arm", true, "P", "/usr/bin/qemu-arm")],
                "entry 'qemu-arm' lacks the F flag",
            ),
            (
                &[live(arm, "qemu-arm", true, "F", "/nonexistent/qemu-arm")],
                "entry 'qemu-arm' emulator /nonexistent/qemu-arm cannot be used",
            ),
        ];
        for (table, why) in cases {
            match decide(&situation(arm, table), &fake_emulator).unwrap() {
                Action::Register { entry, reason } => {
                    assert!(reason.starts_with(why), "{reason}");
                    assert_eq!(entry.flags.to_string(), "FP");
                    assert_eq!(entry.interpreter, Path::new("/usr/bin/qemu-arm-static"));
                }
                other => panic!("{why}: {other:?}"),
            }
        }
        // Without an emulator the decision says why none can be registered.
        assert!(decide(&situation(arm, &[]), &no_emulator).is_err());
    }

    #[test]
    fn a_working_winner_is_kept_unless_another_emulator_or_our_own_is_required() {
        // A static, root-owned interpreter is needed for "works": use the host's qemu
        // when installed, else the check is only about the other branches.
        let arm = crate::arch::lookup("armv7l").unwrap();
        let Some(qemu) = ["/usr/bin/qemu-arm-static", "/usr/bin/qemu-arm"]
            .into_iter()
            .find(|p| crate::emulator::verify(Path::new(p)).is_ok())
        else {
            assert!(
                std::env::var("CI").is_err(),
                "prerequisite missing under CI: a static qemu-arm (install qemu-user-static)"
            );
            eprintln!("SKIPPED: no static qemu-arm on this host (install qemu-user-static)");
            return;
        };
        let table = [live(arm, "qemu-arm", true, "FP", qemu)];
        assert_eq!(
            decide(&situation(arm, &table), &no_emulator).unwrap(),
            Action::Keep {
                entry: "qemu-arm".into()
            }
        );
        let other = Path::new("/opt/qemu-arm");
        let requested = Situation {
            requested: Some(other),
            ..situation(arm, &table)
        };
        assert!(matches!(
            decide(&requested, &fake_emulator).unwrap(),
            Action::Register { reason, .. } if reason.contains("not the requested emulator")
        ));
        let own_only = Situation {
            own_only: true,
            ..situation(arm, &table)
        };
        assert!(matches!(
            decide(&own_only, &fake_emulator).unwrap(),
            Action::Register { reason, .. } if reason.contains("ARCHBUILD_BINFMT_OWN_ONLY")
        ));
    }

    #[test]
    fn accelerated_containers_get_the_handlers_entry() {
        let arm = crate::arch::lookup("armv7l").unwrap();
        let handler = Path::new("/usr/libexec/archbuild/archbuild-accel");
        let qemu = [live(
            arm,
            "qemu-arm",
            true,
            "FP",
            "/usr/bin/qemu-arm-static",
        )];
        match decide_accel(&situation(arm, &qemu), handler) {
            Action::Register { entry, reason } => {
                assert_eq!(entry.interpreter, handler);
                assert_eq!(entry.flags.to_string(), "FP");
                assert!(reason.contains("runs /usr/bin/qemu-arm-static"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let ours = [live(
            arm,
            "archbuild-arm",
            true,
            "FP",
            handler.to_str().unwrap(),
        )];
        assert_eq!(
            decide_accel(&situation(arm, &ours), handler),
            Action::Keep {
                entry: "archbuild-arm".into()
            }
        );
        let no_p = [live(
            arm,
            "archbuild-arm",
            true,
            "F",
            handler.to_str().unwrap(),
        )];
        assert!(matches!(
            decide_accel(&situation(arm, &no_p), handler),
            Action::Register { .. }
        ));
        let native = Situation {
            native: true,
            ..situation(arm, &[])
        };
        assert_eq!(decide_accel(&native, handler), Action::Native);
    }
}
