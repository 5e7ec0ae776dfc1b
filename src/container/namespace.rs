//! The kernel-facing part of containers, kept small: make a mount namespace from a
//! `MountPlan` and pin it, join a pinned namespace, find and end its processes, unpin.
//!
//! Sequence of `create` (the article's recipe, in one process pair):
//!   parent                                  child
//!   prepare pin dir (private bind)          unshare(CLONE_NEWNS)
//!                                           make / recursively private  <- first!
//!                                           bind root onto itself, apply mounts
//!                                           pivot_root(".", "."), umount -l old root
//!   <- "ready" ----------------------------  report over a pipe
//!   bind /proc/<child>/ns/mnt onto pin
//!   "pinned" ----------------------------->  exit
//! The pin must be made from outside the new namespace, hence the pair. Nothing the
//! child mounts is visible to the host, so a failure there needs no undo beyond the pin.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, pivot_root, ForkResult, Pid};

use crate::container::plan::{Mount, MountPlan};
use crate::container::root;
use crate::mountinfo;

const NSFS_MAGIC: i64 = 0x6e73_6673;

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
                "cannot bind the pin directory {} onto itself",
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

fn read_message(fd: &OwnedFd) -> String {
    let mut text = String::new();
    let mut file = fs::File::from(fd.try_clone().expect("dup pipe"));
    let _ = file.read_to_string(&mut text);
    text
}

/// Make the namespace described by `plan` and pin it at `pin` (which must not exist).
pub fn create(plan: &MountPlan, pin: &Path) -> Result<()> {
    for m in &plan.mounts {
        if let Mount::Bind { source, .. } = m {
            if !source.exists() {
                bail!(
                    "cannot bind {}: it does not exist on the host",
                    source.display()
                );
            }
        }
    }
    // Mount points are made in the root before the child starts, so errors come early
    // and with the host's view of the paths.
    let mut targets = Vec::new();
    for m in &plan.mounts {
        let kind = match m {
            Mount::Bind { kind, .. } => *kind,
            _ => crate::container::plan::MountPoint::Directory,
        };
        targets.push(root::ensure_mount_point(&plan.root, m.target(), kind)?);
    }

    // Linux 6.18 hands out namespace ids from per-CPU batches, so a namespace made
    // later on another CPU can carry a smaller id than the caller's; the kernel then
    // refuses the pin (EINVAL, its loop check). Making the namespace again on each CPU in
    // turn finds the one whose ids are newer than ours.
    let cpus = allowed_cpus();
    let mut attempts = vec![None];
    attempts.extend(cpus.into_iter().map(Some));
    let mut last = None;
    for cpu in attempts {
        match create_once(plan, &targets, pin, cpu) {
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
    (0..nix::sched::CpuSet::count())
        .filter(|&i| set.is_set(i).unwrap_or(false))
        .collect()
}

fn create_once(
    plan: &MountPlan,
    targets: &[PathBuf],
    pin: &Path,
    cpu: Option<usize>,
) -> Result<(), Attempt> {
    let (ready_read, ready_write) = pipe().map_err(|e| Attempt::Failed(e.into()))?;
    let (go_read, go_write) = pipe().map_err(|e| Attempt::Failed(e.into()))?;
    // SAFETY: archbuild is single-threaded here; the child only makes system calls and
    // exits with `_exit`.
    match unsafe { fork() }.map_err(|e| Attempt::Failed(e.into()))? {
        ForkResult::Child => {
            drop(ready_read);
            drop(go_write);
            if let Some(cpu) = cpu {
                let mut set = nix::sched::CpuSet::new();
                let _ = set.set(cpu);
                let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), &set);
            }
            let result = enter_new_namespace(plan, targets);
            let mut report = fs::File::from(ready_write);
            let code = match result {
                Ok(()) => {
                    let _ = report.write_all(b"ready");
                    drop(report);
                    // Wait until the parent has pinned us (or gave up: EOF).
                    let _ = read_message(&go_read);
                    0
                }
                Err(e) => {
                    let _ = report.write_all(format!("{e:#}").as_bytes());
                    1
                }
            };
            unsafe { libc::_exit(code) };
        }
        ForkResult::Parent { child } => {
            drop(ready_write);
            drop(go_read);
            let message = read_message(&ready_read);
            let pinned = if message == "ready" {
                pin_namespace(child, pin)
            } else {
                Err(Attempt::Failed(anyhow!("{message}")))
            };
            drop(go_write);
            let _ = waitpid(child, None);
            pinned
        }
    }
}

/// The child's half: everything here happens inside the new namespace.
fn enter_new_namespace(plan: &MountPlan, targets: &[PathBuf]) -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNS).context("unshare(CLONE_NEWNS)")?;
    // First, before any other mount: systemd's shared `/` would propagate every mount
    // below (and the final lazy unmount of the old root) back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making / private")?;
    let root = &plan.root;
    // pivot_root needs the new root to be a mount point.
    mount(
        Some(root),
        root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("binding {} onto itself", root.display()))?;
    for (m, target) in plan.mounts.iter().zip(targets) {
        apply(m, target).with_context(|| format!("mounting {}", m.target().display()))?;
    }
    nix::unistd::chdir(root)?;
    pivot_root(".", ".").context("pivot_root")?;
    // The old root now sits on top of the new one: make sure nothing propagates, then
    // detach it.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making the old root private")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    nix::unistd::chdir("/")?;
    Ok(())
}

/// Apply one mount of the plan at its host path `target`.
fn apply(m: &Mount, target: &Path) -> Result<()> {
    let nodev_nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    match m {
        Mount::Proc { .. } => mount(
            Some("proc"),
            target,
            Some("proc"),
            nodev_nosuid | MsFlags::MS_NOEXEC,
            None::<&str>,
        )?,
        Mount::Tmpfs { mode, .. } => mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            nodev_nosuid,
            Some(format!("mode={mode:o}").as_str()),
        )?,
        Mount::Bind {
            source, readonly, ..
        } => {
            mount(
                Some(source),
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )?;
            if *readonly {
                mount(
                    None::<&str>,
                    target,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                    None::<&str>,
                )?;
            }
        }
    }
    Ok(())
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
        return Err(if e == nix::errno::Errno::EINVAL {
            Attempt::PinRefused(err)
        } else {
            Attempt::Failed(err)
        });
    }
    Ok(())
}

/// Join the namespace pinned at `pin`. Must be called in a single-threaded process
/// (a fresh child): setns(CLONE_NEWNS) refuses threads that share fs info. Afterwards
/// root and cwd are the container's root.
pub fn join(pin: &Path) -> Result<()> {
    let file = fs::File::open(pin).with_context(|| format!("cannot open pin {}", pin.display()))?;
    setns(&file, CloneFlags::CLONE_NEWNS)
        .with_context(|| format!("cannot join the namespace pinned at {}", pin.display()))?;
    Ok(())
}

/// The namespace's identity: the inode `readlink /proc/<pid>/ns/mnt` shows as `mnt:[N]`.
pub fn namespace_inode(pin: &Path) -> Result<u64> {
    Ok(fs::metadata(pin)
        .with_context(|| format!("cannot stat pin {}", pin.display()))?
        .ino())
}

/// Processes whose mount namespace is the pinned one.
pub fn processes_in(pin: &Path) -> Result<Vec<Pid>> {
    let wanted = format!("mnt:[{}]", namespace_inode(pin)?);
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Ok(link) = fs::read_link(entry.path().join("ns/mnt")) {
            if link.as_os_str() == wanted.as_str() {
                pids.push(Pid::from_raw(pid));
            }
        }
    }
    Ok(pids)
}

/// End the namespace's processes: SIGTERM, then SIGKILL after `grace`. Returns how many
/// had to be killed.
pub fn end_processes(pin: &Path, grace: Duration) -> Result<usize> {
    let mut alive = processes_in(pin)?;
    if alive.is_empty() {
        return Ok(0);
    }
    for pid in &alive {
        let _ = kill(*pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while !alive.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        alive = processes_in(pin)?;
    }
    let killed = alive.len();
    for pid in &alive {
        let _ = kill(*pid, Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !alive.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        alive = processes_in(pin)?;
    }
    Ok(killed)
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

/// Wait for `child`, returning its exit status as a shell would (128+signal).
pub fn wait_status(child: Pid) -> Result<i32> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
