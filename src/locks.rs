//! Which commands exclude each other. Every command that changes a container (start,
//! stop, remove, bootstrap, and enter until its command runs) holds that container's
//! lock, so two of them never interleave: never a second pin, never a root deleted or
//! re-bootstrapped under a running namespace. The binfmt table is host-wide, and its
//! lock is too: deciding which entry to keep and registering it happen as one step.

use std::path::PathBuf;

use anyhow::Result;

use crate::settings;
use crate::sys::lock::{self, FileLock};

/// The lock file of container `name` (beside its record).
pub fn container_lock_path(name: &str) -> PathBuf {
    settings::state_dir()
        .join("locks")
        .join(format!("{name}.lock"))
}

/// Hold container `name` for this command, waiting for another one that holds it.
pub fn container(name: &str) -> Result<FileLock> {
    container_interruptible(name, &|| Ok(()))
}

/// [`container`], giving up with `check`'s error while waiting.
pub fn container_interruptible(name: &str, check: &dyn Fn() -> Result<()>) -> Result<FileLock> {
    crate::names::validate(name)?;
    lock::exclusive(
        &container_lock_path(name),
        &mut || eprintln!("archbuild: waiting for another archbuild command on container '{name}'"),
        check,
    )
}

/// Hold the host's binfmt table for one decision and its registration.
pub fn binfmt() -> Result<FileLock> {
    lock::exclusive(
        &settings::lock_dir().join("binfmt.lock"),
        &mut || {},
        &|| Ok(()),
    )
}
