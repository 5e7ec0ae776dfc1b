//! One module per subcommand: arguments and the glue from them to the core modules.

pub mod accel;
pub mod arches;
pub mod batch;
pub mod binfmt;
pub mod bootstrap;
pub mod build;
pub mod build_cmd;
pub mod check;
pub mod doctor;
pub mod enter;
pub mod generate;
pub mod list;
pub mod obs;
pub mod remove;
pub mod start;
pub mod status;
pub mod stop;

/// Refuse to go on unless running as root, naming the command to retry with.
pub fn require_root(what: &str) -> anyhow::Result<()> {
    if !crate::user::is_root() {
        anyhow::bail!("{what} needs root: run it with sudo");
    }
    Ok(())
}
