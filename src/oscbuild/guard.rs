//! The build program's run for one build root, made to end with the build: obs-build
//! runs as PID 1 of a PID namespace (and in a mount namespace) of its own whose keeper
//! dies with `archbuild build-cmd` (`sys::process::isolate`), so nothing of the build,
//! its chroot's processes included, outlives it, and obs-build's mounts under the build
//! root (proc, sys, dev/pts, dev/shm) vanish with its namespace. `build-cmd` itself
//! runs as root under osc's su-wrapper, out of reach of `archbuild build` (often the
//! packager's process): it watches that process and ends the build when it ends, for
//! whatever reason (SIGKILL included: osc dies with it, but sudo and build-cmd would
//! not). A record next to the build root names the namespaces while the build runs; a
//! later build of the same root ends what an earlier one left.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::sys::process::{self, isolate_in_callers_group, ProcessId};
use crate::sys::shield;

/// The record of a running build of `root`: `.NAME.archbuild-running` next to it (not
/// in it: obs-build empties the root for a clean build).
pub fn running_file(root: &Path) -> PathBuf {
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "build-root".to_string());
    root.parent()
        .unwrap_or(Path::new("/"))
        .join(format!(".{name}.archbuild-running"))
}

/// What the build program must not be able to change (see `call::shielded`).
pub struct Shield {
    pub read_only: Vec<PathBuf>,
    pub register: PathBuf,
}

/// Run `program args` for `root` as described above; `watch` is the `archbuild build`
/// whose end ends the build. Returns the build program's exit status.
pub fn run(
    program: &Path,
    args: &[String],
    root: &Path,
    shield: Option<Shield>,
    watch: Option<ProcessId>,
    accel: Option<Vec<crate::sys::namespace::Step>>,
) -> Result<i32> {
    let record = running_file(root);
    if let Some(owner) = process::recorded_owner_alive(&record) {
        bail!(
            "build root {} is in use by another build (archbuild build-cmd, pid {}): wait for it to end, or end it with `sudo kill {}`",
            root.display(),
            owner.pid,
            owner.pid
        );
    }
    let ended = process::end_recorded(&record)?;
    if ended > 0 {
        eprintln!(
            "archbuild: ended {ended} process(es) an earlier build left running in {}",
            root.display()
        );
    }
    // the pidfd first, then the check: the PID cannot be reused in between
    let watched = match watch {
        Some(w) => {
            let fd = process::pidfd(w.pid).ok().filter(|_| w.is_alive());
            if fd.is_none() {
                bail!(
                    "the archbuild build that started this build (pid {}) has ended: nothing to build for; run `archbuild build` again",
                    w.pid
                );
            }
            fd
        }
        None => None,
    };
    let me = ProcessId::current().context("cannot read this process's start time")?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    isolate_in_callers_group(&mut cmd);
    if let Some(shield) = shield {
        protect_before_exec(&mut cmd, shield);
    }
    if let Some(steps) = accel {
        if !root.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .create(root)
                .with_context(|| format!("cannot create the build root {}", root.display()))?;
        }
        super::accel_root::mount_when_set_up(&mut cmd, root, steps)?;
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    process::record_namespaces(child.id(), &me, &record)?;
    let status = crate::sys::signals::with_sigint_ignored(|| -> Result<i32> {
        let keeper = process::pidfd(child.id()).context("cannot watch the build program")?;
        let mut fds = vec![&keeper];
        fds.extend(watched.iter());
        if process::wait_first_end(&fds)? == 1 {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "archbuild: the archbuild build that started this build ended: build in {} stopped",
                root.display()
            );
            return Ok(128 + libc::SIGKILL);
        }
        let status = child.wait()?;
        use std::os::unix::process::ExitStatusExt;
        Ok(status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
    })?;
    process::end_recorded(&record)?;
    Ok(status)
}

/// The shield's read-only binds, made by the build's PID 1 in the build's own mount
/// namespace just before it becomes the build program (build-cmd is single-threaded:
/// allocating there is safe). A failure is told on stderr, as the exec error loses it.
fn protect_before_exec(cmd: &mut Command, shield: Shield) {
    use std::os::unix::process::CommandExt;
    // SAFETY: mount(2), open(2) and write(2) to stderr between fork and exec, in a
    // single-threaded process.
    unsafe {
        cmd.pre_exec(move || {
            shield::protect(&shield.read_only, Some(&shield.register)).map_err(|e| {
                eprintln!("archbuild: error: {}", crate::error::one_line(&e));
                std::io::Error::from_raw_os_error(libc::EPERM)
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_whose_recorded_build_still_runs_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Debian_12-aarch64");
        let me = ProcessId::current().unwrap();
        let record = running_file(&root);
        std::fs::write(&record, format!("mnt:[1] pid:[1] owner={}", me.to_text())).unwrap();
        let err = run(Path::new("/bin/true"), &[], &root, None, None, None).unwrap_err();
        assert!(
            err.to_string().contains("is in use by another build")
                && err.to_string().contains(&format!("sudo kill {}", me.pid)),
            "{err}"
        );
        assert!(record.exists(), "the running build's record was removed");
        assert!(!root.exists());
    }

    #[test]
    fn the_record_lies_next_to_the_root() {
        assert_eq!(
            running_file(Path::new("/var/tmp/build-root/Debian_12-aarch64")),
            PathBuf::from("/var/tmp/build-root/.Debian_12-aarch64.archbuild-running")
        );
        assert_eq!(
            running_file(Path::new("/")),
            PathBuf::from("/.build-root.archbuild-running")
        );
    }
}
