//! Containers end to end with real qemu-user-static, real binfmt_misc, real mount
//! namespaces and small real roots (Debian's busybox-static for each arch). Every test
//! that starts containers runs in a throwaway mount namespace with `/` rshared.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type Env = common::TestEnv;

trait ContainerEnv {
    fn start(&self, arch: &str, root: &Path, name: &str, extra: &[&str]) -> String;
    fn root(&self, deb_arch: &str) -> PathBuf;
}

impl ContainerEnv for Env {
    /// `archbuild start --arch ARCH --location ROOT --name NAME [EXTRA...]`, which must work.
    fn start(&self, arch: &str, root: &Path, name: &str, extra: &[&str]) -> String {
        let root = root.to_str().unwrap();
        let mut args = vec!["start", "--arch", arch, "--location", root, "--name", name];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    /// A busybox root of Debian arch `deb_arch` under this environment.
    fn root(&self, deb_arch: &str) -> PathBuf {
        common::busybox_root(self.path(), deb_arch)
    }
}

fn have_tools() -> bool {
    common::have_qemu_tools()
}

/// A fake sudo user (see `common::fake_sudo_user`) with a file in their home and one in
/// /var/tmp, to see from inside.
fn fake_sudo_user() -> PathBuf {
    let work = common::fake_sudo_user();
    std::fs::write("/home/pkger/marker", "home-visible\n").unwrap();
    std::fs::write("/var/tmp/marker", "vartmp-visible\n").unwrap();
    work
}

#[test]
fn start_enter_stop_for_each_arch() {
    isolated!();
    if !have_tools() {
        return;
    }
    let work = fake_sudo_user();
    let env = Env::new();
    for (deb, obs) in [
        ("arm64", "aarch64"),
        ("armhf", "armv7l"),
        ("ppc64el", "ppc64le"),
        ("s390x", "s390x"),
        ("riscv64", "riscv64"),
    ] {
        let root = env.root(deb);
        let run = |args: &[&str]| -> Output {
            common::archbuild(env.path())
                .args(args)
                .env("SUDO_USER", "pkger")
                .current_dir(&work)
                .output()
                .unwrap()
        };
        let out = run(&["start", "--arch", deb, "--location", root.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{obs}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&format!("started container '{obs}'"))
        );

        let out = run(&[
            "enter",
            obs,
            "--",
            "sh",
            "-c",
            "uname -m; id -u; id -g; pwd; cat $HOME/marker /var/tmp/marker; echo $USER",
        ]);
        assert!(
            out.status.success(),
            "{obs}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                obs,
                "4321",
                "4321",
                "/home/pkger/work",
                "home-visible",
                "vartmp-visible",
                "pkger"
            ],
            "{obs}"
        );

        let out = run(&["enter", obs, "--", "sh", "-c", "exit 42"]);
        assert_eq!(
            out.status.code(),
            Some(42),
            "{obs}: exit status passes through"
        );

        let out = run(&["enter", obs, "--root", "--", "id", "-u"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");

        // The article's way in: nsenter lands inside the foreign root.
        let pin = env.path().join("pins").join(obs);
        let out = Command::new("nsenter")
            .arg(format!("--mount={}", pin.display()))
            .args(["/bin/uname", "-m"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            obs,
            "nsenter into {obs}"
        );

        let status = env.ok(&["status", obs, "--json"]);
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        assert_eq!(status["running"], true);
        assert_eq!(
            status["emulator_inside"],
            format!("/qemu-{}", archbuild::arch::lookup(obs).unwrap().qemu)
        );

        assert!(env.ok(&["stop", obs]).contains("stopped"));
        assert!(!pin.exists(), "pin of {obs} left behind");
    }
}

#[test]
fn native_32bit_root_gets_linux32_and_a_login_shell_reads_stdin() {
    isolated!();
    if !have_tools() {
        return;
    }
    let env = Env::new();
    let root = env.root("i386");
    env.ok(&[
        "start",
        "--arch",
        "i586",
        "--location",
        root.to_str().unwrap(),
    ]);
    // i586 on x86_64 needs no emulator, only the linux32 personality.
    assert_eq!(
        env.ok(&["enter", "i586", "--", "uname", "-m"]).trim(),
        "i686"
    );
    let status: serde_json::Value =
        serde_json::from_str(&env.ok(&["status", "i586", "--json"])).unwrap();
    assert!(status["emulator_inside"].is_null(), "{status}");
    assert!(!root.join("qemu-i386").exists());
    let out = env.run(&["enter", "i586", "--", "no-such-command"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "a command that cannot run exits 127"
    );
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot run no-such-command inside the container"));
    // No command: a login shell, here fed by a pipe.
    let mut child = common::archbuild(env.path())
        .args(["enter", "i586", "--root"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo login:$0:$HOME; exit 5\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "login:-sh:/root"
    );
    env.ok(&["stop", "i586"]);
}

#[test]
fn host_mount_table_is_unchanged_after_50_cycles_under_shared_root() {
    isolated!();
    if !have_tools() {
        return;
    }
    let env = Env::new();
    let root = env.root("arm64");
    // The pin directory's private bind is made once, on first use, and kept (as
    // util-linux does): take the baseline after it exists.
    env.start("aarch64", &root, "cycle", &[]);
    env.ok(&["stop", "cycle"]);
    let before = common::mount_table();
    // The throwaway namespace reproduces systemd's shared `/`.
    let root_mount = archbuild::mountinfo::read_own().unwrap();
    assert!(
        root_mount
            .iter()
            .any(|m| m.mount_point == Path::new("/") && m.is_shared()),
        "/ is not shared in the test namespace"
    );
    for i in 0..50 {
        env.ok(&["start", "cycle"]);
        let out = env.run(&["enter", "cycle", "--", "true"]);
        assert!(
            out.status.success(),
            "cycle {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        env.ok(&["stop", "cycle"]);
    }
    let after = common::mount_table();
    assert_eq!(before, after, "the mount table changed");
    let pins: Vec<_> = std::fs::read_dir(env.path().join("pins"))
        .unwrap()
        .collect();
    assert!(pins.is_empty(), "pins left: {pins:?}");
    common::remove_test_binfmt_entries();
    let prefix = common::unique_binfmt_prefix();
    let left: Vec<String> = std::fs::read_dir("/proc/sys/fs/binfmt_misc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "binfmt entries left: {left:?}");
}

#[test]
fn replacing_the_roots_qemu_does_not_affect_the_container() {
    isolated!();
    if !have_tools() {
        return;
    }
    let env = Env::new();
    let root = env.root("arm64");
    env.start("aarch64", &root, "shield", &[]);
    // What installing the target arch's qemu-linux-user / qemu-user-static does: put an
    // aarch64 `qemu-aarch64` over /usr/bin, then replace and delete it again.
    let script = "cp /bin/busybox /usr/bin/qemu-aarch64 && cp /bin/busybox /usr/bin/qemu-aarch64-static \
                  && mv /usr/bin/qemu-aarch64 /usr/bin/qemu-aarch64.new && mv /usr/bin/qemu-aarch64.new /usr/bin/qemu-aarch64 \
                  && uname -m";
    let out = env.ok(&["enter", "shield", "--root", "--", "sh", "-c", script]);
    assert_eq!(out.trim(), "aarch64");
    let out = env.ok(&[
        "enter",
        "shield",
        "--root",
        "--",
        "sh",
        "-c",
        "rm /usr/bin/qemu-aarch64 /usr/bin/qemu-aarch64-static && uname -m && ls / | wc -l",
    ]);
    assert!(out.starts_with("aarch64\n"), "{out}");
    // The emulator inside is read-only and cannot be replaced from inside.
    let out = env.run(&[
        "enter",
        "shield",
        "--root",
        "--",
        "sh",
        "-c",
        "echo x > /qemu-aarch64",
    ]);
    assert!(!out.status.success(), "the emulator inside was writable");
    let out = env.run(&["enter", "shield", "--root", "--", "rm", "/qemu-aarch64"]);
    assert!(
        !out.status.success(),
        "the emulator inside could be removed"
    );
    assert_eq!(
        env.ok(&["enter", "shield", "--", "uname", "-m"]).trim(),
        "aarch64"
    );
    assert!(crate_emulator_intact());
    env.ok(&["stop", "shield"]);
}

fn crate_emulator_intact() -> bool {
    archbuild::emulator::verify(Path::new("/usr/bin/qemu-aarch64-static")).is_ok()
}

#[test]
fn remove_refuses_while_anything_is_bound_and_spares_the_canary() {
    isolated!();
    if !have_tools() {
        return;
    }
    let env = Env::new();
    let root = env.root("arm64");
    let canary_dir = env.path().join("precious");
    std::fs::create_dir_all(&canary_dir).unwrap();
    std::fs::write(canary_dir.join("canary"), "alive").unwrap();
    let bind = format!("{}:/srv/precious", canary_dir.display());
    env.start("aarch64", &root, "rm", &["--bind", &bind]);
    assert_eq!(
        env.ok(&["enter", "rm", "--", "cat", "/srv/precious/canary"]),
        "alive"
    );
    env.fails(&["remove", "rm"], 1, "is running: stop it first");
    env.ok(&["stop", "rm"]);

    // A bind left in the host's namespace (by hand, or by another tool).
    let inside = root.join("srv/precious");
    let status = Command::new("mount")
        .arg("--bind")
        .arg(&canary_dir)
        .arg(&inside)
        .status()
        .unwrap();
    assert!(status.success());
    env.fails(&["remove", "rm"], 1, "refusing to remove");
    assert_eq!(
        std::fs::read_to_string(canary_dir.join("canary")).unwrap(),
        "alive"
    );
    assert!(
        root.join("bin/busybox").exists(),
        "remove deleted part of the root before refusing"
    );

    let status = Command::new("umount").arg(&inside).status().unwrap();
    assert!(status.success());
    env.ok(&["remove", "rm"]);
    assert!(!root.exists());
    assert_eq!(
        std::fs::read_to_string(canary_dir.join("canary")).unwrap(),
        "alive"
    );
    assert!(env.ok(&["list"]).contains("no containers"));
}

#[test]
fn a_broken_binfmt_entry_is_replaced_by_archbuilds_own() {
    isolated!();
    if !have_tools() {
        return;
    }
    let env = Env::new();
    let root = env.root("riscv64");
    // The newest matching entry wins; make it one without F, as old distributions had.
    let broken = format!("{}broken-riscv64", common::unique_binfmt_prefix());
    let arch = archbuild::arch::lookup("riscv64").unwrap();
    let mut entry = archbuild::binfmt::Entry::for_arch(
        arch,
        Path::new("/usr/bin/qemu-riscv64-static"),
        Default::default(),
    );
    entry.name = broken.clone();
    std::fs::write("/proc/sys/fs/binfmt_misc/register", entry.register_line()).unwrap();

    let out = env.run(&[
        "start",
        "--arch",
        "riscv64",
        "--location",
        root.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("registered binfmt entry") && stderr.contains("lacks the F flag"),
        "{stderr}"
    );
    assert_eq!(
        env.ok(&["enter", "riscv64", "--", "uname", "-m"]).trim(),
        "riscv64"
    );
    let status: serde_json::Value =
        serde_json::from_str(&env.ok(&["binfmt", "status", "riscv64", "--json"])).unwrap();
    assert_eq!(
        status[0]["entry"],
        format!("{}riscv64", common::unique_binfmt_prefix())
    );
    assert_eq!(status[0]["usable"], true);

    // systemd-binfmt flushing the table while the container runs: enter re-registers.
    common::remove_test_binfmt_entries();
    let out = env.run(&["enter", "riscv64", "--", "uname", "-m"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "riscv64",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["stop", "riscv64"]);
}

/// A test environment with an arm64 busybox root, and the mount table before.
fn bad_input_env() -> Option<(Env, PathBuf, Vec<String>)> {
    if !have_tools() {
        return None;
    }
    let env = Env::new();
    let root = env.root("arm64");
    Some((env, root, common::mount_table()))
}

fn assert_mounts_unchanged(before: &[String]) {
    assert_eq!(
        before,
        common::mount_table(),
        "a failed command left mounts behind"
    );
}

#[test]
fn bad_arches_and_roots_are_refused() {
    isolated!();
    let Some((env, root, before)) = bad_input_env() else {
        return;
    };
    let r = root.to_str().unwrap();
    env.fails(
        &["start", "--arch", "vax", "--location", r],
        1,
        "unknown architecture 'vax'",
    );
    env.fails(&["start", "--arch", "arm", "--location", r], 1, "ambiguous");
    env.fails(
        &["start", "--arch", "s390x", "--location", r],
        1,
        "is a aarch64 root, not s390x: pass --arch aarch64",
    );
    env.fails(
        &[
            "start",
            "--arch",
            "aarch64",
            "--location",
            "/nonexistent/root",
        ],
        1,
        "does not exist",
    );
    assert_mounts_unchanged(&before);
}

#[test]
fn bad_names_are_usage_errors() {
    isolated!();
    let Some((env, root, before)) = bad_input_env() else {
        return;
    };
    let r = root.to_str().unwrap();
    for (name, why) in [
        ("../etc", "invalid container name"),
        ("a/b", "contains '/'"),
        ("", "empty"),
    ] {
        env.fails(
            &[
                "start",
                "--arch",
                "aarch64",
                "--location",
                r,
                "--name",
                name,
            ],
            2,
            why,
        );
    }
    for command in ["start", "enter", "status", "remove", "stop"] {
        env.fails(
            &[command, "nosuch"],
            1,
            "no container called 'nosuch': `archbuild list` shows the known ones",
        );
    }
    assert_mounts_unchanged(&before);
}

#[test]
fn bad_emulators_are_refused() {
    isolated!();
    let Some((env, root, before)) = bad_input_env() else {
        return;
    };
    let r = root.to_str().unwrap();
    let start = |emulator: &str| {
        vec![
            "start".to_string(),
            "--arch".into(),
            "aarch64".into(),
            "--location".into(),
            r.into(),
            "--emulator".into(),
            emulator.into(),
        ]
    };
    let args = start("/bin/sh");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.fails(&args, 1, "dynamically linked");
    let args = start("/nonexistent/qemu");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.fails(&args, 1, "emulator /nonexistent/qemu cannot be used");
    assert_mounts_unchanged(&before);
}

#[test]
fn host_trouble_is_named_with_its_fix() {
    isolated!();
    let Some((env, root, before)) = bad_input_env() else {
        return;
    };
    let r = root.to_str().unwrap();
    let start = ["start", "--arch", "aarch64", "--location", r];
    // binfmt_misc unavailable: a directory where it cannot be mounted.
    let out = env
        .cmd(&start)
        .env("ARCHBUILD_BINFMT_MISC", env.path().join("no-binfmt"))
        .output()
        .unwrap();
    common::assert_one_line_error(&out, "no binfmt_misc", 1, &["binfmt_misc is not available"]);
    // Pin directory trouble: a file where the directory should be.
    let file = env.path().join("pinfile");
    std::fs::write(&file, "").unwrap();
    let out = env
        .cmd(&start)
        .env("ARCHBUILD_PIN_DIR", &file)
        .output()
        .unwrap();
    common::assert_one_line_error(&out, "pin dir", 1, &["cannot create the pin directory"]);
    // A bind whose source is missing names the fix.
    env.fails(
        &["start", "--arch", "aarch64", "--location", r, "--bind", "/nonexistent/src:/src"],
        1,
        "cannot bind /nonexistent/src into the container: it does not exist on the host; create it (mkdir -p /nonexistent/src)",
    );
    // Not root.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(common::archbuild_bin())
        .args(start)
        .env("ARCHBUILD_STATE_DIR", env.path().join("state"))
        .output()
        .unwrap();
    common::assert_one_line_error(&out, "not root", 1, &["needs root: run it with sudo"]);
    assert_mounts_unchanged(&before);
}

#[test]
fn a_mount_the_kernel_refuses_fails_naming_the_step_and_the_fix() {
    isolated!();
    let Some((env, root, before)) = bad_input_env() else {
        return;
    };
    // A file bound onto a directory: the kernel refuses it inside the new namespace.
    let r = root.to_str().unwrap();
    let line = env.fails(
        &[
            "start",
            "--arch",
            "aarch64",
            "--location",
            r,
            "--bind",
            "/etc/hostname:/x",
        ],
        1,
        "binding /etc/hostname at",
    );
    assert!(line.contains("failed (ENOTDIR"), "{line}");
    assert!(line.contains("--bind takes directories"), "{line}");
    assert!(!env.path().join("pins/aarch64").exists(), "no pin is left");
    assert_mounts_unchanged(&before);
}

#[test]
fn stale_pins_are_cleared_and_other_files_are_not() {
    isolated!();
    let Some((env, root, _)) = bad_input_env() else {
        return;
    };
    let r = root.to_str().unwrap();
    // A pin file left from an earlier boot (an empty file, no namespace behind it).
    std::fs::create_dir_all(env.path().join("pins")).unwrap();
    std::fs::write(env.path().join("pins/aarch64"), "").unwrap();
    let out = env.run(&["start", "--arch", "aarch64", "--location", r]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed stale pin"));
    env.ok(&["stop", "aarch64"]);
    // Stopping a known, stopped container is no error.
    assert!(env.ok(&["stop", "aarch64"]).contains("is not running"));
    // Something else at the pin path is not touched.
    std::fs::write(env.path().join("pins/aarch64"), "precious").unwrap();
    env.fails(&["start", "aarch64"], 1, "is not a namespace pin");
    assert_eq!(
        std::fs::read_to_string(env.path().join("pins/aarch64")).unwrap(),
        "precious"
    );
}

#[test]
fn binfmt_register_install_unregister_with_unique_names() {
    isolated!();
    if !have_tools() {
        return;
    }
    let env = Env::new();
    let prefix = common::unique_binfmt_prefix();
    let out = env.ok(&["binfmt", "install", "s390x", "ppc64le"]);
    assert!(out.contains(&format!("installed {prefix}s390x")), "{out}");
    let conf =
        std::fs::read_to_string(env.path().join(format!("binfmt.d/{prefix}s390x.conf"))).unwrap();
    assert!(
        conf.contains(&format!(":{prefix}s390x:M::")) && conf.trim_end().ends_with(":FP"),
        "{conf}"
    );
    let live = std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/{prefix}s390x")).unwrap();
    assert!(
        live.contains("flags: FP") || live.contains("flags: PF"),
        "{live}"
    );
    let out = env.run(&["binfmt", "register", "s390x", "--flags", "OCFP"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("as root"),
        "C must warn"
    );
    env.fails(
        &["binfmt", "register", "s390x", "--flags", "FZ"],
        2,
        "unknown binfmt flag",
    );
    env.fails(&["binfmt", "register", "x86_64"], 1, "runs natively");
    let out = env.ok(&["binfmt", "unregister", "s390x", "ppc64le", "--persistent"]);
    assert!(out.contains(&format!("removed {prefix}s390x")), "{out}");
    assert!(!Path::new(&format!("/proc/sys/fs/binfmt_misc/{prefix}s390x")).exists());
    assert!(!env
        .path()
        .join(format!("binfmt.d/{prefix}s390x.conf"))
        .exists());
}

#[test]
fn arches_table_reports_emulators_and_entries() {
    let out = Command::new(common::archbuild_bin())
        .args(["arches", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["obs"].as_str().unwrap())
        .collect();
    for arch in [
        "armv6l",
        "armv7l",
        "aarch64",
        "ppc64le",
        "ppc64",
        "s390x",
        "riscv64",
        "i586",
        "x86_64",
        "loongarch64",
    ] {
        assert!(names.contains(&arch), "{arch} missing");
    }
    let armv7 = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["obs"] == "armv7l")
        .unwrap();
    assert_eq!(armv7["rpm"], "armv7hl");
    assert_eq!(armv7["deb"], "armhf");
    assert_eq!(armv7["qemu"], "arm");
    if Path::new("/usr/bin/qemu-arm-static").exists() {
        assert_eq!(armv7["emulator"], "/usr/bin/qemu-arm-static");
        assert_eq!(armv7["emulator_static"], true);
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(common::archbuild_bin())
        .args(["start", "--location", "/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(common::archbuild_bin())
        .args(["frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn stop_ends_processes_inside_after_the_grace_period() {
    isolated!();
    if !have_tools() {
        return;
    }
    let env = Env::new();
    let root = env.root("arm64");
    env.start("aarch64", &root, "busy", &[]);
    // One process that ends on SIGTERM, one that ignores it.
    let mut polite = common::archbuild(env.path())
        .args(["enter", "busy", "--root", "--", "sleep", "300"])
        .spawn()
        .unwrap();
    let mut stubborn = common::archbuild(env.path())
        .args([
            "enter",
            "busy",
            "--root",
            "--",
            "sh",
            "-c",
            "trap '' TERM; touch /tmp/trapped; while true; do sleep 1; done",
        ])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status: serde_json::Value =
            serde_json::from_str(&env.ok(&["status", "busy", "--json"])).unwrap();
        let commands: Vec<String> = status["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["command"].as_str().unwrap_or("").to_string())
            .collect();
        let trapped = env
            .run(&[
                "enter",
                "busy",
                "--root",
                "--",
                "test",
                "-e",
                "/tmp/trapped",
            ])
            .status
            .success();
        if trapped && commands.iter().any(|c| c.contains("sleep 300")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "processes never showed up: {commands:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = env.ok(&["stop", "busy", "--timeout", "1"]);
    assert!(out.contains("killed after 1s"), "{out}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        polite.wait().unwrap().signal(),
        Some(15),
        "sleep ends with SIGTERM"
    );
    assert_eq!(
        stubborn.wait().unwrap().signal(),
        Some(9),
        "the TERM-ignoring shell is killed"
    );
    assert!(!env.path().join("pins/busy").exists());
}

#[test]
fn doctor_checks_each_precondition() {
    if !common::prerequisite(common::is_root(), "doctor's root check passes only as root")
        || !have_tools()
    {
        return;
    }
    let out = Command::new(common::archbuild_bin())
        .args(["doctor", "aarch64"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok    running as root"), "{text}");
    assert!(
        text.contains("ok    aarch64: static qemu-aarch64 emulator"),
        "{text}"
    );
    // One bootstrap backend is enough: a host with only mmdebstrap passes, and says
    // what zypper would add.
    let Some(mmdebstrap) = common::tool("mmdebstrap") else {
        common::prerequisite(false, "mmdebstrap (apt-get install mmdebstrap)");
        return;
    };
    let tools = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(mmdebstrap, tools.path().join("mmdebstrap")).unwrap();
    let out = Command::new(common::archbuild_bin())
        .args(["doctor", "aarch64"])
        .env("PATH", tools.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("ok    bootstrap backend debian: mmdebstrap"),
        "{text}"
    );
    assert!(text.contains("note  bootstrap backend zypper"), "{text}");
    // None at all fails.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(common::archbuild_bin())
        .args(["doctor", "aarch64"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  bootstrap backend debian"), "{text}");
    // A FAIL line always names its fix, and makes doctor exit 1.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(common::archbuild_bin())
        .args(["doctor", "aarch64"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  running as root -> fix: run archbuild with sudo"),
        "{text}"
    );
}

/// A bundle for aarch64 under `dir` whose manifest lists two root tools, made for the
/// files "as" and "ld" (tests/accel.rs's planning bundle has the same shape).
fn accel_bundle(dir: &Path) -> PathBuf {
    use archbuild::accel::manifest::{self, Identity, Manifest, Tool, Toolchain};
    let bundles = dir.join("bundles");
    let bundle = bundles.join("x86_64-for-aarch64");
    std::fs::create_dir_all(bundle.join("log")).unwrap();
    let tool = |contents: &[u8]| Tool {
        native: "/emul/x86_64-for-aarch64/usr/bin/x".into(),
        args: vec![],
        replace: Default::default(),
        append: vec![],
        emulate_if: vec![],
        unless_followed_by: vec![],
        identity: Identity::of_bytes(contents),
        perl: None,
    };
    let m = Manifest {
        version: manifest::FORMAT_VERSION,
        target: "aarch64".into(),
        toolchain: Toolchain {
            distribution: "debian".into(),
            version: "14.2.0-19".into(),
            triplet: "aarch64-linux-gnu".into(),
        },
        tools: [
            ("/usr/bin/aarch64-linux-gnu-as".to_string(), tool(b"as")),
            ("/usr/bin/aarch64-linux-gnu-ld".to_string(), tool(b"ld")),
        ]
        .into_iter()
        .collect(),
    };
    std::fs::write(bundle.join("manifest.json"), manifest::format(&m)).unwrap();
    bundles
}

#[test]
fn list_status_and_doctor_show_acceleration() {
    if !common::prerequisite(common::is_root(), "doctor's root check passes only as root")
        || !have_tools()
    {
        return;
    }
    let env = Env::new();
    // A root whose assembler is the one the bundle was made for and whose linker changed.
    let root = env.path().join("root");
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(root.join("usr/bin/aarch64-linux-gnu-as"), "as").unwrap();
    std::fs::write(root.join("usr/bin/aarch64-linux-gnu-ld"), "ld, updated").unwrap();
    let bundles = accel_bundle(env.path());
    // A static, root-owned stand-in for the handler (status and doctor only check it).
    let handler = "/usr/bin/qemu-aarch64-static";
    let env = env
        .with_env("ARCHBUILD_ACCEL_BUNDLES", &bundles)
        .with_env("ARCHBUILD_ACCEL_HANDLER", handler);
    let containers = env.path().join("state/containers");
    std::fs::create_dir_all(&containers).unwrap();
    for (name, accel) in [("acc", true), ("plain", false)] {
        std::fs::write(
            containers.join(format!("{name}.json")),
            format!(
                r#"{{"name":"{name}","arch":"aarch64","location":"{}","accel":{accel}}}"#,
                root.display()
            ),
        )
        .unwrap();
    }

    let list = env.ok(&["list"]);
    assert!(list.lines().next().unwrap().contains(" ACCEL "), "{list}");
    let column = |name: &str| {
        let row = list
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{list}"));
        row.split_whitespace().nth(3).unwrap().to_string()
    };
    assert_eq!(
        (column("acc"), column("plain")),
        ("on".into(), "off".into())
    );
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["list", "--json"])).unwrap();
    let accel_of = |name: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["accel"]
            .clone()
    };
    assert_eq!(
        (accel_of("acc"), accel_of("plain")),
        (true.into(), false.into())
    );

    let status: serde_json::Value =
        serde_json::from_str(&env.ok(&["status", "acc", "--json"])).unwrap();
    let accel = &status["accel"];
    assert_eq!(
        status["name"], "acc",
        "the container's fields stay: {status}"
    );
    assert_eq!(accel["accelerated"], true, "{status}");
    assert_eq!(
        accel["bundle"],
        bundles.join("x86_64-for-aarch64").to_str().unwrap()
    );
    assert_eq!(accel["toolchain"]["version"], "14.2.0-19");
    assert_eq!(
        (
            accel["root_match"]["tools"].clone(),
            accel["root_match"]["matching"].clone()
        ),
        (2.into(), 1.into()),
        "{status}"
    );
    assert_eq!(
        accel["root_match"]["differing"][0][0],
        "/usr/bin/aarch64-linux-gnu-ld"
    );
    assert_eq!(accel["handler"], handler);
    assert!(
        accel.get("binfmt_interpreter").is_none(),
        "not running: {status}"
    );
    let text = env.ok(&["status", "acc"]);
    assert!(text.contains("accel:     on"), "{text}");
    assert!(text.contains("matching:  1 of 2 tools"), "{text}");
    assert!(
        text.contains("/usr/bin/aarch64-linux-gnu-ld: the root's file changed"),
        "{text}"
    );
    let plain: serde_json::Value =
        serde_json::from_str(&env.ok(&["status", "plain", "--json"])).unwrap();
    assert_eq!(plain["accel"], serde_json::json!({"accelerated": false}));
    assert!(env.ok(&["status", "plain"]).contains("accel:     off"));

    // doctor: the handler and acc's bundle are fine; without the bundle acc fails.
    let doctor = |env: &Env| {
        let out = env.run(&["doctor", "aarch64"]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = doctor(&env);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("ok    acceleration handler {handler}")),
        "{text}"
    );
    assert!(
        text.contains("ok    aarch64: acc is accelerated and its bundle is usable"),
        "{text}"
    );
    let manifest = bundles.join("x86_64-for-aarch64/manifest.json");
    std::fs::rename(&manifest, manifest.with_extension("away")).unwrap();
    let (code, text) = doctor(&env);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FAIL  aarch64: acc is accelerated, but no acceleration bundle for aarch64")
            && text.contains("-> fix: `archbuild accel bundle acc`"),
        "{text}"
    );
    // No handler: a failure while a container is accelerated, a note once none is.
    let no_handler = Env::new()
        .with_env("ARCHBUILD_ACCEL_BUNDLES", &bundles)
        .with_env("ARCHBUILD_ACCEL_HANDLER", env.path().join("none"));
    let moved = no_handler.path().join("state/containers");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::copy(containers.join("acc.json"), moved.join("acc.json")).unwrap();
    let (code, text) = doctor(&no_handler);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL  acceleration handler: "), "{text}");
    std::fs::remove_file(moved.join("acc.json")).unwrap();
    let (code, text) = doctor(&no_handler);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("note  acceleration handler (only for --accel)"),
        "{text}"
    );

    // tests/run installs the static handler beside the archbuild under test, where
    // `start --accel` finds it without ARCHBUILD_ACCEL_HANDLER.
    let beside = common::archbuild_bin().with_file_name("archbuild-accel");
    if common::prerequisite(
        beside.is_file(),
        "the static handler beside archbuild (tests/run installs it)",
    ) {
        let out = common::archbuild(env.path())
            .args(["doctor", "aarch64"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("ok    acceleration handler {}", beside.display())),
            "{text}"
        );
    }
}
