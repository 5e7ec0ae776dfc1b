//! Commands racing on one container, as real processes: two starts, stop during enter,
//! remove during start, binfmt register during start, and a damaged record beside good
//! ones. Each runs in a throwaway mount namespace with `/` rshared.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestEnv;

fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    env.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run archbuild")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// How many mounts sit exactly at `path` in this namespace.
fn mounts_at(path: &Path) -> usize {
    let path = path.to_str().unwrap();
    common::mount_table()
        .iter()
        .filter(|l| l.split(' ').next() == Some(path))
        .count()
}

fn start_args(root: &Path) -> Vec<String> {
    [
        "start",
        "--arch",
        "aarch64",
        "--location",
        root.to_str().unwrap(),
        "--name",
        "race",
    ]
    .map(String::from)
    .to_vec()
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn setup() -> Option<(TestEnv, PathBuf)> {
    if !common::have_qemu_tools() {
        return None;
    }
    let env = TestEnv::new();
    let root = common::busybox_root(env.path(), "arm64");
    Some((env, root))
}

#[test]
fn two_starts_make_one_pin() {
    isolated!();
    let Some((env, root)) = setup() else {
        return;
    };
    let args = start_args(&root);
    let pin = env.path().join("pins/race");
    for round in 0..10 {
        let a = spawn(&env, &as_strs(&args));
        let b = spawn(&env, &as_strs(&args));
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        for out in &outs {
            assert!(out.status.success(), "round {round}: {}", text(out));
        }
        let started = outs
            .iter()
            .filter(|o| text(o).contains("started container"))
            .count();
        let already = outs
            .iter()
            .filter(|o| text(o).contains("already running"))
            .count();
        assert_eq!((started, already), (1, 1), "round {round}");
        assert_eq!(
            mounts_at(&pin),
            1,
            "round {round}: the pin is mounted more than once"
        );
        env.ok(&["stop", "race"]);
        assert_eq!(mounts_at(&pin), 0);
    }
}

#[test]
fn stop_during_enter_ends_the_command_and_leaves_no_pin() {
    isolated!();
    let Some((env, root)) = setup() else {
        return;
    };
    let args = start_args(&root);
    for round in 0..5 {
        env.ok(&as_strs(&args));
        let mut inside = spawn(&env, &["enter", "race", "--root", "--", "sleep", "300"]);
        std::thread::sleep(Duration::from_millis(40 * round));
        env.ok(&["stop", "race", "--timeout", "1"]);
        let began = Instant::now();
        while inside.try_wait().unwrap().is_none() {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "round {round}: the command inside outlived stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!env.path().join("pins/race").exists(), "round {round}");
        let status = env.ok(&["status", "race"]);
        assert!(status.contains("stopped"), "round {round}: {status}");
    }
}

#[test]
fn remove_during_start_never_deletes_a_running_root() {
    isolated!();
    let Some((env, root)) = setup() else {
        return;
    };
    let args = start_args(&root);
    for round in 0..6 {
        if !root.exists() {
            common::busybox_root(env.path(), "arm64");
        }
        // The container must be known for remove to act on it.
        env.ok(&as_strs(&args));
        env.ok(&["stop", "race"]);
        let start = spawn(&env, &as_strs(&args));
        std::thread::sleep(Duration::from_millis(15 * round));
        let remove = spawn(&env, &["remove", "race"]);
        let (start, remove) = (
            start.wait_with_output().unwrap(),
            remove.wait_with_output().unwrap(),
        );
        let running = env.path().join("pins/race").exists();
        if running {
            assert!(start.status.success(), "round {round}: {}", text(&start));
            assert!(
                !remove.status.success(),
                "round {round}: removed while running"
            );
            assert!(
                text(&remove).contains("is running"),
                "round {round}: {}",
                text(&remove)
            );
            assert!(
                root.join("bin").exists(),
                "round {round}: the running root was deleted"
            );
            env.ok(&["stop", "race"]);
        } else {
            // remove came first: the start after it finds no container or no root.
            assert!(remove.status.success(), "round {round}: {}", text(&remove));
            assert!(
                !start.status.success() || root.join("bin").exists(),
                "round {round}"
            );
        }
    }
}

#[test]
fn binfmt_register_during_start_keeps_every_container_working() {
    isolated!();
    let Some((env, root)) = setup() else {
        return;
    };
    let args = start_args(&root);
    let done = std::sync::atomic::AtomicBool::new(false);
    let registrations = std::thread::scope(|scope| {
        let registering = scope.spawn(|| {
            let mut runs = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                env.ok(&["binfmt", "register", "aarch64"]);
                runs += 1;
            }
            runs
        });
        for round in 0..8 {
            env.ok(&as_strs(&args));
            let out = env.ok(&["enter", "race", "--root", "--", "uname", "-m"]);
            assert_eq!(out.trim(), "aarch64", "round {round}");
            env.ok(&["stop", "race"]);
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        registering.join().unwrap()
    });
    assert!(registrations > 0);
}

#[test]
fn a_damaged_record_is_named_and_the_others_are_still_listed() {
    let env = TestEnv::new();
    let dir = env.path().join("state/containers");
    std::fs::create_dir_all(&dir).unwrap();
    let good = r#"{"name":"good","arch":"aarch64","location":"/srv/good","binds":[],"emulator":null,"origin":"existing"}"#;
    std::fs::write(dir.join("good.json"), good).unwrap();
    std::fs::write(dir.join("bad.json"), &good[..30]).unwrap();
    let out = env.run(&["list"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("good"),
        "{}",
        text(&out)
    );
    let line = common::assert_one_line_error(&out, "list", 1, &["bad.json", "damaged"]);
    assert!(
        line.contains("archbuild start --arch ARCH --location DIR --name bad"),
        "{line}"
    );
    let json = env.run(&["list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(rows.as_array().unwrap().len(), 1);
    env.fails(&["status", "bad"], 1, "bad.json is damaged");
}
