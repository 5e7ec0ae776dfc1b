//! The mount plan: every mount a container gets, as plain data. `apply` in `namespace.rs`
//! is the one function that turns it into mount(2) calls; tests and `--dry-run` print it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::arch::Arch;
use crate::state::Bind;

/// What to put at a path inside the root before mounting onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MountPoint {
    Directory,
    File,
}

/// One mount, with `target` relative to the container's root ("/proc" means
/// `<root>/proc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Mount {
    /// A fresh proc file system.
    Proc { target: PathBuf },
    /// A fresh tmpfs (for `/tmp`).
    Tmpfs { target: PathBuf, mode: u32 },
    /// A recursive bind of a host path; `readonly` remounts the top mount read-only.
    Bind {
        source: PathBuf,
        target: PathBuf,
        kind: MountPoint,
        readonly: bool,
    },
}

impl Mount {
    pub fn target(&self) -> &Path {
        match self {
            Mount::Proc { target } | Mount::Tmpfs { target, .. } | Mount::Bind { target, .. } => {
                target
            }
        }
    }
}

/// Everything that makes up a container's mount namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountPlan {
    /// The root on the host; it is bound onto itself so that it is a mount point.
    pub root: PathBuf,
    /// Mounts in the order they are made (parents before children).
    pub mounts: Vec<Mount>,
}

/// Host directories every container shares, in mount order (`/dev` before `/dev/pts`
/// comes free with the recursive bind).
pub const SHARED_WITH_HOST: &[&str] = &["/sys", "/dev", "/home", "/var/tmp"];

/// The plan for a root of `arch` at `root`, with the emulator at `emulator` on the host
/// and the user's extra binds.
pub fn plan(root: &Path, arch: &Arch, emulator: Option<&Path>, binds: &[Bind]) -> MountPlan {
    let mut mounts = vec![Mount::Proc {
        target: PathBuf::from("/proc"),
    }];
    for dir in SHARED_WITH_HOST {
        mounts.push(Mount::Bind {
            source: PathBuf::from(dir),
            target: PathBuf::from(dir),
            kind: MountPoint::Directory,
            readonly: false,
        });
    }
    mounts.push(Mount::Tmpfs {
        target: PathBuf::from("/tmp"),
        mode: 0o1777,
    });
    for bind in binds {
        mounts.push(Mount::Bind {
            source: bind.source.clone(),
            target: bind.target.clone(),
            kind: MountPoint::Directory,
            readonly: false,
        });
    }
    // Last, so no bind can cover it: the emulator at its own top-level path, read-only,
    // where no package manager will ever try to replace it.
    if let Some(emulator) = emulator {
        mounts.push(Mount::Bind {
            source: emulator.to_path_buf(),
            target: PathBuf::from(arch.emulator_path_inside()),
            kind: MountPoint::File,
            readonly: true,
        });
    }
    MountPlan {
        root: root.to_path_buf(),
        mounts,
    }
}

/// Parse `SRC[:DST]` from `--bind`; DST defaults to SRC. Both must be absolute, and DST
/// may not climb out of the root.
pub fn parse_bind(text: &str) -> anyhow::Result<Bind> {
    let (source, target) = match text.split_once(':') {
        Some((s, d)) => (s, d),
        None => (text, text),
    };
    let source = PathBuf::from(source);
    let target = PathBuf::from(target);
    if !source.is_absolute() || !target.is_absolute() {
        return Err(crate::error::usage(format!(
            "--bind {text}: paths must be absolute, as in --bind /srv/src:/src"
        )));
    }
    if target
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(crate::error::usage(format!(
            "--bind {text}: the target may not contain '..'"
        )));
    }
    if target == Path::new("/") {
        return Err(crate::error::usage(format!(
            "--bind {text}: cannot bind over the root"
        )));
    }
    Ok(Bind { source, target })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_has_proc_shared_dirs_tmp_binds_and_emulator_last() {
        let arch = crate::arch::lookup("aarch64").unwrap();
        let binds = vec![parse_bind("/srv/src:/src").unwrap()];
        let plan = plan(
            Path::new("/roots/a"),
            arch,
            Some(Path::new("/usr/bin/qemu-aarch64-static")),
            &binds,
        );
        let targets: Vec<String> = plan
            .mounts
            .iter()
            .map(|m| m.target().display().to_string())
            .collect();
        assert_eq!(
            targets,
            [
                "/proc",
                "/sys",
                "/dev",
                "/home",
                "/var/tmp",
                "/tmp",
                "/src",
                "/qemu-aarch64"
            ]
        );
        match plan.mounts.last().unwrap() {
            Mount::Bind {
                readonly,
                kind,
                source,
                ..
            } => {
                assert!(*readonly);
                assert_eq!(*kind, MountPoint::File);
                assert_eq!(source, Path::new("/usr/bin/qemu-aarch64-static"));
            }
            other => panic!("emulator mount is {other:?}"),
        }
    }

    #[test]
    fn native_plan_has_no_emulator() {
        let arch = crate::arch::lookup("x86_64").unwrap();
        let plan = plan(Path::new("/r"), arch, None, &[]);
        assert!(!plan.mounts.iter().any(|m| m.target().starts_with("/qemu-")));
    }

    #[test]
    fn bind_specs() {
        assert_eq!(parse_bind("/a").unwrap().target, PathBuf::from("/a"));
        assert_eq!(parse_bind("/a:/b").unwrap().target, PathBuf::from("/b"));
        assert!(parse_bind("rel:/b").is_err());
        assert!(parse_bind("/a:/../etc").is_err());
        assert!(parse_bind("/a:/").is_err());
    }
}
