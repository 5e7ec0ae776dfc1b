//! What a bootstrap does with its location, decided once from the facts: make the root
//! fresh, resume a partial one, restore a pristine copy, start over, or find it done.
//! [`decide`] is pure; `--dry-run` prints its result and `run` carries it out.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;

use super::location::{self, Found};
use super::plan::Plan;
use super::pristine;
use crate::state::{self, Record};

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub name: String,
    pub location: PathBuf,
    pub plan: Plan,
    pub force: bool,
    /// Restore from a pristine copy when one exists.
    pub use_pristine: bool,
    pub emulator: Option<PathBuf>,
    /// `--accel`: make (or reuse) the arch's bundle once the root is complete and record
    /// the container accelerated.
    pub accel: bool,
}

/// Where the files of a new root come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The backend installs packages; `resume` continues a partial root.
    Backend { resume: bool },
    /// A pristine copy of an earlier bootstrap of the same plan is unpacked.
    Pristine { copy: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// The location already holds a complete root of this plan: only register it.
    AlreadyDone,
    /// Make the root; `empty_first` deletes what the location holds before.
    Make { empty_first: bool, source: Source },
}

/// Everything [`decide`] looks at.
#[derive(Debug)]
pub struct Facts {
    /// The record of this name, if archbuild knows one.
    pub existing: Option<Record>,
    /// Another container whose root is this location, if any.
    pub other_at_location: Option<String>,
    pub running: bool,
    pub found: Found,
    /// A pristine copy of this plan, if one exists and may be used.
    pub pristine: Option<PathBuf>,
    /// The backend's program, and whether it continues a partial root.
    pub tool: String,
    pub resumable: bool,
}

impl Facts {
    pub fn gather(req: &Request, tool: &str, resumable: bool) -> Result<Facts> {
        let other_at_location = state::list_readable()?
            .0
            .into_iter()
            .find(|r| r.location == req.location && r.name != req.name)
            .map(|r| r.name);
        Ok(Facts {
            existing: state::load(&req.name)?,
            other_at_location,
            running: crate::container::is_running(&req.name),
            found: location::inspect(&req.location)?,
            pristine: req
                .use_pristine
                .then(|| pristine::find(&pristine::key(&req.plan, tool)))
                .flatten(),
            tool: tool.to_string(),
            resumable,
        })
    }
}

/// Plans are the same root when they install the same things from the same places.
pub fn same_content(a: &Plan, b: &Plan) -> bool {
    a.arch == b.arch && a.backend == b.backend && a.repositories == b.repositories && {
        let mut x = a.packages.clone();
        let mut y = b.packages.clone();
        x.sort();
        y.sort();
        x == y
    }
}

/// Decide, refusing what must be refused. Changes nothing.
pub fn decide(req: &Request, facts: &Facts) -> Result<Decision> {
    if let Some(existing) = &facts.existing {
        if existing.location != req.location {
            return Err(crate::error::usage(format!(
                "a container named '{}' already exists at {}: pick another --name, or `archbuild remove {}` first",
                req.name,
                existing.location.display(),
                req.name
            )));
        }
    }
    if let Some(other) = &facts.other_at_location {
        return Err(crate::error::usage(format!(
            "{} is the root of container '{other}': pick another --location",
            req.location.display(),
        )));
    }
    let fresh = |empty_first: bool| match &facts.pristine {
        Some(copy) => Decision::Make {
            empty_first,
            source: Source::Pristine { copy: copy.clone() },
        },
        None => Decision::Make {
            empty_first,
            source: Source::Backend { resume: false },
        },
    };
    Ok(match &facts.found {
        Found::Missing | Found::Empty => fresh(false),
        Found::Foreign(why) => bail!(
            "refusing to bootstrap into {}: {why}; choose another --location (archbuild never overwrites a directory it did not create)",
            req.location.display()
        ),
        Found::Ours(m) if !req.force && m.is_complete() && same_content(&m.plan, &req.plan) => {
            Decision::AlreadyDone
        }
        Found::Ours(_) if facts.running => bail!(
            "container '{}' is running from {}: `archbuild stop {}` first",
            req.name,
            req.location.display(),
            req.name
        ),
        Found::Ours(_) if req.force => fresh(true),
        Found::Ours(m) if m.is_complete() => bail!(
            "{} already holds a root bootstrapped from {} ({}): add --force to replace it, or choose another --location",
            req.location.display(),
            m.plan.source,
            m.tool
        ),
        Found::Ours(m) if facts.resumable && m.tool == facts.tool && facts.pristine.is_none() => {
            Decision::Make {
                empty_first: false,
                source: Source::Backend { resume: true },
            }
        }
        Found::Ours(_) => fresh(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::location::{Marker, RootState};

    fn plan(packages: &[&str]) -> Plan {
        Plan {
            arch: "aarch64".into(),
            backend: crate::bootstrap::plan::Backend::Debian,
            source: "debian-12".into(),
            repositories: vec![],
            packages: packages.iter().map(|p| p.to_string()).collect(),
            emulator: None,
        }
    }

    fn ours(state: RootState, packages: &[&str], tool: &str) -> Found {
        Found::Ours(Marker {
            state,
            plan: plan(packages),
            tool: tool.into(),
            started: 1,
            finished: None,
        })
    }

    fn request(force: bool) -> Request {
        Request {
            name: "a".into(),
            location: "/srv/a".into(),
            plan: plan(&["a", "b"]),
            force,
            use_pristine: true,
            emulator: None,
            accel: false,
        }
    }

    fn facts(found: Found, running: bool, pristine: bool) -> Facts {
        Facts {
            existing: None,
            other_at_location: None,
            running,
            found,
            pristine: pristine.then(|| PathBuf::from("/cache/p.tar")),
            tool: "mmdebstrap".into(),
            resumable: true,
        }
    }

    const BACKEND: Source = Source::Backend { resume: false };

    fn restore() -> Source {
        Source::Pristine {
            copy: "/cache/p.tar".into(),
        }
    }

    #[test]
    fn every_location_state_has_its_decision() {
        use RootState::*;
        let make = |empty_first, source| {
            Ok(Decision::Make {
                empty_first,
                source,
            })
        };
        // (case, location holds, --force, running, pristine copy, decision or error)
        type Case = (
            &'static str,
            Found,
            bool,
            bool,
            bool,
            Result<Decision, &'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "missing",
                Found::Missing,
                false,
                false,
                false,
                make(false, BACKEND),
            ),
            (
                "empty, pristine copy",
                Found::Empty,
                false,
                false,
                true,
                make(false, restore()),
            ),
            (
                "foreign",
                Found::Foreign("x".into()),
                false,
                false,
                false,
                Err("refusing"),
            ),
            (
                "same plan done",
                ours(Complete, &["b", "a"], "mmdebstrap"),
                false,
                false,
                true,
                Ok(Decision::AlreadyDone),
            ),
            (
                "same plan done, running",
                ours(Complete, &["a", "b"], "mmdebstrap"),
                false,
                true,
                false,
                Ok(Decision::AlreadyDone),
            ),
            (
                "other plan done",
                ours(Complete, &["c"], "mmdebstrap"),
                false,
                false,
                false,
                Err("--force"),
            ),
            (
                "other plan, --force",
                ours(Complete, &["c"], "mmdebstrap"),
                true,
                false,
                false,
                make(true, BACKEND),
            ),
            (
                "running, --force",
                ours(Complete, &["c"], "mmdebstrap"),
                true,
                true,
                false,
                Err("archbuild stop"),
            ),
            (
                "running, partial",
                ours(Incomplete, &["a"], "mmdebstrap"),
                false,
                true,
                false,
                Err("archbuild stop"),
            ),
            (
                "partial, same tool",
                ours(Incomplete, &["a"], "mmdebstrap"),
                false,
                false,
                false,
                make(false, Source::Backend { resume: true }),
            ),
            (
                "partial, pristine copy",
                ours(Incomplete, &["a"], "mmdebstrap"),
                false,
                false,
                true,
                make(true, restore()),
            ),
            (
                "partial, other tool",
                ours(Incomplete, &["a"], "debootstrap"),
                false,
                false,
                false,
                make(true, BACKEND),
            ),
        ];
        for (what, found, force, running, pristine, want) in cases {
            let got = decide(&request(force), &facts(found, running, pristine));
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{what}"),
                (Err(e), Err(needle)) => {
                    assert!(e.to_string().contains(needle), "{what}: {e}")
                }
                (got, want) => panic!("{what}: got {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn names_and_locations_of_other_containers_are_refused() {
        let mut f = facts(Found::Missing, false, false);
        f.other_at_location = Some("b".into());
        assert!(decide(&request(false), &f)
            .unwrap_err()
            .to_string()
            .contains("container 'b'"));
        let mut f = facts(Found::Missing, false, false);
        f.existing = Some(Record {
            name: "a".into(),
            arch: "aarch64".into(),
            location: "/elsewhere".into(),
            binds: vec![],
            emulator: None,
            origin: crate::state::Origin::Bootstrap,
            accel: false,
        });
        assert!(decide(&request(false), &f)
            .unwrap_err()
            .to_string()
            .contains("already exists"));
    }
}
