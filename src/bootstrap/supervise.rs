//! Running one backend command: in its own process group and private mount namespace,
//! dying with archbuild (`sys::process::isolate`), its output going to the log and to
//! the progress display, signals caught meanwhile passed on to its group, and whatever
//! it left running in its namespace ended before the next step.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::log::Log;
use super::Event;
use crate::progress::Progress;
use crate::sys::process::{end_recorded, isolate, record_namespaces, signal_group, ProcessId};
use crate::sys::signals::Catching;

/// The bootstrap was interrupted by this signal (exit status 128 + signal).
#[derive(Debug)]
pub struct Interrupted(pub i32);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by signal {}", self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Fail with [`Interrupted`] when a signal came in.
pub fn check_interrupted() -> Result<()> {
    match Catching::pending() {
        Some(sig) => Err(Interrupted(sig).into()),
        None => Ok(()),
    }
}

/// Lines of the command's output (progress meters redraw with \r: the last state of
/// each line), read on a thread of their own.
fn read_lines(read: std::os::fd::OwnedFd) -> (mpsc::Receiver<String>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(File::from(read));
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
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
    (rx, reader)
}

/// The file in a root that names the namespace of the command working on it, while it
/// runs: a run that was killed leaves it behind for the next one.
pub fn running_file(root: &Path) -> PathBuf {
    root.join(super::STATE_DIR_IN_ROOT).join("running")
}

/// End whatever a killed earlier run left working on `root` (its command's namespace,
/// as `running_file` names it). Returns how many processes were ended.
pub fn end_leftovers(root: &Path) -> Result<usize> {
    end_recorded(&running_file(root))
}

/// Run `argv` isolated, working on `root`, its output going to `log` and through
/// `event` to `progress`.
pub fn run_command(
    argv: &[String],
    env: &[(String, String)],
    root: &Path,
    log: &mut Log,
    progress: &Progress,
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
    isolate(&mut cmd);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}: is it installed?", argv[0]))?;
    drop(cmd); // closes our copies of the pipe's write end
    let group = Pid::from_raw(child.id() as i32);
    // The child's private mount namespace: whatever is left in it at the end is ended.
    // The command's namespaces (mount and PID): a run killed before it cleans up
    // leaves them named for the next one.
    if let Some(me) = ProcessId::current() {
        record_namespaces(child.id(), &me, &running_file(root))?;
    }
    let (lines, reader) = read_lines(read);
    let mut forwarded: Option<Instant> = None;
    let mut exited: Option<(std::process::ExitStatus, Instant)> = None;
    loop {
        match lines.recv_timeout(Duration::from_millis(100)) {
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
        if let Some(sig) = Catching::pending() {
            match forwarded {
                None => {
                    log.line(&format!(
                        "archbuild: got signal {sig}, stopping {}",
                        argv[0]
                    ));
                    signal_group(group, Signal::try_from(sig).unwrap_or(Signal::SIGTERM));
                    forwarded = Some(Instant::now());
                }
                Some(when) if when.elapsed() > Duration::from_secs(10) => {
                    signal_group(group, Signal::SIGKILL);
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
                signal_group(group, Signal::SIGKILL);
                break;
            }
        }
    }
    let Some((status, _)) = exited else {
        bail!("{} ended without an exit status", argv[0]);
    };
    let ended = end_leftovers(root)?;
    if ended > 0 {
        log.line(&format!(
            "archbuild: ended {ended} process(es) {} left behind",
            argv[0]
        ));
    }
    drop(lines);
    // The reader ends with the pipe. Something outside the namespace (a daemon that
    // unshared again) may hold it open: kill the group, give it a moment, and join the
    // reader when it is done (forks after this are allocation-free, so a reader left
    // behind does no harm).
    signal_group(group, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if reader.is_finished() {
        let _ = reader.join();
    }
    check_interrupted()?;
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
