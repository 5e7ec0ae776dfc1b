//! The command line (clap). Each subcommand's arguments live beside its code in
//! `commands/`; this file only names them.

use clap::{Parser, Subcommand};

use crate::commands;

#[derive(Debug, Parser)]
#[command(
    name = "archbuild",
    version,
    about = "Architecture emulation containers: foreign-arch roots entered through a mount namespace, run by qemu-user via binfmt_misc",
    after_help = "Quick start: sudo archbuild bootstrap aarch64 && sudo archbuild start aarch64 && sudo archbuild enter aarch64 -- uname -m"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Table of architectures: names, qemu target, emulator, binfmt entry in force
    Arches(commands::arches::Args),
    /// Accelerated roots: native tools instead of emulated ones where the bundle lists them
    #[command(subcommand)]
    Accel(commands::accel::AccelCommand),
    /// Check every precondition and say how to fix what is missing
    Doctor(commands::doctor::Args),
    /// Show, register, unregister or persist qemu-user binfmt_misc entries
    #[command(subcommand)]
    Binfmt(commands::binfmt::BinfmtCommand),
    /// Create a root file system of a foreign architecture
    Bootstrap(commands::bootstrap::Args),
    /// Start a container: create and pin its mount namespace
    Start(commands::start::Args),
    /// Run a shell or a command inside a running container
    Enter(commands::enter::Args),
    /// End the processes inside a container and remove its pin
    Stop(commands::stop::Args),
    /// List known and running containers
    List(commands::list::Args),
    /// Show a container: arch, root, pin, binds, processes
    Status(commands::status::Args),
    /// Delete a stopped container's root and forget it
    Remove(commands::remove::Args),
    /// Read OBS project metadata: repositories, path chains, bootstrap plans
    #[command(subcommand)]
    Obs(commands::obs::ObsCommand),
    /// Run the host's `osc build` for ARCH under archbuild's emulation, for the checkout in the current directory
    Build(commands::build::Args),
    /// Write the man pages, shell completions or binfmt.d example (for packagers)
    #[command(subcommand, hide = true)]
    Generate(commands::generate::GenerateCommand),
    /// Build the matrix of package checkouts: every repository x arch (x flavor) OBS would build, in parallel
    Batch(commands::batch::Args),
    /// The pre-submit check of the checkout in the current directory: build the whole matrix, then PASS/FAIL/INCONCLUSIVE (--plan: only show it)
    Check(commands::check::Args),
    /// The build program osc runs for `archbuild build` (not for direct use)
    #[command(hide = true)]
    BuildCmd(commands::build_cmd::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Arches(args) => commands::arches::run(args),
        Command::Doctor(args) => commands::doctor::run(args),
        Command::Accel(cmd) => commands::accel::run(cmd),
        Command::Binfmt(cmd) => commands::binfmt::run(cmd),
        Command::Bootstrap(args) => commands::bootstrap::run(args),
        Command::Start(args) => commands::start::run(args),
        Command::Enter(args) => commands::enter::run(args),
        Command::Stop(args) => commands::stop::run(args),
        Command::List(args) => commands::list::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::Remove(args) => commands::remove::run(args),
        Command::Obs(cmd) => commands::obs::run(cmd),
        Command::Build(args) => commands::build::run(args),
        Command::Generate(cmd) => {
            commands::generate::run(cmd, <Cli as clap::CommandFactory>::command())
        }
        Command::Batch(args) => commands::batch::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::BuildCmd(args) => commands::build_cmd::run(args),
    }
}
