//! The `osc build` command run inside the container, as data.
//!
//! osc runs as root inside: `osc build` needs root for the build chroot, and the usual
//! way up, `sudo`, cannot work in an emulated root without the binfmt `C` flag (the
//! kernel does not honour a setuid bit of a binary that qemu-user runs). So archbuild,
//! already root, starts osc as root with a no-op su-wrapper, and gives the files the
//! build leaves in the checkout back to the user afterwards (see `ownership`).

use std::path::{Path, PathBuf};

/// `osc [-A APIURL] build REPOSITORY ARCH [BUILD_DESCR] OPTIONS...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OscBuild {
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
        let mut argv = vec!["osc".to_string()];
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

/// osc's upstream build root and package cache: in the /var/tmp the container shares
/// with the host. Distributions patch other defaults into their osc (Debian's builds
/// in /abuild and caches in /var/cache/osbuild), so they are set explicitly unless the
/// user's oscrc chooses its own.
pub const BUILD_ROOT: &str = "/var/tmp/build-root/%(repo)s-%(arch)s";
pub const PACKAGE_CACHE_DIR: &str = "/var/tmp/osbuild-packagecache";

/// What the user's oscrc `[general]` section sets that matters here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSettings {
    pub build_root: Option<String>,
    pub package_cache_dir: Option<String>,
}

impl UserSettings {
    pub fn from_oscrc(rc: &crate::obs::oscrc::Oscrc) -> UserSettings {
        let get = |key: &str| rc.general().and_then(|g| g.get(key)).map(str::to_string);
        UserSettings {
            build_root: get("build-root"),
            package_cache_dir: get("packagecachedir"),
        }
    }
}

/// The environment osc gets inside, on top of root's clean login environment.
pub fn environment(oscrc_inside: &Path, user: &UserSettings) -> Vec<(String, String)> {
    let mut env = vec![
        ("OSC_CONFIG".to_string(), oscrc_inside.display().to_string()),
        // already root: `env` runs the build program as it is (an empty su-wrapper would
        // make osc >= 1.x think it builds as a user and skip preinstall images)
        ("OSC_SU_WRAPPER".to_string(), "env".to_string()),
    ];
    if user.build_root.is_none() {
        env.push(("OSC_BUILD_ROOT".to_string(), BUILD_ROOT.to_string()));
    }
    if user.package_cache_dir.is_none() {
        // osc >= 1.0 reads OSC_PACKAGE_CACHE_DIR, older osc OSC_PACKAGECACHEDIR
        env.push((
            "OSC_PACKAGE_CACHE_DIR".to_string(),
            PACKAGE_CACHE_DIR.to_string(),
        ));
        env.push((
            "OSC_PACKAGECACHEDIR".to_string(),
            PACKAGE_CACHE_DIR.to_string(),
        ));
    }
    env
}

/// Directories named by `osc build` options that the build writes to (`-k/--keep-pkgs`)
/// or reads from (`-p/--prefer-pkgs`), resolved against `cwd`, with the option that
/// named each.
pub fn directory_options(options: &[String], cwd: &Path) -> Vec<(String, PathBuf)> {
    const LONG: &[(&str, &str)] = &[("--keep-pkgs", "-k"), ("--prefer-pkgs", "-p")];
    let mut found = Vec::new();
    let mut i = 0;
    while i < options.len() {
        let opt = options[i].as_str();
        if opt == "--" {
            break;
        }
        let mut value: Option<(String, String)> = None;
        for (long, short) in LONG {
            if opt == *long || opt == *short {
                if let Some(v) = options.get(i + 1) {
                    value = Some((long.to_string(), v.clone()));
                    i += 1;
                }
            } else if let Some(v) = opt.strip_prefix(&format!("{long}=")) {
                value = Some((long.to_string(), v.to_string()));
            } else if let Some(v) = opt
                .strip_prefix(short)
                .filter(|v| !v.is_empty() && !opt.starts_with("--"))
            {
                value = Some((long.to_string(), v.to_string()));
            }
        }
        if let Some((name, v)) = value {
            found.push((name, cwd.join(v)));
        }
        i += 1;
    }
    found
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
            apiurl: Some("https://api.opensuse.org".into()),
            repository: "openSUSE_Factory_ARM".into(),
            arch: "armv7l".into(),
            build_descr: Some("efitools.spec".into()),
            options: strings(&["--clean", "-j", "4", "--define", "foo 1", "--", "x"]),
        };
        assert_eq!(
            b.argv(),
            strings(&[
                "osc",
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
            apiurl: None,
            repository: "Debian_12".into(),
            arch: "aarch64".into(),
            build_descr: None,
            options: vec![],
        };
        assert_eq!(b.argv(), strings(&["osc", "build", "Debian_12", "aarch64"]));
    }

    #[test]
    fn environment_puts_build_root_and_cache_in_the_shared_var_tmp() {
        let env = environment(
            Path::new("/root/.config/osc/oscrc"),
            &UserSettings::default(),
        );
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("OSC_CONFIG"), Some("/root/.config/osc/oscrc"));
        assert_eq!(get("OSC_SU_WRAPPER"), Some("env"));
        assert_eq!(
            get("OSC_BUILD_ROOT"),
            Some("/var/tmp/build-root/%(repo)s-%(arch)s")
        );
        assert_eq!(
            get("OSC_PACKAGE_CACHE_DIR"),
            Some("/var/tmp/osbuild-packagecache")
        );
        assert_eq!(
            get("OSC_PACKAGECACHEDIR"),
            Some("/var/tmp/osbuild-packagecache")
        );
    }

    #[test]
    fn the_users_own_build_root_and_cache_are_kept() {
        let rc = crate::obs::oscrc::parse(
            "[general]\nbuild-root = /srv/br/%(repo)s\npackagecachedir = /srv/cache\n",
            Path::new("/home/u/.oscrc"),
        )
        .unwrap();
        let settings = UserSettings::from_oscrc(&rc);
        assert_eq!(settings.build_root.as_deref(), Some("/srv/br/%(repo)s"));
        let env = environment(Path::new("/x"), &settings);
        assert!(env
            .iter()
            .all(|(k, _)| !k.contains("BUILD_ROOT") && !k.contains("CACHE")));
    }

    #[test]
    fn keep_and_prefer_pkgs_in_every_spelling() {
        let cwd = Path::new("/home/u/obs/hello");
        let opts = strings(&[
            "--clean",
            "-k",
            "out",
            "--keep-pkgs=/var/tmp/rpms",
            "-p/home/u/prefer",
            "--prefer-pkgs",
            "../p2",
            "--keep-pkgs",
            "k2",
            "-j",
            "4",
        ]);
        assert_eq!(
            directory_options(&opts, cwd),
            vec![
                (
                    "--keep-pkgs".to_string(),
                    PathBuf::from("/home/u/obs/hello/out")
                ),
                ("--keep-pkgs".to_string(), PathBuf::from("/var/tmp/rpms")),
                ("--prefer-pkgs".to_string(), PathBuf::from("/home/u/prefer")),
                (
                    "--prefer-pkgs".to_string(),
                    PathBuf::from("/home/u/obs/hello/../p2")
                ),
                (
                    "--keep-pkgs".to_string(),
                    PathBuf::from("/home/u/obs/hello/k2")
                ),
            ]
        );
    }

    #[test]
    fn no_directory_options() {
        let opts = strings(&["--clean", "--keep-pkgs"]);
        assert!(directory_options(&opts, Path::new("/x")).is_empty());
        assert!(directory_options(&strings(&["--", "-k", "x"]), Path::new("/x")).is_empty());
    }
}
