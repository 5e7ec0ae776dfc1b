//! Real `archbuild build`s of the fast fixture (tests/common/deb_build.rs): a Debian 12
//! package that compiles nothing, built by the packager's osc and real obs-build against
//! the minimal config (about 100 packages in the build root), natively on x86_64.

mod common;

use std::process::Stdio;
use std::time::Instant;

use common::deb_build::{self, DebBuild, DebPackage};

#[test]
fn minimal_native_build_succeeds() {
    isolated!();
    if !deb_build::prerequisites(&["x86_64"]) {
        return;
    }
    let started = Instant::now();
    let b = DebBuild::new(&[DebPackage::new("hello")], &["x86_64"]);
    let set_up = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let out = b
        .build(
            "hello",
            "x86_64",
            &["--clean", "--keep-pkgs=/home/pkger/debs"],
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tail: Vec<&str> = stdout.lines().rev().take(40).collect();
    eprintln!(
        "TIME minimal native build: set-up {set_up:.1} s, build {seconds:.1} s, {:?} packages in the build root\n--- stderr\n{stderr}\n--- stdout (last lines)\n{}",
        b.root_packages,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(
        out.status.success(),
        "archbuild build failed: {}",
        out.status
    );
    assert!(
        stderr.starts_with("archbuild: building home:alice/hello for Debian_12/x86_64")
            && stderr.contains("native arch, no emulation"),
        "{stderr}"
    );
    assert_eq!(
        b.built_on("hello", "x86_64"),
        DebBuild::expected_built_on("x86_64")
    );
    assert_eq!(
        b.built_on_in(std::path::Path::new("/home/pkger/debs"), "hello", "amd64"),
        "uname_m=x86_64\ndeb_arch=amd64\n"
    );
    // every binary of the build root came from the stand-in, once (osc's package cache
    // was empty), and no compiler is among them
    let served = b.server().served_all();
    let (_, expected) = &b.root_packages[0];
    assert_eq!(served.len(), *expected, "{served:?}");
    assert_eq!(b.server().served("x86_64", "dpkg-dev"), 1);
    assert!(
        !served
            .iter()
            .any(|(_, n)| n.starts_with("gcc-12") && n != "gcc-12-base"),
        "{served:?}"
    );
    assert!(
        !common::mount_table()
            .iter()
            .any(|m| m.contains("/var/tmp/build-root")),
        "mounts of the build root left behind"
    );
}

/// Two packages of one project from one stand-in, built for aarch64 under emulation:
/// `hello` builds, `greet` fails on purpose on arm64 with its own line and osc's status;
/// the second build (in the same build root) downloads nothing (osc's package cache).
#[test]
fn minimal_emulated_builds_of_two_packages() {
    isolated!();
    if !deb_build::prerequisites(&["aarch64"]) {
        return;
    }
    let started = Instant::now();
    let b = DebBuild::new(
        &[
            DebPackage::new("hello"),
            DebPackage::new("greet").fail_on("arm64"),
        ],
        &["aarch64"],
    );
    let set_up = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let out = b
        .build("hello", "aarch64", &["--clean"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let hello = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "archbuild build failed: {}\n{stderr}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        b.built_on("hello", "aarch64"),
        "uname_m=aarch64\ndeb_arch=arm64\n"
    );
    let downloads = b.server().served_all().len();
    assert_eq!(downloads, b.root_packages[0].1);

    let started = Instant::now();
    // the build root of hello's build is reused: nothing to install again
    let out = b
        .build("greet", "aarch64", &[])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let greet = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "greet built on arm64: {stdout}");
    assert!(stdout.contains("failing on purpose on arm64"), "{stdout}");
    assert_eq!(b.server().served_all().len(), downloads, "downloaded again");
    common::remove_test_binfmt_entries();
    eprintln!(
        "TIME minimal emulated aarch64: set-up {set_up:.1} s, hello built in {hello:.1} s, greet failed in {greet:.1} s, {:?} packages in the build root",
        b.root_packages
    );
}
