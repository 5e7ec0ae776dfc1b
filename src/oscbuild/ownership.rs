//! Files the build leaves for the user belong to the user.
//!
//! osc runs as root inside the container (see `command`), so what it writes into the
//! checkout (osc's build info files, a migrated `.osc` store) or into a `--keep-pkgs`
//! directory is root's. Afterwards every root-owned entry under those directories that
//! changed since the build started is given to the user. The walk never follows
//! symbolic links and never leaves the directory's file system.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};

/// Seconds since the epoch, as ctime is kept.
pub fn epoch_seconds(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Give root-owned entries under `dir` (and `dir` itself) whose status changed at or
/// after `since` (epoch seconds) to `uid:gid`. Returns how many were changed.
pub fn give_back(dir: &Path, uid: u32, gid: u32, since: i64) -> Result<usize> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    if !meta.is_dir() {
        return Ok(0);
    }
    let mut changed = 0;
    visit(dir, &meta, meta.dev(), uid, gid, since, &mut changed)?;
    Ok(changed)
}

fn visit(
    path: &Path,
    meta: &fs::Metadata,
    dev: u64,
    uid: u32,
    gid: u32,
    since: i64,
    changed: &mut usize,
) -> Result<()> {
    if meta.uid() == 0 && meta.ctime() >= since {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .with_context(|| format!("cannot give {} to uid {uid}", path.display()))?;
        // chown clears set-user-ID and set-group-ID bits: nothing of root's stays setuid
        if meta.is_file() && meta.permissions().mode() & 0o6000 != 0 {
            let mode = meta.permissions().mode() & !0o6000;
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        }
        *changed += 1;
    }
    if meta.is_dir() && meta.dev() == dev {
        let entries =
            fs::read_dir(path).with_context(|| format!("cannot read {}", path.display()))?;
        for entry in entries {
            let entry = entry?;
            let child = entry.path();
            let child_meta = fs::symlink_metadata(&child)?;
            if child_meta.dev() != dev {
                continue;
            }
            visit(&child, &child_meta, dev, uid, gid, since, changed)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn new_root_files_go_to_the_user_old_and_linked_ones_stay() {
        if !is_root() {
            eprintln!("SKIPPED: chown needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::create_dir_all(dir.join(".osc/sources")).unwrap();
        fs::write(dir.join(".osc/_buildinfo-Debian_12-aarch64.xml"), "x").unwrap();
        fs::write(dir.join("hello.spec"), "x").unwrap();
        fs::write(outside.path().join("target"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("target"), dir.join("link")).unwrap();
        // everything is root's and new: with `since` in the future nothing changes
        let future = epoch_seconds(SystemTime::now()) + 100;
        assert_eq!(give_back(dir, 4321, 4322, future).unwrap(), 0);
        let n = give_back(dir, 4321, 4322, 0).unwrap();
        // dir, .osc, .osc/sources, buildinfo, hello.spec, link (the link itself)
        assert_eq!(n, 6);
        for p in [
            ".osc",
            ".osc/sources",
            ".osc/_buildinfo-Debian_12-aarch64.xml",
            "hello.spec",
        ] {
            let m = fs::symlink_metadata(dir.join(p)).unwrap();
            assert_eq!((m.uid(), m.gid()), (4321, 4322), "{p}");
        }
        assert_eq!(fs::symlink_metadata(dir.join("link")).unwrap().uid(), 4321);
        // the link's target is not followed
        assert_eq!(
            fs::metadata(outside.path().join("target")).unwrap().uid(),
            0
        );
        // the user's own files are left alone on a second run
        assert_eq!(give_back(dir, 4321, 4322, 0).unwrap(), 0);
    }

    #[test]
    fn missing_directory_is_nothing_to_do() {
        assert_eq!(
            give_back(Path::new("/nonexistent/archbuild/x"), 1, 1, 0).unwrap(),
            0
        );
    }
}
