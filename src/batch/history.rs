//! What earlier batches did, for `--resume` (skip cells that succeeded from the same
//! sources) and for the order of work (the slowest cells first). One JSON file, written
//! atomically; a damaged file is set aside with a warning, never fatal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::outcome::Code;
use crate::matrix::Cell;

/// One cell's last run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    pub code: Code,
    /// Digest of the sources and options it was built from.
    pub sources: String,
    pub duration: Option<f64>,
    pub log: Option<PathBuf>,
    pub finished_unix: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub version: u32,
    /// By [`key`].
    pub cells: BTreeMap<String, LastRun>,
}

/// The history's name for a cell of a checkout.
pub fn key(checkout: &Path, cell: &Cell) -> String {
    format!(
        "{}|{}|{}|{}",
        checkout.display(),
        cell.obs_name(),
        cell.repository,
        cell.arch
    )
}

/// Digest of what a build is made from: the checkout's files (`files`: name and
/// content, in any order) and the `osc build` options.
pub fn sources_digest(files: &[(String, Vec<u8>)], options: &[String]) -> String {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (name, content) in sorted {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((content.len() as u64).to_le_bytes());
        h.update(content);
    }
    for o in options {
        h.update((o.len() as u64).to_le_bytes());
        h.update(o.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The checkout's files as they would be committed (regular files, no dot files).
pub fn checkout_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    use anyhow::Context;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the checkout {}", dir.display()))?
    {
        let entry = entry.with_context(|| format!("cannot list the checkout {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            continue;
        }
        let content = std::fs::read(entry.path())
            .with_context(|| format!("cannot read {} in the checkout", name))?;
        files.push((name, content));
    }
    Ok(files)
}

impl History {
    /// The history at `path`; empty when there is none, or (with a warning) when it
    /// cannot be read.
    pub fn load(path: &Path) -> (History, Option<String>) {
        match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (History::default(), None),
            Err(e) => (
                History::default(),
                Some(format!(
                    "cannot read the batch history {} ({e}): every cell is built",
                    path.display()
                )),
            ),
            Ok(bytes) => match serde_json::from_slice::<History>(&bytes) {
                Ok(h) => (h, None),
                Err(e) => (
                    History::default(),
                    Some(format!(
                        "the batch history {} is damaged ({e}): every cell is built, and the file is rewritten",
                        path.display()
                    )),
                ),
            },
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        crate::atomic_file::write(path, &text)
    }

    /// The cell's last run, if it succeeded from the same sources.
    pub fn succeeded_from(&self, key: &str, sources: &str) -> Option<&LastRun> {
        self.cells
            .get(key)
            .filter(|r| r.code == Code::Succeeded && r.sources == sources)
    }

    pub fn last_duration(&self, key: &str) -> Option<f64> {
        self.cells.get(key).and_then(|r| r.duration)
    }

    /// Record a finished cell; cancelled and skipped cells leave the last real run.
    pub fn record(&mut self, key: String, run: LastRun) {
        if matches!(run.code, Code::Cancelled | Code::Skipped) {
            return;
        }
        self.version = 1;
        self.cells.insert(key, run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(arch: &str) -> Cell {
        Cell {
            package: "hello".into(),
            flavor: None,
            repository: "Debian_12".into(),
            arch: arch.into(),
        }
    }

    #[test]
    fn digest_depends_on_content_and_options_not_order() {
        let a = vec![
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), b"2".to_vec()),
        ];
        let b = vec![
            ("b".to_string(), b"2".to_vec()),
            ("a".to_string(), b"1".to_vec()),
        ];
        assert_eq!(sources_digest(&a, &[]), sources_digest(&b, &[]));
        let changed = vec![
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), b"3".to_vec()),
        ];
        assert_ne!(sources_digest(&a, &[]), sources_digest(&changed, &[]));
        assert_ne!(
            sources_digest(&a, &[]),
            sources_digest(&a, &["--clean".into()])
        );
        // names and contents cannot run into each other
        let c = vec![("ab".to_string(), b"".to_vec())];
        let d = vec![("a".to_string(), b"b".to_vec())];
        assert_ne!(sources_digest(&c, &[]), sources_digest(&d, &[]));
    }

    #[test]
    fn only_a_success_from_the_same_sources_is_resumed() {
        let mut h = History::default();
        let k = key(Path::new("/co"), &cell("aarch64"));
        let run = |code| LastRun {
            code,
            sources: "s1".into(),
            duration: Some(10.0),
            log: None,
            finished_unix: 1,
        };
        h.record(k.clone(), run(Code::Failed));
        assert!(h.succeeded_from(&k, "s1").is_none());
        h.record(k.clone(), run(Code::Succeeded));
        assert!(h.succeeded_from(&k, "s1").is_some());
        assert!(h.succeeded_from(&k, "s2").is_none());
        h.record(k.clone(), run(Code::Cancelled));
        assert!(
            h.succeeded_from(&k, "s1").is_some(),
            "a cancelled run keeps the last one"
        );
        assert_eq!(h.last_duration(&k), Some(10.0));
    }

    #[test]
    fn a_damaged_history_is_a_warning_and_saving_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("history.json");
        assert_eq!(History::load(&p), (History::default(), None));
        std::fs::write(&p, "{ not json").unwrap();
        let (h, warning) = History::load(&p);
        assert_eq!(h, History::default());
        assert!(warning.unwrap().contains("damaged"));
        let mut h = History::default();
        h.record(
            "k".into(),
            LastRun {
                code: Code::Failed,
                sources: "x".into(),
                duration: None,
                log: Some("/l".into()),
                finished_unix: 5,
            },
        );
        h.save(&p).unwrap();
        assert_eq!(History::load(&p).0, h);
    }
}
