//! How a batch shows its progress: an indicatif multi-progress on a terminal (one line
//! per running cell with its phase and elapsed time), plain log lines otherwise, or
//! JSON lines (`--progress jsonl`) for programs.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::outcome::CellOutcome;
use super::phase::Phase;
use super::results_table::duration;
use crate::matrix::Cell;

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// A live line per running cell on a terminal, plain lines otherwise
    Auto,
    /// Plain lines
    Plain,
    /// One JSON object per line on stdout
    Jsonl,
}

/// The cell as the lines name it: `hello:doc Debian_12/aarch64`.
pub fn cell_name(cell: &Cell) -> String {
    format!("{} {}/{}", cell.obs_name(), cell.repository, cell.arch)
}

fn finished_line(o: &CellOutcome) -> String {
    let mut line = format!("{}: {}", cell_name(&o.cell), o.code);
    if let Some(d) = o.duration {
        line.push_str(&format!(" in {}", duration(d)));
    }
    // a success is worth a word only when it was carried over (--resume): no exit status
    let explain = o.code != super::outcome::Code::Succeeded || o.exit_status.is_none();
    if explain && !o.rule.is_empty() {
        line.push_str(&format!(" ({})", o.rule));
    }
    if let Some(log) = &o.log {
        line.push_str(&format!(", log {}", log.display()));
    }
    line
}

pub enum Display {
    Live {
        multi: MultiProgress,
        bars: Mutex<Vec<(Cell, ProgressBar)>>,
    },
    Plain,
    Jsonl(Mutex<std::io::Stdout>),
}

impl Display {
    pub fn new(mode: Mode) -> Display {
        use std::io::IsTerminal;
        match mode {
            Mode::Jsonl => Display::Jsonl(Mutex::new(std::io::stdout())),
            Mode::Plain => Display::Plain,
            Mode::Auto if std::io::stderr().is_terminal() && !crate::settings::plain_progress() => {
                Display::Live {
                    multi: MultiProgress::new(),
                    bars: Mutex::new(Vec::new()),
                }
            }
            Mode::Auto => Display::Plain,
        }
    }

    fn json(&self, value: serde_json::Value) {
        if let Display::Jsonl(out) = self {
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(out, "{value}");
            let _ = out.flush();
        }
    }

    /// A message about the whole batch.
    pub fn note(&self, text: &str) {
        match self {
            Display::Live { multi, .. } => {
                let _ = multi.println(format!("archbuild: batch: {text}"));
            }
            Display::Plain => eprintln!("archbuild: batch: {text}"),
            Display::Jsonl(_) => self.json(serde_json::json!({"event": "note", "text": text})),
        }
    }

    /// A cell moved to `phase` (`elapsed` seconds after it started).
    pub fn phase(&self, cell: &Cell, phase: Phase, elapsed: f64) {
        match self {
            Display::Live { multi, bars } => {
                let mut bars = bars.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((_, bar)) = bars.iter().find(|(c, _)| c == cell) {
                    bar.set_message(phase.as_str());
                    return;
                }
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} [{elapsed}]")
                        .expect("valid progress template"),
                );
                bar.set_prefix(cell_name(cell));
                bar.set_message(phase.as_str());
                bar.enable_steady_tick(Duration::from_millis(200));
                bars.push((cell.clone(), bar));
            }
            Display::Plain => {
                eprintln!(
                    "archbuild: batch: {}: {} ({})",
                    cell_name(cell),
                    phase.as_str(),
                    duration(elapsed)
                )
            }
            Display::Jsonl(_) => self.json(serde_json::json!({
                "event": "phase",
                "cell": cell,
                "phase": phase,
                "elapsed": (elapsed * 10.0).round() / 10.0,
            })),
        }
    }

    /// A cell ended (or was settled without a build).
    pub fn finished(&self, outcome: &CellOutcome) {
        match self {
            Display::Live { multi, bars } => {
                let mut bars = bars.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(i) = bars.iter().position(|(c, _)| *c == outcome.cell) {
                    let (_, bar) = bars.remove(i);
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                let _ = multi.println(finished_line(outcome));
            }
            Display::Plain => eprintln!("archbuild: batch: {}", finished_line(outcome)),
            Display::Jsonl(_) => self.json(serde_json::json!({
                "event": "finished",
                "outcome": outcome,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_line_names_the_cell_its_code_and_its_log() {
        let o = CellOutcome {
            cell: Cell {
                package: "hello".into(),
                flavor: Some("doc".into()),
                repository: "Debian_12".into(),
                arch: "s390x".into(),
            },
            checkout: "/co".into(),
            code: super::super::outcome::Code::Failed,
            rule: "the build failed (exit 1): failing on purpose".into(),
            exit_status: Some(1),
            duration: Some(61.0),
            log: Some("/var/tmp/l.log".into()),
            artifacts: vec![],
            rpmlint: None,
            lintian: None,
        };
        assert_eq!(
            finished_line(&o),
            "hello:doc Debian_12/s390x: failed in 1m01s (the build failed (exit 1): failing on purpose), log /var/tmp/l.log"
        );
    }
}
