//! `archbuild check --plan [--json] [-A APIURL]`: the build matrix of the package
//! checkout in the current directory, computed as OBS's scheduler computes it (see
//! `matrix`), one line per cell with the rule that decided it. The builds themselves
//! (`archbuild check` without `--plan`) are not available yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Serialize;

use crate::matrix::{self, meta_flags, Plan, PlanInput, RepositoryConfig, Sources};
use crate::obs::checkout::{self, Checkout};
use crate::obs::client::{encode_segment, Subject};
use crate::obs::meta::ProjectMeta;
use crate::obs::{oscrc, Client};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "With --plan: fetches the project meta, the package meta and each repository's merged \
build configuration (_buildconfig) from OBS, reads _multibuild and the recipes of the checkout, and prints \
every cell (package[:flavor], repository, arch) with OBS's verdict (scheduled, excluded, disabled, locked, \
broken) and the rule that decided it. Nothing is built. docs/check.md maps each rule to OBS's sources.

Examples:
  archbuild check --plan
  archbuild check --plan --json -A https://api.opensuse.org"
)]
pub struct Args {
    /// Print the build matrix and the rule deciding each cell; build nothing
    #[arg(long)]
    pub plan: bool,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// OBS API URL or an alias from the oscrc (default: the checkout's, then osc's)
    #[arg(short = 'A', long = "apiurl", value_name = "URL|ALIAS")]
    pub apiurl: Option<String>,
    /// osc configuration file (default: $OSC_CONFIG, ~/.config/osc/oscrc, ~/.oscrc)
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    if !args.plan {
        return Err(anyhow!(
            "archbuild check can only show the build matrix so far, not build it: run `archbuild check --plan`"
        ));
    }
    let cwd = std::env::current_dir().context("cannot tell the current directory")?;
    let (co, package) = checkout::read_package(&cwd)?;
    let config = oscrc::load(
        args.config.as_deref(),
        args.apiurl.as_deref(),
        co.apiurl.as_deref(),
    )?;
    let client = Client::new(&config)?;
    let mut notes = Vec::new();
    let input = fetch(&client, &co, &package, &mut notes)?;
    let mut plan = matrix::plan(&input);
    notes.append(&mut plan.warnings);
    let out = Output {
        apiurl: client.apiurl().to_string(),
        project: co.project.clone(),
        package: package.clone(),
        counts: plan
            .counts()
            .into_iter()
            .map(|(v, n)| (v.as_str(), n))
            .collect(),
        cells: &plan,
        warnings: notes,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_table(&out);
    }
    Ok(())
}

#[derive(Serialize)]
struct Output<'a> {
    apiurl: String,
    project: String,
    package: String,
    counts: BTreeMap<&'static str, usize>,
    #[serde(serialize_with = "cells_only")]
    cells: &'a Plan,
    warnings: Vec<String>,
}

fn cells_only<S: serde::Serializer>(plan: &&Plan, s: S) -> Result<S::Ok, S::Error> {
    plan.cells.serialize(s)
}

fn print_table(out: &Output) {
    println!(
        "build matrix of {}/{} on {}, as OBS's scheduler decides it:",
        out.project, out.package, out.apiurl
    );
    let cells = &out.cells.cells;
    if cells.is_empty() {
        println!("  no cells: the project meta lists no repository with an arch");
    }
    let w = |f: &dyn Fn(&matrix::PlannedCell) -> usize, title: &str| {
        cells.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let wp = w(&|c| c.cell.obs_name().len(), "PACKAGE");
    let wr = w(&|c| c.cell.repository.len(), "REPOSITORY");
    let wa = w(&|c| c.cell.arch.len(), "ARCH");
    let wv = w(&|c| c.verdict.as_str().len(), "VERDICT");
    if !cells.is_empty() {
        println!(
            "{:wp$}  {:wr$}  {:wa$}  {:wv$}  RULE",
            "PACKAGE", "REPOSITORY", "ARCH", "VERDICT"
        );
    }
    for c in cells {
        println!(
            "{:wp$}  {:wr$}  {:wa$}  {:wv$}  {}",
            c.cell.obs_name(),
            c.cell.repository,
            c.cell.arch,
            c.verdict.as_str(),
            c.rule
        );
    }
    let counts: Vec<String> = out
        .cells
        .counts()
        .iter()
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    println!("{} cells: {}", cells.len(), counts.join(", "));
    for w in &out.warnings {
        println!("note: {w}");
    }
}

/// Fetch the documents and read the checkout.
fn fetch(
    client: &Client,
    co: &Checkout,
    package: &str,
    notes: &mut Vec<String>,
) -> Result<PlanInput> {
    let (prj, pkg) = (co.project.as_str(), package);
    let meta_text = client.get(
        &format!("/source/{}/_meta", encode_segment(prj)),
        &[],
        &Subject::Project(prj.into()),
    )?;
    let meta = ProjectMeta::parse(&meta_text, prj)?;
    let project_flags = meta_flags::parse(&meta_text, &format!("project meta of '{prj}'"))?;
    let package_flags = match client.get(
        &format!(
            "/source/{}/{}/_meta",
            encode_segment(prj),
            encode_segment(pkg)
        ),
        &[],
        &Subject::Other(format!("package '{pkg}' of project '{prj}'")),
    ) {
        Ok(text) => Some(meta_flags::parse(
            &text,
            &format!("package meta of '{prj}/{pkg}'"),
        )?),
        // the client words a 404 so; a package made with `osc mkpac` is not on OBS yet
        Err(e) if e.to_string().contains(" not found on ") => {
            notes.push(format!(
                "package {pkg} is not on the server yet: no package flags apply (they come with the first `osc commit`)"
            ));
            None
        }
        Err(e) => return Err(e),
    };
    let mut configs = BTreeMap::new();
    // the project's own _config, fetched once when a merged configuration is missing
    let mut own_config: Option<String> = None;
    for r in &meta.repositories {
        let config = match client.buildconfig(prj, &r.name) {
            Ok(text) => RepositoryConfig {
                text,
                defines: vec![],
            },
            Err(merged_error) => {
                let text = match &own_config {
                    Some(t) => t.clone(),
                    None => {
                        let t = client.project_config(prj).with_context(|| {
                            format!("neither the build configuration of {prj}/{} ({merged_error}) nor the project's _config could be fetched", r.name)
                        })?;
                        own_config.insert(t).clone()
                    }
                };
                notes.push(format!(
                    "the merged build configuration of {prj}/{} could not be fetched ({merged_error}): the project's own _config is used, without the configurations of its build path",
                    r.name
                ));
                RepositoryConfig {
                    text,
                    defines: vec![
                        ("_project".into(), prj.into()),
                        ("_repository".into(), r.name.clone()),
                    ],
                }
            }
        };
        configs.insert(r.name.clone(), config);
    }
    let sources = read_sources(&co.dir)?;
    let multibuild = sources
        .files
        .iter()
        .find(|f| {
            *f == "_multibuild" || (f.starts_with("_service:") && f.ends_with(":_multibuild"))
        })
        .and_then(|f| sources.texts.get(f).cloned());
    Ok(PlanInput {
        project: prj.to_string(),
        package: pkg.to_string(),
        repositories: meta
            .repositories
            .iter()
            .map(|r| (r.name.clone(), r.arches.clone()))
            .collect(),
        project_flags,
        package_flags,
        sources,
        multibuild,
        configs,
    })
}

/// Files whose text a plan may read: recipes and `_multibuild`.
fn is_recipe_like(name: &str) -> bool {
    let base = name.rsplit(':').next().unwrap_or(name);
    [".spec", ".dsc", ".kiwi", ".livebuild", ".productcompose"]
        .iter()
        .any(|e| base.ends_with(e))
        || matches!(
            base,
            "_multibuild"
                | "debian.control"
                | "PKGBUILD"
                | "APKBUILD"
                | "Chart.yaml"
                | "appimage.yml"
                | "fissile.yml"
                | "snapcraft.yaml"
                | "simpleimage"
        )
        || base.starts_with("Dockerfile")
        || base.contains("flatpak.")
        || base.starts_with("mkosi")
}

/// The checkout's files as they would be committed: regular files, no dot files.
fn read_sources(dir: &Path) -> Result<Sources> {
    let mut sources = Sources::default();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the checkout {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list the checkout {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            continue;
        }
        if is_recipe_like(&name) {
            let bytes = std::fs::read(entry.path()).with_context(|| {
                format!("cannot read {name} in the checkout: check its permissions")
            })?;
            sources
                .texts
                .insert(name.clone(), String::from_utf8_lossy(&bytes).into_owned());
        }
        sources.files.push(name);
    }
    sources.files.sort();
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_the_visible_files_with_recipe_texts() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".osc")).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("hello.spec"), "Name: hello\n").unwrap();
        std::fs::write(d.path().join("hello.tar.gz"), [0x1f, 0x8b]).unwrap();
        std::fs::write(d.path().join(".hidden.spec"), "x").unwrap();
        std::fs::write(d.path().join("_multibuild"), "<multibuild/>").unwrap();
        let s = read_sources(d.path()).unwrap();
        assert_eq!(s.files, ["_multibuild", "hello.spec", "hello.tar.gz"]);
        assert_eq!(s.texts["hello.spec"], "Name: hello\n");
        assert!(!s.texts.contains_key("hello.tar.gz"));
        assert!(is_recipe_like("_service:obs_scm:hello.spec"));
        assert!(!is_recipe_like("hello.changes"));
    }
}
