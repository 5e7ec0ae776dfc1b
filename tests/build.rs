//! `archbuild build` and `archbuild build-cmd` through the binary: the one-line errors
//! before anything runs, and the whole chain with a recording stand-in for osc that
//! starts its build program the way osc does (`$OSC_SU_WRAPPER <build-cmd> ARGS...`):
//! archbuild build-cmd then runs a stand-in obs-build natively in a private mount
//! namespace with binfmt_misc read-only, where an aarch64 busybox (Debian's
//! busybox-static) runs through archbuild's binfmt entry (real qemu-user, real
//! binfmt_misc). The build with real osc and obs-build is in tests/build_e2e.rs.

mod common;

use common::sh;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A package checkout of home:alice/hello at `dir`.
fn checkout(dir: &Path) {
    let store = dir.join(".osc");
    std::fs::create_dir_all(&store).unwrap();
    for (name, text) in [
        ("_osclib_version", "2.0\n"),
        ("_apiurl", "http://127.0.0.1:9\n"),
        ("_project", "home:alice\n"),
        ("_package", "hello\n"),
    ] {
        std::fs::write(store.join(name), text).unwrap();
    }
    std::fs::write(dir.join("hello.spec"), "Name: hello\n").unwrap();
}

/// The stand-in osc: records its arguments and environment in $RECORD, then starts the
/// build program as osc does, through the su-wrapper, with osc's arguments.
const FAKE_OSC: &str = r#"#!/bin/sh
{
  echo "argv=$*"
  echo "uid=$(id -u)"
  echo "pwd=$(pwd)"
  echo "OSC_SU_WRAPPER=$OSC_SU_WRAPPER"
  echo "OSC_CONFIG=${OSC_CONFIG:-}"
  echo "BUILD_DIR=${BUILD_DIR:-}"
} > "$RECORD"
exec $OSC_SU_WRAPPER "$FAKE_BUILD" --root=/var/tmp/build-root/Debian_12-aarch64 --repos-directory=- --arch=aarch64 hello.spec
"#;

/// The stand-in obs-build: what it sees, then the exit status asked for (or waits).
const FAKE_BUILD: &str = r#"#!/bin/sh
{
  echo "build_argv=$*"
  echo "build_uid=$(id -u)"
  echo "mnt_ns=$(readlink /proc/self/ns/mnt)"
  if (echo ':x:M::abc::/bin/false:' > /proc/sys/fs/binfmt_misc/register) 2>/dev/null; then echo register=writable; else echo register=read-only; fi
  if (cat /proc/sys/vm/mmap_min_addr > /proc/sys/vm/mmap_min_addr) 2>/dev/null; then echo mmap_min_addr=writable; else echo mmap_min_addr=read-only; fi
  echo "foreign_uname=$("$BUSYBOX" uname -m)"
} >> "$RECORD"
case "$(cat "$EXIT_FILE")" in
  wait) exec sleep 1000 ;;
  *) exit "$(cat "$EXIT_FILE")" ;;
esac
"#;

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        checkout(&dir.path().join("work/hello"));
        for (name, text) in [("fake-osc", FAKE_OSC), ("fake-build", FAKE_BUILD)] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        sh(&format!(
            "chmod 755 {0}/fake-osc {0}/fake-build && echo 0 > {0}/exit && chmod -R a+rX {0}",
            dir.path().display()
        ));
        Case { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn work(&self) -> PathBuf {
        self.path().join("work/hello")
    }

    fn command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut c = common::archbuild(self.path());
        c.arg("build")
            .args(["--osc", self.path().join("fake-osc").to_str().unwrap()])
            .args(args)
            .current_dir(cwd)
            .env_remove("SUDO_USER")
            .env_remove("OSC_SU_WRAPPER")
            .env("RECORD", self.path().join("record"))
            .env("FAKE_BUILD", self.path().join("fake-build"))
            .env("EXIT_FILE", self.path().join("exit"))
            .env("BUSYBOX", self.path().join("root-arm64/bin/busybox"));
        c
    }

    fn build(&self, cwd: &Path, args: &[&str]) -> Output {
        self.command(cwd, args)
            .output()
            .expect("run archbuild build")
    }

    fn fails(&self, cwd: &Path, args: &[&str], code: i32, needles: &[&str]) -> String {
        let out = self.build(cwd, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "archbuild build {args:?}: {stderr}"
        );
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "archbuild build {args:?}: expected '{needle}' in: {stderr}"
            );
        }
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "error must be one line: {stderr}"
        );
        assert!(!self.path().join("record").exists(), "osc ran: {stderr}");
        stderr
    }

    fn record(&self) -> Vec<String> {
        std::fs::read_to_string(self.path().join("record"))
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }
}

#[test]
fn not_a_checkout() {
    let case = Case::new();
    case.fails(
        case.path(),
        &["Debian_12", "aarch64"],
        2,
        &["not an osc package checkout: run it in a directory made by `osc checkout`"],
    );
}

#[test]
fn project_checkout() {
    let case = Case::new();
    std::fs::remove_file(case.work().join(".osc/_package")).unwrap();
    case.fails(
        &case.work(),
        &["Debian_12", "aarch64"],
        2,
        &["checkout of project home:alice, not of a package"],
    );
}

#[test]
fn unknown_arch_name() {
    let case = Case::new();
    case.fails(&case.work(), &["Debian_12", "vax"], 2, &["vax"]);
}

#[test]
fn host_without_osc_names_the_package() {
    let case = Case::new();
    let out = common::archbuild(case.path())
        .args(["build", "Debian_12", "aarch64"])
        .current_dir(case.work())
        .env("PATH", case.path().join("empty-bin"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no osc on this host"), "{stderr}");
    assert!(stderr.contains("install the osc package"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn su_wrapper_su_is_refused() {
    if !common::prerequisite(common::is_root(), "the test runs archbuild as another user") {
        return;
    }
    let case = Case::new();
    let out = case
        .command(&case.work(), &["Debian_12", "aarch64"])
        .env("OSC_SU_WRAPPER", "su -c")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("set `su-wrapper = sudo`"), "{stderr}");
}

#[test]
fn only_root_builds_as_another_user() {
    if !common::prerequisite(common::is_root(), "the test runs archbuild as another user") {
        return;
    }
    let case = Case::new();
    let out = case
        .command(&case.work(), &["--user", "root", "Debian_12", "aarch64"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("only root can build as another user"),
        "{stderr}"
    );
}

#[test]
fn as_a_user_osc_gets_sudo_then_build_cmd() {
    if !common::prerequisite(common::is_root(), "the test runs archbuild as another user") {
        return;
    }
    let case = Case::new();
    sh(&format!("chmod 1777 {}", case.path().display()));
    // the stand-in osc runs `sudo archbuild build-cmd ...`: give it a sudo that records
    let bin = case.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("sudo"),
        "#!/bin/sh\necho \"sudo=$*\" >> \"$RECORD\"\nexit 7\n",
    )
    .unwrap();
    sh(&format!("chmod -R a+rx {}", bin.display()));
    let out = case
        .command(&case.work(), &["Debian_12", "aarch64", "--", "--clean"])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    let exe = common::archbuild_bin().display().to_string();
    let record = case.record();
    assert_eq!(
        record[0],
        "argv=-A http://127.0.0.1:9 build Debian_12 aarch64 --clean"
    );
    assert_eq!(record[1], "uid=65534");
    // --started=FILE: made when the build program starts (the package cache is free
    // then); --watch=PID:START: archbuild build, whose end ends the build
    assert!(
        record[3].starts_with(&format!("OSC_SU_WRAPPER=sudo {exe} build-cmd --started=/"))
            && record[3].contains("/started --watch=")
            && record[3].ends_with(" --"),
        "{record:?}"
    );
    assert!(
        record[6].starts_with(&format!("sudo={exe} build-cmd --started=/"))
            && record[6].contains("/started --watch="),
        "{record:?}"
    );
}

#[test]
fn build_cmd_needs_root_and_arguments() {
    let out = Command::new(common::archbuild_bin())
        .arg("build-cmd")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    if !common::is_root() {
        return;
    }
    let out = Command::new(common::archbuild_bin())
        .args(["build-cmd", "--", "/usr/bin/build", "--arch=aarch64"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs root"), "{stderr}");
}

#[test]
fn build_runs_natively_shielded_under_archbuilds_binfmt_entry() {
    isolated!();
    if !common::have_qemu_tools() {
        return;
    }
    let case = Case::new();
    common::busybox_root(case.path(), "arm64");
    let host_ns = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let mounts_before = common::mount_table();

    // 1. a build as root: osc's arguments, the su-wrapper, the build program's world
    let out = case.build(
        &case.work(),
        &["Debian_12", "aarch64", "--", "--clean", "-j", "4"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "build: {stderr}");
    let first = stderr.lines().next().unwrap();
    assert!(
        first.starts_with("archbuild: building home:alice/hello for Debian_12/aarch64 with `")
            && first.contains("on this host (no container)")
            && first.contains("qemu-aarch64"),
        "{first}"
    );
    let exe = common::archbuild_bin().display().to_string();
    let record = case.record();
    assert!(
        record[3].starts_with(&format!("OSC_SU_WRAPPER={exe} build-cmd --started=/"))
            && record[3].contains("/started --watch=")
            && record[3].ends_with(" --"),
        "{record:?}"
    );
    assert_eq!(
        record,
        [
            "argv=-A http://127.0.0.1:9 build Debian_12 aarch64 --clean -j 4".to_string(),
            "uid=0".to_string(),
            format!("pwd={}", case.work().display()),
            record[3].clone(),
            "OSC_CONFIG=".to_string(),
            "BUILD_DIR=/usr/lib/obs-build".to_string(),
            // Debian 12's obs-build does not know --repos-directory: left out
            "build_argv=--root=/var/tmp/build-root/Debian_12-aarch64 --arch=aarch64 hello.spec"
                .to_string(),
            "build_uid=0".to_string(),
            format!("mnt_ns={}", record[8].trim_start_matches("mnt_ns=")),
            "register=read-only".to_string(),
            "mmap_min_addr=read-only".to_string(),
            "foreign_uname=aarch64".to_string(),
        ]
    );
    assert_ne!(
        record[8],
        format!("mnt_ns={}", host_ns.display()),
        "not a private namespace"
    );
    assert!(
        stderr.contains("runs natively in a private mount namespace (/proc/sys/fs/binfmt_misc, /proc/sys/vm/mmap_min_addr read-only)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "binfmt entry '{}aarch64'",
            common::unique_binfmt_prefix()
        )),
        "{stderr}"
    );
    // nothing was registered by the build, and no mount of it is left here
    assert!(!Path::new("/proc/sys/fs/binfmt_misc/x").exists());
    assert_eq!(common::mount_table(), mounts_before);

    // 2. the build's exit status is archbuild's
    std::fs::write(case.path().join("exit"), "3").unwrap();
    let out = case.build(&case.work(), &["Debian_12", "aarch64"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 3. Ctrl-C (SIGINT to the terminal's process group) stops the build; archbuild
    //    waits for osc and returns its status
    std::fs::write(case.path().join("exit"), "wait").unwrap();
    let mut child = case
        .command(&case.work(), &["Debian_12", "aarch64"])
        .process_group(0)
        .spawn()
        .unwrap();
    let record = case.path().join("record");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&record)
        .unwrap_or_default()
        .contains("foreign_uname")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the build did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::killpg(pgid, nix::sys::signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    common::remove_test_binfmt_entries();
}
