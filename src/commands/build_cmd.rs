//! `archbuild build-cmd -- BUILD_CMD ARGS...` (hidden): the build program osc runs when
//! `archbuild build` started it.

use anyhow::Result;

use crate::error::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Make this file when the build program starts (`archbuild build` waits for it)
    #[arg(long, hide = true, value_name = "FILE")]
    pub started: Option<std::path::PathBuf>,
    /// The `archbuild build` (PID:START) whose end ends the build
    #[arg(long, hide = true, value_name = "PID:START")]
    pub watch: Option<String>,
    /// Accelerate the build (`archbuild build --accel`)
    #[arg(long, hide = true)]
    pub accel: bool,
    /// osc's build-cmd and its arguments
    #[arg(last = true, value_name = "BUILD_CMD_AND_ARGS")]
    pub argv: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    match crate::oscbuild::build_cmd::run(
        &args.argv,
        args.started.as_deref(),
        args.watch.as_deref(),
        args.accel,
    )? {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}
