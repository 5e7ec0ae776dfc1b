//! Bootstrapping foreign-architecture roots.
//!
//! A [`plan::Plan`] says what the root is made of; a backend turns it into
//! [`Action`]s (files to write, commands to run: plain data that `--dry-run` prints);
//! [`run`] executes them with progress, a log inside the root, interruption handling
//! and a pristine copy for the next identical bootstrap.

use std::path::{Path, PathBuf};

use serde::Serialize;

pub mod accel_step;
pub mod debian;
pub mod decision;
pub mod distributions;
pub mod emulator_probe;
pub mod location;
pub mod log;
pub mod plan;
pub mod pristine;
pub mod run;
pub mod supervise;
pub mod zypper;

/// Files archbuild keeps inside a root it bootstraps (relative to the root).
pub const STATE_DIR_IN_ROOT: &str = "var/lib/archbuild-bootstrap";
/// The backend's full output, inside the root.
pub const LOG_IN_ROOT: &str = "var/log/archbuild-bootstrap.log";

/// One step of a bootstrap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create a directory (and its parents).
    Mkdir { path: PathBuf },
    /// Create a symbolic link unless something exists at `path`.
    Symlink { path: PathBuf, target: PathBuf },
    /// Write a file (replacing it).
    WriteFile { path: PathBuf, contents: String },
    /// Run a command in a private mount namespace, its output going to the log.
    Run {
        /// What the progress display says meanwhile.
        phase: String,
        argv: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        env: Vec<(String, String)>,
    },
    /// `--accel`, once the root is complete whatever made it: the arch's acceleration
    /// bundle at `bundle` from the root (as `archbuild accel bundle` makes it, or the one
    /// there when it fits this root), then the container recorded accelerated
    /// ([`accel_step`]).
    AccelBundle { container: String, bundle: PathBuf },
}

/// What a line of a backend's output means for the progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Phase(String),
    Count {
        what: &'static str,
        done: u64,
        total: Option<u64>,
    },
}

/// Where a backend may keep things between bootstraps.
#[derive(Debug, Clone)]
pub struct Context {
    /// Downloaded packages, shared by bootstraps of the same backend and arch.
    pub package_cache: PathBuf,
}

/// A package manager that makes roots.
pub trait Backend {
    /// The program that does the work (`zypper`, `mmdebstrap`, `debootstrap`).
    fn tool(&self) -> &'static str;
    /// Steps that make `root` from `plan`.
    fn actions(&self, plan: &plan::Plan, root: &Path, ctx: &Context)
        -> anyhow::Result<Vec<Action>>;
    /// Interpret one line of the tool's output.
    fn event(&self, line: &str) -> Option<Event>;
    /// True when re-running the actions on a partial root continues it; false when a
    /// partial root must be emptied first.
    fn resumable(&self) -> bool;
    /// Work after the actions succeeded (recording settings inside the root).
    fn finish(&self, _plan: &plan::Plan, _root: &Path) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The backend that executes `plan` on this host.
pub fn backend_for(plan: &plan::Plan) -> anyhow::Result<Box<dyn Backend>> {
    match plan.backend {
        plan::Backend::Zypper => Ok(Box::new(zypper::Zypper)),
        plan::Backend::Debian => Ok(Box::new(debian::Debian::choose()?)),
    }
}

/// `(n/m)` at the start of `text`, as zypper prints it.
pub(crate) fn fraction(text: &str) -> Option<(u64, u64)> {
    let inner = text.trim_start().strip_prefix('(')?;
    let (inner, _) = inner.split_once(')')?;
    let (done, total) = inner.split_once('/')?;
    Some((done.trim().parse().ok()?, total.trim().parse().ok()?))
}

/// Quote `word` for a POSIX shell (for printing commands and hook lines).
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_parse() {
        assert_eq!(fraction("(3/40) Installing: bash"), Some((3, 40)));
        assert_eq!(fraction("( 3/ 40)"), Some((3, 40)));
        assert_eq!(fraction("Installing"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc/d-e"), "abc/d-e");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
