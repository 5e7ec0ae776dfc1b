//! `archbuild remove NAME`: delete a stopped container's root and forget it.

use anyhow::{bail, Result};

use crate::{container, names, state};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container name
    pub name: String,
    /// Forget the container but keep its root directory
    #[arg(long)]
    pub keep_root: bool,
}

pub fn run(args: Args) -> Result<()> {
    names::validate(&args.name)?;
    super::require_root("archbuild remove")?;
    let _container = crate::locks::container(&args.name)?;
    let record = state::require(&args.name)?;
    if container::is_running(&args.name) {
        bail!(
            "container '{}' is running: stop it first with `archbuild stop {}`",
            args.name,
            args.name
        );
    }
    if !args.keep_root && record.location.exists() {
        crate::safe_delete::remove_tree(&record.location)?;
    }
    state::forget(&args.name)?;
    println!(
        "removed container '{}'{}",
        args.name,
        if args.keep_root {
            format!(" (root {} kept)", record.location.display())
        } else {
            String::new()
        }
    );
    Ok(())
}
