//! `archbuild obs repos|plan` (to be built: issue on OBS metadata).

#[derive(Debug, clap::Subcommand)]
pub enum ObsCommand {
    /// Repositories x arches of a project, with their path chains
    Repos,
}

pub fn run(_cmd: ObsCommand) -> anyhow::Result<()> {
    anyhow::bail!("`archbuild obs` is not implemented yet")
}
