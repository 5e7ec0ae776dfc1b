//! Advisory file locks (flock): held by an open file, so a killed holder releases its
//! lock at once, and closed on exec (the files are opened close-on-exec).

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A held lock; dropping it (or exec, or death) releases it.
pub struct FileLock {
    _lock: Flock<File>,
}

/// Open the lock file `path`, making it (and its directory) when missing.
fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path);
    // a lock file another user made (root's, in a packager's directory) is locked
    // through a read-only descriptor: flock needs no write access
    match opened {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => File::open(path),
        other => other,
    }
    .with_context(|| format!("cannot open the lock {}", path.display()))
}

/// Take a shared lock on `path` (made if missing), waiting while someone holds it
/// exclusively.
pub fn shared(path: &Path) -> Result<FileLock> {
    let file = open_lock_file(path)?;
    Flock::lock(file, FlockArg::LockShared)
        .map(|lock| FileLock { _lock: lock })
        .map_err(|(_, e)| e)
        .with_context(|| format!("cannot lock {}", path.display()))
}

/// The exclusive lock on `path` if nobody holds it in any way now, else None.
pub fn try_exclusive(path: &Path) -> Result<Option<FileLock>> {
    let file = open_lock_file(path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(FileLock { _lock: lock })),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// Take the exclusive lock on `path` (made if missing), waiting while another process
/// holds it. `on_wait` runs once when the wait begins; `check` runs while waiting and
/// ends the wait with its error (an interruption).
pub fn exclusive(
    path: &Path,
    on_wait: &mut dyn FnMut(),
    check: &dyn Fn() -> Result<()>,
) -> Result<FileLock> {
    let mut file = open_lock_file(path)?;
    let mut told = false;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(FileLock { _lock: lock }),
            Err((f, Errno::EWOULDBLOCK)) => {
                file = f;
                if !told {
                    on_wait();
                    told = true;
                }
                check()?;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err((_, e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}
