//! Carry out a bootstrap: the decision (`decision`), the emulator registered first,
//! the backend's actions run one by one (`supervise`) with progress and a log inside the
//! root (`log`), a pristine copy kept or restored, and the container registered only
//! when everything succeeded. SIGINT, SIGTERM and SIGHUP end it with the partial root
//! kept (marked incomplete), nothing mounted and no container registered.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Serialize;

pub use super::decision::Request;
use super::decision::{self, Decision, Facts, Source};
use super::location::{self, Marker, RootState};
use super::log::Log;
pub use super::supervise::Interrupted;
use super::supervise::{check_interrupted, run_command};
use super::{accel_step, pristine, Action, Backend, Context, LOG_IN_ROOT};
use crate::progress::Progress;
use crate::state::{self, Origin, Record};
use crate::sys::signals::Catching;

/// How the root came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    Bootstrapped,
    /// Unpacked from a pristine copy.
    Restored,
    Resumed,
    /// It was there already.
    Existing,
}

impl std::fmt::Display for How {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            How::Bootstrapped => "bootstrapped",
            How::Restored => "restored",
            How::Resumed => "resumed",
            How::Existing => "existing",
        })
    }
}

/// What a bootstrap did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub name: String,
    pub arch: String,
    pub location: std::path::PathBuf,
    pub log: std::path::PathBuf,
    pub how: How,
    pub tool: String,
    pub seconds: f64,
    /// What `--accel` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accel: Option<accel_step::Outcome>,
}

fn apply(
    action: &Action,
    root: &Path,
    log: &mut Log,
    progress: &Progress,
    backend: &dyn Backend,
) -> Result<()> {
    match action {
        Action::Mkdir { path } => std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create {}", path.display())),
        Action::Symlink { path, target } => {
            if std::fs::symlink_metadata(path).is_err() {
                std::os::unix::fs::symlink(target, path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
            }
            Ok(())
        }
        Action::WriteFile { path, contents } => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(path, contents)
                .with_context(|| format!("cannot write {}", path.display()))
        }
        Action::Run { phase, argv, env } => {
            progress.phase(phase);
            run_command(argv, env, root, log, progress, &|line| backend.event(line))
        }
        Action::AccelBundle { .. } => {
            anyhow::bail!("{action:?} is a step after the root is complete, not a backend's step")
        }
    }
}

/// The steps after the root is complete, whatever made it (`--dry-run` lists them after
/// the backend's).
pub fn after_steps(req: &Request) -> Result<Vec<Action>> {
    let arch = crate::arch::lookup(&req.plan.arch)?;
    Ok(if req.accel {
        vec![Action::AccelBundle {
            container: req.name.clone(),
            bundle: crate::accel::host::bundle_on_host(arch),
        }]
    } else {
        vec![]
    })
}

/// Carry out [`after_steps`] for the registered container `record`, saving it again
/// when it is accelerated now. The root stays registered whatever happens here.
fn after_the_root(
    req: &Request,
    record: &mut Record,
    outcome: &mut Outcome,
    json: bool,
) -> Result<()> {
    for step in after_steps(req)? {
        let Action::AccelBundle { container, .. } = &step else {
            anyhow::bail!("{step:?} is not a step after the root");
        };
        let arch = crate::arch::lookup(&req.plan.arch)?;
        let task = format!("accelerate {container}");
        let progress = if json {
            Progress::on_stderr(&task)
        } else {
            Progress::new(&task)
        };
        let was = if record.accel {
            "still accelerated with the bundle there"
        } else {
            "not accelerated"
        };
        let done =
            accel_step::carry_out(container, &req.location, arch, &progress).map_err(|e| {
                anyhow::anyhow!(
                    "{container} is bootstrapped and registered ({was}), but --accel failed: {}",
                    crate::error::one_line(&e)
                )
            })?;
        if done.accelerated() {
            record.accel = true;
            state::save(record)?;
            progress.finish(&format!("{} bundle {}", done.how, done.bundle.display()));
        } else {
            progress.finish("nothing to accelerate");
        }
        outcome.accel = Some(done);
    }
    Ok(())
}

/// Hold the package cache of this backend and arch for this bootstrap alone: apt locks
/// its archive directory, and two bootstraps sharing it would fail. Waits for another
/// bootstrap to finish (interruptibly).
fn lock_cache(cache: &Path, progress: &Progress) -> Result<crate::sys::lock::FileLock> {
    crate::sys::lock::exclusive(
        &cache.with_extension("lock"),
        &mut || {
            progress.phase(&format!(
                "waiting for another bootstrap that uses {}",
                cache.display()
            ))
        },
        &check_interrupted,
    )
}

/// Bootstrap as `req` says. On failure or interruption nothing stays mounted below the
/// root, no container is registered, and the partial root is kept for a resume.
pub fn execute(req: &Request, backend: &dyn Backend) -> Result<Outcome> {
    execute_reporting(req, backend, false)
}

/// What `req` will do with its location, decided from the facts now.
pub fn decide(req: &Request, backend: &dyn Backend) -> Result<Decision> {
    decision::decide(
        req,
        &Facts::gather(req, backend.tool(), backend.resumable())?,
    )
}

/// [`execute`], with progress as plain lines on stderr when `json` (stdout then carries
/// only the caller's JSON result).
pub fn execute_reporting(req: &Request, backend: &dyn Backend, json: bool) -> Result<Outcome> {
    execute_locked(req, backend, json).map_err(|err| {
        // A full disk can also hit archbuild's own writes (the marker, the log).
        let full = crate::disk_space::says_full(&format!("{err:#}"))
            && !crate::error::one_line(&err).contains("is full:");
        match full
            .then(|| crate::disk_space::explain_full(&req.location, true, None))
            .flatten()
        {
            Some(full) => anyhow::anyhow!("bootstrap of {} failed: {full}", req.name),
            None => err,
        }
    })
}

fn execute_locked(req: &Request, backend: &dyn Backend, json: bool) -> Result<Outcome> {
    let began = Instant::now();
    let arch = crate::arch::lookup(&req.plan.arch)?;
    let root = &req.location;
    let _signals = Catching::install();
    let _container = crate::locks::container_interruptible(&req.name, &check_interrupted)?;
    // Holding the lock proves no other run is alive: end what a killed one left.
    if location::marker_path(root).exists() {
        let ended = super::supervise::end_leftovers(root)?;
        if ended > 0 {
            eprintln!(
                "archbuild: ended {ended} process(es) an interrupted bootstrap of {} left working on {}",
                req.name,
                root.display()
            );
        }
    }
    let decision = decide(req, backend)?;
    let log_path = root.join(LOG_IN_ROOT);
    let mut record = Record {
        name: req.name.clone(),
        arch: arch.obs.to_string(),
        location: root.clone(),
        binds: vec![],
        emulator: req.emulator.clone(),
        origin: Origin::Bootstrap,
        accel: false,
    };
    let outcome = |how: How, tool: &str| Outcome {
        name: req.name.clone(),
        arch: arch.obs.to_string(),
        location: root.clone(),
        log: log_path.clone(),
        how,
        tool: tool.into(),
        seconds: began.elapsed().as_secs_f64(),
        accel: None,
    };
    let Decision::Make {
        empty_first,
        source,
    } = decision
    else {
        // The root is as it was: so is its acceleration, unless --accel says more.
        record.accel = state::load(&req.name)?.is_some_and(|r| r.accel);
        state::save(&record)?;
        let mut done = outcome(How::Existing, backend.tool());
        after_the_root(req, &mut record, &mut done, json)?;
        return Ok(done);
    };
    let task = format!("bootstrap {}", req.name);
    let progress = if json {
        Progress::on_stderr(&task)
    } else {
        Progress::new(&task)
    };
    // Package scripts run under emulation: the kernel must hand this arch's binaries
    // to a static emulator, inside the root too (F flag).
    progress.phase("checking binfmt_misc");
    crate::binfmt::ensure(arch, req.emulator.as_deref())?;

    if empty_first {
        progress.phase("emptying the old root");
        location::empty(root)?;
    }
    std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let (how, tool) = match &source {
        Source::Pristine { .. } => (How::Restored, "pristine copy".to_string()),
        Source::Backend { resume: true } => (How::Resumed, backend.tool().to_string()),
        Source::Backend { resume: false } => (How::Bootstrapped, backend.tool().to_string()),
    };
    let mut marker = Marker {
        state: RootState::Incomplete,
        plan: req.plan.clone(),
        tool: tool.clone(),
        started: location::now(),
        finished: None,
    };
    location::write_marker(root, &marker)?;
    let mut log = Log::open(&log_path)?;
    log.line(&format!(
        "archbuild: {} {} of {} ({}) at {}",
        if how == How::Resumed {
            "resuming bootstrap"
        } else {
            "bootstrap"
        },
        req.name,
        arch.obs,
        req.plan.source,
        location::now()
    ));
    log.line(&format!(
        "archbuild: plan: {}",
        serde_json::to_string(&req.plan)?
    ));

    let result = match &source {
        Source::Pristine { copy } => restore_pristine(copy, root, &mut log, &progress),
        Source::Backend { .. } => make_with_backend(req, backend, arch, &mut log, &progress),
    };

    // Whatever happened, nothing may stay mounted below the root.
    let leftover = location::unmount_under(root);
    match (&result, leftover) {
        (_, Err(e)) => return Err(e),
        (_, Ok(m)) if !m.is_empty() => {
            log.line(&format!("archbuild: unmounted what was left: {m:?}"));
        }
        _ => {}
    }
    if let Err(err) = result {
        drop(progress);
        if let Some(Interrupted(sig)) = err.downcast_ref::<Interrupted>() {
            log.line(&format!("archbuild: interrupted by signal {sig}"));
            eprintln!(
                "archbuild: bootstrap of {} interrupted: the partial root at {} is kept (nothing mounted, no container registered); run the same command again to resume, or add --force to start over",
                req.name,
                root.display()
            );
            return Err(crate::error::ExitStatus(128 + sig).into());
        }
        log.line(&format!(
            "archbuild: failed: {}",
            crate::error::one_line(&err)
        ));
        let said_full = log.said_full || crate::disk_space::says_full(&format!("{err:#}"));
        if let Some(full) =
            crate::disk_space::explain_full(root, said_full, log.space_needed.as_deref())
        {
            return Err(anyhow::anyhow!(
                "bootstrap of {} failed: {full} (the partial root is kept, marked incomplete; log: {})",
                req.name,
                log_path.display()
            ));
        }
        return Err(err.context(format!(
            "bootstrap of {} failed (full log: {}; fix the cause and run the same command again to resume, or add --force to start over)",
            req.name,
            log_path.display()
        )));
    }
    marker.state = RootState::Complete;
    marker.finished = Some(location::now());
    location::write_marker(root, &marker)?;
    if let Some(sig) = Catching::pending() {
        eprintln!(
            "archbuild: bootstrap of {} interrupted after the root was complete: run the same command again to register it",
            req.name
        );
        return Err(crate::error::ExitStatus(128 + sig).into());
    }
    state::save(&record)?;
    log.line("archbuild: bootstrap complete");
    progress.finish(&format!("done in {:.1} s", began.elapsed().as_secs_f64()));
    let mut done = outcome(how, &tool);
    after_the_root(req, &mut record, &mut done, json)?;
    Ok(done)
}

fn restore_pristine(copy: &Path, root: &Path, log: &mut Log, progress: &Progress) -> Result<()> {
    let age = std::fs::metadata(copy)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map(|d| d.as_secs() / 86400)
        .unwrap_or(0);
    progress.phase(&format!(
        "unpacking the pristine copy {} ({age} day(s) old; --no-cache makes a fresh root)",
        copy.display()
    ));
    let cmd = pristine::restore(copy, root);
    let argv: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    run_command(&argv, &[], root, log, progress, &|_| None)
}

fn make_with_backend(
    req: &Request,
    backend: &dyn Backend,
    arch: &crate::arch::Arch,
    log: &mut Log,
    progress: &Progress,
) -> Result<()> {
    let root = &req.location;
    let ctx = Context {
        package_cache: pristine::package_cache(backend.tool(), arch.deb),
    };
    let _cache_lock = lock_cache(&ctx.package_cache, progress)?;
    for action in backend.actions(&req.plan, root, &ctx)? {
        apply(&action, root, log, progress, backend)?;
        check_interrupted()?;
    }
    backend.finish(&req.plan, root)?;
    progress.phase("saving a pristine copy for the next bootstrap");
    let saved = pristine::save(root, &pristine::key(&req.plan, backend.tool()), &req.plan)?;
    log.line(&format!(
        "archbuild: pristine copy saved as {}",
        saved.display()
    ));
    Ok(())
}
