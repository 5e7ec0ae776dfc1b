//! The Debian bundle, as plain data (`make_debian` applies it): which cross packages of
//! which version stand in for a root's compiler, how each copied ELF file is made
//! self-contained (its interpreter and DT_RPATH rewritten onto the bundle's own loader
//! and libraries, paths as seen inside the root), and the bundle's manifest.

use super::manifest::bundle_dir;

/// Debian's GNU triplet of a Debian arch, for the arches archbuild emulates.
pub fn triplet(deb_arch: &str) -> Option<&'static str> {
    Some(match deb_arch {
        "arm64" => "aarch64-linux-gnu",
        "armhf" => "arm-linux-gnueabihf",
        "armel" => "arm-linux-gnueabi",
        "ppc64el" => "powerpc64le-linux-gnu",
        "ppc64" => "powerpc64-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        "riscv64" => "riscv64-linux-gnu",
        "i386" => "i686-linux-gnu",
        "loong64" => "loongarch64-linux-gnu",
        _ => return None,
    })
}

/// The host (amd64) cross packages for a root whose compiler is gcc-`major` of
/// `triplet`: C, C++ and binutils.
pub fn cross_packages(triplet: &str, major: &str) -> Vec<String> {
    vec![
        format!("gcc-{major}-{triplet}"),
        format!("cpp-{major}-{triplet}"),
        format!("g++-{major}-{triplet}"),
        format!("binutils-{triplet}"),
    ]
}

/// Is the cross package's version built from the same source version as the root's
/// package? Debian's cross toolchains append `cross<N>` (`12.2.0-14` ->
/// `12.2.0-14cross1`); binutils' cross packages carry the same version.
pub fn same_version(root_version: &str, cross_version: &str) -> bool {
    match cross_version.strip_prefix(root_version) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix("cross")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())),
        None => false,
    }
}

/// The installed packages of a root and their versions, from its dpkg status file
/// (`var/lib/dpkg/status`): only stanzas whose status is `install ok installed`.
pub fn installed(status: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for stanza in status.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        if let (Some(package), Some("install ok installed"), Some(version)) =
            (field("Package"), field("Status"), field("Version"))
        {
            out.insert(package.to_string(), version.to_string());
        }
    }
    out
}

/// The root's compiler: the gcc-<major> that the `gcc` package depends on (the
/// highest installed gcc-<major> when `gcc` itself is not installed), with its version.
pub fn root_compiler(status: &str) -> Option<(String, String)> {
    let packages = installed(status);
    let majors: Vec<&str> = packages
        .keys()
        .filter_map(|p| p.strip_prefix("gcc-"))
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let from_depends = status.split("\n\n").find_map(|stanza| {
        if !stanza.lines().any(|l| l == "Package: gcc") {
            return None;
        }
        let depends = stanza.lines().find_map(|l| l.strip_prefix("Depends:"))?;
        depends
            .split(',')
            .filter_map(|d| d.split_whitespace().next()?.strip_prefix("gcc-"))
            .find(|m| majors.contains(m))
    });
    let major = from_depends.or_else(|| {
        majors
            .iter()
            .copied()
            .max_by_key(|m| m.parse::<u32>().unwrap_or(0))
    })?;
    let version = packages.get(&format!("gcc-{major}"))?.clone();
    Some((major.to_string(), version))
}

/// The cross packages to fetch, each with the root's version it must be built from:
/// `(cross package, root package, root version)`; a root package that is not
/// installed (no C++ compiler, say) leaves its cross package out.
pub fn wanted_cross(status: &str, triplet: &str) -> Option<Vec<(String, String, String)>> {
    let packages = installed(status);
    let (major, _) = root_compiler(status)?;
    let roots = [
        format!("gcc-{major}"),
        format!("cpp-{major}"),
        format!("g++-{major}"),
        format!("binutils-{triplet}"),
    ];
    Some(
        cross_packages(triplet, &major)
            .into_iter()
            .zip(roots)
            .filter_map(|(cross, root)| {
                let version = packages.get(&root)?.clone();
                Some((cross, root, version))
            })
            .collect(),
    )
}

/// What to do to one ELF file copied into the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relocation {
    /// The file, relative to the bundle's top.
    pub file: String,
    /// The new PT_INTERP (executables only), a path inside the root.
    pub interpreter: Option<String>,
    /// The new DT_RPATH (forced, so LD_LIBRARY_PATH of a build cannot pull the root's
    /// foreign libraries in), paths inside the root.
    pub rpath: String,
}

/// Where the bundle keeps its own x86_64 loader, relative to its top.
pub const LIB_DIR: &str = "lib";
/// The loader's file name in [`LIB_DIR`].
pub const LOADER: &str = "ld-linux-x86-64.so.2";

/// glibc's own libraries (of package libc6): they need only the loader, and are left
/// as Debian built them.
fn glibc_library(name: &str) -> bool {
    const GLIBC: &[&str] = &[
        "ld-linux-x86-64.so",
        "libc.so",
        "libm.so",
        "libmvec.so",
        "libpthread.so",
        "libdl.so",
        "librt.so",
        "libresolv.so",
        "libanl.so",
        "libutil.so",
        "libBrokenLocale.so",
        "libthread_db.so",
        "libnss_",
        "libc_malloc_debug.so",
        "libmemusage.so",
        "libpcprofile.so",
        "libnsl.so",
        "libcrypt.so",
        "libSegFault.so",
        "libaudit",
    ];
    GLIBC.iter().any(|g| name.starts_with(g))
}

/// An x86_64 ELF file copied into the bundle, relative to its top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleElf {
    pub file: String,
    /// Has PT_INTERP and is not a shared library (libc.so.6 has one too).
    pub executable: bool,
}

impl BundleElf {
    fn name(&self) -> &str {
        self.file.rsplit('/').next().unwrap_or(&self.file)
    }

    fn shared_library(&self) -> bool {
        self.name().contains(".so")
    }
}

/// The bundle's library directories (relative): the loader's, then every directory
/// holding a shared library, but perl's XS modules (`auto/`), which perl loads by path.
pub fn library_dirs(files: &[BundleElf]) -> Vec<String> {
    let mut dirs = vec![LIB_DIR.to_string()];
    let mut rest: Vec<String> = files
        .iter()
        .filter(|f| f.shared_library() && !f.file.contains("/auto/"))
        .filter_map(|f| f.file.rsplit_once('/').map(|(d, _)| d.to_string()))
        .filter(|d| d != LIB_DIR)
        .collect();
    rest.sort();
    rest.dedup();
    dirs.extend(rest);
    dirs
}

/// The relocation of each copied ELF file of a bundle for qemu target `target`:
/// executables get the bundle's loader and a forced DT_RPATH of `lib_dirs`, shared
/// libraries (plugins included) the DT_RPATH; the loader and glibc stay as they are.
pub fn relocations(target: &str, files: &[BundleElf], lib_dirs: &[String]) -> Vec<Relocation> {
    let top = bundle_dir(target);
    let rpath = lib_dirs
        .iter()
        .map(|d| format!("{top}/{d}"))
        .collect::<Vec<_>>()
        .join(":");
    files
        .iter()
        .filter(|f| {
            if f.shared_library() {
                !glibc_library(f.name())
            } else {
                f.executable
            }
        })
        .map(|f| Relocation {
            file: f.file.clone(),
            interpreter: (!f.shared_library()).then(|| format!("{top}/{LIB_DIR}/{LOADER}")),
            rpath: rpath.clone(),
        })
        .collect()
}

/// The patchelf arguments that carry out `r` on the file at `host_path`.
pub fn patchelf_args(r: &Relocation, host_path: &str) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(interpreter) = &r.interpreter {
        args.extend(["--set-interpreter".to_string(), interpreter.clone()]);
    }
    args.extend([
        "--force-rpath".to_string(),
        "--set-rpath".to_string(),
        r.rpath.clone(),
        host_path.to_string(),
    ]);
    args
}

/// Where the root's driver finds the LTO plugin it hands to `ld` (the root's aarch64
/// one), and the bundle's x86_64 plugin of the same version, as seen inside the root.
pub fn lto_plugin_replacement(
    target: &str,
    triplet: &str,
    major: &str,
) -> std::collections::BTreeMap<String, String> {
    let native = format!(
        "{}/usr/libexec/gcc-cross/{triplet}/{major}/liblto_plugin.so",
        bundle_dir(target)
    );
    ["/usr/libexec/gcc", "/usr/lib/gcc"]
        .iter()
        .map(|dir| {
            (
                format!("{dir}/{triplet}/{major}/liblto_plugin.so"),
                native.clone(),
            )
        })
        .collect()
}

/// The header directories the root's own gcc-`major` searches before the system's
/// (`/usr/include/<triplet>`, `/usr/include`), in GCC's order and nonexistent ones
/// included, as the native compiler has them, for C or C++. The cross cc1 has the
/// cross layout compiled in (`/usr/lib/gcc-cross/...`, `/usr/<triplet>/include/c++`,
/// none of them in the root) followed by the same two system directories, so these are
/// appended as `-isystem`: after the build's own `-isystem` directories and before the
/// cross cc1's standard ones, which is the native order. (`-nostdinc` would also drop
/// the implicit `stdc-predef.h`.)
pub fn header_dirs_before_system(triplet: &str, major: &str, cxx: bool) -> Vec<String> {
    let gcc = format!("/usr/lib/gcc/{triplet}/{major}");
    let mut dirs = Vec::new();
    if cxx {
        dirs.extend([
            format!("/usr/include/c++/{major}"),
            format!("/usr/include/{triplet}/c++/{major}"),
            format!("/usr/include/c++/{major}/backward"),
        ]);
    }
    dirs.extend([
        format!("{gcc}/include"),
        format!("/usr/local/include/{triplet}"),
        "/usr/local/include".to_string(),
        format!("{gcc}/include-fixed/{triplet}"),
        format!("{gcc}/include-fixed"),
        format!("{gcc}/../../../../{triplet}/include"),
    ]);
    dirs
}

/// Arguments of the root's compiler that change the header search list in ways the
/// appended list cannot follow: with one of them, cc1 stays emulated.
pub const HEADER_SEARCH_ARGUMENTS: &[&str] = &[
    "-nostdinc",
    "-iprefix",
    "-iwithprefix",
    "-isysroot",
    "--sysroot",
    "-imultilib",
    // Character set conversions other than glibc's built-in ones need gconv modules,
    // which an x86_64 glibc looks for at the x86_64 path: not in a foreign root.
    "-finput-charset",
    "-fexec-charset",
    "-fwide-exec-charset",
];

/// The root's directories whose executables the bundle can stand in for.
pub fn root_tool_dirs(triplet: &str, major: &str) -> Vec<String> {
    vec![
        "/usr/bin".to_string(),
        format!("/usr/lib/gcc/{triplet}/{major}"),
        format!("/usr/libexec/gcc/{triplet}/{major}"),
    ]
}

/// The native tools (besides the compiler's programs) the bundle maker accepted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Native<'a> {
    /// Their root paths.
    pub paths: &'a [String],
    /// The native perl's guard, when it is among them.
    pub perl: Option<&'a super::manifest::PerlGuard>,
}

/// The manifest of a Debian bundle: the root's files (canonical paths, regular files of
/// [`root_tool_dirs`]) paired with the cross tools the bundle has (`in_bundle`: paths
/// inside the bundle's tree). Compiler drivers stay emulated unless `drivers`: the cross
/// driver's compiled-in search paths are not the root's (`-print-search-dirs`,
/// `-print-prog-name`, the C++ headers), while the programs it runs (cc1, cc1plus, as,
/// ld, ...) are handed every path by the root's own driver. `ld` gets the bundle's LTO
/// plugin in place of the root's.
pub fn manifest(
    target: &str,
    toolchain: &super::manifest::Toolchain,
    major: &str,
    root_files: &[super::plan::RootFile],
    native: Native,
    in_bundle: &dyn Fn(&str) -> bool,
    drivers: bool,
) -> (super::manifest::Manifest, Vec<super::plan::Refusal>) {
    let Native {
        paths: native_paths,
        perl,
    } = native;
    let triplet = toolchain.triplet.as_str();
    let pairs: Vec<super::plan::Pair> =
        super::plan::pairs(root_files, &|p| super::plan::debian_tool(triplet, major, p))
            .into_iter()
            .filter(|p| drivers || p.args.is_empty() && !is_gcc_wrapper(&p.root.path))
            .chain(native_pairs(root_files, native_paths))
            .filter(|p| in_bundle(&p.tool))
            .collect();
    let (mut manifest, refused) = super::plan::make_manifest(target, toolchain, &pairs);
    let replace = lto_plugin_replacement(target, triplet, major);
    for (path, tool) in manifest.tools.iter_mut() {
        if path == super::debian_perl::PERL {
            tool.args = super::debian_perl::perl_args(target);
            tool.perl = perl.cloned();
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.starts_with(&format!("{triplet}-ld")) || name == "collect2" {
            tool.replace = replace.clone();
        }
        if name == "cc1" || name == "cc1plus" {
            tool.append = header_dirs_before_system(triplet, major, name == "cc1plus")
                .into_iter()
                .flat_map(|d| ["-isystem".to_string(), d])
                .collect();
            tool.emulate_if = HEADER_SEARCH_ARGUMENTS
                .iter()
                .map(|a| a.to_string())
                .collect();
            if name == "cc1plus" {
                // `-isystem` directories are not "C++-aware" as the standard ones are: the
                // line markers of `-E` output carry flag 4 (implicit extern "C", inert on
                // GNU/Linux) for the C++ headers. Compiles are identical; preprocessing
                // alone stays emulated so that its output is too.
                tool.emulate_if.push("-E".to_string());
            }
            // armhf's driver always passes `-imultilib .`: the default directory adds
            // nothing to the appended list; another one (`-m64` on i386) would.
            tool.unless_followed_by = vec![["-imultilib".to_string(), ".".to_string()]];
        }
    }
    (manifest, refused)
}

/// A native tool of the bundle besides the compiler: a hot program whose output depends
/// only on its own source version and the options it is given (no arch of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeTool {
    /// What the report calls it.
    pub name: &'static str,
    /// The Debian package (the same name on every arch) the root's program is in.
    pub package: &'static str,
    /// The packages whose versions decide the program's behaviour: the root's installed
    /// version of each must be the archive's amd64 version (Debian builds one source
    /// version for every arch), else the tool stays emulated.
    pub same_version: &'static [&'static str],
    /// The root's canonical paths it stands in for (the handler canonicalizes, so
    /// `/bin/sh` -> `/usr/bin/dash` is found), the same path in the bundle.
    pub paths: &'static [&'static str],
    /// The amd64 build has its Debian arch compiled in (dpkg: the native arch, and
    /// `--version`): the bundle's copies get the root's arch written over it
    /// ([`rewrite_compiled_arch`]), or the tool stays emulated.
    pub arch_compiled_in: bool,
    /// The native perl ([`super::debian_perl`]): the bundle adds libperl's XS modules
    /// and the boot module, and the manifest entry its arguments and guard.
    pub perl: bool,
}

/// The coreutils a package build runs most (file handling and text filters). Not
/// `uname`, `arch`, `nproc`, `env` (the deny list), nor what looks users up (`ls -l`,
/// `stat`, `id`: the x86_64 glibc cannot load the root's NSS modules) or loads a
/// library into other programs (`stdbuf`).
const COREUTILS: &[&str] = &[
    "/usr/bin/basename",
    "/usr/bin/cat",
    "/usr/bin/chmod",
    "/usr/bin/chown",
    "/usr/bin/cp",
    "/usr/bin/cut",
    "/usr/bin/dirname",
    "/usr/bin/head",
    "/usr/bin/install",
    "/usr/bin/ln",
    "/usr/bin/mkdir",
    "/usr/bin/mktemp",
    "/usr/bin/mv",
    "/usr/bin/readlink",
    "/usr/bin/realpath",
    "/usr/bin/rm",
    "/usr/bin/rmdir",
    "/usr/bin/sort",
    "/usr/bin/sync",
    "/usr/bin/tail",
    "/usr/bin/tee",
    "/usr/bin/touch",
    "/usr/bin/tr",
    "/usr/bin/uniq",
    "/usr/bin/wc",
];

/// The shell, the compressors, the file tools and dpkg's programs. Not `make`: Debian's
/// amd64 make has `MAKE_HOST=x86_64-pc-linux-gnu` compiled in (`$(MAKE_HOST)`, `make
/// --version`). Not `bash`: `$HOSTTYPE`, `$MACHTYPE` (the deny list refuses both). dash
/// has no such variable and runs `uname` and the rest as separate, emulated, programs.
/// perl runs with the root's `%Config`, and only when it can load no foreign XS module
/// (`debian_perl`).
pub const NATIVE_TOOLS: &[NativeTool] = &[
    NativeTool {
        name: "dash",
        package: "dash",
        same_version: &["dash"],
        paths: &["/usr/bin/dash"],
        arch_compiled_in: false,
        perl: false,
    },
    NativeTool {
        name: "xz",
        package: "xz-utils",
        same_version: &["xz-utils", "liblzma5"],
        paths: &["/usr/bin/xz"],
        arch_compiled_in: false,
        perl: false,
    },
    NativeTool {
        name: "gzip",
        package: "gzip",
        same_version: &["gzip"],
        paths: &["/usr/bin/gzip"],
        arch_compiled_in: false,
        perl: false,
    },
    // Debian's zstd has libzstd built in; it links liblzma, zlib and lz4 for
    // `--format=xz|gzip|lz4`.
    NativeTool {
        name: "zstd",
        package: "zstd",
        same_version: &["zstd", "liblzma5", "zlib1g", "liblz4-1"],
        paths: &["/usr/bin/zstd"],
        arch_compiled_in: false,
        perl: false,
    },
    // tar runs the compressors as programs (emulated or native by their own entry).
    NativeTool {
        name: "tar",
        package: "tar",
        same_version: &["tar"],
        paths: &["/usr/bin/tar"],
        arch_compiled_in: false,
        perl: false,
    },
    NativeTool {
        name: "coreutils",
        package: "coreutils",
        same_version: &["coreutils"],
        paths: COREUTILS,
        arch_compiled_in: false,
        perl: false,
    },
    NativeTool {
        name: "sed",
        package: "sed",
        same_version: &["sed"],
        paths: &["/usr/bin/sed"],
        arch_compiled_in: false,
        perl: false,
    },
    NativeTool {
        name: "findutils",
        package: "findutils",
        same_version: &["findutils"],
        paths: &["/usr/bin/find", "/usr/bin/xargs"],
        arch_compiled_in: false,
        perl: false,
    },
    NativeTool {
        name: "diffutils",
        package: "diffutils",
        same_version: &["diffutils"],
        paths: &["/usr/bin/diff", "/usr/bin/cmp"],
        arch_compiled_in: false,
        perl: false,
    },
    // The installer of a build root's set-up: every `dpkg --install` reads the status
    // database and runs dpkg-deb and dpkg-split per package. Its one arch is the
    // compiled-in native one (`dpkg --print-architecture`, the check of each package's
    // Architecture), rewritten to the root's; it reads `arch-native` only under
    // `--root`, as the root's own dpkg does. dpkg-architecture is perl: emulated.
    NativeTool {
        name: "dpkg",
        package: "dpkg",
        same_version: &["dpkg"],
        paths: &[
            "/usr/bin/dpkg",
            "/usr/bin/dpkg-deb",
            "/usr/bin/dpkg-split",
            "/usr/bin/dpkg-divert",
            "/usr/bin/dpkg-query",
            "/usr/bin/dpkg-realpath",
            "/usr/bin/dpkg-trigger",
            "/usr/bin/dpkg-statoverride",
        ],
        arch_compiled_in: true,
        perl: false,
    },
    // Maintainer scripts run it for every alternative; it has no arch of its own (it
    // manages links under /etc/alternatives and its database).
    NativeTool {
        name: "update-alternatives",
        package: "dpkg",
        same_version: &["dpkg"],
        paths: &["/usr/bin/update-alternatives"],
        arch_compiled_in: false,
        perl: false,
    },
    // The set-up's and dpkg-dev's scripts (dpkg-buildpackage, dpkg-source,
    // dpkg-gencontrol, dpkg-shlibdeps, ...): see `debian_perl` and `PerlGuard`.
    NativeTool {
        name: "perl",
        package: super::debian_perl::PERL_BASE,
        same_version: &[super::debian_perl::PERL_BASE],
        paths: &[super::debian_perl::PERL],
        arch_compiled_in: false,
        perl: true,
    },
];

/// The Debian arch amd64 programs have compiled in.
pub const HOST_DEB_ARCH: &str = "amd64";

/// Writes `deb_arch` over every `amd64` compiled into `bytes` (an amd64 program of
/// dpkg's): each must be a whole string (`"amd64"`) or the parenthesized arch of a
/// version string (`"1.22.22 (amd64)"`), and `deb_arch` as long as `amd64` (nothing
/// moves). Returns how many were rewritten (at least one), or why not.
pub fn rewrite_compiled_arch(bytes: &mut [u8], deb_arch: &str) -> Result<usize, String> {
    let from = HOST_DEB_ARCH.as_bytes();
    if deb_arch.len() != from.len() {
        return Err(format!(
            "its compiled-in arch ({HOST_DEB_ARCH}) can only be rewritten to an arch name of {} letters, not {deb_arch}",
            from.len()
        ));
    }
    let at: Vec<usize> = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .map(|(i, _)| i)
        .collect();
    if at.is_empty() {
        return Err(format!("it has no compiled-in {HOST_DEB_ARCH}"));
    }
    for &i in &at {
        let before = i.checked_sub(1).map(|b| bytes[b]);
        let after = bytes.get(i + from.len()).copied();
        let whole = matches!(before, None | Some(0)) && matches!(after, None | Some(0));
        let in_parens = before == Some(b'(') && after == Some(b')');
        if !(whole || in_parens) {
            return Err(format!(
                "its {HOST_DEB_ARCH} at byte {i} is part of other text, which archbuild does not rewrite"
            ));
        }
    }
    for &i in &at {
        bytes[i..i + from.len()].copy_from_slice(deb_arch.as_bytes());
    }
    Ok(at.len())
}

/// Is `path` a program of a native tool whose compiled-in arch the bundle rewrites?
pub fn arch_compiled_in(path: &str) -> bool {
    NATIVE_TOOLS
        .iter()
        .any(|t| t.arch_compiled_in && t.paths.contains(&path))
}

/// Why `tool` cannot stand in for a root of Debian arch `deb_arch`, or None.
pub fn native_tool_refused(tool: &NativeTool, deb_arch: &str) -> Option<String> {
    if let Some(why) = native_tools_refused(deb_arch) {
        return Some(why);
    }
    if tool.arch_compiled_in && deb_arch.len() != HOST_DEB_ARCH.len() {
        return Some(format!(
            "{} has {HOST_DEB_ARCH} compiled in, which archbuild rewrites only to an arch name of {} letters ({deb_arch} has {})",
            tool.name,
            HOST_DEB_ARCH.len(),
            deb_arch.len()
        ));
    }
    None
}

/// Why the native tools cannot stand in for a root of Debian arch `deb_arch` at all, or
/// None. 32-bit roots: an x86_64 build has other limits and says so (`zstd -V` prints
/// "64-bit", xz caps its memory limit and zstd its window size by the word size).
/// Big-endian roots: their compiled locales (`/usr/lib/locale`) are big-endian, which
/// an x86_64 glibc cannot load, so a native tool would run in the C locale where the
/// emulated one has the build's.
pub fn native_tools_refused(deb_arch: &str) -> Option<String> {
    match deb_arch {
        "armhf" | "armel" | "i386" => Some(format!(
            "{deb_arch} is a 32-bit arch: a 64-bit build's limits and version strings differ"
        )),
        "s390x" | "ppc64" => Some(format!(
            "{deb_arch} is big-endian: an x86_64 glibc cannot load the root's compiled locales"
        )),
        _ => None,
    }
}

/// The manifest pairs of the native tools the plan accepted (`paths`: their root
/// paths), for the root's regular files at those paths: the same path in the bundle.
pub fn native_pairs(
    root_files: &[super::plan::RootFile],
    paths: &[String],
) -> Vec<super::plan::Pair> {
    root_files
        .iter()
        .filter(|f| paths.contains(&f.path))
        .map(|f| super::plan::Pair {
            root: f.clone(),
            tool: f.path.clone(),
            args: Vec::new(),
            gives_root_arch: arch_compiled_in(&f.path) || f.path == super::debian_perl::PERL,
        })
        .collect()
}

/// `gcc-ar-14` and friends: drivers too (they run the root's `ar` with the root's
/// plugin path), left with the other drivers.
fn is_gcc_wrapper(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    ["-gcc-ar-", "-gcc-nm-", "-gcc-ranlib-"]
        .iter()
        .any(|w| name.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_packages_of_the_roots_compiler_version() {
        assert_eq!(triplet("arm64"), Some("aarch64-linux-gnu"));
        assert_eq!(triplet("armhf"), Some("arm-linux-gnueabihf"));
        assert_eq!(triplet("amd64"), None);
        assert_eq!(
            cross_packages("aarch64-linux-gnu", "12"),
            [
                "gcc-12-aarch64-linux-gnu",
                "cpp-12-aarch64-linux-gnu",
                "g++-12-aarch64-linux-gnu",
                "binutils-aarch64-linux-gnu"
            ]
        );
        assert!(same_version("12.2.0-14", "12.2.0-14cross1"));
        assert!(same_version("2.40-2", "2.40-2"));
        assert!(!same_version("12.2.0-14", "12.2.0-14+deb12u1cross1"));
        assert!(!same_version("12.2.0-14", "12.2.0-13cross1"));
        assert!(!same_version("12.2.0-1", "12.2.0-14cross1"));
        assert!(!same_version("12.2.0-14", "12.2.0-14cross"));
    }

    #[test]
    fn every_copied_elf_gets_the_bundles_loader_and_a_forced_rpath() {
        let elf = |file: &str, executable: bool| BundleElf {
            file: file.to_string(),
            executable,
        };
        let files = vec![
            elf("usr/libexec/gcc-cross/aarch64-linux-gnu/12/cc1", true),
            elf("usr/lib/x86_64-linux-gnu/libmpfr.so.6.2.1", false),
            elf(
                "usr/libexec/gcc-cross/aarch64-linux-gnu/12/liblto_plugin.so",
                false,
            ),
            elf(&format!("lib/{LOADER}"), false),
            elf("usr/lib/x86_64-linux-gnu/libc.so.6", true),
            elf("usr/lib/x86_64-linux-gnu/libm.so.6", false),
        ];
        let dirs = library_dirs(&files);
        assert_eq!(
            dirs,
            [
                "lib",
                "usr/lib/x86_64-linux-gnu",
                "usr/libexec/gcc-cross/aarch64-linux-gnu/12"
            ]
        );
        let r = relocations("aarch64", &files, &dirs[..2]);
        let patched: Vec<&str> = r.iter().map(|r| r.file.as_str()).collect();
        assert_eq!(
            patched,
            [
                "usr/libexec/gcc-cross/aarch64-linux-gnu/12/cc1",
                "usr/lib/x86_64-linux-gnu/libmpfr.so.6.2.1",
                "usr/libexec/gcc-cross/aarch64-linux-gnu/12/liblto_plugin.so",
            ],
            "the loader and glibc are left as they are"
        );
        assert_eq!(
            r[0].interpreter.as_deref(),
            Some("/emul/x86_64-for-aarch64/lib/ld-linux-x86-64.so.2")
        );
        assert_eq!(r[1].interpreter, None);
        let rpath =
            "/emul/x86_64-for-aarch64/lib:/emul/x86_64-for-aarch64/usr/lib/x86_64-linux-gnu";
        assert_eq!(r[1].rpath, rpath);
        assert_eq!(
            patchelf_args(&r[0], "/b/cc1"),
            [
                "--set-interpreter",
                "/emul/x86_64-for-aarch64/lib/ld-linux-x86-64.so.2",
                "--force-rpath",
                "--set-rpath",
                rpath,
                "/b/cc1"
            ]
        );
        assert_eq!(
            patchelf_args(&r[1], "/b/lib/libmpfr.so.6")[..2],
            ["--force-rpath", "--set-rpath"]
        );
    }

    #[test]
    fn the_manifest_maps_the_programs_the_roots_driver_runs_and_ld_gets_the_bundles_plugin() {
        use super::super::manifest::{Identity, Toolchain};
        use super::super::plan::RootFile;
        let t = "aarch64-linux-gnu";
        let root: Vec<RootFile> = [
            "/usr/bin/aarch64-linux-gnu-gcc-14",
            "/usr/bin/aarch64-linux-gnu-gcc-ar-14",
            "/usr/bin/aarch64-linux-gnu-as",
            "/usr/bin/aarch64-linux-gnu-ld.bfd",
            "/usr/bin/aarch64-linux-gnu-gprof",
            "/usr/bin/ls",
            "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1",
            "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1plus",
            "/usr/libexec/gcc/aarch64-linux-gnu/14/collect2",
            "/usr/libexec/gcc/aarch64-linux-gnu/14/lto1",
        ]
        .iter()
        .map(|p| RootFile {
            path: p.to_string(),
            identity: Identity::of_bytes(p.as_bytes()),
        })
        .collect();
        let toolchain = Toolchain {
            distribution: "debian".into(),
            version: "14.2.0-19".into(),
            triplet: t.into(),
        };
        // No g++ in the bundle: cc1plus stays emulated.
        let in_bundle = |p: &str| !p.ends_with("cc1plus");
        let (m, refused) = manifest(
            "aarch64",
            &toolchain,
            "14",
            &root,
            Native::default(),
            &in_bundle,
            false,
        );
        assert!(refused.is_empty());
        let keys: Vec<&str> = m.tools.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "/usr/bin/aarch64-linux-gnu-as",
                "/usr/bin/aarch64-linux-gnu-ld.bfd",
                "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1",
                "/usr/libexec/gcc/aarch64-linux-gnu/14/collect2",
                "/usr/libexec/gcc/aarch64-linux-gnu/14/lto1",
            ]
        );
        let ld = &m.tools["/usr/bin/aarch64-linux-gnu-ld.bfd"];
        assert_eq!(
            ld.replace["/usr/libexec/gcc/aarch64-linux-gnu/14/liblto_plugin.so"],
            "/emul/x86_64-for-aarch64/usr/libexec/gcc-cross/aarch64-linux-gnu/14/liblto_plugin.so"
        );
        assert!(m.tools["/usr/bin/aarch64-linux-gnu-as"].replace.is_empty());
        let cc1 = &m.tools["/usr/libexec/gcc/aarch64-linux-gnu/14/cc1"];
        assert_eq!(
            cc1.append[..2],
            ["-isystem", "/usr/lib/gcc/aarch64-linux-gnu/14/include"]
        );
        assert_eq!(
            cc1.append.last().unwrap(),
            "/usr/lib/gcc/aarch64-linux-gnu/14/../../../../aarch64-linux-gnu/include"
        );
        assert!(cc1.emulate_if.contains(&"-nostdinc".to_string()));
        assert!(!cc1.emulate_if.contains(&"-E".to_string()));
        assert_eq!(cc1.unless_followed_by, [["-imultilib", "."]]);
        assert_eq!(
            header_dirs_before_system("aarch64-linux-gnu", "14", true)[..2],
            [
                "/usr/include/c++/14",
                "/usr/include/aarch64-linux-gnu/c++/14"
            ]
        );
        let (with_drivers, _) = manifest(
            "aarch64",
            &toolchain,
            "14",
            &root,
            Native::default(),
            &in_bundle,
            true,
        );
        assert_eq!(
            with_drivers.tools["/usr/bin/aarch64-linux-gnu-gcc-14"].args,
            ["--sysroot=/"]
        );
        let with_cxx = |p: &str| p.ends_with("cc1plus") || in_bundle(p);
        let (m, _) = manifest(
            "aarch64",
            &toolchain,
            "14",
            &root,
            Native::default(),
            &with_cxx,
            false,
        );
        let cc1plus = &m.tools["/usr/libexec/gcc/aarch64-linux-gnu/14/cc1plus"];
        assert!(cc1plus.emulate_if.contains(&"-E".to_string()));
        assert_eq!(cc1plus.append[1], "/usr/include/c++/14");
    }

    #[test]
    fn the_native_tools_keep_their_root_path_in_the_bundle_and_the_deny_list_holds() {
        let root = root_files(&[
            "/usr/bin/dash",
            "/usr/bin/xz",
            "/usr/bin/bash",
            "/usr/bin/make",
            "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1",
        ]);
        let toolchain = trixie_toolchain();
        // xz accepted but not in the bundle (not unpacked): left out; bash and make
        // offered anyway: refused by the deny list.
        let accepted: Vec<String> = [
            "/usr/bin/dash",
            "/usr/bin/xz",
            "/usr/bin/bash",
            "/usr/bin/make",
        ]
        .map(String::from)
        .to_vec();
        let in_bundle = |p: &str| p != "/usr/bin/xz";
        let (m, refused) = manifest(
            "aarch64",
            &toolchain,
            "14",
            &root,
            Native {
                paths: &accepted,
                perl: None,
            },
            &in_bundle,
            false,
        );
        let keys: Vec<&str> = m.tools.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["/usr/bin/dash", "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1"]
        );
        let dash = &m.tools["/usr/bin/dash"];
        assert_eq!(dash.native, "/emul/x86_64-for-aarch64/usr/bin/dash");
        assert_eq!(dash.identity, root[0].identity);
        assert!(dash.args.is_empty() && dash.append.is_empty() && dash.emulate_if.is_empty());
        let refused: Vec<&str> = refused.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(refused, ["/usr/bin/bash", "/usr/bin/make"]);
        // bash and make are not among the native tools.
        for tool in NATIVE_TOOLS {
            assert!(!["bash", "make"].contains(&tool.name));
        }
        assert!(native_tools_refused("armhf").unwrap().contains("32-bit"));
        assert!(native_tools_refused("s390x")
            .unwrap()
            .contains("big-endian"));
        for little_endian_64 in ["arm64", "ppc64el", "riscv64", "loong64"] {
            assert_eq!(native_tools_refused(little_endian_64), None);
        }
    }

    /// Root files at `paths`, each with an identity of its own.
    fn root_files(paths: &[&str]) -> Vec<super::super::plan::RootFile> {
        paths
            .iter()
            .map(|p| super::super::plan::RootFile {
                path: p.to_string(),
                identity: super::super::manifest::Identity::of_bytes(p.as_bytes()),
            })
            .collect()
    }

    fn trixie_toolchain() -> super::super::manifest::Toolchain {
        super::super::manifest::Toolchain {
            distribution: "debian".into(),
            version: "14.2.0-19".into(),
            triplet: "aarch64-linux-gnu".into(),
        }
    }

    #[test]
    fn the_native_perl_gets_its_boot_module_and_guard_in_the_manifest() {
        let root = root_files(&["/usr/bin/perl", "/usr/bin/dash"]);
        let toolchain = trixie_toolchain();
        let dirs = super::super::debian_perl::lib_dirs("aarch64", "aarch64-linux-gnu", "5.40.1-6")
            .unwrap();
        let guard = super::super::debian_perl::guard(&dirs, &[]);
        let accepted = ["/usr/bin/perl".to_string(), "/usr/bin/dash".to_string()];
        let (m, refused) = manifest(
            "aarch64",
            &toolchain,
            "14",
            &root,
            Native {
                paths: &accepted,
                perl: Some(&guard),
            },
            &|_| true,
            false,
        );
        assert!(refused.is_empty(), "{refused:?}");
        let perl = &m.tools["/usr/bin/perl"];
        assert_eq!(perl.native, "/emul/x86_64-for-aarch64/usr/bin/perl");
        assert_eq!(
            perl.args,
            [
                "-I/emul/x86_64-for-aarch64/perl-boot",
                "-MArchbuildAccelPerl"
            ]
        );
        assert_eq!(perl.perl.as_ref(), Some(&guard));
        assert_eq!(m.tools["/usr/bin/dash"].perl, None);
        assert!(m.tools["/usr/bin/dash"].args.is_empty());
    }

    #[test]
    fn dpkgs_compiled_in_arch_is_rewritten_only_where_it_is_a_whole_string() {
        let program = b"\0amd64\0Debian dpkg 1.22.22 (amd64)\0other\0".to_vec();
        let mut arm64 = program.clone();
        assert_eq!(rewrite_compiled_arch(&mut arm64, "arm64"), Ok(2));
        assert_eq!(
            arm64,
            b"\0arm64\0Debian dpkg 1.22.22 (arm64)\0other\0".to_vec()
        );
        assert_eq!(arm64.len(), program.len());
        // At the ends of the file too.
        let mut edges = b"amd64\0x\0amd64".to_vec();
        assert_eq!(rewrite_compiled_arch(&mut edges, "arm64"), Ok(2));
        // An arch name of another length would move the program's strings.
        let mut riscv = program.clone();
        let why = rewrite_compiled_arch(&mut riscv, "riscv64").unwrap_err();
        assert!(why.contains("5 letters"), "{why}");
        assert_eq!(riscv, program, "left as it was");
        // Inside other text (a path, a word): refused, nothing written.
        let mut path = b"\0amd64\0/usr/lib/amd64-thing\0".to_vec();
        let before = path.clone();
        let why = rewrite_compiled_arch(&mut path, "arm64").unwrap_err();
        assert!(why.contains("byte 16"), "{why}");
        assert_eq!(path, before);
        assert!(rewrite_compiled_arch(&mut b"no arch".to_vec(), "arm64").is_err());

        // Which tools: dpkg's programs only, and only for 5-letter arches.
        assert!(arch_compiled_in("/usr/bin/dpkg"));
        assert!(arch_compiled_in("/usr/bin/dpkg-deb"));
        assert!(!arch_compiled_in("/usr/bin/tar"));
        assert!(!arch_compiled_in("/usr/bin/dpkg-architecture"));
        let dpkg = NATIVE_TOOLS.iter().find(|t| t.name == "dpkg").unwrap();
        assert_eq!(native_tool_refused(dpkg, "arm64"), None);
        let why = native_tool_refused(dpkg, "ppc64el").unwrap();
        assert!(why.contains("dpkg has amd64 compiled in"), "{why}");
        let tar = NATIVE_TOOLS.iter().find(|t| t.name == "tar").unwrap();
        assert_eq!(native_tool_refused(tar, "ppc64el"), None);
        assert!(native_tool_refused(tar, "armhf")
            .unwrap()
            .contains("32-bit"));
        // The pairs that give the root's arch (dpkg rewritten, perl with the root's
        // %Config) pass the deny list's dpkg* and perl* prefixes, and no other native
        // tool needs to.
        for tool in NATIVE_TOOLS {
            for path in tool.paths {
                let denied = super::super::plan::denied(path);
                assert_eq!(
                    denied.is_some(),
                    tool.arch_compiled_in || tool.perl,
                    "{path}"
                );
                assert_eq!(super::super::plan::denied_name(path), None, "{path}");
                let pair = &native_pairs(
                    &[super::super::plan::RootFile {
                        path: path.to_string(),
                        identity: super::super::manifest::Identity::of_bytes(b"x"),
                    }],
                    &[path.to_string()],
                )[0];
                assert_eq!(pair.gives_root_arch, denied.is_some(), "{path}");
            }
        }
    }

    #[test]
    fn the_triplets_are_the_ones_of_archbuilds_debian_arches() {
        for arch in crate::arch::ARCHES {
            if arch.obs == "x86_64" {
                continue;
            }
            let t = triplet(arch.deb).unwrap_or_else(|| panic!("{}", arch.deb));
            assert!(!t.contains(' '));
        }
    }

    const STATUS: &str = "Package: gcc\nStatus: install ok installed\nVersion: 4:12.2.0-3\n\
Depends: cpp (= 4:12.2.0-3), gcc-12 (>= 12.2.0-1~)\n\n\
Package: gcc-12\nStatus: install ok installed\nArchitecture: arm64\nVersion: 12.2.0-14\n\n\
Package: gcc-13\nStatus: install ok installed\nVersion: 13.1.0-6\n\n\
Package: cpp-12\nStatus: install ok installed\nVersion: 12.2.0-14\n\n\
Package: g++-12\nStatus: deinstall ok config-files\nVersion: 12.2.0-14\n\n\
Package: binutils-aarch64-linux-gnu\nStatus: install ok installed\nVersion: 2.40-2\n";

    #[test]
    fn the_roots_compiler_and_the_cross_packages_it_needs_from_dpkg_status() {
        let packages = installed(STATUS);
        assert_eq!(packages["gcc-12"], "12.2.0-14");
        assert!(!packages.contains_key("g++-12"), "config-files only");
        // gcc depends on gcc-12, although gcc-13 is installed too.
        assert_eq!(
            root_compiler(STATUS),
            Some(("12".to_string(), "12.2.0-14".to_string()))
        );
        let without_gcc = STATUS.split_once("\n\n").unwrap().1;
        assert_eq!(root_compiler(without_gcc).unwrap().0, "13");
        assert_eq!(
            root_compiler("Package: make\nStatus: install ok installed\nVersion: 1\n"),
            None
        );
        let wanted = wanted_cross(STATUS, "aarch64-linux-gnu").unwrap();
        let names: Vec<(&str, &str)> = wanted
            .iter()
            .map(|(cross, _, version)| (cross.as_str(), version.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("gcc-12-aarch64-linux-gnu", "12.2.0-14"),
                ("cpp-12-aarch64-linux-gnu", "12.2.0-14"),
                ("binutils-aarch64-linux-gnu", "2.40-2"),
            ]
        );
    }
}
