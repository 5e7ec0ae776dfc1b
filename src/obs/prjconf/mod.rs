//! The project configuration (prjconf, `_config`, `_buildconfig`), read as obs-build's
//! `Build::read_config` reads it for one scheduler arch. Each step has its module:
//!
//! - [`macros`]: every line is first run through the rpm macro processor;
//! - [`conditionals`]: `%if`, `%ifarch`, ..., `%elif`, `%else`, `%endif` decide which
//!   lines count; `%ifarch` compares with `%_target_cpu`, which is the OBS scheduler arch
//!   (as the OBS backend sets it), and `%ix86`, `%arm`, ... are obs-build's standard macros;
//! - [`expr`]: the rpm expression language of `%if`;
//! - [`keywords`]: what the lines that count say (`Preinstall:`, `Repotype:`, ...).
//!
//! `Macros:` ... `:Macros` blocks are rpm macros for the build, not configuration:
//! skipped. Any text is read without panicking, in time linear in its length.

pub mod conditionals;
pub mod expr;
mod keywords;
pub mod macros;

use std::collections::HashMap;

use serde::Serialize;

use conditionals::State;

/// The package format of a repository's binaries (`Binarytype:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryType {
    Rpm,
    Deb,
    Arch,
    /// Neither given nor derivable from the recipe type (obs-build's `UNDEFINED`).
    Undefined,
    /// Another value, as written.
    Other(String),
}

impl BinaryType {
    /// A `Binarytype:` value.
    pub fn from_word(word: &str) -> BinaryType {
        match word {
            "rpm" => BinaryType::Rpm,
            "deb" => BinaryType::Deb,
            "arch" => BinaryType::Arch,
            "UNDEFINED" => BinaryType::Undefined,
            other => BinaryType::Other(other.to_string()),
        }
    }

    /// As obs-build writes it.
    pub fn as_str(&self) -> &str {
        match self {
            BinaryType::Rpm => "rpm",
            BinaryType::Deb => "deb",
            BinaryType::Arch => "arch",
            BinaryType::Undefined => "UNDEFINED",
            BinaryType::Other(s) => s,
        }
    }
}

impl std::fmt::Display for BinaryType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for BinaryType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a project configuration says about building a root, for one arch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Prjconf {
    /// The scheduler arch the conditionals were evaluated for.
    pub arch: String,
    pub repotype: Vec<String>,
    /// `Type:` as written (`spec`, `dsc`, `arch`, `kiwi`, ...).
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `Binarytype:`.
    pub binarytype: Option<BinaryType>,
    pub buildengine: Option<String>,
    pub preinstall: Vec<String>,
    pub vminstall: Vec<String>,
    pub runscripts: Vec<String>,
    pub required: Vec<String>,
    pub support: Vec<String>,
    pub keep: Vec<String>,
    pub repourl: Vec<String>,
    pub expandflags: Vec<String>,
    /// `BuildFlags:` (`excludebuild:PKG`, `onlybuild:PKG`, `genmetaalgo:N`, ...).
    pub buildflags: Vec<String>,
    /// `Target:` / `ChangeTarget:` (e.g. `armv7hl-suse-linux`).
    pub target: Option<String>,
    /// `DistMacro:` values (`NAME BODY`), in order.
    pub distmacros: Vec<String>,
    /// The text of the `Macros:` blocks that count (obs-build's `rawmacros`): the rpm
    /// macros builds and recipe parsing see.
    #[serde(skip)]
    pub rawmacros: String,
    /// Macro values after the whole file (e.g. `_project`, `_repository`).
    #[serde(skip)]
    pub macros: HashMap<String, String>,
}

impl Prjconf {
    /// Read `text` for scheduler arch `arch`.
    pub fn parse(text: &str, arch: &str) -> Prjconf {
        Prjconf::parse_with(text, arch, &[])
    }

    /// Read `text` with extra macros defined first (`_project`, `_repository`, ...).
    pub fn parse_with(text: &str, arch: &str, defines: &[(&str, &str)]) -> Prjconf {
        let mut m = macros::Macros::standard(arch, macros::work_for(text.len()));
        for (k, v) in defines {
            m.map.insert(k.to_string(), v.to_string());
        }
        let mut keywords = keywords::Keywords::default();
        let mut state = State::Taking;
        // Some(block) while inside a `Macros:` block; kept when it began in taken lines
        let mut in_macros: Option<Option<String>> = None;
        let mut rawmacros = String::new();
        for raw in text.lines() {
            let trimmed = raw.trim();
            if let Some(block) = &mut in_macros {
                if trimmed.eq_ignore_ascii_case(":macros") {
                    if let Some(b) = in_macros.take().flatten() {
                        add_macros_block(&mut rawmacros, &b);
                    }
                } else if let Some(b) = block {
                    b.push_str(raw);
                    b.push('\n');
                }
                continue;
            }
            if trimmed.eq_ignore_ascii_case("macros:") {
                in_macros = Some(state.taking().then(String::new));
                continue;
            }
            if trimmed.starts_with('#') {
                continue;
            }
            let line = if state.taking() && raw.contains('%') {
                m.expand(raw)
            } else {
                raw.to_string()
            };
            let Some(line) = conditionals::filter_line(&mut state, line, &mut m, &|l| l) else {
                continue;
            };
            let t = line.trim_start();
            keywords.line(t);
        }
        if let Some(Some(b)) = in_macros {
            add_macros_block(&mut rawmacros, &b);
        }
        let mut conf = Prjconf {
            arch: arch.to_string(),
            rawmacros,
            ..Prjconf::default()
        };
        keywords.finish(&mut conf);
        conf.macros = m.map;
        conf
    }

    /// The recipe type: `Type:`, else guessed from the preinstalls as obs-build does.
    pub fn build_type(&self) -> &str {
        if let Some(t) = &self.type_ {
            return t;
        }
        if self.has_preinstall("rpm") {
            "spec"
        } else if self.has_preinstall("debianutils") {
            "dsc"
        } else if self.has_preinstall("pacman") {
            "arch"
        } else {
            "UNDEFINED"
        }
    }

    /// The binary package format: `Binarytype:`, else derived from the type.
    pub fn binary_type(&self) -> BinaryType {
        if let Some(b) = &self.binarytype {
            return b.clone();
        }
        match self.build_type() {
            "spec" => BinaryType::Rpm,
            "dsc" | "collax" | "livebuild" => BinaryType::Deb,
            "arch" => BinaryType::Arch,
            "snapcraft" | "appimage" | "docker" | "fissile" | "kiwi" => {
                if self.has_preinstall("rpm") {
                    BinaryType::Rpm
                } else if self.has_preinstall("debianutils") {
                    BinaryType::Deb
                } else if self.has_preinstall("pacman") {
                    BinaryType::Arch
                } else {
                    BinaryType::Undefined
                }
            }
            _ => BinaryType::Undefined,
        }
    }

    fn has_preinstall(&self, name: &str) -> bool {
        self.preinstall.iter().any(|p| p == name)
    }

    /// True when `ExpandFlags:` carries `flag` (e.g. `preinstallexpand`).
    pub fn has_expandflag(&self, flag: &str) -> bool {
        self.expandflags.iter().any(|f| f == flag)
    }
}

/// A `Macros:` block joins the ones before it; one that starts with a `!` line replaces them.
fn add_macros_block(rawmacros: &mut String, block: &str) {
    match block.strip_prefix("!\n") {
        Some(rest) => *rawmacros = rest.to_string(),
        None => rawmacros.push_str(block),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TW: &str = include_str!("../../../tests/data/obs/prjconf_tumbleweed.txt");
    const DEB: &str = include_str!("../../../tests/data/obs/prjconf_debian12.txt");

    #[test]
    fn ifarch_selects_per_arch() {
        let text = "%ifarch aarch64\nRepoURL: http://a/aarch64\n%else\nRepoURL: http://a/other\n%endif\n%ifnarch %ix86 x86_64\nSupport: not-x86\n%endif\n";
        let a = Prjconf::parse(text, "aarch64");
        assert_eq!(a.repourl, ["http://a/aarch64"]);
        assert_eq!(a.support, ["not-x86"]);
        let x = Prjconf::parse(text, "i586");
        assert_eq!(x.repourl, ["http://a/other"]);
        assert!(x.support.is_empty());
    }

    #[test]
    fn if_with_macros_nested_and_elif() {
        let text = "%define suse_version 1699\n%if 0%{?suse_version} >= 1500\nRequired: new\n%if \"%_repository\" == \"images\"\nRequired: image-only\n%else\nRequired: not-image\n%endif\n%elif 1\nRequired: elif-branch\n%else\nRequired: old\n%endif\n%if %{?undefined_thing:1}0\nRequired: never\n%endif\n";
        let c = Prjconf::parse_with(text, "x86_64", &[("_repository", "standard")]);
        assert_eq!(c.required, ["new", "not-image"]);
        let c = Prjconf::parse_with(
            &text.replace("1699", "1315"),
            "x86_64",
            &[("_repository", "images")],
        );
        assert_eq!(c.required, ["elif-branch"]);
    }

    #[test]
    fn keywords_case_insensitive_lists_accumulate_and_remove() {
        let text = "preinstall: a b c\nPREINSTALL: d !b\nPreinstall: a\nSupport: x y\nSupport: !*\nSupport: z\nRepotype: rpm-md\nrepotype: debian\nTYPE: dsc\nbinarytype: deb\nExpandFlags: preinstallexpand\n";
        let c = Prjconf::parse(text, "x86_64");
        assert_eq!(c.preinstall, ["a", "c", "d"]);
        assert_eq!(c.support, ["z"]);
        assert_eq!(c.repotype, ["debian"]);
        assert_eq!(c.build_type(), "dsc");
        assert_eq!(c.binary_type(), BinaryType::Deb);
        assert!(c.has_expandflag("preinstallexpand"));
    }

    #[test]
    fn macros_blocks_are_skipped_and_defines_apply() {
        let text = "Macros:\nRequired: inside-macros\n%define x 1\n:Macros\n%define pkg from-define\nRequired: %pkg %{pkg}-devel %{!?nope:alt} %{?nope:no}\n%if %{defined x}\nRequired: x-defined\n%endif\n";
        let c = Prjconf::parse(text, "x86_64");
        assert_eq!(c.required, ["from-define", "from-define-devel", "alt"]);
    }

    #[test]
    fn tumbleweed_for_aarch64_and_x86_64() {
        let a = Prjconf::parse_with(
            TW,
            "aarch64",
            &[
                ("_project", "home:alice"),
                ("_repository", "openSUSE_Tumbleweed"),
            ],
        );
        assert_eq!(
            a.repourl,
            ["https://download.opensuse.org/ports/aarch64/tumbleweed/repo/oss"]
        );
        assert_eq!(a.repotype, ["rpm-md:sha512:filelists-ext"]);
        assert!(a.preinstall.contains(&"rpm".to_string()));
        assert!(a.preinstall.contains(&"-rpm-config-SUSE".to_string()));
        assert!(a.required.contains(&"rpm-build".to_string()));
        assert!(a.has_expandflag("preinstallexpand"));
        assert_eq!(a.build_type(), "spec");
        assert_eq!(a.binary_type(), BinaryType::Rpm);
        assert_eq!(
            a.macros.get("suse_version").map(String::as_str),
            Some("1699")
        );
        let x = Prjconf::parse(TW, "x86_64");
        assert_eq!(
            x.repourl,
            ["https://download.opensuse.org/tumbleweed/repo/oss"]
        );
        // ExpandFlags: preinstallexpand only outside the ports repository
        let p = Prjconf::parse_with(TW, "aarch64", &[("_repository", "ports")]);
        assert!(!p.has_expandflag("preinstallexpand"));
    }

    #[test]
    fn debian12_is_deb() {
        let c = Prjconf::parse(DEB, "aarch64");
        assert_eq!(c.repotype, ["debian"]);
        assert_eq!(c.build_type(), "dsc");
        assert_eq!(c.binary_type(), BinaryType::Deb);
        assert_eq!(
            c.repourl,
            ["debian@http://ftp.de.debian.org/debian/bookworm/main"]
        );
        assert!(c.preinstall.contains(&"dpkg".to_string()));
        assert_eq!(c.required, ["build-essential"]);
        assert!(c.runscripts.contains(&"base-passwd".to_string()));
    }
}
