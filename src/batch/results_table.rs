//! The matrix printed at the end of a batch, like `osc results`: one row per cell
//! (package[:flavor], repository, arch) with its code, how long it took and its log (or,
//! for a cell that did not run, why), then one line of counts per code.

use super::outcome::{CellOutcome, Code};

/// How many cells have each code, in [`Code::ALL`] order, without zeros.
pub fn counts(outcomes: &[CellOutcome]) -> Vec<(Code, usize)> {
    Code::ALL
        .iter()
        .map(|c| (*c, outcomes.iter().filter(|o| o.code == *c).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// `N cells: 3 succeeded, 1 failed, 2 excluded` (`0 cells` for none).
pub fn counts_line(outcomes: &[CellOutcome]) -> String {
    let parts: Vec<String> = counts(outcomes)
        .iter()
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    let noun = if outcomes.len() == 1 { "cell" } else { "cells" };
    if parts.is_empty() {
        format!("{} {noun}", outcomes.len())
    } else {
        format!("{} {noun}: {}", outcomes.len(), parts.join(", "))
    }
}

/// A duration as a build log reader wants it: `45s`, `1m05s`, `2h03m10s` (rounded to
/// the second; `0s` for anything under half a second, negative or not a number).
pub fn duration(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 {
        seconds.round() as u64
    } else {
        0
    };
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// The table and the counts line, in the order of `outcomes`. The last column is the
/// kept log of a cell that ran, else the rule that decided the cell.
pub fn render(outcomes: &[CellOutcome]) -> String {
    if outcomes.is_empty() {
        return "no cells: nothing was built\n".to_string();
    }
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![
                o.cell.obs_name(),
                o.cell.repository.clone(),
                o.cell.arch.clone(),
                o.code.to_string(),
                o.duration.map(duration).unwrap_or_else(|| "-".to_string()),
                match &o.log {
                    Some(log) => log.display().to_string(),
                    None => o.rule.clone(),
                },
            ]
        })
        .collect();
    let table = crate::text_table::render(
        &[
            "PACKAGE",
            "REPOSITORY",
            "ARCH",
            "RESULT",
            "TIME",
            "LOG OR REASON",
        ],
        &rows,
    );
    format!("{table}\n{}\n", counts_line(outcomes))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::matrix::Cell;

    /// A cell outcome for tests: `package[:flavor]`, repository, arch, code.
    pub(crate) fn outcome(name: &str, repository: &str, arch: &str, code: Code) -> CellOutcome {
        let (package, flavor) = match name.split_once(':') {
            Some((p, f)) => (p.to_string(), Some(f.to_string())),
            None => (name.to_string(), None),
        };
        let ran = !matches!(
            code,
            Code::Excluded | Code::Disabled | Code::Locked | Code::Skipped | Code::Broken
        );
        CellOutcome {
            cell: Cell {
                package: package.clone(),
                flavor,
                repository: repository.into(),
                arch: arch.into(),
            },
            checkout: PathBuf::from(format!("/home/p/{package}")),
            code,
            rule: format!("{code}: the rule of {name} {repository}/{arch}"),
            exit_status: ran.then_some(if code == Code::Succeeded { 0 } else { 1 }),
            duration: ran.then_some(65.4),
            log: ran.then(|| PathBuf::from(format!("/var/tmp/archbuild-{name}-{arch}.log"))),
            artifacts: vec![],
            rpmlint: None,
            lintian: None,
        }
    }

    #[test]
    fn durations_read_like_a_clock() {
        for (s, text) in [
            (0.0, "0s"),
            (0.4, "0s"),
            (45.2, "45s"),
            (59.6, "1m00s"),
            (65.0, "1m05s"),
            (3600.0, "1h00m00s"),
            (7390.0, "2h03m10s"),
            (-3.0, "0s"),
            (f64::NAN, "0s"),
            (f64::INFINITY, "0s"),
        ] {
            assert_eq!(duration(s), text, "{s}");
        }
    }

    #[test]
    fn the_table_has_a_row_per_cell_with_log_or_reason_and_the_counts() {
        let outcomes = vec![
            outcome("hello", "openSUSE_Tumbleweed", "aarch64", Code::Succeeded),
            outcome(
                "hello:doc",
                "openSUSE_Tumbleweed",
                "aarch64",
                Code::Excluded,
            ),
            outcome("hello", "Debian_12", "s390x", Code::Failed),
            outcome("hello", "Debian_12", "riscv64", Code::Succeeded),
        ];
        let text = render(&outcomes);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[0].starts_with("PACKAGE"), "{text}");
        assert!(
            lines[1].contains("succeeded")
                && lines[1].contains("1m05s")
                && lines[1].ends_with("/var/tmp/archbuild-hello-aarch64.log"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("hello:doc ")
                && lines[2].contains(" - ")
                && lines[2]
                    .ends_with("excluded: the rule of hello:doc openSUSE_Tumbleweed/aarch64"),
            "{text}"
        );
        // the columns line up
        let at = |l: &str| l.find("aarch64").or(l.find("s390x")).or(l.find("riscv64"));
        let starts: Vec<_> = lines[1..5].iter().map(|l| at(l)).collect();
        assert!(starts.windows(2).all(|w| w[0] == w[1]), "{text}");
        assert_eq!(lines[5], "4 cells: 2 succeeded, 1 failed, 1 excluded");
    }

    #[test]
    fn counts_follow_the_code_order_and_leave_out_zeros() {
        let outcomes = vec![
            outcome("a", "r", "x86_64", Code::Cancelled),
            outcome("a", "r", "aarch64", Code::Succeeded),
            outcome("a", "r", "s390x", Code::Cancelled),
        ];
        assert_eq!(
            counts(&outcomes),
            vec![(Code::Succeeded, 1), (Code::Cancelled, 2)]
        );
        assert_eq!(counts_line(&outcomes[..1]), "1 cell: 1 cancelled");
        assert_eq!(counts_line(&[]), "0 cells");
        assert_eq!(render(&[]), "no cells: nothing was built\n");
    }
}
