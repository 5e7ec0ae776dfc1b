//! `archbuild bootstrap` (to be built: issue on bootstrapping roots).

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Architecture of the root (OBS, rpm, Debian or qemu name)
    pub arch: String,
}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`archbuild bootstrap` is not implemented yet")
}
