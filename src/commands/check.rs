//! `archbuild check`: the pre-submit check of the package checkout in the current
//! directory (the whole matrix built as `archbuild batch` builds it, then PASS, FAIL or
//! INCONCLUSIVE), and `archbuild check --plan [--json]`: the build matrix computed as
//! OBS's scheduler computes it (see `matrix`), one line per cell with its rule.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Serialize;

use super::batch::{self, RunArgs};
use crate::batch::display::{Display, Mode};
use crate::batch::execute;
use crate::batch::work::{Flavors, Selection};
use crate::batch::{inputs, obs_result, report_json, verdict};
use crate::error::ExitStatus;
use crate::matrix::{self, Plan};
use crate::obs::checkout;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The pre-submit check: builds the whole build matrix of the package checkout in the current \
directory (every flavor; see `archbuild batch` for how each cell is built), then prints one verdict line: PASS \
(every expected cell succeeded), FAIL (with the failed cells) or INCONCLUSIVE (a build could not run: \
infrastructure, cancelled). Run it before `osc commit`. With --against-server it also reads OBS's results \
(_result) for the package and marks each cell: new failure, already failing on OBS, fixed. \
Exit status: 0 for PASS, 1 for FAIL, 3 for INCONCLUSIVE.

With --plan: fetches the project meta, the package meta and each repository's merged \
build configuration (_buildconfig) from OBS, reads _multibuild and the recipes of the checkout, and prints \
every cell (package[:flavor], repository, arch) with OBS's verdict (scheduled, excluded, disabled, locked, \
broken) and the rule that decided it. Nothing is built. docs/check.md maps each rule to OBS's sources.

Examples:
  archbuild check
  archbuild check --against-server -j 2 --report junit=check.xml
  archbuild check --plan
  archbuild check --plan --json -A https://api.opensuse.org"
)]
pub struct Args {
    /// Print the build matrix and the rule deciding each cell; build nothing
    #[arg(long)]
    pub plan: bool,
    /// Print JSON instead of a table (with --plan: the plan; else the batch report)
    #[arg(long)]
    pub json: bool,
    /// Also compare each cell with OBS's last result for it
    #[arg(long, conflicts_with = "plan")]
    pub against_server: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: Args) -> Result<()> {
    if !args.plan {
        return check(args);
    }
    let cwd = std::env::current_dir().context("cannot tell the current directory")?;
    let (co, package) = checkout::read_package(&cwd)?;
    let client = inputs::client(args.run.oscrc.as_deref(), args.run.apiurl.as_deref(), &co)?;
    let mut notes = Vec::new();
    let input = inputs::fetch(&client, &co, &package, &mut notes)?;
    let mut plan = matrix::plan(&input);
    notes.append(&mut plan.warnings);
    let out = Output {
        apiurl: client.apiurl().to_string(),
        project: co.project.clone(),
        package: package.clone(),
        counts: plan
            .counts()
            .into_iter()
            .map(|(v, n)| (v.as_str(), n))
            .collect(),
        cells: &plan,
        warnings: notes,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_table(&out);
    }
    Ok(())
}

/// Build the matrix and give the verdict.
fn check(args: Args) -> Result<()> {
    let cwd = std::env::current_dir()
        .context("cannot tell the current directory")?
        .canonicalize()
        .context("cannot resolve the current directory")?;
    let (co, package) = checkout::read_package(&cwd)?;
    let selection = Selection {
        flavors: Flavors::All,
        ..Default::default()
    };
    let request = args.run.request(vec![cwd], selection)?;
    let mode = if args.json {
        Mode::Plain
    } else {
        args.run.progress
    };
    let display = Display::new(mode);
    let summary = execute::execute(&request, &display)?;
    let mut run = args.run.clone();
    if args.json {
        run.progress = Mode::Jsonl; // no table on stdout: the report is
    }
    batch::finish(&summary, &run, &display)?;
    if args.json {
        let info = report_json::RunInfo {
            started_unix: summary.started_unix,
            duration: summary.duration,
            jobs: summary.jobs,
            command: std::env::args().collect(),
        };
        print!("{}", report_json::render(&info, &summary.outcomes));
    }
    if args.against_server {
        let client = inputs::client(args.run.oscrc.as_deref(), args.run.apiurl.as_deref(), &co)?;
        let server = client.results(&co.project, &package)?;
        let out = |line: String| {
            if args.json {
                eprintln!("{line}")
            } else {
                println!("{line}")
            }
        };
        out(format!(
            "against OBS ({}, {}/{package}):",
            client.apiurl(),
            co.project
        ));
        for c in obs_result::compare(&summary.outcomes, &server) {
            if c.change != obs_result::Change::Same {
                out(format!("  {}", c.line()));
            }
        }
    }
    let verdict = verdict::verdict(&summary.outcomes);
    if args.json {
        eprintln!("{}", verdict.line);
    } else {
        println!("{}", verdict.line);
    }
    let code = match summary.cancelled_by {
        Some(sig) => 128 + sig,
        None => verdict.exit_status,
    };
    match code {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}

#[derive(Serialize)]
struct Output<'a> {
    apiurl: String,
    project: String,
    package: String,
    counts: BTreeMap<&'static str, usize>,
    #[serde(serialize_with = "cells_only")]
    cells: &'a Plan,
    warnings: Vec<String>,
}

fn cells_only<S: serde::Serializer>(plan: &&Plan, s: S) -> Result<S::Ok, S::Error> {
    plan.cells.serialize(s)
}

fn print_table(out: &Output) {
    println!(
        "build matrix of {}/{} on {}, as OBS's scheduler decides it:",
        out.project, out.package, out.apiurl
    );
    let cells = &out.cells.cells;
    if cells.is_empty() {
        println!("  no cells: the project meta lists no repository with an arch");
    }
    let w = |f: &dyn Fn(&matrix::PlannedCell) -> usize, title: &str| {
        cells.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let wp = w(&|c| c.cell.obs_name().len(), "PACKAGE");
    let wr = w(&|c| c.cell.repository.len(), "REPOSITORY");
    let wa = w(&|c| c.cell.arch.len(), "ARCH");
    let wv = w(&|c| c.verdict.as_str().len(), "VERDICT");
    if !cells.is_empty() {
        println!(
            "{:wp$}  {:wr$}  {:wa$}  {:wv$}  RULE",
            "PACKAGE", "REPOSITORY", "ARCH", "VERDICT"
        );
    }
    for c in cells {
        println!(
            "{:wp$}  {:wr$}  {:wa$}  {:wv$}  {}",
            c.cell.obs_name(),
            c.cell.repository,
            c.cell.arch,
            c.verdict.as_str(),
            c.rule
        );
    }
    let counts: Vec<String> = out
        .cells
        .counts()
        .iter()
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    println!("{} cells: {}", cells.len(), counts.join(", "));
    for w in &out.warnings {
        println!("note: {w}");
    }
}
