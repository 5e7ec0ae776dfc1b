//! Process control: spawning a backend in its own process group and mount namespace,
//! waiting, user switch, personality, exec.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{execve, setgid, setgroups, setuid, Gid, Pid, Uid};

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> Result<String> {
    Ok(nix::sys::utsname::uname()?
        .release()
        .to_string_lossy()
        .into_owned())
}

/// The threads of this process (`Threads:` of /proc/self/status).
pub fn thread_count() -> Option<usize> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Wait for `child`, returning its exit status as a shell would (128+signal).
pub fn wait_status(child: Pid) -> Result<i32> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl with plain integers.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Make `cmd` run in its own process group, its own private mount namespace and its own
/// PID namespace, so that its whole process tree ends with archbuild:
///
///   archbuild ── keeper (dies with archbuild) ── cmd as PID 1 (dies with the keeper)
///                                                  └─ everything cmd starts
///
/// When PID 1 of a PID namespace dies the kernel kills every other process in it, so
/// nothing a backend started (apt, dpkg, maintainer scripts) keeps writing into a root
/// after archbuild was killed; whatever it mounted (mmdebstrap mounts /proc, /dev, /sys
/// and the package cache) vanishes with its mount namespace. The keeper is the child
/// archbuild waits for: it exits with the command's status.
pub fn isolate(cmd: &mut Command) {
    // SAFETY: only async-signal-safe system calls between fork and exec (fork, waitpid,
    // close, _exit included).
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
            die_with_parent()?;
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )?;
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID)?;
            match libc::fork() {
                -1 => Err(std::io::Error::last_os_error()),
                0 => die_with_parent(),
                command => {
                    // The keeper: holds nothing open (the spawner waits for its error
                    // pipe to close), waits for the command and passes its status on.
                    if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
                        for fd in 0..1024 {
                            libc::close(fd);
                        }
                    }
                    let mut status = 0;
                    while libc::waitpid(command, &mut status, 0) == -1 {
                        if *libc::__errno_location() != libc::EINTR {
                            libc::_exit(1);
                        }
                    }
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        128 + libc::WTERMSIG(status)
                    };
                    libc::_exit(code)
                }
            }
        });
    }
}

/// A user to start a program as.
pub struct Account {
    pub name: std::ffi::CString,
    pub uid: u32,
    pub gid: u32,
}

/// Make `cmd` start with SIGINT at its default (archbuild ignores it while it waits) and,
/// when `account` is given, as that user with its groups.
pub fn start_as(cmd: &mut Command, account: Option<Account>) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::signal::signal(
                nix::sys::signal::SIGINT,
                nix::sys::signal::SigHandler::SigDfl,
            )?;
            if let Some(a) = &account {
                nix::unistd::initgroups(&a.name, Gid::from_raw(a.gid))?;
                setgid(Gid::from_raw(a.gid))?;
                setuid(Uid::from_raw(a.uid))?;
            }
            Ok(())
        });
    }
}

/// Send `signal` to the process group `group`.
pub fn signal_group(group: Pid, signal: Signal) {
    let _ = killpg(group, signal);
}

/// PER_LINUX32: `uname -m` says i686/armv7l instead of the 64-bit host arch.
pub fn set_linux32() -> Result<()> {
    // SAFETY: personality(2) takes a plain integer.
    if unsafe { libc::personality(0x0008) } == -1 {
        return Err(anyhow!(
            "cannot set the linux32 personality: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Become `uid`/`gid` with the supplementary `groups`.
pub fn switch_user(uid: u32, gid: u32, groups: &[u32]) -> Result<()> {
    let groups: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    setgroups(&groups).context("cannot set the supplementary groups (setgroups)")?;
    setgid(Gid::from_raw(gid)).with_context(|| format!("cannot become group {gid}"))?;
    setuid(Uid::from_raw(uid)).with_context(|| format!("cannot become user {uid}"))?;
    Ok(())
}

/// Replace this process with `program`; returns only the errno of a failed exec.
pub fn exec(program: &CString, argv: &[CString], env: &[CString]) -> Errno {
    match execve(program, argv, env) {
        Err(errno) => errno,
        Ok(never) => match never {},
    }
}
