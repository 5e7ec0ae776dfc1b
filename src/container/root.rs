//! Preparing a root directory before its namespace is made: checking its arch, giving it
//! mount points, the invoking user's account and the host's DNS settings. All paths
//! inside the root are resolved without leaving it, even through absolute symlinks.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::arch::{self, Arch};
use serde::Serialize;

use crate::container::mounts::MountPoint;

/// Resolve `path` (absolute, as seen inside the container) to a host path under `root`,
/// following symlinks as the container would see them. Missing tails are kept as they are.
pub fn resolve_in_root(root: &Path, path: &Path) -> Result<PathBuf> {
    let mut resolved = root.to_path_buf();
    let mut pending: Vec<PathBuf> = path
        .components()
        .rev()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.components().next() {
            Some(Component::RootDir) | Some(Component::CurDir) | None => continue,
            Some(Component::ParentDir) => {
                if resolved != root {
                    resolved.pop();
                }
                continue;
            }
            _ => {}
        }
        let candidate = resolved.join(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    bail!(
                        "too many symbolic links resolving {} in {}",
                        path.display(),
                        root.display()
                    );
                }
                let target = fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved = root.to_path_buf();
                }
                pending.extend(
                    target
                        .components()
                        .rev()
                        .map(|c| PathBuf::from(c.as_os_str())),
                );
            }
            _ => resolved = candidate,
        }
    }
    Ok(resolved)
}

/// The arch of the root's `/bin/sh`.
pub fn detect_arch(root: &Path) -> Result<&'static Arch> {
    let sh = resolve_in_root(root, Path::new("/bin/sh"))?;
    if !sh.exists() {
        bail!(
            "{} has no /bin/sh, so it is not a root file system: bootstrap one with `archbuild bootstrap ARCH --location {}`",
            root.display(),
            root.display()
        );
    }
    let info = crate::elf::read(&sh)
        .with_context(|| format!("cannot tell the arch of {}", root.display()))?;
    // A shell script /bin/sh would be odd, but its interpreter does not tell the arch.
    arch::from_elf(info.class, info.endian, info.machine).ok_or_else(|| {
        anyhow!(
            "{} has a /bin/sh for an architecture archbuild does not know (ELF machine {})",
            root.display(),
            info.machine
        )
    })
}

/// Refuse a root whose `/bin/sh` is for another architecture than `arch`.
pub fn check_arch(root: &Path, arch: &Arch) -> Result<()> {
    let found = detect_arch(root)?;
    let same =
        found.class == arch.class && found.endian == arch.endian && found.machine == arch.machine;
    if !same {
        bail!(
            "{} is a {} root, not {}: pass --arch {} or choose another --location",
            root.display(),
            found.obs,
            arch.obs,
            found.obs
        );
    }
    Ok(())
}

/// Create what a mount needs at `target` inside the root (a directory or an empty file).
pub fn ensure_mount_point(root: &Path, target: &Path, kind: MountPoint) -> Result<PathBuf> {
    let host_path = resolve_in_root(root, target)?;
    match kind {
        MountPoint::Directory => {
            if !host_path.is_dir() {
                fs::create_dir_all(&host_path).with_context(|| {
                    format!("cannot create mount point {}", host_path.display())
                })?;
            }
        }
        MountPoint::File => {
            if !host_path.exists() {
                if let Some(parent) = host_path.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::File::create(&host_path).with_context(|| {
                    format!("cannot create mount point {}", host_path.display())
                })?;
                fs::set_permissions(&host_path, fs::Permissions::from_mode(0o755))?;
            }
        }
    }
    Ok(host_path)
}

/// A user account as in /etc/passwd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: PathBuf,
    pub shell: PathBuf,
}

impl Account {
    pub fn parse(line: &str) -> Option<Account> {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        Some(Account {
            name: f[0].to_string(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            gecos: f[4].to_string(),
            home: PathBuf::from(f[5]),
            shell: PathBuf::from(f[6]),
        })
    }
}

/// Find `name` in the passwd text.
pub fn find_account(passwd: &str, name: &str) -> Option<Account> {
    passwd
        .lines()
        .filter_map(Account::parse)
        .find(|a| a.name == name)
}

/// Name of group `gid` in a group file's text.
pub fn group_name(group: &str, gid: u32) -> Option<String> {
    group.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[2].parse() == Ok(gid)).then(|| f[0].to_string())
    })
}

/// Lines to append so that the root knows `account` (same uid/gid/home) and its primary
/// group: (passwd line, group line), each None when already present.
pub fn account_lines(
    root_passwd: &str,
    root_group: &str,
    account: &Account,
    group: &str,
    shell_inside: &Path,
) -> (Option<String>, Option<String>) {
    let passwd_line = if root_passwd
        .lines()
        .filter_map(Account::parse)
        .any(|a| a.name == account.name || a.uid == account.uid)
    {
        None
    } else {
        Some(format!(
            "{}:x:{}:{}:{}:{}:{}",
            account.name,
            account.uid,
            account.gid,
            account.gecos,
            account.home.display(),
            shell_inside.display()
        ))
    };
    let group_line = if group_name(root_group, account.gid).is_some()
        || root_group
            .lines()
            .any(|l| l.split(':').next() == Some(group))
    {
        None
    } else {
        Some(format!("{}:x:{}:", group, account.gid))
    };
    (passwd_line, group_line)
}

fn append_line(path: &Path, line: &str) -> Result<()> {
    let existing = fs::read_to_string(path).unwrap_or_default();
    let separator = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot update {}", path.display()))?;
    writeln!(file, "{separator}{line}")?;
    Ok(())
}

/// A line to append to a file of the root (its host path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Append {
    pub file: PathBuf,
    pub line: String,
}

/// What the root's passwd and group need so that `user` can log in: root's own account
/// when the root has no passwd at all, and the host account of `user` (same uid, gid
/// and home) unless the root already knows that name.
pub fn account_edits(root: &Path, user: &str) -> Result<Vec<Append>> {
    let passwd_path = resolve_in_root(root, Path::new("/etc/passwd"))?;
    let group_path = resolve_in_root(root, Path::new("/etc/group"))?;
    let root_passwd = fs::read_to_string(&passwd_path).unwrap_or_default();
    let root_group = fs::read_to_string(&group_path).unwrap_or_default();
    let mut edits = Vec::new();
    if !passwd_path.exists() {
        edits.push(Append {
            file: passwd_path.clone(),
            line: "root:x:0:0:root:/root:/bin/sh".into(),
        });
    }
    if !group_path.exists() {
        edits.push(Append {
            file: group_path.clone(),
            line: "root:x:0:".into(),
        });
    }
    if user == "root" || find_account(&root_passwd, user).is_some() {
        return Ok(edits);
    }
    let host_passwd = fs::read_to_string("/etc/passwd").context("cannot read /etc/passwd")?;
    let host_group = fs::read_to_string("/etc/group").unwrap_or_default();
    let account = find_account(&host_passwd, user).ok_or_else(|| {
        anyhow!(
            "user '{user}' is neither in the container's /etc/passwd nor the host's: pass --root, or --user with an account that exists"
        )
    })?;
    let group = group_name(&host_group, account.gid).unwrap_or_else(|| account.name.clone());
    let shell_inside = if resolve_in_root(root, &account.shell)?.exists() {
        account.shell.clone()
    } else {
        PathBuf::from("/bin/sh")
    };
    let (passwd_line, group_line) =
        account_lines(&root_passwd, &root_group, &account, &group, &shell_inside);
    edits.extend(passwd_line.map(|line| Append {
        file: passwd_path,
        line,
    }));
    edits.extend(group_line.map(|line| Append {
        file: group_path,
        line,
    }));
    Ok(edits)
}

/// Append the lines [`account_edits`] decided on.
pub fn apply_edits(edits: &[Append]) -> Result<()> {
    for edit in edits {
        append_line(&edit.file, &edit.line)?;
    }
    Ok(())
}

/// What the root's resolver configuration needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolvConf {
    /// Copy the host's file to this host path (replacing a symlink there).
    Copy { to: PathBuf },
    /// Already the same as the host's.
    Current,
    /// The host has none, or the root has no /etc: nothing to do.
    NotNeeded,
}

/// Working DNS comes from a copy of the host's resolver configuration (a copy, not a
/// bind, so package managers inside can still replace the file).
pub fn resolv_conf(root: &Path) -> Result<ResolvConf> {
    let Ok(host) = fs::read("/etc/resolv.conf") else {
        return Ok(ResolvConf::NotNeeded);
    };
    let etc = resolve_in_root(root, Path::new("/etc"))?;
    if !etc.is_dir() {
        return Ok(ResolvConf::NotNeeded);
    }
    let inside = etc.join("resolv.conf");
    if fs::read(&inside).ok().as_deref() == Some(host.as_slice()) {
        return Ok(ResolvConf::Current);
    }
    Ok(ResolvConf::Copy { to: inside })
}

pub fn apply_resolv_conf(action: &ResolvConf) -> Result<()> {
    let ResolvConf::Copy { to } = action else {
        return Ok(());
    };
    let host = fs::read("/etc/resolv.conf").context("cannot read /etc/resolv.conf")?;
    // A symlink (often dangling, to a resolver of the root's own init system) is replaced.
    if fs::symlink_metadata(to).is_ok_and(|m| m.file_type().is_symlink()) {
        fs::remove_file(to)?;
    }
    fs::write(to, host).with_context(|| format!("cannot write {}", to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_symlinks_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("usr/bin")).unwrap();
        fs::write(root.join("usr/bin/busybox"), b"x").unwrap();
        symlink("usr/bin", root.join("bin")).unwrap();
        symlink("/usr/bin/busybox", root.join("usr/bin/sh")).unwrap();
        symlink("/../../../../etc", root.join("escape")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/bin/sh")).unwrap(),
            root.join("usr/bin/busybox")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/escape/passwd")).unwrap(),
            root.join("etc/passwd")
        );
        symlink("/loop", root.join("loop")).unwrap();
        assert!(resolve_in_root(root, Path::new("/loop")).is_err());
    }

    #[test]
    fn account_lines_add_only_what_is_missing() {
        let account = Account {
            name: "pkger".into(),
            uid: 1000,
            gid: 100,
            gecos: "P".into(),
            home: "/home/pkger".into(),
            shell: "/bin/bash".into(),
        };
        let (p, g) = account_lines(
            "root:x:0:0::/root:/bin/sh\n",
            "root:x:0:\nusers:x:100:\n",
            &account,
            "users",
            Path::new("/bin/sh"),
        );
        assert_eq!(p.as_deref(), Some("pkger:x:1000:100:P:/home/pkger:/bin/sh"));
        assert_eq!(g, None);
        let (p, g) = account_lines(
            "pkger:x:1000:100::/home/pkger:/bin/sh\n",
            "root:x:0:\n",
            &account,
            "users",
            Path::new("/bin/sh"),
        );
        assert_eq!(p, None);
        assert_eq!(g.as_deref(), Some("users:x:100:"));
    }

    #[test]
    fn a_root_without_passwd_gets_roots_account_and_known_users_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("etc")).unwrap();
        let edits = account_edits(root, "root").unwrap();
        assert_eq!(
            edits.iter().map(|e| e.line.as_str()).collect::<Vec<_>>(),
            ["root:x:0:0:root:/root:/bin/sh", "root:x:0:"]
        );
        apply_edits(&edits).unwrap();
        assert!(account_edits(root, "root").unwrap().is_empty());
        append_line(
            &root.join("etc/passwd"),
            "abuild:x:399:399::/abuild:/bin/sh",
        )
        .unwrap();
        assert!(account_edits(root, "abuild").unwrap().is_empty());
        let err = account_edits(root, "no-such-user-anywhere")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--root"), "{err}");
    }

    #[test]
    fn resolv_conf_is_copied_only_when_it_differs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(resolv_conf(root).unwrap(), ResolvConf::NotNeeded);
        fs::create_dir(root.join("etc")).unwrap();
        if Path::new("/etc/resolv.conf").exists() {
            assert_eq!(
                resolv_conf(root).unwrap(),
                ResolvConf::Copy {
                    to: root.join("etc/resolv.conf")
                }
            );
            apply_resolv_conf(&resolv_conf(root).unwrap()).unwrap();
            assert_eq!(resolv_conf(root).unwrap(), ResolvConf::Current);
        }
    }

    #[test]
    fn host_root_is_detected_as_host_arch() {
        let host = crate::arch::host().unwrap();
        assert_eq!(detect_arch(Path::new("/")).unwrap().machine, host.machine);
        let other = crate::arch::lookup(if host.obs == "s390x" {
            "aarch64"
        } else {
            "s390x"
        })
        .unwrap();
        let err = check_arch(Path::new("/"), other).unwrap_err().to_string();
        assert!(err.contains("--arch"), "{err}");
    }
}
