//! Packaging: `spec/archbuild.spec` builds with rpmbuild from the sources
//! `scripts/make-srpm` makes, without network; the packages hold what the spec promises;
//! the man pages and completions archbuild generates cover every subcommand.
//!
//! Debian's rpmbuild lacks openSUSE's macros: `tests/support/rpm-macros-fallback`
//! supplies them (loaded with `--load`), and `--nodeps` stands in for BuildRequires
//! (Debian's rpm database is empty).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const RUST_VERSION: &str = env!("CARGO_PKG_RUST_VERSION");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fallback_macros() -> PathBuf {
    repo().join("tests/support/rpm-macros-fallback")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).expect("UTF-8 output")
}

/// `archbuild generate WHAT` into a fresh directory.
fn generate(what: &str, dir: &Path) -> PathBuf {
    let out = dir.join(what);
    run(Command::new(common::archbuild_bin())
        .args(["generate", what])
        .arg(&out));
    out
}

/// Every subcommand path (`["binfmt", "register"]`, ...), read from the help texts the
/// binary prints, so that this list does not come from the code that makes the pages.
fn subcommand_paths() -> Vec<Vec<String>> {
    fn commands_in_help(path: &[String]) -> Vec<String> {
        let help = stdout(
            Command::new(common::archbuild_bin())
                .args(path)
                .arg("--help"),
        );
        help.lines()
            .skip_while(|l| *l != "Commands:")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| *name != "help")
            .map(str::to_string)
            .collect()
    }
    let mut paths = Vec::new();
    let mut todo = vec![Vec::new()];
    while let Some(path) = todo.pop() {
        for name in commands_in_help(&path) {
            let mut sub = path.clone();
            sub.push(name);
            todo.push(sub.clone());
            paths.push(sub);
        }
    }
    paths.sort();
    paths
}

/// The words bash offers after `archbuild WORDS... CURRENT` with the generated completion.
fn bash_completes(script: &Path, words: &[&str], current: &str) -> Vec<String> {
    let words: Vec<String> = std::iter::once("archbuild")
        .chain(words.iter().copied())
        .chain([current])
        .map(|w| format!("'{w}'"))
        .collect();
    let program = format!(
        r#"source "$1"
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
_archbuild archbuild "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        words = words.join(" ")
    );
    stdout(
        Command::new("bash")
            .arg("-c")
            .arg(program)
            .arg("bash")
            .arg(script),
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn every_subcommand_has_a_man_page_and_completes_in_bash() {
    let dir = tempfile::tempdir().unwrap();
    let man = generate("man", dir.path());
    let bash = generate("completions", dir.path()).join("archbuild.bash");
    let paths = subcommand_paths();
    assert!(
        paths.len() >= 10,
        "too few subcommands found in the help texts: {paths:?}"
    );
    let mut expected_pages = BTreeSet::from(["archbuild.1".to_string()]);
    for path in &paths {
        let page = format!("archbuild-{}.1", path.join("-"));
        let text = std::fs::read_to_string(man.join(&page)).unwrap_or_else(|e| {
            panic!("no man page {page} for `archbuild {}`: {e}", path.join(" "))
        });
        let name_line = text
            .lines()
            .skip_while(|l| *l != ".SH NAME")
            .nth(1)
            .unwrap_or_default();
        assert!(
            name_line.starts_with(&format!("archbuild\\-{} \\- ", path.join("\\-"))),
            "{page}: NAME line is {name_line:?}"
        );
        expected_pages.insert(page);

        let (name, parents) = path.split_last().unwrap();
        let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
        let offered = bash_completes(&bash, &parents, "");
        assert!(
            offered.contains(name),
            "bash does not offer `{name}` after `archbuild {}`: {offered:?}",
            parents.join(" ")
        );
    }
    let pages: BTreeSet<String> = std::fs::read_dir(&man)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(pages, expected_pages, "man pages besides the subcommands'");

    if common::prerequisite(
        common::tool("groff").is_some(),
        "groff (apt-get install groff-base)",
    ) {
        for page in &pages {
            let out = run(Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(man.join(page)));
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(warnings.is_empty(), "{page}: groff warns: {warnings}");
        }
    }
}

#[test]
fn arch_arguments_complete_from_the_arch_table_in_bash() {
    let dir = tempfile::tempdir().unwrap();
    let bash = generate("completions", dir.path()).join("archbuild.bash");
    let table: serde_json::Value = serde_json::from_str(&stdout(
        Command::new(common::archbuild_bin()).args(["arches", "--json"]),
    ))
    .expect("arches --json");
    let arches: Vec<String> = table
        .as_array()
        .expect("a list of arches")
        .iter()
        .map(|a| a["obs"].as_str().expect("obs name").to_string())
        .collect();
    assert!(arches.contains(&"aarch64".to_string()), "{arches:?}");
    for words in [
        &["bootstrap"][..],
        &["build", "openSUSE_Tumbleweed"],
        &["start", "--arch"],
        &["doctor"],
        &["binfmt", "register"],
        &["obs", "plan", "openSUSE:Factory", "standard"],
    ] {
        let offered = bash_completes(&bash, words, "");
        for arch in &arches {
            assert!(
                offered.contains(arch),
                "`archbuild {}` does not complete {arch}: {offered:?}",
                words.join(" ")
            );
        }
    }
    let offered = bash_completes(&bash, &["bootstrap"], "ri");
    assert_eq!(offered, ["riscv64"]);
    // Completion offers the table's names; the other names still work.
    run(common::archbuild(dir.path()).args([
        "bootstrap",
        "arm64",
        "--dist",
        "debian-12",
        "--dry-run",
    ]));
}

/// The spec in the tree carries the same version facts as Cargo.toml (make-srpm fills
/// them in anyway, so that a package can never disagree).
#[test]
fn spec_in_the_tree_agrees_with_cargo_toml() {
    let spec = std::fs::read_to_string(repo().join("spec/archbuild.spec")).unwrap();
    let field = |prefix: &str| -> Vec<String> {
        spec.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_string())
            .collect()
    };
    assert_eq!(field("Version:"), [VERSION]);
    assert_eq!(field("BuildRequires:  cargo >= "), [RUST_VERSION]);
}

/// What `rpm -qp --qf` says about every file of a package: (is a directory, path).
fn package_files(rpm: &Path) -> BTreeSet<(bool, String)> {
    stdout(
        Command::new("rpm")
            .args(["-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]"])
            .arg(rpm),
    )
    .lines()
    .map(|l| {
        let (mode, path) = l.split_once(' ').expect("mode and path");
        (mode.starts_with('d'), path.to_string())
    })
    .collect()
}

fn rpm_query(rpm: &Path, what: &str) -> Vec<String> {
    stdout(Command::new("rpm").args(["-qp", what]).arg(rpm))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Expand rpm macros as the build did.
fn rpm_eval(expr: &str) -> String {
    stdout(
        Command::new("rpm")
            .arg("--load")
            .arg(fallback_macros())
            .args(["--eval", expr]),
    )
    .trim()
    .to_string()
}

fn extract(rpm: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    run(Command::new("sh")
        .arg("-c")
        .arg("rpm2cpio \"$1\" | (cd \"$2\" && cpio -idm --quiet)")
        .arg("sh")
        .arg(rpm)
        .arg(into));
}

fn gunzip(path: &Path) -> Vec<u8> {
    run(Command::new("gzip").arg("-dc").arg(path)).stdout
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The directory holding the cargo that runs these tests (rustup's, usually).
fn cargo_dir() -> PathBuf {
    let cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .or_else(|| common::tool("cargo"))
        .expect("cargo");
    cargo.parent().expect("cargo's directory").to_path_buf()
}

/// The whole way a packager goes: make-srpm, then `rpmbuild -ba` with no network (its
/// own network namespace) and an empty CARGO_HOME, so that only the vendored crates
/// exist. The release build inside takes most of this test's time (minutes).
#[test]
fn spec_builds_offline_into_packages_that_hold_what_archbuild_generates() {
    let tools = [
        "rpmbuild", "rpm", "rpm2cpio", "cpio", "zstd", "git", "tar", "gzip", "unshare",
    ];
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| common::tool(t).is_none())
        .collect();
    if !common::prerequisite(
        missing.is_empty(),
        &format!("{missing:?} for the rpmbuild test (scripts/install-test-deps)"),
    ) || !common::prerequisite(
        common::is_root(),
        "root, to build in a network namespace without network",
    ) {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let top = top.path();
    let sources = top.join("SOURCES");
    let made = stdout(Command::new(repo().join("scripts/make-srpm")).arg(&sources));
    assert!(made.contains(&format!("cargo >= {RUST_VERSION}")), "{made}");
    let spec = std::fs::read_to_string(sources.join("archbuild.spec")).unwrap();
    assert!(
        spec.lines()
            .any(|l| l == format!("BuildRequires:  cargo >= {RUST_VERSION}")),
        "make-srpm did not fill in rust-version:\n{spec}"
    );

    let cargo_home = top.join("cargo-home");
    std::fs::create_dir(&cargo_home).unwrap();
    let path = std::env::join_paths(
        std::iter::once(cargo_dir())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let build = Command::new("unshare")
        .args(["--net", "--", "rpmbuild", "-ba", "--nodeps"])
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg("--load")
        .arg(fallback_macros())
        .arg(sources.join("archbuild.spec"))
        .env("CARGO_HOME", &cargo_home)
        .env("PATH", path)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run rpmbuild");
    let log = String::from_utf8_lossy(&build.stdout).into_owned()
        + &String::from_utf8_lossy(&build.stderr);
    let tail: Vec<&str> = log
        .lines()
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        build.status.success(),
        "rpmbuild failed:\n{}",
        tail.join("\n")
    );
    eprintln!("rpmbuild -ba took {:?}", started.elapsed());
    // %check ran the library's unit tests and they passed.
    assert!(
        log.lines()
            .any(|l| l.starts_with("test result: ok.") && !l.contains(" 0 passed")),
        "no unit test results in the rpmbuild log:\n{}",
        tail.join("\n")
    );

    let arch = rpm_eval("%{_arch}");
    let main = top.join(format!("RPMS/{arch}/archbuild-{VERSION}-0.{arch}.rpm"));
    let plugin = top.join(format!(
        "RPMS/noarch/osc-plugin-archbuild-{VERSION}-0.noarch.rpm"
    ));
    let srpm = top.join(format!("SRPMS/archbuild-{VERSION}-0.src.rpm"));
    for p in [&main, &plugin, &srpm] {
        assert!(p.is_file(), "rpmbuild made no {}", p.display());
    }

    // What archbuild generates now, to compare the packaged files with.
    let fresh = tempfile::tempdir().unwrap();
    let man = generate("man", fresh.path());
    let completions = generate("completions", fresh.path());
    let binfmt = generate("binfmt-example", fresh.path());

    // Every file lands where the spec says, and nothing else is packaged.
    let at = |expr: &str| rpm_eval(expr);
    let docdir = format!("{}/archbuild", at("%{_docdir}"));
    let mandir = format!("{}/man1", at("%{_mandir}"));
    let ext_man = at("%{?ext_man}");
    let datadir = at("%{_datadir}");
    let mut files: BTreeSet<(bool, String)> = BTreeSet::new();
    let mut file = |dir: bool, path: String| files.insert((dir, path));
    file(false, format!("{}/archbuild", at("%{_bindir}")));
    for page in std::fs::read_dir(&man).unwrap() {
        let page = page.unwrap().file_name().into_string().unwrap();
        file(false, format!("{mandir}/{page}{ext_man}"));
    }
    for (dir, name, generated) in [
        ("bash-completion/completions", "archbuild", "archbuild.bash"),
        ("zsh/site-functions", "_archbuild", "_archbuild"),
        (
            "fish/vendor_completions.d",
            "archbuild.fish",
            "archbuild.fish",
        ),
    ] {
        let (owned, _) = dir.split_once('/').unwrap();
        file(true, format!("{datadir}/{owned}"));
        file(true, format!("{datadir}/{dir}"));
        file(false, format!("{datadir}/{dir}/{name}"));
        assert!(completions.join(generated).is_file(), "{generated}");
    }
    file(true, docdir.clone());
    file(false, format!("{docdir}/README.md"));
    file(true, format!("{docdir}/docs"));
    for doc in std::fs::read_dir(repo().join("docs")).unwrap() {
        let doc = doc.unwrap().file_name().into_string().unwrap();
        file(false, format!("{docdir}/docs/{doc}"));
    }
    file(true, format!("{docdir}/binfmt.d"));
    file(false, format!("{docdir}/binfmt.d/archbuild.conf"));
    // The binfmt handler of accelerated roots, where archbuild looks for it (x86_64 only:
    // bundles hold x86_64 tools).
    let handler = archbuild::accel::host::INSTALLED_HANDLER;
    if arch == "x86_64" {
        let dir = Path::new(handler).parent().unwrap();
        file(true, dir.display().to_string());
        file(false, handler.to_string());
    }
    let licenses = format!("{}/archbuild", at("%{_defaultlicensedir}"));
    file(true, licenses.clone());
    file(false, format!("{licenses}/COPYING"));
    assert_eq!(package_files(&main), files, "files of {}", main.display());
    let plugin_dir = format!("{}/lib/osc-plugins", at("%{_prefix}"));
    assert_eq!(
        package_files(&plugin),
        BTreeSet::from([
            (true, plugin_dir.clone()),
            (false, format!("{plugin_dir}/archbuild.py"))
        ]),
        "files of {}",
        plugin.display()
    );

    // The packaged man pages, completions and binfmt.d example are what archbuild makes.
    let root = top.join("installed");
    extract(&main, &root);
    extract(&plugin, &root);
    let inside = |path: &str| root.join(path.trim_start_matches('/'));
    for page in std::fs::read_dir(&man).unwrap() {
        let page = page.unwrap().file_name().into_string().unwrap();
        let packaged = inside(&format!("{mandir}/{page}{ext_man}"));
        let packaged = if ext_man == ".gz" {
            gunzip(&packaged)
        } else {
            read(&packaged)
        };
        assert!(
            packaged == read(&man.join(&page)),
            "{page} differs from `archbuild generate man`"
        );
    }
    for (packaged, generated) in [
        ("bash-completion/completions/archbuild", "archbuild.bash"),
        ("zsh/site-functions/_archbuild", "_archbuild"),
        ("fish/vendor_completions.d/archbuild.fish", "archbuild.fish"),
    ] {
        assert!(
            read(&inside(&format!("{datadir}/{packaged}"))) == read(&completions.join(generated)),
            "{packaged} differs from `archbuild generate completions`"
        );
    }
    assert!(
        read(&inside(&format!("{docdir}/binfmt.d/archbuild.conf")))
            == read(&binfmt.join("archbuild.conf")),
        "the binfmt.d example differs from `archbuild generate binfmt-example`"
    );
    assert!(
        read(&inside(&format!("{plugin_dir}/archbuild.py")))
            == read(&repo().join("osc-plugin/archbuild.py")),
        "the packaged plugin is not osc-plugin/archbuild.py"
    );
    let packaged_bin = inside(&format!("{}/archbuild", at("%{_bindir}")));
    let said = stdout(Command::new(&packaged_bin).arg("--version"));
    assert_eq!(said.trim(), format!("archbuild {VERSION}"));
    if arch == "x86_64" {
        packaged_handler_is_usable(&main, &inside(handler));
    }

    // Dependencies, by name.
    let names = |lines: Vec<String>| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    };
    let requires = names(rpm_query(&plugin, "--requires"));
    for name in ["osc", "archbuild"] {
        assert!(
            requires.iter().any(|r| r == name),
            "plugin requires {requires:?}"
        );
    }
    let requires = names(rpm_query(&main, "--requires"));
    assert!(requires.iter().any(|r| r == "util-linux"), "{requires:?}");
    let recommends = names(rpm_query(&main, "--recommends"));
    for name in ["qemu-linux-user", "zypper", "obs-build"] {
        assert!(
            recommends.iter().any(|r| r == name),
            "archbuild recommends {recommends:?}"
        );
    }
    // What only `accel bundle` of Debian roots needs is merely suggested.
    let suggests = names(rpm_query(&main, "--suggests"));
    for name in ["patchelf", "dpkg", "apt"] {
        assert!(
            suggests.iter().any(|r| r == name),
            "archbuild suggests {suggests:?}"
        );
        assert!(
            !requires.iter().chain(&recommends).any(|r| r == name),
            "{name} must be a suggestion only: requires {requires:?}, recommends {recommends:?}"
        );
    }
    let build_requires = rpm_query(&srpm, "--requires");
    assert!(
        build_requires
            .iter()
            .any(|r| *r == format!("cargo >= {RUST_VERSION}")),
        "{build_requires:?}"
    );
    assert!(
        build_requires.iter().any(|r| r == "cargo-packaging"),
        "{build_requires:?}"
    );
}

/// The packaged handler is at a path archbuild looks at, owned by root, mode 0755,
/// statically linked (no PT_INTERP), accepted by the check `start --accel` makes, and
/// runs.
fn packaged_handler_is_usable(rpm: &Path, extracted: &Path) {
    let handler = archbuild::accel::host::INSTALLED_HANDLER;
    if std::env::var_os("ARCHBUILD_ACCEL_HANDLER").is_none() {
        let candidates = archbuild::accel::host::handler_candidates();
        assert!(
            candidates.iter().any(|c| c == Path::new(handler)),
            "{handler} is not among {candidates:?}"
        );
    }
    let line = stdout(
        Command::new("rpm")
            .args([
                "-qp",
                "--qf",
                "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]",
            ])
            .arg(rpm),
    )
    .lines()
    .find(|l| l.ends_with(&format!(" {handler}")))
    .unwrap_or_else(|| panic!("{} has no {handler}", rpm.display()))
    .to_string();
    assert!(
        line.starts_with("-rwxr-xr-x root root "),
        "the packaged handler: {line}"
    );
    let info = archbuild::elf::read(extracted).unwrap();
    assert!(!info.dynamic, "the packaged handler has a PT_INTERP");
    assert_eq!(info.machine, 62, "the packaged handler is not x86_64");
    archbuild::emulator::verify(extracted).expect("the packaged handler passes start's check");
    // Run by hand it says what it is (binfmt_misc gives it the binary and argv[0]).
    let out = Command::new(extracted).output().unwrap();
    assert_eq!(out.status.code(), Some(126));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("binfmt_misc interpreter"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
