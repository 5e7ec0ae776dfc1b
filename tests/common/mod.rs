//! Shared test support.
//!
//! Safety rule: every test that mounts, unshares or pivots runs inside a throwaway mount
//! namespace. `isolated!()` at the top of such a test re-executes the test binary for just
//! that test under `unshare --mount --propagation private`, makes `/` rshared INSIDE that
//! namespace (as systemd does on a real host), and asserts the child passed. A bug can then
//! only damage the throwaway namespace, never the machine's /proc, /dev or /sys.
#![allow(dead_code)]

pub mod accel;
pub mod deb_build;
pub mod obs_server;

use std::path::{Path, PathBuf};
use std::process::Command;

const INSIDE: &str = "ARCHBUILD_TEST_ISOLATED";

/// True under CI, where a missing prerequisite is a failure, never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skip (outside CI, printing why) or fail (in CI) when `ok` is false.
/// Returns true when the test may go on.
pub fn prerequisite(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if in_ci() {
        panic!("prerequisite missing under CI=true: {what}");
    }
    eprintln!("SKIPPED: {what}");
    false
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `which`: the path of `tool` on PATH.
pub fn tool(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// Re-run the current test inside a throwaway mount namespace with `/` rshared.
/// Returns true in the parent (which has already asserted the child's success) and false
/// inside the namespace, where the test body should run.
pub fn reexec_isolated(test_name: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return false;
    }
    let exe = std::env::current_exe().expect("test binary path");
    // The test harness names tests by module path; `--exact` runs only this one.
    let name = test_name.split_once("::").map(|x| x.1).unwrap_or(test_name);
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--"])
        .arg("sh")
        .arg("-c")
        .arg("mount --make-rshared / && exec \"$@\"")
        .arg("sh")
        .arg(&exe)
        // --include-ignored: the parent already chose to run it (bench/ runs ignored ones)
        .args([
            name,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INSIDE, "1")
        .status()
        .expect("run unshare");
    assert!(status.success(), "isolated run of {name} failed: {status}");
    true
}

/// Put at the top of a test that mounts, unshares or pivots (needs root).
#[macro_export]
macro_rules! isolated {
    () => {{
        fn f() {}
        let name = std::any::type_name_of_val(&f).trim_end_matches("::f");
        if !common::prerequisite(common::is_root(), "this test needs root") {
            return;
        }
        if common::reexec_isolated(name) {
            return;
        }
    }};
}

/// The archbuild binary built for these tests.
pub fn archbuild_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_archbuild"))
}

/// A unique prefix for binfmt entries made by this test process.
pub fn unique_binfmt_prefix() -> String {
    format!("archbuild-test{}-", std::process::id())
}

/// An archbuild command whose state, pins and binfmt entry names are private to `dir`
/// and this process, so tests never touch a real installation's containers or entries.
pub fn archbuild(dir: &Path) -> Command {
    let mut cmd = Command::new(archbuild_bin());
    cmd.env("ARCHBUILD_STATE_DIR", dir.join("state"))
        .env("ARCHBUILD_PIN_DIR", dir.join("pins"))
        .env("ARCHBUILD_BINFMT_D", dir.join("binfmt.d"))
        .env("ARCHBUILD_BINFMT_PREFIX", unique_binfmt_prefix())
        // Never borrow another test's entry: it may vanish while this test runs.
        .env("ARCHBUILD_BINFMT_OWN_ONLY", "1")
        .env("ARCHBUILD_PLAIN", "1");
    cmd
}

/// Remove every binfmt entry this test process registered.
pub fn remove_test_binfmt_entries() {
    let prefix = unique_binfmt_prefix();
    if let Ok(entries) = std::fs::read_dir("/proc/sys/fs/binfmt_misc") {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::write(e.path(), "-1");
            }
        }
    }
}

/// Remove the binfmt entries this test process made (through the archbuild it ran:
/// `ARCHBUILD_BINFMT_PREFIX` is [`unique_binfmt_prefix`]).
pub fn remove_own_binfmt_entries() {
    let prefix = unique_binfmt_prefix();
    let Ok(entries) = std::fs::read_dir("/proc/sys/fs/binfmt_misc") else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::write(e.path(), "-1");
        }
    }
}

/// Remove the binfmt entries of earlier test processes that died without their `Drop`
/// (a killed test run): `archbuild-test<PID>-...` whose PID is gone.
pub fn remove_stale_test_binfmt_entries() {
    let Ok(entries) = std::fs::read_dir("/proc/sys/fs/binfmt_misc") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("archbuild-test")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::write(e.path(), "-1");
        }
    }
}

/// The mount table of this namespace, without the columns that change between reads.
pub fn mount_table() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("read mountinfo")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            // mount point, root, options, fs type, source
            let sep = f.iter().position(|x| *x == "-").unwrap_or(f.len() - 1);
            format!(
                "{} {} {} {} {}",
                f[4],
                f[3],
                f[5],
                f[sep + 1],
                f.get(sep + 2).unwrap_or(&"")
            )
        })
        .collect()
}

/// Cache directory for downloads shared across test runs.
pub fn cache_dir() -> PathBuf {
    let dir = std::env::var_os("ARCHBUILD_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".test-cache"));
    std::fs::create_dir_all(&dir).expect("create test cache");
    dir
}

/// Run a shell command that must succeed.
pub fn sh(script: &str) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .status()
        .expect("run sh");
    assert!(status.success(), "{script}");
}

/// Inside the throwaway namespace: a host user `pkger` (uid/gid 4321, login shell
/// /bin/bash) with a home under a private /home and a private /var/tmp, as if archbuild
/// were run by `sudo` from that user's shell. Returns `/home/pkger/work`.
pub fn fake_sudo_user() -> PathBuf {
    sh("mount -t tmpfs tmpfs /home && mkdir -p /home/pkger/work && chown -R 4321:4321 /home/pkger");
    sh("mount -t tmpfs tmpfs /var/tmp && chmod 1777 /var/tmp");
    sh("cp /etc/passwd /tmp/archbuild-test-passwd && echo 'pkger:x:4321:4321:Packager:/home/pkger:/bin/bash' >> /tmp/archbuild-test-passwd && mount --bind /tmp/archbuild-test-passwd /etc/passwd");
    sh("cp /etc/group /tmp/archbuild-test-group && echo 'pkger:x:4321:' >> /tmp/archbuild-test-group && mount --bind /tmp/archbuild-test-group /etc/group");
    PathBuf::from("/home/pkger/work")
}

/// True when the tools for busybox roots and emulated containers are here (fails in CI
/// when they are not).
pub fn have_qemu_tools() -> bool {
    prerequisite(
        Path::new("/usr/bin/qemu-aarch64-static").exists()
            && tool("dpkg-deb").is_some()
            && tool("apt-get").is_some(),
        "qemu-user-static, dpkg-deb and apt-get (apt-get install qemu-user-static)",
    )
}

/// A minimal root of Debian arch `deb_arch` (Debian's busybox-static) at `dir/root-<arch>`.
pub fn busybox_root(dir: &Path, deb_arch: &str) -> PathBuf {
    let root = dir.join(format!("root-{deb_arch}"));
    let status = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/busybox-root"
    ))
    .arg(deb_arch)
    .arg(&root)
    .env("ARCHBUILD_TEST_CACHE", cache_dir())
    .status()
    .expect("run busybox-root");
    assert!(status.success(), "could not make a {deb_arch} root");
    root
}

/// The one-line-error rule, for every test: exit status `code`, exactly one
/// `archbuild: error:` line, as the last line of stderr, containing every needle; any
/// other stderr line is one of archbuild's own notes (`archbuild: ...`). Returns the
/// error line.
pub fn assert_one_line_error(
    out: &std::process::Output,
    what: &str,
    code: i32,
    needles: &[&str],
) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{what}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("archbuild: error:"))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "{what}: expected one error line in: {stderr}"
    );
    assert_eq!(
        lines.last().copied(),
        Some(*errors[0]),
        "{what}: the error must be the last line: {stderr}"
    );
    for line in &lines {
        assert!(
            line.starts_with("archbuild: "),
            "{what}: stray output on stderr: {line:?} in {stderr}"
        );
    }
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "{what}: expected '{needle}' in: {stderr}"
        );
    }
    errors[0].to_string()
}

/// A private archbuild installation for one test: state, pins, binfmt.d and binfmt
/// entry names of its own (see [`archbuild`]); the binfmt entries this test process
/// made are removed when it is dropped, also when the test fails.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    env: Vec<(String, std::ffi::OsString)>,
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        remove_stale_test_binfmt_entries();
        TestEnv {
            dir: tempfile::tempdir().expect("tempdir"),
            env: Vec::new(),
        }
    }

    /// The same, with `key` set for every archbuild it runs.
    pub fn with_env(mut self, key: &str, value: impl Into<std::ffi::OsString>) -> TestEnv {
        self.env.push((key.to_string(), value.into()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = archbuild(self.path());
        cmd.envs(self.env.iter().map(|(k, v)| (k, v))).args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().expect("run archbuild")
    }

    /// Run; it must succeed. Returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "archbuild {args:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run; it must fail with `code` and one error line containing `needle`.
    pub fn fails(&self, args: &[&str], code: i32, needle: &str) -> String {
        let out = self.run(args);
        assert_one_line_error(&out, &format!("archbuild {args:?}"), code, &[needle])
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        remove_test_binfmt_entries();
    }
}
