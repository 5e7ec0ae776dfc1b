//! Architecture emulation containers: a foreign root entered through a pinned mount
//! namespace. `plan` decides the mounts, `root` prepares the directory, `namespace`
//! talks to the kernel, `process` runs commands inside, `remove` deletes roots safely.

pub mod namespace;
pub mod plan;
pub mod process;
pub mod remove;
pub mod root;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::arch::{self, Arch};
use crate::paths;
use crate::state::Record;

/// Where the namespace of container `name` is pinned.
pub fn pin_path(name: &str) -> PathBuf {
    paths::pin_dir().join(name)
}

pub fn is_running(name: &str) -> bool {
    namespace::is_pinned(&pin_path(name))
}

/// The arch of a record, looked up in the table.
pub fn record_arch(record: &Record) -> Result<&'static Arch> {
    arch::lookup(&record.arch)
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

/// Start the container described by `record`: check root and binfmt, make and pin the
/// namespace. Starting a running container does nothing.
pub fn start(record: &Record) -> Result<Started> {
    let pin = pin_path(&record.name);
    if namespace::is_pinned(&pin) {
        return Ok(Started::AlreadyRunning);
    }
    let arch = record_arch(record)?;
    let host = arch::host()?;
    if !record.location.is_dir() {
        bail!(
            "root {} of container '{}' does not exist: bootstrap it with `archbuild bootstrap {} --name {}`",
            record.location.display(),
            record.name,
            arch.obs,
            record.name
        );
    }
    root::check_arch(&record.location, arch)?;
    crate::binfmt::ensure(arch, record.emulator.as_deref())?;
    let emulator = if arch.is_native_on(host) {
        None
    } else {
        Some(crate::emulator::find(arch, record.emulator.as_deref())?.path)
    };
    let location = record.location.canonicalize()?;
    let user = process::invoking_user();
    if user != "root" {
        root::add_host_account(&location, &user)?;
    }
    root::install_resolv_conf(&location)?;
    let plan = plan::plan(&location, arch, emulator.as_deref(), &record.binds);
    namespace::prepare_pin_dir(&paths::pin_dir())?;
    clear_stale_pin(&pin)?;
    namespace::create(&plan, &pin)?;
    Ok(Started::Now)
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
    crate::binfmt::ensure(arch, record.emulator.as_deref())?;
    let user = spec.identity.user_name();
    if user != "root" {
        root::add_host_account(&record.location, &user)
            .with_context(|| format!("cannot give user '{user}' an account in the container"))?;
    }
    Ok((pin, arch, arch.needs_linux32_on(host)))
}

/// Run a command (or a login shell) in the running container `record` and wait for it;
/// returns its exit status.
pub fn enter(record: &Record, spec: &process::RunSpec) -> Result<i32> {
    let (pin, arch, linux32) = prepare_enter(record, spec)?;
    process::run(&pin, arch, linux32, spec)
}

/// Replace this process with the command inside `record` (as `nsenter` does): its exit
/// status and signals are the command's own. The process must be single-threaded.
pub fn enter_exec(record: &Record, spec: &process::RunSpec) -> Result<std::convert::Infallible> {
    let (pin, arch, linux32) = prepare_enter(record, spec)?;
    process::exec(&pin, arch, linux32, spec)
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
    let pin = pin_path(name);
    if !namespace::is_pinned(&pin) {
        clear_stale_pin(&pin)?;
        return Ok(Stopped::NotRunning);
    }
    let killed = namespace::end_processes(&pin, grace)?;
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
        namespace::processes_in(&pin)?
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
    let mut binds: Vec<crate::state::Bind> = plan::SHARED_WITH_HOST
        .iter()
        .map(|d| crate::state::Bind {
            source: d.into(),
            target: d.into(),
        })
        .collect();
    binds.extend(record.binds.iter().cloned());
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
