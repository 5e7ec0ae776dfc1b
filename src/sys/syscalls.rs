//! The system calls of namespace set-up as values. A [`Call`] holds every argument as a
//! ready C string, so applying a list of them after `fork` allocates nothing; the
//! [`Syscalls`] trait applies them, for real ([`Kernel`]) or into a list ([`Recorder`])
//! so that unit tests check the order and flags without root.

use std::ffi::{CStr, CString};
use std::fmt;
use std::path::Path;

use nix::errno::Errno;

/// One system call with its arguments.
#[derive(Clone, PartialEq, Eq)]
pub enum Call {
    /// `unshare(CLONE_NEWNS)`.
    UnshareMountNamespace,
    /// `mount(source, target, fstype, flags, data)`.
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// `umount2(target, flags)`.
    Umount { target: CString, flags: libc::c_int },
    /// `chdir(path)`.
    Chdir(CString),
    /// `pivot_root(new_root, put_old)`.
    PivotRoot { new_root: CString, put_old: CString },
    /// `mkdir(path, mode)`; an existing directory (not a symlink to one) is fine.
    MakeDir { path: CString, mode: libc::mode_t },
    /// An empty file as a mount point: `open(path, O_CREAT|O_NOFOLLOW)`; an existing
    /// regular file is fine.
    MakeFile { path: CString },
}

/// A path as a C string (paths never hold NUL bytes; a name that does is refused).
pub fn c_path(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)
}

/// A string as a C string.
pub fn c_str(text: &str) -> Result<CString, Errno> {
    CString::new(text).map_err(|_| Errno::EINVAL)
}

fn opt_ptr(s: &Option<CString>) -> *const libc::c_char {
    s.as_deref().map_or(std::ptr::null(), CStr::as_ptr)
}

/// Something that carries out [`Call`]s.
pub trait Syscalls {
    fn apply(&mut self, call: &Call) -> Result<(), Errno>;
}

/// The kernel. Async-signal-safe: no allocation, only the system calls themselves.
pub struct Kernel;

impl Syscalls for Kernel {
    fn apply(&mut self, call: &Call) -> Result<(), Errno> {
        // SAFETY: every pointer comes from a live CString (or is null where allowed).
        let rc = unsafe {
            match call {
                Call::UnshareMountNamespace => libc::unshare(libc::CLONE_NEWNS),
                Call::Mount {
                    source,
                    target,
                    fstype,
                    flags,
                    data,
                } => libc::mount(
                    opt_ptr(source),
                    target.as_ptr(),
                    opt_ptr(fstype),
                    *flags,
                    opt_ptr(data) as *const libc::c_void,
                ),
                Call::Umount { target, flags } => libc::umount2(target.as_ptr(), *flags),
                Call::Chdir(path) => libc::chdir(path.as_ptr()),
                Call::PivotRoot { new_root, put_old } => {
                    libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) as i32
                }
                Call::MakeDir { path, mode } => {
                    let rc = libc::mkdir(path.as_ptr(), *mode);
                    if rc != 0 && Errno::last() == Errno::EEXIST {
                        is_kind(path, libc::S_IFDIR)
                    } else {
                        rc
                    }
                }
                Call::MakeFile { path } => {
                    let fd = libc::open(
                        path.as_ptr(),
                        libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                        0o644,
                    );
                    if fd >= 0 {
                        libc::close(fd);
                        0
                    } else if Errno::last() == Errno::ELOOP {
                        -1
                    } else {
                        is_kind(path, libc::S_IFREG)
                    }
                }
            }
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(Errno::last())
        }
    }
}

/// 0 when `path` itself (not a symlink's target) is of `kind` (`S_IFDIR`, ...), else -1
/// with errno EEXIST (async-signal-safe).
unsafe fn is_kind(path: &CStr, kind: libc::mode_t) -> libc::c_int {
    let mut st: libc::stat = std::mem::zeroed();
    if libc::lstat(path.as_ptr(), &mut st) == 0 && st.st_mode & libc::S_IFMT == kind {
        0
    } else {
        *libc::__errno_location() = libc::EEXIST;
        -1
    }
}

/// Records calls instead of making them; `fail_at` makes the call with that index fail.
#[derive(Default)]
pub struct Recorder {
    pub calls: Vec<Call>,
    pub fail_at: Option<(usize, Errno)>,
}

impl Syscalls for Recorder {
    fn apply(&mut self, call: &Call) -> Result<(), Errno> {
        if let Some((index, errno)) = self.fail_at {
            if index == self.calls.len() {
                return Err(errno);
            }
        }
        self.calls.push(call.clone());
        Ok(())
    }
}

fn flag_names(flags: libc::c_ulong) -> String {
    const NAMES: [(libc::c_ulong, &str); 9] = [
        (libc::MS_BIND, "BIND"),
        (libc::MS_REC, "REC"),
        (libc::MS_PRIVATE, "PRIVATE"),
        (libc::MS_REMOUNT, "REMOUNT"),
        (libc::MS_RDONLY, "RDONLY"),
        (libc::MS_NOSUID, "NOSUID"),
        (libc::MS_NODEV, "NODEV"),
        (libc::MS_NOEXEC, "NOEXEC"),
        (libc::MS_SLAVE, "SLAVE"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

fn show(s: &CStr) -> std::borrow::Cow<'_, str> {
    s.to_string_lossy()
}

/// Calls print as strace would show them, which is what tests compare.
impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::UnshareMountNamespace => f.write_str("unshare(CLONE_NEWNS)"),
            Call::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => write!(
                f,
                "mount({}, {}, {}, {}{})",
                source.as_deref().map_or("NULL".into(), show),
                show(target),
                fstype.as_deref().map_or("NULL".into(), show),
                flag_names(*flags),
                data.as_deref()
                    .map(|d| format!(", {}", show(d)))
                    .unwrap_or_default()
            ),
            Call::Umount { target, flags } => write!(
                f,
                "umount2({}, {})",
                show(target),
                if *flags == libc::MNT_DETACH {
                    "MNT_DETACH".to_string()
                } else {
                    flags.to_string()
                }
            ),
            Call::Chdir(path) => write!(f, "chdir({})", show(path)),
            Call::PivotRoot { new_root, put_old } => {
                write!(f, "pivot_root({}, {})", show(new_root), show(put_old))
            }
            Call::MakeDir { path, mode } => write!(f, "mkdir({}, {mode:o})", show(path)),
            Call::MakeFile { path } => write!(f, "open({}, O_CREAT|O_NOFOLLOW)", show(path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_print_like_strace() {
        let call = Call::Mount {
            source: None,
            target: c_str("/").unwrap(),
            fstype: None,
            flags: libc::MS_REC | libc::MS_PRIVATE,
            data: None,
        };
        assert_eq!(format!("{call:?}"), "mount(NULL, /, NULL, REC|PRIVATE)");
    }

    #[test]
    fn recorder_fails_where_told() {
        let mut r = Recorder {
            fail_at: Some((1, Errno::EINVAL)),
            ..Recorder::default()
        };
        assert!(r.apply(&Call::UnshareMountNamespace).is_ok());
        assert_eq!(
            r.apply(&Call::Chdir(c_str("/").unwrap())),
            Err(Errno::EINVAL)
        );
        assert_eq!(r.calls.len(), 1);
    }
}
