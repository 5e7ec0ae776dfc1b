//! `archbuild obs repos [PROJECT]` and `archbuild obs plan PROJECT REPOSITORY ARCH`.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::error::usage;
use crate::obs::meta::{Download, PathElement};
use crate::obs::pathchain::{self, MetaCache, MetaSource};
use crate::obs::{bootstrap_plan, checkout, oscrc, Client};

/// Options every `obs` command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// OBS API URL or an alias from the oscrc (default: the checkout's, then osc's)
    #[arg(short = 'A', long = "apiurl", value_name = "URL|ALIAS")]
    pub apiurl: Option<String>,
    /// osc configuration file (default: $OSC_CONFIG, ~/.config/osc/oscrc, ~/.oscrc)
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ObsCommand {
    /// Repositories x arches of a project, with their expanded path chains
    Repos {
        /// OBS project (default: the package checkout's .osc/_project in the current directory)
        project: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// What `bootstrap ARCH --obs PROJECT/REPOSITORY` would do: backend, repositories, packages, emulator
    Plan {
        /// OBS project, e.g. home:alice or openSUSE:Factory
        project: String,
        /// Repository of the project, e.g. openSUSE_Tumbleweed
        repository: String,
        /// Architecture (OBS, rpm, Debian or qemu name)
        #[arg(value_parser = super::generate::ArchNames, hide_possible_values = true)]
        arch: String,
        #[command(flatten)]
        common: Common,
    },
}

pub fn run(cmd: ObsCommand) -> Result<()> {
    match cmd {
        ObsCommand::Repos { project, common } => repos(project, &common),
        ObsCommand::Plan {
            project,
            repository,
            arch,
            common,
        } => plan_cmd(&project, &repository, &arch, &common),
    }
}

/// The client for the checkout in the current directory, the oscrc and `-A`.
fn client(common: &Common) -> Result<(Client, Option<checkout::Checkout>)> {
    let here = std::env::current_dir()
        .ok()
        .and_then(|d| checkout::read(&d));
    let store_apiurl = here.as_ref().and_then(|c| c.apiurl.as_deref());
    let config = oscrc::load(
        common.config.as_deref(),
        common.apiurl.as_deref(),
        store_apiurl,
    )?;
    Ok((Client::new(&config)?, here))
}

#[derive(Serialize)]
struct RepoOut {
    name: String,
    arches: Vec<String>,
    /// The repository's own <path> elements.
    paths: Vec<PathElement>,
    /// The expanded build path (the repository itself first).
    chain: Vec<PathElement>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    downloads: Vec<Download>,
}

#[derive(Serialize)]
struct ReposOut {
    apiurl: String,
    project: String,
    repositories: Vec<RepoOut>,
}

fn repos(project: Option<String>, common: &Common) -> Result<()> {
    let (client, here) = client(common)?;
    let project = match project.or_else(|| here.map(|c| c.project)) {
        Some(p) => p,
        None => {
            return Err(usage(
                "no PROJECT given and the current directory is not an osc checkout (no .osc/_project): name the project, e.g. `archbuild obs repos home:alice`",
            ))
        }
    };
    let cache = MetaCache::new(&client);
    let meta = cache.project_meta(&project)?;
    let mut out = ReposOut {
        apiurl: client.apiurl().to_string(),
        project: project.clone(),
        repositories: vec![],
    };
    for r in &meta.repositories {
        let chain = pathchain::expand(&PathElement::new(&project, &r.name), &cache)?;
        out.repositories.push(RepoOut {
            name: r.name.clone(),
            arches: r.arches.clone(),
            paths: r.paths.clone(),
            chain,
            downloads: r.downloads.clone(),
        });
    }
    if common.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if out.repositories.is_empty() {
        println!("{project} ({}) has no repositories", out.apiurl);
        return Ok(());
    }
    let w_name = out
        .repositories
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max("REPOSITORY".len());
    let arches_of = |r: &RepoOut| r.arches.join(" ");
    let w_arch = out
        .repositories
        .iter()
        .map(|r| arches_of(r).len())
        .max()
        .unwrap_or(0)
        .max("ARCHES".len());
    println!("{:w_name$}  {:w_arch$}  PATH CHAIN", "REPOSITORY", "ARCHES");
    for r in &out.repositories {
        let chain: Vec<String> = r.chain.iter().skip(1).map(|p| p.to_string()).collect();
        let mut chain = if chain.is_empty() {
            "-".to_string()
        } else {
            chain.join(" -> ")
        };
        if !r.downloads.is_empty() {
            chain.push_str(&format!(
                " (download on demand: {})",
                r.downloads
                    .iter()
                    .map(|d| format!("{} {}", d.arch, d.url))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        println!("{:w_name$}  {:w_arch$}  {}", r.name, arches_of(r), chain);
    }
    Ok(())
}

fn plan_cmd(project: &str, repository: &str, arch: &str, common: &Common) -> Result<()> {
    let (client, _) = client(common)?;
    let e = bootstrap_plan::explain(&client, project, repository, arch)?;
    if common.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    let p = &e.plan;
    println!("plan for {} on {} ({})", p.arch, p.source, client.apiurl());
    println!(
        "  path:         {}",
        e.path
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    println!(
        "  backend:      {} (binarytype {}, repotype {})",
        match p.backend {
            crate::bootstrap::plan::Backend::Zypper => "zypper",
            crate::bootstrap::plan::Backend::Debian => "debian",
        },
        e.binarytype,
        if e.repotype.is_empty() {
            "rpm-md".to_string()
        } else {
            e.repotype.join(" ")
        }
    );
    println!(
        "  emulator:     {}",
        p.emulator.as_deref().unwrap_or("none (native)")
    );
    println!("  repositories:");
    for r in &p.repositories {
        match &r.suite {
            Some(s) => println!(
                "    {:<24} {} {} {}",
                r.name,
                r.url,
                s,
                r.components.join(" ")
            ),
            None => println!("    {:<24} {}", r.name, r.url),
        }
    }
    println!(
        "  packages ({}): {}",
        p.packages.len(),
        p.packages.join(" ")
    );
    println!(
        "  run with:     sudo archbuild bootstrap {} --obs {}/{}",
        p.arch, project, repository
    );
    Ok(())
}
