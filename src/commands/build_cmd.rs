//! `archbuild build-cmd -- BUILD_CMD ARGS...` (hidden): the build program osc runs when
//! `archbuild build` started it.

use anyhow::Result;

use crate::error::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// osc's build-cmd and its arguments
    #[arg(last = true, value_name = "BUILD_CMD_AND_ARGS")]
    pub argv: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    match crate::oscbuild::build_cmd::run(&args.argv)? {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}
