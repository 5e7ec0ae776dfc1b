//! Where acceleration's parts are on the host: the handler binary, each arch's bundle,
//! each container's handler log. Checked, not made.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::manifest::{self, Manifest};
use crate::arch::Arch;
use crate::settings;

/// The bundle of `arch` on the host (`ARCHBUILD_ACCEL_BUNDLES`, default
/// `<state dir>/accel`, then `x86_64-for-<qemu target>`).
pub fn bundle_on_host(arch: &Arch) -> PathBuf {
    std::env::var_os("ARCHBUILD_ACCEL_BUNDLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| settings::state_dir().join("accel"))
        .join(format!("x86_64-for-{}", arch.qemu))
}

/// The directory on the host bound writable at the bundle's `log` in container `name`.
pub fn log_dir_on_host(name: &str) -> PathBuf {
    settings::state_dir().join("accel-logs").join(name)
}

/// Make the handler log of container `name`: the directory, and the file writable by
/// every user (the handler runs as whoever execs, e.g. abuild in a build chroot, and
/// appends one line per fallback; only root reads it back).
pub fn prepare_log(name: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = log_dir_on_host(name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let log = dir.join("handler.log");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|_| std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o622)))
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", log.display()))
}

/// The handler's file name, wherever it is installed.
pub const HANDLER_NAME: &str = "archbuild-accel";

/// The handler: `ARCHBUILD_ACCEL_HANDLER`, else `archbuild-accel` beside this program,
/// else `/usr/libexec/archbuild/archbuild-accel`.
pub fn handler_candidates() -> Vec<PathBuf> {
    if let Some(explicit) = std::env::var_os("ARCHBUILD_ACCEL_HANDLER") {
        return vec![PathBuf::from(explicit)];
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join(HANDLER_NAME));
    }
    candidates.push(PathBuf::from("/usr/libexec/archbuild/archbuild-accel"));
    candidates
}

/// The handler, checked as an emulator is (root-owned, not writable by others, static).
pub fn find_handler() -> Result<PathBuf> {
    let candidates = handler_candidates();
    for candidate in &candidates {
        if candidate.exists() {
            return Ok(crate::emulator::verify(candidate)?.path);
        }
    }
    bail!(
        "the acceleration handler archbuild-accel is not installed (looked at {}): build it with accel-handler/build-static and set ARCHBUILD_ACCEL_HANDLER, or start without --accel",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The bundle of `arch` at `dir`, with its manifest read and checked.
pub fn check_bundle(dir: &Path, arch: &Arch) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "no acceleration bundle for {} at {} ({e}): make one, or start without --accel",
            arch.obs,
            dir.display()
        )
    })?;
    let manifest =
        manifest::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if manifest.target != arch.qemu {
        bail!(
            "{} is for {}, not {}: remake the bundle",
            path.display(),
            manifest.target,
            arch.qemu
        );
    }
    if !dir.join("log").is_dir() {
        bail!(
            "bundle {} has no log directory: `mkdir {}/log`",
            dir.display(),
            dir.display()
        );
    }
    Ok(manifest)
}
