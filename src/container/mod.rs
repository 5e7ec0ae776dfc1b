//! Architecture emulation containers: a foreign root entered through a pinned mount
//! namespace. `start_plan` decides everything a start does, `mounts` the mounts and the
//! system calls that make them, `root` prepares the directory, `process` runs commands
//! inside; `crate::sys` makes the calls.

pub mod mounts;
pub mod process;
pub mod root;
pub mod start_plan;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::arch::{self, Arch};
use crate::settings;
use crate::state::Record;
use crate::sys::namespace;
use start_plan::{HostFacts, StartPlan};

/// Where the namespace of container `name` is pinned.
pub fn pin_path(name: &str) -> PathBuf {
    settings::pin_dir().join(name)
}

pub fn is_running(name: &str) -> bool {
    namespace::is_pinned(&pin_path(name))
}

/// The arch of a record, looked up in the table.
pub fn record_arch(record: &Record) -> Result<&'static Arch> {
    arch::lookup(&record.arch)
}

/// The mounts `record` gets, without looking anything up (for status and for what a
/// build can see inside).
pub fn mount_plan(record: &Record) -> Result<mounts::MountPlan> {
    let arch = record_arch(record)?;
    // The emulator's own bind is left out: what this plan is asked about is the
    // directories a container shares.
    Ok(mounts::plan(&record.location, arch, None, &record.binds))
}

/// What `start` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    Now,
    AlreadyRunning,
}

/// Clear a pin file that is not a live pin (left from an earlier boot: /run survived or
/// the pin directory is persistent). Anything else at the pin path is an error.
fn clear_stale_pin(pin: &Path) -> Result<()> {
    match std::fs::symlink_metadata(pin) {
        Err(_) => Ok(()),
        Ok(meta) if meta.is_file() && meta.len() == 0 => {
            std::fs::remove_file(pin).with_context(|| {
                format!(
                    "cannot remove the stale pin {} left from an earlier run",
                    pin.display()
                )
            })?;
            eprintln!(
                "archbuild: removed stale pin {} (its namespace no longer exists)",
                pin.display()
            );
            Ok(())
        }
        Ok(_) => bail!(
            "{} exists but is not a namespace pin: move it away and start again",
            pin.display()
        ),
    }
}

/// The plan for starting `record` on this host now, for the invoking user.
pub fn plan_start(record: &Record, mount_binfmt: bool) -> Result<StartPlan> {
    let facts = HostFacts::gather(mount_binfmt)?;
    start_plan::plan(record, &crate::user::invoking_user(), &facts)
}

/// Start the container described by `record`: decide everything, then do it. Starting
/// a running container does nothing.
pub fn start(record: &Record) -> Result<Started> {
    let _container = crate::locks::container(&record.name)?;
    let pin = pin_path(&record.name);
    if namespace::is_pinned(&pin) {
        return Ok(Started::AlreadyRunning);
    }
    let _binfmt = crate::locks::binfmt()?;
    let plan = plan_start(record, true)?;
    apply_start(&plan, &pin)?;
    Ok(Started::Now)
}

/// Carry out a [`StartPlan`] and pin the namespace at `pin`.
fn apply_start(plan: &StartPlan, pin: &Path) -> Result<()> {
    if let (Some(accel), Some(emulator)) = (&plan.accel, &plan.emulator) {
        crate::accel::host::combine(
            &accel.handler,
            emulator,
            plan.arch,
            accel.registered.parent().unwrap_or(Path::new("/")),
        )?;
    }
    crate::binfmt::policy::apply(&plan.binfmt, plan.arch)?;
    root::apply_edits(&plan.account_edits).with_context(|| {
        format!(
            "cannot give the root {} the user's account",
            plan.root.display()
        )
    })?;
    root::apply_resolv_conf(&plan.resolv_conf)?;
    for m in &plan.mounts.mounts {
        if let mounts::Mount::Bind { source, .. } = m {
            if !source.exists() {
                bail!(
                    "cannot bind {} into the container: it does not exist on the host; create it (mkdir -p {}) or drop that --bind (a bind is kept in the container's record: `archbuild remove --keep-root` forgets it)",
                    source.display(),
                    source.display()
                );
            }
        }
    }
    // Mount points are made in the root before the namespace is, so errors come early
    // and with the host's view of the paths.
    let targets = plan
        .mounts
        .mounts
        .iter()
        .map(|m| {
            let kind = match m {
                mounts::Mount::Bind { kind, .. } => *kind,
                _ => mounts::MountPoint::Directory,
            };
            root::ensure_mount_point(&plan.mounts.root, m.target(), kind)
        })
        .collect::<Result<Vec<_>>>()?;
    let steps = mounts::namespace_steps(&plan.mounts, &targets)?;
    clear_stale_pin(pin)?;
    namespace::create(&steps, pin)
}

/// Checks before running anything in `record`: running, binfmt entry still in force
/// (systemd-binfmt may have flushed it since start), the user's account inside.
/// Returns the pin, the arch and whether linux32 is needed.
fn prepare_enter(
    record: &Record,
    spec: &process::RunSpec,
) -> Result<(PathBuf, &'static Arch, bool)> {
    let pin = pin_path(&record.name);
    if !namespace::is_pinned(&pin) {
        bail!(
            "container '{}' is not running: start it with `archbuild start {}`",
            record.name,
            record.name
        );
    }
    let arch = record_arch(record)?;
    let host = arch::host()?;
    if record.accel && !arch.is_native_on(host) {
        crate::binfmt::policy::ensure_accel(arch, &crate::accel::host::registered_handler(arch)?)?;
    } else {
        crate::binfmt::ensure(arch, record.emulator.as_deref())?;
    }
    let user = spec.identity.user_name();
    let edits = root::account_edits(&record.location, &user)?;
    root::apply_edits(&edits)
        .with_context(|| format!("cannot give user '{user}' an account in the container"))?;
    Ok((pin, arch, arch.needs_linux32_on(host)))
}

/// Run a command (or a login shell) in the running container `record` and wait for it;
/// returns its exit status. The command runs in a fresh `archbuild enter` process, so
/// this works from a process with threads.
pub fn enter(record: &Record, spec: &process::RunSpec) -> Result<i32> {
    process::run_in_fresh_process(&record.name, spec)
}

/// Replace this process with the command inside `record` (as `nsenter` does): its exit
/// status and signals are the command's own. The process must be single-threaded.
pub fn enter_exec(record: &Record, spec: &process::RunSpec) -> Result<std::convert::Infallible> {
    // Held until the command replaces this process (the lock file closes on exec): a
    // `stop` meanwhile waits, then finds the command inside and ends it.
    let _container = crate::locks::container(&record.name)?;
    let (pin, arch, linux32) = prepare_enter(record, spec)?;
    process::exec(&record.name, &pin, arch, linux32, spec)
}

/// What `stop` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Stopped; how many processes had to be killed after the grace period.
    Now {
        killed: usize,
    },
    NotRunning,
}

/// End the processes inside `name` (SIGTERM, SIGKILL after `grace`) and remove its pin.
pub fn stop(name: &str, grace: Duration) -> Result<Stopped> {
    let _container = crate::locks::container(name)?;
    let pin = pin_path(name);
    if !namespace::is_pinned(&pin) {
        clear_stale_pin(&pin)?;
        return Ok(Stopped::NotRunning);
    }
    let identity = namespace::pinned_identity(&pin)?;
    let killed = namespace::end_processes(&identity, grace);
    namespace::unpin(&pin)?;
    Ok(Stopped::Now { killed })
}

/// A process inside a container.
#[derive(Debug, Serialize)]
pub struct ProcessInfo {
    pub pid: i32,
    pub command: String,
}

/// Everything `status` reports.
#[derive(Debug, Serialize)]
pub struct Status {
    pub name: String,
    pub arch: String,
    pub root: PathBuf,
    pub running: bool,
    pub pin: PathBuf,
    pub emulator_inside: Option<String>,
    pub binds: Vec<crate::state::Bind>,
    pub processes: Vec<ProcessInfo>,
}

pub fn status(record: &Record) -> Result<Status> {
    let pin = pin_path(&record.name);
    let running = namespace::is_pinned(&pin);
    let arch = record_arch(record)?;
    let processes = if running {
        namespace::processes_in_pinned(&pin)?
            .into_iter()
            .map(|pid| ProcessInfo {
                pid: pid.as_raw(),
                command: std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| {
                        String::from_utf8_lossy(&b)
                            .replace('\0', " ")
                            .trim()
                            .to_string()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let plan = mount_plan(record)?;
    let binds = plan
        .mounts
        .iter()
        .filter_map(|m| match m {
            mounts::Mount::Bind {
                source,
                target,
                kind: mounts::MountPoint::Directory,
                ..
            } => Some(crate::state::Bind {
                source: source.clone(),
                target: target.clone(),
            }),
            _ => None,
        })
        .collect();
    Ok(Status {
        name: record.name.clone(),
        arch: record.arch.clone(),
        root: record.location.clone(),
        running,
        pin,
        emulator_inside: (!arch.is_native_on(arch::host()?)).then(|| arch.emulator_path_inside()),
        binds,
        processes,
    })
}
