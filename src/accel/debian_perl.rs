//! A native perl for Debian roots, as data: where Debian's perl looks for modules, which
//! of those directories the bundle puts an amd64 twin in front of, the boot module that
//! gives the native perl the root's `@INC` and `$^X`, and the one change to the
//! bundle's POSIX.pm (`uname` reports the root's machine, as under qemu).
//!
//! The native perl (the amd64 perl-base of the root's version) runs with the root's
//! pure-perl modules and the root's `Config.pm` and `Errno.pm` (so `%Config` is the
//! target's), and with the bundle's amd64 builds of the XS modules (perl-base's and
//! libperl's), which come, with their `.pm` files, first: XSLoader loads the shared
//! object next to the `.pm` it is called from. The handler's [`PerlGuard`] check keeps
//! perl emulated whenever it could find an XS module without a twin.

use std::collections::BTreeSet;

use super::manifest::{bundle_dir, PerlGuard};

/// The root's perl program the native perl stands in for.
pub const PERL: &str = "/usr/bin/perl";
/// The package of [`PERL`] (its version decides the bundle's perl).
pub const PERL_BASE: &str = "perl-base";
/// The boot module's name (`-M`), and its directory under the bundle dir (`-I`).
pub const BOOT_MODULE: &str = "ArchbuildAccelPerl";
pub const BOOT_DIR: &str = "/perl-boot";
/// The files of the amd64 library directories the bundle leaves out, so that the
/// root's are found: what describes the platform (`%Config`, and Errno.pm, which checks
/// `$Config{archname}`).
pub const ROOT_FILES: &[&str] = &["Config.pm", "Config_heavy.pl", "Config_git.pl", "Errno.pm"];
/// The multiarch triplet of the amd64 perl.
pub const HOST_TRIPLET: &str = "x86_64-linux-gnu";

/// `5.40.1` and `5.40` of a Debian perl version (`5.40.1-6+deb13u1`).
pub fn versions(deb_version: &str) -> Option<(String, String)> {
    let upstream = deb_version.split(':').next_back()?.split('-').next()?;
    let parts: Vec<&str> = upstream.split('.').collect();
    match parts[..] {
        [major, minor, _patch] if [major, minor].iter().all(|p| p.parse::<u32>().is_ok()) => {
            Some((upstream.to_string(), format!("{major}.{minor}")))
        }
        _ => None,
    }
}

/// The package of the XS modules beyond perl-base's (`libperl5.40`).
pub fn libperl_package(deb_version: &str) -> Option<String> {
    versions(deb_version).map(|(_, short)| format!("libperl{short}"))
}

/// One directory of Debian perl's compiled-in `@INC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibDir {
    /// As the amd64 perl has it compiled in.
    pub amd64: String,
    /// As the root's perl has it.
    pub root: String,
    /// The bundle's amd64 twin, put before `root` (the directories of perl-base's and
    /// libperl's XS modules).
    pub twin: Option<String>,
}

/// Debian perl's `@INC` (perl's `debian/config.debian`), for a root of multiarch
/// `triplet` and perl `deb_version`; the bundle of qemu target `target`.
pub fn lib_dirs(target: &str, triplet: &str, deb_version: &str) -> Option<Vec<LibDir>> {
    let (full, short) = versions(deb_version)?;
    let bundle = bundle_dir(target);
    let dir = |template: &str, twin: bool| {
        let on = |t: &str| {
            template
                .replace("{t}", t)
                .replace("{full}", &full)
                .replace("{short}", &short)
        };
        LibDir {
            amd64: on(HOST_TRIPLET),
            root: on(triplet),
            twin: twin.then(|| format!("{bundle}{}", on(HOST_TRIPLET))),
        }
    };
    Some(vec![
        dir("/etc/perl", false),
        dir("/usr/local/lib/{t}/perl/{full}", false),
        dir("/usr/local/share/perl/{full}", false),
        dir("/usr/lib/{t}/perl5/{short}", false),
        dir("/usr/share/perl5", false),
        dir("/usr/lib/{t}/perl-base", true),
        dir("/usr/lib/{t}/perl/{short}", true),
        dir("/usr/share/perl/{short}", false),
        dir("/usr/local/lib/site_perl", false),
    ])
}

/// The first of `dirs`' amd64 paths the amd64 perl binary does not have compiled in
/// (then its `@INC` is not the one archbuild maps, and perl stays emulated).
pub fn not_compiled_in<'a>(binary: &[u8], dirs: &'a [LibDir]) -> Option<&'a str> {
    dirs.iter()
        .map(|d| d.amd64.as_str())
        .find(|d| !binary.windows(d.len()).any(|w| w == d.as_bytes()))
}

/// The guard of the native perl: the root's `@INC`, and the root paths of the XS
/// modules that have twins (`twin_modules`: paths relative to a twin directory, per
/// root directory).
pub fn guard(dirs: &[LibDir], twin_modules: &[(String, Vec<String>)]) -> PerlGuard {
    let twins: BTreeSet<String> = twin_modules
        .iter()
        .flat_map(|(root, rels)| rels.iter().map(move |r| format!("{root}/{r}")))
        .collect();
    PerlGuard {
        lib_dirs: dirs.iter().map(|d| d.root.clone()).collect(),
        twins,
    }
}

/// The native perl's arguments before the original ones: the boot module.
pub fn perl_args(target: &str) -> Vec<String> {
    vec![
        format!("-I{}{BOOT_DIR}", bundle_dir(target)),
        format!("-M{BOOT_MODULE}"),
    ]
}

fn perl_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The boot module (`-I<bundle>/perl-boot -MArchbuildAccelPerl`): it takes its own
/// directory out of `@INC` and itself out of `%INC`, puts the root's directories (each
/// twin before its root directory) where the amd64 ones were, and sets `$^X` to the
/// root's perl (the native one would report the bundle's path, and a script that runs
/// `$^X` again must go through the handler).
pub fn boot_module(target: &str, dirs: &[LibDir]) -> String {
    let boot = format!("{}{BOOT_DIR}", bundle_dir(target));
    let map: String = dirs
        .iter()
        .map(|d| {
            let to: Vec<String> = d
                .twin
                .iter()
                .chain([&d.root])
                .map(|s| perl_string(s))
                .collect();
            format!(
                "        {} => [{}],\n",
                perl_string(&d.amd64),
                to.join(", ")
            )
        })
        .collect();
    format!(
        "# Made by archbuild for its native perl: see archbuild's docs/accel.md.\n\
package {BOOT_MODULE};\n\
BEGIN {{\n\
    shift @INC if @INC && $INC[0] eq {boot};\n\
    my %root = (\n{map}    );\n\
    @INC = map {{ ref($_) || !exists $root{{$_}} ? $_ : @{{ $root{{$_}} }} }} @INC;\n\
    $^X = {perl};\n\
    delete $INC{{'{BOOT_MODULE}.pm'}};\n\
}}\n\
1;\n",
        boot = perl_string(&boot),
        perl = perl_string(PERL),
    )
}

/// The bundle's POSIX.pm with `uname` reporting `machine` (the root's, as qemu does;
/// the native one would ask the x86_64 kernel), on the line that loads the XS code, so
/// that every other line keeps its number.
pub fn patch_posix(text: &str, machine: &str) -> Result<String, String> {
    const LOAD: &str = "\nXSLoader::load();\n";
    if text.matches(LOAD).count() != 1 {
        return Err("POSIX.pm does not load its XS code once as archbuild knows".into());
    }
    let wrap = format!(
        "\nXSLoader::load(); {{ no warnings 'redefine'; my $uname = \\&uname; *uname = sub {{ my @u = &$uname; $u[4] = {} if @u == 5; wantarray ? @u : $u[-1] }}; }}\n",
        perl_string(machine)
    );
    Ok(text.replacen(LOAD, &wrap, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_debian_perl() {
        assert_eq!(
            versions("5.40.1-6+deb13u1"),
            Some(("5.40.1".into(), "5.40".into()))
        );
        assert_eq!(
            libperl_package("5.36.0-7+deb12u3").as_deref(),
            Some("libperl5.36")
        );
        assert_eq!(versions("5.40-1"), None);
        assert_eq!(versions("x.y.z-1"), None);
    }

    #[test]
    fn the_roots_inc_with_twins_before_the_xs_directories() {
        let dirs = lib_dirs("aarch64", "aarch64-linux-gnu", "5.40.1-6").unwrap();
        let roots: Vec<&str> = dirs.iter().map(|d| d.root.as_str()).collect();
        assert_eq!(
            roots,
            [
                "/etc/perl",
                "/usr/local/lib/aarch64-linux-gnu/perl/5.40.1",
                "/usr/local/share/perl/5.40.1",
                "/usr/lib/aarch64-linux-gnu/perl5/5.40",
                "/usr/share/perl5",
                "/usr/lib/aarch64-linux-gnu/perl-base",
                "/usr/lib/aarch64-linux-gnu/perl/5.40",
                "/usr/share/perl/5.40",
                "/usr/local/lib/site_perl",
            ]
        );
        assert_eq!(dirs[5].amd64, "/usr/lib/x86_64-linux-gnu/perl-base");
        assert_eq!(
            dirs[5].twin.as_deref(),
            Some("/emul/x86_64-for-aarch64/usr/lib/x86_64-linux-gnu/perl-base")
        );
        assert_eq!(dirs.iter().filter(|d| d.twin.is_some()).count(), 2);
    }

    #[test]
    fn compiled_in_dirs_are_checked_in_the_binary() {
        let dirs = lib_dirs("aarch64", "aarch64-linux-gnu", "5.40.1-6").unwrap();
        let all: Vec<u8> = dirs
            .iter()
            .flat_map(|d| format!("\0{}\0", d.amd64).into_bytes())
            .collect();
        assert_eq!(not_compiled_in(&all, &dirs), None);
        let some = b"\0/etc/perl\0/usr/share/perl5\0".to_vec();
        assert_eq!(
            not_compiled_in(&some, &dirs),
            Some("/usr/local/lib/x86_64-linux-gnu/perl/5.40.1")
        );
    }

    #[test]
    fn the_guard_lists_root_paths_of_twins() {
        let dirs = lib_dirs("aarch64", "aarch64-linux-gnu", "5.40.1-6").unwrap();
        let g = guard(
            &dirs,
            &[(
                "/usr/lib/aarch64-linux-gnu/perl-base".into(),
                vec!["auto/POSIX/POSIX.so".into()],
            )],
        );
        assert_eq!(g.lib_dirs.len(), 9);
        assert_eq!(
            g.twins.iter().collect::<Vec<_>>(),
            ["/usr/lib/aarch64-linux-gnu/perl-base/auto/POSIX/POSIX.so"]
        );
    }

    #[test]
    fn the_boot_module_maps_inc_and_sets_the_program() {
        let dirs = lib_dirs("aarch64", "aarch64-linux-gnu", "5.40.1-6").unwrap();
        let m = boot_module("aarch64", &dirs);
        assert!(m.contains("package ArchbuildAccelPerl;"));
        assert!(m.contains("$INC[0] eq '/emul/x86_64-for-aarch64/perl-boot'"));
        assert!(m.contains(
            "'/usr/lib/x86_64-linux-gnu/perl-base' => ['/emul/x86_64-for-aarch64/usr/lib/x86_64-linux-gnu/perl-base', '/usr/lib/aarch64-linux-gnu/perl-base'],"
        ));
        assert!(m.contains("'/usr/share/perl5' => ['/usr/share/perl5'],"));
        assert!(m.contains("$^X = '/usr/bin/perl';"));
        assert!(m.contains("delete $INC{'ArchbuildAccelPerl.pm'};"));
        assert_eq!(perl_string("a'b\\"), "'a\\'b\\\\'");
    }

    #[test]
    fn posix_uname_reports_the_roots_machine_on_the_same_line() {
        let text = "package POSIX;\nrequire XSLoader;\nXSLoader::load();\nsub x {}\n1;\n";
        let patched = patch_posix(text, "aarch64").unwrap();
        assert_eq!(patched.lines().count(), text.lines().count());
        assert!(patched.contains("$u[4] = 'aarch64' if @u == 5;"));
        assert!(patched
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("XSLoader::load(); {"));
        assert!(patch_posix("package POSIX;\n1;\n", "aarch64").is_err());
        assert!(patch_posix(&format!("{text}\nXSLoader::load();\n"), "aarch64").is_err());
    }
}
