//! What OBS's scheduler makes of one cell, with its own status codes, and the rule that
//! decided it, in words.

use serde::Serialize;

/// The status codes `checkpkgs` (OBS backend `BSSched/Checker.pm`) gives a package
/// before any build: the ones a plan can know, and `scheduled` for "will be built".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every rule passed: OBS builds this cell.
    Scheduled,
    /// Not for this repository/arch: a prjconf build list or the recipe says so.
    Excluded,
    /// A `<build>` flag switches it off.
    Disabled,
    /// A `<lock>` flag freezes it.
    Locked,
    /// The sources or the configuration cannot be built at all.
    Broken,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Scheduled => "scheduled",
            Verdict::Excluded => "excluded",
            Verdict::Disabled => "disabled",
            Verdict::Locked => "locked",
            Verdict::Broken => "broken",
        }
    }

    /// All verdicts, in the order summaries list them.
    pub const ALL: [Verdict; 5] = [
        Verdict::Scheduled,
        Verdict::Excluded,
        Verdict::Disabled,
        Verdict::Locked,
        Verdict::Broken,
    ];
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict and the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub rule: String,
}

impl Decision {
    pub fn new(verdict: Verdict, rule: impl Into<String>) -> Decision {
        Decision {
            verdict,
            rule: rule.into(),
        }
    }
}
