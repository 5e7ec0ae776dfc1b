//! rpmlint and lintian counts read from a build log.
//!
//! obs-build runs the checkers after a successful build (`build-recipe-spec`
//! `recipe_run_rpmlint`: `RPMLINT report:` then rpmlint's output; `build-recipe-dsc`:
//! `Running lintian` then `lintian -i` on the `.changes`). Lines may carry obs-build's
//! `[  123s] ` time prefix and colour escapes.
//!
//! - rpmlint 1 ends with `N packages and M specfiles checked; E errors, W warnings.`;
//!   rpmlint 2 (`rpmlint/lint.py`) with the same words centred between `=` signs and
//!   more after them: `=== N packages and M specfiles checked; E errors, W warnings,
//!   F filtered, B badness; has taken T s ===`. Several summaries (rpmlint run more than
//!   once) add up. A report header without a summary (rpmlint died) counts the
//!   `name.arch: E: tag` / `W:` lines of the report.
//! - lintian prints one line per tag, `E: package[ source]: tag ...` and `W: ...`
//!   (and `I:`, `N:`, `P:`, `X:`, `O:`, `C:` lines, which are not counted), after
//!   `Running lintian`.
//!
//! A checker that did not run gives `None`.

use super::outcome::LintCounts;

/// Both checkers' counts of one log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LintReport {
    pub rpmlint: Option<LintCounts>,
    pub lintian: Option<LintCounts>,
}

/// Read both checkers' counts from the text of a build log.
pub fn from_log(text: &str) -> LintReport {
    LintReport {
        rpmlint: rpmlint(text),
        lintian: lintian(text),
    }
}

/// Read both checkers' counts from a log file (bytes that are not UTF-8 are replaced).
pub fn from_log_file(path: &std::path::Path) -> std::io::Result<LintReport> {
    Ok(from_log(&String::from_utf8_lossy(&std::fs::read(path)?)))
}

/// A log line without obs-build's `[  123s] ` prefix, colour escapes and line ends.
fn clean(line: &str) -> String {
    let line = line.trim_end_matches(['\r', '\n']);
    let line = match line.strip_prefix('[') {
        Some(rest) => match rest.split_once("s] ") {
            Some((time, after))
                if !time.trim().is_empty()
                    && time.trim().chars().all(|c| c.is_ascii_digit() || c == '.') =>
            {
                after
            }
            _ => line,
        },
        None => line,
    };
    strip_escapes(line)
}

/// Remove ANSI CSI sequences (`ESC [ ... final`), as rpmlint 2 writes on a terminal.
fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for f in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&f) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The number before `word` at the start of `s` (`"3 errors"`), and the rest.
fn count_of<'a>(s: &'a str, word: &str) -> Option<(u32, &'a str)> {
    let s = s.trim_start();
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let n: u32 = s[..digits].parse().ok()?;
    let rest = s[digits..].trim_start().strip_prefix(word)?;
    let rest = rest.strip_prefix('s').unwrap_or(rest);
    Some((n, rest))
}

/// `E errors, W warnings` from an rpmlint summary line.
fn rpmlint_summary(line: &str) -> Option<LintCounts> {
    let at = line.find(" specfiles checked;")?;
    if !line[..at].contains(" packages and ") {
        return None;
    }
    let rest = &line[at + " specfiles checked;".len()..];
    let (errors, rest) = count_of(rest, "error")?;
    let rest = rest.trim_start().strip_prefix(',')?;
    let (warnings, _) = count_of(rest, "warning")?;
    Some(LintCounts { errors, warnings })
}

/// The level of a checker's tag line: `pkg.arch: E: tag` (rpmlint) when `rpmlint`,
/// else `E: pkg: tag` (lintian).
fn tag_level(line: &str, rpmlint: bool) -> Option<char> {
    let level = if rpmlint {
        let (_, rest) = line.split_once(": ")?;
        rest.chars().next()?
    } else {
        line.chars().next()?
    };
    let after = if rpmlint {
        line.split_once(": ")?.1.get(1..)?
    } else {
        line.get(1..)?
    };
    (matches!(level, 'E' | 'W') && after.starts_with(": ")).then_some(level)
}

fn add(counts: &mut LintCounts, level: char) {
    match level {
        'E' => counts.errors += 1,
        _ => counts.warnings += 1,
    }
}

/// rpmlint's counts, when it ran.
pub fn rpmlint(text: &str) -> Option<LintCounts> {
    let mut summed: Option<LintCounts> = None;
    let mut in_report = false;
    let mut tags = LintCounts::default();
    let mut report_seen = false;
    for raw in text.lines() {
        let line = clean(raw);
        if let Some(c) = rpmlint_summary(&line) {
            let s = summed.get_or_insert_with(LintCounts::default);
            s.errors += c.errors;
            s.warnings += c.warnings;
            in_report = false;
            continue;
        }
        if line.trim() == "RPMLINT report:" {
            in_report = true;
            report_seen = true;
            continue;
        }
        if in_report {
            if let Some(level) = tag_level(&line, true) {
                add(&mut tags, level);
            }
        }
    }
    summed.or(report_seen.then_some(tags))
}

/// lintian's counts, when it ran.
pub fn lintian(text: &str) -> Option<LintCounts> {
    let mut counts: Option<LintCounts> = None;
    for raw in text.lines() {
        let line = clean(raw);
        if line.trim() == "Running lintian" {
            counts.get_or_insert_with(LintCounts::default);
            continue;
        }
        if let Some(c) = counts.as_mut() {
            if let Some(level) = tag_level(&line, false) {
                add(c, level);
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lc(errors: u32, warnings: u32) -> Option<LintCounts> {
        Some(LintCounts { errors, warnings })
    }

    #[test]
    fn rpmlint_1_and_2_summaries_are_read() {
        let v1 = "[  70s] RPMLINT report:\n[  70s] ===============\n\
[  71s] hello.x86_64: W: no-manual-page-for-binary hello\n\
[  71s] 2 packages and 0 specfiles checked; 0 errors, 1 warnings.\n";
        assert_eq!(rpmlint(v1), lc(0, 1));
        let v2 = "RPMLINT report:\n===============\n\
============================ rpmlint session starts ============================\n\
rpmlint: 2.5.0\nchecks: 32, packages: 3\n\n\
hello.x86_64: E: no-binary\nhello.src: W: invalid-url Source0\nhello.x86_64: W: files-duplicate\n\
= 3 packages and 0 specfiles checked; 1 errors, 2 warnings, 4 filtered, 1000 badness; has taken 0.7 s =\n";
        assert_eq!(rpmlint(v2), lc(1, 2));
        // coloured, as rpmlint 2 writes to a terminal
        let colour = "\u{1b}[1m\u{1b}[33m=== 1 packages and 1 specfiles checked; 3 errors, 0 warnings, 0 filtered, 0 badness; has taken 0.1 s ===\u{1b}[0m\n";
        assert_eq!(rpmlint(colour), lc(3, 0));
        // singular words and two runs add up
        let two = "1 packages and 0 specfiles checked; 1 error, 1 warning.\n\
0 packages and 1 specfiles checked; 2 errors, 0 warnings.\n";
        assert_eq!(rpmlint(two), lc(3, 1));
    }

    #[test]
    fn rpmlint_without_summary_counts_its_tag_lines_and_no_report_is_none() {
        let died = "[ 9s] RPMLINT report:\n[ 9s] ===============\n\
[10s] hello.x86_64: E: zero-length /etc/x\n[10s] hello.x86_64: W: summary-ended-with-dot\n\
[10s] hello.x86_64: I: some info\nTraceback (most recent call last):\n";
        assert_eq!(rpmlint(died), lc(1, 1));
        assert_eq!(rpmlint("make: *** [all] Error 2\nW: not rpmlint\n"), None);
        assert_eq!(rpmlint(""), None);
        assert_eq!(
            rpmlint("the packages and the specfiles checked; lots of errors\n"),
            None
        );
    }

    #[test]
    fn lintian_tags_after_its_start_are_counted() {
        let log = "[ 50s] W: dpkg-buildpackage: not a lintian line (before it ran)\n\
[ 80s] Running lintian\n[ 80s] + lintian -i /usr/src/packages/hello_1.0-1_arm64.changes\n\
[ 81s] E: hello: binary-without-manpage usr/bin/hello\n\
[ 81s] N: \n[ 81s] N:   Each binary in /usr/bin should have a manual page\n\
[ 81s] W: hello source: no-debian-copyright\n\
[ 81s] W: hello: description-synopsis-starts-with-article\n\
[ 81s] I: hello: hardening-no-fortify-functions usr/bin/hello\n\
[ 81s] P: hello source: package-uses-old-debhelper-compat-version 10\n";
        assert_eq!(lintian(log), lc(1, 2));
        assert_eq!(
            lintian("[ 80s] Running lintian\n[ 81s] + lintian -i x.changes\n"),
            lc(0, 0)
        );
        assert_eq!(lintian("E: hello: tag, but lintian never ran\n"), None);
        assert_eq!(
            from_log("Running lintian\nE: a: b\n"),
            LintReport {
                rpmlint: None,
                lintian: lc(1, 0)
            }
        );
    }

    #[test]
    fn a_log_file_is_read() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("build.log");
        std::fs::write(&log, b"Running lintian\n\xff\nW: hello: tag\n").unwrap();
        assert_eq!(from_log_file(&log).unwrap().lintian, lc(0, 1));
        assert!(from_log_file(&d.path().join("gone")).is_err());
    }

    #[test]
    fn odd_lines_do_not_panic() {
        for t in [
            "[",
            "[s] ",
            "[ 1s]",
            "\u{1b}[",
            "\u{1b}",
            "E",
            "E:",
            "x: E",
            ": E: ",
            "99999999999 packages and 1 specfiles checked; 99999999999 errors, 1 warnings",
            "Running lintian\nE\nW:\n: \u{1b}[",
            "RPMLINT report:\n: E: \né: W: x",
        ] {
            let _ = from_log(t);
        }
    }
}
