//! End to end: the packager's own osc (real osc 1.28, 1.0 and 0.182 from PyPI) runs on the
//! host as user pkger and builds a small C package for Debian 12 through `osc archbuild`;
//! real obs-build runs natively through `archbuild build-cmd` (osc's su-wrapper is real
//! sudo) and archbuild's binfmt entry (flag F, qemu-user-static) runs the compiler and the
//! freshly built program inside obs-build's build chroot.
//! No OBS can be reached from here: tests/support/build_server.py stands in for it,
//! answering `_buildinfo` with the dependencies that obs-build's own `expanddeps`
//! resolved from Debian's archive index, and serving the binaries from Debian's archive.
//!
//! Heavy (about 150 packages unpacked and configured under qemu per arch): it runs with
//! ARCHBUILD_E2E=1, or under CI=true unless ARCHBUILD_E2E=0, and skips with the reason
//! otherwise.

mod common;

use common::sh;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::Instant;

use common::deb_build::{
    self, checkout, debian_boilerplate, expand, find_deb, osc_as_pkger, oscrc, output,
    packager_host, prerequisites_with_osc, source_package, unpack, BuildServer, USER_HOME,
};

const NAME: &str = "archbuild-hello";

/// The source package: hello.c prints the machine it runs on; debian/rules runs the
/// freshly compiled binary during the build and ships what it printed.
fn hello_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = [
        (
            "hello.c",
            "#include <stdio.h>\n#include <sys/utsname.h>\nint main(void) {\n    struct utsname u;\n    if (uname(&u) != 0) return 1;\n    printf(\"hello from %s\\n\", u.machine);\n    return 0;\n}\n",
        ),
        (
            "debian/control",
            "Source: archbuild-hello\nSection: misc\nPriority: optional\nMaintainer: archbuild tests <tests@archbuild.invalid>\nBuild-Depends: gcc, libc6-dev, make\nStandards-Version: 4.6.2\n\nPackage: archbuild-hello\nArchitecture: any\nDepends: libc6\nDescription: hello from a foreign architecture\n A C program built by the archbuild tests.\n",
        ),
        (
            "debian/rules",
            "#!/usr/bin/make -f\nbuild build-arch build-indep:\n\tgcc -O2 -o hello hello.c\n\t./hello | tee hello.out\nbinary binary-arch: build\n\trm -rf debian/tmp\n\tinstall -D -m 0755 hello debian/tmp/usr/bin/archbuild-hello\n\tinstall -D -m 0644 hello.out debian/tmp/usr/share/doc/archbuild-hello/built-on\n\tinstall -d debian/tmp/DEBIAN\n\tdpkg-gencontrol -parchbuild-hello -Pdebian/tmp\n\tdpkg-deb --build debian/tmp ..\nbinary-indep:\nclean:\n\trm -rf hello hello.out debian/tmp debian/files\n",
        ),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    files.extend(debian_boilerplate(NAME));
    files
}

/// obs-build's expansion with the full config: a compiler in the build root.
fn expand_full(dsc: &Path, work: &Path, obs_arch: &str) -> PathBuf {
    let expanded = expand(dsc, work, obs_arch, &deb_build::prjconf_full());
    let text = std::fs::read_to_string(&expanded).unwrap();
    assert!(
        text.contains("\ngcc-12 "),
        "expanddeps found no compiler for {obs_arch}:\n{text}"
    );
    expanded
}

/// The stand-in OBS for `obs_arch`, answering with obs-build's expansion.
fn server(obs_arch: &str, expanded: &Path, scratch: &Path) -> BuildServer {
    BuildServer::start(
        &[(obs_arch, expanded)],
        &[],
        &[],
        &deb_build::prjconf_full(),
        &scratch.join("build_server.log"),
    )
}

fn prerequisites(osc_versions: &[&str], obs_arch: &str) -> bool {
    // ARCHBUILD_E2E=1 runs it, ARCHBUILD_E2E=0 skips it; unset, it runs under CI=true only
    let wanted = match std::env::var("ARCHBUILD_E2E").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => common::in_ci(),
    };
    if !wanted {
        eprintln!("SKIPPED: the end-to-end build runs with ARCHBUILD_E2E=1 (or CI=true unless ARCHBUILD_E2E=0)");
        return false;
    }
    prerequisites_with_osc(&[obs_arch], osc_versions)
}

/// Run `osc archbuild ...` as pkger; returns its stderr (also shown) and the seconds.
fn osc_archbuild(version: &str, extra_path: &str, args: &[&str], cwd: &Path) -> (String, f64) {
    let mut full = vec!["archbuild"];
    full.extend_from_slice(args);
    let started = Instant::now();
    let out = osc_as_pkger(version, extra_path, &full, cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // obs-build's phase lines (its own [ Ns] clock) and the end of the log
    let phases: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.contains("started \"build")
                || l.contains("----- building")
                || l.contains("finished \"build")
        })
        .collect();
    eprintln!("obs-build phases:\n{}", phases.join("\n"));
    let tail: Vec<&str> = stdout.lines().rev().take(60).collect();
    eprintln!(
        "osc {version} archbuild {args:?}: {} in {seconds:.0} s\n--- stderr\n{stderr}\n--- stdout (last lines)\n{}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(
        out.status.success(),
        "osc {version} archbuild failed: {}",
        out.status
    );
    (stderr, seconds)
}

fn binfmt_names() -> BTreeSet<String> {
    std::fs::read_dir("/proc/sys/fs/binfmt_misc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The .deb the build made (in the build root on the host's /var/tmp, or in a
/// --keep-pkgs directory): its Debian arch, and what the program printed when the build
/// ran it.
fn check_deb(dir: &Path, deb_arch: &str, uname_m: &str, obs_arch: &str, scratch: &Path) {
    let deb = find_deb(dir, NAME, deb_arch);
    let unpacked = unpack(&deb, scratch);
    let built_on =
        std::fs::read_to_string(unpacked.join("usr/share/doc/archbuild-hello/built-on")).unwrap();
    assert_eq!(built_on, format!("hello from {uname_m}\n"));
    let elf = archbuild::elf::read(&unpacked.join("usr/bin/archbuild-hello")).unwrap();
    assert_eq!(
        archbuild::arch::from_elf(elf.class, elf.endian, elf.machine)
            .unwrap()
            .obs,
        obs_arch
    );
}

/// Everything in `dir` (and `dir`) belongs to pkger.
fn owned_by_pkger(dir: &Path) {
    let meta = std::fs::metadata(dir).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4321, 4321), "{}", dir.display());
    sh(&format!(
        "test -z \"$(find {} ! -uid 4321)\"",
        dir.display()
    ));
}

struct Target {
    obs: &'static str,
    deb: &'static str,
    qemu: &'static str,
    uname_m: &'static str,
}

const ARM64: Target = Target {
    obs: "aarch64",
    deb: "arm64",
    qemu: "aarch64",
    uname_m: "aarch64",
};
const ARMHF: Target = Target {
    obs: "armv7l",
    deb: "armhf",
    qemu: "arm",
    uname_m: "armv7l",
};

/// The build of `target` with osc 1.28 on a store-2.0 checkout; returns the scratch dir,
/// the server and the stderr of the build.
fn build_with_current_osc(
    target: &Target,
    credentials: &dyn Fn(&str) -> String,
    extra_path: &str,
) -> (tempfile::TempDir, BuildServer, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let dsc = source_package(scratch.path(), NAME, &hello_files());
    let expanded = expand_full(&dsc, scratch.path(), target.obs);
    let server = server(target.obs, &expanded, scratch.path());
    let url = server.url();
    oscrc(&url, &credentials(&url));
    let work = Path::new(USER_HOME).join("obs/home:alice/archbuild-hello");
    checkout(&work, &url, NAME, scratch.path());

    // osc 1.28 turns the checkout into store format 2.0 when it first reads it
    output(&mut osc_as_pkger("1.28.0", extra_path, &["status"], &work));
    assert_eq!(
        std::fs::read_to_string(work.join(".osc/_osclib_version"))
            .unwrap()
            .trim(),
        "2.0"
    );

    let before = binfmt_names();
    let keep = format!("--keep-pkgs={USER_HOME}/debs");
    let (stderr, seconds) = osc_archbuild(
        "1.28.0",
        extra_path,
        &[
            "Debian_12",
            target.obs,
            "archbuild-hello_1.0.dsc",
            "--no-verify",
            "--clean",
            &keep,
        ],
        &work,
    );
    eprintln!(
        "TIME osc 1.28 archbuild Debian_12 {}: {seconds:.1} s",
        target.obs
    );

    // the first line says what runs where
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("archbuild: building home:alice/archbuild-hello for Debian_12/")
            && first.contains(target.obs)
            && first.contains("as pkger")
            && first.contains("no container"),
        "{first}"
    );
    assert!(
        stderr.contains("runs natively in a private mount namespace (/proc/sys/fs/binfmt_misc"),
        "{stderr}"
    );

    // the package: for the target, in the host's /var/tmp, built by a compiler and a
    // program that ran under emulation in obs-build's chroot
    let root_debs = format!(
        "/var/tmp/build-root/Debian_12-{}/usr/src/packages/DEBS",
        target.obs
    );
    check_deb(
        Path::new(&root_debs),
        target.deb,
        target.uname_m,
        target.obs,
        scratch.path(),
    );
    // --keep-pkgs: copied by osc itself, as pkger
    let kept = Path::new(USER_HOME).join("debs");
    check_deb(
        &kept,
        target.deb,
        target.uname_m,
        target.obs,
        scratch.path(),
    );
    owned_by_pkger(&kept);
    // osc ran as pkger: nothing in the checkout or the package cache is root's
    owned_by_pkger(&work);
    owned_by_pkger(Path::new("/var/tmp/osbuild-packagecache"));

    // binfmt: obs-build added nothing; what archbuild added is its own entry, with F
    // (other archbuild tests on this machine add entries of their own meanwhile; obs-build's
    // qemu-reg names are the bare arch names: aarch64, arm, ...)
    let added: Vec<String> = binfmt_names().difference(&before).cloned().collect();
    let prefix = common::unique_binfmt_prefix();
    assert!(
        added.iter().all(|n| n.starts_with("archbuild")),
        "{added:?}"
    );
    let entry =
        std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/{prefix}{}", target.qemu))
            .unwrap();
    assert!(
        entry
            .lines()
            .any(|l| l.starts_with("flags:") && l.contains('F')),
        "{entry}"
    );
    // no mount of the build is left on the host
    assert!(
        !common::mount_table()
            .iter()
            .any(|m| m.contains("/var/tmp/build-root")),
        "mounts of the build root left behind"
    );
    (scratch, server, work)
}

#[test]
fn osc_archbuild_debian_12_arm64_with_osc_1_28_then_1_0_and_0_182() {
    isolated!();
    if !prerequisites(&["1.28.0", "1.0.0", "0.182.0"], ARM64.obs) {
        return;
    }
    packager_host();
    let (scratch, server, _work) =
        build_with_current_osc(&ARM64, &|_| "pass = opensuse\n".to_string(), "");

    // osc 1.0 and 0.182 drive the same build (reusing the build root: no --clean), each
    // on a checkout in store format 1.0, which they read
    for version in ["1.0.0", "0.182.0"] {
        let work = Path::new(USER_HOME).join(format!("obs-{version}/home:alice/archbuild-hello"));
        checkout(&work, &server.url(), NAME, scratch.path());
        let kept = Path::new(USER_HOME).join(format!("debs-{version}"));
        let keep = format!("--keep-pkgs={}", kept.display());
        let (stderr, seconds) = osc_archbuild(
            version,
            "",
            &[
                "Debian_12",
                "aarch64",
                "archbuild-hello_1.0.dsc",
                "--no-verify",
                &keep,
            ],
            &work,
        );
        eprintln!(
            "TIME osc {version} archbuild Debian_12 aarch64 (build root reused): {seconds:.1} s"
        );
        assert!(stderr.starts_with("archbuild: building"), "{stderr}");
        check_deb(&kept, ARM64.deb, ARM64.uname_m, ARM64.obs, scratch.path());
        owned_by_pkger(&kept);
    }
    common::remove_test_binfmt_entries();
}

#[test]
fn osc_archbuild_debian_12_armhf_with_keyring_credentials() {
    isolated!();
    let keyring = Path::new(deb_build::OSC_ROOT).join("keyring");
    if !prerequisites(&["1.28.0"], ARMHF.obs)
        || !common::prerequisite(
            keyring.join("keyrings/alt").is_dir(),
            "keyring and keyrings.alt in /opt/archbuild-test/keyring (scripts/install-test-deps)",
        )
    {
        return;
    }
    // The password lives in pkger's file-backed keyring, not in the oscrc: only osc
    // running as pkger can read it.
    let keyring_path = keyring.display().to_string();
    packager_host();
    let credentials = |url: &str| {
        // osc's keyring manager keys the password by the API URL's host:port
        let service = url.trim_start_matches("http://").to_string();
        let stored = output(
            Command::new("setpriv")
                .args(["--reuid=4321", "--regid=4321", "--init-groups", "--"])
                .args(["/usr/bin/python3", "-c"])
                .arg("import sys, keyring, keyrings.alt.file as f; k = f.PlaintextKeyring(); keyring.set_keyring(k); keyring.set_password(sys.argv[1], 'alice', 'opensuse'); print(k.file_path)")
                .arg(&service)
                .env_clear()
                .env("HOME", USER_HOME)
                .env("PYTHONPATH", &keyring_path),
        );
        assert!(stored.trim().starts_with(USER_HOME), "{stored}");
        "credentials_mgr_class = osc.credentials.KeyringCredentialsManager:keyrings.alt.file.PlaintextKeyring\n".to_string()
    };
    let (_scratch, _server, _work) = build_with_current_osc(&ARMHF, &credentials, &keyring_path);
    let rc = std::fs::read_to_string(Path::new(USER_HOME).join(".config/osc/oscrc")).unwrap();
    assert!(
        !rc.contains("opensuse"),
        "the password went into the oscrc:\n{rc}"
    );
    common::remove_test_binfmt_entries();
}
