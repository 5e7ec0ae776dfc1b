//! `archbuild status NAME [--json]`

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::accel::{host, manifest::Toolchain};
use crate::{arch, binfmt, container, names, state};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container name
    pub name: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// `status` of a container, with its acceleration.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    status: container::Status,
    accel: Accel,
}

/// A container's acceleration as far as the host shows it (all but `accelerated` only
/// for an accelerated container).
#[derive(Debug, Default, Serialize)]
struct Accel {
    accelerated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle: Option<PathBuf>,
    /// The bundle's toolchain, when its manifest is usable for the arch.
    #[serde(skip_serializing_if = "Option::is_none")]
    toolchain: Option<Toolchain>,
    /// How many of the manifest's tools the root's files are still made for.
    #[serde(skip_serializing_if = "Option::is_none")]
    root_match: Option<host::RootMatch>,
    /// Why the bundle cannot be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle_problem: Option<String>,
    /// The handler `start` registers.
    #[serde(skip_serializing_if = "Option::is_none")]
    handler: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handler_problem: Option<String>,
    /// While it runs: the interpreter of the binfmt entry the kernel uses for the arch,
    /// and whether that is the handler.
    #[serde(skip_serializing_if = "Option::is_none")]
    binfmt_interpreter: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handler_in_use: Option<bool>,
}

fn accel_of(record: &state::Record, running: bool) -> Result<Accel> {
    if !record.accel {
        return Ok(Accel::default());
    }
    let arch = arch::lookup(&record.arch)?;
    let bundle = host::bundle_on_host(arch);
    let mut accel = Accel {
        accelerated: true,
        bundle: Some(bundle.clone()),
        ..Accel::default()
    };
    match host::check_bundle(&bundle, arch) {
        Ok(m) => {
            accel.root_match = Some(host::root_match_on_host(&record.location, &m, arch.qemu));
            accel.toolchain = Some(m.toolchain);
        }
        Err(e) => accel.bundle_problem = Some(crate::error::one_line(&e)),
    }
    match host::find_handler() {
        Ok(h) => accel.handler = Some(h),
        Err(e) => accel.handler_problem = Some(crate::error::one_line(&e)),
    }
    if running {
        let table = binfmt::read_table().unwrap_or_default();
        accel.binfmt_interpreter =
            binfmt::winner(&table, arch).map(|live| live.entry.interpreter.clone());
        accel.handler_in_use = Some(
            accel
                .binfmt_interpreter
                .as_ref()
                .is_some_and(|i| host::is_handler(i, accel.handler.as_deref())),
        );
    }
    Ok(accel)
}

fn print_accel(name: &str, a: &Accel) {
    if !a.accelerated {
        println!("accel:     off (`archbuild start {name} --accel` turns it on)");
        return;
    }
    println!("accel:     on");
    if let Some(bundle) = &a.bundle {
        match (&a.toolchain, &a.bundle_problem) {
            (Some(t), _) => println!(
                "bundle:    {} ({} {}, {})",
                bundle.display(),
                t.distribution,
                t.version,
                t.triplet
            ),
            (None, Some(problem)) => println!("bundle:    unusable: {problem}"),
            (None, None) => println!("bundle:    {}", bundle.display()),
        }
    }
    if let Some(m) = &a.root_match {
        println!(
            "matching:  {} of {} tools match the root's files{}",
            m.matching,
            m.tools,
            if m.complete() {
                ""
            } else {
                " (the others run emulated; remake the bundle: `archbuild accel bundle` after removing it)"
            }
        );
        for (path, why) in &m.differing {
            println!("  {path}: {why}");
        }
    }
    match (&a.handler, &a.handler_problem) {
        (Some(h), _) => println!("handler:   {}", h.display()),
        (None, Some(problem)) => println!("handler:   missing: {problem}"),
        (None, None) => {}
    }
    match (&a.binfmt_interpreter, a.handler_in_use) {
        (Some(_), Some(true)) => println!("binfmt:    the arch's entry runs the handler"),
        (Some(i), _) => println!(
            "binfmt:    the arch's entry runs {} (not the handler: acceleration is off until `archbuild stop {name} && archbuild start {name}`)",
            i.display()
        ),
        (None, Some(_)) => println!("binfmt:    no entry for the arch"),
        (None, None) => {}
    }
}

pub fn run(args: Args) -> Result<()> {
    names::validate(&args.name)?;
    let record = state::require(&args.name)?;
    let status = container::status(&record)?;
    let report = Report {
        accel: accel_of(&record, status.running)?,
        status,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let status = &report.status;
    println!("name:      {}", status.name);
    println!("arch:      {}", status.arch);
    println!("root:      {}", status.root.display());
    println!(
        "state:     {}",
        if status.running { "running" } else { "stopped" }
    );
    println!("pin:       {}", status.pin.display());
    if let Some(emulator) = &status.emulator_inside {
        println!("emulator:  {emulator} (read-only)");
    }
    print_accel(&status.name, &report.accel);
    for bind in &status.binds {
        println!(
            "bind:      {} -> {}",
            bind.source.display(),
            bind.target.display()
        );
    }
    println!("processes: {}", status.processes.len());
    for p in &status.processes {
        println!("  {:>7} {}", p.pid, p.command);
    }
    Ok(())
}
