//! `archbuild check --plan` against the stand-in OBS server (tests/support/obs_server.py)
//! with the fixtures of tests/data/matrix: the build matrix of a checkout with every
//! verdict, its JSON, and the errors of bad `check` options and outside a checkout.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::obs_server::Server;

const PROJECT: &str = "home:packager:matrix";

/// A home with an oscrc for the server and a package checkout of `package` in it.
struct Home {
    dir: tempfile::TempDir,
    checkout: PathBuf,
}

impl Home {
    fn new(server: &Server, package: &str, files_from: Option<&Path>) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let oscrc = dir.path().join(".config/osc/oscrc");
        std::fs::create_dir_all(oscrc.parent().unwrap()).unwrap();
        std::fs::write(
            &oscrc,
            format!(
                "[general]\napiurl = {url}\n\n[{url}]\nuser = alice\npass = opensuse\nallow_http = 1\n",
                url = server.url()
            ),
        )
        .unwrap();
        let checkout = dir.path().join(PROJECT).join(package);
        std::fs::create_dir_all(checkout.join(".osc")).unwrap();
        for (name, text) in [
            ("_project", PROJECT.to_string()),
            ("_package", package.to_string()),
            ("_apiurl", server.url()),
            ("_osclib_version", "2.0".to_string()),
        ] {
            std::fs::write(checkout.join(".osc").join(name), format!("{text}\n")).unwrap();
        }
        if let Some(from) = files_from {
            for e in std::fs::read_dir(from).unwrap() {
                let e = e.unwrap();
                std::fs::copy(e.path(), checkout.join(e.file_name())).unwrap();
            }
        }
        Home { dir, checkout }
    }

    fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = Command::new(common::archbuild_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("OSC_") || k == "SUDO_USER" || k == "XDG_CONFIG_HOME" {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.dir.path())
            .env("ARCHBUILD_OBS_BACKOFF_MS", "20")
            .env("ARCHBUILD_OBS_TIMEOUT", "5")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("run archbuild")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_in(&self.checkout, args)
    }
}

fn fixture_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/matrix/checkout")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One cell of the JSON plan.
#[derive(Debug)]
struct CellOut {
    /// `package[:flavor]`
    name: String,
    repository: String,
    arch: String,
    verdict: String,
    rule: String,
}

fn cells(v: &serde_json::Value) -> Vec<CellOut> {
    let s = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    v["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| CellOut {
            name: match c["flavor"].as_str() {
                Some(f) => format!("{}:{f}", s(c, "package")),
                None => s(c, "package"),
            },
            repository: s(c, "repository"),
            arch: s(c, "arch"),
            verdict: s(c, "verdict"),
            rule: s(c, "rule"),
        })
        .collect()
}

#[test]
fn plan_json_gives_every_verdict_with_its_rule() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, "hello", Some(&fixture_checkout()));
    let o = home.run(&["check", "--plan", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o.stdout)));
    assert_eq!(v["project"], PROJECT);
    assert_eq!(v["package"], "hello");
    assert_eq!(v["apiurl"], server.url());
    let want: &[(&str, &str, &str, &str, &str)] = &[
        ("hello", "openSUSE_Tumbleweed", "x86_64", "scheduled", "ExclusiveArch lists x86_64"),
        ("hello:doc", "openSUSE_Tumbleweed", "x86_64", "scheduled", "recipe hello.spec"),
        ("hello", "openSUSE_Tumbleweed", "aarch64", "scheduled", "build enabled by default"),
        ("hello:doc", "openSUSE_Tumbleweed", "aarch64", "excluded", "ExcludeArch: aarch64 (after macros) in hello.spec lists aarch64"),
        ("hello", "openSUSE_Tumbleweed", "s390x", "scheduled", "<enable repository=\"openSUSE_Tumbleweed\" arch=\"s390x\"/> (score 6, the only kind that matches) in the package meta"),
        ("hello:doc", "openSUSE_Tumbleweed", "s390x", "scheduled", "in the package meta"),
        ("hello", "openSUSE_Tumbleweed", "riscv64", "scheduled", "ExclusiveArch lists riscv64"),
        ("hello:doc", "openSUSE_Tumbleweed", "riscv64", "excluded", "BuildFlags: excludebuild:hello:doc"),
        ("hello", "Debian_12", "x86_64", "scheduled", "Architecture: amd64 includes x86_64"),
        ("hello:doc", "Debian_12", "x86_64", "scheduled", "recipe hello.dsc"),
        ("hello", "Debian_12", "aarch64", "excluded", "Architecture: amd64 in hello.dsc (OBS arches: x86_64) does not include aarch64"),
        ("hello:doc", "Debian_12", "aarch64", "excluded", "does not include aarch64"),
        ("hello", "frozen", "x86_64", "locked", "locked by <enable repository=\"frozen\"/> (score 4, the only kind that matches) in the project meta"),
        ("hello:doc", "frozen", "x86_64", "locked", "in the project meta"),
    ];
    let got = cells(&v);
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, (name, repo, arch, verdict, rule)) in got.iter().zip(want) {
        assert_eq!(
            (g.name.as_str(), g.repository.as_str(), g.arch.as_str()),
            (*name, *repo, *arch),
            "cells in meta order"
        );
        assert_eq!(g.verdict, *verdict, "{name} {repo} {arch}: {}", g.rule);
        assert!(
            g.rule.contains(rule),
            "{name} {repo} {arch}: {:?} lacks {rule:?}",
            g.rule
        );
    }
    assert_eq!(v["counts"]["scheduled"], 8);
    assert_eq!(v["counts"]["excluded"], 4);
    assert_eq!(v["counts"]["locked"], 2);
    assert_eq!(v["warnings"], serde_json::json!([]));
    // the merged build configuration was asked for, per repository
    assert_eq!(
        server.served(&format!("GET /build/{PROJECT}/Debian_12/_buildconfig 200")),
        1
    );
    assert_eq!(
        server.served(&format!("GET /source/{PROJECT}/hello/_meta 200")),
        1
    );
}

#[test]
fn plan_table_one_line_per_cell() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, "hello", Some(&fixture_checkout()));
    let o = home.run(&["check", "--plan"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "build matrix of {PROJECT}/hello on {}",
            server.url()
        )),
        "{out}"
    );
    assert!(lines[1].starts_with("PACKAGE"), "{out}");
    assert_eq!(lines.len(), 2 + 14 + 1, "{out}");
    assert!(out.contains("hello:doc  openSUSE_Tumbleweed  riscv64  excluded   excluded by the build configuration of openSUSE_Tumbleweed: BuildFlags: excludebuild:hello:doc"), "{out}");
    assert_eq!(
        *lines.last().unwrap(),
        "14 cells: 8 scheduled, 4 excluded, 2 locked",
        "{out}"
    );
}

#[test]
fn a_package_not_on_the_server_yet_has_no_package_flags() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, "newpkg", None);
    std::fs::write(
        home.checkout.join("newpkg.spec"),
        "Name: newpkg\nVersion: 1\n",
    )
    .unwrap();
    let o = home.run(&["check", "--plan", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("newpkg is not on the server yet"),
        "{v}"
    );
    let got = cells(&v);
    let s390x = got
        .iter()
        .find(|c| c.repository == "openSUSE_Tumbleweed" && c.arch == "s390x")
        .unwrap();
    assert_eq!(
        s390x.verdict, "disabled",
        "the project's <disable arch=\"s390x\"/> stands: {s390x:?}"
    );
    assert!(s390x.rule.contains("in the project meta"), "{s390x:?}");
    let deb = got.iter().find(|c| c.repository == "Debian_12").unwrap();
    assert_eq!(deb.verdict, "excluded", "no .dsc: {deb:?}");
}

#[test]
fn bad_check_options_and_outside_a_checkout_are_errors() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, "hello", Some(&fixture_checkout()));
    let o = home.run(&["check", "--plan", "--against-server"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--against-server"),
        "{}",
        text(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    for (args, needle) in [
        (&["check", "-j", "0"][..], "-j 0"),
        (&["check", "--", "--root=/x"][..], "--build-root-dir"),
        (
            &["check", "--report", "html=x"][..],
            "json=PATH or junit=PATH",
        ),
    ] {
        let o = home.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(o.stdout.is_empty());
    }

    let o = home.run_in(home.dir.path(), &["check", "--plan"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not an osc package checkout"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        server.served("/source/"),
        0,
        "nothing asked outside a checkout"
    );
}

#[test]
fn without_the_merged_build_configuration_the_projects_own_config_is_used() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, "hello", Some(&fixture_checkout()));
    server.fault("500", 100, "/_buildconfig", 0.0);
    let o = home.run(&["check", "--plan", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 3, "one per repository: {warnings:?}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("the project's own _config is used"),
        "{warnings:?}"
    );
    // the project's own _config has no Type: and no Preinstall: (those come with the path)
    let got = cells(&v);
    let x86 = got
        .iter()
        .find(|c| c.repository == "openSUSE_Tumbleweed" && c.arch == "x86_64")
        .unwrap();
    assert_eq!(x86.verdict, "broken", "{x86:?}");
    assert!(x86.rule.contains("gives no recipe type"), "{x86:?}");
    // its own BuildFlags still count, under its %ifarch
    let riscv_doc = got
        .iter()
        .find(|c| c.name == "hello:doc" && c.arch == "riscv64")
        .unwrap();
    assert_eq!(riscv_doc.verdict, "excluded", "{riscv_doc:?}");
    assert_eq!(
        server.served(&format!("GET /source/{PROJECT}/_config 200")),
        1,
        "fetched once"
    );
}
