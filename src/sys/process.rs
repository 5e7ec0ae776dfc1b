//! Process control: spawning a backend in its own process group and mount namespace,
//! waiting, user switch, personality, exec.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{execve, setgid, setgroups, setuid, Gid, Pid, Uid};

use crate::sys::namespace;

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
    isolate_with(cmd, true)
}

/// [`isolate`] without a process group of its own, for a command the terminal's Ctrl-C
/// must still reach (osc's build program):
///
///   archbuild ── keeper (dies with archbuild, ignores SIGINT) ── init as PID 1 (dies
///   with the keeper, reaps) ── cmd as PID 2 (dies with init) ── everything cmd starts
///
/// The command is not PID 1, which gets no signal it has no handler for.
pub fn isolate_in_callers_group(cmd: &mut Command) {
    isolate_with(cmd, false)
}

fn isolate_with(cmd: &mut Command, own_group: bool) {
    // SAFETY: only async-signal-safe system calls between fork and exec (fork, waitpid,
    // close, _exit included).
    unsafe {
        cmd.pre_exec(move || {
            if own_group {
                nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
            }
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
                0 if own_group => die_with_parent(),
                0 => {
                    // PID 1 of the namespace: an init that reaps, with the command as
                    // PID 2 in the caller's process group. A PID 1 gets no signal it
                    // has no handler for, so the command must not be PID 1 for the
                    // terminal's Ctrl-C to reach it.
                    die_with_parent()?;
                    match libc::fork() {
                        -1 => Err(std::io::Error::last_os_error()),
                        0 => die_with_parent(),
                        command => {
                            close_all_fds();
                            pass_on_status_of(command, -1)
                        }
                    }
                }
                command => {
                    // The keeper: holds nothing open (the spawner waits for its error
                    // pipe to close), waits for the command and passes its status on.
                    if !own_group {
                        // the terminal's Ctrl-C is for the command, not for its keeper
                        libc::signal(libc::SIGINT, libc::SIG_IGN);
                    }
                    close_all_fds();
                    pass_on_status_of(command, command)
                }
            }
        });
    }
}

/// Close every descriptor (between fork and exec: async-signal-safe).
unsafe fn close_all_fds() {
    if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
        for fd in 0..1024 {
            libc::close(fd);
        }
    }
}

/// Wait for children (`reap`: -1 for any, as an init, or `command`) until `command`
/// ended, then exit with its status as a shell would give it (between fork and exec:
/// async-signal-safe).
unsafe fn pass_on_status_of(command: libc::pid_t, reap: libc::pid_t) -> ! {
    let mut status = 0;
    loop {
        let pid = libc::waitpid(reap, &mut status, 0);
        if pid == command {
            break;
        }
        if pid == -1 && *libc::__errno_location() != libc::EINTR {
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

/// Make `cmd` get SIGKILL when archbuild (the thread that spawns it) dies. Register it
/// after any user switch of `cmd` ([`start_as`]): the kernel clears the setting when the
/// credentials change.
pub fn dies_with_archbuild(cmd: &mut Command) {
    // SAFETY: prctl only, between fork and exec.
    unsafe {
        cmd.pre_exec(die_with_parent);
    }
}

/// A process named by its PID and its start time (field 22 of /proc/PID/stat, clock
/// ticks since boot): a PID alone may be reused after the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    pub start: u64,
}

impl ProcessId {
    /// This process.
    pub fn current() -> Option<ProcessId> {
        ProcessId::of(std::process::id())
    }

    /// Process `pid`, when it runs.
    pub fn of(pid: u32) -> Option<ProcessId> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some(ProcessId {
            pid,
            start: parse_start_time(&stat)?,
        })
    }

    /// Still the same process (not ended, its PID not reused).
    pub fn is_alive(&self) -> bool {
        ProcessId::of(self.pid).is_some_and(|now| now == *self)
    }

    /// `PID:START`
    pub fn to_text(&self) -> String {
        format!("{}:{}", self.pid, self.start)
    }

    pub fn parse(text: &str) -> Option<ProcessId> {
        let (pid, start) = text.split_once(':')?;
        Some(ProcessId {
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
        })
    }
}

/// The start time in a /proc/PID/stat line (after the `(comm)`, which may hold spaces
/// and parentheses).
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // fields from 3 (state) on: the start time is field 22
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// A pidfd for `pid` (Linux >= 5.3): readable once the process ended.
pub fn pidfd(pid: u32) -> std::io::Result<std::os::fd::OwnedFd> {
    // SAFETY: pidfd_open with plain integers; the result is a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    use std::os::fd::FromRawFd;
    // SAFETY: fd is a fresh descriptor returned by the kernel.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Block until one of `pidfds` is readable (its process ended); returns its index.
pub fn wait_first_end(pidfds: &[&std::os::fd::OwnedFd]) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut polls: Vec<libc::pollfd> = pidfds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: poll on a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if let Some(i) = polls.iter().position(|p| p.revents != 0) {
            return Ok(i);
        }
    }
}

/// Name in `file` the namespaces (mount and PID) that `child`, started by [`isolate`],
/// runs its command in, with `owner` (who answers for them while it runs): a run that
/// is killed before it cleans up leaves them named for the next one.
pub fn record_namespaces(child: u32, owner: &ProcessId, file: &Path) -> Result<()> {
    if let (Some(mount), Some(pids)) = (
        namespace::namespace_of(child),
        namespace::pid_namespace_for_children_of(child),
    ) {
        crate::atomic_file::write(
            file,
            format!("{mount} {pids} owner={}", owner.to_text()).as_bytes(),
        )?;
    }
    Ok(())
}

/// The owner a record of [`record_namespaces`] names, when it still runs.
pub fn recorded_owner_alive(file: &Path) -> Option<ProcessId> {
    let text = std::fs::read_to_string(file).ok()?;
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("owner="))
        .and_then(ProcessId::parse)
        .filter(ProcessId::is_alive)
}

/// End whatever an earlier run left in the namespaces `file` names (see
/// [`record_namespaces`]) and remove the record. Returns how many processes were ended.
pub fn end_recorded(file: &Path) -> Result<usize> {
    let Ok(identity) = std::fs::read_to_string(file) else {
        return Ok(0);
    };
    let ended = namespace::end_processes(identity.trim(), std::time::Duration::ZERO);
    match std::fs::remove_file(file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", file.display())),
    }
    Ok(ended)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_after_a_command_name_with_spaces_and_parentheses() {
        let stat =
            "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time("4242 (x) S 1"), None);
        assert_eq!(parse_start_time(""), None);
    }

    #[test]
    fn this_process_is_alive_and_round_trips() {
        let me = ProcessId::current().unwrap();
        assert!(me.is_alive());
        assert_eq!(ProcessId::parse(&me.to_text()), Some(me));
        let other = ProcessId {
            start: me.start + 1,
            ..me
        };
        assert!(!other.is_alive());
        assert_eq!(ProcessId::parse("12"), None);
    }
}
