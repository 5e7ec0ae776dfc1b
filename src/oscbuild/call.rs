//! What osc asks of its build program when it runs `<su-wrapper> <build-cmd> ARGS...`:
//! which obs-build to run, for which arch, and what the build must not be able to change
//! on the host.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::error::usage;

/// Where obs-build is installed: upstream and openSUSE `/usr/bin/build` (and
/// `/usr/lib/build/build`), Debian/Ubuntu `/usr/bin/obs-build` (`/usr/lib/obs-build/build`).
pub const OBS_BUILD_PROGRAMS: &[&str] = &[
    "/usr/bin/build",
    "/usr/bin/obs-build",
    "/usr/lib/build/build",
    "/usr/lib/obs-build/build",
];

/// The build program to run: osc's build-cmd when it exists, else the first installed
/// obs-build (osc's upstream default `/usr/bin/build` does not exist on Debian).
pub fn resolve_program(
    requested: Option<&Path>,
    exists: &dyn Fn(&Path) -> bool,
) -> Result<PathBuf> {
    if let Some(p) = requested.filter(|p| exists(p)) {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = OBS_BUILD_PROGRAMS.iter().map(Path::new).find(|p| exists(p)) {
        return Ok(p.to_path_buf());
    }
    bail!(
        "no obs-build on this host ({}looked for {}): install it (Debian/Ubuntu: `apt-get install obs-build`, openSUSE: `zypper install build`)",
        requested
            .map(|p| format!("osc's build-cmd {} does not exist; ", p.display()))
            .unwrap_or_default(),
        OBS_BUILD_PROGRAMS.join(", ")
    )
}

/// obs-build's own directory (`BUILD_DIR`): where the build program really lives.
pub fn build_dir(program: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(program).ok()?;
    real.parent().map(Path::to_path_buf)
}

/// The arch osc builds for: `--arch=A` / `--arch A` (the first of a `:` list).
pub fn target_arch(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if a == "--arch" {
            it.next().cloned()
        } else {
            a.strip_prefix("--arch=").map(str::to_string)
        };
        if let Some(v) = value {
            return v
                .split(':')
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_string);
        }
    }
    None
}

/// The build root osc names: `--root=DIR` / `--root DIR`.
pub fn build_root(args: &[String]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if a == "--root" {
            it.next().cloned()
        } else {
            a.strip_prefix("--root=").map(str::to_string)
        };
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// The package list osc hands obs-build: `--rpmlist=FILE` / `--rpmlist FILE`.
pub fn rpmlist(args: &[String]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if a == "--rpmlist" {
            it.next().cloned()
        } else {
            a.strip_prefix("--rpmlist=").map(str::to_string)
        };
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// The package files of an rpmlist (`NAME PATH` lines; `preinstall: ...` and other
/// keyword lines are not packages).
pub fn rpmlist_packages(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| {
            let (name, path) = l.split_once(' ')?;
            (!name.ends_with(':') && (path.ends_with(".deb") || path.ends_with(".rpm")))
                .then(|| PathBuf::from(path.trim()))
        })
        .collect()
}

/// obs-build options that act on a build (running or not) instead of building: osc
/// runs `build --root=... --kill` on Ctrl-C, while the build it stops still runs.
const CONTROL_OPTIONS: &[&str] = &["--kill", "--wipe", "--sysrq", "--list-state"];

/// True for a call that controls a build (see [`CONTROL_OPTIONS`]) rather than building.
pub fn is_control_call(args: &[String]) -> bool {
    args.iter().any(|a| {
        CONTROL_OPTIONS
            .iter()
            .any(|o| a == o || a.starts_with(&format!("{o}=")))
    })
}

/// Options newer osc passes that only say "none" (osc >= 1.x always adds
/// `--repos-directory=-` and `--containers-directory=-` for non-kiwi builds), which
/// obs-build before 2022 (Debian 12's 20210120) rejects as unknown.
const NONE_OPTIONS: &[&str] = &["--repos-directory=-", "--containers-directory=-"];

/// `args` without the "none" options the installed obs-build does not know
/// (`build_script` is its text: every option it knows is spelled out in it).
pub fn compatible_args(args: &[String], build_script: &str) -> Vec<String> {
    args.iter()
        .filter(|a| {
            !NONE_OPTIONS.contains(&a.as_str()) || {
                let name = a.trim_end_matches("=-").trim_start_matches('-');
                build_script.contains(name)
            }
        })
        .cloned()
        .collect()
}

/// The build program and its arguments, from `archbuild build-cmd -- PROGRAM ARGS...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// osc's build-cmd, as osc passed it.
    pub requested: Option<PathBuf>,
    pub args: Vec<String>,
}

pub fn parse(argv: &[String]) -> Result<Call> {
    let Some((first, rest)) = argv.split_first() else {
        return Err(usage(
            "archbuild build-cmd runs the build program osc names: `archbuild build-cmd -- /usr/bin/build ARGS...` (osc does this when run by `archbuild build`)",
        ));
    };
    // osc always names its build program first; an option there means it was left out
    if first.starts_with('-') {
        return Ok(Call {
            requested: None,
            args: argv.to_vec(),
        });
    }
    Ok(Call {
        requested: Some(PathBuf::from(first)),
        args: rest.to_vec(),
    })
}

/// What is made read-only for the build program: the binfmt_misc table (obs-build's
/// `initvm` registers its own `qemu-reg` entries there for a foreign arch, which would
/// replace archbuild's on the host) and the mmap_min_addr sysctl its cross-build set-up
/// lowers. `exists` leaves out what this kernel does not have.
pub fn shielded(binfmt_misc: &Path, exists: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    [binfmt_misc, Path::new("/proc/sys/vm/mmap_min_addr")]
        .into_iter()
        .filter(|p| exists(p))
        .map(Path::to_path_buf)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arch_from_every_spelling() {
        assert_eq!(
            target_arch(&strings(&["--root=/x", "--arch=aarch64", "x.dsc"])).as_deref(),
            Some("aarch64")
        );
        assert_eq!(
            target_arch(&strings(&["--arch", "armv7l:armv6l"])).as_deref(),
            Some("armv7l")
        );
        assert_eq!(target_arch(&strings(&["--root=/x", "--kill"])), None);
    }

    #[test]
    fn packages_of_an_rpmlist() {
        let args = strings(&["--root=/r", "--rpmlist=/tmp/rpmlist.x", "x.dsc"]);
        assert_eq!(rpmlist(&args), Some(PathBuf::from("/tmp/rpmlist.x")));
        let text = "bash /c/bash_5.2_amd64.deb\nrpm /c/rpm-4.x86_64.rpm\npreinstall: bash dash\nrunscripts: base-files\ndist: /x.conf\n";
        assert_eq!(
            rpmlist_packages(text),
            vec![
                PathBuf::from("/c/bash_5.2_amd64.deb"),
                PathBuf::from("/c/rpm-4.x86_64.rpm")
            ]
        );
    }

    #[test]
    fn build_root_and_control_calls() {
        let build = strings(&[
            "--root=/var/tmp/build-root/D-aarch64",
            "--arch=aarch64",
            "x.dsc",
        ]);
        assert_eq!(
            build_root(&build),
            Some(PathBuf::from("/var/tmp/build-root/D-aarch64"))
        );
        assert_eq!(
            build_root(&strings(&["--root", "/r", "x.dsc"])),
            Some(PathBuf::from("/r"))
        );
        assert_eq!(build_root(&strings(&["--root="])), None);
        assert!(!is_control_call(&build));
        assert!(is_control_call(&strings(&["--root=/r", "--kill"])));
        assert!(is_control_call(&strings(&["--root=/r", "--sysrq=b"])));
        assert!(!is_control_call(&strings(&["--root=/r", "--killer"])));
    }

    #[test]
    fn osc_build_cmd_first_then_its_arguments() {
        let c = parse(&strings(&[
            "/usr/bin/build",
            "--root=/r",
            "--arch=aarch64",
            "a.dsc",
        ]))
        .unwrap();
        assert_eq!(c.requested.as_deref(), Some(Path::new("/usr/bin/build")));
        assert_eq!(c.args, strings(&["--root=/r", "--arch=aarch64", "a.dsc"]));
        let c = parse(&strings(&["--root=/r"])).unwrap();
        assert_eq!(c.requested, None);
        assert_eq!(crate::error::exit_code(&parse(&[]).unwrap_err()), 2);
    }

    #[test]
    fn debian_obs_build_stands_in_for_the_upstream_default() {
        let debian = |p: &Path| p == Path::new("/usr/bin/obs-build");
        assert_eq!(
            resolve_program(Some(Path::new("/usr/bin/build")), &debian).unwrap(),
            PathBuf::from("/usr/bin/obs-build")
        );
        let everything = |_: &Path| true;
        assert_eq!(
            resolve_program(Some(Path::new("/opt/build/build")), &everything).unwrap(),
            PathBuf::from("/opt/build/build")
        );
        let nothing = |_: &Path| false;
        let err = resolve_program(Some(Path::new("/usr/bin/build")), &nothing).unwrap_err();
        assert!(
            err.to_string().contains("apt-get install obs-build"),
            "{err}"
        );
    }

    #[test]
    fn none_options_are_left_out_for_an_obs_build_that_does_not_know_them() {
        let args = strings(&[
            "--root=/r",
            "--repos-directory=-",
            "--containers-directory=-",
            "x.dsc",
        ]);
        assert_eq!(
            compatible_args(&args, "case $PARAM in\n  -root) ..."),
            strings(&["--root=/r", "x.dsc"])
        );
        let new = "  -repos-directory) ...\n  -containers-directory) ...";
        assert_eq!(compatible_args(&args, new), args);
        // a real directory is never dropped
        let real = strings(&["--repos-directory=/tmp/repos"]);
        assert_eq!(compatible_args(&real, ""), real);
    }

    #[test]
    fn binfmt_misc_and_mmap_min_addr_are_shielded() {
        let all = shielded(Path::new("/proc/sys/fs/binfmt_misc"), &|_| true);
        assert_eq!(
            all,
            vec![
                PathBuf::from("/proc/sys/fs/binfmt_misc"),
                PathBuf::from("/proc/sys/vm/mmap_min_addr")
            ]
        );
        assert!(shielded(Path::new("/b"), &|_| false).is_empty());
    }
}
