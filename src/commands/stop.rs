//! `archbuild stop NAME`

use std::time::Duration;

use anyhow::Result;

use crate::container::{self, Stopped};
use crate::{names, state};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container name
    pub name: String,
    /// Seconds the processes inside get to end after SIGTERM before SIGKILL
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

pub fn run(args: Args) -> Result<()> {
    names::validate(&args.name)?;
    super::require_root("archbuild stop")?;
    // A name archbuild never knew is a mistake; a pin without a record (the record was
    // removed while the container ran) can still be stopped.
    if state::load(&args.name)?.is_none() && !container::is_running(&args.name) {
        state::require(&args.name)?;
    }
    match container::stop(&args.name, Duration::from_secs(args.timeout))? {
        Stopped::NotRunning => println!("container '{}' is not running", args.name),
        Stopped::Now { killed: 0 } => println!("stopped container '{}'", args.name),
        Stopped::Now { killed } => {
            println!(
                "stopped container '{}' ({killed} process(es) killed after {}s)",
                args.name, args.timeout
            )
        }
    }
    Ok(())
}
