//! The `osc build` command archbuild starts on the host, and the su-wrapper that routes
//! osc's build program through `archbuild build-cmd`.
//!
//! osc (0.x, 1.0 and 1.x alike) starts its build program as
//! `<su-wrapper words> <build-cmd> --root=... --arch=... ... BUILD_DESCR`, and every one of
//! them reads the su-wrapper from `OSC_SU_WRAPPER` first (osc >= 1.1 reads every setting
//! as `OSC_<NAME>`; 0.x and 1.0 read `OSC_SU_WRAPPER`, `OSC_BUILD_ROOT` and
//! `OSC_PACKAGECACHEDIR`, but not `OSC_BUILD_CMD`). So archbuild sets
//! `OSC_SU_WRAPPER="<the user's su-wrapper> <archbuild> build-cmd --"` for this one run:
//! the user's oscrc stays untouched and no copy of it is needed.

use std::path::Path;

use anyhow::{bail, Result};

use crate::error::usage;

/// `osc [-A APIURL] build REPOSITORY ARCH [BUILD_DESCR] OPTIONS...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OscBuild {
    /// The osc program (and interpreter words, e.g. `python3 /path/osc`).
    pub osc: Vec<String>,
    pub apiurl: Option<String>,
    pub repository: String,
    /// OBS arch name.
    pub arch: String,
    pub build_descr: Option<String>,
    /// `osc build` options, passed on unchanged.
    pub options: Vec<String>,
}

impl OscBuild {
    pub fn argv(&self) -> Vec<String> {
        let mut argv = self.osc.clone();
        if let Some(apiurl) = &self.apiurl {
            argv.push("-A".to_string());
            argv.push(apiurl.clone());
        }
        argv.push("build".to_string());
        argv.push(self.repository.clone());
        argv.push(self.arch.clone());
        argv.extend(self.build_descr.iter().cloned());
        argv.extend(self.options.iter().cloned());
        argv
    }
}

/// The default su-wrapper of osc.
pub const DEFAULT_SU_WRAPPER: &str = "sudo";

/// The `OSC_SU_WRAPPER` value for this build: the user's su-wrapper (none when osc runs
/// as root) followed by `<archbuild> build-cmd --`.
pub fn su_wrapper(
    user_wrapper: Option<&str>,
    osc_as_root: bool,
    archbuild: &Path,
) -> Result<String> {
    let exe = archbuild.display().to_string();
    if exe.chars().any(char::is_whitespace) {
        bail!(
            "archbuild is installed at a path with a space ({exe}): osc splits its su-wrapper at spaces; install archbuild elsewhere"
        );
    }
    let mut words: Vec<&str> = Vec::new();
    if !osc_as_root {
        let wrapper = user_wrapper
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .unwrap_or(DEFAULT_SU_WRAPPER);
        words = wrapper.split_whitespace().collect();
        if words[0] == "su" || words[0].ends_with("/su") {
            return Err(usage(format!(
                "osc's su-wrapper is '{wrapper}': with su, osc runs the build program as a shell and archbuild cannot route it; set `su-wrapper = sudo` in the oscrc (or OSC_SU_WRAPPER=sudo)"
            )));
        }
    }
    words.push(&exe);
    words.push("build-cmd");
    words.push("--");
    Ok(words.join(" "))
}

/// `wrapper` (from [`su_wrapper`]) with `option` given to `archbuild build-cmd`, before
/// its `--`.
pub fn with_build_cmd_option(wrapper: &str, option: &str) -> String {
    match wrapper.strip_suffix(" --") {
        Some(head) => format!("{head} {option} --"),
        None => format!("{wrapper} {option}"),
    }
}

/// The osc program: `--osc` split at spaces, else `osc` on `path`.
pub fn osc_program(explicit: Option<&str>, path: Option<&std::ffi::OsStr>) -> Result<Vec<String>> {
    if let Some(cmd) = explicit {
        let words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            return Err(usage(
                "--osc is empty: pass the osc program, e.g. --osc /usr/bin/osc",
            ));
        }
        return Ok(words);
    }
    let found = path.and_then(|paths| {
        std::env::split_paths(paths)
            .map(|p| p.join("osc"))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => Ok(vec![p.display().to_string()]),
        None => bail!(
            "no osc on this host (not on PATH): install the osc package (Debian/Ubuntu: `apt-get install osc`, openSUSE: `zypper install osc`, or `pip install osc`), or pass --osc PROGRAM"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argv_keeps_every_option_in_order() {
        let b = OscBuild {
            osc: strings(&["python3", "/opt/osc/bin/osc"]),
            apiurl: Some("https://api.opensuse.org".into()),
            repository: "openSUSE_Factory_ARM".into(),
            arch: "armv7l".into(),
            build_descr: Some("efitools.spec".into()),
            options: strings(&["--clean", "-j", "4", "--define", "foo 1", "--", "x"]),
        };
        assert_eq!(
            b.argv(),
            strings(&[
                "python3",
                "/opt/osc/bin/osc",
                "-A",
                "https://api.opensuse.org",
                "build",
                "openSUSE_Factory_ARM",
                "armv7l",
                "efitools.spec",
                "--clean",
                "-j",
                "4",
                "--define",
                "foo 1",
                "--",
                "x"
            ])
        );
    }

    #[test]
    fn argv_without_apiurl_and_descr() {
        let b = OscBuild {
            osc: strings(&["osc"]),
            apiurl: None,
            repository: "Debian_12".into(),
            arch: "aarch64".into(),
            build_descr: None,
            options: vec![],
        };
        assert_eq!(b.argv(), strings(&["osc", "build", "Debian_12", "aarch64"]));
    }

    #[test]
    fn su_wrapper_appends_build_cmd_to_the_users_wrapper() {
        let exe = Path::new("/usr/bin/archbuild");
        assert_eq!(
            su_wrapper(None, false, exe).unwrap(),
            "sudo /usr/bin/archbuild build-cmd --"
        );
        assert_eq!(
            su_wrapper(Some("  "), false, exe).unwrap(),
            "sudo /usr/bin/archbuild build-cmd --"
        );
        assert_eq!(
            su_wrapper(Some("doas -n"), false, exe).unwrap(),
            "doas -n /usr/bin/archbuild build-cmd --"
        );
        assert_eq!(
            su_wrapper(Some("sudo"), true, exe).unwrap(),
            "/usr/bin/archbuild build-cmd --"
        );
    }

    #[test]
    fn build_cmd_options_go_before_the_double_dash() {
        assert_eq!(
            with_build_cmd_option("sudo /usr/bin/archbuild build-cmd --", "--watch=1:2"),
            "sudo /usr/bin/archbuild build-cmd --watch=1:2 --"
        );
    }

    #[test]
    fn su_wrappers_archbuild_cannot_route_are_refused() {
        let exe = Path::new("/usr/bin/archbuild");
        let err = su_wrapper(Some("su -c"), false, exe).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        assert!(err.to_string().contains("su-wrapper = sudo"), "{err}");
        assert!(su_wrapper(None, false, Path::new("/opt/my tools/archbuild")).is_err());
    }

    #[test]
    fn osc_program_from_option_or_path() {
        assert_eq!(
            osc_program(Some("python3 /x/osc"), None).unwrap(),
            strings(&["python3", "/x/osc"])
        );
        let dir = tempfile::tempdir().unwrap();
        let err = osc_program(None, Some(dir.path().as_os_str())).unwrap_err();
        assert!(err.to_string().contains("install the osc package"), "{err}");
        std::fs::write(dir.path().join("osc"), "").unwrap();
        assert_eq!(
            osc_program(None, Some(dir.path().as_os_str())).unwrap(),
            vec![dir.path().join("osc").display().to_string()]
        );
    }
}
