//! `archbuild obs` against a stand-in OBS API server (tests/support/obs_server.py) on
//! loopback, and proof that the stand-in speaks OBS: real osc reads the same documents.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use archbuild::bootstrap::plan::{Backend, Plan};
use archbuild::obs::oscrc::ApiConfig;
use archbuild::obs::Client;

use common::obs_server::Server;

/// A home directory with an oscrc for the server, and the command to run archbuild in it.
struct Home {
    dir: tempfile::TempDir,
    oscrc: PathBuf,
}

impl Home {
    fn new(server: &Server, section_extra: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let oscrc = dir.path().join(".config/osc/oscrc");
        std::fs::create_dir_all(oscrc.parent().unwrap()).unwrap();
        std::fs::write(
            &oscrc,
            format!(
                "[general]\napiurl = {url}\n\n[{url}]\nuser = alice\naliases = standin, local\nallow_http = 1\n{section_extra}\n",
                url = server.url()
            ),
        )
        .unwrap();
        Home { dir, oscrc }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(common::archbuild_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("OSC_") || k == "SUDO_USER" || k == "XDG_CONFIG_HOME" {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.dir.path())
            .env("ARCHBUILD_OBS_BACKOFF_MS", "20")
            .env("ARCHBUILD_OBS_TIMEOUT", "2")
            .current_dir(self.dir.path());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run archbuild")
    }
}

const PASS: &str = "pass = opensuse";

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "archbuild failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

fn chain_of(v: &serde_json::Value, repo: &str) -> Vec<String> {
    let r = v["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == repo)
        .expect("repository listed");
    r["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["project"].as_str().unwrap(),
                e["repository"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn repos_lists_repositories_arches_and_path_chains_three_projects_deep() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, PASS);
    let o = home.run(&["obs", "repos", "openSUSE:Factory:Staging:H", "--json"]);
    let v = json(&o);
    assert_eq!(v["project"], "openSUSE:Factory:Staging:H");
    assert_eq!(v["apiurl"], server.url());
    assert_eq!(
        chain_of(&v, "images"),
        [
            "openSUSE:Factory:Staging:H/images",
            "openSUSE:Factory:Staging:H/standard",
            "openSUSE:Factory:Staging:H/bootstrap_copy",
            "openSUSE:Factory:Staging/standard",
            "openSUSE:Factory/standard"
        ]
    );
    let arches = v["repositories"][0]["arches"].as_array().unwrap();
    assert_eq!(arches.len(), 2);

    let table = home.run(&["obs", "repos", "home:alice:branches:home:alice"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let out = stdout(&table);
    assert!(out.starts_with("REPOSITORY"), "{out}");
    assert!(out.contains("openSUSE_Tumbleweed  aarch64  home:alice/openSUSE_Tumbleweed -> openSUSE:Factory/ports"), "{out}");

    // loops end
    let v = json(&home.run(&["obs", "repos", "loop:a", "--json"]));
    assert_eq!(chain_of(&v, "r"), ["loop:a/r", "loop:b/r"]);
    // download on demand is shown
    let v = json(&home.run(&["obs", "repos", "home:user5", "--json"]));
    assert_eq!(v["repositories"][0]["downloads"][1]["repotype"], "deb");
}

#[test]
fn repos_defaults_to_the_checkout_and_its_apiurl_alias() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, PASS);
    // the general apiurl points nowhere: the checkout's _apiurl (an alias) must win
    let rc = std::fs::read_to_string(&home.oscrc).unwrap().replacen(
        &format!("apiurl = {}", server.url()),
        "apiurl = https://unused.invalid",
        1,
    );
    std::fs::write(&home.oscrc, rc).unwrap();
    let pkg = home.dir.path().join("pkg");
    std::fs::create_dir_all(pkg.join(".osc")).unwrap();
    std::fs::write(pkg.join(".osc/_project"), "home:alice\n").unwrap();
    std::fs::write(pkg.join(".osc/_apiurl"), "standin\n").unwrap();
    let o = home
        .cmd()
        .args(["obs", "repos", "--json"])
        .current_dir(&pkg)
        .output()
        .unwrap();
    let v = json(&o);
    assert_eq!(v["project"], "home:alice");
    assert_eq!(
        chain_of(&v, "Debian_12"),
        ["home:alice/Debian_12", "Debian:12/main"]
    );

    // outside a checkout, no project is a usage error
    let o = home.run(&["obs", "repos"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(".osc/_project"), "{}", stderr(&o));
}

#[test]
fn plan_for_rpm_debian_and_published_repositories() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, PASS);

    // RepoURL of the Tumbleweed prjconf, three projects deep, for aarch64
    let v = json(&home.run(&[
        "obs",
        "plan",
        "home:alice:branches:home:alice",
        "openSUSE_Tumbleweed",
        "aarch64",
        "--json",
    ]));
    let plan: Plan = serde_json::from_value(v["plan"].clone()).expect("a bootstrap Plan");
    assert_eq!(plan.backend, Backend::Zypper);
    assert_eq!(plan.arch, "aarch64");
    assert_eq!(
        plan.source,
        "obs:home:alice:branches:home:alice/openSUSE_Tumbleweed"
    );
    assert_eq!(plan.repositories.len(), 1);
    assert_eq!(
        plan.repositories[0].url,
        "https://download.opensuse.org/ports/aarch64/tumbleweed/repo/oss"
    );
    // Preinstall of Factory, Required of Factory and home:alice, %ifarch of home:alice
    for p in ["rpm", "rpm-build", "alice-tools", "alice-aarch64-helper"] {
        assert!(
            plan.packages.iter().any(|x| x == p),
            "{p} missing from {:?}",
            plan.packages
        );
    }
    assert_eq!(v["path"].as_array().unwrap().len(), 3);

    // the same via rpm's arch name armv6hl -> armv6l: %ifarch is the scheduler arch,
    // and the aarch64-only helper is gone
    let v = json(&home.run(&[
        "obs",
        "plan",
        "home:alice",
        "openSUSE_Tumbleweed",
        "armv6hl",
        "--json",
    ]));
    let plan: Plan = serde_json::from_value(v["plan"].clone()).unwrap();
    assert_eq!(plan.arch, "armv6l");
    assert!(!plan.packages.iter().any(|x| x == "alice-aarch64-helper"));

    // Debian: download on demand + RepoURL debian@
    let v = json(&home.run(&["obs", "plan", "home:alice", "Debian_12", "arm64", "--json"]));
    let plan: Plan = serde_json::from_value(v["plan"].clone()).unwrap();
    assert_eq!(plan.backend, Backend::Debian);
    assert_eq!(plan.repositories[0].url, "http://deb.example.test/debian");
    assert_eq!(plan.repositories[0].suite.as_deref(), Some("bookworm"));
    assert_eq!(plan.repositories[0].components, ["main", "contrib"]);
    assert_eq!(plan.repositories[1].url, "http://ftp.de.debian.org/debian");
    assert!(plan.packages.iter().any(|x| x == "dpkg"));

    // nothing but the published repository under /configuration's download_url
    let v = json(&home.run(&[
        "obs",
        "plan",
        "home:alice",
        "published_only",
        "riscv64",
        "--json",
    ]));
    let plan: Plan = serde_json::from_value(v["plan"].clone()).unwrap();
    let urls: Vec<&str> = plan.repositories.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(
        urls,
        ["https://download.example.test/repositories/home:/bob/plain/"]
    );
    let emulator = plan.emulator.expect("riscv64 needs an emulator");
    assert!(
        emulator.ends_with("qemu-riscv64") || emulator.ends_with("qemu-riscv64-static"),
        "{emulator}"
    );

    // an interconnect path: published by the remote instance (its /public/configuration)
    let v = json(&home.run(&[
        "obs",
        "plan",
        "test:factory",
        "standard",
        "x86_64",
        "--json",
    ]));
    let plan: Plan = serde_json::from_value(v["plan"].clone()).unwrap();
    let urls: Vec<&str> = plan.repositories.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(
        urls,
        ["https://download.remote.example.test/repositories/openSUSE:/Tumbleweed/standard/"]
    );
    assert_eq!(plan.packages, ["rpm", "rpm-build"]);

    // every API request asked for XML
    let log = server.log();
    let api: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("GET /source/") || l.starts_with("GET /build/"))
        .collect();
    assert!(api.len() >= 10, "{log:?}");
    assert!(
        api.iter().all(|l| l.ends_with("accept=application/xml")),
        "{api:?}"
    );

    // the human-readable form names the same things
    let o = home.run(&["obs", "plan", "home:alice", "Debian_12", "aarch64"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("backend:      debian"), "{out}");
    assert!(
        out.contains("http://deb.example.test/debian bookworm main contrib"),
        "{out}"
    );
}

#[test]
fn errors_say_what_is_wrong_and_what_to_do() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, PASS);

    let o = home.run(&["obs", "plan", "home:alice", "nope", "aarch64"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("no repository 'nope'")
            && e.contains("openSUSE_Tumbleweed, Debian_12, published_only"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");

    let o = home.run(&["obs", "plan", "home:alice", "Debian_12", "s390x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("use one of x86_64, aarch64"),
        "{}",
        stderr(&o)
    );

    let o = home.run(&["obs", "repos", "home:nobody"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("project 'home:nobody' not found") && e.contains("unknown_project"),
        "{e}"
    );

    // 401 names the oscrc to fix
    let o = home
        .cmd()
        .args(["obs", "repos", "home:alice"])
        .env("OSC_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("rejected the password of user 'alice'")
            && e.contains(&home.oscrc.display().to_string()),
        "{e}"
    );

    // a keyring credentials manager: a clear error naming the environment variables...
    let keyring = Home::new(&server, "credentials_mgr_class = osc.credentials.KeyringCredentialsManager:keyring.backends.SecretService.Keyring");
    let o = keyring.run(&["obs", "repos", "home:alice"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("OSC_USERNAME") && e.contains("OSC_PASSWORD") && e.contains("keyring"),
        "{e}"
    );
    // ...which then work
    let o = keyring
        .cmd()
        .args(["obs", "repos", "home:alice"])
        .env("OSC_PASSWORD", "opensuse")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    // obfuscated password as osc writes it
    let passx = Home::new(
        &server,
        &format!(
            "passx = {}",
            archbuild::obs::oscrc::encode_passx("opensuse")
        ),
    );
    assert!(passx.run(&["obs", "repos", "home:alice"]).status.success());

    // -A with an alias, and --config with another file
    let o = home
        .cmd()
        .args(["obs", "repos", "home:alice", "-A", "local", "--config"])
        .arg(&home.oscrc)
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn retries_5xx_timeouts_and_cut_off_answers_but_not_malformed_xml() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, PASS);

    server.fault("500", 2, "/source/home:bob/_meta", 0.0);
    let o = home.run(&["obs", "repos", "home:bob", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.served("GET /source/home:bob/_meta 500"), 2);
    assert_eq!(server.served("GET /source/home:bob/_meta 200"), 1);

    server.fault("slow", 1, "/source/home:bob/_meta", 4.0);
    server.fault("truncated", 1, "/source/home:bob/_meta", 0.0);
    server.fault("disconnect", 1, "/source/home:bob/_meta", 0.0);
    let o = home.run(&["obs", "repos", "home:bob", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));

    server.fault("503", 10, "/source/superkde/_meta", 0.0);
    let o = home
        .cmd()
        .args(["obs", "repos", "superkde"])
        .env("ARCHBUILD_OBS_ATTEMPTS", "3")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("server error 503") && e.contains("gave up after 3 attempts"),
        "{e}"
    );
    assert_eq!(server.served("GET /source/superkde/_meta 503"), 3);

    server.fault("malformed", 1, "/source/home:bob/_meta", 0.0);
    let o = home.run(&["obs", "repos", "home:bob"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("project meta of 'home:bob' is not a readable XML document"),
        "{e}"
    );

    // nothing listening: a connection error, retried, then one clear line
    drop(server);
    let o = home
        .cmd()
        .args(["obs", "repos", "home:bob"])
        .env("ARCHBUILD_OBS_ATTEMPTS", "2")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("cannot connect") && e.contains("gave up after 2 attempts"),
        "{e}"
    );
}

#[test]
fn library_plan_buildinfo_and_binaries() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let config = ApiConfig {
        apiurl: server.url(),
        user: Some("alice".into()),
        password: Some("opensuse".into()),
        oscrc: None,
    };
    let client = Client::new(&config).unwrap();
    let plan = archbuild::obs::bootstrap_plan::for_repository(
        &client,
        "home:alice",
        "openSUSE_Tumbleweed",
        "aarch64",
    )
    .unwrap();
    assert_eq!(plan.backend, Backend::Zypper);
    assert_eq!(plan.source, "obs:home:alice/openSUSE_Tumbleweed");

    let info = client
        .buildinfo(
            "home:alice",
            "openSUSE_Tumbleweed",
            "aarch64",
            "screen",
            Some(b"Name: screen\n".to_vec()),
        )
        .unwrap();
    assert_eq!(info.project, "home:alice");
    assert_eq!(info.arch.as_deref(), Some("aarch64"));
    assert_eq!(info.bdeps.len(), 104);
    let pre = info.preinstalls();
    assert!(pre.contains(&"bash") && pre.contains(&"rpm"));

    let cpio = client
        .binaries_cpio(
            "home:alice",
            "openSUSE_Tumbleweed",
            "aarch64",
            &["bash", "rpm"],
        )
        .unwrap();
    assert!(cpio.starts_with(b"070701"));
    let text = String::from_utf8_lossy(&cpio);
    assert!(text.contains("bash.rpm") && text.contains("rpm.rpm") && text.contains("TRAILER!!!"));

    let conf = client.configuration().unwrap();
    assert_eq!(
        conf.download_url.as_deref(),
        Some("https://download.example.test/repositories")
    );

    // the one-call form bootstrap uses: oscrc from --config, -A alias
    let home = Home::new(&server, PASS);
    let plan = archbuild::obs::bootstrap_plan::for_prp(
        "Debian:12/main",
        "x86_64",
        Some("standin"),
        Some(&home.oscrc),
    )
    .unwrap();
    assert_eq!(plan.backend, Backend::Debian);
    assert_eq!(plan.repositories[0].url, "http://deb.example.test/debian");
    let err =
        archbuild::obs::bootstrap_plan::for_prp("Debian:12", "x86_64", None, Some(&home.oscrc))
            .unwrap_err();
    assert_eq!(archbuild::error::exit_code(&err), 2);

    let anon = Client::new(&ApiConfig {
        user: None,
        password: None,
        ..config
    })
    .unwrap();
    let err = anon.project_meta("home:alice").unwrap_err().to_string();
    assert!(
        err.contains("wants a login") && err.contains("OSC_PASSWORD"),
        "{err}"
    );
}

/// Where the pinned osc is installed (`pip install --target DIR osc==PIN`).
fn osc_dir() -> PathBuf {
    std::env::var_os("ARCHBUILD_TEST_OSC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/archbuild-test/osc"))
}

fn osc(home: &Home, args: &[&str]) -> Output {
    let dir = osc_dir();
    let mut c = Command::new("python3");
    c.arg("-c")
        .arg("import sys; from osc.babysitter import main; sys.argv[0] = 'osc'; sys.exit(main())")
        .args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("OSC_") || k == "XDG_CONFIG_HOME" {
            c.env_remove(k);
        }
    }
    c.env("PYTHONPATH", &dir)
        .env("HOME", home.dir.path())
        .env("OSC_CONFIG", &home.oscrc)
        .current_dir(home.dir.path())
        .output()
        .expect("run osc")
}

#[test]
fn real_osc_reads_the_same_meta_and_config_as_archbuild() {
    let dir = osc_dir();
    if !common::prerequisite(
        dir.join("osc/__init__.py").is_file() && common::tool("python3").is_some(),
        &format!(
            "osc installed with `pip install --target {} osc==1.28.0` (set ARCHBUILD_TEST_OSC_DIR)",
            dir.display()
        ),
    ) {
        return;
    }
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let home = Home::new(&server, PASS);
    let served_meta = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/obs/project_meta_staging_path_chain.xml"),
    )
    .unwrap();

    // osc meta prj: the project meta archbuild reads
    let o = osc(&home, &["meta", "prj", "openSUSE:Factory:Staging:H"]);
    assert!(
        o.status.success(),
        "osc meta prj failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let osc_meta = stdout(&o);
    assert_eq!(osc_meta.trim(), served_meta.trim());
    let v = json(&home.run(&["obs", "repos", "openSUSE:Factory:Staging:H", "--json"]));
    for r in v["repositories"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        assert!(
            osc_meta.contains(&format!("<repository name=\"{name}\"")),
            "{name} not in osc's meta"
        );
        for a in r["arches"].as_array().unwrap() {
            assert!(osc_meta.contains(&format!("<arch>{}</arch>", a.as_str().unwrap())));
        }
        for p in r["paths"].as_array().unwrap() {
            assert!(osc_meta.contains(&format!(
                "<path project=\"{}\" repository=\"{}\"/>",
                p["project"].as_str().unwrap(),
                p["repository"].as_str().unwrap()
            )));
        }
    }

    // osc meta prjconf: the project config
    let o = osc(&home, &["meta", "prjconf", "openSUSE:Factory"]);
    assert!(
        o.status.success(),
        "osc meta prjconf failed: {}",
        stderr(&o)
    );
    let served_conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/obs/prjconf_tumbleweed.txt"),
    )
    .unwrap();
    assert_eq!(stdout(&o).trim_end(), served_conf.trim_end());

    // osc buildconfig: the combined config that `obs plan` evaluates
    let o = osc(&home, &["buildconfig", "home:alice", "openSUSE_Tumbleweed"]);
    assert!(o.status.success(), "osc buildconfig failed: {}", stderr(&o));
    let bc = stdout(&o);
    assert!(bc.starts_with("%define _project home:alice\n"), "{bc:.200}");
    let conf = archbuild::obs::prjconf::Prjconf::parse(&bc, "aarch64");
    let v = json(&home.run(&[
        "obs",
        "plan",
        "home:alice",
        "openSUSE_Tumbleweed",
        "aarch64",
        "--json",
    ]));
    let plan: Plan = serde_json::from_value(v["plan"].clone()).unwrap();
    assert_eq!(plan.repositories[0].url, conf.repourl[0]);
    let expected: Vec<&String> = conf
        .preinstall
        .iter()
        .chain(&conf.required)
        .filter(|p| !p.starts_with('-'))
        .collect();
    assert_eq!(plan.packages.iter().collect::<Vec<_>>(), expected);

    // and osc is refused like archbuild with a wrong password
    let bad = Home::new(&server, "pass = wrong");
    let o = osc(&bad, &["meta", "prj", "home:alice"]);
    assert!(!o.status.success());
    assert!(server.served("GET /source/home:alice/_meta 401") >= 1);
}
