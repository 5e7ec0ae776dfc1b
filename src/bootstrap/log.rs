//! The bootstrap log inside the root: every line of every command, and the last lines
//! kept for error messages.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};

/// The log: every line of every command, and the last lines for error messages.
pub struct Log {
    file: File,
    tail: VecDeque<String>,
    /// What the package manager said the root needs, when it said so.
    pub space_needed: Option<String>,
    /// A line said the disk was full.
    pub said_full: bool,
}

impl Log {
    pub fn open(path: &Path) -> Result<Log> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Log {
            file,
            tail: VecDeque::new(),
            space_needed: None,
            said_full: false,
        })
    }

    pub fn line(&mut self, line: &str) {
        let _ = writeln!(self.file, "{line}");
        if let Some(need) = crate::disk_space::announced_need(line) {
            self.space_needed = Some(need);
        }
        self.said_full |= crate::disk_space::says_full(line);
        if !line.trim().is_empty() {
            if self.tail.len() == 40 {
                self.tail.pop_front();
            }
            self.tail.push_back(line.trim().to_string());
        }
    }

    /// The line that most likely says what went wrong.
    pub fn culprit(&self) -> Option<String> {
        let telling = |l: &&String| {
            let lower = l.to_lowercase();
            l.starts_with("E:")
                || lower.contains("error")
                || lower.contains("not found")
                || lower.contains("no provider")
                || lower.contains("problem")
                || lower.contains("failed")
                || lower.contains("cannot")
                || lower.contains("unable")
        };
        self.tail
            .iter()
            .rev()
            .find(|l| telling(l) && !l.starts_with("archbuild:"))
            .or_else(|| {
                self.tail
                    .iter()
                    .rev()
                    .find(|l| !l.starts_with("archbuild:"))
            })
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn culprit_prefers_error_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(&dir.path().join("l")).unwrap();
        log.line("Loading repository data...");
        log.line("No provider of 'nosuch' found.");
        log.line("archbuild: failed");
        log.line("");
        assert_eq!(
            log.culprit().as_deref(),
            Some("No provider of 'nosuch' found.")
        );
    }
}
