//! `archbuild build-cmd -- BUILD_CMD ARGS...`: what osc runs (through its su-wrapper, as
//! root) instead of its build program when `archbuild build` started it. Runs obs-build
//! natively, in a private mount namespace with the binfmt table read-only, after making
//! sure archbuild's binfmt entry (flag F) runs the build root's binaries of the arch.

use std::path::Path;

use anyhow::{bail, Result};

use crate::arch;
use crate::binfmt;
use crate::oscbuild::{accel_root, call, guard};
use crate::settings;
use crate::sys::process::ProcessId;
use crate::sys::shield;

/// The entry the kernel picks for `arch` now, as `name (interpreter, flags F..)`.
fn describe_winner(arch: &arch::Arch) -> String {
    match binfmt::read_table() {
        Ok(table) => match binfmt::winner(&table, arch) {
            Some(live) => format!(
                "binfmt entry '{}' ({}, flags {})",
                live.entry.name,
                live.entry.interpreter.display(),
                live.entry.flags
            ),
            None => "no binfmt entry".to_string(),
        },
        Err(e) => format!(
            "an unreadable binfmt table ({})",
            crate::error::one_line(&e)
        ),
    }
}

/// Tell `archbuild build` that osc is done fetching: make the file it waits for.
fn mark_started(marker: &Path) {
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker);
    if let Err(e) = made {
        eprintln!(
            "archbuild: warning: cannot make {} ({e}): the package cache stays locked until osc ends",
            marker.display()
        );
    }
}

/// Run osc's build program for `argv`; `started` is the file to make when it starts
/// (`archbuild build` then frees the package cache); `watch` is the `archbuild build`
/// that started osc (`PID:START`, from the su-wrapper): the build ends when it ends.
pub fn run(
    argv: &[String],
    started: Option<&Path>,
    watch: Option<&str>,
    accel: bool,
) -> Result<i32> {
    let call = call::parse(argv)?;
    if !crate::user::is_root() {
        bail!(
            "archbuild build-cmd runs obs-build and needs root: osc runs it through its su-wrapper (sudo) when `archbuild build` or `osc archbuild` started osc"
        );
    }
    if let Some(marker) = started {
        mark_started(marker);
    }
    let watch = match watch {
        Some(text) => Some(ProcessId::parse(text).ok_or_else(|| {
            crate::error::usage(format!(
                "--watch={text}: expected PID:START (archbuild build passes it in osc's su-wrapper)"
            ))
        })?),
        None => None,
    };
    let program = call::resolve_program(call.requested.as_deref(), &|p: &Path| p.is_file())?;
    let script = std::fs::read_to_string(&program).unwrap_or_default();
    let args = call::compatible_args(&call.args, &script);
    let host = arch::host()?;
    let target = match call::target_arch(&call.args) {
        Some(name) => Some(arch::lookup(&name).map_err(|e| crate::error::usage(e.to_string()))?),
        None => None,
    };
    let root = call::build_root(&call.args).filter(|_| !call::is_control_call(&call.args));
    let Some(target) = target.filter(|a| !a.is_native_on(host)) else {
        // native: obs-build as osc asked (a control call such as `--kill` at once)
        return match root {
            Some(root) => {
                let code = guard::run(&program, &args, &root, None, watch, None)?;
                explained(code, &root, &call.args)
            }
            None => match shield::exec(&program, &args)? {},
        };
    };
    let accel = match (&root, accel) {
        (Some(root), true) => Some(Accelerated::begin(target, root)?),
        _ => {
            binfmt::ensure(target, None)?;
            None
        }
    };
    let binfmt_misc = settings::binfmt_misc_dir();
    let read_only = call::shielded(&binfmt_misc, &|p: &Path| p.exists());
    eprintln!(
        "archbuild: {} runs natively in a private mount namespace ({} read-only); {} binaries of the build root run through {}",
        program.display(),
        read_only
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        target.obs,
        describe_winner(target)
    );
    let register = binfmt_misc.join("register");
    match root {
        Some(root) => {
            let shield = guard::Shield {
                read_only,
                register,
            };
            let steps = match &accel {
                Some(a) => Some(accel_root::steps(&root, target, &a.parts)?),
                None => None,
            };
            let code = guard::run(&program, &args, &root, Some(shield), watch, steps);
            if let Some(a) = accel {
                a.end(target);
            }
            explained(code?, &root, &call.args)
        }
        None => match shield::exec_shielded(&program, &args, &read_only, Some(&register))? {},
    }
}

/// An accelerated build while it runs: its parts, and its share of the arch's
/// acceleration lock (the last accelerated build of the arch to end puts qemu back as
/// the arch's binfmt interpreter, so no other root depends on the handler afterwards).
struct Accelerated {
    parts: accel_root::Parts,
    _share: crate::sys::lock::FileLock,
}

fn accel_lock(arch: &arch::Arch) -> std::path::PathBuf {
    settings::lock_dir().join(format!("accel-{}.lock", arch.qemu))
}

impl Accelerated {
    fn begin(arch: &'static arch::Arch, root: &Path) -> Result<Accelerated> {
        let parts = accel_root::prepare(arch, root)?;
        let share = crate::sys::lock::shared(&accel_lock(arch))?;
        binfmt::policy::ensure_accel(arch, &parts.handler)?;
        eprintln!(
            "archbuild: accelerated: {} native tools from {} where the build root's files are the ones they were made for; the handler's log is {}/handler.log",
            parts.tools,
            parts.bundle.display(),
            parts.log_dir.display()
        );
        Ok(Accelerated {
            parts,
            _share: share,
        })
    }

    fn end(self, arch: &arch::Arch) {
        drop(self._share);
        let last = crate::sys::lock::try_exclusive(&accel_lock(arch));
        if let Ok(Some(_alone)) = last {
            if let Err(e) = binfmt::ensure(arch, None) {
                eprintln!(
                    "archbuild: warning: cannot put qemu back as the {} interpreter: {}",
                    arch.obs,
                    crate::error::one_line(&e)
                );
            }
        }
    }
}

/// The build program's status, or the one-line error when the build failed because the
/// build root's file system is full.
fn explained(code: i32, root: &Path, args: &[String]) -> Result<i32> {
    if code == 0 || code == 128 + libc::SIGKILL {
        return Ok(code);
    }
    let installed = call::rpmlist(args)
        .and_then(|list| std::fs::read_to_string(list).ok())
        .map(|text| installed_kib(&call::rpmlist_packages(&text)));
    match crate::disk_space::explain_full_build_root(root, installed.flatten()) {
        Some(line) => bail!("{line}"),
        None => Ok(code),
    }
}

/// What `packages` take installed, in KiB, from their headers (Installed-Size of a
/// .deb, SIZE of an .rpm); None when one cannot be read.
fn installed_kib(packages: &[std::path::PathBuf]) -> Option<u64> {
    let mut total = 0;
    for p in packages {
        let is_deb = p.extension().is_some_and(|e| e == "deb");
        let out = if is_deb {
            std::process::Command::new("dpkg-deb")
                .arg("-f")
                .arg(p)
                .arg("Installed-Size")
                .output()
        } else {
            std::process::Command::new("rpm")
                .args(["-qp", "--nosignature", "--qf", "%{SIZE}"])
                .arg(p)
                .output()
        }
        .ok()
        .filter(|o| o.status.success())?;
        let n: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        total += if is_deb { n } else { n.div_ceil(1024) };
    }
    Some(total)
}
