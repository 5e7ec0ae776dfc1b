//! Which osc configuration the build inside uses, and whether it can log in.
//!
//! It is the user's own oscrc (`--oscrc`, else `~/.config/osc/oscrc`, else `~/.oscrc`
//! in the user's home from the passwd file). Since osc runs as root inside, it gets a
//! private copy in the container's /root, so that it can never rewrite the user's file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::obs::oscrc::{self, ApiConfig};

/// The oscrc in `home` that osc would read (its `identify_conf` without OSC_CONFIG).
pub fn in_home(home: &Path) -> Option<PathBuf> {
    let xdg = home.join(".config/osc/oscrc");
    if xdg.exists() {
        return Some(xdg);
    }
    let dot = home.join(".oscrc");
    dot.exists().then_some(dot)
}

/// Where the copy lives inside the container.
pub fn inside_path(user: &str) -> PathBuf {
    PathBuf::from(format!("/root/.config/osc/archbuild-{user}.oscrc"))
}

/// Read the user's oscrc and check it has credentials for the API URL the build uses.
pub fn check(
    path: &Path,
    user: &str,
    apiurl_arg: Option<&str>,
    store_apiurl: Option<&str>,
) -> Result<ApiConfig> {
    let rc = oscrc::read(path)?;
    let config = oscrc::resolve(Some(&rc), apiurl_arg, store_apiurl, &oscrc::ProcessEnv)?;
    if config.user.is_none() || config.password.is_none() {
        bail!(
            "no credentials for {} in {}: log in once as {user} with `osc -A {} ls` (osc stores them), then try again",
            config.apiurl,
            path.display(),
            config.apiurl
        );
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn xdg_oscrc_wins_over_dot_oscrc() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(in_home(home.path()), None);
        fs::write(home.path().join(".oscrc"), "").unwrap();
        assert_eq!(in_home(home.path()), Some(home.path().join(".oscrc")));
        fs::create_dir_all(home.path().join(".config/osc")).unwrap();
        fs::write(home.path().join(".config/osc/oscrc"), "").unwrap();
        assert_eq!(
            in_home(home.path()),
            Some(home.path().join(".config/osc/oscrc"))
        );
    }

    #[test]
    fn credentials_are_required() {
        let home = tempfile::tempdir().unwrap();
        let rc = home.path().join(".oscrc");
        fs::write(
            &rc,
            "[general]\napiurl = http://127.0.0.1:9\n[http://127.0.0.1:9]\nuser = u\n",
        )
        .unwrap();
        let err = check(&rc, "u", None, Some("http://127.0.0.1:9"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no credentials for http://127.0.0.1:9"),
            "{err}"
        );
        fs::write(
            &rc,
            "[general]\napiurl = http://127.0.0.1:9\n[http://127.0.0.1:9]\nuser = u\npass = p\n",
        )
        .unwrap();
        let config = check(&rc, "u", None, Some("http://127.0.0.1:9")).unwrap();
        assert_eq!(config.user.as_deref(), Some("u"));
    }

    #[test]
    fn copy_is_per_user_under_root() {
        assert_eq!(
            inside_path("pkger"),
            PathBuf::from("/root/.config/osc/archbuild-pkger.oscrc")
        );
    }
}
