//! Error conventions: every failure is one line that says what is wrong and what to do.
//! Usage mistakes exit with 2, everything else with 1.

use std::fmt;

/// A mistake in how archbuild was called (exit status 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Build a usage error for `anyhow`.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// A command inside a container ended with this status; archbuild exits with it.
#[derive(Debug)]
pub struct ExitStatus(pub i32);

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command exited with status {}", self.0)
    }
}

impl std::error::Error for ExitStatus {}

/// Exit status for an error that reached `main`.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if let Some(status) = err.downcast_ref::<ExitStatus>() {
        status.0
    } else if err.downcast_ref::<UsageError>().is_some() {
        2
    } else {
        1
    }
}

/// The one line printed for an error: the outermost context first, causes after it.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}
