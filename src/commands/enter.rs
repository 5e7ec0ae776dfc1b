//! `archbuild enter NAME [--user U | --root] [-- COMMAND...]`

use anyhow::Result;

use crate::container::{self, process};
use crate::error::{usage, ExitStatus};
use crate::{names, state};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container name
    pub name: String,
    /// Run as this user (default: $SUDO_USER under sudo, else the caller)
    #[arg(long, conflicts_with = "root")]
    pub user: Option<String>,
    /// Run as root
    #[arg(long)]
    pub root: bool,
    /// Command to run (default: a login shell)
    #[arg(last = true)]
    pub command: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    names::validate(&args.name)?;
    super::require_root("archbuild enter")?;
    let record = state::load(&args.name)?.ok_or_else(|| {
        usage(format!(
            "no container called '{}': `archbuild list` shows the known ones",
            args.name
        ))
    })?;
    let identity = match (&args.user, args.root) {
        (_, true) => process::Identity::Root,
        (Some(user), false) => process::Identity::Named(user.clone()),
        (None, false) => process::Identity::Invoker,
    };
    let spec = process::RunSpec {
        identity,
        command: args.command,
        cwd: std::env::current_dir().ok(),
        env: Vec::new(),
    };
    let err = container::enter_exec(&record, &spec).unwrap_err();
    if err.downcast_ref::<process::ExecFailed>().is_some() {
        eprintln!("archbuild: error: {}", crate::error::one_line(&err));
        return Err(ExitStatus(127).into());
    }
    Err(err)
}
