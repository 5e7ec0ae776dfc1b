//! `archbuild accel status NAME [--json]`: a container's acceleration, its bundle's
//! manifest, and the hits and fallbacks of the handler's log.
//! `archbuild accel bundle NAME`: the arch's bundle from a Debian root's compiler.

use anyhow::Result;
use serde::Serialize;

use crate::accel::{host, make_debian, manifest, status};
use crate::{arch, names, state, text_table};

#[derive(Debug, clap::Subcommand)]
pub enum AccelCommand {
    /// Show a container's acceleration: manifest, hits and fallbacks
    Status(StatusArgs),
    /// Make the arch's bundle from Debian's cross toolchain of a Debian root's gcc version
    #[command(
        after_help = "Examples:\n  archbuild accel bundle trixie-arm64\n  archbuild accel bundle trixie-arm64 --output /tmp/bundle --json"
    )]
    Bundle(BundleArgs),
}

#[derive(Debug, clap::Args)]
pub struct BundleArgs {
    /// Container name (a Debian root with gcc installed)
    pub name: String,
    /// The bundle directory (default: ARCHBUILD_ACCEL_BUNDLES or /var/lib/archbuild/accel, then x86_64-for-<qemu target>)
    #[arg(long, value_name = "DIR")]
    pub output: Option<std::path::PathBuf>,
    /// Also run the compiler drivers natively (their compiled-in search paths differ from the root's)
    #[arg(long)]
    pub drivers: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Container name
    pub name: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    name: String,
    accelerated: bool,
    bundle: std::path::PathBuf,
    /// The manifest, or why it cannot be used.
    manifest: Result<manifest::Manifest, String>,
    log: std::path::PathBuf,
    per_path: std::collections::BTreeMap<String, status::Counts>,
    unreadable_log_lines: usize,
}

pub fn run(cmd: AccelCommand) -> Result<()> {
    match cmd {
        AccelCommand::Status(args) => status_of(args),
        AccelCommand::Bundle(args) => make_bundle(args),
    }
}

fn make_bundle(args: BundleArgs) -> Result<()> {
    names::validate(&args.name)?;
    let record = state::require(&args.name)?;
    let arch = arch::lookup(&record.arch)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| host::bundle_on_host(arch));
    let cache = crate::settings::cache_dir().join("accel");
    let report = make_debian::make(&make_debian::Request {
        root: &record.location,
        deb_arch: arch.deb,
        target: arch.qemu,
        output: &output,
        cache: &cache,
        drivers: args.drivers,
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "bundle {} for {} ({} {} {}): {} tools, {} packages ({} downloaded), {} ELF files relocated, {:.1} MB, {:.1} s",
        report.bundle.display(),
        args.name,
        report.toolchain.distribution,
        report.toolchain.triplet,
        report.toolchain.version,
        report.tools.len(),
        report.packages.len(),
        report.downloaded,
        report.patched,
        report.bytes as f64 / 1e6,
        report.seconds
    );
    for tool in &report.tools {
        println!("  {tool}");
    }
    Ok(())
}

fn status_of(args: StatusArgs) -> Result<()> {
    names::validate(&args.name)?;
    let record = state::require(&args.name)?;
    let arch = arch::lookup(&record.arch)?;
    let bundle = host::bundle_on_host(arch);
    let log = host::log_dir_on_host(&record.name).join("handler.log");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let (per_path, unreadable_log_lines) = status::summarize(&log_text);
    let report = Report {
        name: record.name.clone(),
        accelerated: record.accel,
        manifest: host::check_bundle(&bundle, arch).map_err(|e| format!("{e:#}")),
        bundle,
        log,
        per_path,
        unreadable_log_lines,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("name:        {}", report.name);
    println!(
        "accelerated: {}",
        if report.accelerated {
            "yes"
        } else {
            "no (start it with --accel)"
        }
    );
    println!("bundle:      {}", report.bundle.display());
    match &report.manifest {
        Ok(m) => println!(
            "manifest:    {} {} ({}), {} tools",
            m.toolchain.distribution,
            m.toolchain.version,
            m.toolchain.triplet,
            m.tools.len()
        ),
        Err(e) => println!("manifest:    none usable: {e}"),
    }
    println!("log:         {}", report.log.display());
    if let Ok(m) = &report.manifest {
        let rows: Vec<Vec<String>> = m
            .tools
            .keys()
            .chain(report.per_path.keys().filter(|p| !m.tools.contains_key(*p)))
            .map(|path| {
                let counts = report.per_path.get(path).cloned().unwrap_or_default();
                vec![
                    path.clone(),
                    counts.hits.to_string(),
                    counts.fallbacks.to_string(),
                    counts.last_fallback.unwrap_or_default(),
                ]
            })
            .collect();
        print!(
            "{}",
            text_table::render(&["PATH", "HITS", "FALLBACKS", "LAST FALLBACK"], &rows)
        );
    }
    if report.unreadable_log_lines > 0 {
        println!("({} log lines not understood)", report.unreadable_log_lines);
    }
    Ok(())
}
