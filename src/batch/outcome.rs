//! What became of each cell of a batch: OBS's result codes plus archbuild's own
//! (`cancelled`, `infrastructure`, `skipped`), and the record of one cell that the
//! reports, the results matrix and `--resume` read.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::matrix::{Cell, Verdict};

/// A cell's result. The first seven are the codes of OBS's `_result`
/// (`osc results`); the rest are archbuild's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Code {
    Succeeded,
    Failed,
    /// The build dependencies cannot be resolved (osc's buildinfo says so).
    Unresolvable,
    Broken,
    Excluded,
    Disabled,
    Locked,
    /// Stopped by Ctrl-C (or a signal) before it finished.
    Cancelled,
    /// osc/obs-build could not do the build at all (exit 3, a missing tool, a full
    /// disk...): says nothing about the package.
    Infrastructure,
    /// This host cannot build the cell (no emulator for the arch), or `--resume`
    /// found it already built from the same sources.
    Skipped,
}

impl Code {
    pub const ALL: [Code; 10] = [
        Code::Succeeded,
        Code::Failed,
        Code::Unresolvable,
        Code::Broken,
        Code::Excluded,
        Code::Disabled,
        Code::Locked,
        Code::Cancelled,
        Code::Infrastructure,
        Code::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Succeeded => "succeeded",
            Code::Failed => "failed",
            Code::Unresolvable => "unresolvable",
            Code::Broken => "broken",
            Code::Excluded => "excluded",
            Code::Disabled => "disabled",
            Code::Locked => "locked",
            Code::Cancelled => "cancelled",
            Code::Infrastructure => "infrastructure",
            Code::Skipped => "skipped",
        }
    }

    /// The code of a cell the plan says is not built.
    pub fn of_verdict(v: Verdict) -> Option<Code> {
        match v {
            Verdict::Scheduled => None,
            Verdict::Excluded => Some(Code::Excluded),
            Verdict::Disabled => Some(Code::Disabled),
            Verdict::Locked => Some(Code::Locked),
            Verdict::Broken => Some(Code::Broken),
        }
    }

    /// Is a cell with this code one that was expected to build (and so must succeed
    /// for the batch to pass)?
    pub fn was_expected(self) -> bool {
        !matches!(
            self,
            Code::Excluded | Code::Disabled | Code::Locked | Code::Skipped
        )
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Warnings and errors of a package checker (rpmlint, lintian) in a build log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintCounts {
    pub errors: u32,
    pub warnings: u32,
}

/// The record of one cell after a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellOutcome {
    #[serde(flatten)]
    pub cell: Cell,
    /// The package checkout the cell was built from.
    pub checkout: PathBuf,
    pub code: Code,
    /// Why: the plan's rule for cells not built, the failure for the others.
    pub rule: String,
    /// osc's exit status, when osc ran.
    pub exit_status: Option<i32>,
    /// Seconds the build took, when it ran.
    pub duration: Option<f64>,
    /// The kept log of the build, when it ran.
    pub log: Option<PathBuf>,
    /// The packages the build made.
    pub artifacts: Vec<PathBuf>,
    pub rpmlint: Option<LintCounts>,
    pub lintian: Option<LintCounts>,
}

impl CellOutcome {
    /// A cell that did not run (settled by the plan, the host, or not started).
    pub fn unbuilt(
        cell: &Cell,
        checkout: &std::path::Path,
        code: Code,
        rule: String,
    ) -> CellOutcome {
        CellOutcome {
            cell: cell.clone(),
            checkout: checkout.to_path_buf(),
            code,
            rule,
            exit_status: None,
            duration: None,
            log: None,
            artifacts: vec![],
            rpmlint: None,
            lintian: None,
        }
    }
}
