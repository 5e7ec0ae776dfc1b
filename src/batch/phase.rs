//! What a running cell is doing, read from the lines of its build log (osc's, obs-build's
//! and archbuild's own), and what its end means as a result code.

use serde::Serialize;

use super::outcome::Code;

/// The phases of one cell, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Not started: a job slot or the package cache is taken.
    Waiting,
    /// osc asks the server for the build configuration and the build dependencies.
    Container,
    /// osc fills the package cache.
    Downloading,
    /// obs-build installs the build root.
    BuildRoot,
    /// The recipe runs.
    Building,
    /// Packages are written (and checked).
    Packaging,
    Done,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting",
            Phase::Container => "container",
            Phase::Downloading => "downloading",
            Phase::BuildRoot => "build root",
            Phase::Building => "building",
            Phase::Packaging => "packaging",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

/// The line `archbuild build` prints while another build fills the package cache.
pub const WAITING_FOR_CACHE: &str = "archbuild: waiting for the package cache";
/// The line `archbuild build` prints when the build program started (the package cache
/// is free again).
pub const BUILD_STARTED: &str = "archbuild: the build program started";

/// The phase a log line starts, if any. Phases only move forward: a line that names an
/// earlier phase than `now` changes nothing.
pub fn after_line(now: Phase, line: &str) -> Phase {
    let line = strip_clock(line);
    let next = if line.starts_with(WAITING_FOR_CACHE) {
        Some(Phase::Waiting)
    } else if line.starts_with("archbuild: building ")
        || line.starts_with("Getting buildinfo")
        || line.starts_with("Getting buildconfig")
    {
        Some(Phase::Container)
    } else if line.starts_with("Updating cache of required packages")
        || line.contains("downloading packages")
        || line.starts_with("Downloading ")
    {
        Some(Phase::Downloading)
    } else if line.starts_with(BUILD_STARTED)
        || line.starts_with("logging output to ")
        || line.starts_with("processing recipe")
        || line.contains("started \"build ")
    {
        Some(Phase::BuildRoot)
    } else if line.starts_with("----- building ") {
        Some(Phase::Building)
    } else if line.starts_with("dpkg-deb: building package")
        || line.starts_with("Wrote: ")
        || line.starts_with("... checking for files with abuild user/group")
        || line.starts_with("RPMLINT report:")
    {
        Some(Phase::Packaging)
    } else {
        None
    };
    match next {
        Some(p) if p > now => p,
        _ => now,
    }
}

/// obs-build's `[  12s] ` prefix off.
fn strip_clock(line: &str) -> &str {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix('[') {
        if let Some((clock, after)) = rest.split_once("] ") {
            if clock
                .trim_end_matches('s')
                .trim()
                .chars()
                .all(|c| c.is_ascii_digit())
            {
                return after.trim_start();
            }
        }
    }
    t
}

/// osc's words after a failed build (where the build root is, how to clean it): never
/// the reason.
fn is_osc_epilogue(line: &str) -> bool {
    line.starts_with("- ")
        || line.starts_with("The buildroot was")
        || line.starts_with("Cleaning the build root")
        || line.starts_with("Hint:")
}

/// The line of a failed build's log tail that says best what went wrong: the last error
/// line of the build (dpkg-buildpackage's, rpmbuild's `error: Bad exit status`, make's),
/// else the last line before obs-build's `failed "build ..."`, else the last line.
fn reason_line(tail: &[String]) -> String {
    let lines: Vec<&str> = tail
        .iter()
        .map(|l| strip_clock(l).trim_end())
        .filter(|l| !l.is_empty() && !is_osc_epilogue(l))
        .collect();
    let obs_build_end = lines
        .iter()
        .rposition(|l| l.contains(" failed \"build ") || l.starts_with("failed \"build "));
    let before_end = &lines[..obs_build_end.unwrap_or(lines.len())];
    before_end
        .iter()
        .rev()
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .or(before_end.last())
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_default()
}

/// How a cell's build ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending<'a> {
    /// osc's exit status; None when it died of a signal.
    pub exit_status: Option<i32>,
    /// The build program started (the cell got past osc's own work).
    pub build_started: bool,
    /// The batch was cancelled while the cell ran.
    pub cancelled: bool,
    /// The last lines of the log.
    pub log_tail: &'a [String],
}

/// The result code of a finished cell and the reason in words.
pub fn code_of(end: &Ending) -> (Code, String) {
    if end.exit_status == Some(0) && !end.cancelled {
        return (Code::Succeeded, "built".into());
    }
    if end.cancelled {
        return (
            Code::Cancelled,
            "cancelled before the build finished".into(),
        );
    }
    let last_error = reason_line(end.log_tail);
    if let Some(line) = end
        .log_tail
        .iter()
        .find(|l| l.contains("unresolvable:") || l.contains("nothing provides"))
    {
        return (Code::Unresolvable, line.trim().to_string());
    }
    match end.exit_status {
        None => (
            Code::Infrastructure,
            "the build was killed by a signal".into(),
        ),
        Some(3) => (
            Code::Infrastructure,
            format!("obs-build could not run the build (exit 3): {last_error}"),
        ),
        Some(code) if !end.build_started => (
            Code::Infrastructure,
            format!("osc stopped before the build started (exit {code}): {last_error}"),
        ),
        Some(code) => (
            Code::Failed,
            format!("the build failed (exit {code}): {last_error}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_the_log_and_never_go_back() {
        let lines = [
            ("archbuild: waiting for the package cache (another build downloads into /var/tmp/osbuild-packagecache)", Phase::Waiting),
            ("archbuild: building home:alice/hello for Debian_12/aarch64 with ...", Phase::Container),
            ("Getting buildinfo from server and store to /var/tmp/x", Phase::Container),
            ("Updating cache of required packages", Phase::Downloading),
            ("archbuild: the build program started", Phase::BuildRoot),
            ("[    2s] processing recipe /x/hello.dsc ...", Phase::BuildRoot),
            ("Getting buildinfo from server", Phase::BuildRoot),
            ("[   40s] ----- building hello.dsc (user abuild)", Phase::Building),
            ("[   41s] dpkg-deb: building package 'hello' in '../hello_1.0_arm64.deb'.", Phase::Packaging),
            ("[   42s] ----- building again?", Phase::Packaging),
        ];
        let mut now = Phase::Waiting;
        for (line, want) in lines {
            now = after_line(now, line);
            assert_eq!(now, want, "after {line:?}");
        }
        assert_eq!(
            after_line(Phase::Building, "Wrote: /x.rpm"),
            Phase::Packaging
        );
        assert_eq!(after_line(Phase::Waiting, "[ 1s] nothing"), Phase::Waiting);
    }

    fn end(status: Option<i32>, started: bool, cancelled: bool, tail: &[&str]) -> (Code, String) {
        let tail: Vec<String> = tail.iter().map(|s| s.to_string()).collect();
        code_of(&Ending {
            exit_status: status,
            build_started: started,
            cancelled,
            log_tail: &tail,
        })
    }

    #[test]
    fn endings_become_obs_codes() {
        assert_eq!(end(Some(0), true, false, &[]).0, Code::Succeeded);
        assert_eq!(end(Some(1), true, true, &[]).0, Code::Cancelled);
        assert_eq!(end(Some(0), true, true, &[]).0, Code::Cancelled);
        let (code, rule) = end(Some(1), true, false, &["[ 9s] failing on purpose", ""]);
        assert_eq!(code, Code::Failed);
        assert!(rule.ends_with("failing on purpose"), "{rule}");
        let dpkg = [
            "[  40s] failing on purpose on s390x",
            "[  40s] make: *** [debian/rules:3: build] Error 1",
            "[  40s] dpkg-buildpackage: error: debian/rules build subprocess returned exit status 2",
            "[  41s] ",
            "[  41s] host failed \"build hello_1.0.dsc\" at Tue Dec  1 12:30:00 UTC 2026.",
            "",
            "The buildroot was: /var/tmp/build-root/x",
            "Cleaning the build root may fix the problem or allow you to start debugging from a well-defined state:",
            "  - add '--clean' option to your 'osc build' command",
            "  - run 'osc wipe [--vm-type=...]' prior running your 'osc build' command again",
        ];
        let (_, rule) = end(Some(1), true, false, &dpkg);
        assert_eq!(
            rule,
            "the build failed (exit 1): dpkg-buildpackage: error: debian/rules build subprocess returned exit status 2"
        );
        let (_, rule) = end(
            Some(1),
            true,
            false,
            &[
                "[ 3s] it went wrong",
                "[ 4s] h failed \"build x.spec\" at now.",
            ],
        );
        assert!(rule.ends_with("it went wrong"), "{rule}");
        assert_eq!(end(Some(3), true, false, &["x"]).0, Code::Infrastructure);
        assert_eq!(end(None, true, false, &[]).0, Code::Infrastructure);
        let (code, rule) = end(
            Some(1),
            false,
            false,
            &["Server returned an error: HTTP Error 500"],
        );
        assert_eq!(code, Code::Infrastructure);
        assert!(rule.contains("HTTP Error 500"), "{rule}");
        let (code, rule) = end(
            Some(1),
            false,
            false,
            &[
                "buildinfo is broken",
                "unresolvable: nothing provides libfoo-devel",
            ],
        );
        assert_eq!(code, Code::Unresolvable);
        assert_eq!(rule, "unresolvable: nothing provides libfoo-devel");
    }
}
