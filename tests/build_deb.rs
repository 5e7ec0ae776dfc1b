//! Real `archbuild build`s of the fast fixture (tests/common/deb_build.rs): a Debian 12
//! package that compiles nothing, built by the packager's osc and real obs-build against
//! the minimal config (about 100 packages in the build root), natively on x86_64. The
//! emulated build (aarch64, two packages, one failing on purpose) is in
//! tests/build_kill.rs, after a kill.

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
