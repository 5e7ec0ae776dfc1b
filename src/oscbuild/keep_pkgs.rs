//! `--keep-pkgs DIR`: osc copies the packages of a successful build into DIR itself, one
//! file after the other (`shutil.copy2`). Killed meanwhile, it would leave a
//! half-written file there that looks like a package. So osc gets a staging directory
//! inside DIR instead (`DIR/.archbuild-incoming-PID-START`), and archbuild moves the
//! packages into DIR (rename, same file system) only after osc succeeded. A staging
//! directory of a run that was killed is removed by the next run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::sys::process::ProcessId;

const STAGING_PREFIX: &str = ".archbuild-incoming-";

/// Where the options ask osc to keep the packages (as given), and the options with that
/// replaced by `DIR/<staging_name>`. Options after `--` are not osc's.
pub fn redirect(options: &[String], staging_name: &str) -> Option<(String, Vec<String>)> {
    let mut out = Vec::with_capacity(options.len());
    let mut found = None;
    let mut it = options.iter();
    let staged = |dir: &str| format!("{}/{staging_name}", dir.trim_end_matches('/'));
    while let Some(a) = it.next() {
        if a == "--" {
            out.push(a.clone());
            out.extend(it.cloned());
            break;
        }
        let (dir, joined) = if a == "--keep-pkgs" || a == "-k" {
            match it.next() {
                Some(dir) => (Some(dir.clone()), None),
                None => (None, None),
            }
        } else if let Some(dir) = a.strip_prefix("--keep-pkgs=") {
            (Some(dir.to_string()), Some("--keep-pkgs="))
        } else if let Some(dir) = a.strip_prefix("-k").filter(|d| !d.is_empty()) {
            (Some(dir.to_string()), Some("-k"))
        } else {
            (None, None)
        };
        match (dir, joined) {
            (Some(dir), Some(prefix)) if !dir.is_empty() => {
                out.push(format!("{prefix}{}", staged(&dir)));
                found = Some(dir);
            }
            (Some(dir), None) => {
                out.push(a.clone());
                out.push(staged(&dir));
                found = Some(dir);
            }
            _ => out.push(a.clone()),
        }
    }
    found.map(|dir| (dir, out))
}

/// The staging directory's name for this run.
pub fn staging_name(run: &ProcessId) -> String {
    format!("{STAGING_PREFIX}{}-{}", run.pid, run.start)
}

/// The run a staging directory belongs to.
fn staging_owner(name: &str) -> Option<ProcessId> {
    let rest = name.strip_prefix(STAGING_PREFIX)?;
    let (pid, start) = rest.split_once('-')?;
    ProcessId::parse(&format!("{pid}:{start}"))
}

/// The staging directory of one run.
pub struct Staging {
    pub dir: PathBuf,
    pub staging: PathBuf,
}

/// Make DIR (when missing) and the staging directory in it, owned by `owner` when
/// given (osc runs as that user); remove what killed earlier runs left.
pub fn prepare(dir: &Path, name: &str, owner: Option<(u32, u32)>) -> Result<Staging> {
    let created = !dir.exists();
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the --keep-pkgs directory {}", dir.display()))?;
    let chown = |p: &Path| -> Result<()> {
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))
                .with_context(|| format!("cannot hand {} to uid {uid}", p.display()))?;
        }
        Ok(())
    };
    if created {
        chown(dir)?;
    }
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        if staging_owner(&file).is_some_and(|run| !run.is_alive()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let staging = dir.join(name);
    std::fs::create_dir(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    chown(&staging)?;
    Ok(Staging {
        dir: dir.to_path_buf(),
        staging,
    })
}

impl Staging {
    /// osc succeeded: every file it copied goes into DIR. Returns how many.
    pub fn commit(&self) -> Result<usize> {
        let mut moved = 0;
        for entry in std::fs::read_dir(&self.staging)
            .with_context(|| format!("cannot read {}", self.staging.display()))?
            .flatten()
        {
            let to = self.dir.join(entry.file_name());
            std::fs::rename(entry.path(), &to)
                .with_context(|| format!("cannot move a package to {}", to.display()))?;
            moved += 1;
        }
        self.discard();
        Ok(moved)
    }

    /// osc failed or was stopped: nothing of it is kept.
    pub fn discard(&self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_spelling_is_redirected() {
        for (given, want) in [
            (vec!["--keep-pkgs=../out"], vec!["--keep-pkgs=../out/S"]),
            (vec!["--keep-pkgs", "/o/"], vec!["--keep-pkgs", "/o/S"]),
            (vec!["-k", "o"], vec!["-k", "o/S"]),
            (vec!["-ko"], vec!["-ko/S"]),
        ] {
            let mut options = strings(&["--clean"]);
            options.extend(strings(&given));
            options.extend(strings(&["-j", "2"]));
            let (_, out) = redirect(&options, "S").unwrap();
            let mut expected = strings(&["--clean"]);
            expected.extend(strings(&want));
            expected.extend(strings(&["-j", "2"]));
            assert_eq!(out, expected, "{given:?}");
        }
        assert_eq!(
            redirect(&strings(&["--keep-pkgs=/a"]), "S").unwrap().0,
            "/a"
        );
    }

    #[test]
    fn nothing_to_redirect() {
        assert!(redirect(&strings(&["--clean", "-j", "2"]), "S").is_none());
        assert!(redirect(&strings(&["--", "--keep-pkgs=/a"]), "S").is_none());
        assert!(redirect(&strings(&["--keep-pkgs"]), "S").is_none());
    }

    #[test]
    fn staging_names_round_trip() {
        let run = ProcessId {
            pid: 12,
            start: 345,
        };
        assert_eq!(staging_owner(&staging_name(&run)), Some(run));
        assert_eq!(staging_owner("hello_1.0_amd64.deb"), None);
    }

    #[test]
    fn packages_move_in_only_on_commit_and_a_dead_runs_staging_goes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let dead = ProcessId {
            pid: u32::MAX - 1,
            start: 1,
        };
        std::fs::create_dir_all(out.join(staging_name(&dead))).unwrap();
        std::fs::write(out.join(staging_name(&dead)).join("half.deb"), "x").unwrap();
        let s = prepare(&out, "run", None).unwrap();
        assert!(!out.join(staging_name(&dead)).exists());
        std::fs::write(s.staging.join("a.deb"), "a").unwrap();
        assert!(!out.join("a.deb").exists());
        assert_eq!(s.commit().unwrap(), 1);
        assert_eq!(std::fs::read_to_string(out.join("a.deb")).unwrap(), "a");
        assert!(!s.staging.exists());
        let s = prepare(&out, "run2", None).unwrap();
        std::fs::write(s.staging.join("b.deb"), "b").unwrap();
        s.discard();
        assert!(!out.join("b.deb").exists() && !s.staging.exists());
    }
}
