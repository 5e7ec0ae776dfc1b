//! `archbuild batch` for real: the packager's osc and real obs-build build the fast
//! fixture's Debian 12 packages (tests/common/deb_build.rs) for several arches against
//! the stand-in OBS, as pkger, in parallel; Ctrl-C half-way and `--resume`; the reports.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::deb_build::{self, DebBuild, DebPackage, REPOSITORY};

/// `archbuild batch ARGS -- --no-verify` as pkger in the checkout of `first`, with the
/// fixture's osc.
fn batch(b: &DebBuild, args: &[&str]) -> Command {
    let osc = b.osc_program();
    let mut full = vec!["batch", "--osc", osc.as_str()];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--", "--no-verify"]);
    b.archbuild(&full, &b.checkout("hello"))
}

fn checkouts(b: &DebBuild, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| b.checkout(n).display().to_string())
        .collect()
}

/// The JSON-lines events of a batch: (event, the cell as `pkg repo/arch`, code or phase).
fn events(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let event = v["event"].as_str()?.to_string();
            let cell = if event == "finished" {
                &v["outcome"]
            } else {
                &v["cell"]
            };
            let name = format!(
                "{} {}/{}",
                cell["package"].as_str()?,
                cell["repository"].as_str()?,
                cell["arch"].as_str()?
            );
            let what = match event.as_str() {
                "finished" => v["outcome"]["code"].as_str()?.to_string(),
                _ => v["phase"].as_str()?.to_string(),
            };
            Some((event, name, what))
        })
        .collect()
}

fn codes(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["cells"]
        .as_array()
        .expect("cells in the report")
        .iter()
        .map(|c| {
            (
                format!(
                    "{} {}/{}",
                    c["package"].as_str().unwrap(),
                    c["repository"].as_str().unwrap(),
                    c["arch"].as_str().unwrap()
                ),
                c["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The two batches build the same cells: one at a time.
static ONE_BATCH_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// No process of this file's builds (their build roots are named after the cells) and
/// no mount under a build root is left.
fn no_build_processes_left() {
    let ps = Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    let left: Vec<&str> = ps
        .lines()
        .filter(|l| {
            l.contains("/var/tmp/build-root/hello_") || l.contains("/var/tmp/build-root/greet_")
        })
        .collect();
    assert!(left.is_empty(), "build processes left: {left:?}");
    assert!(
        !common::mount_table()
            .iter()
            .any(|m| m.contains("/var/tmp/build-root")),
        "mounts of a build root left behind"
    );
}

#[test]
fn two_builds_share_the_package_cache_each_package_downloaded_once() {
    // before isolated!: the test runs in a child process that this one waits for
    let _one = ONE_BATCH_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    isolated!();
    if !deb_build::prerequisites(&["x86_64"]) {
        return;
    }
    let b = DebBuild::new(
        &[DebPackage::new("hello"), DebPackage::new("greet")],
        &["x86_64"],
    );
    let dirs = checkouts(&b, &["hello", "greet"]);
    let started = Instant::now();
    let mut args: Vec<&str> = dirs.iter().map(String::as_str).collect();
    args.extend_from_slice(&["-a", "x86_64", "-j", "2", "--progress", "jsonl"]);
    let out = batch(&b, &args).stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "TIME batch of two native builds at once: {:.1} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        started.elapsed().as_secs_f64()
    );
    assert!(out.status.success(), "batch failed: {}", out.status);
    let ev = events(&stdout);
    let finished: Vec<&(String, String, String)> =
        ev.iter().filter(|e| e.0 == "finished").collect();
    assert_eq!(finished.len(), 2, "{ev:?}");
    assert!(finished.iter().all(|e| e.2 == "succeeded"), "{ev:?}");
    // both ran at once: the second started building before the first finished
    let first_finished = ev.iter().position(|e| e.0 == "finished").unwrap();
    let building: Vec<&String> = ev[..first_finished]
        .iter()
        .filter(|e| e.0 == "phase" && e.2 == "build-root")
        .map(|e| &e.1)
        .collect();
    assert_eq!(building.len(), 2, "not in parallel: {ev:?}");
    // one download per package for both builds
    let served = b.server().served_all();
    let mut counts: BTreeMap<&(String, String), usize> = BTreeMap::new();
    for s in &served {
        *counts.entry(s).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "downloaded more than once: {twice:?}");
    assert_eq!(served.len(), b.root_packages[0].1, "{served:?}");
    // the second waited for the first's downloads (its log says so), then built offline
    let logs: Vec<String> = std::fs::read_dir("/var/tmp/archbuild-batch-pkger")
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|f| std::fs::read_to_string(f.path()).unwrap())
        .collect();
    assert_eq!(logs.len(), 2);
    assert_eq!(
        logs.iter()
            .filter(|l| l.contains("archbuild: waiting for the package cache"))
            .count(),
        1,
        "exactly one build waits for the other's downloads"
    );
    for name in ["hello", "greet"] {
        let root = Path::new("/var/tmp/build-root").join(format!("{name}_{REPOSITORY}_x86_64"));
        assert_eq!(
            b.built_on_in(&root.join("usr/src/packages/DEBS"), name, "amd64"),
            DebBuild::expected_built_on("x86_64")
        );
    }
    no_build_processes_left();

    // the pre-submit check of hello: --resume carries its cell over (same sources and
    // options), --against-server reads OBS's results: failing there, so fixed here
    std::fs::write(
        b.server().results_file(),
        r#"<resultlist state="00000000000000000000000000000000">
  <result project="home:alice" repository="Debian_12" arch="x86_64" code="published" state="published">
    <status package="hello" code="failed"/>
  </result>
</resultlist>
"#,
    )
    .unwrap();
    let osc = b.osc_program();
    let out = b
        .archbuild(
            &[
                "check",
                "--osc",
                &osc,
                "--resume",
                "--against-server",
                "--",
                "--no-verify",
            ],
            &b.checkout("hello"),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "--- check stdout\n{stdout}\n--- check stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "check: {}", out.status);
    assert!(
        stdout.contains("hello Debian_12/x86_64: fixed (here succeeded, OBS failed)"),
        "{stdout}"
    );
    assert!(
        stdout.lines().last().unwrap().starts_with("PASS"),
        "{stdout}"
    );
}

#[test]
fn three_arches_a_failure_an_exclusion_ctrl_c_and_resume() {
    // before isolated!: the test runs in a child process that this one waits for
    let _one = ONE_BATCH_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    isolated!();
    if !deb_build::prerequisites(&["aarch64", "armv7l", "s390x"]) {
        return;
    }
    let xmllint = common::tool("xmllint");
    if !common::prerequisite(
        xmllint.is_some(),
        "xmllint to validate the JUnit report (apt-get install libxml2-utils)",
    ) {
        return;
    }
    let b = DebBuild::with_meta_arches(
        &[
            DebPackage::new("hello").fail_on("s390x"),
            DebPackage::new("greet").architecture("amd64"),
        ],
        &["aarch64", "armv7l", "s390x"],
        &["x86_64", "aarch64", "armv7l", "s390x"],
    );
    let dirs = checkouts(&b, &["hello", "greet"]);
    let arches = ["-a", "aarch64", "-a", "armv7l", "-a", "s390x"];

    // 1: one build at a time; Ctrl-C (SIGINT) once the first cell succeeded and the
    // second is setting up its build root
    let started = Instant::now();
    let mut args: Vec<&str> = dirs.iter().map(String::as_str).collect();
    args.extend_from_slice(&arches);
    args.extend_from_slice(&["-j", "1", "--progress", "jsonl"]);
    let mut child = batch(&b, &args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut stdout = String::new();
    let mut interrupted = false;
    let mut first_succeeded = false;
    for line in BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        stdout.push_str(&line);
        stdout.push('\n');
        first_succeeded |= line.contains("\"finished\"") && line.contains("\"succeeded\"");
        if !interrupted && first_succeeded && line.contains("\"phase\":\"build-root\"") {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGINT,
            )
            .unwrap();
            interrupted = true;
        }
    }
    let status = child.wait().unwrap();
    let stderr = stderr_reader.join().unwrap();
    eprintln!(
        "TIME batch interrupted after its first cell: {:.1} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        started.elapsed().as_secs_f64()
    );
    assert!(interrupted, "no cell succeeded before the batch ended");
    assert_eq!(
        status.code(),
        Some(130),
        "a cancelled batch exits 128+SIGINT"
    );
    let ev = events(&stdout);
    let finished: BTreeMap<String, String> = ev
        .iter()
        .filter(|e| e.0 == "finished")
        .map(|e| (e.1.clone(), e.2.clone()))
        .collect();
    let want: BTreeMap<String, String> = [
        ("hello Debian_12/aarch64", "succeeded"),
        ("hello Debian_12/armv7l", "cancelled"),
        ("hello Debian_12/s390x", "cancelled"),
        ("greet Debian_12/aarch64", "excluded"),
        ("greet Debian_12/armv7l", "excluded"),
        ("greet Debian_12/s390x", "excluded"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(finished, want, "{ev:?}");
    let running_one = stdout
        .lines()
        .find(|l| {
            l.contains("\"finished\"")
                && l.contains("\"package\":\"hello\"")
                && l.contains("\"arch\":\"armv7l\"")
        })
        .unwrap();
    assert!(
        running_one.contains("cancelled before the build finished"),
        "the second cell was running when Ctrl-C came: {running_one}"
    );
    no_build_processes_left();
    let served_after_first = b.server().served_all().len();

    // 2: --resume builds only what is left, two at a time, and writes both reports
    let started = Instant::now();
    let mut args: Vec<&str> = dirs.iter().map(String::as_str).collect();
    args.extend_from_slice(&arches);
    args.extend_from_slice(&[
        "--resume",
        "-j",
        "2",
        "--progress",
        "plain",
        "--report",
        "json=/home/pkger/report.json",
        "--report",
        "junit=/home/pkger/report.xml",
    ]);
    let out = batch(&b, &args).stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "TIME batch --resume of the rest: {:.1} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed cell makes the batch fail"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("/home/pkger/report.json").unwrap())
            .expect("the JSON report parses");
    assert_eq!(report["format"], "archbuild-batch-report");
    assert_eq!(report["version"], 1);
    let want: BTreeMap<String, String> = [
        ("hello Debian_12/aarch64", "succeeded"),
        ("hello Debian_12/armv7l", "succeeded"),
        ("hello Debian_12/s390x", "failed"),
        ("greet Debian_12/aarch64", "excluded"),
        ("greet Debian_12/armv7l", "excluded"),
        ("greet Debian_12/s390x", "excluded"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(codes(&report), want);
    let cells = report["cells"].as_array().unwrap();
    let cell = |name: &str, arch: &str| {
        cells
            .iter()
            .find(|c| c["package"] == name && c["arch"] == arch)
            .unwrap()
    };
    assert!(
        cell("hello", "aarch64")["rule"]
            .as_str()
            .unwrap()
            .contains("--resume"),
        "the first run's success is carried over, not rebuilt"
    );
    assert!(cell("greet", "armv7l")["rule"]
        .as_str()
        .unwrap()
        .contains("Architecture"));
    let failed_log = cell("hello", "s390x")["log"].as_str().unwrap().to_string();
    let failed_text = std::fs::read_to_string(&failed_log).unwrap();
    assert!(
        failed_text.contains("failing on purpose on s390x"),
        "{failed_log}"
    );
    assert!(
        stdout.contains(&failed_log),
        "the results matrix names the log"
    );
    // the JUnit report validates against the JUnit schema, the failure carries the log
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit/junit-10.xsd");
    let lint = Command::new(xmllint.unwrap())
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg("/home/pkger/report.xml")
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    let junit = std::fs::read_to_string("/home/pkger/report.xml").unwrap();
    assert!(junit.contains("failing on purpose on s390x"), "{junit}");
    // each built program ran on its arch
    for (name, arch) in [("hello", "aarch64"), ("hello", "armv7l")] {
        let root = Path::new("/var/tmp/build-root").join(format!("{name}_{REPOSITORY}_{arch}"));
        assert_eq!(
            b.built_on_in(
                &root.join("usr/src/packages/DEBS"),
                name,
                deb_build::deb_arch(arch)
            ),
            DebBuild::expected_built_on(arch)
        );
    }
    // the second run downloaded nothing twice: osc's cache kept what the first fetched
    let served = b.server().served_all();
    let mut seen = std::collections::BTreeSet::new();
    let again: Vec<_> = served.iter().filter(|s| !seen.insert(*s)).collect();
    assert!(
        again.is_empty(),
        "downloaded again: {again:?} (first run: {served_after_first})"
    );
    no_build_processes_left();
}

/// bench/batch runs this (it is not part of the suite): the same matrix with `-j 1` and
/// with the default `-j`, `--clean`, osc's package cache filled first; prints the times
/// and the speed-up. Asserts only that every build succeeded.
#[test]
#[ignore = "a benchmark: run bench/batch"]
fn bench_batch_default_jobs_against_one() {
    let _one = ONE_BATCH_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    isolated!();
    let arches: Vec<String> = std::env::var("BENCH_ARCHES")
        .unwrap_or_else(|_| "aarch64,armv7l".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let arch_refs: Vec<&str> = arches.iter().map(String::as_str).collect();
    if !deb_build::prerequisites(&arch_refs) {
        return;
    }
    let b = DebBuild::with_meta_arches(
        &[DebPackage::new("hello"), DebPackage::new("greet")],
        &arch_refs,
        &arch_refs,
    );
    let dirs = checkouts(&b, &["hello", "greet"]);
    let run = |jobs: Option<&str>, what: &str| {
        let osc = b.osc_program();
        let mut args: Vec<&str> = vec!["batch", "--osc", osc.as_str(), "--progress", "plain"];
        args.extend(dirs.iter().map(String::as_str));
        if let Some(j) = jobs {
            args.extend_from_slice(&["-j", j]);
        }
        args.extend_from_slice(&["--", "--no-verify", "--clean"]);
        let started = Instant::now();
        let out = b
            .archbuild(&args, &b.checkout("hello"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("bench/batch: {what}: {seconds:.1} s\n{stdout}");
        assert!(
            out.status.success(),
            "{what}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        seconds
    };
    run(None, "warm-up (fills osc's package cache, untimed)");
    let one = run(Some("1"), "-j 1");
    let default = run(None, "default -j");
    let (cores, memory) = archbuild::batch::jobs::machine();
    println!(
        "bench/batch: {} cells ({} packages x {}), --clean, warm package cache: -j 1 {one:.1} s, default -j ({}) {default:.1} s: speed-up {:.2}x (goal >= 1.7x on 2 cores)",
        2 * arches.len(),
        2,
        arches.join(" "),
        archbuild::batch::jobs::default_jobs(cores, memory),
        one / default
    );
}
