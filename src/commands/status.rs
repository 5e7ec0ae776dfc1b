//! `archbuild status NAME [--json]`

use anyhow::Result;

use crate::{container, names, state};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container name
    pub name: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    names::validate(&args.name)?;
    let record = state::require(&args.name)?;
    let status = container::status(&record)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
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
