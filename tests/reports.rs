//! The batch reports against the outside world: the JUnit document validates with
//! `xmllint --schema` against the Jenkins JUnit schema (tests/data/junit/junit-10.xsd),
//! and OBS's `_result` from the stand-in server is fetched with archbuild's own client
//! and compared with local cells.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use archbuild::batch::obs_result::{self, Change};
use archbuild::batch::outcome::{CellOutcome, Code, LintCounts};
use archbuild::batch::{junit, report_json};
use archbuild::matrix::Cell;
use archbuild::obs::client::Settings;
use archbuild::obs::oscrc::ApiConfig;
use archbuild::obs::Client;

use common::obs_server::Server;

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit/junit-10.xsd")
}

fn outcome(name: &str, repository: &str, arch: &str, code: Code) -> CellOutcome {
    let (package, flavor) = match name.split_once(':') {
        Some((p, f)) => (p.to_string(), Some(f.to_string())),
        None => (name.to_string(), None),
    };
    let ran = !matches!(
        code,
        Code::Excluded | Code::Disabled | Code::Locked | Code::Skipped
    );
    CellOutcome {
        cell: Cell {
            package,
            flavor,
            repository: repository.into(),
            arch: arch.into(),
        },
        checkout: PathBuf::from("/home/p/hello"),
        code,
        rule: format!("{code}: {name} in {repository}/{arch}"),
        exit_status: ran.then_some(i32::from(code != Code::Succeeded)),
        duration: ran.then_some(12.25),
        log: ran
            .then(|| PathBuf::from(format!("/var/tmp/archbuild/{name}-{repository}-{arch}.log"))),
        artifacts: vec![],
        rpmlint: ran.then_some(LintCounts {
            errors: 0,
            warnings: 1,
        }),
        lintian: None,
    }
}

/// A cell of every code, a flavor, a second package, and names, rules and log tails full
/// of XML's special characters and of control characters XML 1.0 forbids.
fn every_kind_of_cell() -> Vec<CellOutcome> {
    let mut v: Vec<CellOutcome> = Code::ALL
        .iter()
        .zip(
            ["x86_64", "aarch64", "armv7l", "s390x", "ppc64le"]
                .iter()
                .cycle(),
        )
        .enumerate()
        .map(|(i, (c, a))| {
            let repo = if i % 2 == 0 {
                "openSUSE_Tumbleweed"
            } else {
                "Debian_12"
            };
            outcome(if i % 3 == 0 { "hello:doc" } else { "hello" }, repo, a, *c)
        })
        .collect();
    let mut odd = outcome("a&b<c>\"d'", "repo&<>", "riscv64", Code::Failed);
    odd.rule =
        "failed: ]]> <![CDATA[ & \u{0}\u{1}\u{7}\u{b}\u{c}\u{1b}\u{7f} \u{fffe}\u{ffff} \"'\t\r\n"
            .into();
    v.push(odd);
    let mut no_log = outcome("world", "Debian_12", "aarch64", Code::Infrastructure);
    no_log.log = None;
    v.push(no_log);
    v
}

fn log_tail(path: &Path) -> String {
    format!(
        "tail of {}:\n<error>&amp; \u{1b}[31mred\u{1b}[0m \u{0}\u{8}\u{1f} ]]> </failure>\r\nlast line \u{ffff}",
        path.display()
    )
}

/// `xmllint --noout --schema junit-10.xsd FILE`: (passed, what it said).
fn xmllint(xml: &str) -> (bool, String) {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("report.xml");
    std::fs::write(&file, xml).unwrap();
    let o = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema())
        .arg(&file)
        .output()
        .expect("run xmllint");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn have_xmllint() -> bool {
    common::prerequisite(
        common::tool("xmllint").is_some(),
        "xmllint validates the JUnit report (Debian package libxml2-utils, scripts/install-test-deps)",
    )
}

#[test]
fn junit_reports_validate_against_the_jenkins_junit_schema() {
    if !have_xmllint() {
        return;
    }
    // the schema is the real one and xmllint really checks it: a testsuite without its
    // required counts is refused
    let (ok, said) = xmllint(
        "<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"x\"><testcase name=\"c\"/></testsuite></testsuites>\n",
    );
    assert!(
        !ok,
        "xmllint accepted a testsuite without tests/failures/errors: {said}"
    );
    assert!(said.contains("tests"), "{said}");

    let cells = every_kind_of_cell();
    for (what, xml) in [
        ("every code", junit::render(&cells, &log_tail)),
        ("no cells", junit::render(&[], &log_tail)),
        ("one cell", junit::render(&cells[..1], &|_| String::new())),
        (
            "real log tails",
            junit::render(&cells, &|p| junit::read_log_tail(p)),
        ),
    ] {
        let (ok, said) = xmllint(&xml);
        assert!(
            ok,
            "{what}: the JUnit report does not validate: {said}\n{xml}"
        );
    }
    let xml = junit::render(&cells, &log_tail);
    assert!(
        xml.contains("<failure message=\"failed: ]]&gt; &lt;![CDATA[ &amp; "),
        "{xml}"
    );
    assert!(
        xml.contains("type=\"infrastructure\">infrastructure: world in Debian_12/aarch64</error>"),
        "{xml}"
    );
    assert_eq!(xml.matches("<testsuite ").count(), 3, "{xml}");
}

#[test]
fn a_json_report_written_to_a_file_reads_back() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("report.json");
    let info = report_json::RunInfo {
        started_unix: 1_764_590_000,
        duration: 75.5,
        jobs: 2,
        command: vec!["archbuild".into(), "batch".into()],
    };
    let cells = every_kind_of_cell();
    std::fs::write(&path, report_json::render(&info, &cells)).unwrap();
    let r = report_json::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(r.cells, cells);
    assert_eq!(r.run, info);
    assert_eq!(r.counts["failed"], 2);
    let e = report_json::parse("{\"format\": \"archbuild-batch-report\", \"version\": 1}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("damaged") && !e.contains('\n'), "{e}");
}

fn client(server: &Server) -> Client {
    Client::with_settings(
        &ApiConfig {
            apiurl: server.url(),
            user: Some("alice".into()),
            password: Some("opensuse".into()),
            oscrc: None,
        },
        Settings {
            attempts: 2,
            backoff: std::time::Duration::from_millis(10),
            ..Settings::default()
        },
    )
    .unwrap()
}

fn set(server: &Server, query: &[(&str, &str)]) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/_results", server.url()))
        .query(query)
        .send()
        .expect("set a build result");
    assert!(r.status().is_success());
}

#[test]
fn obs_results_are_fetched_with_archbuild_s_client_and_compared_with_local_cells() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let prj = "home:packager:matrix";
    fn cell<'a>(prj: &'a str, repo: &'a str, arch: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![("project", prj), ("repository", repo), ("arch", arch)]
    }
    let mut q = cell(prj, "openSUSE_Tumbleweed", "aarch64");
    q.extend([
        ("package", "hello"),
        ("code", "failed"),
        ("details", "exit code 1 <&>"),
    ]);
    set(&server, &q);
    let mut q = cell(prj, "Debian_12", "x86_64");
    q.extend([
        ("package", "hello:doc"),
        ("code", "unresolvable"),
        ("details", "nothing provides debhelper-compat (= 13)"),
    ]);
    set(&server, &q);
    let mut q = cell(prj, "frozen", "x86_64");
    q.extend([
        ("repocode", "broken"),
        ("details", "no path to openSUSE:Factory"),
    ]);
    set(&server, &q);
    let mut q = cell(prj, "Debian_12", "aarch64");
    q.extend([("repocode", "building"), ("dirty", "1")]);
    set(&server, &q);

    let results = client(&server).results(prj, "hello").unwrap();
    let log = server.log();
    assert!(
        log.iter().any(|l| l.starts_with(
            "GET /build/home:packager:matrix/_result?package=hello&multibuild=1&locallink=1 200"
        )),
        "{log:?}"
    );
    // 7 repository/arch pairs in the meta, the package and its flavor in each
    assert_eq!(results.len(), 14, "{results:?}");
    let find = |name: &str, repo: &str, arch: &str| {
        results
            .iter()
            .find(|r| r.package == name && r.repository == repo && r.arch == arch)
            .unwrap_or_else(|| panic!("no result for {name} {repo}/{arch}: {results:?}"))
    };
    let failed = find("hello", "openSUSE_Tumbleweed", "aarch64");
    assert_eq!(failed.code, "failed");
    assert_eq!(failed.details.as_deref(), Some("exit code 1 <&>"));
    assert_eq!(
        find("hello:doc", "Debian_12", "x86_64").code,
        "unresolvable"
    );
    let broken = find("hello", "frozen", "x86_64");
    assert_eq!(broken.code, "broken");
    assert_eq!(
        broken.details.as_deref(),
        Some("repository: no path to openSUSE:Factory")
    );
    assert!(find("hello", "Debian_12", "aarch64").dirty);
    assert!(!find("hello", "Debian_12", "x86_64").dirty);

    let local = vec![
        outcome("hello", "openSUSE_Tumbleweed", "x86_64", Code::Failed),
        outcome("hello", "openSUSE_Tumbleweed", "aarch64", Code::Failed),
        outcome("hello", "openSUSE_Tumbleweed", "aarch64", Code::Succeeded),
        outcome("hello:doc", "Debian_12", "x86_64", Code::Succeeded),
        outcome("hello", "Debian_12", "x86_64", Code::Succeeded),
        outcome("hello", "Debian_12", "ppc64le", Code::Succeeded),
        outcome("hello", "frozen", "x86_64", Code::Locked),
    ];
    let changes: Vec<Change> = obs_result::compare(&local, &results)
        .iter()
        .map(|c| c.change)
        .collect();
    assert_eq!(
        changes,
        [
            Change::NewFailure,
            Change::AlreadyFailing,
            Change::Fixed,
            Change::Fixed,
            Change::Same,
            Change::NotOnObs,
            Change::Same
        ]
    );

    let e = client(&server)
        .results("home:nobody", "hello")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the build results of package 'hello' in project 'home:nobody' not found"),
        "{e}"
    );
}

#[test]
fn a_results_file_is_served_as_it_is_and_read_like_osc_reads_it() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/obs/result_osc_dirty.xml");
    let Some(server) = Server::start(&["--results", file.to_str().unwrap()]) else {
        return;
    };
    let results = client(&server)
        .results("testproject", "python-MarkupSafe")
        .unwrap();
    let codes: Vec<(&str, &str, bool)> = results
        .iter()
        .map(|r| (r.repository.as_str(), r.code.as_str(), r.dirty))
        .collect();
    assert_eq!(
        codes,
        [
            ("openSUSE_Leap_42.3", "disabled", false),
            ("openSUSE_Leap_15.0", "broken", false),
            ("SLE_12_SP4", "disabled", false),
            ("SLE_12_SP3", "disabled", true),
        ]
    );
}

#[test]
fn the_build_stand_in_serves_a_results_file_too() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("expanded"), "").unwrap();
    std::fs::write(d.path().join("prjconf"), "Type: dsc\n").unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/obs/result_osc.xml");
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    let args = [
        "--expanded".to_string(),
        arg(&d.path().join("expanded")),
        "--config".to_string(),
        arg(&d.path().join("prjconf")),
        "--debs".to_string(),
        arg(&d.path().join("debs")),
        "--results".to_string(),
        arg(&file),
        "--lifetime".to_string(),
        "120".to_string(),
    ];
    let Some(server) = Server::start_script("build_server.py", &args) else {
        return;
    };
    let results = client(&server)
        .results("home:alice", "python-MarkupSafe")
        .unwrap();
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|r| r.code == "disabled" && !r.dirty));
}

/// Real osc (`osc results`, the pinned 1.28.0) against the same stand-in: it must read
/// the same codes archbuild reads, so the stand-in's `_result` is OBS's format.
#[test]
fn real_osc_results_shows_what_archbuild_reads() {
    let osc_dir = std::env::var_os("ARCHBUILD_TEST_OSC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/archbuild-test/osc"));
    if !common::prerequisite(
        osc_dir.join("osc/__init__.py").is_file() && common::tool("python3").is_some(),
        &format!(
            "osc installed with `pip install --target {} osc==1.28.0` (set ARCHBUILD_TEST_OSC_DIR)",
            osc_dir.display()
        ),
    ) {
        return;
    }
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let prj = "home:packager:matrix";
    set(
        &server,
        &[
            ("project", prj),
            ("repository", "Debian_12"),
            ("arch", "aarch64"),
            ("package", "hello:doc"),
            ("code", "failed"),
        ],
    );
    set(
        &server,
        &[
            ("project", prj),
            ("repository", "frozen"),
            ("arch", "x86_64"),
            ("repocode", "broken"),
            ("details", "no path"),
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let oscrc = home.path().join("oscrc");
    std::fs::write(
        &oscrc,
        format!(
            "[general]\napiurl = {url}\n\n[{url}]\nuser = alice\npass = opensuse\nallow_http = 1\n",
            url = server.url()
        ),
    )
    .unwrap();
    let mut c = Command::new("python3");
    c.arg("-c")
        .arg("import sys; from osc.babysitter import main; sys.argv[0] = 'osc'; sys.exit(main())")
        .args(["results", prj, "hello"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("OSC_") || k == "XDG_CONFIG_HOME" {
            c.env_remove(k);
        }
    }
    let o = c
        .env("PYTHONPATH", &osc_dir)
        .env("HOME", home.path())
        .env("OSC_CONFIG", &oscrc)
        .current_dir(home.path())
        .output()
        .expect("run osc");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "osc results failed: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // osc: `REPOSITORY ARCH PACKAGE STATUS`, excluded cells left out
    let mut osc_says: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let mut archbuild_reads: Vec<String> = client(&server)
        .results(prj, "hello")
        .unwrap()
        .iter()
        .filter(|r| r.code != "excluded")
        .map(|r| format!("{} {} {} {}", r.repository, r.arch, r.package, r.code))
        .collect();
    osc_says.sort();
    archbuild_reads.sort();
    assert_eq!(osc_says, archbuild_reads);
    assert!(osc_says.contains(&"Debian_12 aarch64 hello:doc failed".to_string()));
    assert!(osc_says.contains(&"frozen x86_64 hello broken".to_string()));
    assert_eq!(osc_says.len(), 14, "{out}");
}

#[test]
fn an_obs_without_multibuild_results_is_asked_again_without_it() {
    let Some(server) = Server::start(&["--old-results"]) else {
        return;
    };
    let results = client(&server)
        .results("home:packager:matrix", "hello")
        .unwrap();
    // no flavors were set: the package in each of the 7 repository/arch pairs
    assert_eq!(results.len(), 7, "{results:?}");
    let asked: Vec<String> = server
        .log()
        .into_iter()
        .filter(|l| l.contains("/_result"))
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked[0].contains("multibuild=1") && asked[0].contains(" 400 "),
        "{asked:?}"
    );
    assert!(
        asked[1].starts_with("GET /build/home:packager:matrix/_result?package=hello 200"),
        "{asked:?}"
    );
}
