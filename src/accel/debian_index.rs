//! What the Debian bundle is made of, as pure functions of Debian's own data: the root's
//! apt sources (which archive and suite), the archive's amd64 `Packages` index and the
//! root's dpkg status -> the cross packages of the root's compiler version and the amd64
//! packages they need (the dependency closure), or one line saying why there is none.

use std::collections::{BTreeMap, BTreeSet};

use super::debian_bundle;

/// One stanza of a `Packages` index: the fields the bundle needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// `Depends` and `Pre-Depends`, as written.
    pub depends: String,
    pub provides: Vec<String>,
    /// `amd64` or `all`.
    pub architecture: String,
    /// Path under the archive's top (`pool/main/...deb`).
    pub filename: String,
    pub size: u64,
}

/// The packages of an index by name (the last stanza of a name wins, as in apt's
/// view of one suite with one version per package).
pub fn parse_index(text: &str) -> BTreeMap<String, Package> {
    let mut out = BTreeMap::new();
    for stanza in text.split("\n\n") {
        let mut fields: BTreeMap<&str, String> = BTreeMap::new();
        let mut last: Option<&str> = None;
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(key) = last {
                    if let Some(v) = fields.get_mut(key) {
                        v.push(' ');
                        v.push_str(line.trim());
                    }
                }
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                fields.insert(key, value.trim().to_string());
                last = Some(key);
            }
        }
        let (Some(name), Some(version), Some(filename)) = (
            fields.get("Package"),
            fields.get("Version"),
            fields.get("Filename"),
        ) else {
            continue;
        };
        let depends = [fields.get("Pre-Depends"), fields.get("Depends")]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let provides = fields
            .get("Provides")
            .map(|p| {
                p.split(',')
                    .filter_map(|x| x.split_whitespace().next().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            name.clone(),
            Package {
                name: name.clone(),
                version: version.clone(),
                depends,
                provides,
                architecture: fields
                    .get("Architecture")
                    .cloned()
                    .unwrap_or_else(|| "amd64".into()),
                filename: filename.clone(),
                size: fields.get("Size").and_then(|s| s.parse().ok()).unwrap_or(0),
            },
        );
    }
    out
}

/// One alternative of a dependency: name, and the exact version when it is `(= v)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    pub name: String,
    pub exactly: Option<String>,
}

/// A `Depends` field -> clauses of alternatives (`a (>= 1) | b, c:any`).
pub fn parse_depends(field: &str) -> Vec<Vec<Alternative>> {
    field
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|clause| {
            clause
                .split('|')
                .filter_map(|alt| {
                    let alt = alt.trim();
                    let (name, rest) = alt.split_once(' ').unwrap_or((alt, ""));
                    let name = name.split(':').next()?.to_string();
                    let exactly = rest
                        .trim()
                        .strip_prefix('(')
                        .and_then(|r| r.strip_suffix(')'))
                        .and_then(|r| r.trim().strip_prefix('='))
                        .map(|v| v.trim().to_string());
                    Some(Alternative { name, exactly })
                })
                .collect()
        })
        .collect()
}

/// The archive and suite of a root, from its apt sources (one-line `deb URL SUITE
/// COMPONENT...` or deb822 `URIs:`/`Suites:`): the first `main` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub url: String,
    pub suite: String,
}

pub fn parse_sources(text: &str) -> Option<Source> {
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() != Some(&"deb") {
            continue;
        }
        // Skip an option block `[arch=... signed-by=...]`.
        let mut rest = &words[1..];
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            let end = rest.iter().position(|w| w.ends_with(']'))?;
            rest = &rest[end + 1..];
        }
        if let [url, suite, components @ ..] = rest {
            if components.contains(&"main") {
                return Some(Source {
                    url: url.trim_end_matches('/').to_string(),
                    suite: suite.to_string(),
                });
            }
        }
    }
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        if let (Some(uris), Some(suites), Some(components)) =
            (field("URIs"), field("Suites"), field("Components"))
        {
            if components.split_whitespace().any(|c| c == "main") {
                return Some(Source {
                    url: uris
                        .split_whitespace()
                        .next()?
                        .trim_end_matches('/')
                        .to_string(),
                    suite: suites.split_whitespace().next()?.to_string(),
                });
            }
        }
    }
    None
}

/// Packages the closure leaves out: Debian's `*-cross` packages hold the *target's*
/// libraries and headers (the root has its own), and nothing of the bundle runs a
/// maintainer script.
pub fn left_out(name: &str) -> Option<&'static str> {
    if name.ends_with("-cross") {
        Some("target libraries: the root's own are used")
    } else if name.starts_with("perl-modules-") {
        Some("perl's pure-perl modules: the root's own are used")
    } else if matches!(name, "debconf" | "dpkg" | "install-info" | "debianutils") {
        Some("packaging machinery, not run in the bundle")
    } else {
        None
    }
}

/// One cross package and the root's package it stands in for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossMatch {
    pub cross: String,
    pub cross_version: String,
    pub root_package: String,
    pub root_version: String,
}

/// A native tool of [`debian_bundle::NATIVE_TOOLS`] the bundle has for the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeMatch {
    pub tool: String,
    /// The amd64 package and its version (the root's too).
    pub package: String,
    pub version: String,
    /// The root paths it stands in for.
    pub paths: Vec<String>,
    /// Its programs have the host's arch compiled in, to be rewritten
    /// ([`debian_bundle::NativeTool::arch_compiled_in`]).
    pub arch_compiled_in: bool,
    /// The native perl ([`debian_bundle::NativeTool::perl`]).
    pub perl: bool,
}

/// Which native tools the bundle has for a root of Debian arch `deb_arch`: those whose
/// package the root has installed and whose version-deciding packages
/// ([`debian_bundle::NativeTool::same_version`]) are installed in the root at exactly
/// the archive's amd64 version. The others, each with one line why (they stay emulated).
pub fn native_tools(
    deb_arch: &str,
    status: &str,
    index: &BTreeMap<String, Package>,
) -> (Vec<NativeMatch>, Vec<(String, String)>) {
    let mut chosen = Vec::new();
    let mut refused = Vec::new();
    let installed = debian_bundle::installed(status);
    for tool in debian_bundle::NATIVE_TOOLS {
        let why = if let Some(why) = debian_bundle::native_tool_refused(tool, deb_arch) {
            Some(why)
        } else if !installed.contains_key(tool.package) {
            Some(format!("the root has no {} installed", tool.package))
        } else {
            tool.same_version.iter().find_map(|name| {
                let root = installed.get(*name);
                let amd64 = index.get(*name).map(|p| &p.version);
                match (root, amd64) {
                    (_, None) => Some(format!("the archive's amd64 index has no {name}")),
                    (None, Some(_)) => Some(format!(
                        "the root has no {name} installed ({} needs it)",
                        tool.package
                    )),
                    (Some(r), Some(a)) if r != a => Some(format!(
                        "the root's {name} is {r}, the archive's amd64 {name} is {a}: its output could differ"
                    )),
                    _ => None,
                }
            })
        };
        match why {
            Some(why) => refused.push((tool.name.to_string(), why)),
            None => chosen.push(NativeMatch {
                tool: tool.name.to_string(),
                package: tool.package.to_string(),
                version: installed[tool.package].clone(),
                paths: tool.paths.iter().map(|p| p.to_string()).collect(),
                arch_compiled_in: tool.arch_compiled_in,
                perl: tool.perl,
            }),
        }
    }
    (chosen, refused)
}

/// What the bundle is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundlePlan {
    pub triplet: String,
    pub gcc_major: String,
    pub gcc_version: String,
    pub cross: Vec<CrossMatch>,
    /// Every package to unpack (cross packages and their amd64 closure), by name.
    pub packages: Vec<Package>,
    /// Dependencies not followed, with the reason.
    pub left_out: Vec<(String, String)>,
    /// The shell and compressors of [`native_tools`], and those it refused with why.
    pub native: Vec<NativeMatch>,
    pub native_refused: Vec<(String, String)>,
}

/// The bundle's packages for a root of Debian arch `deb_arch` with dpkg status `status`,
/// from the archive's amd64 index `index`. Refuses (one line) when the root has no gcc,
/// a cross package is missing, or its version is not built from the root's version.
pub fn plan(
    deb_arch: &str,
    status: &str,
    index: &BTreeMap<String, Package>,
) -> Result<BundlePlan, String> {
    let triplet = debian_bundle::triplet(deb_arch)
        .ok_or_else(|| format!("Debian arch {deb_arch} has no cross toolchain archbuild knows"))?;
    let (gcc_major, gcc_version) = debian_bundle::root_compiler(status).ok_or_else(|| {
        "the root has no gcc-<major> installed: install gcc in it (apt-get install gcc), then make the bundle".to_string()
    })?;
    let wanted = debian_bundle::wanted_cross(status, triplet).unwrap_or_default();
    let mut cross = Vec::new();
    for (name, root_package, root_version) in wanted {
        let package = index.get(&name).ok_or_else(|| {
            format!("the archive has no {name} (for the root's {root_package} {root_version}): no bundle can match this root")
        })?;
        if !debian_bundle::same_version(&root_version, &package.version) {
            return Err(format!(
                "the archive's {name} is {}, not built from the root's {root_package} {root_version}: its output could differ, so no bundle is made (the root's compiler stays emulated)",
                package.version
            ));
        }
        cross.push(CrossMatch {
            cross: name,
            cross_version: package.version.clone(),
            root_package,
            root_version,
        });
    }
    if !cross.iter().any(|c| c.cross.starts_with("cpp-")) {
        return Err(format!(
            "the root has gcc-{gcc_major} but no cpp-{gcc_major}: a broken installation, repair it (apt-get -f install)"
        ));
    }
    let providers: BTreeMap<&str, &str> = index
        .values()
        .flat_map(|p| {
            p.provides
                .iter()
                .map(move |v| (v.as_str(), p.name.as_str()))
        })
        .collect();
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    let mut left: BTreeMap<String, String> = BTreeMap::new();
    let (native, native_refused) = native_tools(deb_arch, status, index);
    let mut todo: Vec<String> = cross
        .iter()
        .map(|c| c.cross.clone())
        .chain(native.iter().map(|n| n.package.clone()))
        .collect();
    // The native perl also needs libperl's XS modules (perl, not perl-base, has them)
    // of its own version.
    let mut native = native;
    let mut native_refused = native_refused;
    if let Some(at) = native.iter().position(|n| n.perl) {
        let version = native[at].version.clone();
        let libperl = super::debian_perl::libperl_package(&version)
            .ok_or_else(|| format!("perl-base {version} is not a perl version archbuild reads"));
        match libperl.and_then(|name| match index.get(&name) {
            Some(p) if p.version == version => Ok(name),
            Some(p) => Err(format!(
                "the archive's amd64 {name} is {}, not perl-base's {version}",
                p.version
            )),
            None => Err(format!("the archive's amd64 index has no {name}")),
        }) {
            Ok(name) => todo.push(name),
            Err(why) => {
                native.remove(at);
                native_refused.push(("perl".to_string(), why));
                todo.retain(|p| p != super::debian_perl::PERL_BASE);
            }
        }
    }
    while let Some(name) = todo.pop() {
        if !chosen.insert(name.clone()) {
            continue;
        }
        let package = &index[&name];
        for clause in parse_depends(&package.depends) {
            let pick = clause.iter().find_map(|alt| {
                let native_package = native.iter().any(|n| n.package == alt.name);
                if let Some(why) = left_out(&alt.name).filter(|_| !native_package) {
                    return Some(Err((alt.name.clone(), why.to_string())));
                }
                let real = index
                    .get(&alt.name)
                    .or_else(|| providers.get(alt.name.as_str()).map(|p| &index[*p]))?;
                Some(Ok((real, alt)))
            });
            match pick {
                None => {
                    return Err(format!(
                        "{name} needs {} which the archive's index does not have: the index is incomplete, try again later",
                        clause
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(" | ")
                    ))
                }
                Some(Err((dep, why))) => {
                    left.insert(dep, why);
                }
                Some(Ok((real, alt))) => {
                    if let Some(v) = &alt.exactly {
                        if real.name == alt.name && &real.version != v {
                            return Err(format!(
                                "{name} needs {} {v}, the archive has {}: the index is inconsistent, try again later",
                                real.name, real.version
                            ));
                        }
                    }
                    if !chosen.contains(&real.name) {
                        todo.push(real.name.clone());
                    }
                }
            }
        }
    }
    Ok(BundlePlan {
        triplet: triplet.to_string(),
        gcc_major,
        gcc_version,
        cross,
        packages: chosen.iter().map(|n| index[n].clone()).collect(),
        left_out: left.into_iter().collect(),
        native,
        native_refused,
    })
}

/// The `.deb` file name a package is cached under: the one `apt-get download` writes
/// (the epoch's colon as `%3a`).
pub fn deb_file_name(package: &Package) -> String {
    format!(
        "{}_{}_{}.deb",
        package.name,
        package.version.replace(':', "%3a"),
        package.architecture
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slice of trixie's amd64 index (fields as Debian writes them).
    const INDEX: &str = "Package: gcc-14-aarch64-linux-gnu\nSource: gcc-14-cross (15)\nVersion: 14.2.0-19cross1\nArchitecture: amd64\n\
Depends: cpp-14-aarch64-linux-gnu (= 14.2.0-19cross1), gcc-14-aarch64-linux-gnu-base (= 14.2.0-19cross1), libcc1-0 (>= 14), binutils-aarch64-linux-gnu (>= 2.39), libgcc-14-dev-arm64-cross (>= 14.2.0-19cross1), libc6 (>= 2.38), libgmp10 (>= 2:6.3.0+dfsg), libisl23 (>= 0.15)\n\
Filename: pool/main/g/gcc-14-cross/gcc-14-aarch64-linux-gnu_14.2.0-19cross1_amd64.deb\nSize: 21571468\n\n\
Package: cpp-14-aarch64-linux-gnu\nVersion: 14.2.0-19cross1\nDepends: gcc-14-aarch64-linux-gnu-base (= 14.2.0-19cross1), libc6 (>= 2.38),\n libmpc3 (>= 1.1.0)\n\
Filename: pool/main/g/gcc-14-cross/cpp-14-aarch64-linux-gnu_14.2.0-19cross1_amd64.deb\nSize: 11203104\n\n\
Package: gcc-14-aarch64-linux-gnu-base\nVersion: 14.2.0-19cross1\nFilename: pool/b.deb\nSize: 1\n\n\
Package: binutils-aarch64-linux-gnu\nVersion: 2.44-3\nDepends: binutils-common (= 2.44-3), libc6 (>= 2.38), libjansson4 (>= 2.14)\nFilename: pool/bin.deb\nSize: 2\n\n\
Package: binutils-common\nVersion: 2.44-3\nFilename: pool/bc.deb\nSize: 3\n\n\
Package: libcc1-0\nVersion: 14.2.0-19\nDepends: gcc-14-base (= 14.2.0-19), libc6 (>= 2.14), libstdc++6 (>= 5.2)\nFilename: pool/cc1.deb\nSize: 4\n\n\
Package: gcc-14-base\nVersion: 14.2.0-19\nFilename: pool/base.deb\nSize: 5\n\n\
Package: libstdc++6\nVersion: 14.2.0-19\nDepends: gcc-14-base (= 14.2.0-19), libc6 (>= 2.38), libgcc-s1 (>= 4.3)\nFilename: pool/stdc.deb\nSize: 6\n\n\
Package: libgcc-s1\nVersion: 14.2.0-19\nProvides: libgcc1 (= 1:14.2.0-19)\nDepends: gcc-14-base (= 14.2.0-19), libc6 (>= 2.35)\nFilename: pool/gcc-s.deb\nSize: 7\n\n\
Package: libc6\nVersion: 2.41-12\nDepends: libgcc1 | libgcc-s1\nFilename: pool/libc6.deb\nSize: 8\n\n\
Package: libgmp10\nVersion: 2:6.3.0+dfsg-3\nDepends: libc6 (>= 2.14)\nFilename: pool/gmp.deb\nSize: 9\n\n\
Package: libisl23\nVersion: 0.27-1\nDepends: libc6 (>= 2.14), libgmp10 (>= 2:6.3.0+dfsg)\nFilename: pool/isl.deb\nSize: 10\n\n\
Package: libmpc3\nVersion: 1.3.1-1+b3\nDepends: libc6 (>= 2.4), libgmp10 (>= 2:6.3.0+dfsg), libmpfr6 (>= 4.1.0)\nFilename: pool/mpc.deb\nSize: 11\n\n\
Package: libmpfr6\nVersion: 4.2.2-1\nDepends: libc6 (>= 2.14), libgmp10 (>= 2:6.3.0+dfsg)\nFilename: pool/mpfr.deb\nSize: 12\n\n\
Package: libjansson4\nVersion: 2.14-2+b3\nDepends: libc6 (>= 2.14)\nFilename: pool/j.deb\nSize: 13\n\n\
Package: dash\nVersion: 0.5.12-12\nDepends: debianutils (>= 5.6-0.1)\nPre-Depends: libc6 (>= 2.38)\nFilename: pool/dash.deb\nSize: 14\n\n\
Package: debianutils\nVersion: 5.23.2\nFilename: pool/du.deb\nSize: 15\n\n\
Package: xz-utils\nVersion: 5.8.1-1+deb13u2\nDepends: libc6 (>= 2.34), liblzma5 (>= 5.6.2)\nFilename: pool/xz.deb\nSize: 16\n\n\
Package: liblzma5\nSource: xz-utils\nVersion: 5.8.1-1+deb13u2\nDepends: libc6 (>= 2.34)\nFilename: pool/lzma.deb\nSize: 17\n\n\
Package: gzip\nVersion: 1.13-1+deb13u1\nPre-Depends: libc6 (>= 2.38)\nFilename: pool/gzip.deb\nSize: 18\n\n\
Package: dpkg\nVersion: 1.22.22\nDepends: tar (>= 1.28-1)\nPre-Depends: libc6 (>= 2.38)\nFilename: pool/dpkg.deb\nSize: 19\n\n\
Package: tar\nVersion: 1.35+dfsg-3.1\nPre-Depends: libc6 (>= 2.38)\nFilename: pool/tar.deb\nSize: 20\n";

    const STATUS: &str = "Package: gcc\nStatus: install ok installed\nVersion: 4:14.2.0-1\nDepends: cpp (= 4:14.2.0-1), gcc-14 (>= 14.2.0-6~)\n\n\
Package: gcc-14\nStatus: install ok installed\nVersion: 14.2.0-19\n\n\
Package: cpp-14\nStatus: install ok installed\nVersion: 14.2.0-19\n\n\
Package: binutils-aarch64-linux-gnu\nStatus: install ok installed\nVersion: 2.44-3\n";

    #[test]
    fn the_index_is_read_with_continuation_lines_and_pre_depends() {
        let index = parse_index(INDEX);
        let cpp = &index["cpp-14-aarch64-linux-gnu"];
        assert!(
            cpp.depends.ends_with("libmpc3 (>= 1.1.0)"),
            "{}",
            cpp.depends
        );
        assert_eq!(index["libgcc-s1"].provides, ["libgcc1"]);
        assert_eq!(index["gcc-14-aarch64-linux-gnu"].size, 21571468);
        let pre =
            parse_index("Package: a\nVersion: 1\nPre-Depends: b\nDepends: c\nFilename: x/a.deb\n");
        assert_eq!(pre["a"].depends, "b, c");
        assert_eq!(
            deb_file_name(cpp),
            "cpp-14-aarch64-linux-gnu_14.2.0-19cross1_amd64.deb"
        );
        let d = parse_depends("a (= 1.0) | b:any, c (>= 2)");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0][0].exactly.as_deref(), Some("1.0"));
        assert_eq!(d[0][1].name, "b");
        assert_eq!(d[1][0].exactly, None);
    }

    #[test]
    fn the_closure_of_the_cross_packages_leaves_the_targets_libraries_out() {
        let plan = plan("arm64", STATUS, &parse_index(INDEX)).unwrap();
        assert_eq!(plan.triplet, "aarch64-linux-gnu");
        assert_eq!(
            (plan.gcc_major.as_str(), plan.gcc_version.as_str()),
            ("14", "14.2.0-19")
        );
        let cross: Vec<&str> = plan.cross.iter().map(|c| c.cross.as_str()).collect();
        assert_eq!(
            cross,
            [
                "gcc-14-aarch64-linux-gnu",
                "cpp-14-aarch64-linux-gnu",
                "binutils-aarch64-linux-gnu"
            ],
            "no g++-14 in the root: no g++ cross package"
        );
        let names: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "binutils-aarch64-linux-gnu",
                "binutils-common",
                "cpp-14-aarch64-linux-gnu",
                "gcc-14-aarch64-linux-gnu",
                "gcc-14-aarch64-linux-gnu-base",
                "gcc-14-base",
                "libc6",
                "libcc1-0",
                "libgcc-s1",
                "libgmp10",
                "libisl23",
                "libjansson4",
                "libmpc3",
                "libmpfr6",
                "libstdc++6",
            ]
        );
        assert_eq!(plan.left_out.len(), 1);
        assert_eq!(plan.left_out[0].0, "libgcc-14-dev-arm64-cross");
    }

    #[test]
    fn a_cross_toolchain_of_another_version_is_refused_with_the_reason() {
        // Debian 12: the root's gcc-12 has the AArch64 stack protector fix
        // (+deb12u1), the archive's cross compiler was built before it.
        let status =
            "Package: gcc-12\nStatus: install ok installed\nVersion: 12.2.0-14+deb12u1\n\n\
Package: cpp-12\nStatus: install ok installed\nVersion: 12.2.0-14+deb12u1\n";
        let index = parse_index(
            "Package: gcc-12-aarch64-linux-gnu\nVersion: 12.2.0-14cross1\nFilename: p/g.deb\n\n\
Package: cpp-12-aarch64-linux-gnu\nVersion: 12.2.0-14cross1\nFilename: p/c.deb\n",
        );
        let e = plan("arm64", status, &index).unwrap_err();
        assert!(
            e.contains("gcc-12-aarch64-linux-gnu is 12.2.0-14cross1, not built from the root's gcc-12 12.2.0-14+deb12u1"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        let missing = plan(
            "arm64",
            STATUS,
            &parse_index("Package: x\nVersion: 1\nFilename: x.deb\n"),
        );
        assert!(missing
            .unwrap_err()
            .contains("the archive has no gcc-14-aarch64-linux-gnu"));
        let none = plan(
            "arm64",
            "Package: make\nStatus: install ok installed\nVersion: 4\n",
            &parse_index(INDEX),
        );
        assert!(none.unwrap_err().contains("no gcc-<major>"));
        assert!(plan("amd64", STATUS, &parse_index(INDEX)).is_err());
        // A dependency the index lacks is named.
        let broken = INDEX.replace("Package: libjansson4\n", "Package: libjansson-other\n");
        let e = plan("arm64", STATUS, &parse_index(&broken)).unwrap_err();
        assert!(e.contains("needs libjansson4"), "{e}");
    }

    /// [`STATUS`] plus the shell and compressors a root has.
    fn with_tools(tools: &str) -> String {
        let mut status = STATUS.to_string();
        for (package, version) in tools.split(',').filter_map(|t| t.split_once('=')) {
            status.push_str(&format!(
                "\nPackage: {package}\nStatus: install ok installed\nVersion: {version}\n"
            ));
        }
        status
    }

    #[test]
    fn the_shell_and_compressors_of_the_roots_exact_versions_join_the_bundle() {
        let index = parse_index(INDEX);
        let status = with_tools(
            "dash=0.5.12-12,xz-utils=5.8.1-1+deb13u2,liblzma5=5.8.1-1+deb13u2,gzip=1.13-1+deb13u1,dpkg=1.22.22,tar=1.35+dfsg-3.1",
        );
        let plan = plan("arm64", &status, &index).unwrap();
        let native: Vec<(&str, &str, &str)> = plan
            .native
            .iter()
            .map(|n| (n.tool.as_str(), n.package.as_str(), n.version.as_str()))
            .collect();
        assert_eq!(
            native,
            [
                ("dash", "dash", "0.5.12-12"),
                ("xz", "xz-utils", "5.8.1-1+deb13u2"),
                ("gzip", "gzip", "1.13-1+deb13u1"),
                ("tar", "tar", "1.35+dfsg-3.1"),
                ("dpkg", "dpkg", "1.22.22"),
                ("update-alternatives", "dpkg", "1.22.22"),
            ]
        );
        assert_eq!(plan.native[0].paths, ["/usr/bin/dash"]);
        assert!(plan.native[4]
            .paths
            .contains(&"/usr/bin/dpkg-deb".to_string()));
        // The root has no zstd: nothing to stand in for (nor coreutils and the rest,
        // which this status leaves out).
        assert_eq!(
            plan.native_refused[0],
            (
                "zstd".to_string(),
                "the root has no zstd installed".to_string()
            )
        );
        assert!(plan.native_refused[1..]
            .iter()
            .all(|(tool, why)| why.ends_with(" installed") && tool != "dpkg"));
        // A ppc64el root: dpkg's arch cannot be rewritten, the rest is unchanged.
        let (ppc, refused) = native_tools("ppc64el", &status, &index);
        assert!(ppc.iter().any(|n| n.tool == "tar"));
        assert!(!ppc.iter().any(|n| n.tool == "dpkg"));
        assert!(refused
            .iter()
            .any(|(tool, why)| tool == "dpkg" && why.contains("ppc64el has 7")));
        let names: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
        for wanted in [
            "dash",
            "xz-utils",
            "liblzma5",
            "gzip",
            "dpkg",
            "tar",
            "cpp-14-aarch64-linux-gnu",
        ] {
            assert!(names.contains(&wanted), "{wanted} not in {names:?}");
        }
        assert!(
            !names.contains(&"debianutils"),
            "dash's maintainer scripts' helpers"
        );
        assert!(plan.left_out.iter().any(|(n, _)| n == "debianutils"));
    }

    #[test]
    fn a_native_tool_of_another_version_stays_emulated_and_the_rest_of_the_bundle_is_made() {
        let index = parse_index(INDEX);
        // The root's dash is newer than the archive's amd64 dash (a root updated from
        // another suite); its liblzma5 older than the amd64 one; zstd is not in the index.
        let status = with_tools(
            "dash=0.5.12-13,xz-utils=5.8.1-1+deb13u2,liblzma5=5.8.1-1,gzip=1.13-1+deb13u1,zstd=1.5.7+dfsg-1",
        );
        let plan = plan("arm64", &status, &index).unwrap();
        let native: Vec<&str> = plan.native.iter().map(|n| n.tool.as_str()).collect();
        assert_eq!(native, ["gzip"]);
        let refused: BTreeMap<&str, &str> = plan
            .native_refused
            .iter()
            .map(|(t, why)| (t.as_str(), why.as_str()))
            .collect();
        assert_eq!(
            refused["dash"],
            "the root's dash is 0.5.12-13, the archive's amd64 dash is 0.5.12-12: its output could differ"
        );
        assert!(
            refused["xz"].starts_with(
                "the root's liblzma5 is 5.8.1-1, the archive's amd64 liblzma5 is 5.8.1-1+deb13u2"
            ),
            "{}",
            refused["xz"]
        );
        assert_eq!(refused["zstd"], "the archive's amd64 index has no zstd");
        assert!(refused.values().all(|why| !why.contains('\n')));
        let names: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
        assert!(
            !names.contains(&"dash") && !names.contains(&"xz-utils"),
            "{names:?}"
        );
        assert!(
            names.contains(&"gcc-14-aarch64-linux-gnu"),
            "the compiler is still bundled"
        );
        // 32-bit roots get none of them.
        let (none, refused) = native_tools("armhf", &status, &index);
        assert!(none.is_empty());
        assert_eq!(refused.len(), super::debian_bundle::NATIVE_TOOLS.len());
        assert!(refused[0].1.contains("32-bit"), "{refused:?}");
    }

    #[test]
    fn the_native_perl_brings_libperl_of_its_version_and_not_the_pure_perl_modules() {
        let perl = "Package: perl-base\nVersion: 5.40.1-6+deb13u1\nPre-Depends: libc6 (>= 2.38)\nFilename: pool/pb.deb\nSize: 20\n\n\
Package: libperl5.40\nVersion: 5.40.1-6+deb13u1\nDepends: libc6 (>= 2.38), perl-modules-5.40 (>= 5.40.1-6+deb13u1)\nFilename: pool/lp.deb\nSize: 21\n\n\
Package: perl-modules-5.40\nVersion: 5.40.1-6+deb13u1\nArchitecture: all\nFilename: pool/pm.deb\nSize: 22\n\n";
        let index = parse_index(&format!("{INDEX}{perl}"));
        let status = with_tools("perl-base=5.40.1-6+deb13u1");
        let plan = plan("arm64", &status, &index).unwrap();
        let native: Vec<(&str, bool)> = plan
            .native
            .iter()
            .map(|n| (n.tool.as_str(), n.perl))
            .collect();
        assert_eq!(native, [("perl", true)]);
        assert_eq!(plan.native[0].paths, ["/usr/bin/perl"]);
        let names: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
        assert!(
            names.contains(&"perl-base") && names.contains(&"libperl5.40"),
            "{names:?}"
        );
        assert!(!names.contains(&"perl-modules-5.40"), "{names:?}");
        assert!(plan.left_out.iter().any(|(n, _)| n == "perl-modules-5.40"));

        // libperl of another version (or none): perl stays emulated, the rest is made.
        let skewed = index_with_libperl(&index, "5.40.1-6");
        let plan = plan_of(&status, &skewed);
        assert!(plan.native.is_empty());
        let names: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
        assert!(!names.contains(&"perl-base"), "{names:?}");
        let (tool, why) = plan
            .native_refused
            .iter()
            .find(|(t, _)| t == "perl")
            .unwrap();
        assert_eq!(tool, "perl");
        assert_eq!(
            why,
            "the archive's amd64 libperl5.40 is 5.40.1-6, not perl-base's 5.40.1-6+deb13u1"
        );
        let mut without = index.clone();
        without.remove("libperl5.40");
        let plan = plan_of(&status, &without);
        assert!(plan
            .native_refused
            .iter()
            .any(|(t, why)| t == "perl" && why == "the archive's amd64 index has no libperl5.40"));
    }

    fn index_with_libperl(
        index: &BTreeMap<String, Package>,
        version: &str,
    ) -> BTreeMap<String, Package> {
        let mut index = index.clone();
        index.get_mut("libperl5.40").unwrap().version = version.to_string();
        index
    }

    fn plan_of(status: &str, index: &BTreeMap<String, Package>) -> BundlePlan {
        plan("arm64", status, index).unwrap()
    }

    #[test]
    fn sources_of_one_line_and_deb822_roots() {
        assert_eq!(
            parse_sources(
                "# x\ndeb [signed-by=/k.gpg] http://deb.debian.org/debian/ trixie main contrib\n"
            ),
            Some(Source {
                url: "http://deb.debian.org/debian".into(),
                suite: "trixie".into()
            })
        );
        assert_eq!(
            parse_sources("deb http://deb.debian.org/debian bookworm main\n")
                .unwrap()
                .suite,
            "bookworm"
        );
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie trixie-updates\nComponents: main\n";
        assert_eq!(parse_sources(deb822).unwrap().suite, "trixie");
        assert_eq!(parse_sources("deb http://x/ y contrib\n"), None);
    }
}
