//! Mount identities and unmounting what was left below a directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::mountinfo;

/// The mount id of `path` (statx STATX_MNT_ID), without following a final symlink.
/// Unlike the device number it tells a bind mount of the same file system apart.
pub fn mount_id(path: &Path) -> Result<u64> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: statx fills a zeroed struct; the path is a valid C string.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("cannot stat {}", path.display()));
    }
    Ok(stx.stx_mnt_id)
}

/// Mount points at or below `root` in this mount namespace, deepest first.
pub fn mounts_under(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(mountinfo::mount_points_below(&mountinfo::read_own()?, root))
}

/// Lazily unmount everything mounted below `root` (what a killed backend left).
pub fn unmount_under(root: &Path) -> Result<Vec<PathBuf>> {
    let mounts = mounts_under(root)?;
    for m in &mounts {
        // A mount stacked on another one at the same point needs one call each.
        while mounts_under(root)?.contains(m) {
            nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH).with_context(|| {
                format!(
                    "cannot unmount {}: unmount it by hand (umount -l)",
                    m.display()
                )
            })?;
        }
    }
    Ok(mounts)
}

/// Space on the file system holding `path`: (bytes available to root, bytes in all).
pub fn space(path: &Path) -> Result<(u64, u64)> {
    let s = nix::sys::statvfs::statvfs(path)
        .with_context(|| format!("cannot look at the file system of {}", path.display()))?;
    let block = s.fragment_size() as u64;
    Ok((s.blocks_free() as u64 * block, s.blocks() as u64 * block))
}
