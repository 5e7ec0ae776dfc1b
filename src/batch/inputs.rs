//! The documents a checkout's build matrix is computed from: the project meta, the
//! package meta and each repository's build configuration from OBS, and the checkout's
//! own files (recipes, `_multibuild`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::matrix::{meta_flags, PlanInput, RepositoryConfig, Sources};
use crate::obs::checkout::Checkout;
use crate::obs::client::{encode_segment, Subject};
use crate::obs::meta::ProjectMeta;
use crate::obs::Client;

/// Fetch the documents and read the checkout.
/// The OBS client for a checkout: the oscrc (`explicit` or osc's own choice) and the API
/// URL (`apiurl`, else the checkout's, else the oscrc's).
pub fn client(explicit: Option<&Path>, apiurl: Option<&str>, co: &Checkout) -> Result<Client> {
    let config = crate::obs::oscrc::load(explicit, apiurl, co.apiurl.as_deref())?;
    Client::new(&config)
}

pub fn fetch(
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
pub fn is_recipe_like(name: &str) -> bool {
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
pub fn read_sources(dir: &Path) -> Result<Sources> {
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
