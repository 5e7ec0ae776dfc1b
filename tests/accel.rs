//! Accelerated roots with the real handler (statically linked), real binfmt_misc and
//! qemu-user-static, in a throwaway mount namespace: a busybox arm64 root whose manifest
//! maps one path to a native x86_64 tool.
//!
//! The test's binfmt entry must not catch other aarch64 binaries of the host (other
//! tests, other containers): it matches only ELF headers with a marker in the padding
//! of `e_ident` (byte 15), which the kernel and qemu ignore and which the test puts into
//! its own root's binaries.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use archbuild::accel::manifest::{self, Identity, Manifest, Tool, Toolchain};
use common::accel::{handler, register_marked, Mounted, Registered};

const MARKER: u8 = b'A';

fn register(handler: &Path) -> Registered {
    register_marked(handler, "accel-aarch64", MARKER)
}

/// Copy an aarch64 ELF with the marker set, so only the test's entry runs it.
fn marked_copy(from: &Path, to: &Path) {
    let mut bytes = std::fs::read(from).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");
    bytes[15] = MARKER;
    std::fs::write(to, bytes).unwrap();
    common::sh(&format!("chmod 755 {}", to.display()));
}

/// A static x86_64 program that says it ran natively, with its argv.
fn native_tool(dir: &Path) -> PathBuf {
    let source = dir.join("marker.c");
    std::fs::write(
        &source,
        "#include <signal.h>\n#include <stdio.h>\n#include <stdlib.h>\n\
         int main(int c, char **v) { printf(\"NATIVE argv0=%s\", v[0]);\n\
         for (int i = 1; i < c; i++) printf(\" %s\", v[i]);\n\
         if (getenv(\"MARKER_SIGNALS\")) { sigset_t m; sigprocmask(SIG_BLOCK, 0, &m);\n\
         printf(\" sigpipe=%s usr1=%s\", signal(SIGPIPE, SIG_IGN) == SIG_IGN ? \"ign\" : \"dfl\",\n\
         sigismember(&m, SIGUSR1) ? \"blocked\" : \"open\"); }\n\
         printf(\"\\n\"); return 0; }\n",
    )
    .unwrap();
    let tool = dir.join("marker");
    let status = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&tool)
        .arg(&source)
        .status()
        .expect("run gcc");
    assert!(status.success(), "gcc -static failed");
    tool
}

fn in_root(root: &Path, env: &[(&str, &str)], argv: &[&str]) -> Output {
    let mut cmd = Command::new(common::tool("chroot").expect("chroot (coreutils)"));
    cmd.arg(root)
        .args(argv)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run chroot")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_handler_runs_listed_tools_natively_and_everything_else_under_qemu() {
    isolated!();
    if !common::have_qemu_tools()
        || !common::prerequisite(
            common::tool("gcc").is_some() && Path::new("/usr/lib/x86_64-linux-gnu/libc.a").exists(),
            "gcc and libc6-dev (a static x86_64 tool for the bundle)",
        )
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let handler = handler();
    let root = common::busybox_root(dir.path(), "arm64");
    let busybox = root.join("bin/busybox");
    marked_copy(&busybox.clone(), &busybox);
    // The root's "compiler": an aarch64 ELF (busybox again); called as `echo` through a
    // link, it prints its arguments when emulated.
    let gcc = root.join("usr/bin/aarch64-linux-gnu-gcc-12");
    std::fs::copy(&busybox, &gcc).unwrap();
    std::fs::create_dir_all(root.join("usr/local/bin")).unwrap();
    std::os::unix::fs::symlink(
        "/usr/bin/aarch64-linux-gnu-gcc-12",
        root.join("usr/local/bin/echo"),
    )
    .unwrap();

    // The bundle: the native tool, the manifest, a writable log directory.
    let bundle = dir.path().join("bundle");
    std::fs::create_dir_all(bundle.join("bin")).unwrap();
    std::fs::create_dir_all(bundle.join("log")).unwrap();
    std::fs::copy(native_tool(dir.path()), bundle.join("bin/marker")).unwrap();
    let mut tools = std::collections::BTreeMap::new();
    tools.insert(
        "/usr/bin/aarch64-linux-gnu-gcc-12".to_string(),
        Tool {
            native: "/emul/x86_64-for-aarch64/bin/marker".into(),
            args: vec!["--sysroot=/".into()],
            replace: Default::default(),
            append: vec![],
            emulate_if: vec![],
            unless_followed_by: vec![],
            identity: Identity::of_file(&gcc).unwrap(),
        },
    );
    let m = Manifest {
        version: manifest::FORMAT_VERSION,
        target: "aarch64".into(),
        toolchain: Toolchain {
            distribution: "debian".into(),
            version: "12.2.0-14".into(),
            triplet: "aarch64-linux-gnu".into(),
        },
        tools,
    };
    std::fs::write(bundle.join("manifest.json"), manifest::format(&m)).unwrap();
    let inside = root.join("emul/x86_64-for-aarch64");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::write(root.join("qemu-aarch64"), "").unwrap();
    let _mounted = Mounted(vec![
        inside.clone(),
        inside.join("log"),
        root.join("qemu-aarch64"),
    ]);
    common::sh(&format!(
        "mount --bind {} {} && mount -o remount,bind,ro {1} && mount --bind {}/log {1}/log \
         && mount --bind /usr/bin/qemu-aarch64-static {} && mount -o remount,bind,ro {3}",
        bundle.display(),
        inside.display(),
        bundle.display(),
        root.join("qemu-aarch64").display()
    ));
    let log = bundle.join("log/handler.log");
    std::fs::write(&log, "").unwrap();
    let _entry = register(&handler);

    // The listed path, through a link: native, argv[0] preserved, the tool's args first.
    let out = stdout(&in_root(&root, &[], &["echo", "hello", "world"]));
    assert_eq!(
        out,
        "NATIVE argv0=echo --sysroot=/ hello world\n",
        "log: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged
            .contains(" hit /usr/bin/aarch64-linux-gnu-gcc-12 /emul/x86_64-for-aarch64/bin/marker"),
        "{logged}"
    );

    // The exec is transparent: an ignored SIGPIPE stays ignored, a blocked signal
    // stays blocked (as with the kernel's exec), and a default one stays default.
    let signals = |script: &str| {
        let out = Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(common::tool("chroot").unwrap())
            .arg(&root)
            .env("MARKER_SIGNALS", "1")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .unwrap();
        stdout(&out)
    };
    assert_eq!(
        signals("trap '' PIPE; exec \"$@\" echo"),
        "NATIVE argv0=echo --sysroot=/ sigpipe=ign usr1=open\n"
    );
    assert_eq!(
        signals("exec \"$@\" echo"),
        "NATIVE argv0=echo --sysroot=/ sigpipe=dfl usr1=open\n"
    );
    {
        // perl-base is essential on Debian: sigprocmask before exec, as a shell cannot.
        let perl = common::tool("perl").expect("perl (perl-base)");
        let out = Command::new(perl)
            .args([
                "-MPOSIX",
                "-e",
                "sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR1)); exec @ARGV",
            ])
            .arg(common::tool("chroot").unwrap())
            .arg(&root)
            .arg("echo")
            .env("MARKER_SIGNALS", "1")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .unwrap();
        assert!(stdout(&out).ends_with("usr1=blocked\n"), "{}", stdout(&out));
    }

    // Anything else runs under qemu: the arch is the target's, and nothing is logged.
    let before = std::fs::read_to_string(&log).unwrap();
    assert_eq!(stdout(&in_root(&root, &[], &["uname", "-m"])), "aarch64\n");
    assert_eq!(
        stdout(&in_root(
            &root,
            &[],
            &["/bin/sh", "-c", "/usr/local/bin/echo $0; uname -m", "zero"]
        )),
        "NATIVE argv0=/usr/local/bin/echo --sysroot=/ zero\naarch64\n",
        "an emulated shell execs the listed tool natively too"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().lines().count(),
        before.lines().count() + 1
    );

    // The kill switch: emulated, busybox's echo prints, nothing logged.
    let lines = std::fs::read_to_string(&log).unwrap().lines().count();
    let out = in_root(&root, &[("ARCHBUILD_ACCEL", "0")], &["echo", "hello"]);
    assert_eq!(stdout(&out), "hello\n");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().lines().count(),
        lines
    );

    // The root's file changed (a package update): emulated, one log line says why.
    let mut changed = std::fs::read(&gcc).unwrap();
    changed.extend_from_slice(b"update");
    std::fs::write(&gcc, changed).unwrap();
    let out = in_root(&root, &[], &["echo", "hello"]);
    assert_eq!(stdout(&out), "hello\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    let last = logged.lines().last().unwrap();
    assert!(
        last.contains(" fallback /usr/bin/aarch64-linux-gnu-gcc-12 the root's file changed"),
        "{logged}"
    );

    // No writable log: fallbacks go to stderr only with ARCHBUILD_ACCEL_DEBUG.
    common::sh(&format!("umount {}/log", inside.display()));
    let quiet = in_root(&root, &[], &["echo", "hello"]);
    assert_eq!(stdout(&quiet), "hello\n");
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let debug = in_root(&root, &[("ARCHBUILD_ACCEL_DEBUG", "1")], &["echo", "hello"]);
    assert_eq!(stdout(&debug), "hello\n");
    assert!(
        String::from_utf8_lossy(&debug.stderr).contains("archbuild-accel: ")
            && String::from_utf8_lossy(&debug.stderr).contains("the root's file changed"),
        "{}",
        String::from_utf8_lossy(&debug.stderr)
    );
}

/// A bundle for aarch64 under `dir/bundles` listing one path (no native tool needed for
/// planning).
fn planning_bundle(dir: &Path) -> PathBuf {
    let bundles = dir.join("bundles");
    let bundle = bundles.join("x86_64-for-aarch64");
    std::fs::create_dir_all(bundle.join("log")).unwrap();
    let mut tools = std::collections::BTreeMap::new();
    tools.insert(
        "/usr/bin/aarch64-linux-gnu-gcc-12".to_string(),
        Tool {
            native: "/emul/x86_64-for-aarch64/usr/bin/aarch64-linux-gnu-gcc-12".into(),
            args: vec![],
            replace: Default::default(),
            append: vec![],
            emulate_if: vec![],
            unless_followed_by: vec![],
            identity: Identity::of_bytes(b"gcc"),
        },
    );
    let m = Manifest {
        version: manifest::FORMAT_VERSION,
        target: "aarch64".into(),
        toolchain: Toolchain {
            distribution: "debian".into(),
            version: "12.2.0-14".into(),
            triplet: "aarch64-linux-gnu".into(),
        },
        tools,
    };
    std::fs::write(bundle.join("manifest.json"), manifest::format(&m)).unwrap();
    bundles
}

#[test]
fn start_accel_plans_the_handlers_entry_and_the_bundle_and_accel_status_reads_the_log() {
    if !common::prerequisite(common::is_root(), "this test needs root")
        || !common::have_qemu_tools()
    {
        return;
    }
    let handler = handler();
    let env = common::TestEnv::new();
    let root = common::busybox_root(env.path(), "arm64");
    let bundles = planning_bundle(env.path());
    let env = env
        .with_env("ARCHBUILD_ACCEL_BUNDLES", &bundles)
        .with_env("ARCHBUILD_ACCEL_HANDLER", &handler);
    let root_arg = root.to_str().unwrap();
    let start = [
        "start",
        "--arch",
        "aarch64",
        "--location",
        root_arg,
        "--name",
        "acc",
    ];
    let plan: serde_json::Value =
        serde_json::from_str(&env.ok(&[&start[..], &["--accel", "--dry-run"]].concat())).unwrap();
    assert_eq!(plan["accel"]["tools"], 1);
    assert_eq!(plan["binfmt"]["action"], "register");
    assert_eq!(
        plan["binfmt"]["entry"]["interpreter"],
        handler.to_str().unwrap()
    );
    let mounts = plan["mounts"]["mounts"].to_string();
    assert!(
        mounts.contains("\"target\":\"/emul/x86_64-for-aarch64\"")
            && mounts.contains("\"target\":\"/emul/x86_64-for-aarch64/log\""),
        "{mounts}"
    );
    // Not accelerated: as before, qemu's entry and no bundle.
    let plain: serde_json::Value =
        serde_json::from_str(&env.ok(&[&start[..], &["--dry-run"]].concat())).unwrap();
    assert!(plain.get("accel").is_none());
    assert!(!plain["mounts"].to_string().contains("/emul/"));
    assert!(
        env.run(&[&start[..], &["--accel", "--no-accel"]].concat())
            .status
            .code()
            == Some(2)
    );
    // No bundle for the arch: one error line that says what to do.
    let missing = env
        .cmd(&[&start[..], &["--accel", "--dry-run"]].concat())
        .env("ARCHBUILD_ACCEL_BUNDLES", env.path().join("none"))
        .output()
        .unwrap();
    common::assert_one_line_error(
        &missing,
        "no bundle",
        1,
        &[
            "no acceleration bundle for aarch64",
            "start without --accel",
        ],
    );

    // `accel status` of a recorded accelerated container: manifest and the log's counts.
    let containers = env.path().join("state/containers");
    std::fs::create_dir_all(&containers).unwrap();
    std::fs::write(
        containers.join("acc.json"),
        format!(r#"{{"name":"acc","arch":"aarch64","location":"{root_arg}","accel":true}}"#),
    )
    .unwrap();
    let logs = env.path().join("state/accel-logs/acc");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("handler.log"),
        "1 2 hit /usr/bin/aarch64-linux-gnu-gcc-12 /emul/x\n\
         1 3 hit /usr/bin/aarch64-linux-gnu-gcc-12 /emul/x\n\
         1 4 fallback /usr/bin/aarch64-linux-gnu-gcc-12 the root's file changed: y\n",
    )
    .unwrap();
    let text = env.ok(&["accel", "status", "acc"]);
    assert!(text.contains("accelerated: yes"), "{text}");
    assert!(
        text.contains("debian 12.2.0-14 (aarch64-linux-gnu), 1 tools"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("/usr/bin/aarch64-linux-gnu-gcc-12"))
        .unwrap_or_else(|| panic!("{text}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1..3], ["2", "1"], "{row}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["accel", "status", "acc", "--json"])).unwrap();
    assert_eq!(
        json["per_path"]["/usr/bin/aarch64-linux-gnu-gcc-12"]["hits"],
        2
    );
    env.fails(&["accel", "status", "nosuch"], 1, "nosuch");

    // accel bundle: an existing bundle is never overwritten, a root without dpkg gets one
    // line saying so; neither leaves anything behind.
    let existing = bundles.join("x86_64-for-aarch64");
    let before = std::fs::read_to_string(existing.join("manifest.json")).unwrap();
    env.fails(
        &["accel", "bundle", "acc"],
        1,
        "already exists: remove it first",
    );
    assert_eq!(
        std::fs::read_to_string(existing.join("manifest.json")).unwrap(),
        before
    );
    let fresh = env.path().join("fresh-bundle");
    env.fails(
        &[
            "accel",
            "bundle",
            "acc",
            "--output",
            fresh.to_str().unwrap(),
        ],
        1,
        "is not a Debian root (no /var/lib/dpkg/status)",
    );
    assert!(!fresh.exists() && !fresh.with_extension("partial").exists());
}
