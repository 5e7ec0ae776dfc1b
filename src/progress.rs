//! Progress for long work: an indicatif spinner with the current phase and counts on a
//! terminal, plain `archbuild: ...` lines otherwise (logs, CI, pipes).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    task: String,
    /// Plain lines go to stderr (stdout carries a JSON result).
    to_stderr: bool,
}

impl Progress {
    /// Start reporting on `task` (e.g. "bootstrap aarch64"): a spinner on a terminal,
    /// plain lines on stdout otherwise.
    pub fn new(task: &str) -> Progress {
        Progress::with_output(task, false)
    }

    /// Plain lines on stderr, always: for commands whose stdout is JSON.
    pub fn on_stderr(task: &str) -> Progress {
        Progress::with_output(task, true)
    }

    fn with_output(task: &str, to_stderr: bool) -> Progress {
        let bar = if to_stderr {
            None
        } else if std::io::stdout().is_terminal() && !crate::settings::plain_progress() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix}: {msg}")
                    .expect("valid progress template"),
            );
            bar.set_prefix(task.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        } else {
            None
        };
        Progress {
            bar,
            task: task.to_string(),
            to_stderr,
        }
    }

    fn line(&self, text: &str) {
        if self.to_stderr {
            eprintln!("archbuild: {}: {}", self.task, text);
        } else {
            println!("archbuild: {}: {}", self.task, text);
        }
    }

    /// A new phase of the work began.
    pub fn phase(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_string()),
            None => self.line(msg),
        }
    }

    /// Counted progress inside a phase (packages unpacked, files downloaded, ...).
    /// Plain output reports only every tenth step to keep logs readable.
    pub fn count(&self, what: &str, done: u64, total: Option<u64>) {
        let text = match total {
            Some(total) => format!("{what} {done}/{total}"),
            None => format!("{what} {done}"),
        };
        match &self.bar {
            Some(bar) => bar.set_message(text),
            None if done.is_multiple_of(10) || Some(done) == total => self.line(&text),
            None => {}
        }
    }

    /// Print a line without disturbing the spinner.
    pub fn println(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => println!("{msg}"),
        }
    }

    pub fn finish(self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(msg.to_string()),
            None => self.line(msg),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}
