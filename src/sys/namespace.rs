//! Mount namespaces: make one from a list of [`Step`]s and pin it, join a pinned one,
//! find and end its processes, unpin it.
//!
//! Sequence of [`create`] (the article's recipe, in one process pair):
//!   parent                                  child (forked; allocates nothing)
//!   prepare pin dir (private bind)          apply the steps: unshare(CLONE_NEWNS),
//!                                           make / private, mounts, pivot_root, ...
//!   <- 8 bytes: ready, or (step, errno) ---  report over a pipe
//!   bind /proc/<child>/ns/mnt onto pin
//!   close the "go" pipe ------------------>  exit
//! The pin must be made from outside the new namespace, hence the pair. Nothing the
//! child mounts is visible to the host, so a failure there needs no undo beyond the pin.
//! The child only makes the system calls prepared for it before the fork, so forking
//! from a process with threads (an HTTP client's, a log reader's) cannot deadlock it.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, CloneFlags, CpuSet};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{fork, pipe, ForkResult, Pid};

use super::syscalls::{Call, Kernel, Syscalls};
use crate::mountinfo;

const NSFS_MAGIC: i64 = 0x6e73_6673;

/// One system call of a namespace's set-up, with what to say when it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub call: Call,
    /// What the step does ("binding /home into the root").
    pub what: String,
    /// What the user can do when it fails.
    pub fix: String,
}

/// Apply `steps` in order; on failure, the index of the failed step and its errno.
pub fn apply_steps(sys: &mut dyn Syscalls, steps: &[Step]) -> Result<(), (usize, Errno)> {
    for (index, step) in steps.iter().enumerate() {
        sys.apply(&step.call).map_err(|e| (index, e))?;
    }
    Ok(())
}

/// The error for step `index` failing with `errno`.
pub fn step_error(steps: &[Step], index: usize, errno: Errno) -> anyhow::Error {
    match steps.get(index) {
        Some(step) => anyhow!("{} failed ({errno}): {}", step.what, step.fix),
        None => anyhow!("namespace set-up failed ({errno})"),
    }
}

/// True when `pin` is a live namespace pin (an nsfs bind mount).
pub fn is_pinned(pin: &Path) -> bool {
    nix::sys::statfs::statfs(pin).is_ok_and(|s| s.filesystem_type().0 == NSFS_MAGIC)
}

/// The pin directory must be a mount point that is not shared, or the kernel refuses the
/// nsfs bind (or propagates it back into the new namespace). Bind it onto itself and make
/// it private once; mountinfo tells whether that was already done.
pub fn prepare_pin_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the pin directory {} (is /run writable? are you root?)",
            dir.display()
        )
    })?;
    let dir = dir.canonicalize()?;
    let table = mountinfo::read_own()?;
    let mounted = table.iter().rev().find(|m| m.mount_point == dir);
    if mounted.is_none() {
        mount(
            Some(&dir),
            &dir,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| {
            format!(
                "cannot bind the pin directory {} onto itself (set ARCHBUILD_PIN_DIR to a directory on a local file system)",
                dir.display()
            )
        })?;
    }
    if mounted.is_none_or(|m| m.is_shared()) {
        mount(
            None::<&str>,
            &dir,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .with_context(|| format!("cannot make the pin directory {} private", dir.display()))?;
    }
    Ok(())
}

/// Make a namespace by `steps` and pin it at `pin` (which must not exist). The pin's
/// directory is prepared only once the namespace stands, so a failed set-up leaves the
/// host's mount table as it was.
pub fn create(steps: &[Step], pin: &Path) -> Result<()> {
    // Linux 6.18 hands out namespace ids from per-CPU batches, so a namespace made
    // later on another CPU can carry a smaller id than the caller's; the kernel then
    // refuses the pin (EINVAL, its loop check). Making the namespace again on each CPU in
    // turn finds the one whose ids are newer than ours.
    let mut attempts = vec![None];
    attempts.extend(allowed_cpus().into_iter().map(Some));
    let mut last = None;
    for cpu in attempts {
        match create_once(steps, pin, cpu) {
            Ok(()) => return Ok(()),
            Err(Attempt::PinRefused(e)) => last = Some(e),
            Err(Attempt::Failed(e)) => {
                return Err(e).context("cannot create the container's mount namespace")
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow!("no CPU to run on")))
        .context("cannot create the container's mount namespace")
}

enum Attempt {
    /// The kernel refused to pin this namespace (EINVAL): worth another try.
    PinRefused(anyhow::Error),
    Failed(anyhow::Error),
}

fn allowed_cpus() -> Vec<usize> {
    let Ok(set) = nix::sched::sched_getaffinity(Pid::from_raw(0)) else {
        return Vec::new();
    };
    (0..CpuSet::count())
        .filter(|&i| set.is_set(i).unwrap_or(false))
        .collect()
}

/// What the child reports: `READY`, or the failed step's index and errno.
const READY: u32 = u32::MAX;

fn write_report(fd: &OwnedFd, index: u32, errno: i32) {
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&index.to_le_bytes());
    buf[4..].copy_from_slice(&errno.to_le_bytes());
    // SAFETY: a plain write of a stack buffer.
    unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
}

fn read_report(fd: &OwnedFd) -> Option<(u32, i32)> {
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf[got..]) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
    Some((
        u32::from_le_bytes(buf[..4].try_into().ok()?),
        i32::from_le_bytes(buf[4..].try_into().ok()?),
    ))
}

fn create_once(steps: &[Step], pin: &Path, cpu: Option<usize>) -> Result<(), Attempt> {
    let failed = |e: Errno| Attempt::Failed(e.into());
    let (ready_read, ready_write) = pipe().map_err(failed)?;
    let (go_read, go_write) = pipe().map_err(failed)?;
    let mut cpu_set = CpuSet::new();
    if let Some(cpu) = cpu {
        cpu_set.set(cpu).map_err(failed)?;
    }
    // SAFETY: the child only makes system calls on data prepared before the fork
    // (no allocation, no locks) and leaves with `_exit`.
    match unsafe { fork() }.map_err(failed)? {
        ForkResult::Child => {
            drop(ready_read);
            drop(go_write);
            if cpu.is_some() {
                let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), &cpu_set);
            }
            let code = match apply_steps(&mut Kernel, steps) {
                Ok(()) => {
                    write_report(&ready_write, READY, 0);
                    // Wait until the parent has pinned us (or gave up: EOF).
                    let mut byte = [0u8; 1];
                    // SAFETY: a plain read into a stack buffer.
                    unsafe { libc::read(go_read.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
                    0
                }
                Err((index, errno)) => {
                    write_report(&ready_write, index as u32, errno as i32);
                    1
                }
            };
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        ForkResult::Parent { child } => {
            drop(ready_write);
            drop(go_read);
            let report = read_report(&ready_read);
            let pinned = match report {
                Some((READY, _)) => pin
                    .parent()
                    .map_or(Ok(()), prepare_pin_dir)
                    .map_err(Attempt::Failed)
                    .and_then(|()| pin_namespace(child, pin)),
                Some((index, errno)) => Err(Attempt::Failed(step_error(
                    steps,
                    index as usize,
                    Errno::from_raw(errno),
                ))),
                None => Err(Attempt::Failed(anyhow!(
                    "the namespace set-up process ended without a word ({}): run `archbuild doctor`",
                    describe_end(super::process::wait_status(child).ok())
                ))),
            };
            drop(go_write);
            if report.is_some() {
                let _ = super::process::wait_status(child);
            }
            pinned
        }
    }
}

fn describe_end(status: Option<i32>) -> String {
    match status {
        Some(code) if code > 128 => format!("killed by signal {}", code - 128),
        Some(code) => format!("exit status {code}"),
        None => "status unknown".into(),
    }
}

/// Bind `/proc/<child>/ns/mnt` onto `pin`; on failure leave no pin file behind.
fn pin_namespace(child: Pid, pin: &Path) -> Result<(), Attempt> {
    fs::File::create(pin)
        .with_context(|| format!("cannot create pin {}", pin.display()))
        .map_err(Attempt::Failed)?;
    let ns = format!("/proc/{child}/ns/mnt");
    if let Err(e) = mount(
        Some(ns.as_str()),
        pin,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    ) {
        let _ = fs::remove_file(pin);
        let err = anyhow!("cannot pin the namespace at {} ({e})", pin.display());
        return Err(if e == Errno::EINVAL {
            Attempt::PinRefused(err)
        } else {
            Attempt::Failed(err)
        });
    }
    Ok(())
}

/// Join the namespace pinned at `pin`. setns(CLONE_NEWNS) refuses a thread that shares
/// its fs information with other threads, so the process must have one thread.
/// Afterwards root and cwd are the container's root.
pub fn join(pin: &Path) -> Result<()> {
    let threads = super::process::thread_count();
    if threads != Some(1) {
        bail!(
            "cannot join the namespace pinned at {}: this process runs {} threads and the kernel lets only a single-threaded process join (this is a bug in archbuild: please report it)",
            pin.display(),
            threads.map_or("several".to_string(), |n| n.to_string())
        );
    }
    let file = fs::File::open(pin).with_context(|| format!("cannot open pin {}", pin.display()))?;
    setns(&file, CloneFlags::CLONE_NEWNS)
        .with_context(|| format!("cannot join the namespace pinned at {}", pin.display()))?;
    Ok(())
}

/// The namespace's identity as `readlink /proc/<pid>/ns/mnt` shows it: `mnt:[inode]`.
pub fn pinned_identity(pin: &Path) -> Result<String> {
    let ino = fs::metadata(pin)
        .with_context(|| format!("cannot stat pin {}", pin.display()))?
        .ino();
    Ok(format!("mnt:[{ino}]"))
}

/// The mount namespace of process `pid` (`mnt:[inode]`).
pub fn namespace_of(pid: u32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// The PID namespace that the children of process `pid` are born into (`pid:[inode]`).
pub fn pid_namespace_for_children_of(pid: u32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/pid_for_children"))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// Processes (other than this one) in the namespaces `identity` names: a mount
/// namespace (`mnt:[inode]`), optionally followed by a PID namespace (`pid:[inode]`)
/// that must match too. A dead namespace's inode number can be reused by a new one;
/// two at once, for the same process, is what makes a recorded identity safe to act on.
pub fn processes_in(identity: &str) -> Vec<Pid> {
    let mut words = identity.split_whitespace();
    let mount = words.next().unwrap_or_default();
    let pid_ns = words.next();
    let me = std::process::id();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me || namespace_of(pid).as_deref() != Some(mount) {
            continue;
        }
        let same_pid_ns = pid_ns.is_none_or(|want| {
            fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l.to_string_lossy() == want)
        });
        if same_pid_ns {
            pids.push(Pid::from_raw(pid as i32));
        }
    }
    pids
}

/// Processes inside the namespace pinned at `pin`.
pub fn processes_in_pinned(pin: &Path) -> Result<Vec<Pid>> {
    Ok(processes_in(&pinned_identity(pin)?))
}

fn signal_all(pids: &[Pid], signal: Signal) {
    for pid in pids {
        let _ = kill(*pid, signal);
    }
}

fn wait_until_gone(identity: &str, deadline: Instant) -> Vec<Pid> {
    let mut alive = processes_in(identity);
    while !alive.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        alive = processes_in(identity);
    }
    alive
}

/// End the processes of namespace `identity`: SIGTERM, then SIGKILL after `grace`
/// (at once when `grace` is zero). Returns how many had to be killed.
pub fn end_processes(identity: &str, grace: Duration) -> usize {
    let mut alive = processes_in(identity);
    if alive.is_empty() {
        return 0;
    }
    if !grace.is_zero() {
        signal_all(&alive, Signal::SIGTERM);
        alive = wait_until_gone(identity, Instant::now() + grace);
    }
    let killed = alive.len();
    // New processes may be forked while we kill: repeat until none is left.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !alive.is_empty() && Instant::now() < deadline {
        signal_all(&alive, Signal::SIGKILL);
        alive = wait_until_gone(identity, Instant::now() + Duration::from_millis(200));
    }
    killed
}

/// Remove the pin (the namespace dies with its last process).
pub fn unpin(pin: &Path) -> Result<()> {
    if is_pinned(pin) {
        umount2(pin, MntFlags::MNT_DETACH)
            .with_context(|| format!("cannot unmount pin {}", pin.display()))?;
    }
    match fs::remove_file(pin) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove pin {}", pin.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::syscalls::{c_str, Recorder};

    fn steps() -> Vec<Step> {
        vec![
            Step {
                call: Call::UnshareMountNamespace,
                what: "unsharing".into(),
                fix: "be root".into(),
            },
            Step {
                call: Call::Chdir(c_str("/r").unwrap()),
                what: "changing into /r".into(),
                fix: "check /r".into(),
            },
        ]
    }

    #[test]
    fn a_failed_step_names_itself_and_its_fix() {
        let mut rec = Recorder {
            fail_at: Some((1, Errno::ENOENT)),
            ..Recorder::default()
        };
        let steps = steps();
        let (index, errno) = apply_steps(&mut rec, &steps).unwrap_err();
        assert_eq!(index, 1);
        let msg = step_error(&steps, index, errno).to_string();
        assert!(msg.starts_with("changing into /r failed (ENOENT"), "{msg}");
        assert!(msg.ends_with("check /r"), "{msg}");
    }

    #[test]
    fn reports_round_trip_through_a_pipe() {
        let (r, w) = pipe().unwrap();
        write_report(&w, 7, Errno::EPERM as i32);
        drop(w);
        assert_eq!(read_report(&r), Some((7, Errno::EPERM as i32)));
        assert_eq!(read_report(&r), None);
    }
}
