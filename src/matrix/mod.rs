//! The build matrix of a package checkout as OBS's scheduler computes it: the cells
//! (package or multibuild flavor x repository x arch of the project meta) and for each
//! the verdict (`scheduled`, `excluded`, `disabled`, `locked`, `broken`) with the rule
//! that decided it. Pure functions over documents already fetched; `commands::check`
//! fetches them and prints the plan.
//!
//! - [`verdict`]: the verdict codes and a decision with its rule
//! - [`flags`]: `<enable>`/`<disable>` precedence (`BSUtil::enabled`)
//! - [`meta_flags`]: the flags of a project or package meta document
//! - [`buildconfig`]: what a repository's build configuration says for one arch
//! - [`multibuild`]: the flavors of `_multibuild`
//! - [`recipe`]: which recipe file a package or flavor builds from (`findfile`)
//! - [`spec`], [`deb`]: the arch limits of an rpm spec and of a Debian recipe
//! - [`decide`]: the rules in the scheduler's order

pub mod buildconfig;
pub mod deb;
pub mod decide;
pub mod flags;
pub mod meta_flags;
pub mod multibuild;
pub mod recipe;
pub mod spec;
pub mod verdict;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use buildconfig::BuildConfig;
use meta_flags::MetaFlags;
pub use verdict::{Decision, Verdict};

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    pub package: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavor: Option<String>,
    pub repository: String,
    pub arch: String,
}

impl Cell {
    /// The name OBS gives the cell's package: `PKG` or `PKG:FLAVOR`.
    pub fn obs_name(&self) -> String {
        match &self.flavor {
            Some(f) => format!("{}:{f}", self.package),
            None => self.package.clone(),
        }
    }
}

/// The checkout's files: every name, and the text of those a recipe may be read from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub files: Vec<String>,
    pub texts: HashMap<String, String>,
}

/// A repository's build configuration text and the macros to define before it (the
/// merged `_buildconfig` defines `_project`/`_repository` itself; a project's plain
/// `_config` needs them given).
#[derive(Debug, Clone, Default)]
pub struct RepositoryConfig {
    pub text: String,
    pub defines: Vec<(String, String)>,
}

/// Everything the plan is computed from.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    pub project: String,
    pub package: String,
    /// The project meta's repositories with their arches, in order.
    pub repositories: Vec<(String, Vec<String>)>,
    pub project_flags: MetaFlags,
    /// None when the package is not on the server yet: no package flags.
    pub package_flags: Option<MetaFlags>,
    pub sources: Sources,
    /// `_multibuild` text, if the checkout has one.
    pub multibuild: Option<String>,
    /// Per repository name.
    pub configs: BTreeMap<String, RepositoryConfig>,
}

/// One cell and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedCell {
    #[serde(flatten)]
    pub cell: Cell,
    pub verdict: Verdict,
    pub rule: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub cells: Vec<PlannedCell>,
    /// Things the reader should know that are not a cell's verdict.
    pub warnings: Vec<String>,
}

impl Plan {
    /// How many cells have each verdict, in [`Verdict::ALL`] order, without zeros.
    pub fn counts(&self) -> Vec<(Verdict, usize)> {
        Verdict::ALL
            .iter()
            .map(|v| (*v, self.cells.iter().filter(|c| c.verdict == *v).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// The flavors of the checkout's `_multibuild`, with a warning when OBS would ignore it.
fn flavors(input: &PlanInput, warnings: &mut Vec<String>) -> Vec<String> {
    match input.multibuild.as_deref().map(multibuild::flavors) {
        None => vec![],
        Some(Ok(f)) => f,
        Some(Err(why)) => {
            warnings.push(format!(
                "_multibuild is ignored, as OBS ignores it: {why}; fix it to build its flavors"
            ));
            vec![]
        }
    }
}

/// The matrix: every repository x arch of the project meta, the package and each flavor.
pub fn plan(input: &PlanInput) -> Plan {
    let mut warnings = Vec::new();
    let flavors = flavors(input, &mut warnings);
    let mut cells = Vec::new();
    for (repository, arches) in &input.repositories {
        let rc = input.configs.get(repository).cloned().unwrap_or_default();
        let defines: Vec<(&str, &str)> = rc
            .defines
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for arch in arches {
            let config = BuildConfig::read(&rc.text, arch, &defines);
            let names = std::iter::once(None).chain(flavors.iter().map(|f| Some(f.clone())));
            for flavor in names {
                let cell = Cell {
                    package: input.package.clone(),
                    flavor,
                    repository: repository.clone(),
                    arch: arch.clone(),
                };
                let d = decide::decide(&cell, input, &config);
                cells.push(PlannedCell {
                    cell,
                    verdict: d.verdict,
                    rule: d.rule,
                });
            }
        }
    }
    Plan { cells, warnings }
}

#[cfg(test)]
mod tests;
