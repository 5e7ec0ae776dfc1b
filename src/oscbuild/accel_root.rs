//! `archbuild build --accel`: the acceleration bundle inside obs-build's build chroot.
//!
//! The handler (archbuild's binfmt entry for the arch) looks for the bundle at
//! `/emul/x86_64-for-<target>` of whatever root it runs in, and for qemu beside it at
//! `/emul/qemu-<target>` (a build root has no `/qemu-<target>`). obs-build makes and
//! empties the build root itself (`rm -rf $BUILD_ROOT/*` for a clean build), so the
//! mounts are made only after that: in obs-build's own mount namespace (private,
//! gone with the build, never seen by the host), as soon as init_buildsystem creates
//! its `not-ready` marker, which it does after cleaning and before installing a single
//! package. The mounts:
//!
//! ```text
//! <root>/emul                      a plain directory (not a mount point: obs-build's
//!                                  preinstall moves every top-level entry away and back)
//! <root>/emul/x86_64-for-<target>  the bundle, read-only
//!                      .../log     the build root's handler log, writable
//! <root>/emul/qemu-<target>        the host's static qemu, read-only
//! ```
//!
//! What stays in the build root after the build is the empty directory and file the
//! mounts were made on.
//!
//! Nothing here decides whether a tool runs natively: the handler does, at each exec,
//! from the manifest and the identity of the build root's file. A build root whose
//! compiler differs from the bundle's runs emulated, with one log line per tool.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::accel::manifest::bundle_dir;
use crate::arch::Arch;
use crate::container::mounts::{mount_call as mount, step};
use crate::sys::namespace::Step;
use crate::sys::syscalls::{c_path, Call};

/// The file init_buildsystem creates once the build root is clean (`$BUILD_IS_RUNNING`).
pub const SET_UP_STARTED: &str = "not-ready";

/// What an accelerated build binds into its build root, all on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    /// The handler ([`find`]), or the handler file that is registered ([`prepare`]).
    pub handler: PathBuf,
    pub bundle: PathBuf,
    pub log_dir: PathBuf,
    pub emulator: PathBuf,
    /// How many root paths the bundle's manifest lists.
    pub tools: usize,
}

/// The handler log directory of builds in `root` (by the build root's name).
pub fn log_name(root: &Path) -> String {
    format!(
        "build-{}",
        root.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "root".to_string())
    )
}

/// Find the parts for `arch` (handler, bundle, emulator) and make the log of `root`.
/// Root's part: the registered handler file (with the arch's qemu inside) is made here.
pub fn prepare(arch: &Arch, root: &Path) -> Result<Parts> {
    let mut parts = find(arch, Some(root))?;
    parts.handler = crate::accel::host::registered_handler(arch)?;
    crate::accel::host::prepare_log(&log_name(root))?;
    Ok(parts)
}

/// The parts for `arch`, checked; `root` names the log directory (None: not needed).
pub fn find(arch: &Arch, root: Option<&Path>) -> Result<Parts> {
    let bundle = crate::accel::host::bundle_on_host(arch);
    let manifest = crate::accel::host::check_bundle(&bundle, arch)?;
    Ok(Parts {
        handler: crate::accel::host::find_handler()?,
        bundle,
        log_dir: crate::accel::host::log_dir_on_host(&root.map(log_name).unwrap_or_default()),
        emulator: crate::emulator::find(arch, None)?.path,
        tools: manifest.tools.len(),
    })
}

fn path_c(p: &Path) -> Result<CString> {
    c_path(p).map_err(|_| anyhow::anyhow!("path {} holds a NUL byte", p.display()))
}

/// The system calls, in order, that put `parts` into the build root `root` of `arch`
/// (pure: made before the build, applied by [`mount_when_set_up`]).
pub fn steps(root: &Path, arch: &Arch, parts: &Parts) -> Result<Vec<Step>> {
    let emul = root.join("emul");
    let inside = root.join(bundle_dir(arch.qemu).trim_start_matches('/'));
    let qemu = emul.join(format!("qemu-{}", arch.qemu));
    let fix = "the build runs emulated; report it with the build log";
    let read_only = |target: &Path| -> Result<Step> {
        Ok(step(
            mount(
                None,
                target,
                None,
                libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                None,
            )?,
            format!("making {} read-only", target.display()),
            fix,
        ))
    };
    Ok(vec![
        step(
            Call::MakeDir {
                path: path_c(&emul)?,
                mode: 0o755,
            },
            format!("making the directory {}", emul.display()),
            "the build root's /emul must be a directory or missing",
        ),
        step(
            Call::MakeDir {
                path: path_c(&inside)?,
                mode: 0o755,
            },
            format!("making the directory {}", inside.display()),
            fix,
        ),
        step(
            Call::MakeFile {
                path: path_c(&qemu)?,
            },
            format!("making the file {}", qemu.display()),
            fix,
        ),
        step(
            mount(
                Some(&parts.bundle),
                &inside,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )?,
            format!("binding {} at {}", parts.bundle.display(), inside.display()),
            fix,
        ),
        read_only(&inside)?,
        step(
            mount(
                Some(&parts.log_dir),
                &inside.join("log"),
                None,
                libc::MS_BIND,
                None,
            )?,
            format!(
                "binding {} at {}",
                parts.log_dir.display(),
                inside.join("log").display()
            ),
            fix,
        ),
        step(
            mount(Some(&parts.emulator), &qemu, None, libc::MS_BIND, None)?,
            format!("binding {} at {}", parts.emulator.display(), qemu.display()),
            fix,
        ),
        read_only(&qemu)?,
    ])
}

/// Make `steps` in the build program's mount namespace once its init_buildsystem has
/// created [`SET_UP_STARTED`] in `root` (see the module's text): the build program's
/// process forks, just before it becomes the build program, a watcher that waits for
/// that file (inotify, set up before the build program runs, so the creation cannot be
/// missed), makes the mounts, says so on stderr and ends. It dies with the build
/// program. `root` must exist. A failure costs the acceleration, not the build.
pub fn mount_when_set_up(cmd: &mut Command, root: &Path, steps: Vec<Step>) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let root_c = path_c(root)?;
    let shown = root.display().to_string();
    // SAFETY: build-cmd is single-threaded, so the watcher (a fork of the forked child)
    // may allocate; it never returns into the caller's code, it _exits.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::inotify_init1(libc::IN_CLOEXEC);
            if fd < 0 {
                not_accelerated(&shown, "inotify_init1", std::io::Error::last_os_error());
                return Ok(());
            }
            let mask = libc::IN_CREATE
                | libc::IN_MOVED_TO
                | libc::IN_DELETE_SELF
                | libc::IN_MOVE_SELF
                | libc::IN_ONLYDIR
                | libc::IN_DONT_FOLLOW;
            if libc::inotify_add_watch(fd, root_c.as_ptr(), mask) < 0 {
                not_accelerated(
                    &shown,
                    "watching the build root",
                    std::io::Error::last_os_error(),
                );
                libc::close(fd);
                return Ok(());
            }
            let parent = libc::getpid();
            match libc::fork() {
                -1 => {
                    not_accelerated(&shown, "fork", std::io::Error::last_os_error());
                    libc::close(fd);
                    Ok(())
                }
                0 => {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    if libc::getppid() != parent {
                        libc::_exit(0);
                    }
                    // Nothing but the watch and stderr stays open here: not the build's
                    // input or output, and above all not the spawner's exec-error pipe
                    // (build-cmd's spawn() would wait for this process).
                    let fd = keep_only_stderr_and(fd);
                    if wait_for_set_up(fd) {
                        apply(&steps, &shown);
                    }
                    libc::_exit(0)
                }
                _watcher => {
                    libc::close(fd);
                    Ok(())
                }
            }
        });
    }
    Ok(())
}

/// Close every descriptor but stderr and `fd`, which becomes 3; returns 3 (between fork
/// and exec: async-signal-safe).
unsafe fn keep_only_stderr_and(fd: libc::c_int) -> libc::c_int {
    let fd = if fd == 3 {
        fd
    } else {
        let moved = libc::dup2(fd, 3);
        libc::close(fd);
        moved
    };
    libc::close(0);
    libc::close(1);
    if libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32) != 0 {
        for other in 4..1024 {
            libc::close(other);
        }
    }
    fd
}

fn not_accelerated(root: &str, what: &str, error: impl std::fmt::Display) {
    eprintln!(
        "archbuild: warning: the build in {root} is not accelerated: {what} failed ({error})"
    );
}

/// Read inotify events from `fd` until [`SET_UP_STARTED`] is created (true) or the
/// watched directory goes away (false).
fn wait_for_set_up(fd: libc::c_int) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reading into a buffer we own.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false;
        }
        match first_event(&buf[..n as usize]) {
            Event::SetUpStarted => return true,
            Event::RootGone => return false,
            Event::Other => {}
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Event {
    SetUpStarted,
    RootGone,
    Other,
}

/// What a buffer of inotify events says (struct inotify_event: wd, mask, cookie, len,
/// then len bytes of NUL-padded name).
fn first_event(mut events: &[u8]) -> Event {
    let mut seen = Event::Other;
    while events.len() >= 16 {
        let word = |i: usize| u32::from_ne_bytes(events[i..i + 4].try_into().expect("4 bytes"));
        let (mask, len) = (word(4), word(12) as usize);
        let Some(name) = events.get(16..16 + len) else {
            break;
        };
        let name = name.split(|b| *b == 0).next().unwrap_or_default();
        if mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 && name == SET_UP_STARTED.as_bytes() {
            return Event::SetUpStarted;
        }
        if mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_IGNORED) != 0 {
            seen = Event::RootGone;
        }
        events = &events[16 + len..];
    }
    seen
}

fn apply(steps: &[Step], root: &str) {
    use crate::sys::syscalls::{Kernel, Syscalls};
    for s in steps {
        if let Err(errno) = Kernel.apply(&s.call) {
            not_accelerated(root, &s.what, errno);
            return;
        }
    }
    eprintln!("archbuild: the acceleration bundle is in the build root {root} (/emul)");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> Parts {
        Parts {
            handler: PathBuf::from("/usr/libexec/archbuild/archbuild-accel"),
            bundle: PathBuf::from("/var/lib/archbuild/accel/x86_64-for-aarch64"),
            log_dir: PathBuf::from("/var/lib/archbuild/accel-logs/build-Debian_13-aarch64"),
            emulator: PathBuf::from("/usr/bin/qemu-aarch64-static"),
            tools: 19,
        }
    }

    #[test]
    fn the_bundle_log_and_qemu_go_under_a_read_only_emul() {
        let arch = crate::arch::lookup("aarch64").unwrap();
        let root = Path::new("/var/tmp/build-root/Debian_13-aarch64");
        let calls: Vec<String> = steps(root, arch, &parts())
            .unwrap()
            .iter()
            .map(|s| format!("{:?}", s.call))
            .collect();
        let r = "/var/tmp/build-root/Debian_13-aarch64";
        assert_eq!(
            calls,
            [
                format!("mkdir({r}/emul, 755)"),
                format!("mkdir({r}/emul/x86_64-for-aarch64, 755)"),
                format!("open({r}/emul/qemu-aarch64, O_CREAT|O_NOFOLLOW)"),
                format!("mount(/var/lib/archbuild/accel/x86_64-for-aarch64, {r}/emul/x86_64-for-aarch64, NULL, BIND|REC)"),
                format!("mount(NULL, {r}/emul/x86_64-for-aarch64, NULL, BIND|REMOUNT|RDONLY)"),
                format!("mount(/var/lib/archbuild/accel-logs/build-Debian_13-aarch64, {r}/emul/x86_64-for-aarch64/log, NULL, BIND)"),
                format!("mount(/usr/bin/qemu-aarch64-static, {r}/emul/qemu-aarch64, NULL, BIND)"),
                format!("mount(NULL, {r}/emul/qemu-aarch64, NULL, BIND|REMOUNT|RDONLY)"),
            ]
        );
        // where the handler looks, inside the root
        assert!(crate::accel::decision::emulator_candidates("aarch64")
            .contains(&"/emul/qemu-aarch64".to_string()));
    }

    fn event(mask: u32, name: &str) -> Vec<u8> {
        let padded = name.len().div_ceil(16) * 16;
        let mut e = Vec::new();
        e.extend(1i32.to_ne_bytes());
        e.extend(mask.to_ne_bytes());
        e.extend(0u32.to_ne_bytes());
        e.extend((padded as u32).to_ne_bytes());
        e.extend(name.as_bytes());
        e.resize(16 + padded, 0);
        e
    }

    #[test]
    fn only_the_creation_of_not_ready_starts_the_mounts() {
        let mut buf = event(libc::IN_CREATE, ".build");
        assert_eq!(first_event(&buf), Event::Other);
        buf.extend(event(libc::IN_CREATE, "not-ready"));
        assert_eq!(first_event(&buf), Event::SetUpStarted);
        assert_eq!(
            first_event(&event(libc::IN_CREATE, "not-ready.x")),
            Event::Other
        );
        assert_eq!(
            first_event(&event(libc::IN_DELETE_SELF, "")),
            Event::RootGone
        );
        assert_eq!(
            first_event(&event(libc::IN_MOVED_TO, "not-ready")),
            Event::SetUpStarted
        );
        // a truncated buffer is no event
        assert_eq!(first_event(&buf[..10]), Event::Other);
    }

    #[test]
    fn the_watcher_neither_holds_up_the_spawn_nor_outlives_the_build_program() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("30").stderr(std::process::Stdio::null());
        mount_when_set_up(&mut cmd, dir.path(), Vec::new()).unwrap();
        let mut child = cmd.spawn().unwrap();
        // spawn() returned while the build program runs: the watcher does not hold
        // the spawner's exec-error pipe
        assert!(child.try_wait().unwrap().is_none());
        let children =
            std::fs::read_to_string(format!("/proc/{}/task/{}/children", child.id(), child.id()))
                .unwrap();
        let watcher: Vec<&str> = children.split_whitespace().collect();
        assert_eq!(watcher.len(), 1, "no watcher process: {children:?}");
        let alive = || {
            std::fs::read_to_string(format!("/proc/{}/stat", watcher[0]))
                .is_ok_and(|stat| !stat.contains(") Z "))
        };
        assert!(alive());
        child.kill().unwrap();
        child.wait().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!alive(), "the watcher outlived the build program");
    }

    #[test]
    fn the_log_is_named_after_the_build_root() {
        assert_eq!(
            log_name(Path::new("/var/tmp/build-root/hello_Debian_13_aarch64")),
            "build-hello_Debian_13_aarch64"
        );
    }
}
