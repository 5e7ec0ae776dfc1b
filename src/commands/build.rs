//! `archbuild build REPOSITORY ARCH [BUILD_DESCR] [-- OSC_BUILD_OPTIONS...]`

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::error::ExitStatus;
use crate::oscbuild::run::{self, Request};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Runs `osc build REPOSITORY ARCH [BUILD_DESCR] OPTIONS...` for the osc package checkout \
in the current directory inside the container of ARCH, with the user's osc configuration. The checkout must be \
visible at the same path inside (under /home or /var/tmp, or bound in with `archbuild start --bind`). Build roots \
and the package cache stay under the shared /var/tmp. The exit status is the build's.

Examples:
  sudo archbuild build openSUSE_Factory_ARM armv7l
  sudo archbuild build Debian_12 aarch64 hello.dsc -- --clean --keep-pkgs=../out
  osc archbuild openSUSE_Tumbleweed riscv64 -j 4     (the osc plugin runs this command)"
)]
pub struct Args {
    /// Repository of the project to build for (as in `osc build`)
    pub repository: String,
    /// Architecture to build for (OBS, rpm, Debian or qemu name)
    #[arg(value_parser = super::generate::ArchNames, hide_possible_values = true)]
    pub arch: String,
    /// Build description (spec, dsc, kiwi...) when the checkout has more than one
    pub build_descr: Option<String>,
    /// Options for `osc build`, after `--`, passed on unchanged
    #[arg(last = true, value_name = "OSC_BUILD_OPTIONS")]
    pub options: Vec<String>,
    /// OBS API URL (default: the checkout's)
    #[arg(long)]
    pub apiurl: Option<String>,
    /// OBS project (default: the checkout's)
    #[arg(long)]
    pub project: Option<String>,
    /// OBS package (default: the checkout's)
    #[arg(long)]
    pub package: Option<String>,
    /// Container to build in (default: the OBS arch name)
    #[arg(long)]
    pub name: Option<String>,
    /// Build for this user: their osc configuration; files the build leaves are theirs
    /// (default: $SUDO_USER under sudo, else the caller)
    #[arg(long)]
    pub user: Option<String>,
    /// The user's osc configuration file (default: ~/.config/osc/oscrc or ~/.oscrc)
    #[arg(long, value_name = "FILE")]
    pub oscrc: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    super::require_root("archbuild build")?;
    let cwd = std::env::current_dir()
        .context("cannot tell the current directory")?
        .canonicalize()
        .context("cannot resolve the current directory")?;
    let request = Request {
        repository: args.repository,
        arch: args.arch,
        build_descr: args.build_descr,
        options: args.options,
        apiurl: args.apiurl,
        project: args.project,
        package: args.package,
        name: args.name,
        user: args.user,
        oscrc: args.oscrc,
        cwd,
    };
    match run::build(&request)? {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}
