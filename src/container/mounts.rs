//! The mount plan: every mount a container gets, as plain data, and the exact system
//! calls that make it ([`namespace_steps`], pure). `sys::namespace::create` applies the
//! steps; tests and `--dry-run` print them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::arch::Arch;
use crate::state::Bind;
use crate::sys::namespace::Step;
use crate::sys::syscalls::{c_path, c_str, Call};

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

/// An accelerated container: the bundle read-only at its path inside the root
/// (`/emul/x86_64-for-<target>`, like `/qemu-<target>` out of the package managers'
/// way), and the container's writable log directory over the bundle's `log`.
pub fn add_accel_bundle(plan: &mut MountPlan, arch: &Arch, bundle: &Path, log_dir: &Path) {
    let inside = PathBuf::from(crate::accel::manifest::bundle_dir(arch.qemu));
    plan.mounts.push(Mount::Bind {
        source: bundle.to_path_buf(),
        target: inside.clone(),
        kind: MountPoint::Directory,
        readonly: true,
    });
    plan.mounts.push(Mount::Bind {
        source: log_dir.to_path_buf(),
        target: inside.join("log"),
        kind: MountPoint::Directory,
        readonly: false,
    });
}

/// A `mount(2)` call (a path with a NUL byte is refused).
pub(crate) fn mount_call(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> anyhow::Result<Call> {
    let bad = |p: &Path| anyhow::anyhow!("path {} holds a NUL byte", p.display());
    Ok(Call::Mount {
        source: source.map(|p| c_path(p).map_err(|_| bad(p))).transpose()?,
        target: c_path(target).map_err(|_| bad(target))?,
        fstype: fstype.map(|f| c_str(f).expect("fs type")),
        flags,
        data: data.map(|d| c_str(d).expect("mount data")),
    })
}

/// A [`Step`] of `call`.
pub(crate) fn step(call: Call, what: String, fix: impl Into<String>) -> Step {
    Step {
        call,
        what,
        fix: fix.into(),
    }
}

/// The system calls, in order, that make the namespace of `plan` inside a fresh child:
/// `targets[i]` is the host path of `plan.mounts[i]` (resolved inside the root).
pub fn namespace_steps(plan: &MountPlan, targets: &[PathBuf]) -> anyhow::Result<Vec<Step>> {
    let root = &plan.root;
    let shown = root.display();
    let here = Path::new(".");
    let mut steps = vec![
        step(
            Call::UnshareMountNamespace,
            "unsharing the mount namespace".into(),
            "archbuild needs root with CAP_SYS_ADMIN (inside a container: run it privileged)",
        ),
        // First, before any other mount: systemd's shared `/` would propagate every mount
        // below (and the final lazy unmount of the old root) back to the host.
        step(
            mount_call(
                None,
                Path::new("/"),
                None,
                libc::MS_REC | libc::MS_PRIVATE,
                None,
            )?,
            "making / private in the new namespace".into(),
            "the kernel must support mount propagation (Linux >= 2.6.15)",
        ),
        // pivot_root needs the new root to be a mount point.
        step(
            mount_call(Some(root), root, None, libc::MS_BIND | libc::MS_REC, None)?,
            format!("binding the root {shown} onto itself"),
            format!("check that {shown} is a directory on a local file system"),
        ),
    ];
    let nodev_nosuid = libc::MS_NOSUID | libc::MS_NODEV;
    for (m, target) in plan.mounts.iter().zip(targets) {
        let inside = m.target().display();
        match m {
            Mount::Proc { .. } => steps.push(step(
                mount_call(
                    None,
                    target,
                    Some("proc"),
                    nodev_nosuid | libc::MS_NOEXEC,
                    None,
                )?,
                format!("mounting /proc at {}", target.display()),
                format!("check that {inside} in the root is a directory"),
            )),
            Mount::Tmpfs { mode, .. } => steps.push(step(
                mount_call(
                    None,
                    target,
                    Some("tmpfs"),
                    nodev_nosuid,
                    Some(&format!("mode={mode:o}")),
                )?,
                format!("mounting a tmpfs at {}", target.display()),
                format!("check that {inside} in the root is a directory"),
            )),
            Mount::Bind {
                source,
                readonly,
                kind,
                ..
            } => {
                let fix = match kind {
                    MountPoint::Directory => format!(
                        "{} must be a directory on the host (--bind takes directories)",
                        source.display()
                    ),
                    MountPoint::File => format!(
                        "{} must be a file on the host and {inside} in the root must not be a directory",
                        source.display()
                    ),
                };
                steps.push(step(
                    mount_call(
                        Some(source),
                        target,
                        None,
                        libc::MS_BIND | libc::MS_REC,
                        None,
                    )?,
                    format!("binding {} at {}", source.display(), target.display()),
                    fix.clone(),
                ));
                if *readonly {
                    steps.push(step(
                        mount_call(
                            None,
                            target,
                            None,
                            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                            None,
                        )?,
                        format!("making {} read-only", target.display()),
                        fix,
                    ));
                }
            }
        }
    }
    let root_c = c_path(root).map_err(|_| anyhow::anyhow!("path {shown} holds a NUL byte"))?;
    let dot = c_str(".").expect("dot");
    steps.extend([
        step(
            Call::Chdir(root_c),
            format!("changing into {shown}"),
            format!("check that {shown} is a directory root may enter"),
        ),
        step(
            Call::PivotRoot {
                new_root: dot.clone(),
                put_old: dot,
            },
            format!("pivot_root into {shown}"),
            format!(
                "{shown} must be a directory on a real file system (not the initramfs rootfs, not below a shared mount): move the root elsewhere"
            ),
        ),
        // The old root now sits on top of the new one: make sure nothing propagates,
        // then detach it.
        step(
            mount_call(None, here, None, libc::MS_REC | libc::MS_PRIVATE, None)?,
            "making the old root private".into(),
            "the kernel must support mount propagation",
        ),
        step(
            Call::Umount {
                target: c_str(".").expect("dot"),
                flags: libc::MNT_DETACH,
            },
            "detaching the old root".into(),
            "the kernel must support lazy unmounts (umount -l)",
        ),
        step(
            Call::Chdir(c_str("/").expect("slash")),
            "changing into the new /".into(),
            format!("check that {shown} is a directory root may enter"),
        ),
    ]);
    Ok(steps)
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
    fn namespace_steps_make_root_private_first_and_pivot_last() {
        let arch = crate::arch::lookup("aarch64").unwrap();
        let plan = plan(
            Path::new("/roots/a"),
            arch,
            Some(Path::new("/usr/bin/qemu-aarch64-static")),
            &[],
        );
        let targets: Vec<PathBuf> = plan
            .mounts
            .iter()
            .map(|m| Path::new("/roots/a").join(m.target().strip_prefix("/").unwrap()))
            .collect();
        let steps = namespace_steps(&plan, &targets).unwrap();
        let mut recorder = crate::sys::syscalls::Recorder::default();
        crate::sys::namespace::apply_steps(&mut recorder, &steps).unwrap();
        let calls: Vec<String> = recorder.calls.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(
            calls,
            [
                "unshare(CLONE_NEWNS)",
                "mount(NULL, /, NULL, REC|PRIVATE)",
                "mount(/roots/a, /roots/a, NULL, BIND|REC)",
                "mount(NULL, /roots/a/proc, proc, NOSUID|NODEV|NOEXEC)",
                "mount(/sys, /roots/a/sys, NULL, BIND|REC)",
                "mount(/dev, /roots/a/dev, NULL, BIND|REC)",
                "mount(/home, /roots/a/home, NULL, BIND|REC)",
                "mount(/var/tmp, /roots/a/var/tmp, NULL, BIND|REC)",
                "mount(NULL, /roots/a/tmp, tmpfs, NOSUID|NODEV, mode=1777)",
                "mount(/usr/bin/qemu-aarch64-static, /roots/a/qemu-aarch64, NULL, BIND|REC)",
                "mount(NULL, /roots/a/qemu-aarch64, NULL, BIND|REMOUNT|RDONLY)",
                "chdir(/roots/a)",
                "pivot_root(., .)",
                "mount(NULL, ., NULL, REC|PRIVATE)",
                "umount2(., MNT_DETACH)",
                "chdir(/)",
            ]
        );
        // A failure names the step and how to fix it.
        let pivot = steps
            .iter()
            .position(|s| s.what.starts_with("pivot_root"))
            .unwrap();
        let msg =
            crate::sys::namespace::step_error(&steps, pivot, nix::errno::Errno::EINVAL).to_string();
        assert!(
            msg.starts_with("pivot_root into /roots/a failed (EINVAL")
                && msg.contains("move the root"),
            "{msg}"
        );
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

    #[test]
    fn an_accelerated_plan_binds_the_bundle_read_only_and_its_log_writable() {
        let arch = crate::arch::lookup("aarch64").unwrap();
        let mut plan = plan(
            Path::new("/roots/a"),
            arch,
            Some(Path::new("/usr/bin/qemu-aarch64-static")),
            &[],
        );
        let before = plan.mounts.len();
        add_accel_bundle(
            &mut plan,
            arch,
            Path::new("/var/lib/archbuild/accel/x86_64-for-aarch64"),
            Path::new("/var/lib/archbuild/accel-logs/a"),
        );
        assert_eq!(
            plan.mounts[before..],
            [
                Mount::Bind {
                    source: PathBuf::from("/var/lib/archbuild/accel/x86_64-for-aarch64"),
                    target: PathBuf::from("/emul/x86_64-for-aarch64"),
                    kind: MountPoint::Directory,
                    readonly: true,
                },
                Mount::Bind {
                    source: PathBuf::from("/var/lib/archbuild/accel-logs/a"),
                    target: PathBuf::from("/emul/x86_64-for-aarch64/log"),
                    kind: MountPoint::Directory,
                    readonly: false,
                },
            ]
        );
    }
}
