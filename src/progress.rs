//! Progress for long work: an indicatif spinner with the current phase and counts on a
//! terminal, plain `archbuild: ...` lines otherwise (logs, CI, pipes).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    task: String,
}

impl Progress {
    /// Start reporting on `task` (e.g. "bootstrap aarch64").
    pub fn new(task: &str) -> Progress {
        let bar =
            if std::io::stdout().is_terminal() && std::env::var_os("ARCHBUILD_PLAIN").is_none() {
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
        }
    }

    /// A new phase of the work began.
    pub fn phase(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_string()),
            None => println!("archbuild: {}: {}", self.task, msg),
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
            None if done.is_multiple_of(10) || Some(done) == total => {
                println!("archbuild: {}: {}", self.task, text)
            }
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
            None => println!("archbuild: {}: {}", self.task, msg),
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
