#[derive(Debug, clap::Subcommand)]
pub enum BinfmtCommand {
    Status,
}

pub fn run(_cmd: BinfmtCommand) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
