//! What a repository's merged build configuration (`_buildconfig`) says about one arch,
//! for the matrix: the recipe type, the prjconf build lists (`BuildFlags:
//! excludebuild:`/`onlybuild:`), the arch recipes are compared with (`Target:`), and the
//! rpm macros a recipe is parsed with (obs-build `Build::read_config`: its standard
//! macros, `%_target_cpu`, `%_target_os`, `DistMacro:` and the `Macros:` blocks; the
//! prjconf's own `%define`s stay inside the prjconf).

use crate::obs::prjconf::macros::{work_for, Macros};
use crate::obs::prjconf::Prjconf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildConfig {
    /// The scheduler arch.
    pub arch: String,
    /// `Type:`, or guessed from `Preinstall:` as obs-build does (`UNDEFINED` if neither).
    pub recipe_type: String,
    /// `BuildFlags: excludebuild:NAME` names.
    pub excludebuild: Vec<String>,
    /// `BuildFlags: onlybuild:NAME` names.
    pub onlybuild: Vec<String>,
    /// `Target:` as written.
    pub target: Option<String>,
    /// Macro definitions for recipes, in the order obs-build applies them.
    pub recipe_macros: Vec<(String, String)>,
}

impl BuildConfig {
    /// Read `text` (a `_buildconfig` or a project's `_config`) for scheduler arch `arch`;
    /// `defines` are macros defined before the text (`_project`, `_repository`).
    pub fn read(text: &str, arch: &str, defines: &[(&str, &str)]) -> BuildConfig {
        let conf = Prjconf::parse_with(text, arch, defines);
        let list = |key: &str| -> Vec<String> {
            conf.buildflags
                .iter()
                .filter_map(|f| f.strip_prefix(key))
                .map(str::to_string)
                .collect()
        };
        let mut recipe_macros = Vec::new();
        for d in &conf.distmacros {
            if let Some(m) = define(&format!("%define {d}")) {
                recipe_macros.push(m);
            }
        }
        if let Some(cpu) = conf.target.as_deref().and_then(|t| t.split('-').next()) {
            recipe_macros.push(("_target_cpu".to_string(), cpu.to_string()));
        }
        recipe_macros.extend(macro_file_definitions(&conf.rawmacros));
        BuildConfig {
            arch: arch.to_string(),
            recipe_type: conf.build_type().to_string(),
            excludebuild: list("excludebuild:"),
            onlybuild: list("onlybuild:"),
            target: conf.target.clone(),
            recipe_macros,
        }
    }

    /// The arch `ExclusiveArch`/`ExcludeArch`/`Architecture` are compared with: the
    /// first part of `Target:`, else the scheduler arch (source server `getprojpack`).
    pub fn compare_arch(&self) -> &str {
        self.target
            .as_deref()
            .and_then(|t| t.split('-').next())
            .filter(|c| !c.is_empty())
            .unwrap_or(&self.arch)
    }

    /// A fresh macro table for parsing one recipe.
    pub fn macros_for_recipe(&self, recipe_len: usize) -> Macros {
        let mut m = Macros::standard(&self.arch, work_for(recipe_len));
        for (k, v) in &self.recipe_macros {
            m.map.insert(k.clone(), v.clone());
        }
        m
    }
}

/// `%define NAME BODY` (or `%define NAME(OPTS) BODY`) as obs-build's `initmacros` reads it.
fn define(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("%define")?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    let (name, mut body) = rest.split_at(end);
    if body.starts_with('(') {
        body = body.find(')').map_or("", |i| &body[i + 1..]);
    }
    Some((name.to_string(), body.trim().to_string()))
}

/// The definitions of `Macros:` text (rpm macro file lines `%name body`, continued by
/// a trailing backslash), as obs-build's `add_macros` + `initmacros` make them.
fn macro_file_definitions(raw: &str) -> Vec<(String, String)> {
    let mut lines: Vec<String> = Vec::new();
    for l in raw.lines() {
        match lines.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('\n');
                last.push_str(l);
            }
            _ => lines.push(l.to_string()),
        }
    }
    lines
        .iter()
        .filter_map(|l| l.strip_prefix('%'))
        .filter_map(|l| define(&format!("%define {l}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_lists_type_target_and_recipe_macros() {
        let text = "%define _project home:a\nType: spec\nBuildFlags: excludebuild:foo onlybuild:bar\n%ifarch s390x\nBuildFlags: excludebuild:hello:doc\n%endif\nBuildFlags: genmetaalgo:1\n%define local_only 1\nDistMacro: %distro_name Tumble\nMacros:\n%my_arches x86_64 aarch64\n%multi a \\\nb\n:Macros\n%if 0\nMacros:\n%skipped yes\n:Macros\n%endif\n";
        let c = BuildConfig::read(text, "s390x", &[]);
        assert_eq!(c.recipe_type, "spec");
        assert_eq!(c.excludebuild, ["foo", "hello:doc"]);
        assert_eq!(c.onlybuild, ["bar"]);
        assert_eq!(c.compare_arch(), "s390x");
        let m = c.macros_for_recipe(0);
        assert_eq!(m.map["my_arches"], "x86_64 aarch64");
        assert_eq!(m.map["multi"], "a \nb");
        assert_eq!(m.map["_target_cpu"], "s390x");
        assert!(
            !m.map.contains_key("local_only"),
            "prjconf %define stays in the prjconf"
        );
        assert!(!m.map.contains_key("skipped"), "Macros: inside a false %if");
        let c = BuildConfig::read(text, "x86_64", &[]);
        assert_eq!(c.excludebuild, ["foo"]);
    }

    #[test]
    fn target_changes_the_compared_arch_and_type_is_guessed() {
        let c = BuildConfig::read(
            "Target: armv7hl-suse-linux\nPreinstall: rpm\n",
            "armv7l",
            &[],
        );
        assert_eq!(c.compare_arch(), "armv7hl");
        assert_eq!(c.recipe_type, "spec");
        assert_eq!(c.macros_for_recipe(0).map["_target_cpu"], "armv7hl");
        let c = BuildConfig::read("Preinstall: debianutils\n", "aarch64", &[]);
        assert_eq!(c.recipe_type, "dsc");
        assert_eq!(
            BuildConfig::read("", "aarch64", &[]).recipe_type,
            "UNDEFINED"
        );
    }

    #[test]
    fn macros_blocks_replace_with_a_bang() {
        let c = BuildConfig::read(
            "Macros:\n%a 1\n:Macros\nMacros:\n!\n%b 2\n:Macros\n",
            "x",
            &[],
        );
        let m = c.macros_for_recipe(0);
        assert!(!m.map.contains_key("a"));
        assert_eq!(m.map["b"], "2");
    }
}
