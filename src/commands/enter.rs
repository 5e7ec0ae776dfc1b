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
    /// Directory to start in (default: the current one, when it exists inside)
    #[arg(long, hide = true)]
    pub cwd: Option<std::path::PathBuf>,
    /// Extra environment variable KEY=VALUE inside (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE", hide = true)]
    pub env: Vec<String>,
    /// Command to run (default: a login shell)
    #[arg(last = true)]
    pub command: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    names::validate(&args.name)?;
    super::require_root("archbuild enter")?;
    let record = state::require(&args.name)?;
    let env = args
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| usage(format!("--env {kv}: write it as KEY=VALUE")))
        })
        .collect::<Result<Vec<_>>>()?;
    let identity = match (&args.user, args.root) {
        (_, true) => process::Identity::Root,
        (Some(user), false) => process::Identity::Named(user.clone()),
        (None, false) => process::Identity::Invoker,
    };
    let spec = process::RunSpec {
        identity,
        command: args.command,
        cwd: args.cwd.or_else(|| std::env::current_dir().ok()),
        env,
    };
    let err = container::enter_exec(&record, &spec).unwrap_err();
    if err.downcast_ref::<process::ExecFailed>().is_some() {
        eprintln!("archbuild: error: {}", crate::error::one_line(&err));
        return Err(ExitStatus(127).into());
    }
    Err(err)
}
