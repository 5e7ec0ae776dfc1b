//! `archbuild build` (to be built: issue on osc archbuild).

#[derive(Debug, clap::Args)]
pub struct Args {
    pub repository: String,
    pub arch: String,
}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`archbuild build` is not implemented yet")
}
