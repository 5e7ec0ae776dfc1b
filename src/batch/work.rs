//! From the plans of the checkouts to the work of a batch, as data: which cells are
//! asked for (`-r`, `-a`, `-M`/`--all-flavors`), which of them are built, which the plan
//! or this host rules out (with the reason), which `--resume` carries over, and the
//! order of the builds (the slowest first, by their last duration).

use std::path::PathBuf;

use super::history::{self, History};
use super::outcome::{CellOutcome, Code};
use crate::matrix::{Cell, PlannedCell, Verdict};

/// Which flavors of a multibuild package the batch builds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Flavors {
    /// The main package only, as `osc build` without `-M`.
    #[default]
    Main,
    One(String),
    All,
}

/// What the command line asks for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Empty: every repository.
    pub repositories: Vec<String>,
    /// OBS arch names; empty: every arch.
    pub arches: Vec<String>,
    pub flavors: Flavors,
    pub resume: bool,
}

impl Selection {
    fn wants(&self, cell: &Cell) -> bool {
        let flavor_ok = match (&self.flavors, &cell.flavor) {
            (Flavors::All, _) => true,
            (Flavors::Main, f) => f.is_none(),
            (Flavors::One(want), Some(f)) => want == f,
            (Flavors::One(_), None) => false,
        };
        flavor_ok
            && (self.repositories.is_empty() || self.repositories.contains(&cell.repository))
            && (self.arches.is_empty() || self.arches.contains(&cell.arch))
    }
}

/// Can this host build an arch: `Ok(emulated)` or the reason it cannot.
pub type HostCapability<'a> = &'a dyn Fn(&str) -> Result<bool, String>;

/// One checkout's plan, as the batch reads it.
#[derive(Debug, Clone)]
pub struct CheckoutPlan {
    pub dir: PathBuf,
    pub cells: Vec<PlannedCell>,
    /// [`history::sources_digest`] of the checkout and the options.
    pub sources: String,
}

/// A cell to build.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub cell: Cell,
    pub checkout: PathBuf,
    pub emulated: bool,
    pub sources: String,
    /// The history's key of the cell.
    pub key: String,
}

/// The batch: jobs in the order to start them, and the outcomes known without building.
#[derive(Debug, Clone, Default)]
pub struct Work {
    pub jobs: Vec<Job>,
    pub settled: Vec<CellOutcome>,
}

fn settled(cell: &Cell, checkout: &std::path::Path, code: Code, rule: String) -> CellOutcome {
    CellOutcome::unbuilt(cell, checkout, code, rule)
}

pub fn plan_work(
    plans: &[CheckoutPlan],
    selection: &Selection,
    host: HostCapability,
    history: &History,
) -> Work {
    let mut work = Work::default();
    for plan in plans {
        for planned in plan.cells.iter().filter(|p| selection.wants(&p.cell)) {
            let cell = &planned.cell;
            if let Some(code) = Code::of_verdict(planned.verdict) {
                work.settled
                    .push(settled(cell, &plan.dir, code, planned.rule.clone()));
                continue;
            }
            debug_assert_eq!(planned.verdict, Verdict::Scheduled);
            let emulated = match host(&cell.arch) {
                Ok(e) => e,
                Err(why) => {
                    work.settled
                        .push(settled(cell, &plan.dir, Code::Skipped, why));
                    continue;
                }
            };
            let key = history::key(&plan.dir, cell);
            if selection.resume {
                if let Some(last) = history.succeeded_from(&key, &plan.sources) {
                    let mut done = settled(
                        cell,
                        &plan.dir,
                        Code::Succeeded,
                        "succeeded in an earlier run from the same sources (--resume)".into(),
                    );
                    done.duration = last.duration;
                    done.log = last.log.clone();
                    work.settled.push(done);
                    continue;
                }
            }
            work.jobs.push(Job {
                cell: cell.clone(),
                checkout: plan.dir.clone(),
                emulated,
                sources: plan.sources.clone(),
                key,
            });
        }
    }
    // slowest first; never built (no duration) counts as slowest, emulated before native
    work.jobs.sort_by(|a, b| {
        let da = history.last_duration(&a.key).unwrap_or(f64::INFINITY);
        let db = history.last_duration(&b.key).unwrap_or(f64::INFINITY);
        db.total_cmp(&da).then(b.emulated.cmp(&a.emulated))
    });
    work
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::history::LastRun;

    fn planned(package: &str, flavor: Option<&str>, arch: &str, verdict: Verdict) -> PlannedCell {
        PlannedCell {
            cell: Cell {
                package: package.into(),
                flavor: flavor.map(str::to_string),
                repository: "Debian_12".into(),
                arch: arch.into(),
            },
            verdict,
            rule: format!("rule of {arch}"),
        }
    }

    fn host(arch: &str) -> Result<bool, String> {
        match arch {
            "x86_64" => Ok(false),
            "aarch64" | "armv7l" => Ok(true),
            other => Err(format!("no emulator for {other}")),
        }
    }

    fn plans() -> Vec<CheckoutPlan> {
        vec![CheckoutPlan {
            dir: "/co/hello".into(),
            cells: vec![
                planned("hello", None, "x86_64", Verdict::Scheduled),
                planned("hello", None, "aarch64", Verdict::Scheduled),
                planned("hello", None, "armv7l", Verdict::Scheduled),
                planned("hello", None, "s390x", Verdict::Scheduled),
                planned("hello", None, "ppc64le", Verdict::Excluded),
                planned("hello", Some("doc"), "x86_64", Verdict::Scheduled),
            ],
            sources: "s1".into(),
        }]
    }

    fn names(work: &Work) -> Vec<String> {
        work.jobs
            .iter()
            .map(|j| format!("{}/{}", j.cell.obs_name(), j.cell.arch))
            .collect()
    }

    #[test]
    fn plan_verdicts_and_the_host_settle_cells_without_building() {
        let w = plan_work(&plans(), &Selection::default(), &host, &History::default());
        assert_eq!(names(&w), ["hello/aarch64", "hello/armv7l", "hello/x86_64"]);
        assert!(w.jobs[0].emulated && !w.jobs[2].emulated);
        let codes: Vec<(String, Code, String)> = w
            .settled
            .iter()
            .map(|o| (o.cell.arch.clone(), o.code, o.rule.clone()))
            .collect();
        assert_eq!(
            codes,
            [
                (
                    "s390x".to_string(),
                    Code::Skipped,
                    "no emulator for s390x".to_string()
                ),
                (
                    "ppc64le".to_string(),
                    Code::Excluded,
                    "rule of ppc64le".to_string()
                ),
            ]
        );
    }

    #[test]
    fn selection_by_repository_arch_and_flavor() {
        let all = Selection {
            flavors: Flavors::All,
            arches: vec!["x86_64".into()],
            ..Default::default()
        };
        let w = plan_work(&plans(), &all, &host, &History::default());
        assert_eq!(names(&w), ["hello/x86_64", "hello:doc/x86_64"]);
        let one = Selection {
            flavors: Flavors::One("doc".into()),
            ..Default::default()
        };
        let w = plan_work(&plans(), &one, &host, &History::default());
        assert_eq!(names(&w), ["hello:doc/x86_64"]);
        assert!(w.settled.is_empty());
        let other_repo = Selection {
            repositories: vec!["openSUSE_Tumbleweed".into()],
            ..Default::default()
        };
        let w = plan_work(&plans(), &other_repo, &host, &History::default());
        assert!(w.jobs.is_empty() && w.settled.is_empty());
    }

    #[test]
    fn resume_carries_successes_over_and_the_slowest_go_first() {
        let mut h = History::default();
        let dir = PathBuf::from("/co/hello");
        let cell = |arch: &str| {
            plans()[0]
                .cells
                .iter()
                .find(|c| c.cell.arch == arch && c.cell.flavor.is_none())
                .unwrap()
                .cell
                .clone()
        };
        let run = |code, sources: &str, duration| LastRun {
            code,
            sources: sources.into(),
            duration: Some(duration),
            log: Some("/var/tmp/l.log".into()),
            finished_unix: 1,
        };
        h.record(
            history::key(&dir, &cell("aarch64")),
            run(Code::Succeeded, "s1", 300.0),
        );
        h.record(
            history::key(&dir, &cell("armv7l")),
            run(Code::Failed, "s1", 200.0),
        );
        h.record(
            history::key(&dir, &cell("x86_64")),
            run(Code::Succeeded, "old", 30.0),
        );
        let resume = Selection {
            resume: true,
            ..Default::default()
        };
        let w = plan_work(&plans(), &resume, &host, &h);
        assert_eq!(names(&w), ["hello/armv7l", "hello/x86_64"]);
        let carried = w.settled.iter().find(|o| o.cell.arch == "aarch64").unwrap();
        assert_eq!(carried.code, Code::Succeeded);
        assert_eq!(carried.duration, Some(300.0));
        // without --resume the success is built again, and first: it was the slowest
        let w = plan_work(&plans(), &Selection::default(), &host, &h);
        assert_eq!(names(&w), ["hello/aarch64", "hello/armv7l", "hello/x86_64"]);
    }
}
