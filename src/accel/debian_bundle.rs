//! The Debian bundle, as plain data (the maker that downloads and copies is not written
//! yet): which cross packages of which version stand in for a root's compiler, and how
//! each copied ELF file is made self-contained (its interpreter and DT_RPATH rewritten
//! onto the bundle's own loader and libraries, paths as seen inside the root).

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
    /// foreign libraries in), a path inside the root.
    pub rpath: String,
}

/// Where the bundle keeps its own x86_64 loader and libraries, relative to its top.
pub const LIB_DIR: &str = "lib";
/// The loader's file name in [`LIB_DIR`].
pub const LOADER: &str = "ld-linux-x86-64.so.2";

/// The relocation of each copied ELF file of a bundle for qemu target `target`;
/// `files` are (path relative to the bundle's top, has PT_INTERP).
pub fn relocations(target: &str, files: &[(String, bool)]) -> Vec<Relocation> {
    let lib = format!("{}/{LIB_DIR}", bundle_dir(target));
    files
        .iter()
        .filter(|(file, _)| !file.ends_with(LOADER))
        .map(|(file, executable)| Relocation {
            file: file.clone(),
            interpreter: executable.then(|| format!("{lib}/{LOADER}")),
            rpath: lib.clone(),
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
        let files = vec![
            (
                "usr/lib/gcc-cross/aarch64-linux-gnu/12/cc1".to_string(),
                true,
            ),
            ("lib/libmpfr.so.6".to_string(), false),
            (format!("lib/{LOADER}"), false),
        ];
        let r = relocations("aarch64", &files);
        assert_eq!(r.len(), 2, "the loader itself is left as it is");
        assert_eq!(
            r[0].interpreter.as_deref(),
            Some("/emul/x86_64-for-aarch64/lib/ld-linux-x86-64.so.2")
        );
        assert_eq!(r[1].interpreter, None);
        assert_eq!(r[1].rpath, "/emul/x86_64-for-aarch64/lib");
        assert_eq!(
            patchelf_args(&r[0], "/b/cc1"),
            [
                "--set-interpreter",
                "/emul/x86_64-for-aarch64/lib/ld-linux-x86-64.so.2",
                "--force-rpath",
                "--set-rpath",
                "/emul/x86_64-for-aarch64/lib",
                "/b/cc1"
            ]
        );
        assert_eq!(
            patchelf_args(&r[1], "/b/lib/libmpfr.so.6")[..2],
            ["--force-rpath", "--set-rpath"]
        );
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
