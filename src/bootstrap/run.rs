//! Execute a bootstrap: decide what the location allows (new, resume, start over,
//! refuse), register the emulator, run the backend's actions with progress and a log
//! inside the root, keep or reuse a pristine copy, and register the container only when
//! everything succeeded.
//!
//! Every command runs in its own process group and its own private mount namespace, so
//! the mounts a backend makes (mmdebstrap mounts /proc, /dev, /sys and the package
//! cache) vanish with it even if it is killed. SIGINT, SIGTERM and SIGHUP are caught,
//! passed on to the running command, and end the bootstrap with the partial root kept
//! (marked incomplete) and no container registered.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use serde::Serialize;

use super::location::{self, Found, Marker};
use super::plan::Plan;
use super::{pristine, Action, Backend, Context, Event, LOG_IN_ROOT};
use crate::progress::Progress;
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
}

/// Progress on the terminal (spinner or plain lines on stdout), or plain lines on
/// stderr when stdout carries JSON.
enum Report {
    Progress(Progress),
    Stderr(String),
}

impl Report {
    fn new(task: &str, json: bool) -> Report {
        if json {
            Report::Stderr(task.to_string())
        } else {
            Report::Progress(Progress::new(task))
        }
    }

    fn phase(&self, msg: &str) {
        match self {
            Report::Progress(p) => p.phase(msg),
            Report::Stderr(task) => eprintln!("archbuild: {task}: {msg}"),
        }
    }

    fn count(&self, what: &str, done: u64, total: Option<u64>) {
        match self {
            Report::Progress(p) => p.count(what, done, total),
            Report::Stderr(task) if done.is_multiple_of(10) || Some(done) == total => match total {
                Some(t) => eprintln!("archbuild: {task}: {what} {done}/{t}"),
                None => eprintln!("archbuild: {task}: {what} {done}"),
            },
            Report::Stderr(_) => {}
        }
    }

    fn finish(self, msg: &str) {
        match self {
            Report::Progress(p) => p.finish(msg),
            Report::Stderr(task) => eprintln!("archbuild: {task}: {msg}"),
        }
    }
}

/// What a bootstrap did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub name: String,
    pub arch: String,
    pub location: PathBuf,
    pub log: PathBuf,
    /// "bootstrapped", "restored" (from a pristine copy), "resumed" or "existing".
    pub how: String,
    pub tool: String,
    pub seconds: f64,
}

/// The bootstrap was interrupted by this signal (exit status 128 + signal).
#[derive(Debug)]
pub struct Interrupted(pub i32);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by signal {}", self.0)
    }
}

impl std::error::Error for Interrupted {}

static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(sig: nix::libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
}

/// Signals are caught while a bootstrap runs; the earlier handlers come back when this
/// is dropped (a caller such as `archbuild build` goes on after the bootstrap).
struct CaughtSignals(Vec<(Signal, SigAction)>);

impl Drop for CaughtSignals {
    fn drop(&mut self) {
        for (sig, old) in &self.0 {
            // SAFETY: restores the disposition that was in force before.
            let _ = unsafe { signal::sigaction(*sig, old) };
        }
    }
}

fn catch_signals() -> Result<CaughtSignals> {
    SIGNAL.store(0, Ordering::SeqCst);
    let action = SigAction::new(
        SigHandler::Handler(note_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    let mut caught = CaughtSignals(Vec::new());
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        let old =
            unsafe { signal::sigaction(sig, &action) }.context("cannot install signal handler")?;
        caught.0.push((sig, old));
    }
    Ok(caught)
}

fn pending_signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The log: every line of every command, and the last lines for error messages.
struct Log {
    file: File,
    tail: VecDeque<String>,
}

impl Log {
    fn open(path: &Path) -> Result<Log> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Log {
            file,
            tail: VecDeque::new(),
        })
    }

    fn line(&mut self, line: &str) {
        let _ = writeln!(self.file, "{line}");
        if !line.trim().is_empty() {
            if self.tail.len() == 40 {
                self.tail.pop_front();
            }
            self.tail.push_back(line.trim().to_string());
        }
    }

    /// The line that most likely says what went wrong.
    fn culprit(&self) -> Option<String> {
        let telling = |l: &&String| {
            let lower = l.to_lowercase();
            l.starts_with("E:")
                || lower.contains("error")
                || lower.contains("not found")
                || lower.contains("no provider")
                || lower.contains("problem")
                || lower.contains("failed")
                || lower.contains("cannot")
                || lower.contains("unable")
        };
        self.tail
            .iter()
            .rev()
            .find(|l| telling(l) && !l.starts_with("archbuild:"))
            .or_else(|| {
                self.tail
                    .iter()
                    .rev()
                    .find(|l| !l.starts_with("archbuild:"))
            })
            .cloned()
    }
}

/// Run `argv` in a private mount namespace and its own process group, its output going
/// to the log and to `event` for progress. Signals received meanwhile are passed on.
fn run_child(
    argv: &[String],
    env: &[(String, String)],
    log: &mut Log,
    progress: &Report,
    event: &dyn Fn(&str) -> Option<Event>,
) -> Result<()> {
    log.line(&format!(
        "archbuild: running: {}",
        argv.iter()
            .map(|a| super::shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let (read, write) = nix::unistd::pipe().context("cannot create a pipe")?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(write.try_clone()?))
        .stderr(Stdio::from(write));
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0))?;
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )?;
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}: is it installed?", argv[0]))?;
    drop(cmd); // closes our copies of the pipe's write end
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    // The child's private mount namespace: whatever is left in it at the end is ended.
    let namespace = std::fs::read_link(format!("/proc/{}/ns/mnt", child.id())).ok();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(File::from(read));
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    // progress meters redraw with \r: keep the last state of each line
                    let text = String::from_utf8_lossy(&buf);
                    let text = text.trim_end_matches(['\n', '\r']);
                    let text = text.rsplit('\r').next().unwrap_or(text);
                    if tx.send(text.to_string()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut forwarded: Option<(i32, Instant)> = None;
    let mut exited: Option<(std::process::ExitStatus, Instant)> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                log.line(&line);
                match event(&line) {
                    Some(Event::Phase(p)) => progress.phase(&p),
                    Some(Event::Count { what, done, total }) => progress.count(what, done, total),
                    None => {}
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if exited.is_none() {
                    exited = Some((child.wait()?, Instant::now()));
                }
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(sig) = pending_signal() {
            match forwarded {
                None => {
                    let s = Signal::try_from(sig).unwrap_or(Signal::SIGTERM);
                    log.line(&format!(
                        "archbuild: got signal {sig}, stopping {}",
                        argv[0]
                    ));
                    let _ = signal::killpg(pgid, s);
                    forwarded = Some((sig, Instant::now()));
                }
                Some((_, when)) if when.elapsed() > Duration::from_secs(10) => {
                    let _ = signal::killpg(pgid, Signal::SIGKILL);
                }
                Some(_) => {}
            }
        }
        if exited.is_none() {
            if let Some(status) = child.try_wait()? {
                exited = Some((status, Instant::now()));
            }
        }
        // Something the command started may hold the pipe open: stop waiting for it.
        if let Some((_, when)) = exited {
            if when.elapsed() > Duration::from_secs(2) {
                let _ = signal::killpg(pgid, Signal::SIGKILL);
                break;
            }
        }
    }
    let (status, _) = exited.expect("child waited for");
    if let Some(ns) = &namespace {
        let ended = end_namespace(ns);
        if ended > 0 {
            log.line(&format!(
                "archbuild: ended {ended} process(es) {} left behind",
                argv[0]
            ));
        }
    }
    drop(rx);
    if reader.is_finished() {
        let _ = reader.join();
    }
    if let Some(sig) = pending_signal() {
        return Err(Interrupted(sig).into());
    }
    if !status.success() {
        let why = match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => format!("was killed ({status})"),
        };
        match log.culprit() {
            Some(line) => bail!("{} {why}: \"{line}\"", argv[0]),
            None => bail!("{} {why}", argv[0]),
        }
    }
    Ok(())
}

/// Kill every process in the mount namespace `ns` (a `mnt:[inode]` link) and wait until
/// none is left; returns how many there were.
fn end_namespace(ns: &Path) -> usize {
    let me = std::process::id();
    let mut ended = std::collections::HashSet::new();
    for _ in 0..100 {
        let mut found = false;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == me {
                continue;
            }
            if std::fs::read_link(entry.path().join("ns/mnt")).is_ok_and(|l| l == ns) {
                found = true;
                ended.insert(pid);
                let _ = signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
        if !found {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ended.len()
}

fn apply(action: &Action, log: &mut Log, progress: &Report, backend: &dyn Backend) -> Result<()> {
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
            run_child(argv, env, log, progress, &|line| backend.event(line))
        }
    }
}

/// Hold the package cache of this backend and arch for this bootstrap alone: apt locks
/// its archive directory, and two bootstraps sharing it would fail. Waits for another
/// bootstrap to finish (interruptibly).
fn lock_cache(cache: &Path, progress: &Report) -> Result<nix::fcntl::Flock<File>> {
    use nix::fcntl::{Flock, FlockArg};
    let path = cache.with_extension("lock");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut told = false;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((f, nix::errno::Errno::EWOULDBLOCK)) => {
                file = f;
                if !told {
                    progress.phase(&format!(
                        "waiting for another bootstrap that uses {}",
                        cache.display()
                    ));
                    told = true;
                }
                if let Some(sig) = pending_signal() {
                    return Err(Interrupted(sig).into());
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err((_, e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}

/// Plans are the same root when they install the same things from the same places.
fn same_content(a: &Plan, b: &Plan) -> bool {
    a.arch == b.arch && a.backend == b.backend && a.repositories == b.repositories && {
        let mut x = a.packages.clone();
        let mut y = b.packages.clone();
        x.sort();
        y.sort();
        x == y
    }
}

/// How the location will be used.
#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    Fresh,
    Resume,
    StartOver,
    AlreadyDone,
}

/// Decide what to do with the location, refusing what must be refused. Changes nothing.
pub fn decide(req: &Request, tool: &str, resumable: bool) -> Result<Start> {
    if let Some(existing) = state::load(&req.name)? {
        if existing.location != req.location {
            return Err(crate::error::usage(format!(
                "a container named '{}' already exists at {}: pick another --name, or `archbuild remove {}` first",
                req.name,
                existing.location.display(),
                req.name
            )));
        }
    }
    for other in state::list()? {
        if other.location == req.location && other.name != req.name {
            return Err(crate::error::usage(format!(
                "{} is the root of container '{}': pick another --location",
                req.location.display(),
                other.name
            )));
        }
    }
    let running = crate::paths::pin_dir().join(&req.name).exists();
    Ok(match location::inspect(&req.location)? {
        Found::Missing | Found::Empty => Start::Fresh,
        Found::Foreign(why) => bail!(
            "refusing to bootstrap into {}: {why}; choose another --location (archbuild never overwrites a directory it did not create)",
            req.location.display()
        ),
        Found::Ours(_) if req.force && running => bail!(
            "container '{}' is running: `archbuild stop {}` first, then bootstrap with --force",
            req.name,
            req.name
        ),
        Found::Ours(_) if req.force => Start::StartOver,
        Found::Ours(m) if m.is_complete() && same_content(&m.plan, &req.plan) => Start::AlreadyDone,
        Found::Ours(m) if m.is_complete() => bail!(
            "{} already holds a root bootstrapped from {} ({}): add --force to replace it, or choose another --location",
            req.location.display(),
            m.plan.source,
            m.tool
        ),
        Found::Ours(m) if resumable && m.tool == tool => Start::Resume,
        Found::Ours(_) => Start::StartOver,
    })
}

/// Bootstrap as `req` says. On failure or interruption nothing stays mounted below the
/// root, no container is registered, and the partial root is kept for a resume.
pub fn execute(req: &Request, backend: &dyn Backend) -> Result<Outcome> {
    execute_reporting(req, backend, false)
}

/// [`execute`], with progress as plain lines on stderr when `json` (stdout then carries
/// only the caller's JSON result).
pub fn execute_reporting(req: &Request, backend: &dyn Backend, json: bool) -> Result<Outcome> {
    let began = Instant::now();
    let arch = crate::arch::lookup(&req.plan.arch)?;
    let root = &req.location;
    let start = decide(req, backend.tool(), backend.resumable())?;
    let log_path = root.join(LOG_IN_ROOT);
    let record = Record {
        name: req.name.clone(),
        arch: arch.obs.to_string(),
        location: root.clone(),
        binds: vec![],
        emulator: req.emulator.clone(),
        origin: "bootstrap".into(),
    };
    let outcome = |how: &str, tool: &str| Outcome {
        name: req.name.clone(),
        arch: arch.obs.to_string(),
        location: root.clone(),
        log: log_path.clone(),
        how: how.into(),
        tool: tool.into(),
        seconds: began.elapsed().as_secs_f64(),
    };
    if start == Start::AlreadyDone {
        state::save(&record)?;
        return Ok(outcome("existing", backend.tool()));
    }
    let _signals = catch_signals()?;
    let progress = Report::new(&format!("bootstrap {}", req.name), json);
    // Package scripts run under emulation: the kernel must hand this arch's binaries
    // to a static emulator, inside the root too (F flag).
    progress.phase("checking binfmt_misc");
    crate::binfmt::ensure(arch, req.emulator.as_deref())?;

    let pristine_key = pristine::key(&req.plan, backend.tool());
    let pristine_copy = if req.use_pristine {
        pristine::find(&pristine_key)
    } else {
        None
    };
    let resume = start == Start::Resume && pristine_copy.is_none();
    if start == Start::StartOver || (start == Start::Resume && !resume) {
        progress.phase("emptying the old root");
        location::empty(root)?;
    }
    std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let tool = match &pristine_copy {
        Some(_) => "pristine copy".to_string(),
        None => backend.tool().to_string(),
    };
    let mut marker = Marker {
        state: "incomplete".into(),
        plan: req.plan.clone(),
        tool: tool.clone(),
        started: location::now(),
        finished: None,
    };
    location::write_marker(root, &marker)?;
    let mut log = Log::open(&log_path)?;
    log.line(&format!(
        "archbuild: {} {} of {} ({}) at {}",
        if resume {
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

    let result = (|| -> Result<()> {
        if let Some(tar) = &pristine_copy {
            let age = std::fs::metadata(tar)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .map(|d| d.as_secs() / 86400)
                .unwrap_or(0);
            progress.phase(&format!(
                "unpacking the pristine copy {} ({age} day(s) old; --no-cache makes a fresh root)",
                tar.display()
            ));
            let cmd = pristine::restore(tar, root);
            let argv: Vec<String> = std::iter::once(cmd.get_program())
                .chain(cmd.get_args())
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            run_child(&argv, &[], &mut log, &progress, &|_| None)?;
        } else {
            let ctx = Context {
                package_cache: pristine::package_cache(backend.tool(), arch.deb),
            };
            let _cache_lock = lock_cache(&ctx.package_cache, &progress)?;
            for action in backend.actions(&req.plan, root, &ctx)? {
                apply(&action, &mut log, &progress, backend)?;
                if let Some(sig) = pending_signal() {
                    return Err(Interrupted(sig).into());
                }
            }
            backend.finish(&req.plan, root)?;
            progress.phase("saving a pristine copy for the next bootstrap");
            let saved = pristine::save(root, &pristine_key, &req.plan)?;
            log.line(&format!(
                "archbuild: pristine copy saved as {}",
                saved.display()
            ));
        }
        Ok(())
    })();

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
        return Err(err.context(format!(
            "bootstrap of {} failed (full log: {}; fix the cause and run the same command again to resume, or add --force to start over)",
            req.name,
            log_path.display()
        )));
    }
    marker.state = "complete".into();
    marker.finished = Some(location::now());
    location::write_marker(root, &marker)?;
    if let Some(sig) = pending_signal() {
        eprintln!(
            "archbuild: bootstrap of {} interrupted after the root was complete: run the same command again to register it",
            req.name
        );
        return Err(crate::error::ExitStatus(128 + sig).into());
    }
    state::save(&record)?;
    log.line("archbuild: bootstrap complete");
    let how = if pristine_copy.is_some() {
        "restored"
    } else if resume {
        "resumed"
    } else {
        "bootstrapped"
    };
    progress.finish(&format!("done in {:.1} s", began.elapsed().as_secs_f64()));
    Ok(outcome(how, &tool))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn culprit_prefers_error_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(&dir.path().join("l")).unwrap();
        log.line("Loading repository data...");
        log.line("No provider of 'nosuch' found.");
        log.line("archbuild: failed");
        log.line("");
        assert_eq!(
            log.culprit().as_deref(),
            Some("No provider of 'nosuch' found.")
        );
    }

    #[test]
    fn plans_compare_by_content() {
        let a = Plan {
            arch: "aarch64".into(),
            backend: crate::bootstrap::plan::Backend::Zypper,
            source: "tumbleweed".into(),
            repositories: vec![],
            packages: vec!["a".into(), "b".into()],
            emulator: None,
        };
        let mut b = a.clone();
        b.packages.reverse();
        b.source = "repo".into();
        assert!(same_content(&a, &b));
        b.packages.push("c".into());
        assert!(!same_content(&a, &b));
    }
}
