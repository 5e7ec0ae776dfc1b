//! `archbuild bootstrap`: make a root file system of a foreign architecture and register
//! it as a container, so that `archbuild start NAME` needs nothing else.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::bootstrap::distributions::{self, Distribution};
use crate::bootstrap::plan::{Backend, Plan};
use crate::bootstrap::{self, accel_step, pristine, run, Action};
use crate::error::usage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Zypper,
    Debian,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Backend {
        match b {
            BackendArg::Zypper => Backend::Zypper,
            BackendArg::Debian => Backend::Debian,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  archbuild bootstrap aarch64
  archbuild bootstrap armv7l --dist debian-13 --name trixie-armhf
  archbuild bootstrap riscv64 --dist tumbleweed --with-osc
  archbuild bootstrap aarch64 --repo http://mirror.example/opensuse/ports/aarch64/tumbleweed/repo/oss/
  archbuild bootstrap aarch64 --backend debian --repo 'http://mirror.example/debian trixie main'
  archbuild bootstrap aarch64 --dist debian-13 --packages gcc,g++ --accel
  archbuild bootstrap aarch64 --dry-run --json")]
pub struct Args {
    /// Architecture of the root (OBS, rpm, Debian or qemu name)
    #[arg(value_parser = super::generate::ArchNames, hide_possible_values = true)]
    pub arch: String,
    /// Container name (default: the OBS arch name)
    #[arg(long)]
    pub name: Option<String>,
    /// Where the root goes (default: /var/lib/archbuild/roots/NAME)
    #[arg(long, value_name = "DIR")]
    pub location: Option<PathBuf>,
    /// Built-in distribution: tumbleweed, leap-15.6, debian-12, debian-13, ubuntu-24.04
    /// (default: tumbleweed where the host has zypper, else debian-12)
    #[arg(long, value_name = "DIST", conflicts_with = "obs")]
    pub dist: Option<String>,
    /// Repository replacing the distribution's (repeatable): an rpm-md URL or directory,
    /// or for the debian backend 'URL [SUITE [COMPONENT...]]'
    #[arg(long = "repo", value_name = "URL", conflicts_with = "obs")]
    pub repos: Vec<String>,
    /// Take repositories and packages from an OBS project's repository
    #[arg(long, value_name = "PRJ/REPO")]
    pub obs: Option<String>,
    /// OBS API URL or oscrc alias for --obs (default: osc's configuration)
    #[arg(short = 'A', long, value_name = "URL|ALIAS", requires = "obs")]
    pub apiurl: Option<String>,
    /// Package manager that makes the root (default: the distribution's)
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// Extra packages, comma-separated
    #[arg(long, value_delimiter = ',', value_name = "P,...")]
    pub packages: Vec<String>,
    /// Add what `osc build` needs inside the root: osc, obs-build and sudo
    #[arg(long)]
    pub with_osc: bool,
    /// Start over in a location holding an earlier (complete or partial) bootstrap
    #[arg(long)]
    pub force: bool,
    /// Do not restore from the pristine copy of an identical earlier bootstrap
    #[arg(long)]
    pub no_cache: bool,
    /// Accelerate (Debian roots): then make the arch's bundle from the root's gcc as
    /// `archbuild accel bundle` does (or reuse the one there if it fits this root) and
    /// record the container accelerated, so `start` uses it
    #[arg(long)]
    pub accel: bool,
    /// qemu-user emulator to register for this arch (must be static)
    #[arg(long, value_name = "PATH")]
    pub emulator: Option<PathBuf>,
    /// Print the plan and the steps, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

/// The plan the arguments describe.
pub fn plan(args: &Args) -> Result<Plan> {
    let arch = crate::arch::lookup(&args.arch).map_err(|e| usage(e.to_string()))?;
    if let Some(prp) = &args.obs {
        return obs_plan(args, prp, arch);
    }
    let dist: Option<&Distribution> = match &args.dist {
        Some(name) => Some(distributions::lookup(name)?),
        None if args.repos.is_empty() => {
            let default = match args.backend {
                Some(BackendArg::Zypper) => "tumbleweed",
                Some(BackendArg::Debian) => "debian-12",
                None => distributions::default_name(distributions::have_tool("zypper")),
            };
            Some(distributions::lookup(default)?)
        }
        None => None,
    };
    if let (Some(d), Some(b)) = (dist, args.backend) {
        if args.dist.is_some() && d.backend != Backend::from(b) {
            return Err(usage(format!(
                "{} is made with the {:?} backend, not {:?}: drop --backend or pick another --dist",
                d.title,
                d.backend,
                Backend::from(b)
            )));
        }
    }
    let backend = match (args.backend, dist) {
        (Some(b), _) => b.into(),
        (None, Some(d)) => d.backend,
        (None, None) => {
            if distributions::have_tool("zypper") {
                Backend::Zypper
            } else {
                Backend::Debian
            }
        }
    };
    let mut packages: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        let p = p.trim();
        if !p.is_empty() && !packages.iter().any(|q| q == p) {
            packages.push(p.to_string());
        }
    };
    if args.with_osc {
        distributions::osc_packages(backend)
            .iter()
            .for_each(|p| add(p));
    }
    args.packages.iter().for_each(|p| add(p));
    let mut plan = if args.repos.is_empty() {
        distributions::plan(dist.expect("a distribution without --repo"), arch, packages)?
    } else {
        distributions::plan_from_urls(&args.repos, backend, dist, arch, packages)?
    };
    plan.emulator = match &args.emulator {
        Some(p) => Some(p.display().to_string()),
        None if arch.is_native_on(crate::arch::host()?) => None,
        None => crate::emulator::probe(arch).map(|(p, _)| p.display().to_string()),
    };
    Ok(plan)
}

/// The plan of an OBS project's repository (`--obs PRJ/REPO`), plus what the command
/// line adds.
fn obs_plan(args: &Args, prp: &str, arch: &'static crate::arch::Arch) -> Result<Plan> {
    // for_prp also takes the API URL of a checkout in the current directory.
    let mut plan =
        crate::obs::bootstrap_plan::for_prp(prp, arch.obs, args.apiurl.as_deref(), None)?;
    if let Some(b) = args.backend {
        if Backend::from(b) != plan.backend {
            return Err(usage(format!(
                "{prp} builds with the {:?} backend, not {:?}: drop --backend",
                plan.backend,
                Backend::from(b)
            )));
        }
    }
    let mut extra: Vec<&str> = Vec::new();
    if args.with_osc {
        extra.extend(distributions::osc_packages(plan.backend));
    }
    extra.extend(
        args.packages
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty()),
    );
    for p in extra {
        if !plan.packages.iter().any(|q| q == p) {
            plan.packages.push(p.to_string());
        }
    }
    if let Some(e) = &args.emulator {
        plan.emulator = Some(e.display().to_string());
    }
    Ok(plan)
}

fn location(args: &Args, name: &str) -> Result<PathBuf> {
    let loc = match &args.location {
        Some(l) if l.is_absolute() => l.clone(),
        Some(l) => std::env::current_dir()?.join(l),
        None => crate::settings::roots_dir().join(name),
    };
    Ok(loc)
}

#[derive(Serialize)]
struct DryRun<'a> {
    name: &'a str,
    location: &'a PathBuf,
    tool: &'a str,
    plan: &'a Plan,
    /// What the location allows and where the files would come from.
    decision: bootstrap::decision::Decision,
    actions: Vec<Action>,
}

fn print_dry_run(d: &DryRun, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(d)?);
        return Ok(());
    }
    let p = d.plan;
    println!(
        "bootstrap {} ({}) at {}",
        d.name,
        p.arch,
        d.location.display()
    );
    println!("  source:   {}", p.source);
    println!("  backend:  {:?} via {}", p.backend, d.tool);
    if let Some(e) = &p.emulator {
        println!("  emulator: {e}");
    }
    println!("  repositories:");
    for r in &p.repositories {
        match &r.suite {
            Some(s) => println!(
                "    {:<12} {} {} {}",
                r.name,
                r.url,
                s,
                r.components.join(" ")
            ),
            None => println!("    {:<12} {}", r.name, r.url),
        }
    }
    let extra = if p.packages.is_empty() {
        "(none)".to_string()
    } else {
        p.packages.join(", ")
    };
    println!("  extra packages: {extra}");
    use bootstrap::decision::{Decision, Source};
    match &d.decision {
        Decision::AlreadyDone => {
            println!("  the location already holds this root: it would only be registered")
        }
        Decision::Make {
            empty_first,
            source,
        } => {
            if *empty_first {
                println!("  the location's old root would be emptied first");
            }
            match source {
                Source::Pristine { copy } => println!(
                    "  pristine copy: {} (would be unpacked instead of the steps below)",
                    copy.display()
                ),
                Source::Backend { resume: true } => {
                    println!("  the partial root there would be resumed")
                }
                Source::Backend { resume: false } => println!("  pristine copy: none yet"),
            }
        }
    }
    println!("steps:");
    for a in &d.actions {
        match a {
            Action::Mkdir { path } => println!("  mkdir -p {}", path.display()),
            Action::Symlink { path, target } => {
                println!("  ln -s {} {}", target.display(), path.display())
            }
            Action::WriteFile { path, contents } => {
                println!("  write {}:", path.display());
                for l in contents.lines() {
                    println!("      {l}");
                }
            }
            Action::Run { argv, env, .. } => {
                let env: String = env
                    .iter()
                    .map(|(k, v)| format!("{k}={} ", bootstrap::shell_quote(v)))
                    .collect();
                let cmd: Vec<String> = argv.iter().map(|a| bootstrap::shell_quote(a)).collect();
                println!("  {env}{}", cmd.join(" "));
            }
            Action::AccelBundle { container, bundle } => println!(
                "  then: archbuild accel bundle {container} (into {}; one there that fits the root is reused), and {container} is recorded accelerated",
                bundle.display()
            ),
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let arch = crate::arch::lookup(&args.arch).map_err(|e| usage(e.to_string()))?;
    let name = args.name.clone().unwrap_or_else(|| arch.obs.to_string());
    crate::names::validate(&name)?;
    let plan = plan(&args)?;
    if args.accel {
        if let Some(refusal) = accel_step::refusal(&plan, arch, crate::arch::host()?) {
            return Err(usage(refusal));
        }
    }
    let location = location(&args, &name)?;
    let backend = bootstrap::backend_for(&plan)?;
    if args.dry_run {
        let ctx = bootstrap::Context {
            package_cache: pristine::package_cache(backend.tool(), arch.deb),
        };
        let req = run::Request {
            name: name.clone(),
            location: location.clone(),
            plan: plan.clone(),
            force: args.force,
            use_pristine: !args.no_cache,
            emulator: args.emulator.clone(),
            accel: args.accel,
        };
        let mut actions = backend.actions(&plan, &location, &ctx)?;
        actions.extend(run::after_steps(&req)?);
        let d = DryRun {
            name: &name,
            location: &location,
            tool: backend.tool(),
            plan: &plan,
            decision: run::decide(&req, backend.as_ref())?,
            actions,
        };
        return print_dry_run(&d, args.json);
    }
    super::require_root("archbuild bootstrap")?;
    if args.accel {
        let missing =
            accel_step::missing_on_host(&|tool| crate::bootstrap::distributions::have_tool(tool));
        if !missing.is_empty() {
            anyhow::bail!(
                "--accel needs more on this host: {}; or drop --accel",
                missing.join("; ")
            );
        }
    }
    let req = run::Request {
        name: name.clone(),
        location,
        plan,
        force: args.force,
        use_pristine: !args.no_cache,
        emulator: args.emulator.clone(),
        accel: args.accel,
    };
    let outcome = run::execute_reporting(&req, backend.as_ref(), args.json)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        let how = match outcome.how {
            run::How::Existing => "was already bootstrapped".to_string(),
            run::How::Restored => {
                format!("restored from a pristine copy in {:.1} s", outcome.seconds)
            }
            other => format!("{other} with {} in {:.1} s", outcome.tool, outcome.seconds),
        };
        println!(
            "{} ({}) {how}: {}\nnext: archbuild start {} && archbuild enter {}",
            outcome.name,
            outcome.arch,
            outcome.location.display(),
            outcome.name,
            outcome.name
        );
        match &outcome.accel {
            Some(a) if a.accelerated() => println!(
                "accelerated: {} tools from the bundle {} ({}); `archbuild start {}` uses it",
                a.tools,
                a.bundle.display(),
                a.how,
                outcome.name
            ),
            Some(a) => println!(
                "not accelerated: {}",
                a.note.as_deref().unwrap_or("nothing to accelerate")
            ),
            None => {}
        }
    }
    Ok(())
}
