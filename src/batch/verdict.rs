//! The verdict of `archbuild check`: one line and an exit status from the outcomes of
//! the checkout's cells.
//!
//! - **FAIL** (exit 1) when any expected cell (see [`Code::was_expected`]) failed,
//!   could not be resolved or is broken. A real failure decides even when other cells
//!   were inconclusive: the package has a problem either way; the line lists those
//!   cells too.
//! - **INCONCLUSIVE** (exit 3, as osc/obs-build exit for a build that could not be done)
//!   when no cell failed but some were cancelled or hit an infrastructure failure, or
//!   when not a single cell was expected to build (every one excluded, disabled, locked
//!   or skipped): nothing was shown about the package.
//! - **PASS** (exit 0) when every expected cell succeeded; the line says how many cells
//!   were not built, so a reader sees what the check did not cover (a skipped arch).

use super::outcome::{CellOutcome, Code};
use super::results_table::counts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pass,
    Fail,
    Inconclusive,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pass => "PASS",
            Kind::Fail => "FAIL",
            Kind::Inconclusive => "INCONCLUSIVE",
        }
    }

    /// The exit status of `archbuild check`: 0 only for PASS.
    pub fn exit_status(self) -> i32 {
        match self {
            Kind::Pass => 0,
            Kind::Fail => 1,
            Kind::Inconclusive => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub kind: Kind,
    /// One line, starting with `PASS:`, `FAIL:` or `INCONCLUSIVE:`.
    pub line: String,
    pub exit_status: i32,
}

/// A cell that failed: the package has a problem.
pub fn is_failure(code: Code) -> bool {
    matches!(code, Code::Failed | Code::Unresolvable | Code::Broken)
}

/// A cell that says nothing about the package.
pub fn is_inconclusive(code: Code) -> bool {
    matches!(code, Code::Infrastructure | Code::Cancelled)
}

/// `hello:doc Debian_12/s390x (log: /var/tmp/...)`, or with the code and rule when there
/// is no log.
fn describe(o: &CellOutcome) -> String {
    let what = format!(
        "{} {}/{}",
        o.cell.obs_name(),
        o.cell.repository,
        o.cell.arch
    );
    match &o.log {
        Some(log) => format!("{what} {} (log: {})", o.code, log.display()),
        None => format!("{what} {} ({})", o.code, o.rule),
    }
}

fn list(cells: &[&CellOutcome]) -> String {
    cells
        .iter()
        .map(|o| describe(o))
        .collect::<Vec<_>>()
        .join("; ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The verdict of the outcomes of one check.
pub fn verdict(outcomes: &[CellOutcome]) -> Verdict {
    let expected: Vec<&CellOutcome> = outcomes.iter().filter(|o| o.code.was_expected()).collect();
    let failed: Vec<&CellOutcome> = expected
        .iter()
        .copied()
        .filter(|o| is_failure(o.code))
        .collect();
    let inconclusive: Vec<&CellOutcome> = expected
        .iter()
        .copied()
        .filter(|o| is_inconclusive(o.code))
        .collect();
    let not_built: Vec<String> = counts(outcomes)
        .into_iter()
        .filter(|(c, _)| !c.was_expected())
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    let not_built = if not_built.is_empty() {
        String::new()
    } else {
        format!(
            " ({} not built: {})",
            outcomes.len() - expected.len(),
            not_built.join(", ")
        )
    };
    let (kind, line) = if !failed.is_empty() {
        let mut line = format!(
            "FAIL: {} of {} failed: {}",
            failed.len(),
            plural(expected.len(), "cell", "cells"),
            list(&failed)
        );
        if !inconclusive.is_empty() {
            line.push_str(&format!(
                "; and {} inconclusive: {}",
                inconclusive.len(),
                list(&inconclusive)
            ));
        }
        (Kind::Fail, line)
    } else if !inconclusive.is_empty() {
        (
            Kind::Inconclusive,
            format!(
                "INCONCLUSIVE: {} of {} could not be built, no cell failed: {}",
                inconclusive.len(),
                plural(expected.len(), "cell", "cells"),
                list(&inconclusive)
            ),
        )
    } else if expected.is_empty() {
        (
            Kind::Inconclusive,
            format!(
                "INCONCLUSIVE: no cell was built{}: nothing shows whether the package builds",
                if outcomes.is_empty() {
                    " (the matrix is empty)".to_string()
                } else {
                    not_built
                }
            ),
        )
    } else {
        (
            Kind::Pass,
            format!(
                "PASS: {} succeeded{not_built}",
                if expected.len() == 1 {
                    "the 1 expected cell".to_string()
                } else {
                    format!("all {} expected cells", expected.len())
                }
            ),
        )
    };
    Verdict {
        kind,
        line,
        exit_status: kind.exit_status(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::results_table::tests::outcome;

    fn of(codes: &[Code]) -> Vec<CellOutcome> {
        let arches = ["x86_64", "aarch64", "armv7l", "s390x", "ppc64le", "riscv64"];
        codes
            .iter()
            .zip(arches.iter().cycle())
            .map(|(c, a)| outcome("hello", "Debian_12", a, *c))
            .collect()
    }

    #[test]
    fn every_combination_of_kinds_of_codes_gets_its_verdict() {
        use Code::*;
        // (codes, verdict, exit status)
        let table: &[(&[Code], Kind)] = &[
            (&[Succeeded], Kind::Pass),
            (&[Succeeded, Succeeded, Excluded, Skipped], Kind::Pass),
            (&[Succeeded, Disabled, Locked], Kind::Pass),
            (&[Failed], Kind::Fail),
            (&[Succeeded, Unresolvable], Kind::Fail),
            (&[Broken, Excluded], Kind::Fail),
            // a real failure wins over inconclusive cells
            (&[Failed, Infrastructure, Cancelled], Kind::Fail),
            (&[Succeeded, Infrastructure], Kind::Inconclusive),
            (&[Cancelled, Succeeded], Kind::Inconclusive),
            (&[Excluded, Skipped], Kind::Inconclusive),
            (&[], Kind::Inconclusive),
        ];
        for (codes, kind) in table {
            let v = verdict(&of(codes));
            assert_eq!(v.kind, *kind, "{codes:?}: {}", v.line);
            assert_eq!(v.exit_status, kind.exit_status());
            assert!(
                v.line.starts_with(&format!("{}: ", kind.as_str())),
                "{}",
                v.line
            );
            assert!(!v.line.contains('\n'));
        }
        assert_eq!(Kind::Pass.exit_status(), 0);
        assert_ne!(Kind::Fail.exit_status(), 0);
        assert_ne!(Kind::Inconclusive.exit_status(), 0);
    }

    #[test]
    fn the_fail_line_lists_the_failed_cells_with_their_logs() {
        use Code::*;
        let v = verdict(&of(&[Succeeded, Succeeded, Excluded, Failed, Succeeded]));
        assert_eq!(
            v.line,
            "FAIL: 1 of 4 cells failed: hello Debian_12/s390x failed (log: /var/tmp/archbuild-hello-s390x.log)"
        );
        let v = verdict(&of(&[Broken, Infrastructure]));
        assert_eq!(
            v.line,
            "FAIL: 1 of 2 cells failed: hello Debian_12/x86_64 broken (broken: the rule of hello Debian_12/x86_64); \
and 1 inconclusive: hello Debian_12/aarch64 infrastructure (log: /var/tmp/archbuild-hello-aarch64.log)"
        );
    }

    #[test]
    fn pass_and_inconclusive_lines_say_what_was_not_built() {
        use Code::*;
        assert_eq!(
            verdict(&of(&[Succeeded, Excluded, Skipped, Succeeded])).line,
            "PASS: all 2 expected cells succeeded (2 not built: 1 excluded, 1 skipped)"
        );
        assert_eq!(
            verdict(&of(&[Succeeded])).line,
            "PASS: the 1 expected cell succeeded"
        );
        assert_eq!(
            verdict(&of(&[Cancelled, Succeeded])).line,
            "INCONCLUSIVE: 1 of 2 cells could not be built, no cell failed: hello Debian_12/x86_64 cancelled (log: /var/tmp/archbuild-hello-x86_64.log)"
        );
        assert_eq!(
            verdict(&of(&[Excluded, Disabled])).line,
            "INCONCLUSIVE: no cell was built (2 not built: 1 excluded, 1 disabled): nothing shows whether the package builds"
        );
    }
}
