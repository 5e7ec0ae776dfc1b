//! Running a command inside a container as a given user: join the pinned namespace in a
//! fresh child, take on the user's identity and a clean environment, and exec.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use crate::arch::Arch;
use crate::container::root::{self, Account};
use crate::sys;

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
    crate::user::invoking_user()
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
fn groups_of(group_text: &str, user: &str, gid: u32) -> Vec<u32> {
    let mut gids = vec![gid];
    for line in group_text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[3].split(',').any(|m| m == user) {
            if let Ok(g) = f[2].parse::<u32>() {
                if !gids.contains(&g) {
                    gids.push(g);
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

/// The arguments of the `archbuild enter` process that runs `spec` in `name`.
fn enter_arguments(name: &str, spec: &RunSpec) -> Vec<String> {
    let mut args = vec!["enter".to_string(), name.to_string()];
    match &spec.identity {
        Identity::Root => args.push("--root".into()),
        Identity::Named(user) => args.extend(["--user".into(), user.clone()]),
        Identity::Invoker => {}
    }
    if let Some(cwd) = &spec.cwd {
        args.extend(["--cwd".into(), cwd.display().to_string()]);
    }
    for (key, value) in &spec.env {
        args.extend(["--env".into(), format!("{key}={value}")]);
    }
    args.push("--".into());
    args.extend(spec.command.iter().cloned());
    args
}

/// Run `spec` in the running container `name` through a fresh `archbuild enter`
/// process and wait for it; returns its exit status. A fresh process joins the
/// namespace single-threaded whatever this one runs (an HTTP client's threads, a log
/// reader), and signals meant for archbuild are passed on to it.
pub fn run_in_fresh_process(name: &str, spec: &RunSpec) -> Result<i32> {
    let exe = std::env::current_exe().context("cannot find the archbuild program itself")?;
    let forwarding = sys::signals::Forwarding::install();
    let mut child = std::process::Command::new(&exe)
        .args(enter_arguments(name, spec))
        .spawn()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    forwarding.target(child.id() as i32);
    let status = child.wait().context("cannot wait for the command inside")?;
    drop(forwarding);
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
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
    name: &str,
    pin: &Path,
    arch: &Arch,
    linux32: bool,
    spec: &RunSpec,
) -> Result<std::convert::Infallible> {
    sys::namespace::join(pin)?;
    if linux32 {
        sys::process::set_linux32()?;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| {
        anyhow!(
            "container '{name}' has no readable /etc/passwd ({e}): restart it (`archbuild stop {name} && archbuild start {name}`) and archbuild creates one"
        )
    })?;
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
    std::env::set_current_dir(&cwd).with_context(|| {
        format!(
            "cannot change to {} inside container '{name}' (it exists there but cannot be entered): run from another directory",
            cwd.display()
        )
    })?;
    sys::process::switch_user(account.uid, account.gid, &groups)?;

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
    let errno = sys::process::exec(&program_c, &argv, &env);
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
        assert_eq!(groups_of(text, "pkger", 100), vec![100, 10, 36]);
    }

    #[test]
    fn a_fresh_enter_process_gets_identity_cwd_env_and_command() {
        let spec = RunSpec {
            identity: Identity::Named("abuild".into()),
            command: vec!["osc".into(), "--version".into()],
            cwd: Some("/home/p/pkg".into()),
            env: vec![("OSC_CONFIG".into(), "/x".into())],
        };
        assert_eq!(
            enter_arguments("aarch64", &spec),
            [
                "enter",
                "aarch64",
                "--user",
                "abuild",
                "--cwd",
                "/home/p/pkg",
                "--env",
                "OSC_CONFIG=/x",
                "--",
                "osc",
                "--version"
            ]
        );
        let root = RunSpec {
            identity: Identity::Root,
            command: vec![],
            cwd: None,
            env: vec![],
        };
        assert_eq!(enter_arguments("a", &root), ["enter", "a", "--root", "--"]);
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
