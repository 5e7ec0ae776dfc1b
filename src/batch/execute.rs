//! One batch from start to end: read each checkout and its plan from OBS, settle what
//! needs no build, build the rest with the [`Runner`], and remember the results for
//! `--resume`.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use super::display::Display;
use super::history::{self, History, LastRun};
use super::outcome::CellOutcome;
use super::runner::Runner;
use super::work::{self, CheckoutPlan, Selection};
use crate::matrix;
use crate::obs::checkout;

/// Everything a batch was asked.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Package checkouts (at least one).
    pub checkouts: Vec<PathBuf>,
    pub selection: Selection,
    pub jobs: Option<usize>,
    pub emulated_jobs: Option<usize>,
    pub fail_fast: bool,
    /// `archbuild build` options for every cell.
    pub build_args: Vec<String>,
    pub osc_options: Vec<String>,
    /// `-A`: the OBS API URL or alias for the plans (default: each checkout's).
    pub apiurl: Option<String>,
    pub oscrc: Option<PathBuf>,
    pub build_root_dir: PathBuf,
}

/// What a batch did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Every cell, in matrix order (checkout, repository, arch, flavor).
    pub outcomes: Vec<CellOutcome>,
    /// The signal that cancelled the batch.
    pub cancelled_by: Option<i32>,
    pub log_dir: PathBuf,
    pub started_unix: u64,
    pub duration: f64,
    pub jobs: usize,
    pub notes: Vec<String>,
}

/// Where a user's batches keep logs and history: `ARCHBUILD_BATCH_DIR`, else
/// `/var/tmp/archbuild-batch-<user>` (made 0700, and refused when another user owns it).
pub fn batch_dir() -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let dir = crate::settings::batch_dir().unwrap_or_else(|| {
        PathBuf::from(format!(
            "/var/tmp/archbuild-batch-{}",
            crate::user::invoking_user()
        ))
    });
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        // under sudo the directory is the invoking user's, who runs the next batch
        if let Some(user) = sudo_user() {
            std::os::unix::fs::chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .with_context(|| format!("cannot give {} to {}", dir.display(), user.name))?;
        }
    }
    let meta = std::fs::symlink_metadata(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    let owner_ok = meta.uid() == me
        || me == 0 && (meta.uid() == 0 || sudo_user().is_none_or(|u| u.uid.as_raw() == meta.uid()));
    if !meta.is_dir() || !owner_ok {
        anyhow::bail!(
            "{} is not a directory of yours: remove it, or set ARCHBUILD_BATCH_DIR to a directory of yours",
            dir.display()
        );
    }
    Ok(dir)
}

/// The user who ran `sudo archbuild ...`, when archbuild runs as root under sudo.
fn sudo_user() -> Option<nix::unistd::User> {
    let name = crate::user::sudo_user_from(
        std::env::var("SUDO_USER").ok().as_deref(),
        crate::user::is_root(),
    )?;
    nix::unistd::User::from_name(&name).ok().flatten()
}

/// `YYYYmmdd-HHMMSS` (UTC) of a Unix time, for the name of a run's log directory.
pub fn stamp(unix: u64) -> String {
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    // days to civil date (proleptic Gregorian), after Howard Hinnant's algorithm
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Can this host build `arch`: Ok(emulated) or why not.
pub fn host_capability(arch_name: &str) -> Result<bool, String> {
    let arch = crate::arch::lookup(arch_name).map_err(|e| crate::error::one_line(&e))?;
    let host = crate::arch::host().map_err(|e| crate::error::one_line(&e))?;
    if arch.is_native_on(host) {
        return Ok(false);
    }
    crate::emulator::find(arch, None)
        .map(|_| true)
        .map_err(|e| crate::error::one_line(&e))
}

/// Read a checkout and compute its plan.
fn checkout_plan(dir: &Path, req: &Request, notes: &mut Vec<String>) -> Result<CheckoutPlan> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("no checkout at {}: check the path", dir.display()))?;
    let (co, package) = checkout::read_package(&dir)?;
    let client = super::inputs::client(req.oscrc.as_deref(), req.apiurl.as_deref(), &co)?;
    let input = super::inputs::fetch(&client, &co, &package, notes)?;
    let mut plan = matrix::plan(&input);
    notes.append(&mut plan.warnings);
    let files = history::checkout_files(&dir)?;
    Ok(CheckoutPlan {
        sources: history::sources_digest(&files, &req.osc_options),
        dir,
        cells: plan.cells,
    })
}

pub fn execute(req: &Request, display: &Display) -> Result<Summary> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut notes = Vec::new();
    let mut plans = Vec::new();
    for dir in &req.checkouts {
        plans.push(checkout_plan(dir, req, &mut notes)?);
    }
    let base = batch_dir()?;
    let history_path = base.join("history.json");
    let (mut history, warning) = History::load(&history_path);
    notes.extend(warning);
    for n in &notes {
        display.note(n);
    }
    let work = work::plan_work(&plans, &req.selection, &host_capability, &history);
    let (cores, memory) = super::jobs::machine();
    let jobs = req
        .jobs
        .unwrap_or_else(|| super::jobs::default_jobs(cores, memory))
        .max(1);
    let emulated_cap = super::jobs::emulated_cap(jobs, cores, req.emulated_jobs);
    let log_dir = base.join(format!("{}-{}", stamp(started_unix), std::process::id()));
    let cells = work.jobs.len() + work.settled.len();
    display.note(&format!(
        "{cells} cell{}: {} to build ({} at once, {} emulated at most), {} settled by the plan, the host or --resume; logs in {}",
        if cells == 1 { "" } else { "s" },
        work.jobs.len(),
        jobs,
        emulated_cap,
        work.settled.len(),
        log_dir.display()
    ));
    for o in &work.settled {
        display.finished(o);
    }
    let runner = Runner {
        archbuild: std::env::current_exe().context("cannot tell where archbuild is installed")?,
        build_args: req.build_args.clone(),
        osc_options: req.osc_options.clone(),
        jobs,
        emulated_cap,
        fail_fast: req.fail_fast,
        log_dir: log_dir.clone(),
        build_root_dir: req.build_root_dir.clone(),
        display,
    };
    let keys: std::collections::HashMap<String, String> = work
        .jobs
        .iter()
        .map(|j| (history::key(&j.checkout, &j.cell), j.sources.clone()))
        .collect();
    let mut record = |o: &CellOutcome| {
        let key = history::key(&o.checkout, &o.cell);
        if let Some(sources) = keys.get(&key) {
            history.record(
                key,
                LastRun {
                    code: o.code,
                    sources: sources.clone(),
                    duration: o.duration,
                    log: o.log.clone(),
                    finished_unix: SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0),
                },
            );
            // saved after every cell: a batch killed half-way still resumes
            if let Err(e) = history.save(&history_path) {
                display.note(&format!(
                    "cannot save the batch history: {}",
                    crate::error::one_line(&e)
                ));
            }
        }
    };
    let built = runner.run(work.jobs, &mut record)?;
    let mut outcomes: Vec<CellOutcome> = work.settled.into_iter().chain(built).collect();
    let position = |o: &CellOutcome| {
        plans
            .iter()
            .enumerate()
            .find_map(|(i, p)| {
                (p.dir == o.checkout)
                    .then(|| {
                        p.cells
                            .iter()
                            .position(|c| c.cell == o.cell)
                            .map(|j| (i, j))
                    })
                    .flatten()
            })
            .unwrap_or((usize::MAX, usize::MAX))
    };
    outcomes.sort_by_key(|o| position(o));
    Ok(Summary {
        outcomes,
        cancelled_by: Runner::cancelled_by(),
        log_dir,
        started_unix,
        duration: started.elapsed().as_secs_f64(),
        jobs,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_dates() {
        assert_eq!(stamp(0), "19700101-000000");
        assert_eq!(stamp(951_782_400), "20000229-000000");
        assert_eq!(stamp(1_796_083_200 + 3_723), "20261201-010203");
    }
}
