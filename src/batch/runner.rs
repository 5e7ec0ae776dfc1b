//! Runs the jobs of a batch: each cell is one `archbuild build` process (the single
//! build, with its own build root), in its own process group, its output kept in the
//! cell's log and read for the phase. At most `jobs` at once and `emulated_cap`
//! emulated; the package cache is shared safely by the single build's lock. On SIGINT,
//! SIGTERM or SIGHUP (Ctrl-C) every running build gets SIGINT (osc stops obs-build with
//! `build --kill` and returns), the rest is not started, and each is marked cancelled.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::display::Display;
use super::outcome::{CellOutcome, Code};
use super::phase::{self, Ending, Phase};
use super::work::Job;
use crate::matrix::Cell;
use crate::sys::signals::Catching;

/// After SIGINT, how long a build has to end before SIGTERM, and then SIGKILL.
const GRACE_INT: Duration = Duration::from_secs(60);
const GRACE_TERM: Duration = Duration::from_secs(15);
/// Lines of the log kept for the result's reason.
const TAIL: usize = 40;

pub struct Runner<'a> {
    /// The archbuild program the cells run.
    pub archbuild: PathBuf,
    /// Options of `archbuild build` for every cell (`--user`, `--oscrc`, `--osc`, `--apiurl`).
    pub build_args: Vec<String>,
    /// `osc build` options for every cell.
    pub osc_options: Vec<String>,
    pub jobs: usize,
    pub emulated_cap: usize,
    pub fail_fast: bool,
    /// One log per cell here.
    pub log_dir: PathBuf,
    /// Build roots of the cells under here, one per cell.
    pub build_root_dir: PathBuf,
    pub display: &'a Display,
}

/// A file name part for a cell: `hello-doc_Debian_12_aarch64`.
pub fn cell_file_name(cell: &Cell) -> String {
    let raw = format!(
        "{}_{}_{}",
        cell.obs_name().replace(':', "-"),
        cell.repository,
        cell.arch
    );
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The `archbuild build` arguments of a cell.
pub fn build_argv(
    cell: &Cell,
    build_args: &[String],
    root: &Path,
    osc_options: &[String],
) -> Vec<String> {
    let mut argv = vec![
        "build".to_string(),
        cell.repository.clone(),
        cell.arch.clone(),
    ];
    argv.extend(build_args.iter().cloned());
    argv.push("--".into());
    argv.push(format!("--root={}", root.display()));
    if let Some(f) = &cell.flavor {
        argv.push("-M".into());
        argv.push(f.clone());
    }
    argv.extend(osc_options.iter().cloned());
    argv
}

/// The file obs-build's `init_buildsystem` leaves in a build root whose set-up did not
/// finish (Ctrl-C, a kill); on the next run it asks whether to wipe the root, which a
/// batch cannot answer.
pub const SETUP_UNFINISHED: &str = "not-ready";

/// The osc options of a cell: `--clean` added when the build root's set-up was
/// interrupted (obs-build would stop and ask), unless the options already clean.
pub fn cell_options(options: &[String], setup_unfinished: bool) -> (Vec<String>, bool) {
    let cleans = options.iter().any(|o| o == "--clean");
    if setup_unfinished && !cleans {
        let mut with = options.to_vec();
        with.push("--clean".into());
        return (with, true);
    }
    (options.to_vec(), false)
}

/// The packages a build left in its build root.
pub fn artifacts(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() && depth < 3 {
                walk(&p, found, depth + 1);
            } else if t.is_file()
                && [".rpm", ".deb", ".udeb", ".ddeb"]
                    .iter()
                    .any(|x| p.to_string_lossy().ends_with(x))
            {
                found.push(p);
            }
        }
    }
    let mut found = Vec::new();
    for sub in ["usr/src/packages", "home/abuild/rpmbuild"] {
        for kind in ["RPMS", "SRPMS", "DEBS", "OTHER"] {
            walk(&root.join(sub).join(kind), &mut found, 0);
        }
    }
    found.sort();
    found
}

enum Message {
    Line(usize, String),
    Eof(usize),
}

struct Running {
    job: Job,
    child: Child,
    started: Instant,
    phase: Phase,
    log: PathBuf,
    root: PathBuf,
    tail: VecDeque<String>,
    eof: bool,
    interrupted: Option<Instant>,
    terminated: bool,
}

/// Why the batch stopped starting cells.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stop {
    Signal(i32),
    FailFast(String),
}

impl Stop {
    fn reason(&self) -> String {
        match self {
            Stop::Signal(_) => "the batch was cancelled".into(),
            Stop::FailFast(first) => format!("--fail-fast: {first} failed"),
        }
    }
}

impl Runner<'_> {
    fn start(&self, id: usize, job: Job, tx: &mpsc::Sender<Message>) -> Result<Running> {
        let name = cell_file_name(&job.cell);
        let log = self.log_dir.join(format!("{name}.log"));
        let root = self.build_root_dir.join(&name);
        let mut file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create the log {}", log.display()))?;
        let (options, cleaned) =
            cell_options(&self.osc_options, root.join(SETUP_UNFINISHED).exists());
        let argv = build_argv(&job.cell, &self.build_args, &root, &options);
        if cleaned {
            let _ = writeln!(
                file,
                "archbuild: batch: the set-up of {} was interrupted earlier: it is made anew (--clean)",
                root.display()
            );
        }
        let _ = writeln!(
            file,
            "archbuild: batch: {} in {}: {} {}",
            super::display::cell_name(&job.cell),
            job.checkout.display(),
            self.archbuild.display(),
            argv.join(" ")
        );
        let (read, write) = nix::unistd::pipe().context("cannot make a pipe")?;
        let write2 = write.try_clone().context("cannot make a pipe")?;
        let child = Command::new(&self.archbuild)
            .args(&argv)
            .current_dir(&job.checkout)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(write2))
            .env("ARCHBUILD_PLAIN", "1")
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot run {}", self.archbuild.display()))?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(std::fs::File::from(read));
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let _ = file.write_all(&buf);
                        let line = String::from_utf8_lossy(&buf)
                            .trim_end_matches(['\n', '\r'])
                            .to_string();
                        if tx.send(Message::Line(id, line)).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = file.flush();
            let _ = tx.send(Message::Eof(id));
        });
        Ok(Running {
            job,
            child,
            started: Instant::now(),
            phase: Phase::Waiting,
            log,
            root,
            tail: VecDeque::new(),
            eof: false,
            interrupted: None,
            terminated: false,
        })
    }

    fn outcome(
        &self,
        r: &Running,
        status: std::process::ExitStatus,
        cancelled: bool,
    ) -> CellOutcome {
        let tail: Vec<String> = r.tail.iter().cloned().collect();
        let (code, rule) = phase::code_of(&Ending {
            exit_status: status.code(),
            build_started: r.phase >= Phase::BuildRoot,
            cancelled,
            log_tail: &tail,
        });
        let rule = match (code, status.signal()) {
            (Code::Infrastructure, Some(sig)) => {
                format!("the build was killed by signal {sig}")
            }
            _ => rule,
        };
        let lint = super::lint::from_log(&std::fs::read_to_string(&r.log).unwrap_or_default());
        CellOutcome {
            cell: r.job.cell.clone(),
            checkout: r.job.checkout.clone(),
            code,
            rule,
            exit_status: status.code(),
            duration: Some(r.started.elapsed().as_secs_f64()),
            log: Some(r.log.clone()),
            artifacts: if code == Code::Succeeded {
                artifacts(&r.root)
            } else {
                vec![]
            },
            rpmlint: lint.rpmlint,
            lintian: lint.lintian,
        }
    }

    fn not_started(job: &Job, why: &str) -> CellOutcome {
        CellOutcome::unbuilt(
            &job.cell,
            &job.checkout,
            Code::Cancelled,
            format!("not started: {why}"),
        )
    }

    /// Build every job; `done` sees each outcome as it comes. Returns the outcomes in
    /// the order they ended.
    pub fn run(
        &self,
        jobs: Vec<Job>,
        done: &mut dyn FnMut(&CellOutcome),
    ) -> Result<Vec<CellOutcome>> {
        std::fs::create_dir_all(&self.log_dir)
            .with_context(|| format!("cannot create {}", self.log_dir.display()))?;
        let _catching = Catching::install();
        let (tx, rx) = mpsc::channel();
        let mut queue: VecDeque<Job> = jobs.into();
        let mut running: HashMap<usize, Running> = HashMap::new();
        let mut outcomes = Vec::new();
        let mut stop: Option<Stop> = None;
        let mut next_id = 0usize;
        for job in &queue {
            self.display.phase(&job.cell, Phase::Waiting, 0.0);
        }
        loop {
            if stop.is_none() {
                if let Some(sig) = Catching::pending() {
                    self.display.note(&format!(
                        "cancelling: signal {sig}; the running builds are stopped (osc runs `build --kill`)"
                    ));
                    stop = Some(Stop::Signal(sig));
                }
            }
            if let Some(stop) = &stop {
                for r in running.values_mut().filter(|r| r.interrupted.is_none()) {
                    crate::sys::process::signal_group(
                        Pid::from_raw(r.child.id() as i32),
                        Signal::SIGINT,
                    );
                    r.interrupted = Some(Instant::now());
                }
                for job in queue.drain(..) {
                    let o = Self::not_started(&job, &stop.reason());
                    self.display.finished(&o);
                    done(&o);
                    outcomes.push(o);
                }
            } else {
                while running.len() < self.jobs {
                    let emulated = running.values().filter(|r| r.job.emulated).count();
                    let Some(i) = queue
                        .iter()
                        .position(|j| !j.emulated || emulated < self.emulated_cap)
                    else {
                        break;
                    };
                    let job = queue.remove(i).expect("position is in the queue");
                    let id = next_id;
                    next_id += 1;
                    match self.start(id, job.clone(), &tx) {
                        Ok(mut r) => {
                            r.phase = Phase::Container;
                            self.display.phase(&r.job.cell, r.phase, 0.0);
                            running.insert(id, r);
                        }
                        Err(e) => {
                            let mut o = Self::not_started(&job, &crate::error::one_line(&e));
                            o.code = Code::Infrastructure;
                            self.display.finished(&o);
                            done(&o);
                            outcomes.push(o);
                        }
                    }
                }
            }
            if running.is_empty() && queue.is_empty() {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(Message::Line(id, line)) => {
                    if let Some(r) = running.get_mut(&id) {
                        let next = phase::after_line(r.phase, &line);
                        if next != r.phase {
                            r.phase = next;
                            self.display.phase(
                                &r.job.cell,
                                next,
                                r.started.elapsed().as_secs_f64(),
                            );
                        }
                        r.tail.push_back(line);
                        if r.tail.len() > TAIL {
                            r.tail.pop_front();
                        }
                    }
                }
                Ok(Message::Eof(id)) => {
                    if let Some(r) = running.get_mut(&id) {
                        r.eof = true;
                    }
                }
                Err(_) => {}
            }
            let mut ended = Vec::new();
            for (id, r) in running.iter_mut() {
                if let Some(since) = r.interrupted {
                    let group = Pid::from_raw(r.child.id() as i32);
                    if since.elapsed() > GRACE_INT + GRACE_TERM {
                        crate::sys::process::signal_group(group, Signal::SIGKILL);
                    } else if since.elapsed() > GRACE_INT && !r.terminated {
                        crate::sys::process::signal_group(group, Signal::SIGTERM);
                        r.terminated = true;
                    }
                }
                if !r.eof {
                    continue;
                }
                if let Some(status) = r.child.try_wait()? {
                    ended.push((*id, status));
                }
            }
            for (id, status) in ended {
                let r = running.remove(&id).expect("an ended build was running");
                let o = self.outcome(&r, status, r.interrupted.is_some());
                if self.fail_fast
                    && stop.is_none()
                    && o.code.was_expected()
                    && o.code != Code::Succeeded
                {
                    stop = Some(Stop::FailFast(super::display::cell_name(&o.cell)));
                }
                self.display.finished(&o);
                done(&o);
                outcomes.push(o);
            }
        }
        Ok(outcomes)
    }

    /// Was the batch cancelled by a signal? (After [`Runner::run`].)
    pub fn cancelled_by() -> Option<i32> {
        Catching::pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(flavor: Option<&str>) -> Cell {
        Cell {
            package: "hello".into(),
            flavor: flavor.map(str::to_string),
            repository: "Debian_12".into(),
            arch: "aarch64".into(),
        }
    }

    #[test]
    fn each_cell_its_own_root_log_name_and_flavor() {
        assert_eq!(cell_file_name(&cell(None)), "hello_Debian_12_aarch64");
        assert_eq!(
            cell_file_name(&cell(Some("doc"))),
            "hello-doc_Debian_12_aarch64"
        );
        let weird = Cell {
            repository: "a/b c".into(),
            ..cell(None)
        };
        assert_eq!(cell_file_name(&weird), "hello_a_b_c_aarch64");
        let argv = build_argv(
            &cell(Some("doc")),
            &["--user".into(), "pkger".into()],
            Path::new("/var/tmp/build-root/x"),
            &["--clean".into()],
        );
        assert_eq!(
            argv,
            [
                "build",
                "Debian_12",
                "aarch64",
                "--user",
                "pkger",
                "--",
                "--root=/var/tmp/build-root/x",
                "-M",
                "doc",
                "--clean"
            ]
        );
    }

    #[test]
    fn an_interrupted_set_up_is_cleaned_once() {
        let opts = vec!["--no-verify".to_string()];
        assert_eq!(cell_options(&opts, false), (opts.clone(), false));
        assert_eq!(
            cell_options(&opts, true),
            (vec!["--no-verify".to_string(), "--clean".to_string()], true)
        );
        let clean = vec!["--clean".to_string()];
        assert_eq!(cell_options(&clean, true), (clean.clone(), false));
    }

    #[test]
    fn artifacts_are_the_packages_in_the_build_root() {
        let d = tempfile::tempdir().unwrap();
        let debs = d.path().join("usr/src/packages/DEBS");
        std::fs::create_dir_all(&debs).unwrap();
        std::fs::write(debs.join("hello_1.0_arm64.deb"), "").unwrap();
        std::fs::write(debs.join("notes.txt"), "").unwrap();
        let rpms = d.path().join("home/abuild/rpmbuild/RPMS/aarch64");
        std::fs::create_dir_all(&rpms).unwrap();
        std::fs::write(rpms.join("hello-1-1.aarch64.rpm"), "").unwrap();
        assert_eq!(
            artifacts(d.path()),
            [
                rpms.join("hello-1-1.aarch64.rpm"),
                debs.join("hello_1.0_arm64.deb")
            ]
        );
    }
}
