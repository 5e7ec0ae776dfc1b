//! `archbuild accel status NAME|BUILD_ROOT [--json]`: a container's (or an accelerated
//! build root's) acceleration, its bundle's manifest, and the hits and fallbacks of the
//! handler's log. `archbuild accel profile NAME|BUILD_ROOT on|off`: the handler's
//! profile mode there.
//! `archbuild accel bundle NAME`: the arch's bundle from a Debian root's compiler.

use anyhow::Result;
use serde::Serialize;

use crate::accel::{host, make_debian, manifest, status};
use crate::{arch, names, state, text_table};

#[derive(Debug, clap::Subcommand)]
pub enum AccelCommand {
    /// Show a container's acceleration: manifest, hits, fallbacks and (profile mode) emulated time per executable
    Status(StatusArgs),
    /// Turn the handler's profile mode on or off: every exec in the container is timed into its log
    #[command(
        after_help = "Examples:\n  archbuild accel profile trixie-arm64 on\n  archbuild accel status trixie-arm64   # ranked by emulated CPU time\n  archbuild accel profile trixie-arm64 off"
    )]
    Profile(ProfileArgs),
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
    /// Container name, or the path of a build root (`archbuild build --accel`)
    pub name: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    /// Container name (started with --accel), or the path of a build root
    /// (`archbuild build --accel`)
    pub name: String,
    /// on: time every exec from now on; off: stop
    #[arg(value_enum)]
    pub state: Switch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// One line of the ranking: a path by emulated CPU time.
#[derive(Debug, Serialize)]
struct Ranked {
    path: String,
    emulated: u64,
    emulated_cpu: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    name: String,
    accelerated: bool,
    bundle: std::path::PathBuf,
    /// The manifest, or why it cannot be used.
    manifest: Result<manifest::Manifest, String>,
    log: std::path::PathBuf,
    /// Is the profile mode's switch file there?
    profile: bool,
    per_path: std::collections::BTreeMap<String, status::Counts>,
    /// The profiled paths, most emulated CPU time first: what to accelerate next.
    by_emulated_cpu: Vec<Ranked>,
    unreadable_log_lines: usize,
}

pub fn run(cmd: AccelCommand) -> Result<()> {
    match cmd {
        AccelCommand::Status(args) => status_of(args),
        AccelCommand::Profile(args) => profile(args),
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

/// The profile mode's switch on the host: a file in the log directory `log_key`, which
/// is bound over the bundle's `log` inside (`decision::profile_switch_path`).
fn profile_switch(log_key: &str) -> std::path::PathBuf {
    host::log_dir_on_host(log_key).join("profile")
}

/// What `status` and `profile` are about: a container, or a build root of
/// `archbuild build --accel` (an argument with a `/`).
struct Subject {
    /// The container's name, or the build root's path.
    name: String,
    /// Its handler log directory's name (`host::log_dir_on_host`).
    log_key: String,
    arch: &'static arch::Arch,
    accelerated: bool,
    /// How to make it accelerated.
    how: &'static str,
}

fn subject(name: &str) -> Result<Subject> {
    if name.contains('/') {
        let root = std::path::Path::new(name);
        if !root.is_dir() {
            anyhow::bail!(
                "{name} is not a directory: give a container name, or the build root of an `archbuild build --accel` (e.g. /var/tmp/build-root/Debian_13-aarch64)"
            );
        }
        let log_key = crate::oscbuild::accel_root::log_name(root);
        return Ok(Subject {
            name: name.to_string(),
            accelerated: host::log_dir_on_host(&log_key).is_dir(),
            log_key,
            arch: crate::container::root::detect_arch(root)?,
            how: "build in it with `archbuild build --accel`",
        });
    }
    names::validate(name)?;
    let record = state::require(name)?;
    Ok(Subject {
        name: record.name.clone(),
        log_key: record.name.clone(),
        arch: arch::lookup(&record.arch)?,
        accelerated: record.accel,
        how: "start it with --accel",
    })
}

fn profile(args: ProfileArgs) -> Result<()> {
    let subject = subject(&args.name)?;
    if !subject.accelerated {
        anyhow::bail!(
            "{} is not accelerated: the profile mode is the acceleration handler's; {}",
            args.name,
            subject.how
        );
    }
    let switch = profile_switch(&subject.log_key);
    let log = host::log_dir_on_host(&subject.log_key).join("handler.log");
    match args.state {
        Switch::On => {
            host::prepare_log(&subject.log_key)?;
            std::fs::write(&switch, "")
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", switch.display()))?;
            println!(
                "profile mode on for {}: every exec of {} in it is timed into {} (`archbuild accel status {}` ranks them; `archbuild accel profile {} off` ends it)",
                subject.name,
                subject.arch.obs,
                log.display(),
                subject.name,
                subject.name
            );
        }
        Switch::Off => {
            match std::fs::remove_file(&switch) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    anyhow::bail!("cannot remove {}: {e}", switch.display())
                }
                _ => {}
            }
            println!(
                "profile mode off for {} (its lines stay in {})",
                subject.name,
                log.display()
            );
        }
    }
    Ok(())
}

fn status_of(args: StatusArgs) -> Result<()> {
    let subject = subject(&args.name)?;
    let arch = subject.arch;
    let bundle = host::bundle_on_host(arch);
    let log = host::log_dir_on_host(&subject.log_key).join("handler.log");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let (per_path, unreadable_log_lines) = status::summarize(&log_text);
    let by_emulated_cpu = status::by_emulated_cpu(&per_path)
        .into_iter()
        .filter(|p| per_path[*p].emulated > 0)
        .map(|p| Ranked {
            path: p.to_string(),
            emulated: per_path[p].emulated,
            emulated_cpu: per_path[p].emulated_cpu,
        })
        .collect();
    let report = Report {
        name: subject.name.clone(),
        accelerated: subject.accelerated,
        manifest: host::check_bundle(&bundle, arch).map_err(|e| format!("{e:#}")),
        bundle,
        log,
        profile: profile_switch(&subject.log_key).exists(),
        per_path,
        by_emulated_cpu,
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
            "yes".to_string()
        } else {
            format!("no ({})", subject.how)
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
    println!(
        "profile:     {}",
        if report.profile {
            format!("on (`archbuild accel profile {} off` ends it)", report.name)
        } else {
            format!(
                "off (`archbuild accel profile {} on` times every exec)",
                report.name
            )
        }
    );
    // The manifest's tools, then what the log names, most emulated CPU time first.
    let listed: Vec<&str> = report
        .manifest
        .as_ref()
        .map(|m| m.tools.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut all = report.per_path.clone();
    for path in &listed {
        all.entry(path.to_string()).or_default();
    }
    let rows: Vec<Vec<String>> = status::by_emulated_cpu(&all)
        .into_iter()
        .map(|path| {
            let counts = &all[path];
            vec![
                path.to_string(),
                counts.hits.to_string(),
                counts.fallbacks.to_string(),
                counts.emulated.to_string(),
                format!("{:.2}", counts.emulated_cpu),
                counts.native.to_string(),
                format!("{:.2}", counts.native_cpu),
                counts.last_fallback.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        println!(
            "{}",
            text_table::render(
                &[
                    "PATH",
                    "HITS",
                    "FALLBACKS",
                    "EMULATED",
                    "EMULATED CPU S",
                    "NATIVE",
                    "NATIVE CPU S",
                    "LAST FALLBACK"
                ],
                &rows
            )
        );
    }
    if report.unreadable_log_lines > 0 {
        println!("({} log lines not understood)", report.unreadable_log_lines);
    }
    Ok(())
}
