//! `archbuild bootstrap` end to end: real zypper against local rpm-md repositories of
//! aarch64 and armv7hl packages built here (tests/support/rpm-fixture-repo), real
//! mmdebstrap against Debian's archive, and the failure paths: unreachable repository,
//! missing package, interruption, location in use. Every test that bootstraps runs in a
//! throwaway mount namespace; downloads are cached in the test cache.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Emulated Debian bootstraps take minutes and two cores: run them one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

type Env = common::TestEnv;

/// A test environment whose bootstraps keep their caches private (pristine copies)
/// or shared across runs (downloaded packages).
fn bootstrap_env() -> Env {
    let env = Env::new();
    let cache = env.path().join("cache");
    env.with_env("ARCHBUILD_CACHE_DIR", cache).with_env(
        "ARCHBUILD_PACKAGE_CACHE",
        common::cache_dir().join("packages"),
    )
}

trait BootstrapEnv {
    fn root(&self, name: &str) -> PathBuf;
    fn record(&self, name: &str) -> Option<serde_json::Value>;
    fn marker(&self, root: &Path) -> serde_json::Value;
    fn shell(&self, name: &str, root: &Path, script: &str) -> String;
}

impl BootstrapEnv for Env {
    fn root(&self, name: &str) -> PathBuf {
        self.path().join("state/roots").join(name)
    }

    fn record(&self, name: &str) -> Option<serde_json::Value> {
        let path = self
            .path()
            .join("state/containers")
            .join(format!("{name}.json"));
        std::fs::read(path)
            .ok()
            .map(|b| serde_json::from_slice(&b).expect("record is JSON"))
    }

    fn marker(&self, root: &Path) -> serde_json::Value {
        let b = std::fs::read(root.join("var/lib/archbuild-bootstrap/state.json")).expect("marker");
        serde_json::from_slice(&b).expect("marker is JSON")
    }

    /// Run `script` with the root's shell: in the container once `start`/`enter` exist,
    /// else through chroot (which works for a foreign root thanks to the F flag).
    fn shell(&self, name: &str, root: &Path, script: &str) -> String {
        let start = self.run(&["start", name]);
        let stderr = String::from_utf8_lossy(&start.stderr);
        if start.status.success() {
            let out = self.ok(&["enter", name, "--", "sh", "-c", script]);
            self.ok(&["stop", name]);
            return out;
        }
        assert!(
            stderr.contains("not implemented"),
            "archbuild start {name} failed: {stderr}"
        );
        let out = Command::new("chroot")
            .arg(root)
            .args(["/bin/sh", "-c", script])
            .output()
            .expect("chroot");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A local rpm-md repository of `rpm_arch` fixture packages (built once, cached).
fn rpm_repo(rpm_arch: &str, deb_arch: &str, qemu: &str) -> PathBuf {
    let dir = common::cache_dir().join(format!("rpm-fixture-v2-{rpm_arch}"));
    if !dir.join("repodata/repomd.xml").exists() {
        let status = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/rpm-fixture-repo"
        ))
        .args([rpm_arch, deb_arch, qemu])
        .arg(&dir)
        .env("ARCHBUILD_TEST_CACHE", common::cache_dir())
        .status()
        .expect("run rpm-fixture-repo");
        assert!(
            status.success(),
            "could not build the {rpm_arch} fixture repository"
        );
    }
    dir
}

fn zypper_ready() -> bool {
    ["zypper", "rpmbuild", "createrepo_c", "dpkg-deb"]
        .iter()
        .all(|t| common::prerequisite(common::tool(t).is_some(), &format!("{t} is not installed")))
}

fn mmdebstrap_ready() -> bool {
    common::prerequisite(
        common::tool("mmdebstrap").is_some(),
        "mmdebstrap is not installed",
    )
}

fn mounts_under(root: &Path) -> Vec<String> {
    let prefix = format!("{}/", root.display());
    common::mount_table()
        .into_iter()
        .filter(|l| l.split(' ').next().is_some_and(|m| m.starts_with(&prefix)))
        .collect()
}

/// Processes whose root or working directory lies inside `root`.
fn processes_in(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        for link in ["root", "cwd"] {
            if let Ok(target) = std::fs::read_link(entry.path().join(link)) {
                if target.starts_with(root) {
                    found.push(format!("{pid} ({link} {})", target.display()));
                }
            }
        }
    }
    found
}

/// A loopback URL where nothing listens.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/repo/")
}

#[test]
fn dry_run_prints_the_plan_without_root_or_changes() {
    let env = bootstrap_env();
    let out = env.ok(&[
        "bootstrap",
        "armv7hl",
        "--dist",
        "debian-13",
        "--with-osc",
        "--dry-run",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["plan"]["arch"], "armv7l");
    assert_eq!(v["plan"]["backend"], "debian");
    assert_eq!(v["plan"]["repositories"][0]["suite"], "trixie");
    assert_eq!(v["name"], "armv7l");
    let text = v["actions"].to_string();
    assert!(
        text.contains("--arch=armhf") || text.contains("debootstrap"),
        "{text}"
    );
    assert!(text.contains("osc") && text.contains("obs-build"), "{text}");
    let out = env.ok(&["bootstrap", "aarch64", "--dist", "tumbleweed", "--dry-run"]);
    assert!(out.contains("ports/aarch64/tumbleweed/repo/oss"), "{out}");
    assert!(out.contains("ZYPP_CONF="), "{out}");
    assert!(!env.path().join("roots").exists() && !env.path().join("state").exists());
    env.fails(
        &["bootstrap", "riscv64", "--dist", "debian-12", "--dry-run"],
        2,
        "debian-13",
    );
    env.fails(
        &["bootstrap", "aarch64", "--dist", "nosuch", "--dry-run"],
        2,
        "--repo",
    );
    env.fails(
        &["bootstrap", "sparc", "--dry-run"],
        2,
        "unknown architecture",
    );
}

#[test]
fn zypper_aarch64_root_from_local_repository() {
    isolated!();
    if !zypper_ready() {
        return;
    }
    let repo = rpm_repo("aarch64", "arm64", "aarch64");
    let env = bootstrap_env();
    let root = env.root("tw-aarch64");
    let out = env.ok(&[
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo.to_str().unwrap(),
        "--name",
        "tw-aarch64",
        "--location",
        root.to_str().unwrap(),
    ]);
    assert!(out.contains("bootstrapped with zypper"), "{out}");
    let record = env.record("tw-aarch64").expect("container registered");
    assert_eq!(record["arch"], "aarch64");
    assert_eq!(record["origin"], "bootstrap");
    assert_eq!(env.marker(&root)["state"], "complete");
    // %post ran the root's own aarch64 shell under emulation
    let post = std::fs::read_to_string(root.join("var/lib/fixture-post")).unwrap();
    assert_eq!(post.trim(), "post ran on aarch64");
    // zypper inside the root knows the repository and the arch
    let repo_file = std::fs::read_to_string(root.join("etc/zypp/repos.d/repo-1.repo")).unwrap();
    assert!(
        repo_file.contains(&format!("baseurl=dir://{}", repo.display())),
        "{repo_file}"
    );
    let conf = std::fs::read_to_string(root.join("etc/zypp/zypp.conf")).unwrap();
    assert!(conf.contains("arch = aarch64"), "{conf}");
    assert!(root.join("var/log/archbuild-bootstrap.log").exists());
    assert!(std::fs::read_link(root.join("var/lib/rpm")).is_ok());
    assert_eq!(env.shell("tw-aarch64", &root, "uname -m").trim(), "aarch64");
    assert!(mounts_under(&root).is_empty());

    // The same plan again: unpacked from the pristine copy.
    let again = env.root("tw-aarch64-2");
    let began = Instant::now();
    let out = env.ok(&[
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo.to_str().unwrap(),
        "--name",
        "tw-aarch64-2",
        "--location",
        again.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["how"], "restored");
    assert!(began.elapsed() < Duration::from_secs(10));
    assert_eq!(
        env.shell("tw-aarch64-2", &again, "cat /var/lib/fixture-post")
            .trim(),
        "post ran on aarch64"
    );
    // And the first one once more: already there, nothing redone.
    let out = env.ok(&[
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo.to_str().unwrap(),
        "--name",
        "tw-aarch64",
        "--location",
        root.to_str().unwrap(),
    ]);
    assert!(out.contains("already bootstrapped"), "{out}");
}

#[test]
fn zypper_armv7hl_with_osc_keeps_emulation_working() {
    isolated!();
    if !zypper_ready() {
        return;
    }
    let repo = rpm_repo("armv7hl", "armhf", "arm");
    let env = bootstrap_env();
    let root = env.root("armv7l");
    env.ok(&[
        "bootstrap",
        "armv7hl",
        "--backend",
        "zypper",
        "--repo",
        repo.to_str().unwrap(),
        "--with-osc",
        "--location",
        root.to_str().unwrap(),
    ]);
    assert_eq!(
        env.record("armv7l").expect("registered under the OBS name")["arch"],
        "armv7l"
    );
    // --with-osc pulled in the root's own qemu-linux-user, whose /usr/bin/qemu-arm
    // does not work: the container must not depend on it.
    assert!(root.join("usr/bin/osc").exists() && root.join("usr/bin/build").exists());
    let qemu = std::fs::read_to_string(root.join("usr/bin/qemu-arm")).unwrap();
    assert!(qemu.contains("broken emulator"));
    assert_eq!(env.shell("armv7l", &root, "uname -m").trim(), "armv7l");
    let conf = std::fs::read_to_string(root.join("etc/zypp/zypp.conf")).unwrap();
    assert!(conf.contains("arch = armv7hl"), "{conf}");
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/fixture-post"))
            .unwrap()
            .trim(),
        "post ran on armv7l"
    );
}

#[test]
fn unreachable_repository_fails_cleanly() {
    isolated!();
    if !zypper_ready() || !mmdebstrap_ready() {
        return;
    }
    let env = bootstrap_env();
    let url = dead_url();
    let root = env.root("aarch64");
    let err = env.fails(
        &[
            "bootstrap",
            "aarch64",
            "--backend",
            "zypper",
            "--repo",
            &url,
        ],
        1,
        "zypper exited",
    );
    assert!(
        err.contains(&format!(
            "{}/var/log/archbuild-bootstrap.log",
            root.display()
        )),
        "{err}"
    );
    assert!(env.record("aarch64").is_none());
    assert_eq!(env.marker(&root)["state"], "incomplete");
    assert!(mounts_under(&root).is_empty());

    let deb = format!("{url} bookworm main");
    let root = env.root("deb");
    let err = env.fails(
        &[
            "bootstrap",
            "aarch64",
            "--backend",
            "debian",
            "--repo",
            &deb,
            "--name",
            "deb",
        ],
        1,
        "mmdebstrap",
    );
    assert!(err.contains("full log:"), "{err}");
    assert!(env.record("deb").is_none());
    assert!(mounts_under(&root).is_empty());
    assert!(processes_in(&root).is_empty());
}

#[test]
fn missing_package_fails_then_resume_succeeds() {
    isolated!();
    if !zypper_ready() {
        return;
    }
    let repo = rpm_repo("aarch64", "arm64", "aarch64");
    let env = bootstrap_env();
    let args = [
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo.to_str().unwrap(),
    ];
    let mut with_missing = args.to_vec();
    with_missing.extend(["--packages", "osc,no-such-package"]);
    let err = env.fails(&with_missing, 1, "no-such-package");
    assert!(err.contains("run the same command again"), "{err}");
    assert!(env.record("aarch64").is_none());
    let root = env.root("aarch64");
    assert_eq!(env.marker(&root)["state"], "incomplete");
    let log = std::fs::read_to_string(root.join("var/log/archbuild-bootstrap.log")).unwrap();
    assert!(log.contains("no-such-package"), "{log}");
    // Re-run without the typo: the partial root is resumed.
    let mut fixed = args.to_vec();
    fixed.extend(["--packages", "osc"]);
    let out = env.ok(&fixed);
    assert!(out.contains("resumed"), "{out}");
    assert!(env.record("aarch64").is_some());
    assert!(root.join("usr/bin/osc").exists());
}

#[test]
fn interrupted_zypper_bootstrap_leaves_no_mounts_and_no_container() {
    isolated!();
    if !zypper_ready() {
        return;
    }
    let repo = rpm_repo("aarch64", "arm64", "aarch64");
    let env = bootstrap_env();
    let root = env.root("aarch64");
    let args = [
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo.to_str().unwrap(),
        "--packages",
        "slow-post",
    ];
    let mut child = env
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // busybox-base's %post has run: slow-post's 20 s %post is next.
    let began = Instant::now();
    while !root.join("var/lib/fixture-post").exists() {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "bootstrap did not get going"
        );
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("bootstrap ended early ({status}): {stderr}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let signalled = Instant::now();
    let status = child.wait().unwrap();
    // slow-post's %post would go on for about 18 s more; zypper gets 10 s to stop
    assert!(
        signalled.elapsed() < Duration::from_secs(15),
        "the interruption was not passed on"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(env.record("aarch64").is_none());
    assert_eq!(env.marker(&root)["state"], "incomplete");
    assert!(mounts_under(&root).is_empty());
    assert!(processes_in(&root).is_empty(), "{:?}", processes_in(&root));
    // --force starts over (here without the slow package) and succeeds.
    env.ok(&[
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo.to_str().unwrap(),
        "--force",
    ]);
    assert!(env.record("aarch64").is_some());
    assert!(!root.join("usr/bin/slow-post").exists());
}

#[test]
fn location_in_use_is_refused_never_overwritten() {
    isolated!();
    if !zypper_ready() {
        return;
    }
    let repo = rpm_repo("aarch64", "arm64", "aarch64");
    let env = bootstrap_env();
    let taken = env.path().join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("precious"), "keep me").unwrap();
    let repo = repo.to_str().unwrap();
    let base = [
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo,
    ];
    let mut a = base.to_vec();
    a.extend(["--location", taken.to_str().unwrap()]);
    env.fails(&a, 1, "did not put there");
    a.push("--force");
    env.fails(&a, 1, "did not put there");
    assert_eq!(
        std::fs::read_to_string(taken.join("precious")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(&taken).unwrap().count(), 1);
    assert!(env.record("aarch64").is_none());
    let file = env.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let mut b = base.to_vec();
    b.extend(["--location", file.to_str().unwrap()]);
    env.fails(&b, 1, "not a directory");

    // A name that is taken elsewhere, and a location that belongs to another container.
    env.ok(&base);
    let mut c = base.to_vec();
    let elsewhere = env.path().join("elsewhere");
    c.extend(["--location", elsewhere.to_str().unwrap()]);
    env.fails(&c, 2, "already exists");
    let mut d = base.to_vec();
    let first = env.root("aarch64");
    d.extend(["--name", "other", "--location", first.to_str().unwrap()]);
    env.fails(&d, 2, "is the root of container 'aarch64'");
    // A complete root of another plan is not replaced without --force.
    let mut e = base.to_vec();
    e.extend(["--packages", "osc"]);
    env.fails(&e, 1, "--force");
    e.push("--force");
    env.ok(&e);
    assert!(env.root("aarch64").join("usr/bin/osc").exists());
}

/// Real mmdebstrap from Debian's archive; the second bootstrap of the same plan comes
/// from the pristine copy.
fn debian_root(arch: &str, dist: &str, expect_uname: &str, expect_deb: &str) {
    let env = bootstrap_env();
    let name = format!("{dist}-{arch}");
    let root = env.root(&name);
    let out = env.ok(&["bootstrap", arch, "--dist", dist, "--name", &name]);
    assert!(out.contains("bootstrapped with mmdebstrap"), "{out}");
    assert!(env.record(&name).is_some());
    assert!(mounts_under(&root).is_empty());
    let got = env.shell(
        &name,
        &root,
        "uname -m; dpkg --print-architecture; command -v sudo",
    );
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[..2], [expect_uname, expect_deb], "{got}");
    assert!(lines[2].ends_with("/sudo"), "{got}");
    let sources = std::fs::read_to_string(root.join("etc/apt/sources.list"))
        .or_else(|_| std::fs::read_to_string(root.join("etc/apt/sources.list.d/0000sources.list")))
        .unwrap_or_default();
    let log = std::fs::read_to_string(root.join("var/log/archbuild-bootstrap.log")).unwrap();
    assert!(log.contains("Setting up"), "the log holds dpkg's output");
    let _ = sources;

    let began = Instant::now();
    let again = format!("{name}-again");
    let out = env.ok(&[
        "bootstrap",
        arch,
        "--dist",
        dist,
        "--name",
        &again,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["how"], "restored");
    let took = began.elapsed();
    eprintln!("second bootstrap of {name}: {:.1} s", took.as_secs_f64());
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(
        env.shell(&again, &env.root(&again), "uname -m").trim(),
        expect_uname
    );
}

#[test]
fn debian_arm64_with_mmdebstrap() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    isolated!();
    if !mmdebstrap_ready() {
        return;
    }
    debian_root("aarch64", "debian-12", "aarch64", "arm64");
}

#[test]
fn debian_riscv64_from_trixie_with_mmdebstrap() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    isolated!();
    if !mmdebstrap_ready() {
        return;
    }
    debian_root("riscv64", "debian-13", "riscv64", "riscv64");
}

/// The fallback where mmdebstrap is missing: debootstrap --foreign, then its second
/// stage run inside the root under emulation. The first run is killed (SIGKILL) during
/// the second stage; the next one recovers.
#[test]
fn debian_arm64_with_debootstrap_fallback() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    isolated!();
    if !common::prerequisite(
        common::tool("debootstrap").is_some(),
        "debootstrap is not installed",
    ) {
        return;
    }
    let env = bootstrap_env().with_env("ARCHBUILD_DEBIAN_TOOL", "debootstrap");
    let root = env.root("aarch64");
    let args = ["bootstrap", "aarch64", "--dist", "debian-12"];
    let log = root.join("var/log/archbuild-bootstrap.log");
    let began = Instant::now();
    // the kill point: debootstrap's second stage under emulation has begun its work
    let killed = kill_bootstrap_when(&env, &args, &root, "debootstrap's second stage", &|| {
        std::fs::read_to_string(&log).is_ok_and(|text| {
            text.split_once("--second-stage")
                .is_some_and(|(_, after)| after.contains("I: "))
        })
    });
    assert!(killed, "the bootstrap ended before its second stage");
    eprintln!(
        "TIME debootstrap killed in its second stage after {:.1} s",
        began.elapsed().as_secs_f64()
    );
    let began = Instant::now();
    let out = env.cmd(&args).output().unwrap();
    eprintln!(
        "TIME the next debootstrap bootstrap: {:.1} s",
        began.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bootstrapped with debootstrap"));
    assert!(
        !root.join("debootstrap").exists(),
        "the second stage ran to its end"
    );
    let sources = std::fs::read_to_string(root.join("etc/apt/sources.list")).unwrap();
    assert_eq!(
        sources.trim(),
        "deb http://deb.debian.org/debian bookworm main"
    );
    let got = env.shell("aarch64", &root, "uname -m; dpkg --print-architecture");
    assert_eq!(got.lines().collect::<Vec<_>>(), ["aarch64", "arm64"]);
    assert!(mounts_under(&root).is_empty());
}

#[test]
fn interrupted_mmdebstrap_leaves_no_mounts_and_no_container() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    isolated!();
    if !mmdebstrap_ready() {
        return;
    }
    let env = bootstrap_env();
    let root = env.root("aarch64");
    let mut child = env
        .cmd(&["bootstrap", "aarch64", "--dist", "debian-12"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt while mmdebstrap runs the maintainer scripts inside the root (with
    // /proc, /dev and /sys mounted there).
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // keep reading to the end, so archbuild never writes into a closed pipe
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(600))
            .expect("mmdebstrap got going");
        seen.push(line.clone());
        if line.contains("installing essential packages") {
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(env.record("aarch64").is_none());
    assert_eq!(env.marker(&root)["state"], "incomplete");
    assert!(mounts_under(&root).is_empty(), "{:?}", mounts_under(&root));
    assert!(processes_in(&root).is_empty(), "{:?}", processes_in(&root));
}

/// `--obs PRJ/REPO` takes the plan from OBS metadata (the stand-in API server).
#[test]
fn obs_plan_is_what_bootstrap_would_run() {
    if !common::prerequisite(
        common::tool("python3").is_some(),
        "python3 runs the stand-in OBS server",
    ) {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/obs_server.py");
    let mut server = Command::new("python3")
        .arg(script)
        .args(["--lifetime", "120"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the stand-in OBS server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .expect("PORT n");
    let url = format!("http://127.0.0.1:{port}");
    let home = tempfile::tempdir().unwrap();
    let oscrc = home.path().join(".config/osc/oscrc");
    std::fs::create_dir_all(oscrc.parent().unwrap()).unwrap();
    std::fs::write(
        &oscrc,
        format!(
            "[general]\napiurl = {url}\n\n[{url}]\nuser = alice\npass = opensuse\nallow_http = 1\n"
        ),
    )
    .unwrap();
    let env = bootstrap_env();
    let mut cmd = env.cmd(&[
        "bootstrap",
        "aarch64",
        "--obs",
        "home:alice:branches:home:alice/openSUSE_Tumbleweed",
        "--with-osc",
        "--packages",
        "vim",
        "--dry-run",
        "--json",
    ]);
    for (k, _) in std::env::vars() {
        if k.starts_with("OSC_") || k == "XDG_CONFIG_HOME" {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("HOME", home.path())
        .current_dir(home.path())
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        v["plan"]["source"],
        "obs:home:alice:branches:home:alice/openSUSE_Tumbleweed"
    );
    assert_eq!(v["plan"]["backend"], "zypper");
    assert_eq!(v["tool"], "zypper");
    let packages: Vec<String> = serde_json::from_value(v["plan"]["packages"].clone()).unwrap();
    for p in ["rpm", "osc", "build", "vim"] {
        assert!(
            packages.iter().any(|x| x == p),
            "{p} missing from {packages:?}"
        );
    }
    let steps = v["actions"].to_string();
    assert!(
        steps.contains("ports/aarch64/tumbleweed/repo/oss"),
        "{steps}"
    );
    assert!(steps.contains("arch = aarch64"), "{steps}");
}

/// Start `args`, wait until `ready` holds, SIGKILL archbuild, and return the time it
/// took until nothing of the bootstrap runs in the root any more.
fn kill_bootstrap_when(
    env: &Env,
    args: &[&str],
    root: &Path,
    what: &str,
    ready: &dyn Fn() -> bool,
) -> bool {
    let mut child = env
        .cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let began = Instant::now();
    while !ready() {
        assert!(
            began.elapsed() < Duration::from_secs(600),
            "{what}: the kill point was never reached"
        );
        if child.try_wait().unwrap().is_some() {
            // A step of a tiny fixture root can be over between two looks (the pristine
            // tar on an idle machine): then there was nothing to interrupt.
            eprintln!("NOTE: {what}: the bootstrap finished before the kill point");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    if status.success() {
        // the step ended, and the bootstrap with it, between the look and the kill
        eprintln!("NOTE: {what}: the bootstrap finished before the kill reached it");
        return false;
    }
    // The backend's whole process tree ends with archbuild (its PID namespace dies
    // with it), so nothing goes on writing into the root.
    let killed = Instant::now();
    while !processes_in(root).is_empty() {
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "{what}: processes still work in the root after archbuild was killed: {:?}",
            processes_in(root)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        mounts_under(root).is_empty(),
        "{what}: {:?}",
        mounts_under(root)
    );
    assert!(
        env.record("aarch64").is_none(),
        "{what}: a record was saved"
    );
    assert_eq!(env.marker(root)["state"], "incomplete", "{what}");
    true
}

#[test]
fn sigkill_at_each_phase_leaves_nothing_running_and_the_next_run_recovers() {
    isolated!();
    if !zypper_ready() {
        return;
    }
    let repo = rpm_repo("aarch64", "arm64", "aarch64");
    let env = bootstrap_env();
    let root = env.root("aarch64");
    let repo = repo.to_str().unwrap();
    let slow = [
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo,
        "--packages",
        "slow-post",
    ];
    // 1. While the backend installs (slow-post's %post sleeps under emulation).
    kill_bootstrap_when(&env, &slow, &root, "installing", &|| {
        root.join("var/lib/fixture-post").exists()
    });
    // 2. While the pristine copy is written: the partial tar is never taken for good.
    let pristine = env.path().join("cache/pristine");
    let killed_while_saving =
        kill_bootstrap_when(&env, &slow, &root, "saving the pristine copy", &|| {
            std::fs::read_dir(&pristine).is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().contains(".tar.partial-"))
            })
        });
    assert!(
        !killed_while_saving
            || !std::fs::read_dir(&pristine)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".tar")),
        "a partial pristine copy was kept as complete"
    );
    // The next run recovers by itself and registers the container.
    env.ok(&slow);
    assert!(env.record("aarch64").is_some());
    assert_eq!(env.marker(&root)["state"], "complete");
    // 3. While a pristine copy is unpacked into a fresh location.
    env.ok(&["remove", "aarch64"]);
    let killed_while_restoring =
        kill_bootstrap_when(&env, &slow, &root, "restoring the pristine copy", &|| {
            root.join("usr").exists()
        });
    let out = env.ok(&slow);
    if killed_while_restoring {
        assert!(out.contains("restored from a pristine copy"), "{out}");
    }
    assert!(root.join("usr/bin/slow-post").exists());
}

#[test]
fn two_bootstraps_of_one_name_run_one_after_the_other() {
    isolated!();
    if !zypper_ready() {
        return;
    }
    let repo = rpm_repo("aarch64", "arm64", "aarch64");
    let env = bootstrap_env();
    let args = [
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo.to_str().unwrap(),
    ];
    let first = env
        .cmd(&args)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let second = env
        .cmd(&args)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let outs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let stdout: Vec<String> = outs
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        })
        .collect();
    let done = stdout
        .iter()
        .filter(|o| o.contains("bootstrapped with"))
        .count();
    let again = stdout
        .iter()
        .filter(|o| o.contains("was already bootstrapped"))
        .count();
    assert_eq!((done, again), (1, 1), "{stdout:?}");
    let waited = outs.iter().any(|o| {
        String::from_utf8_lossy(&o.stderr).contains("waiting for another archbuild command")
    });
    assert!(waited, "the second bootstrap did not wait for the first");
}

#[test]
fn a_full_disk_is_named_with_the_space_needed_and_nothing_passes_for_complete() {
    isolated!();
    if !zypper_ready() {
        return;
    }
    let repo = rpm_repo("aarch64", "arm64", "aarch64");
    let env = bootstrap_env();
    let small = env.path().join("small");
    std::fs::create_dir(&small).unwrap();
    common::sh(&format!(
        "mount -t tmpfs -o size=3m tmpfs {}",
        small.display()
    ));
    let root = small.join("root");
    let out = env.run(&[
        "bootstrap",
        "aarch64",
        "--backend",
        "zypper",
        "--repo",
        repo.to_str().unwrap(),
        "--location",
        root.to_str().unwrap(),
    ]);
    let line = common::assert_one_line_error(&out, "full disk", 1, &["is full", "tmpfs"]);
    assert!(line.contains(small.to_str().unwrap()), "{line}");
    assert!(line.contains("MiB"), "{line}");
    assert!(env.record("aarch64").is_none());
    if root.join("var/lib/archbuild-bootstrap/state.json").exists() {
        assert_eq!(env.marker(&root)["state"], "incomplete");
    }
    assert!(mounts_under(&root).is_empty());
    common::sh(&format!("umount {}", small.display()));
}

#[test]
fn accel_is_planned_for_debian_roots_and_refused_up_front_elsewhere() {
    let env = bootstrap_env();
    let bundles = env.path().join("bundles");
    let env = env.with_env("ARCHBUILD_ACCEL_BUNDLES", &bundles);
    let trixie = [
        "bootstrap",
        "aarch64",
        "--dist",
        "debian-13",
        "--packages",
        "gcc",
    ];
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&[&trixie[..], &["--accel", "--dry-run", "--json"]].concat()))
            .unwrap();
    let actions = v["actions"].as_array().unwrap();
    assert_eq!(
        actions.last().unwrap(),
        &serde_json::json!({
            "action": "accel_bundle",
            "container": "aarch64",
            "bundle": bundles.join("x86_64-for-aarch64"),
        }),
        "the bundle step comes after the backend's: {actions:?}"
    );
    let text = env.ok(&[&trixie[..], &["--accel", "--dry-run"]].concat());
    assert!(
        text.contains("then: archbuild accel bundle aarch64 (into "),
        "{text}"
    );
    let plain = env.ok(&[&trixie[..], &["--dry-run", "--json"]].concat());
    assert!(!plain.contains("accel_bundle"), "{plain}");
    // Roots that cannot be accelerated: a usage error before anything is done.
    env.fails(
        &[
            "bootstrap",
            "aarch64",
            "--dist",
            "tumbleweed",
            "--accel",
            "--dry-run",
        ],
        2,
        "openSUSE roots cannot be accelerated yet",
    );
    env.fails(
        &["bootstrap", "x86_64", "--dist", "debian-13", "--accel"],
        2,
        "nothing is emulated: drop --accel",
    );
    // A host without the bundle's tools: one line naming each, before any work.
    if common::prerequisite(common::is_root(), "bootstrap needs root") && mmdebstrap_ready() {
        let tools = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            common::tool("mmdebstrap").unwrap(),
            tools.path().join("mmdebstrap"),
        )
        .unwrap();
        let out = env
            .cmd(&[&trixie[..], &["--accel"]].concat())
            .env("PATH", tools.path())
            .output()
            .unwrap();
        common::assert_one_line_error(
            &out,
            "bootstrap --accel without patchelf",
            1,
            &[
                "--accel needs more on this host",
                "patchelf is not installed (install patchelf)",
                "dpkg-deb is not installed (install dpkg)",
                "or drop --accel",
            ],
        );
    }
    assert!(!env.path().join("state").exists() && !bundles.exists());
}

/// `bootstrap --accel` of the Debian 13 root the identity test uses (restored from the
/// pristine copy it leaves in the shared cache; bootstrapped otherwise, about 10
/// minutes): the bundle is made and the container recorded accelerated; a second run
/// reuses the bundle; a bundle that no longer fits the root is refused, saying why.
#[test]
fn debian_13_bootstrap_accel_makes_the_bundle_and_records_the_container_accelerated() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    isolated!();
    if !mmdebstrap_ready()
        || !common::prerequisite(
            ["patchelf", "dpkg-deb", "apt-get"]
                .iter()
                .all(|t| common::tool(t).is_some()),
            "patchelf, dpkg-deb and apt-get (scripts/install-test-deps)",
        )
    {
        return;
    }
    let began = Instant::now();
    let handler = common::accel::handler();
    let env = common::accel::trixie_env();
    let bundles = env.path().join("bundles");
    let env = env
        .with_env("ARCHBUILD_ACCEL_BUNDLES", &bundles)
        .with_env("ARCHBUILD_ACCEL_HANDLER", &handler);
    let mut bootstrap = common::accel::TRIXIE_BOOTSTRAP.to_vec();
    bootstrap.extend(["--accel", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&bootstrap)).unwrap();
    eprintln!(
        "bootstrap --accel ({}, bundle {}): {:.0} s",
        v["how"],
        v["accel"]["how"],
        began.elapsed().as_secs_f64()
    );
    assert_eq!(v["accel"]["how"], "made", "{v}");
    let tools = v["accel"]["tools"].as_u64().unwrap();
    assert!(tools >= 5, "{v}");
    assert_eq!(
        v["accel"]["bundle"],
        bundles.join("x86_64-for-aarch64").to_str().unwrap()
    );
    assert!(bundles.join("x86_64-for-aarch64/manifest.json").is_file());
    assert_eq!(env.record("trixie").unwrap()["accel"], true);
    let status: serde_json::Value =
        serde_json::from_str(&env.ok(&["status", "trixie", "--json"])).unwrap();
    assert_eq!(status["accel"]["root_match"]["tools"], tools, "{status}");
    assert_eq!(status["accel"]["root_match"]["matching"], tools, "{status}");
    assert_eq!(status["accel"]["handler"], handler.to_str().unwrap());
    let start: serde_json::Value =
        serde_json::from_str(&env.ok(&["start", "trixie", "--dry-run"])).unwrap();
    assert_eq!(start["accel"]["tools"], tools, "start uses it: {start}");

    // Again: the root is there, the bundle fits it.
    let again: serde_json::Value = serde_json::from_str(&env.ok(&bootstrap)).unwrap();
    assert_eq!(
        (again["how"].clone(), again["accel"]["how"].clone()),
        ("existing".into(), "reused".into()),
        "{again}"
    );
    // A root whose assembler changed does not fit the bundle any more.
    let root = PathBuf::from(v["location"].as_str().unwrap());
    let assembler = root.join("usr/bin/aarch64-linux-gnu-as");
    let mut bytes = std::fs::read(&assembler).unwrap();
    bytes.push(0);
    std::fs::write(&assembler, bytes).unwrap();
    let out = env.run(&bootstrap);
    common::assert_one_line_error(
        &out,
        "bootstrap --accel with a bundle of another root",
        1,
        &[
            "trixie is bootstrapped and registered (still accelerated with the bundle there)",
            &format!("({} of {tools} tools match this one)", tools - 1),
            "`archbuild accel bundle trixie`",
        ],
    );
    eprintln!("whole test: {:.0} s", began.elapsed().as_secs_f64());
}
