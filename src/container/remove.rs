//! Deleting a root safely. Deleting a root while /home or /var/tmp is bound into it
//! deletes the host's files, so removal first proves that no mount lies under the root
//! (mountinfo, and the mount id of every directory it walks), and never crosses into
//! another file system or mount.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::mountinfo;

/// The mount id of `path` (statx STATX_MNT_ID), without following a final symlink.
fn mount_id(path: &Path) -> Result<u64> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
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

/// Refuse when anything is mounted at or under `root` in this namespace.
pub fn check_no_mounts(root: &Path) -> Result<()> {
    let table = mountinfo::read_own()?;
    let under = mountinfo::mounts_under(&table, root);
    if let Some(m) = under.first() {
        bail!(
            "refusing to remove {}: {} is mounted there ({} mount(s) under the root); stop the container or `umount -R {}` first",
            root.display(),
            m.mount_point.display(),
            under.len(),
            m.mount_point.display()
        );
    }
    Ok(())
}

/// Walk the tree and fail on the first directory that is on another mount than `root`.
fn check_one_mount(dir: &Path, root_mount: u64) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if mount_id(&path)? != root_mount {
                bail!(
                    "refusing to remove: {} is another mount inside the root; unmount it first",
                    path.display()
                );
            }
            check_one_mount(&path, root_mount)?;
        }
    }
    Ok(())
}

fn delete_tree(dir: &Path, root_mount: u64) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            // Checked again right before descending: a mount made since the first walk
            // must not be followed.
            if mount_id(&path)? != root_mount {
                bail!("stopped removing: {} became a mount point", path.display());
            }
            delete_tree(&path, root_mount)?;
            fs::remove_dir(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        } else {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// Delete `root` and everything in it, if nothing is mounted under it.
pub fn remove_root(root: &Path) -> Result<()> {
    let root = root
        .canonicalize()
        .with_context(|| format!("cannot find {}", root.display()))?;
    if root == Path::new("/") {
        bail!("refusing to remove /");
    }
    check_no_mounts(&root)?;
    let root_mount = mount_id(&root)?;
    check_one_mount(&root, root_mount)?;
    delete_tree(&root, root_mount)?;
    fs::remove_dir(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_a_plain_tree_with_symlinks_without_following_them() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
        remove_root(&root).unwrap();
        assert!(!root.exists());
        assert!(outside.path().join("keep").exists());
    }
}
