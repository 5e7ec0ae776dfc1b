//! `archbuild build` through the binary: the errors it must give before touching any
//! container (against the stand-in OBS server on loopback), and a build in a real aarch64
//! container (busybox root, real qemu-user, real binfmt_misc and namespaces) in which a
//! stand-in `osc` records what it was given. The build with real osc and obs-build is in
//! tests/build_e2e.rs.

mod common;

use common::sh;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::obs_server::Server;

/// A package checkout of home:alice/hello at `dir`, pointing at `apiurl`.
fn checkout(dir: &Path, apiurl: &str) {
    let store = dir.join(".osc");
    std::fs::create_dir_all(&store).unwrap();
    for (name, text) in [
        ("_osclib_version", "1.0\n".to_string()),
        ("_apiurl", format!("{apiurl}\n")),
        ("_project", "home:alice\n".to_string()),
        ("_package", "hello\n".to_string()),
        ("_files", "<directory name=\"hello\" />\n".to_string()),
    ] {
        std::fs::write(store.join(name), text).unwrap();
    }
    std::fs::write(dir.join("hello.spec"), "Name: hello\n").unwrap();
}

fn oscrc(path: &Path, apiurl: &str, with_password: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let pass = if with_password {
        "pass = opensuse\n"
    } else {
        ""
    };
    std::fs::write(
        path,
        format!("[general]\napiurl = {apiurl}\n\n[{apiurl}]\nuser = alice\n{pass}allow_http = 1\n"),
    )
    .unwrap();
}

/// A container record, as `bootstrap` or `start` leave it, without a root behind it.
fn record(state: &Path, name: &str, arch: &str, location: &Path) {
    let dir = state.join("containers");
    std::fs::create_dir_all(&dir).unwrap();
    let record = serde_json::json!({
        "name": name, "arch": arch, "location": location, "binds": [], "origin": "existing"
    });
    std::fs::write(dir.join(format!("{name}.json")), record.to_string()).unwrap();
}

struct Case {
    dir: tempfile::TempDir,
    server: Server,
}

impl Case {
    fn new() -> Option<Case> {
        if !common::prerequisite(common::is_root(), "archbuild build needs root") {
            return None;
        }
        let server = Server::start(&[])?;
        let dir = tempfile::tempdir().unwrap();
        checkout(&dir.path().join("work/hello"), &server.url());
        oscrc(&dir.path().join("oscrc"), &server.url(), true);
        Some(Case { dir, server })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn build(&self, cwd: &Path, args: &[&str]) -> Output {
        common::archbuild(self.path())
            .arg("build")
            .args(["--oscrc", self.path().join("oscrc").to_str().unwrap()])
            .args(args)
            .current_dir(cwd)
            .env_remove("SUDO_USER")
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
        stderr
    }
}

#[test]
fn not_a_checkout() {
    let Some(case) = Case::new() else { return };
    case.fails(
        case.path(),
        &["Debian_12", "aarch64"],
        2,
        &["not an osc package checkout: run it in a directory made by `osc checkout`"],
    );
}

#[test]
fn missing_credentials() {
    let Some(case) = Case::new() else { return };
    oscrc(&case.path().join("oscrc"), &case.server.url(), false);
    case.fails(
        &case.path().join("work/hello"),
        &["Debian_12", "aarch64"],
        1,
        &["no credentials for http://127.0.0.1:", "osc -A"],
    );
}

#[test]
fn unknown_repository_lists_the_projects_repositories() {
    let Some(case) = Case::new() else { return };
    case.fails(
        &case.path().join("work/hello"),
        &["Debian_13", "aarch64"],
        2,
        &["project home:alice has no repository 'Debian_13': use one of openSUSE_Tumbleweed, Debian_12, published_only"],
    );
}

#[test]
fn arch_the_repository_does_not_build() {
    let Some(case) = Case::new() else { return };
    case.fails(
        &case.path().join("work/hello"),
        &["Debian_12", "riscv64"],
        2,
        &["repository 'Debian_12' of project home:alice does not build for riscv64: its arches are x86_64, aarch64"],
    );
}

#[test]
fn unknown_arch_name() {
    let Some(case) = Case::new() else { return };
    case.fails(
        &case.path().join("work/hello"),
        &["Debian_12", "vax"],
        2,
        &["unknown architecture 'vax'"],
    );
}

#[test]
fn checkout_outside_the_shared_directories() {
    let Some(case) = Case::new() else { return };
    // the temporary directory is under /tmp, which every container has its own of
    record(
        &case.path().join("state"),
        "aarch64",
        "aarch64",
        &case.path().join("root"),
    );
    let work = case.path().join("work/hello");
    let stderr = case.fails(
        &work,
        &["Debian_12", "aarch64"],
        1,
        &[
            "is not visible at the same path inside container 'aarch64'",
            "--bind",
        ],
    );
    assert!(
        stderr.contains(work.canonicalize().unwrap().to_str().unwrap()),
        "{stderr}"
    );
}

#[test]
fn container_of_another_arch() {
    let Some(case) = Case::new() else { return };
    record(
        &case.path().join("state"),
        "aarch64",
        "armv7l",
        &case.path().join("root"),
    );
    case.fails(
        &case.path().join("work/hello"),
        &["Debian_12", "aarch64"],
        2,
        &["container 'aarch64' is for armv7l, not aarch64"],
    );
}

#[test]
fn unknown_user() {
    let Some(case) = Case::new() else { return };
    case.fails(
        &case.path().join("work/hello"),
        &["--user", "no-such-user-here", "Debian_12", "aarch64"],
        2,
        &["no user 'no-such-user-here'"],
    );
}

#[test]
fn needs_root() {
    if common::is_root() {
        // run as nobody: the check comes before anything else
        let out = common::archbuild(Path::new("/nonexistent"))
            .args(["build", "Debian_12", "aarch64"])
            .uid(65534)
            .gid(65534)
            .current_dir("/")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("needs root: run it with sudo"));
    }
}

// ---- in a real container -------------------------------------------------------------

/// The stand-in for osc inside the container: records its arguments, identity and
/// environment under /var/tmp, leaves files where a build would, and ends with the
/// status in /var/tmp/osc-exit (default 0), or waits for SIGINT when that says "wait".
const FAKE_OSC: &str = r#"#!/bin/sh
out=/var/tmp/osc-record
{
  echo "argv=$*"
  echo "uname=$(uname -m)"
  echo "uid=$(id -u)"
  echo "pwd=$(pwd)"
  echo "OSC_CONFIG=$OSC_CONFIG"
  echo "OSC_SU_WRAPPER=$OSC_SU_WRAPPER"
  echo "OSC_BUILD_ROOT=${OSC_BUILD_ROOT-unset}"
  echo "OSC_PACKAGE_CACHE_DIR=${OSC_PACKAGE_CACHE_DIR-unset}"
  echo "oscrc_user=$(grep '^user' "$OSC_CONFIG")"
} > $out
echo '<buildinfo/>' > .osc/_buildinfo-Debian_12-aarch64.xml
mkdir -p /var/tmp/build-root/Debian_12-aarch64/.mount
echo built > /var/tmp/build-root/Debian_12-aarch64/.build.log
while [ $# -gt 0 ]; do
  case "$1" in
    -k) mkdir -p "$2/sub" && echo rpm > "$2/sub/hello-1-1.aarch64.rpm"; shift ;;
  esac
  shift
done
case "$(cat /var/tmp/osc-exit 2>/dev/null)" in
  wait)
    trap 'echo interrupted > /var/tmp/osc-interrupted; exit 130' INT
    echo waiting > /var/tmp/osc-waiting
    while true; do sleep 1; done ;;
  "") exit 0 ;;
  *) exit "$(cat /var/tmp/osc-exit)" ;;
esac
"#;

/// Inside the throwaway namespace: user `pkger` (uid 4321) with a private /home and
/// /var/tmp, as if archbuild were run by `sudo` from that user's shell.
fn fake_user() {
    common::fake_sudo_user();
}

fn busybox_root(dir: &Path, deb_arch: &str) -> PathBuf {
    let root = common::busybox_root(dir, deb_arch);
    std::fs::write(root.join("usr/bin/osc"), FAKE_OSC).unwrap();
    std::fs::write(root.join("usr/bin/build"), "#!/bin/sh\nexit 0\n").unwrap();
    sh(&format!(
        "chmod 755 {0}/usr/bin/osc {0}/usr/bin/build",
        root.display()
    ));
    root
}

fn record_lines() -> Vec<String> {
    std::fs::read_to_string("/var/tmp/osc-record")
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn owner(path: &str) -> (u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (m.uid(), m.gid())
}

#[test]
fn build_in_an_aarch64_container() {
    isolated!();
    if !common::have_qemu_tools() {
        return;
    }
    let Some(server) = Server::start(&[]) else {
        return;
    };
    fake_user();
    let env = tempfile::tempdir().unwrap();
    let root = busybox_root(env.path(), "arm64");
    let work = Path::new("/home/pkger/obs/home:alice/hello");
    checkout(work, &server.url());
    oscrc(
        Path::new("/home/pkger/.config/osc/oscrc"),
        &server.url(),
        true,
    );
    sh("chown -R 4321:4321 /home/pkger");

    let archbuild = |args: &[&str]| -> Command {
        let mut c = common::archbuild(env.path());
        c.args(args).env("SUDO_USER", "pkger").current_dir(work);
        c
    };
    let out = archbuild(&[
        "start",
        "--arch",
        "arm64",
        "--location",
        root.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "start: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 1. a build: the arguments, the identity, the environment, the files
    let out = archbuild(&[
        "build",
        "Debian_12",
        "aarch64",
        "--",
        "--clean",
        "-k",
        "/home/pkger/out",
        "--define",
        "a b",
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "build: {stderr}");
    assert!(
        stderr.contains("building home:alice/hello for Debian_12/aarch64 in container 'aarch64'"),
        "{stderr}"
    );
    let url = server.url();
    assert_eq!(
        record_lines(),
        [
            format!(
                "argv=-A {url} build Debian_12 aarch64 --clean -k /home/pkger/out --define a b"
            ),
            "uname=aarch64".to_string(),
            "uid=0".to_string(),
            format!("pwd={}", work.display()),
            "OSC_CONFIG=/root/.config/osc/archbuild-pkger.oscrc".to_string(),
            "OSC_SU_WRAPPER=env".to_string(),
            "OSC_BUILD_ROOT=/var/tmp/build-root/%(repo)s-%(arch)s".to_string(),
            "OSC_PACKAGE_CACHE_DIR=/var/tmp/osbuild-packagecache".to_string(),
            "oscrc_user=user = alice".to_string(),
        ]
    );
    // what the build left in the checkout and in --keep-pkgs is the user's
    let buildinfo = work.join(".osc/_buildinfo-Debian_12-aarch64.xml");
    assert_eq!(owner(buildinfo.to_str().unwrap()), (4321, 4321));
    for p in [
        "/home/pkger/out",
        "/home/pkger/out/sub",
        "/home/pkger/out/sub/hello-1-1.aarch64.rpm",
    ] {
        assert_eq!(owner(p), (4321, 4321), "{p}");
    }
    // the build root is in the host's /var/tmp (root's, as with `sudo osc build`)
    assert_eq!(
        std::fs::read_to_string("/var/tmp/build-root/Debian_12-aarch64/.build.log").unwrap(),
        "built\n"
    );
    // the copy of the oscrc is root's only
    let copy = root.join("root/.config/osc/archbuild-pkger.oscrc");
    let meta = std::fs::metadata(&copy).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o600));

    // 2. the build's exit status is archbuild's
    std::fs::write("/var/tmp/osc-exit", "3").unwrap();
    let out = archbuild(&["build", "Debian_12", "aarch64"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 3. Ctrl-C (SIGINT to the terminal's process group) stops the build inside;
    //    archbuild waits for it, returns its status, and the container stays usable
    std::fs::write("/var/tmp/osc-exit", "wait").unwrap();
    let mut child = archbuild(&["build", "Debian_12", "aarch64"])
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut waited = 0;
    while !Path::new("/var/tmp/osc-waiting").exists() {
        assert!(waited < 600, "the stand-in osc did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        std::fs::read_to_string("/var/tmp/osc-interrupted").unwrap(),
        "interrupted\n"
    );
    std::fs::remove_file("/var/tmp/osc-exit").unwrap();
    let out = archbuild(&["enter", "aarch64", "--", "uname", "-m"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "aarch64",
        "container still usable"
    );
    // 3b. SIGINT to archbuild alone, as sudo relays Ctrl-C from its own pty: archbuild
    //     passes it on to the build inside
    std::fs::write("/var/tmp/osc-exit", "wait").unwrap();
    let _ = std::fs::remove_file("/var/tmp/osc-waiting");
    let _ = std::fs::remove_file("/var/tmp/osc-interrupted");
    let mut child = archbuild(&["build", "Debian_12", "aarch64"])
        .spawn()
        .unwrap();
    let mut waited = 0;
    while !Path::new("/var/tmp/osc-waiting").exists() {
        assert!(waited < 600, "the stand-in osc did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut waited = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if waited == 300 {
            let _ = child.kill();
            panic!("SIGINT to archbuild alone did not reach the build inside");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    };
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        std::fs::read_to_string("/var/tmp/osc-interrupted").unwrap(),
        "interrupted\n"
    );
    std::fs::remove_file("/var/tmp/osc-exit").unwrap();
    let out = archbuild(&["build", "Debian_12", "aarch64"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a build after the interrupted one: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 4. a checkout the container cannot see
    std::fs::create_dir_all("/srv").ok();
    let hidden = env.path().join("hidden/hello");
    checkout(&hidden, &server.url());
    let out = archbuild(&["build", "Debian_12", "aarch64"])
        .current_dir(&hidden)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bind"));

    let out = archbuild(&["stop", "aarch64"]).output().unwrap();
    assert!(
        out.status.success(),
        "stop: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::remove_test_binfmt_entries();
}
