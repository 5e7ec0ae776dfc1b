//! Which root paths a bundle accelerates and with which native tool: pure functions from
//! the root's files to a [`Manifest`]. The deny list keeps everything that prints or
//! decides the host arch emulated, whatever a bundle offers.

use std::collections::BTreeMap;

use super::manifest::{bundle_dir, Identity, Manifest, Tool, Toolchain, FORMAT_VERSION};

/// Programs that print or decide the arch (or carry it compiled in): never accelerated.
/// Matched on the file name of the root path and of the tool.
const DENIED_NAMES: &[&str] = &[
    "uname",
    "arch",
    "busybox",
    "config.guess",
    "config.sub",
    "getconf",
    "ldd",
    "ldconfig",
    "bash",
    "hostnamectl",
    "lscpu",
    "nproc",
    "pkg-config",
    "pkgconf",
    "env",
    // `$(MAKE_HOST)` and `make --version` name the triplet make was built for.
    "make",
    "gmake",
];

/// Name prefixes with the same reason: package managers, interpreters with a compiled-in
/// platform, the dynamic loader.
const DENIED_PREFIXES: &[&str] = &[
    "dpkg", "apt", "rpm", "perl", "python", "ld-linux", "ld.so", "ruby", "lua", "tclsh",
];

/// Why `path` must never be accelerated, or None.
pub fn denied(path: &str) -> Option<String> {
    denied_name(path).or_else(|| denied_prefix(path))
}

/// Why `path` must never be accelerated even by a copy made to give the root's arch
/// (see [`Pair::gives_root_arch`]), or None.
pub fn denied_name(path: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    DENIED_NAMES
        .contains(&name)
        .then(|| format!("{name} prints or decides the arch"))
}

fn denied_prefix(path: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    DENIED_PREFIXES
        .iter()
        .find(|p| name.starts_with(*p))
        .map(|p| format!("{name} is a {p}* program (arch compiled in or decided at run time)"))
}

/// A root's executable: its canonical path inside the root and its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootFile {
    pub path: String,
    pub identity: Identity,
}

/// One root path and the native tool for it: a path inside the bundle's tree (the cross
/// package's own path, e.g. `/usr/lib/gcc-cross/aarch64-linux-gnu/12/cc1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub root: RootFile,
    pub tool: String,
    pub args: Vec<String>,
    /// The tool is a copy made to give the root's arch: dpkg's programs with the root's
    /// Debian arch written over their compiled-in `amd64`, perl with the root's
    /// `%Config` and a `uname` that reports the root's machine. The deny list's
    /// prefixes (`dpkg*`, `perl*`) do not hold for it, its names do.
    pub gives_root_arch: bool,
}

/// A pair left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub path: String,
    pub why: String,
}

/// The manifest of a bundle for qemu target `target` made from `pairs`; denied pairs are
/// refused (and listed), the rest map the root path to the tool under the bundle dir.
pub fn make_manifest(
    target: &str,
    toolchain: &Toolchain,
    pairs: &[Pair],
) -> (Manifest, Vec<Refusal>) {
    let mut tools = BTreeMap::new();
    let mut refused = Vec::new();
    for pair in pairs {
        let deny = if pair.gives_root_arch {
            denied_name
        } else {
            denied
        };
        let why = deny(&pair.root.path).or_else(|| deny(&pair.tool));
        if let Some(why) = why {
            refused.push(Refusal {
                path: pair.root.path.clone(),
                why,
            });
            continue;
        }
        tools.insert(
            pair.root.path.clone(),
            Tool {
                native: format!("{}{}", bundle_dir(target), pair.tool),
                args: pair.args.clone(),
                replace: BTreeMap::new(),
                append: Vec::new(),
                emulate_if: Vec::new(),
                unless_followed_by: Vec::new(),
                identity: pair.root.identity,
                perl: None,
            },
        );
    }
    let manifest = Manifest {
        version: FORMAT_VERSION,
        target: target.to_string(),
        toolchain: toolchain.clone(),
        tools,
    };
    (manifest, refused)
}

/// The GCC programs the driver runs (C and C++, LTO).
const GCC_PROGRAMS: &[&str] = &["cc1", "cc1plus", "collect2", "lto1", "lto-wrapper"];

/// The binutils programs a build runs.
const BINUTILS: &[&str] = &[
    "as",
    "ld",
    "ld.bfd",
    "ld.gold",
    "ar",
    "nm",
    "objcopy",
    "objdump",
    "ranlib",
    "readelf",
    "strip",
    "size",
    "strings",
    "addr2line",
    "c++filt",
    "elfedit",
];

/// The GCC drivers, without version suffix.
const DRIVERS: &[&str] = &["gcc", "g++", "cpp", "gcc-ar", "gcc-nm", "gcc-ranlib"];

fn split3(rest: &str) -> Option<(&str, &str, &str)> {
    let mut parts = rest.splitn(3, '/');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// Debian: the root's native compiler of `triplet`/`gcc_major` and the cross toolchain
/// `gcc-<major>-<triplet>`/`binutils-<triplet>` of the same version. Drivers and
/// binutils keep their names (`/usr/bin/<triplet>-gcc-12`); GCC's programs move from
/// `/usr/lib/gcc/` (or `/usr/libexec/gcc/`) to `gcc-cross`.
pub fn debian_tool(triplet: &str, gcc_major: &str, root_path: &str) -> Option<String> {
    if let Some(name) = root_path
        .strip_prefix("/usr/bin/")
        .and_then(|n| n.strip_prefix(triplet))
        .and_then(|n| n.strip_prefix('-'))
    {
        let versioned = DRIVERS.iter().any(|d| name == format!("{d}-{gcc_major}"));
        if versioned || BINUTILS.contains(&name) {
            return Some(root_path.to_string());
        }
        return None;
    }
    for (lib, cross) in [
        ("/usr/lib/gcc/", "/usr/lib/gcc-cross/"),
        ("/usr/libexec/gcc/", "/usr/libexec/gcc-cross/"),
    ] {
        if let Some((t, v, program)) = root_path.strip_prefix(lib).and_then(split3) {
            if t == triplet && v == gcc_major && GCC_PROGRAMS.contains(&program) {
                return Some(format!("{cross}{t}/{v}/{program}"));
            }
        }
    }
    None
}

/// openSUSE: the root's native compiler (`/usr/bin/gcc-13`, programs under
/// `/usr/lib64/gcc/<triplet>/13/` or `/usr/lib/gcc/...` on 32-bit) and binutils
/// (`/usr/bin/as`), and the cross packages `cross-<arch>-gcc<major>` and
/// `cross-<arch>-binutils`, whose tools are `/usr/bin/<triplet>-gcc-13`,
/// `/usr/bin/<triplet>-as` and `/usr/lib64/gcc/<triplet>/13/cc1`.
pub fn opensuse_tool(triplet: &str, gcc_major: &str, root_path: &str) -> Option<String> {
    if let Some(name) = root_path.strip_prefix("/usr/bin/") {
        let name = name
            .strip_prefix(triplet)
            .and_then(|n| n.strip_prefix('-'))
            .unwrap_or(name);
        let versioned = DRIVERS.iter().any(|d| name == format!("{d}-{gcc_major}"));
        if versioned || BINUTILS.contains(&name) {
            return Some(format!("/usr/bin/{triplet}-{name}"));
        }
        return None;
    }
    for lib in ["/usr/lib64/gcc/", "/usr/lib/gcc/"] {
        if let Some((t, v, program)) = root_path.strip_prefix(lib).and_then(split3) {
            if t == triplet && v == gcc_major && GCC_PROGRAMS.contains(&program) {
                return Some(format!("/usr/lib64/gcc/{t}/{v}/{program}"));
            }
        }
    }
    None
}

/// The pairs for `files` of a root, using `tool_for` (one of [`debian_tool`],
/// [`opensuse_tool`]); files without a tool are left out. Compiler drivers get
/// `--sysroot=/`, so the cross compiler finds the root's headers and libraries where the
/// root's own compiler does.
pub fn pairs(files: &[RootFile], tool_for: &dyn Fn(&str) -> Option<String>) -> Vec<Pair> {
    files
        .iter()
        .filter_map(|file| {
            let tool = tool_for(&file.path)?;
            Some(Pair {
                args: if compiler_driver(&file.path) {
                    vec!["--sysroot=/".to_string()]
                } else {
                    Vec::new()
                },
                root: file.clone(),
                tool,
                gives_root_arch: false,
            })
        })
        .collect()
}

/// `gcc-12`, `<triplet>-g++-12`, `cpp-13`: a driver that compiles (not `gcc-ar-12`).
fn compiler_driver(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let unversioned = match name.rsplit_once('-') {
        Some((head, version)) if version.chars().all(|c| c.is_ascii_digit()) => head,
        _ => name,
    };
    ["gcc", "g++", "cpp"]
        .iter()
        .any(|d| unversioned == *d || unversioned.ends_with(&format!("-{d}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> RootFile {
        RootFile {
            path: path.to_string(),
            identity: Identity::of_bytes(path.as_bytes()),
        }
    }

    #[test]
    fn the_deny_list_refuses_what_prints_or_decides_the_arch() {
        for path in [
            "/usr/bin/uname",
            "/bin/arch",
            "/usr/bin/dpkg",
            "/usr/bin/dpkg-architecture",
            "/usr/bin/rpm",
            "/usr/bin/rpmbuild",
            "/usr/bin/perl",
            "/usr/bin/perl5.36.0",
            "/usr/bin/python3.11",
            "/usr/share/misc/config.guess",
            "/usr/bin/getconf",
            "/bin/busybox",
            "/bin/bash",
            "/lib/ld-linux-aarch64.so.1",
            "/usr/bin/pkg-config",
            "/usr/bin/make",
        ] {
            assert!(denied(path).is_some(), "{path} is not denied");
        }
        for path in [
            "/usr/bin/aarch64-linux-gnu-gcc-12",
            "/usr/lib/gcc/aarch64-linux-gnu/12/cc1",
            "/usr/bin/as",
            "/usr/bin/dash",
            "/usr/bin/xz",
            "/usr/bin/gzip",
            "/usr/bin/zstd",
        ] {
            assert_eq!(denied(path), None, "{path}");
        }
    }

    #[test]
    fn make_manifest_refuses_denied_pairs_by_root_path_or_tool() {
        let toolchain = Toolchain {
            distribution: "debian".into(),
            version: "12.2.0-14".into(),
            triplet: "aarch64-linux-gnu".into(),
        };
        let pairs = [
            Pair {
                root: file("/usr/bin/aarch64-linux-gnu-as"),
                tool: "/usr/bin/aarch64-linux-gnu-as".into(),
                args: vec![],
                gives_root_arch: false,
            },
            Pair {
                root: file("/usr/bin/uname"),
                tool: "/usr/bin/uname".into(),
                args: vec![],
                gives_root_arch: false,
            },
            Pair {
                root: file("/usr/bin/harmless"),
                tool: "/usr/bin/perl".into(),
                args: vec![],
                gives_root_arch: false,
            },
        ];
        let (m, refused) = make_manifest("aarch64", &toolchain, &pairs);
        assert_eq!(m.tools.len(), 1);
        assert_eq!(
            m.tools["/usr/bin/aarch64-linux-gnu-as"].native,
            "/emul/x86_64-for-aarch64/usr/bin/aarch64-linux-gnu-as"
        );
        let paths: Vec<&str> = refused.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/usr/bin/uname", "/usr/bin/harmless"]);
        assert!(refused[1].why.contains("perl"));
        // A dpkg whose compiled-in arch was rewritten passes the `dpkg*` prefix; the
        // names (uname) hold whatever the pair says.
        let rewritten = |path: &str| Pair {
            root: file(path),
            tool: path.into(),
            args: vec![],
            gives_root_arch: true,
        };
        let (with_dpkg, still_refused) = make_manifest(
            "aarch64",
            &toolchain,
            &[rewritten("/usr/bin/dpkg"), rewritten("/usr/bin/uname")],
        );
        assert!(with_dpkg.tools.contains_key("/usr/bin/dpkg"));
        assert_eq!(still_refused.len(), 1);
        assert_eq!(still_refused[0].path, "/usr/bin/uname");
        // The result is a valid manifest.
        super::super::manifest::validate(&m).unwrap();
        assert_eq!(
            super::super::manifest::parse(&super::super::manifest::format(&m)).unwrap(),
            m
        );
    }

    #[test]
    fn a_debian_root_maps_onto_debians_cross_toolchain_of_the_same_version() {
        let t = "aarch64-linux-gnu";
        let files: Vec<RootFile> = [
            "/usr/bin/aarch64-linux-gnu-gcc-12",
            "/usr/bin/aarch64-linux-gnu-g++-12",
            "/usr/bin/aarch64-linux-gnu-cpp-12",
            "/usr/bin/aarch64-linux-gnu-gcc-ar-12",
            "/usr/bin/aarch64-linux-gnu-as",
            "/usr/bin/aarch64-linux-gnu-ld.bfd",
            "/usr/lib/gcc/aarch64-linux-gnu/12/cc1",
            "/usr/lib/gcc/aarch64-linux-gnu/12/cc1plus",
            "/usr/lib/gcc/aarch64-linux-gnu/12/collect2",
            "/usr/libexec/gcc/aarch64-linux-gnu/12/lto1",
            // Another version, another triplet, the plugin (not a program), uname.
            "/usr/bin/aarch64-linux-gnu-gcc-13",
            "/usr/lib/gcc/arm-linux-gnueabihf/12/cc1",
            "/usr/lib/gcc/aarch64-linux-gnu/12/liblto_plugin.so",
            "/usr/bin/uname",
            "/usr/bin/gcc-12",
        ]
        .iter()
        .map(|p| file(p))
        .collect();
        let pairs = pairs(&files, &|p| debian_tool(t, "12", p));
        let toolchain = Toolchain {
            distribution: "debian".into(),
            version: "12.2.0-14".into(),
            triplet: t.into(),
        };
        let (m, refused) = make_manifest("aarch64", &toolchain, &pairs);
        assert!(refused.is_empty());
        let got: Vec<(&str, &str)> = m
            .tools
            .iter()
            .map(|(k, v)| (k.as_str(), v.native.as_str()))
            .collect();
        let e = "/emul/x86_64-for-aarch64";
        assert_eq!(
            got,
            [
                (
                    "/usr/bin/aarch64-linux-gnu-as",
                    format!("{e}/usr/bin/aarch64-linux-gnu-as").as_str()
                ),
                (
                    "/usr/bin/aarch64-linux-gnu-cpp-12",
                    &format!("{e}/usr/bin/aarch64-linux-gnu-cpp-12")
                ),
                (
                    "/usr/bin/aarch64-linux-gnu-g++-12",
                    &format!("{e}/usr/bin/aarch64-linux-gnu-g++-12")
                ),
                (
                    "/usr/bin/aarch64-linux-gnu-gcc-12",
                    &format!("{e}/usr/bin/aarch64-linux-gnu-gcc-12")
                ),
                (
                    "/usr/bin/aarch64-linux-gnu-gcc-ar-12",
                    &format!("{e}/usr/bin/aarch64-linux-gnu-gcc-ar-12")
                ),
                (
                    "/usr/bin/aarch64-linux-gnu-ld.bfd",
                    &format!("{e}/usr/bin/aarch64-linux-gnu-ld.bfd")
                ),
                (
                    "/usr/lib/gcc/aarch64-linux-gnu/12/cc1",
                    &format!("{e}/usr/lib/gcc-cross/aarch64-linux-gnu/12/cc1")
                ),
                (
                    "/usr/lib/gcc/aarch64-linux-gnu/12/cc1plus",
                    &format!("{e}/usr/lib/gcc-cross/aarch64-linux-gnu/12/cc1plus")
                ),
                (
                    "/usr/lib/gcc/aarch64-linux-gnu/12/collect2",
                    &format!("{e}/usr/lib/gcc-cross/aarch64-linux-gnu/12/collect2")
                ),
                (
                    "/usr/libexec/gcc/aarch64-linux-gnu/12/lto1",
                    &format!("{e}/usr/libexec/gcc-cross/aarch64-linux-gnu/12/lto1")
                ),
            ]
        );
        // Drivers that compile get --sysroot=/; ar wrappers and binutils do not.
        assert_eq!(
            m.tools["/usr/bin/aarch64-linux-gnu-gcc-12"].args,
            ["--sysroot=/"]
        );
        assert_eq!(
            m.tools["/usr/bin/aarch64-linux-gnu-g++-12"].args,
            ["--sysroot=/"]
        );
        assert!(m.tools["/usr/bin/aarch64-linux-gnu-gcc-ar-12"]
            .args
            .is_empty());
        assert!(m.tools["/usr/bin/aarch64-linux-gnu-as"].args.is_empty());
        assert!(m.tools["/usr/lib/gcc/aarch64-linux-gnu/12/cc1"]
            .args
            .is_empty());
    }

    #[test]
    fn an_opensuse_root_maps_onto_cross_arch_gcc_and_binutils() {
        let t = "aarch64-suse-linux";
        let files: Vec<RootFile> = [
            "/usr/bin/gcc-13",
            "/usr/bin/g++-13",
            "/usr/bin/cpp-13",
            "/usr/bin/as",
            "/usr/bin/ld.bfd",
            "/usr/bin/aarch64-suse-linux-gcc-13",
            "/usr/lib64/gcc/aarch64-suse-linux/13/cc1",
            "/usr/lib64/gcc/aarch64-suse-linux/13/cc1plus",
            "/usr/lib64/gcc/aarch64-suse-linux/13/lto1",
            "/usr/lib64/gcc/aarch64-suse-linux/12/cc1",
            "/usr/bin/rpm",
            "/usr/bin/uname",
        ]
        .iter()
        .map(|p| file(p))
        .collect();
        let pairs = pairs(&files, &|p| opensuse_tool(t, "13", p));
        let toolchain = Toolchain {
            distribution: "opensuse".into(),
            version: "13.3.0".into(),
            triplet: t.into(),
        };
        let (m, refused) = make_manifest("aarch64", &toolchain, &pairs);
        assert!(refused.is_empty(), "{refused:?}");
        let e = "/emul/x86_64-for-aarch64";
        let native = |p: &str| m.tools[p].native.strip_prefix(e).unwrap().to_string();
        assert_eq!(
            native("/usr/bin/gcc-13"),
            "/usr/bin/aarch64-suse-linux-gcc-13"
        );
        assert_eq!(
            native("/usr/bin/g++-13"),
            "/usr/bin/aarch64-suse-linux-g++-13"
        );
        assert_eq!(
            native("/usr/bin/cpp-13"),
            "/usr/bin/aarch64-suse-linux-cpp-13"
        );
        assert_eq!(native("/usr/bin/as"), "/usr/bin/aarch64-suse-linux-as");
        assert_eq!(
            native("/usr/bin/ld.bfd"),
            "/usr/bin/aarch64-suse-linux-ld.bfd"
        );
        assert_eq!(
            native("/usr/bin/aarch64-suse-linux-gcc-13"),
            "/usr/bin/aarch64-suse-linux-gcc-13"
        );
        assert_eq!(
            native("/usr/lib64/gcc/aarch64-suse-linux/13/cc1plus"),
            "/usr/lib64/gcc/aarch64-suse-linux/13/cc1plus"
        );
        assert_eq!(m.tools.len(), 9, "{:?}", m.tools.keys());
        assert_eq!(m.tools["/usr/bin/gcc-13"].args, ["--sysroot=/"]);
        // 32-bit roots keep GCC's programs under /usr/lib; the cross package under lib64.
        assert_eq!(
            opensuse_tool(
                "armv7hl-suse-linux-gnueabi",
                "13",
                "/usr/lib/gcc/armv7hl-suse-linux-gnueabi/13/cc1"
            )
            .unwrap(),
            "/usr/lib64/gcc/armv7hl-suse-linux-gnueabi/13/cc1"
        );
        // Even offered explicitly, rpm and uname are refused.
        let forced = [
            Pair {
                root: file("/usr/bin/rpm"),
                tool: "/usr/bin/rpm".into(),
                args: vec![],
                gives_root_arch: false,
            },
            Pair {
                root: file("/usr/bin/uname"),
                tool: "/usr/bin/uname".into(),
                args: vec![],
                gives_root_arch: false,
            },
        ];
        let (m, refused) = make_manifest("aarch64", &toolchain, &forced);
        assert!(m.tools.is_empty());
        assert_eq!(refused.len(), 2);
    }
}
