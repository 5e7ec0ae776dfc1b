//! The one way archbuild deletes trees (a container's root, a bootstrap location it
//! starts over). Deleting a root while /home or /var/tmp is bound into it deletes the
//! host's files, so deletion first proves that no mount lies under the tree (mountinfo,
//! and the mount id of every directory it walks, which unlike the device number tells
//! a bind mount of the same file system apart), checks again before it descends into
//! each directory, and never crosses into another mount.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::mountinfo;
use crate::sys::mounts::mount_id;

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

/// Delete everything inside `root`, keeping `root` itself, if nothing is mounted under
/// it. Returns the canonical path.
pub fn empty_dir(root: &Path) -> Result<std::path::PathBuf> {
    let root = root
        .canonicalize()
        .with_context(|| format!("cannot find {}", root.display()))?;
    if root == Path::new("/") {
        bail!("refusing to delete the contents of /");
    }
    check_no_mounts(&root)?;
    let root_mount = mount_id(&root)?;
    check_one_mount(&root, root_mount)?;
    delete_tree(&root, root_mount)?;
    Ok(root)
}

/// Delete `root` and everything in it, if nothing is mounted under it.
pub fn remove_tree(root: &Path) -> Result<()> {
    let root = empty_dir(root)?;
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
        remove_tree(&root).unwrap();
        assert!(!root.exists());
        assert!(outside.path().join("keep").exists());
    }

    #[test]
    fn emptying_keeps_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        empty_dir(dir.path()).unwrap();
        assert!(dir.path().is_dir());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
