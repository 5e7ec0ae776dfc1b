//! The verdict of one cell, by the rules of OBS's scheduler in their order
//! (backend `BSSched/Checker.pm` `checkpkgs`, with the per-repository recipe checks of
//! the source server's `getprojpack`):
//!
//! 1. `<lock>` flags: the package's, with the project's result as default -> locked;
//! 2. the prjconf's `BuildFlags: excludebuild:NAME` / `onlybuild:NAME` (NAME is
//!    `PKG`, `PKG:FLAVOR` or the package's `<releasename>`) -> excluded;
//! 3. no source files at all -> broken (unless every repository of the arch is
//!    disabled: then 4 decides);
//! 4. `<build>` flags: the package's, with the project's result as default (a
//!    `maintenance_release` project without a `<build>` element defaults to off) ->
//!    disabled;
//! 5. no recipe type in the build configuration -> broken;
//! 6. no recipe of that type for the package or flavor -> excluded;
//! 7. a recipe without a name -> broken;
//! 8. `ExclusiveArch`/`ExcludeArch` of a spec, `Architecture` of a Debian recipe ->
//!    excluded;
//! 9. otherwise scheduled.

use super::buildconfig::BuildConfig;
use super::flags::{self, Outcome};
use super::meta_flags::MetaFlags;
use super::verdict::{Decision, Verdict};
use super::{deb, recipe, spec, Cell, PlanInput};

/// `outcome` of a flag in words: which element in which meta, or the default.
fn source_of(package: &Outcome, project: &Outcome, project_default: &str) -> String {
    if let Some(e) = package.explain() {
        format!("{e} in the package meta")
    } else if let Some(e) = project.explain() {
        format!("{e} in the project meta (no package element matches)")
    } else {
        project_default.to_string()
    }
}

fn no_flags() -> &'static MetaFlags {
    static EMPTY: std::sync::OnceLock<MetaFlags> = std::sync::OnceLock::new();
    EMPTY.get_or_init(MetaFlags::default)
}

/// The `<build>` result for a repository and arch (project result as the package's default).
fn build_flag(input: &PlanInput, repository: &str, arch: &str) -> (Outcome, Outcome, bool) {
    let package = input.package_flags.as_ref().unwrap_or(no_flags());
    // `checkpkgs`: a maintenance_release project without <build> builds nothing; with
    // a <build> element (even an empty one) its elements decide over a default of on
    let default = input.project_flags.has_build
        || input.project_flags.kind.as_deref() != Some("maintenance_release");
    let project = flags::enabled(&input.project_flags.build, true, repository, arch);
    let project = match project {
        Outcome::Default(_) => Outcome::Default(default),
        decided => decided,
    };
    let pkg = flags::enabled(&package.build, project.enabled(), repository, arch);
    (pkg, project, default)
}

pub fn decide(cell: &Cell, input: &PlanInput, config: &BuildConfig) -> Decision {
    let (repo, arch) = (cell.repository.as_str(), cell.arch.as_str());
    let package = input.package_flags.as_ref().unwrap_or(no_flags());

    // 1. lock
    let project_lock = flags::enabled(&input.project_flags.lock, false, repo, arch);
    let lock = flags::enabled(&package.lock, project_lock.enabled(), repo, arch);
    if lock.enabled() {
        return Decision::new(
            Verdict::Locked,
            format!("locked by {}", source_of(&lock, &project_lock, "")),
        );
    }

    // 2. prjconf build lists
    let packid = cell.obs_name();
    let releasename = package
        .releasename
        .clone()
        .unwrap_or_else(|| packid.clone());
    let listed = |names: &[String]| names.iter().any(|n| *n == packid || *n == releasename);
    if listed(&config.excludebuild) {
        return Decision::new(
            Verdict::Excluded,
            format!(
                "excluded by the build configuration of {repo}: BuildFlags: excludebuild:{}",
                if config.excludebuild.contains(&packid) {
                    &packid
                } else {
                    &releasename
                }
            ),
        );
    }
    if !config.onlybuild.is_empty() && !listed(&config.onlybuild) {
        return Decision::new(
            Verdict::Excluded,
            format!(
                "excluded by the build configuration of {repo}: BuildFlags: onlybuild: lists {} and not {packid}",
                config.onlybuild.join(", ")
            ),
        );
    }

    // 3. sources at all
    let (build, project_build, project_default) = build_flag(input, repo, arch);
    if input.sources.files.is_empty() {
        let all_disabled = input
            .repositories
            .iter()
            .all(|(r, _)| !build_flag(input, r, arch).0.enabled());
        if !all_disabled {
            return Decision::new(
                Verdict::Broken,
                "broken: the checkout has no source files (OBS: no source uploaded)",
            );
        }
    }

    // 4. build flags
    let default_words = if project_default {
        "default"
    } else {
        "the default of a maintenance_release project (nothing builds unless enabled)"
    };
    if !build.enabled() {
        return Decision::new(
            Verdict::Disabled,
            format!(
                "disabled by {}",
                source_of(&build, &project_build, default_words)
            ),
        );
    }
    let enabled_by = source_of(&build, &project_build, default_words);

    // 5. recipe type
    let recipe_type = config.recipe_type.as_str();
    if recipe_type == "UNDEFINED" {
        return Decision::new(
            Verdict::Broken,
            format!("broken: the build configuration of {repo} gives no recipe type (no Type:, and Preinstall: names none of rpm, debianutils, pacman)"),
        );
    }

    // 6. the recipe
    let lookup = cell.flavor.as_deref().unwrap_or(&cell.package);
    let Some(file) = recipe::find(&input.sources.files, lookup, repo, recipe_type) else {
        return Decision::new(
            Verdict::Excluded,
            format!("excluded: no {recipe_type} recipe for {lookup} among the checkout's files (OBS excludes a package without a recipe of the repository's type)"),
        );
    };
    let Some(text) = input.sources.texts.get(&file) else {
        return Decision::new(Verdict::Broken, format!("broken: {file} cannot be read"));
    };

    // 7. and 8. what the recipe says
    let target = config.compare_arch();
    let scheduled = |limits: String| {
        Decision::new(
            Verdict::Scheduled,
            format!("scheduled: recipe {file}{limits}; build enabled by {enabled_by}"),
        )
    };
    match recipe_type {
        "spec" => {
            let macros = config.macros_for_recipe(text.len());
            let s = spec::read(
                text,
                macros,
                cell.flavor.as_deref().unwrap_or(""),
                &cell.package,
            );
            if s.name.is_none() {
                return Decision::new(
                    Verdict::Broken,
                    format!(
                        "broken: can not parse name from {file} (no Name: in its main preamble)"
                    ),
                );
            }
            let mut limits = String::new();
            if let Some(list) = &s.exclusive_arch {
                if list.is_empty() {
                    return Decision::new(
                        Verdict::Excluded,
                        format!("excluded: {file} has an empty ExclusiveArch:, which builds for no arch"),
                    );
                }
                if !list.iter().any(|a| a == target) {
                    return Decision::new(
                        Verdict::Excluded,
                        format!("excluded: ExclusiveArch: {} (after macros) in {file} does not list {target}", list.join(" ")),
                    );
                }
                limits.push_str(&format!(", ExclusiveArch lists {target}"));
            }
            if let Some(list) = &s.exclude_arch {
                if list.iter().any(|a| a == target) {
                    return Decision::new(
                        Verdict::Excluded,
                        format!(
                            "excluded: ExcludeArch: {} (after macros) in {file} lists {target}",
                            list.join(" ")
                        ),
                    );
                }
                limits.push_str(&format!(", ExcludeArch does not list {target}"));
            }
            scheduled(limits)
        }
        "dsc" => {
            let d = deb::read(text);
            if d.name.is_none() {
                return Decision::new(
                    Verdict::Broken,
                    format!("broken: can not parse name from {file} (no Source: in its first paragraph)"),
                );
            }
            match (&d.exclusive_arch, &d.field) {
                (Some(list), Some(field)) if !list.iter().any(|a| a == target) => Decision::new(
                    Verdict::Excluded,
                    format!("excluded: Architecture: {field} in {file} (OBS arches: {}) does not include {target}", list.join(" ")),
                ),
                (_, Some(field)) => scheduled(format!(", Architecture: {field} includes {target}")),
                _ => scheduled(String::new()),
            }
        }
        other => scheduled(format!(
            " ({other}: archbuild does not read the arch limits of this recipe type)"
        )),
    }
}
