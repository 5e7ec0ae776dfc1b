//! Pristine copies: after a bootstrap succeeds, its fresh root is kept as a tar file
//! named by the plan, so the next bootstrap of the same plan is an extraction (seconds)
//! instead of a package installation under emulation (minutes).
//! Caches live under `ARCHBUILD_CACHE_DIR` (default `/var/cache/archbuild`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::plan::Plan;
use super::{LOG_IN_ROOT, STATE_DIR_IN_ROOT};

/// Root of archbuild's caches.
pub fn cache_dir() -> PathBuf {
    crate::settings::cache_dir()
}

/// Downloaded packages of `tool` for `arch` (`ARCHBUILD_PACKAGE_CACHE` moves the tree).
pub fn package_cache(tool: &str, arch: &str) -> PathBuf {
    crate::settings::package_cache_dir().join(tool).join(arch)
}

fn pristine_dir() -> PathBuf {
    cache_dir().join("pristine")
}

#[derive(Serialize)]
struct KeyInput<'a> {
    arch: &'a str,
    backend: super::plan::Backend,
    repositories: &'a [super::plan::Repository],
    packages: &'a [String],
    tool: &'a str,
}

/// FNV-1a, 64 bit: stable across builds, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The name of the pristine copy of `plan` made by `tool`: everything that decides the
/// root's content, and nothing else (not the name, location or emulator).
pub fn key(plan: &Plan, tool: &str) -> String {
    let mut packages = plan.packages.clone();
    packages.sort();
    packages.dedup();
    let input = KeyInput {
        arch: &plan.arch,
        backend: plan.backend,
        repositories: &plan.repositories,
        packages: &packages,
        tool,
    };
    let json = serde_json::to_vec(&input).expect("plan serializes");
    format!("{}-{}-{:016x}", plan.arch, tool, fnv1a(&json))
}

/// The tar file of `key`, when one exists.
pub fn find(key: &str) -> Option<PathBuf> {
    let path = pristine_dir().join(format!("{key}.tar"));
    path.is_file().then_some(path)
}

fn excludes() -> [String; 2] {
    [
        format!("--exclude=./{STATE_DIR_IN_ROOT}"),
        format!("--exclude=./{LOG_IN_ROOT}"),
    ]
}

/// Keep `root` as the pristine copy of `key` (written aside, then renamed into place).
pub fn save(root: &Path, key: &str, plan: &Plan) -> Result<PathBuf> {
    let dir = pristine_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("{key}.tar"));
    let tmp = dir.join(format!("{key}.tar.partial-{}", std::process::id()));
    let mut tar = Command::new("tar");
    crate::sys::process::isolate(&mut tar);
    let status = tar
        .args(["--create", "--file"])
        .arg(&tmp)
        .args([
            "--one-file-system",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "--acls",
        ])
        .args(excludes())
        .arg("-C")
        .arg(root)
        .arg(".")
        .status()
        .context("cannot run tar")?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "could not save a pristine copy of {} (tar: {status})",
            root.display()
        );
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::write(
        dir.join(format!("{key}.json")),
        serde_json::to_vec_pretty(plan)?,
    )?;
    Ok(path)
}

/// Unpack the pristine copy `tar` into the empty directory `root`.
pub fn restore(tar: &Path, root: &Path) -> Command {
    let mut cmd = Command::new("tar");
    cmd.args(["--extract", "--file"])
        .arg(tar)
        .args([
            "--numeric-owner",
            "--preserve-permissions",
            "--xattrs",
            "--xattrs-include=*",
            "--acls",
        ])
        .arg("-C")
        .arg(root);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::plan::{Backend, Repository};

    fn plan(packages: &[&str]) -> Plan {
        Plan {
            arch: "aarch64".into(),
            backend: Backend::Debian,
            source: "debian-12".into(),
            repositories: vec![Repository {
                name: "d".into(),
                url: "http://deb.debian.org/debian".into(),
                suite: Some("bookworm".into()),
                components: vec!["main".into()],
            }],
            packages: packages.iter().map(|s| s.to_string()).collect(),
            emulator: None,
        }
    }

    #[test]
    fn key_depends_on_content_only() {
        let a = key(&plan(&["osc", "sudo"]), "mmdebstrap");
        assert_eq!(a, key(&plan(&["sudo", "osc", "osc"]), "mmdebstrap"));
        assert_ne!(a, key(&plan(&["osc"]), "mmdebstrap"));
        assert_ne!(a, key(&plan(&["osc", "sudo"]), "debootstrap"));
        let mut p = plan(&["osc", "sudo"]);
        p.emulator = Some("/usr/bin/qemu-aarch64-static".into());
        p.source = "repo".into();
        assert_eq!(a, key(&p, "mmdebstrap"));
        assert!(a.starts_with("aarch64-mmdebstrap-"));
    }
}
