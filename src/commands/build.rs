//! `archbuild build REPOSITORY ARCH [BUILD_DESCR] [-- OSC_BUILD_OPTIONS...]`

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::error::ExitStatus;
use crate::oscbuild::run::{self, Request};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Runs the host's `osc build REPOSITORY ARCH [BUILD_DESCR] OPTIONS...` for the osc package checkout \
in the current directory, as you, exactly as `osc build` would (your oscrc, credentials manager, package cache and \
build root), with one difference: osc's su-wrapper runs the build program through `archbuild build-cmd`, which runs \
obs-build natively as root in a private mount namespace where the binfmt_misc table is read-only, and every foreign \
binary of the build root runs under archbuild's binfmt entry (static qemu-user, flag F). No container is involved. \
Needs osc and obs-build on the host, and osc's su-wrapper (sudo) for the build, as `osc build` does. \
The exit status is osc's.

Examples:
  archbuild build openSUSE_Factory_ARM armv7l
  archbuild build Debian_12 aarch64 hello.dsc -- --clean --keep-pkgs=../out
  archbuild build Debian_13 aarch64 --accel -- --clean   (native compilers from the arch's bundle)
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
    /// Run osc as this user (when archbuild runs as root; default: $SUDO_USER under sudo)
    #[arg(long)]
    pub user: Option<String>,
    /// The osc configuration file osc reads (default: osc's own choice)
    #[arg(long, value_name = "FILE")]
    pub oscrc: Option<PathBuf>,
    /// The osc program, with interpreter words if needed (default: osc on PATH)
    #[arg(long, value_name = "PROGRAM")]
    pub osc: Option<String>,
    /// Run the native x86_64 tools of the arch's acceleration bundle (`archbuild accel
    /// bundle`) in the build root where its files are the ones they were made for
    #[arg(long)]
    pub accel: bool,
}

pub fn run(args: Args) -> Result<()> {
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
        user: args.user,
        oscrc: args.oscrc,
        osc: args.osc,
        cwd,
        accel: args.accel,
    };
    match run::build(&request)? {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}
