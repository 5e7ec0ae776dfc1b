//! Running a command inside a container as a given user: join the pinned namespace in a
//! fresh child, take on the user's identity and a clean environment, and exec.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{anyhow, Context, Result};
use nix::unistd::{execve, fork, setgid, setgroups, setuid, ForkResult, Gid, Uid};

use crate::arch::Arch;
use crate::container::namespace;
use crate::container::root::{self, Account};

/// Who runs the command inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Root,
    Named(String),
    /// `$SUDO_USER` when run through sudo, otherwise the calling user.
    Invoker,
}

impl Identity {
    /// The user name this identity stands for, as seen from the host.
    pub fn user_name(&self) -> String {
        match self {
            Identity::Root => "root".to_string(),
            Identity::Named(name) => name.clone(),
            Identity::Invoker => invoking_user(),
        }
    }
}

/// The user who called archbuild, through sudo or not.
pub fn invoking_user() -> String {
    match std::env::var("SUDO_USER") {
        Ok(user) if !user.is_empty() => user,
        _ => nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| "root".to_string()),
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub identity: Identity,
    /// Empty: the user's login shell.
    pub command: Vec<String>,
    /// Directory to start in when it exists inside; else the user's home, else `/`.
    pub cwd: Option<PathBuf>,
    /// Extra environment on top of the clean one.
    pub env: Vec<(String, String)>,
}

/// Supplementary groups of `user` (with primary group `gid`) in a group file's text.
fn groups_of(group_text: &str, user: &str, gid: u32) -> Vec<Gid> {
    let mut gids = vec![Gid::from_raw(gid)];
    for line in group_text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[3].split(',').any(|m| m == user) {
            if let Ok(g) = f[2].parse::<u32>() {
                if !gids.contains(&Gid::from_raw(g)) {
                    gids.push(Gid::from_raw(g));
                }
            }
        }
    }
    gids
}

/// The clean environment of a login of `account` (plus what the caller adds).
pub fn environment(
    account: &Account,
    arch: &Arch,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_string(), account.home.display().to_string()),
        ("USER".to_string(), account.name.clone()),
        ("LOGNAME".to_string(), account.name.clone()),
        ("SHELL".to_string(), account.shell.display().to_string()),
        (
            "PATH".to_string(),
            if account.uid == 0 {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            } else {
                "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
            }
            .to_string(),
        ),
    ];
    for keep in ["TERM", "LANG", "LC_ALL", "COLORTERM"] {
        if let Ok(value) = std::env::var(keep) {
            env.push((keep.to_string(), value));
        }
    }
    if let Some(cpu) = arch.qemu_cpu {
        env.push(("QEMU_CPU".to_string(), cpu.to_string()));
    }
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| anyhow!("argument contains a NUL byte: {s:?}"))
}

/// The command archbuild waits for, for the signal handler.
static CHILD: AtomicI32 = AtomicI32::new(0);

/// Signals archbuild passes on to the command it waits for.
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Pass a signal on to the command inside, unless the terminal sent it: a terminal's
/// Ctrl-C (`SI_KERNEL`) already reached the whole foreground process group, command
/// included, while one sent with kill(2) (`SI_USER`, as sudo relays Ctrl-C from its own
/// pty) reached archbuild only.
extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let from_terminal = !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL;
    let child = CHILD.load(Ordering::SeqCst);
    if !from_terminal && child > 0 {
        unsafe { libc::kill(child, sig) };
    }
}

fn set_handler(
    sig: libc::c_int,
    handler: libc::sighandler_t,
    flags: libc::c_int,
) -> libc::sigaction {
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

/// Run `spec` in the container pinned at `pin` and wait for it; returns its exit status.
/// Signals meant for archbuild are passed on to the command (see `forward`).
pub fn run(pin: &Path, arch: &Arch, linux32: bool, spec: &RunSpec) -> Result<i32> {
    let handler = forward as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
    let old: Vec<(libc::c_int, libc::sigaction)> = FORWARDED
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
        .collect();
    // SAFETY: single-threaded; the child execs or _exits.
    let forked = unsafe { fork() };
    let result = match forked {
        Ok(ForkResult::Child) => {
            for sig in FORWARDED {
                set_handler(sig, libc::SIG_DFL, 0);
            }
            let err = exec(pin, arch, linux32, spec).unwrap_err();
            eprintln!("archbuild: error: {}", crate::error::one_line(&err));
            let code = if err.downcast_ref::<ExecFailed>().is_some() {
                127
            } else {
                1
            };
            unsafe { libc::_exit(code) };
        }
        Ok(ForkResult::Parent { child }) => {
            CHILD.store(child.as_raw(), Ordering::SeqCst);
            let status = namespace::wait_status(child);
            CHILD.store(0, Ordering::SeqCst);
            status
        }
        Err(e) => Err(e.into()),
    };
    for (sig, action) in old {
        unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) };
    }
    result
}

/// The command could not be started inside the container (shell convention: 127).
#[derive(Debug)]
pub struct ExecFailed(pub String);

impl std::fmt::Display for ExecFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExecFailed {}

/// Become `spec` inside the container pinned at `pin`: join, switch user, exec. Never
/// returns on success. The calling process must be single-threaded.
pub fn exec(
    pin: &Path,
    arch: &Arch,
    linux32: bool,
    spec: &RunSpec,
) -> Result<std::convert::Infallible> {
    namespace::join(pin)?;
    if linux32 {
        // PER_LINUX32: `uname -m` says i686/armv7l instead of the 64-bit host arch.
        if unsafe { libc::personality(0x0008) } == -1 {
            return Err(anyhow!(
                "cannot set the linux32 personality: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    let passwd = std::fs::read_to_string("/etc/passwd")
        .context("cannot read /etc/passwd inside the container")?;
    let user = spec.identity.user_name();
    let mut account = root::find_account(&passwd, &user).ok_or_else(|| {
        anyhow!("user '{user}' does not exist inside the container: pass --root or --user NAME")
    })?;
    if !Path::new(&account.shell).exists() {
        account.shell = PathBuf::from("/bin/sh");
    }
    let groups = groups_of(
        &std::fs::read_to_string("/etc/group").unwrap_or_default(),
        &account.name,
        account.gid,
    );

    let cwd = [
        spec.cwd.clone(),
        Some(account.home.clone()),
        Some(PathBuf::from("/")),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.is_dir())
    .unwrap_or_else(|| PathBuf::from("/"));
    std::env::set_current_dir(&cwd)
        .with_context(|| format!("cannot change to {}", cwd.display()))?;

    setgroups(&groups).context("setgroups")?;
    setgid(Gid::from_raw(account.gid)).context("setgid")?;
    setuid(Uid::from_raw(account.uid)).context("setuid")?;

    let env: Vec<CString> = environment(&account, arch, &spec.env)
        .iter()
        .map(|(k, v)| cstring(&format!("{k}={v}")))
        .collect::<Result<_>>()?;
    let (program, argv): (PathBuf, Vec<CString>) = if spec.command.is_empty() {
        let name = account
            .shell
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        (account.shell.clone(), vec![cstring(&format!("-{name}"))?])
    } else {
        (
            find_program(&spec.command[0], account.uid == 0),
            spec.command
                .iter()
                .map(|a| cstring(a))
                .collect::<Result<_>>()?,
        )
    };
    let program_c = cstring(&program.to_string_lossy())?;
    let errno = execve(&program_c, &argv, &env).unwrap_err();
    Err(ExecFailed(format!(
        "cannot run {} inside the container: {errno}",
        program.display()
    ))
    .into())
}

/// Look `name` up on the container's PATH (as the clean environment sets it).
fn find_program(name: &str, root: bool) -> PathBuf {
    if name.contains('/') {
        return PathBuf::from(name);
    }
    let path = if root {
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    } else {
        "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    };
    path.split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supplementary_groups_from_group_file() {
        let text = "root:x:0:\nwheel:x:10:pkger,other\nusers:x:100:\nkvm:x:36:pkger\n";
        let gids: Vec<u32> = groups_of(text, "pkger", 100)
            .iter()
            .map(|g| g.as_raw())
            .collect();
        assert_eq!(gids, vec![100, 10, 36]);
    }

    #[test]
    fn clean_environment_has_login_variables_and_qemu_cpu() {
        let account = Account {
            name: "pkger".into(),
            uid: 1000,
            gid: 100,
            gecos: String::new(),
            home: "/home/pkger".into(),
            shell: "/bin/sh".into(),
        };
        let armv6 = crate::arch::lookup("armv6l").unwrap();
        let env = environment(&account, armv6, &[("HOME".into(), "/x".into())]);
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("USER"), Some("pkger"));
        assert_eq!(get("HOME"), Some("/x"));
        assert_eq!(get("QEMU_CPU"), Some("arm1176"));
        assert!(get("SUDO_USER").is_none());
    }
}
