//! `archbuild start NAME | --arch ARCH --location DIR [--name N] [--bind SRC[:DST]]...`

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::container::{self, mounts, Started};
use crate::error::usage;
use crate::state::{self, Record};
use crate::{arch, names};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name of a known container (from `bootstrap` or an earlier `start`)
    pub name: Option<String>,
    /// Architecture of the root at --location (for a container archbuild does not know yet)
    #[arg(long, value_parser = super::generate::ArchNames, hide_possible_values = true)]
    pub arch: Option<String>,
    /// Root directory of a container archbuild does not know yet
    #[arg(long, requires = "arch")]
    pub location: Option<PathBuf>,
    /// Name for a new container (default: the OBS arch name)
    #[arg(long = "name", value_name = "NAME")]
    pub new_name: Option<String>,
    /// Extra directory to bind into the container, SRC or SRC:DST (repeatable)
    #[arg(long = "bind", value_name = "SRC[:DST]")]
    pub binds: Vec<String>,
    /// qemu-user emulator to use instead of the distribution's
    #[arg(long)]
    pub emulator: Option<PathBuf>,
    /// Accelerate: native tools from the arch's bundle where the manifest lists them
    /// (remembered for the container)
    #[arg(long, conflicts_with = "no_accel")]
    pub accel: bool,
    /// Do not accelerate (remembered for the container)
    #[arg(long)]
    pub no_accel: bool,
    /// Print the mount plan and do nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Turn the arguments into the record of the container to start (not saved yet).
fn record_from(args: &Args) -> Result<Record> {
    let binds = args
        .binds
        .iter()
        .map(|b| mounts::parse_bind(b))
        .collect::<Result<Vec<_>>>()?;
    match (&args.name, &args.arch, &args.location) {
        (Some(name), None, None) => {
            names::validate(name)?;
            let mut record = state::require(name)?;
            for bind in binds {
                if !record.binds.contains(&bind) {
                    record.binds.push(bind);
                }
            }
            if args.emulator.is_some() {
                record.emulator = args.emulator.clone();
            }
            if args.accel || args.no_accel {
                record.accel = args.accel;
            }
            Ok(record)
        }
        (positional, Some(arch_name), Some(location)) => {
            let arch = arch::lookup(arch_name)?;
            let name = args.new_name.clone().or(positional.clone()).unwrap_or_else(|| arch.obs.to_string());
            names::validate(&name)?;
            if !location.is_dir() {
                bail!("location {} does not exist or is not a directory: bootstrap a root there with `archbuild bootstrap {} --location {}`", location.display(), arch.obs, location.display());
            }
            let location = location.canonicalize()?;
            if let Some(existing) = state::load(&name)? {
                if existing.location != location {
                    bail!(
                        "container '{name}' already exists with root {}: pick another --name or `archbuild remove {name}`",
                        existing.location.display()
                    );
                }
            }
            Ok(Record {
                name,
                arch: arch.obs.to_string(),
                location,
                binds,
                emulator: args.emulator.clone(),
                origin: state::Origin::Existing,
                accel: args.accel,
            })
        }
        (None, None, None) => Err(usage("say which container: `archbuild start NAME` or `archbuild start --arch ARCH --location DIR`")),
        _ => Err(usage("--arch and --location go together: `archbuild start --arch ARCH --location DIR [--name NAME]`")),
    }
}

pub fn run(args: Args) -> Result<()> {
    let record = record_from(&args)?;
    if args.dry_run {
        let plan = container::plan_start(&record, false)?;
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }
    super::require_root("archbuild start")?;
    if record.accel {
        crate::accel::host::prepare_log(&record.name)?;
    }
    match container::start(&record)? {
        Started::AlreadyRunning => {
            println!(
                "container '{}' is already running (pin {})",
                record.name,
                container::pin_path(&record.name).display()
            );
        }
        Started::Now => {
            state::save(&record)?;
            println!(
                "started container '{}' ({}, root {}); enter it with `archbuild enter {}` or `nsenter --mount={}`",
                record.name,
                record.arch,
                record.location.display(),
                record.name,
                container::pin_path(&record.name).display()
            );
        }
    }
    Ok(())
}
