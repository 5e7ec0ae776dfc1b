//! Whether a host directory shows at the same path inside a container, decided from the
//! container's mount plan alone: the last mount covering a path is the one seen there.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::container::mounts::{Mount, MountPlan};

/// What appears at `inside` (an absolute path inside the container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// This host path, through a bind.
    Host(PathBuf),
    /// A file system of the container's own (its root, its /proc, its /tmp).
    Container,
}

/// What is seen at `inside`: the last mount whose target covers it decides.
pub fn seen_at(plan: &MountPlan, inside: &Path) -> Seen {
    for mount in plan.mounts.iter().rev() {
        let target = mount.target();
        let Ok(rest) = inside.strip_prefix(target) else {
            continue;
        };
        return match mount {
            Mount::Bind { source, .. } => {
                if rest.as_os_str().is_empty() {
                    Seen::Host(source.clone())
                } else {
                    Seen::Host(source.join(rest))
                }
            }
            Mount::Proc { .. } | Mount::Tmpfs { .. } => Seen::Container,
        };
    }
    Seen::Container
}

/// True when host directory `dir` is visible at the same path inside.
pub fn same_path_inside(plan: &MountPlan, dir: &Path) -> bool {
    seen_at(plan, dir) == Seen::Host(dir.to_path_buf())
}

/// The host directories a container shares at their own paths (for messages).
pub fn shared_dirs(plan: &MountPlan) -> Vec<PathBuf> {
    plan.mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Bind {
                source,
                target,
                kind: crate::container::mounts::MountPoint::Directory,
                ..
            } if source == target => Some(target.clone()),
            _ => None,
        })
        .collect()
}

/// Refuse a `what` (the checkout, the --keep-pkgs directory) at host path `dir` that the
/// container `name` would not see at the same path.
pub fn require_same_path(plan: &MountPlan, dir: &Path, what: &str, name: &str) -> Result<()> {
    if same_path_inside(plan, dir) {
        return Ok(());
    }
    let shared: Vec<String> = shared_dirs(plan)
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    bail!(
        "{what} {} is not visible at the same path inside container '{name}', which shares only {} with this machine: \
         move it under /home or /var/tmp, or bind it in with `archbuild stop {name} && archbuild start {name} --bind {}`",
        dir.display(),
        shared.join(", "),
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Bind;

    fn plan_with(binds: &[(&str, &str)]) -> MountPlan {
        let arch = crate::arch::lookup("aarch64").unwrap();
        let binds: Vec<Bind> = binds
            .iter()
            .map(|(s, t)| Bind {
                source: s.into(),
                target: t.into(),
            })
            .collect();
        crate::container::mounts::plan(
            Path::new("/var/lib/archbuild/roots/aarch64"),
            arch,
            Some(Path::new("/usr/bin/qemu-aarch64")),
            &binds,
        )
    }

    #[test]
    fn home_and_var_tmp_are_shared() {
        let plan = plan_with(&[]);
        assert!(same_path_inside(
            &plan,
            Path::new("/home/pkger/obs/home:pkger/efitools")
        ));
        assert!(same_path_inside(
            &plan,
            Path::new("/var/tmp/checkouts/hello")
        ));
        assert!(same_path_inside(&plan, Path::new("/home")));
    }

    #[test]
    fn tmp_is_the_containers_own() {
        let plan = plan_with(&[]);
        assert_eq!(seen_at(&plan, Path::new("/tmp/hello")), Seen::Container);
        assert!(!same_path_inside(&plan, Path::new("/tmp/hello")));
    }

    #[test]
    fn other_host_paths_are_not_visible() {
        let plan = plan_with(&[]);
        assert!(!same_path_inside(&plan, Path::new("/srv/obs/hello")));
        assert!(!same_path_inside(&plan, Path::new("/root/hello")));
        assert!(
            !same_path_inside(&plan, Path::new("/homework/hello")),
            "/homework is not under /home"
        );
    }

    #[test]
    fn a_bind_at_its_own_path_makes_a_path_visible() {
        let plan = plan_with(&[("/srv/obs", "/srv/obs")]);
        assert!(same_path_inside(&plan, Path::new("/srv/obs/hello")));
        assert!(!same_path_inside(&plan, Path::new("/srv/other")));
    }

    #[test]
    fn a_bind_elsewhere_shows_the_directory_at_another_path() {
        let plan = plan_with(&[("/srv/obs", "/src")]);
        assert_eq!(
            seen_at(&plan, Path::new("/src/hello")),
            Seen::Host("/srv/obs/hello".into())
        );
        assert!(!same_path_inside(&plan, Path::new("/srv/obs/hello")));
    }

    #[test]
    fn a_later_bind_under_home_hides_the_hosts_directory_there() {
        let plan = plan_with(&[("/srv/cache", "/home/pkger/cache")]);
        assert!(!same_path_inside(
            &plan,
            Path::new("/home/pkger/cache/hello")
        ));
        assert!(same_path_inside(&plan, Path::new("/home/pkger/obs/hello")));
    }

    #[test]
    fn error_names_bind_and_shared_dirs() {
        let plan = plan_with(&[]);
        let err = require_same_path(
            &plan,
            Path::new("/srv/obs/hello"),
            "the checkout",
            "aarch64",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--bind /srv/obs/hello"), "{err}");
        assert!(err.contains("/home, /var/tmp"), "{err}");
        assert!(err.contains("container 'aarch64'"), "{err}");
    }
}
