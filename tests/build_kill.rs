//! SIGKILL of `archbuild build` (run by the packager, as `osc archbuild` does) at each
//! step of a real build with the fast fixture (tests/common/deb_build.rs), natively on
//! x86_64 (and (b) once emulated, for aarch64): (a) while osc fetches the build's packages, before it starts the build
//! program; (b) during obs-build's build (debian/rules sleeps); (c) while osc copies
//! the packages into --keep-pkgs. After each: no process of that build is left (osc,
//! sudo, build-cmd, obs-build, the chroot's processes: this test process is their
//! subreaper, so every orphan would show up as its descendant), no mount under the
//! build root, nothing half-written in --keep-pkgs, and the next build of the same
//! checkout succeeds. And a build whose build root's file system fills up.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::deb_build::{self, build_root, DebBuild, DebPackage};

const ARCH: &str = "x86_64";
const KEEP: &str = "/home/pkger/debs";

/// Every process below this one (orphans included: it is their subreaper), but the
/// stand-in server, as `pid command line`.
fn descendants(server: u32) -> Vec<String> {
    let me = std::process::id();
    let mut parent = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if let Some(ppid) = fields.get(1).and_then(|p| p.parse::<u32>().ok()) {
            parent.insert(pid, ppid);
        }
    }
    let below = |mut pid: u32| {
        while let Some(&p) = parent.get(&pid) {
            if p == me {
                return true;
            }
            pid = p;
        }
        false
    };
    parent
        .keys()
        .filter(|&&pid| pid != me && pid != server && below(pid))
        .map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!("{pid} {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}

/// Reap the zombies of orphans that ended here.
fn reap() {
    loop {
        // SAFETY: waitpid with WNOHANG on any child.
        let pid = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if pid <= 0 {
            break;
        }
    }
}

fn become_subreaper() {
    // SAFETY: prctl with plain integers.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
}

/// The build's stdout and stderr go to files in the scratch directory.
fn start(b: &DebBuild, package: &str, options: &[&str], tag: &str) -> (Child, PathBuf) {
    start_for(b, package, ARCH, options, tag)
}

fn start_for(
    b: &DebBuild,
    package: &str,
    arch: &str,
    options: &[&str],
    tag: &str,
) -> (Child, PathBuf) {
    let log = b.scratch.path().join(format!("{tag}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = b
        .build(package, arch, options)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    (child, log)
}

/// Wait (at most `limit`) until `ready` holds, looking every 50 ms.
fn wait_for(what: &str, limit: Duration, ready: &dyn Fn() -> bool, log: &Path) {
    wait_often_for(what, limit, Duration::from_millis(50), ready, log)
}

/// The same, looking every `every`.
fn wait_often_for(
    what: &str,
    limit: Duration,
    every: Duration,
    ready: &dyn Fn() -> bool,
    log: &Path,
) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in {limit:?}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(every);
    }
}

/// SIGKILL `archbuild build`, then: every process of the build ends (within 15 s), no
/// mount is left under the build root.
fn kill_and_check(b: &DebBuild, child: Child, log: &Path) {
    kill_and_check_for(b, ARCH, child, log)
}

fn kill_and_check_for(b: &DebBuild, arch: &str, mut child: Child, log: &Path) {
    let killed = Instant::now();
    child.kill().unwrap();
    child.wait().unwrap();
    let server = b.server().pid();
    let mut left = descendants(server);
    while !left.is_empty() && killed.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
        reap();
        left = descendants(server);
    }
    assert!(
        left.is_empty(),
        "processes of the build left {:.1} s after SIGKILL of archbuild build:\n{}\n--- its log\n{}",
        killed.elapsed().as_secs_f64(),
        left.join("\n"),
        std::fs::read_to_string(log).unwrap_or_default()
    );
    eprintln!(
        "TIME every process of the build ended {:.2} s after SIGKILL",
        killed.elapsed().as_secs_f64()
    );
    let root = build_root(arch).display().to_string();
    let mounts: Vec<String> = common::mount_table()
        .into_iter()
        .filter(|m| m.contains(&root))
        .collect();
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
}

/// The next build of the same checkout: it succeeds, and the package is complete.
fn next_build_succeeds(b: &DebBuild, options: &[&str]) {
    next_build_for_succeeds(b, ARCH, options)
}

fn next_build_for_succeeds(b: &DebBuild, arch: &str, options: &[&str]) {
    let started = Instant::now();
    let out = b
        .build("hello", arch, options)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the next build failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!(
        "TIME the next build: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(b.built_on("hello", arch), DebBuild::expected_built_on(arch));
}

fn fixture(package: DebPackage) -> Option<DebBuild> {
    if !deb_build::prerequisites(&[ARCH]) {
        return None;
    }
    become_subreaper();
    Some(DebBuild::new(&[package], &[ARCH]))
}

#[test]
fn sigkill_while_osc_fetches_the_build_packages() {
    isolated!();
    let started = Instant::now();
    let Some(b) = fixture(DebPackage::new("hello")) else {
        return;
    };
    b.server().set_delay(0.2);
    let (child, log) = start(&b, "hello", &["--clean"], "fetch");
    wait_for(
        "a first download",
        Duration::from_secs(120),
        &|| !b.server().served_all().is_empty(),
        &log,
    );
    kill_and_check(&b, child, &log);
    // osc had not started the build program yet
    assert!(
        !build_root(ARCH).exists(),
        "the build had started: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    b.server().set_delay(0.0);
    next_build_succeeds(&b, &[]);
    eprintln!(
        "TIME sigkill_while_osc_fetches_the_build_packages: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sigkill_during_the_build() {
    isolated!();
    let started = Instant::now();
    let Some(b) = fixture(DebPackage::new("hello").sleep(600)) else {
        return;
    };
    let (child, log) = start(&b, "hello", &["--clean"], "build");
    wait_for(
        "debian/rules sleeping",
        Duration::from_secs(300),
        &|| {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("sleeping 600 s")
        },
        &log,
    );
    kill_and_check(&b, child, &log);
    // the packager's next edit builds without sleeping, in the same build root
    b.replace_sources(&DebPackage::new("hello"));
    next_build_succeeds(&b, &[]);
    eprintln!(
        "TIME sigkill_during_the_build: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The .debs directly in `dir`.
fn debs_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".deb"))
                .collect()
        })
        .unwrap_or_default()
}

/// Files in the staging directories in `dir` (osc's copies in progress).
fn staged_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".archbuild-incoming-")
                })
                .map(|e| std::fs::read_dir(e.path()).map(|s| s.count()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

/// Bytes in the staging directories in `dir`.
fn staged_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
            total += f.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

#[test]
fn sigkill_while_osc_hands_the_packages_back() {
    isolated!();
    let started = Instant::now();
    let Some(b) = fixture(DebPackage::new("hello").payload_mib(128)) else {
        return;
    };
    let keep = format!("--keep-pkgs={KEEP}");
    let (child, log) = start(&b, "hello", &["--clean", &keep], "handback");
    // looked at every millisecond: osc copies the 128 MiB in well under a second
    wait_often_for(
        "osc copying into --keep-pkgs",
        Duration::from_secs(300),
        Duration::from_millis(1),
        &|| staged_in(Path::new(KEEP)) > 0,
        &log,
    );
    let copied = staged_bytes(Path::new(KEEP));
    kill_and_check(&b, child, &log);
    let deb = deb_build::find_deb(
        &build_root(ARCH).join("usr/src/packages/DEBS"),
        "hello",
        "amd64",
    );
    eprintln!(
        "killed with {copied} of {} bytes of the .deb copied",
        std::fs::metadata(&deb).unwrap().len()
    );
    assert_eq!(
        debs_in(Path::new(KEEP)),
        Vec::<String>::new(),
        "a package in --keep-pkgs after the kill"
    );
    next_build_succeeds(&b, &[&keep]);
    // complete, and what a killed run left is gone
    assert_eq!(debs_in(Path::new(KEEP)).len(), 1);
    assert_eq!(
        b.built_on_in(Path::new(KEEP), "hello", "amd64"),
        DebBuild::expected_built_on(ARCH)
    );
    assert_eq!(staged_in(Path::new(KEEP)), 0);
    let names: Vec<String> = std::fs::read_dir(KEEP)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    eprintln!(
        "TIME sigkill_while_osc_hands_the_packages_back: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The build root's file system fills up during the build: one error line naming it
/// and what the build needs, nothing of the failed build in --keep-pkgs, no process or
/// mount of it left; once there is room, the half-made build root is not taken for
/// done, and the next clean build succeeds.
#[test]
fn build_root_file_system_full() {
    isolated!();
    let started = Instant::now();
    let Some(b) = fixture(DebPackage::new("hello")) else {
        return;
    };
    let small = "/var/tmp/build-root";
    std::fs::create_dir_all(small).unwrap();
    common::sh(&format!("mount -t tmpfs -o size=48m tmpfs {small}"));
    let keep = format!("--keep-pkgs={KEEP}");
    let out = b
        .build("hello", ARCH, &["--clean", &keep])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "built on a full file system: {stderr}"
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("archbuild: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let error = errors[0];
    assert!(
        error.contains(&format!(
            "the file system at {small} (tmpfs, holding {}",
            build_root(ARCH).display()
        )) && error.contains("is full")
            && error.contains("MiB installed"),
        "{error}"
    );
    eprintln!("the error: {error}");
    assert_eq!(debs_in(Path::new(KEEP)), Vec::<String>::new());
    assert_eq!(staged_in(Path::new(KEEP)), 0);
    reap();
    assert_eq!(descendants(b.server().pid()), Vec::<String>::new());
    let mounts: Vec<String> = common::mount_table()
        .into_iter()
        .filter(|m| m.contains(small))
        .collect();
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    // room again: the half-made build root is not taken for done (obs-build finds it
    // incomplete, osc says to build with --clean), and a clean build succeeds
    common::sh(&format!("mount -o remount,size=2g {small}"));
    let out = b
        .build("hello", ARCH, &[&keep])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success()
            && stdout.contains("incomplete setup of /var/tmp/build-root/Debian_12-x86_64")
            && stdout.contains("add '--clean' option"),
        "{stdout}"
    );
    next_build_succeeds(&b, &["--clean", &keep]);
    assert_eq!(debs_in(Path::new(KEEP)).len(), 1);
    common::sh(&format!("umount {small}"));
    eprintln!(
        "TIME build_root_file_system_full: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The emulated kill point: SIGKILL of `archbuild build` for aarch64 while debian/rules
/// sleeps under qemu in obs-build's chroot; then, in the same build root, the next
/// build of hello (no --clean) and one of greet, which fails on purpose on arm64 with
/// its own line, downloading nothing again (osc's package cache).
#[test]
fn sigkill_during_an_emulated_build_then_two_packages() {
    isolated!();
    let started = Instant::now();
    if !deb_build::prerequisites(&["aarch64"]) {
        return;
    }
    become_subreaper();
    let b = DebBuild::new(
        &[
            DebPackage::new("hello").sleep(600),
            DebPackage::new("greet").fail_on("arm64"),
        ],
        &["aarch64"],
    );
    let (child, log) = start_for(&b, "hello", "aarch64", &["--clean"], "emulated");
    wait_for(
        "debian/rules sleeping under emulation",
        Duration::from_secs(900),
        &|| {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("sleeping 600 s")
        },
        &log,
    );
    let build = started.elapsed().as_secs_f64();
    kill_and_check_for(&b, "aarch64", child, &log);
    let downloads = b.server().served_all().len();
    assert_eq!(downloads, b.root_packages[0].1);
    b.replace_sources(&DebPackage::new("hello"));
    next_build_for_succeeds(&b, "aarch64", &[]);
    assert_eq!(
        b.built_on("hello", "aarch64"),
        "uname_m=aarch64\ndeb_arch=arm64\n"
    );
    let began = Instant::now();
    let out = b
        .build("greet", "aarch64", &[])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let greet = began.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "greet built on arm64: {stdout}");
    assert!(stdout.contains("failing on purpose on arm64"), "{stdout}");
    assert_eq!(b.server().served_all().len(), downloads, "downloaded again");
    common::remove_test_binfmt_entries();
    eprintln!(
        "TIME sigkill_during_an_emulated_build_then_two_packages: {:.1} s (killed after {build:.1} s, greet failed in {greet:.1} s)",
        started.elapsed().as_secs_f64()
    );
}
