//! The profile mode's run of the chosen program: as a child of the handler, which
//! forwards the signals sent to it, waits, records the program's CPU and wall time and
//! then ends as the program did. What is recorded and how is decided in `decision`.
//!
//! The child gets the handler's signal mask and dispositions as they were at entry
//! (the handler changes its own only after the fork), so the program sees what the
//! plain exec would give it. What differs: its parent is the handler (`getppid`).

use std::ffi::CString;
use std::io::Error;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

use libc::c_int;

use crate::decision::{exit_code, proc_stat_ticks, Ended, Measured};

/// Forwarded to the program when sent to the handler by kill(2): the catchable signals
/// whose default ends a process and which another process may send. Those the terminal
/// sends reach the whole foreground process group, the program too, and are not
/// forwarded again (their `si_code` is `SI_KERNEL`).
const FORWARDED: [c_int; 8] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGPIPE,
];

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    let child = CHILD.load(Ordering::Relaxed);
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo.
    let (code, from) = unsafe { ((*info).si_code, (*info).si_pid()) };
    // SI_USER (0), SI_QUEUE (-1), SI_TKILL (-6): sent by a process.
    if child > 0 && code <= 0 && from != child {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, sig) };
    }
}

fn errno() -> c_int {
    Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Run `program` (argv: a NULL-terminated array) as a child and end as it ends, after
/// `record` was given what it used. Returns only when it could not be executed (the
/// handler's state is then as before, for the next candidate).
pub fn run(
    program: &CString,
    argv: &[*const libc::c_char],
    native: bool,
    record: impl Fn(&Measured),
) -> Error {
    // SAFETY: plain system calls on owned, initialized memory; the child calls only
    // async-signal-safe functions between fork and exec.
    unsafe {
        let mut forwarded: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut forwarded);
        for sig in FORWARDED {
            libc::sigaddset(&mut forwarded, sig);
        }
        let mut entry_mask: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_BLOCK, &forwarded, &mut entry_mask);
        let restore_mask = |mask: &libc::sigset_t| {
            libc::sigprocmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
        };
        // Tells the parent whether the exec failed (errno) or happened (EOF).
        let mut exec_pipe = [0 as c_int; 2];
        if libc::pipe2(exec_pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            let error = Error::last_os_error();
            restore_mask(&entry_mask);
            return error;
        }
        let started = Instant::now();
        let pid = libc::fork();
        if pid < 0 {
            let error = Error::last_os_error();
            libc::close(exec_pipe[0]);
            libc::close(exec_pipe[1]);
            restore_mask(&entry_mask);
            return error;
        }
        if pid == 0 {
            libc::close(exec_pipe[0]);
            // The program does not outlive a handler killed by SIGKILL.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            restore_mask(&entry_mask);
            libc::execv(program.as_ptr(), argv.as_ptr());
            let failed = errno();
            libc::write(
                exec_pipe[1],
                (&failed as *const c_int).cast(),
                std::mem::size_of::<c_int>(),
            );
            libc::_exit(127);
        }
        libc::close(exec_pipe[1]);
        CHILD.store(pid, Ordering::Relaxed);
        let mut entry_actions: Vec<(c_int, libc::sigaction)> = Vec::new();
        for sig in FORWARDED.into_iter().chain([libc::SIGCHLD]) {
            let mut action: libc::sigaction = std::mem::zeroed();
            if sig == libc::SIGCHLD {
                // An inherited SIG_IGN would make the kernel reap the child unasked.
                action.sa_sigaction = libc::SIG_DFL;
            } else {
                action.sa_sigaction = forward as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, &action, &mut old);
            entry_actions.push((sig, old));
        }
        restore_mask(&entry_mask);

        let mut failed: c_int = 0;
        let read = loop {
            let n = libc::read(
                exec_pipe[0],
                (&mut failed as *mut c_int).cast(),
                std::mem::size_of::<c_int>(),
            );
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            break n;
        };
        libc::close(exec_pipe[0]);
        if read == std::mem::size_of::<c_int>() as isize {
            while libc::waitpid(pid, std::ptr::null_mut(), 0) < 0 && errno() == libc::EINTR {}
            libc::sigprocmask(libc::SIG_BLOCK, &forwarded, std::ptr::null_mut());
            CHILD.store(0, Ordering::Relaxed);
            for (sig, old) in &entry_actions {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
            restore_mask(&entry_mask);
            return Error::from_raw_os_error(failed);
        }

        // Its own CPU time without its children's: read /proc before reaping it.
        let mut info: libc::siginfo_t = std::mem::zeroed();
        while libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        ) < 0
            && errno() == libc::EINTR
        {}
        let children_ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| proc_stat_ticks(&stat))
            .map(|(_own, children)| children);
        let mut status: c_int = 0;
        let mut usage: libc::rusage = std::mem::zeroed();
        loop {
            let reaped = libc::wait4(pid, &mut status, 0, &mut usage);
            if reaped == pid {
                break;
            }
            if errno() != libc::EINTR {
                crate::fail(
                    127,
                    &format!("waiting for {pid}: {}", Error::last_os_error()),
                );
            }
        }
        let wall = started.elapsed().as_secs_f64();
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
        let ticks_per_second = libc::sysconf(libc::_SC_CLK_TCK).max(1) as f64;
        let ended = if libc::WIFSIGNALED(status) {
            Ended::Signal(libc::WTERMSIG(status))
        } else {
            Ended::Exit(libc::WEXITSTATUS(status))
        };
        record(&Measured {
            native,
            // wait4 counts the children it waited for; they have lines of their own.
            self_cpu: children_ticks.map(|c| (cpu - c as f64 / ticks_per_second).max(0.0)),
            cpu,
            wall,
            ended,
        });
        if let Ended::Signal(sig) = ended {
            // Die of it too: no core of the handler (qemu wrote the program's).
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            libc::signal(sig, libc::SIG_DFL);
            let mut only: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut only);
            libc::sigaddset(&mut only, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &only, std::ptr::null_mut());
            libc::raise(sig);
        }
        std::process::exit(exit_code(ended))
    }
}
