//! `archbuild batch [DIR...]`: build the matrix of package checkouts.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::batch::display::{Display, Mode};
use crate::batch::execute::{self, Request, Summary};
use crate::batch::report_json::{self, RunInfo};
use crate::batch::work::{Flavors, Selection};
use crate::batch::{junit, results_table, verdict};
use crate::error::{usage, ExitStatus};

/// `--report KIND=PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Json(PathBuf),
    Junit(PathBuf),
}

fn parse_report(value: &str) -> Result<Report, String> {
    match value.split_once('=') {
        Some(("json", p)) if !p.is_empty() => Ok(Report::Json(p.into())),
        Some(("junit", p)) if !p.is_empty() => Ok(Report::Junit(p.into())),
        _ => Err(format!(
            "'{value}' is not a report: say json=PATH or junit=PATH"
        )),
    }
}

/// How the builds run: shared by `batch` and `check`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Builds at once (default: one per core, as memory allows)
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Emulated builds at once (default: -j, at most the number of cores)
    #[arg(long, value_name = "N")]
    pub emulated_jobs: Option<usize>,
    /// Build every cell even when some fail (the default)
    #[arg(long, conflicts_with = "fail_fast")]
    pub keep_going: bool,
    /// Stop at the first failed cell: the running builds are cancelled
    #[arg(long)]
    pub fail_fast: bool,
    /// Skip cells that succeeded from the same sources and options in an earlier batch
    #[arg(long)]
    pub resume: bool,
    /// Write a report: json=PATH (versioned JSON) or junit=PATH (JUnit XML); repeatable
    #[arg(long, value_name = "KIND=PATH", value_parser = parse_report)]
    pub report: Vec<Report>,
    /// Progress: auto (live lines on a terminal), plain, or jsonl (JSON lines on stdout)
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: Mode,
    /// OBS API URL or an alias from the oscrc (default: each checkout's)
    #[arg(short = 'A', long = "apiurl", value_name = "URL|ALIAS")]
    pub apiurl: Option<String>,
    /// The osc configuration file (for the plans and the builds)
    #[arg(long, visible_alias = "config", value_name = "FILE")]
    pub oscrc: Option<PathBuf>,
    /// Run osc as this user (when archbuild runs as root; default: $SUDO_USER under sudo)
    #[arg(long)]
    pub user: Option<String>,
    /// The osc program, with interpreter words if needed (default: osc on PATH)
    #[arg(long, value_name = "PROGRAM")]
    pub osc: Option<String>,
    /// Accelerate the emulated cells (`archbuild build --accel`)
    #[arg(long)]
    pub accel: bool,
    /// Directory for the build roots, one per cell
    #[arg(long, value_name = "DIR", default_value = "/var/tmp/build-root")]
    pub build_root_dir: PathBuf,
    /// Options for every `osc build`, after `--`
    #[arg(last = true, value_name = "OSC_BUILD_OPTIONS")]
    pub osc_options: Vec<String>,
}

impl RunArgs {
    /// The batch request for `checkouts` and `selection`.
    pub fn request(&self, checkouts: Vec<PathBuf>, mut selection: Selection) -> Result<Request> {
        if self
            .osc_options
            .iter()
            .any(|o| o == "--root" || o.starts_with("--root="))
        {
            return Err(usage(
                "--root in the osc options: a batch gives every cell its own build root; use --build-root-dir DIR",
            ));
        }
        if self.jobs == Some(0) {
            return Err(usage("-j 0: say how many builds at once, at least 1"));
        }
        selection.resume = self.resume;
        let mut build_args = Vec::new();
        for (flag, value) in [
            ("--user", self.user.clone()),
            (
                "--oscrc",
                self.oscrc.as_ref().map(|p| p.display().to_string()),
            ),
            ("--osc", self.osc.clone()),
            ("--apiurl", self.apiurl.clone()),
        ] {
            if let Some(v) = value {
                build_args.push(flag.to_string());
                build_args.push(v);
            }
        }
        if self.accel {
            build_args.push("--accel".to_string());
        }
        Ok(Request {
            checkouts,
            selection,
            jobs: self.jobs,
            emulated_jobs: self.emulated_jobs,
            fail_fast: self.fail_fast,
            build_args,
            osc_options: self.osc_options.clone(),
            apiurl: self.apiurl.clone(),
            oscrc: self.oscrc.clone(),
            build_root_dir: self.build_root_dir.clone(),
        })
    }
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Builds the build matrix of each package checkout (default: the current directory) as \
OBS's scheduler computes it (see `archbuild check --plan`): every repository x arch of the project meta, \
minus what the plan excludes, disables or locks. Each cell is one `archbuild build` (the host's osc, obs-build \
natively, foreign binaries under qemu-user) with its own build root under --build-root-dir; the package cache is \
shared, and filled by one build at a time. Cells of arches this host cannot emulate are skipped with the reason. \
Each cell's log is kept under /var/tmp/archbuild-batch-<user>/. The exit status is 0 only when every expected \
cell succeeded. Ctrl-C cancels the running builds (osc stops obs-build) and reports them as cancelled.

Examples:
  archbuild batch                                     the checkout here, every repository and arch
  archbuild batch ~/obs/hello ~/obs/greet -a aarch64 -a armv7l -j 2
  archbuild batch --all-flavors --report junit=out.xml --report json=out.json -- --clean
  archbuild batch --resume                            what did not succeed last time
  osc archbuild --all                                 (the osc plugin runs `archbuild batch`)"
)]
pub struct Args {
    /// Package checkouts (default: the current directory)
    #[arg(value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Only this repository (repeatable)
    #[arg(short = 'r', long = "repository", value_name = "REPO")]
    pub repositories: Vec<String>,
    /// Only this arch (repeatable; OBS, rpm, Debian or qemu name)
    #[arg(short = 'a', long = "arch", value_name = "ARCH")]
    pub arches: Vec<String>,
    /// Build this multibuild flavor (default: the main package)
    #[arg(
        short = 'M',
        long = "multibuild-package",
        value_name = "FLAVOR",
        conflicts_with = "all_flavors"
    )]
    pub flavor: Option<String>,
    /// Build the main package and every multibuild flavor
    #[arg(long)]
    pub all_flavors: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// OBS names of `-a` arguments.
pub fn obs_arches(names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .map(|n| {
            crate::arch::lookup(n)
                .map(|a| a.obs.to_string())
                .map_err(|e| usage(e.to_string()))
        })
        .collect()
}

/// The results matrix on stdout (unless stdout carries JSON lines) and the reports.
pub fn finish(summary: &Summary, run: &RunArgs, display: &Display) -> Result<()> {
    if run.progress != Mode::Jsonl {
        println!("{}", results_table::render(&summary.outcomes));
    }
    let info = RunInfo {
        started_unix: summary.started_unix,
        duration: summary.duration,
        jobs: summary.jobs,
        command: std::env::args().collect(),
    };
    for report in &run.report {
        let (path, text) = match report {
            Report::Json(p) => (p, report_json::render(&info, &summary.outcomes)),
            Report::Junit(p) => (p, junit::render(&summary.outcomes, &junit::read_log_tail)),
        };
        crate::atomic_file::write(path, text.as_bytes())
            .with_context(|| format!("cannot write the report {}", path.display()))?;
        display.note(&format!("report written to {}", path.display()));
    }
    Ok(())
}

/// The exit status of a batch: 128+signal when cancelled, else 0 only when every
/// expected cell succeeded.
pub fn exit_status(summary: &Summary) -> i32 {
    if let Some(sig) = summary.cancelled_by {
        return 128 + sig;
    }
    match verdict::verdict(&summary.outcomes).kind {
        verdict::Kind::Pass => 0,
        _ => 1,
    }
}

pub fn run(args: Args) -> Result<()> {
    let dirs = if args.dirs.is_empty() {
        vec![std::env::current_dir().context("cannot tell the current directory")?]
    } else {
        args.dirs.clone()
    };
    let selection = Selection {
        repositories: args.repositories.clone(),
        arches: obs_arches(&args.arches)?,
        flavors: match (&args.flavor, args.all_flavors) {
            (Some(f), _) => Flavors::One(f.clone()),
            (None, true) => Flavors::All,
            (None, false) => Flavors::Main,
        },
        resume: false,
    };
    let request = args.run.request(dirs, selection)?;
    let display = Display::new(args.run.progress);
    let summary = execute::execute(&request, &display)?;
    finish(&summary, &args.run, &display)?;
    match exit_status(&summary) {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_kind_and_path() {
        assert_eq!(
            parse_report("json=/tmp/r.json"),
            Ok(Report::Json("/tmp/r.json".into()))
        );
        assert_eq!(
            parse_report("junit=out.xml"),
            Ok(Report::Junit("out.xml".into()))
        );
        assert!(parse_report("xml=out.xml").is_err());
        assert!(parse_report("json=").is_err());
        assert!(parse_report("out.json").is_err());
    }
}
