//! osc's package cache, shared by every `osc build` of the host: osc's fetcher takes no
//! lock and deletes files it takes for bad, so two osc filling it at once break each
//! other's builds. `archbuild build` holds this lock from the start of osc until osc
//! starts the build program (all packages are fetched by then), so downloads are one at
//! a time and the builds themselves run in parallel.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::batch::phase::WAITING_FOR_CACHE;
use crate::sys::lock::{self, FileLock};

/// osc's default `packagecachedir`.
pub const OSC_DEFAULT: &str = "/var/tmp/osbuild-packagecache";

/// The cache directory osc uses: `OSC_PACKAGECACHEDIR`, else the oscrc's
/// `packagecachedir`, else osc's default.
pub fn dir(env_value: Option<&str>, oscrc_value: Option<&str>) -> PathBuf {
    env_value
        .or(oscrc_value)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(OSC_DEFAULT))
}

/// The lock file of a cache directory.
pub fn lock_path(cache: &Path) -> PathBuf {
    cache.join(".archbuild-fetch.lock")
}

/// Take the lock of `cache` (made if missing, owned by `owner` when given: osc fills it
/// as that user), saying once on stderr that another build is downloading.
pub fn lock(cache: &Path, owner: Option<(u32, u32)>) -> Result<FileLock> {
    if !cache.exists() {
        std::fs::create_dir_all(cache).with_context(|| {
            format!(
                "cannot create osc's package cache {}: check the permissions of its parent, or set packagecachedir in the oscrc",
                cache.display()
            )
        })?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(cache, Some(uid), Some(gid))
                .with_context(|| format!("cannot give {} to uid {uid}", cache.display()))?;
        }
    }
    lock::exclusive(
        &lock_path(cache),
        &mut || {
            eprintln!(
                "{WAITING_FOR_CACHE} (another build downloads into {})",
                cache.display()
            )
        },
        &|| Ok(()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_then_oscrc_then_default() {
        assert_eq!(dir(Some("/a"), Some("/b")), PathBuf::from("/a"));
        assert_eq!(dir(None, Some(" /b ")), PathBuf::from("/b"));
        assert_eq!(dir(Some(""), None), PathBuf::from(OSC_DEFAULT));
        assert_eq!(
            lock_path(Path::new("/c")),
            PathBuf::from("/c/.archbuild-fetch.lock")
        );
    }

    #[test]
    fn a_second_taker_waits_for_the_first() {
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("cache");
        let first = lock(&cache, None).unwrap();
        assert!(lock_path(&cache).exists());
        let (tx, rx) = std::sync::mpsc::channel();
        let c = cache.clone();
        let waiter = std::thread::spawn(move || {
            let _second = lock(&c, None).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err());
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        waiter.join().unwrap();
    }
}
