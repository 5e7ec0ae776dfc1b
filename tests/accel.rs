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
            perl: None,
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
            perl: None,
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
    // what is registered is the handler file with qemu inside, made when it starts
    let registered = env.path().join("state/accel/archbuild-accel-aarch64");
    assert_eq!(
        plan["binfmt"]["entry"]["interpreter"],
        registered.to_str().unwrap()
    );
    assert_eq!(plan["accel"]["handler"], handler.to_str().unwrap());
    assert_eq!(plan["accel"]["registered"], registered.to_str().unwrap());
    assert!(
        !registered.exists(),
        "a dry run made {}",
        registered.display()
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

/// The profile mode with the real handler: switched on by `archbuild accel profile`
/// (a file in the container's log directory, bound into the root as the test's bundle
/// log), every exec is timed into the log, the program's end (exit status, signal) is
/// the handler's, signals sent to the handler reach the program, and `accel status`
/// ranks the paths by emulated CPU time. Also the qemu argv the handler builds:
/// `-cpu max,pauth-impdef=on` for aarch64 unless QEMU_CPU is set.
#[test]
fn the_profile_mode_times_every_exec_and_ends_as_the_program_did() {
    isolated!();
    if !common::have_qemu_tools()
        || !common::prerequisite(
            common::tool("gcc").is_some() && Path::new("/usr/lib/x86_64-linux-gnu/libc.a").exists(),
            "gcc and libc6-dev (a static x86_64 tool for the bundle)",
        )
    {
        return;
    }
    use std::os::unix::process::ExitStatusExt;
    let handler = handler();
    let env = common::TestEnv::new();
    let root = common::busybox_root(env.path(), "arm64");
    let busybox = root.join("bin/busybox");
    marked_copy(&busybox.clone(), &busybox);
    let gcc = root.join("usr/bin/aarch64-linux-gnu-gcc-12");
    std::fs::copy(&busybox, &gcc).unwrap();
    std::fs::create_dir_all(root.join("usr/local/bin")).unwrap();
    std::os::unix::fs::symlink(
        "/usr/bin/aarch64-linux-gnu-gcc-12",
        root.join("usr/local/bin/echo"),
    )
    .unwrap();
    let bundles = planning_bundle(env.path());
    let bundle = bundles.join("x86_64-for-aarch64");
    std::fs::create_dir_all(bundle.join("bin")).unwrap();
    let marker = native_tool(env.path());
    std::fs::copy(&marker, bundle.join("bin/marker")).unwrap();
    let mut m =
        manifest::parse(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap()).unwrap();
    let tool = m
        .tools
        .get_mut("/usr/bin/aarch64-linux-gnu-gcc-12")
        .unwrap();
    tool.native = "/emul/x86_64-for-aarch64/bin/marker".into();
    tool.identity = Identity::of_file(&gcc).unwrap();
    std::fs::write(bundle.join("manifest.json"), manifest::format(&m)).unwrap();
    let env = env.with_env("ARCHBUILD_ACCEL_BUNDLES", &bundles);
    let root_arg = root.to_str().unwrap();
    let containers = env.path().join("state/containers");
    std::fs::create_dir_all(&containers).unwrap();
    let record = |name: &str, accel: bool| {
        std::fs::write(
            containers.join(format!("{name}.json")),
            format!(
                r#"{{"name":"{name}","arch":"aarch64","location":"{root_arg}","accel":{accel}}}"#
            ),
        )
        .unwrap()
    };
    record("acc", true);
    record("plain", false);
    env.fails(
        &["accel", "profile", "plain", "on"],
        1,
        "plain is not accelerated",
    );
    let on = env.ok(&["accel", "profile", "acc", "on"]);
    assert!(on.contains("profile mode on for acc"), "{on}");
    let logs = env.path().join("state/accel-logs/acc");
    assert!(logs.join("profile").exists());

    let inside = root.join("emul/x86_64-for-aarch64");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::write(root.join("qemu-aarch64"), "").unwrap();
    std::fs::create_dir_all(root.join("proc")).unwrap();
    let _mounted = Mounted(vec![
        inside.clone(),
        inside.join("log"),
        root.join("qemu-aarch64"),
        root.join("proc"),
        root.join("qemu-aarch64"),
    ]);
    common::sh(&format!(
        "mount --bind {} {} && mount -o remount,bind,ro {1} && mount --bind {} {1}/log \
         && mount --bind /usr/bin/qemu-aarch64-static {} && mount -o remount,bind,ro {3} \
         && mount -t proc proc {}",
        bundle.display(),
        inside.display(),
        logs.display(),
        root.join("qemu-aarch64").display(),
        root.join("proc").display()
    ));
    let log = logs.join("handler.log");
    let _entry = register_marked(&handler, "accel-profile", b'P');
    // This test's binaries carry its own marker.
    for file in [&busybox, &gcc] {
        let mut bytes = std::fs::read(file).unwrap();
        bytes[15] = b'P';
        std::fs::write(file, bytes).unwrap();
    }
    let mut m =
        manifest::parse(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap()).unwrap();
    m.tools
        .get_mut("/usr/bin/aarch64-linux-gnu-gcc-12")
        .unwrap()
        .identity = Identity::of_file(&gcc).unwrap();
    common::sh(&format!("mount -o remount,bind,rw {}", inside.display()));
    std::fs::write(bundle.join("manifest.json"), manifest::format(&m)).unwrap();
    let lines = |kind: &str| -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.split(' ').nth(2) == Some(kind))
            .map(str::to_string)
            .collect()
    };

    // Exit statuses and a signal death pass through the handler.
    let exit7 = in_root(&root, &[], &["/bin/sh", "-c", "exit 7"]);
    assert_eq!(exit7.status.code(), Some(7), "{exit7:?}");
    let killed = in_root(&root, &[], &["/bin/sh", "-c", "kill -TERM $$; sleep 5"]);
    assert_eq!(killed.status.signal(), Some(15), "{killed:?}");
    let through_shell = in_root(
        &root,
        &[],
        &["/bin/sh", "-c", "/bin/sh -c 'kill -TERM $$'; echo $?"],
    );
    assert_eq!(stdout(&through_shell), "143\n");
    // An emulated loop, three times; a nested shell; the native tool.
    for _ in 0..3 {
        stdout(&in_root(
            &root,
            &[],
            &[
                "/bin/sh",
                "-c",
                "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done",
            ],
        ));
    }
    assert_eq!(
        stdout(&in_root(&root, &[], &["echo", "hi"])),
        "NATIVE argv0=echo hi\n"
    );
    let emulated = lines("emulated");
    // exit 7, TERM, the outer shell and its inner one, 3 loops.
    assert_eq!(emulated.len(), 7, "{emulated:#?}");
    let fields = |l: &str| -> Vec<String> { l.split(' ').map(str::to_string).collect() };
    for line in &emulated {
        let f = fields(line);
        assert_eq!(f[3], "/bin/busybox", "{line}");
        let number = |i: usize, key: &str| -> f64 {
            f[i].strip_prefix(key)
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{line}"))
        };
        let (own, cpu, wall) = (number(4, "self="), number(5, "cpu="), number(6, "wall="));
        assert!(
            own <= cpu + 1e-9 && cpu < 60.0 && wall > 0.0 && wall < 120.0,
            "{line}"
        );
    }
    assert!(emulated[0].ends_with(" exit=7"), "{}", emulated[0]);
    assert!(emulated[1].ends_with(" signal=15"), "{}", emulated[1]);
    // The inner shell ends first; the outer one's cpu= includes it (wait4).
    let cpu_of = |l: &str| -> f64 { fields(l)[5].strip_prefix("cpu=").unwrap().parse().unwrap() };
    assert!(
        cpu_of(&emulated[3]) >= cpu_of(&emulated[2]),
        "{:?}",
        &emulated[2..4]
    );
    let loops: Vec<f64> = emulated[4..7]
        .iter()
        .map(|l| fields(l)[4].strip_prefix("self=").unwrap().parse().unwrap())
        .collect();
    assert!(
        loops.iter().all(|s| *s > 0.0),
        "a loop of 3000 takes CPU: {loops:?}"
    );
    let native = lines("native");
    assert_eq!(native.len(), 1, "{native:?}");
    assert!(
        native[0].contains(" native /usr/bin/aarch64-linux-gnu-gcc-12 ")
            && native[0].ends_with(" exit=0"),
        "{native:?}"
    );

    // The child gets the dispositions and the mask the handler got: an ignored SIGPIPE,
    // a blocked SIGUSR1 (native tool, which prints them), and an ignored SIGCHLD does
    // not lose the program's exit status.
    let perl = common::tool("perl").expect("perl (perl-base)");
    let with_perl = |script: &str, argv: &[&str]| {
        Command::new(&perl)
            .args(["-MPOSIX", "-e", script])
            .arg(common::tool("chroot").unwrap())
            .arg(&root)
            .args(argv)
            .env("MARKER_SIGNALS", "1")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .unwrap()
    };
    let native_before = lines("native").len();
    let transparent = with_perl(
        "$SIG{PIPE} = 'IGNORE'; sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR1)); exec @ARGV",
        &["echo"],
    );
    assert_eq!(
        stdout(&transparent),
        "NATIVE argv0=echo sigpipe=ign usr1=blocked\n"
    );
    assert_eq!(lines("native").len(), native_before + 1, "it was profiled");
    let no_sigchld = with_perl(
        "$SIG{CHLD} = 'IGNORE'; exec @ARGV",
        &["/bin/sh", "-c", "exit 9"],
    );
    assert_eq!(no_sigchld.status.code(), Some(9), "{no_sigchld:?}");

    // A signal sent to the handler (the pid its parent knows) reaches the program.
    let mut trapped = Command::new(common::tool("chroot").unwrap())
        .arg(&root)
        .args([
            "/bin/sh",
            "-c",
            "trap 'exit 5' TERM; echo ready; while :; do :; done",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(trapped.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready, "ready\n");
    common::sh(&format!("kill -TERM {}", trapped.id()));
    assert_eq!(
        trapped.wait().unwrap().code(),
        Some(5),
        "the program's trap ran"
    );

    // accel status ranks by emulated CPU time.
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["accel", "status", "acc", "--json"])).unwrap();
    assert_eq!(json["profile"], true);
    let busybox_counts = &json["per_path"]["/bin/busybox"];
    assert_eq!(busybox_counts["emulated"], 9, "{json:#}");
    assert_eq!(busybox_counts["signalled"], 2, "{json:#}");
    assert!(busybox_counts["emulated_cpu"].as_f64().unwrap() > 0.0);
    let gcc_counts = &json["per_path"]["/usr/bin/aarch64-linux-gnu-gcc-12"];
    assert_eq!(
        (gcc_counts["hits"].as_u64(), gcc_counts["native"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        json["by_emulated_cpu"][0]["path"], "/bin/busybox",
        "{json:#}"
    );
    let text = env.ok(&["accel", "status", "acc"]);
    assert!(text.contains("profile:     on"), "{text}");
    let first_row = text.lines().find(|l| l.starts_with('/')).unwrap();
    assert!(first_row.starts_with("/bin/busybox "), "{text}");

    // The environment wins over the switch file either way; off removes the file.
    let count = || lines("emulated").len();
    let before = count();
    stdout(&in_root(
        &root,
        &[("ARCHBUILD_ACCEL_PROFILE", "0")],
        &["/bin/true"],
    ));
    assert_eq!(count(), before);
    env.ok(&["accel", "profile", "acc", "off"]);
    assert!(!logs.join("profile").exists());
    stdout(&in_root(&root, &[], &["/bin/true"]));
    assert_eq!(count(), before, "off: not timed");
    stdout(&in_root(
        &root,
        &[("ARCHBUILD_ACCEL_PROFILE", "1")],
        &["/bin/true"],
    ));
    assert_eq!(count(), before + 1);

    // The qemu argv: with the marker tool in qemu's place, it prints what it got.
    common::sh(&format!(
        "mount --bind {} {}",
        marker.display(),
        root.join("qemu-aarch64").display()
    ));
    assert_eq!(
        stdout(&in_root(&root, &[], &["/bin/uname", "-m"])),
        "NATIVE argv0=/qemu-aarch64 -cpu max,pauth-impdef=on -0 /bin/uname /bin/uname -m\n"
    );
    assert_eq!(
        stdout(&in_root(
            &root,
            &[("QEMU_CPU", "cortex-a57")],
            &["/bin/uname", "-m"]
        )),
        "NATIVE argv0=/qemu-aarch64 -0 /bin/uname /bin/uname -m\n",
        "the user's QEMU_CPU wins"
    );
}

/// The handler file archbuild registers carries the arch's qemu: a root with no qemu of
/// its own (a chroot of another tool, say) still runs its programs emulated.
#[test]
fn a_root_without_qemu_runs_the_qemu_inside_the_registered_handler_file() {
    isolated!();
    if !common::have_qemu_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let handler = handler();
    let root = common::busybox_root(dir.path(), "arm64");
    let busybox = root.join("bin/busybox");
    marked_copy(&busybox.clone(), &busybox);
    std::fs::create_dir_all(root.join("proc")).unwrap();
    let _mounted = Mounted(vec![root.join("proc")]);
    common::sh(&format!(
        "mount -t proc proc {}",
        root.join("proc").display()
    ));
    assert!(
        !root.join("qemu-aarch64").exists() && !root.join("usr/bin/qemu-aarch64-static").exists()
    );

    // the bare handler: nowhere to find qemu
    let bare = register(&handler);
    let out = in_root(&root, &[], &["/bin/busybox", "uname", "-m"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no emulator for aarch64 could be executed")
            && stderr.contains("the embedded qemu (this handler file carries no qemu)"),
        "{stderr}"
    );
    drop(bare);

    // the file archbuild registers: the handler with qemu-aarch64 appended
    let aarch64 = archbuild::arch::lookup("aarch64").unwrap();
    let combined = archbuild::accel::host::combine(
        &handler,
        Path::new("/usr/bin/qemu-aarch64-static"),
        aarch64,
        &dir.path().join("accel"),
    )
    .unwrap();
    archbuild::emulator::verify(&combined).expect("the registered file passes as an emulator");
    let _entry = register_marked(&combined, "accel-embedded", MARKER);
    assert_eq!(
        stdout(&in_root(&root, &[], &["/bin/busybox", "uname", "-m"])),
        "aarch64\n"
    );
    let out = in_root(
        &root,
        &[],
        &["/bin/busybox", "sh", "-c", "busybox true && exit 3"],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}
