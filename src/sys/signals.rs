//! Signal dispositions while archbuild waits for other programs. Two ways:
//! [`Forwarding`] passes signals on to one child (`enter`, `build`), [`Catching`] notes
//! them for a loop that stops its own children in order (`bootstrap`). Both put the
//! earlier dispositions back when dropped.

use std::sync::atomic::{AtomicI32, Ordering};

/// The command archbuild waits for, for the forwarding handler.
static TARGET: AtomicI32 = AtomicI32::new(0);
/// The last signal caught while [`Catching`].
static CAUGHT: AtomicI32 = AtomicI32::new(0);

const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
const CAUGHT_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Pass a signal on to the command inside, unless the terminal sent it: a terminal's
/// Ctrl-C (`SI_KERNEL`) already reached the whole foreground process group, command
/// included, while one sent with kill(2) (`SI_USER`, as sudo relays Ctrl-C from its own
/// pty) reached archbuild only.
extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler.
    let from_terminal = !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL;
    let target = TARGET.load(Ordering::SeqCst);
    if !from_terminal && target > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(target, sig) };
    }
}

extern "C" fn note(sig: libc::c_int) {
    CAUGHT.store(sig, Ordering::SeqCst);
}

fn set_handler(
    sig: libc::c_int,
    handler: libc::sighandler_t,
    flags: libc::c_int,
) -> libc::sigaction {
    // SAFETY: sigaction with a zeroed, filled-in struct; the old one is returned.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, &action, &mut old);
        old
    }
}

struct Saved(Vec<(libc::c_int, libc::sigaction)>);

impl Drop for Saved {
    fn drop(&mut self) {
        for (sig, action) in &self.0 {
            // SAFETY: restores the disposition that was in force before.
            unsafe { libc::sigaction(*sig, action, std::ptr::null_mut()) };
        }
    }
}

/// While alive, SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to archbuild go to [`Forwarding::target`].
pub struct Forwarding {
    _saved: Saved,
}

impl Forwarding {
    pub fn install() -> Forwarding {
        let handler =
            forward as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
        Forwarding {
            _saved: Saved(
                FORWARDED
                    .iter()
                    .map(|&sig| {
                        (
                            sig,
                            set_handler(
                                sig,
                                handler as libc::sighandler_t,
                                libc::SA_SIGINFO | libc::SA_RESTART,
                            ),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// The process signals go to from now on (0: none).
    pub fn target(&self, pid: i32) {
        TARGET.store(pid, Ordering::SeqCst);
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        TARGET.store(0, Ordering::SeqCst);
    }
}

/// While alive, SIGINT/SIGTERM/SIGHUP are noted, not acted on: see [`Catching::pending`].
pub struct Catching {
    _saved: Saved,
}

impl Catching {
    pub fn install() -> Catching {
        CAUGHT.store(0, Ordering::SeqCst);
        let handler = note as extern "C" fn(libc::c_int);
        Catching {
            _saved: Saved(
                CAUGHT_SIGNALS
                    .iter()
                    .map(|&sig| {
                        (
                            sig,
                            set_handler(sig, handler as libc::sighandler_t, libc::SA_RESTART),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// The signal caught since [`Catching::install`], if any.
    pub fn pending() -> Option<i32> {
        match CAUGHT.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

/// Run `f` with SIGINT ignored (a child in the terminal's process group gets the
/// terminal's Ctrl-C and ends itself; archbuild waits for it instead of dying first).
pub fn with_sigint_ignored<T>(f: impl FnOnce() -> T) -> T {
    let old = set_handler(libc::SIGINT, libc::SIG_IGN, 0);
    let result = f();
    // SAFETY: restores the disposition that was in force before.
    unsafe { libc::sigaction(libc::SIGINT, &old, std::ptr::null_mut()) };
    result
}

/// SIGPIPE back to its default: a closed pipe on stdout (`archbuild ... | head -1`) ends
/// archbuild quietly, as it ends other command-line tools, instead of a panic in
/// `println!` (Rust ignores SIGPIPE by default).
pub fn default_sigpipe() {
    set_handler(libc::SIGPIPE, libc::SIG_DFL, 0);
}
