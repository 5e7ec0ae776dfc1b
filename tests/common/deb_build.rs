//! Real `osc build`s of small Debian 12 packages, driven by `archbuild build` (or the osc
//! plugin) as the packager `pkger`, against the stand-in OBS tests/support/build_server.py.
//!
//! Two layers:
//! - the parts (for tests that need their own package or config, as tests/build_e2e.rs):
//!   [`packager_host`], [`source_package`], [`expand`], [`BuildServer`], [`checkout`],
//!   [`oscrc`], [`osc_as_pkger`], [`as_pkger`], [`find_deb`];
//! - [`DebBuild`], the fast fixture: packages that compile nothing ([`DebPackage`]: a
//!   debian/rules that records `uname -m` and `dpkg --print-architecture`, can fail on
//!   purpose on one Debian arch or sleep), checked out in home:alice, built against
//!   tests/data/obs/prjconf_debian12_minimal.txt (no build-essential: 95 packages in
//!   the build root of x86_64 or aarch64 instead of 154 and 153 with
//!   prjconf_debian12.txt; a native x86_64 build takes about 40-50 s, an emulated
//!   aarch64 one about 5 min on a loaded 2-core machine).
//!
//! ```ignore
//! isolated!();
//! if !deb_build::prerequisites(&["x86_64"]) { return; }
//! let b = DebBuild::new(&[DebPackage::new("hello"), DebPackage::new("greet").fail_on("arm64")], &["x86_64", "aarch64"]);
//! let out = b.build("hello", "x86_64", &["--clean"]).output().unwrap();
//! assert!(out.status.success());
//! let built_on = b.built_on("hello", "x86_64");  // "uname_m=x86_64\ndeb_arch=amd64\n"
//! b.server().served("x86_64", "dpkg");            // downloads counted from its log
//! b.archbuild(&["list"], &b.checkout("hello"));   // any subcommand, as pkger
//! ```
//! Everything runs inside the test's throwaway mount namespace (`isolated!`): the
//! packager's /home and /var/tmp (build roots, osc's package cache) are tmpfs there.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::sh;

pub const OSC_ROOT: &str = "/opt/archbuild-test";
pub const USER_HOME: &str = "/home/pkger";
pub const PKGER_UID: u32 = 4321;
/// The osc release the fixture runs.
pub const OSC_VERSION: &str = "1.28.0";
pub const PROJECT: &str = "home:alice";
pub const REPOSITORY: &str = "Debian_12";

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/obs")
        .join(name)
}

/// The full Debian 12 config (build-essential in every build root).
pub fn prjconf_full() -> PathBuf {
    data("prjconf_debian12.txt")
}

/// The minimal one: dpkg-dev and Debian's essential packages, nothing else.
pub fn prjconf_minimal() -> PathBuf {
    data("prjconf_debian12_minimal.txt")
}

/// Run `cmd`; it must succeed. Returns stdout.
pub fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn osc_dir(version: &str) -> PathBuf {
    Path::new(OSC_ROOT).join(format!("osc-{version}"))
}

/// Debian arch of an OBS arch (`x86_64` -> `amd64`).
pub fn deb_arch(obs_arch: &str) -> &'static str {
    archbuild::arch::lookup(obs_arch)
        .unwrap_or_else(|e| panic!("{obs_arch}: {e}"))
        .deb
}

/// What a build of `obs_arches` needs on the host (osc `versions`, obs-build, dpkg-dev,
/// sudo, python3, libwww-perl, qemu-user-static for the foreign arches). Fails under
/// CI=true, skips with the reason outside.
pub fn prerequisites_with_osc(obs_arches: &[&str], versions: &[&str]) -> bool {
    let perl_lwp = Command::new("perl")
        .args(["-MLWP::UserAgent", "-e1"])
        .status()
        .is_ok_and(|s| s.success());
    let host = archbuild::arch::host().expect("host arch");
    let emulators = obs_arches.iter().all(|a| {
        let arch = archbuild::arch::lookup(a).unwrap_or_else(|e| panic!("{a}: {e}"));
        arch.is_native_on(host)
            || Path::new(&format!("/usr/bin/qemu-{}-static", arch.qemu)).exists()
    });
    super::prerequisite(
        emulators
            && Path::new("/usr/lib/obs-build/expanddeps").exists()
            && super::tool("dpkg-source").is_some()
            && super::tool("python3").is_some()
            && Path::new("/usr/bin/python3").exists()
            && Path::new("/usr/bin/sudo").exists()
            && perl_lwp,
        "qemu-user-static, obs-build, dpkg-dev, python3, sudo and libwww-perl \
         (apt-get install qemu-user-static obs-build dpkg-dev python3 sudo libwww-perl)",
    ) && versions.iter().all(|v| {
        super::prerequisite(
            osc_dir(v).join("osc/__init__.py").is_file(),
            &format!(
                "osc {v} in {} (scripts/install-test-deps)",
                osc_dir(v).display()
            ),
        )
    })
}

/// [`prerequisites_with_osc`] for the fixture's osc.
pub fn prerequisites(obs_arches: &[&str]) -> bool {
    prerequisites_with_osc(obs_arches, &[OSC_VERSION])
}

/// The host as the packager has it: user pkger (uid 4321) with a private /home and
/// /var/tmp, sudo for pkger (osc's su-wrapper; the test's ARCHBUILD_* settings pass
/// through it), the plugin in ~/.osc-plugins. Inside `isolated!` only.
pub fn packager_host() {
    super::fake_sudo_user();
    // sudo's PAM account check wants pkger in the shadow file
    sh("cp /etc/shadow /tmp/archbuild-test-shadow && echo 'pkger:*:19000:0:99999:7:::' >> /tmp/archbuild-test-shadow && mount --bind /tmp/archbuild-test-shadow /etc/shadow");
    sh("mount -t tmpfs -o mode=0755 tmpfs /etc/sudoers.d");
    std::fs::write(
        "/etc/sudoers.d/archbuild-test",
        "Defaults:pkger !requiretty, env_keep += \"ARCHBUILD_*\"\npkger ALL=(root) NOPASSWD: ALL\n",
    )
    .unwrap();
    sh("chmod 0440 /etc/sudoers.d/archbuild-test");
    let plugins = Path::new(USER_HOME).join(".osc-plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("osc-plugin/archbuild.py"),
        plugins.join("archbuild.py"),
    )
    .unwrap();
}

/// The source package `NAME_1.0` from `files` (paths under the source tree), made with
/// dpkg-source in `dir`. Returns the .dsc (the .tar.xz is next to it).
pub fn source_package(dir: &Path, name: &str, files: &[(String, String)]) -> PathBuf {
    let tree = format!("{name}-1.0");
    let src = dir.join(&tree);
    for (file, text) in files {
        let path = src.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    sh(&format!("chmod 755 {}/debian/rules", src.display()));
    output(
        Command::new("dpkg-source")
            .arg("-b")
            .arg(&tree)
            .current_dir(dir),
    );
    dir.join(format!("{name}_1.0.dsc"))
}

/// debian/changelog and debian/source/format of version 1.0 of `name`.
pub fn debian_boilerplate(name: &str) -> Vec<(String, String)> {
    vec![
        (
            "debian/changelog".into(),
            format!("{name} (1.0) unstable; urgency=medium\n\n  * Test package.\n\n -- archbuild tests <tests@archbuild.invalid>  Sat, 28 Nov 2026 12:00:00 +0000\n"),
        ),
        ("debian/source/format".into(), "3.0 (native)\n".into()),
    ]
}

/// obs-build's own dependency expansion of `dsc` with `prjconf`, against Debian 12's index
/// of `obs_arch` (the index is cached across runs). Returns the file with its output.
pub fn expand(dsc: &Path, work: &Path, obs_arch: &str, prjconf: &Path) -> PathBuf {
    expand_from(dsc, work, obs_arch, prjconf, "bookworm")
}

/// [`expand`] against the index of Debian release `dist` (`bookworm`, `trixie`).
pub fn expand_from(dsc: &Path, work: &Path, obs_arch: &str, prjconf: &Path, dist: &str) -> PathBuf {
    let cache = match dist {
        "bookworm" => super::cache_dir().join(format!("build-e2e-debdeps-{obs_arch}")),
        _ => super::cache_dir().join(format!("build-e2e-debdeps-{dist}-{obs_arch}")),
    };
    std::fs::create_dir_all(&cache).unwrap();
    let deps = output(
        Command::new("/usr/lib/obs-build/createdebdeps")
            .args([
                "--cachedir",
                cache.to_str().unwrap(),
                "--archpath",
                obs_arch,
            ])
            .arg(format!("http://deb.debian.org/debian/{dist}/main"))
            .env("BUILD_DIR", "/usr/lib/obs-build"),
    );
    let depfile = work.join(format!("debdeps-{obs_arch}"));
    std::fs::write(&depfile, deps).unwrap();
    let expanded = output(
        Command::new("/usr/lib/obs-build/expanddeps")
            .args(["--dist", prjconf.to_str().unwrap()])
            .args(["--depfile", depfile.to_str().unwrap()])
            .args(["--archpath", obs_arch])
            .args(["--configdir", "/usr/lib/obs-build/configs"])
            .arg(dsc)
            .env("BUILD_DIR", "/usr/lib/obs-build"),
    );
    assert!(
        expanded.contains("\ndpkg-dev "),
        "expanddeps found no dpkg-dev for {obs_arch}:\n{expanded}"
    );
    let path = work.join(format!(
        "expanded-{}-{obs_arch}",
        dsc.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, expanded).unwrap();
    path
}

/// The number of packages an expansion puts into the build root.
pub fn expanded_packages(expanded: &Path) -> usize {
    std::fs::read_to_string(expanded)
        .unwrap()
        .lines()
        .filter(|l| l.ends_with(".deb") && l.contains("://"))
        .count()
}

/// The stand-in OBS (tests/support/build_server.py) with its stderr in a log file.
pub struct BuildServer {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl BuildServer {
    /// Serve `expanded` (`(OBS arch, expanddeps output)`) for `packages` (empty: any
    /// name) with `prjconf`; the project meta lists `meta_arches` (empty: x86_64 and the
    /// served arches). The log goes to `log`.
    pub fn start(
        expanded: &[(&str, &Path)],
        packages: &[&str],
        meta_arches: &[&str],
        prjconf: &Path,
        log: &Path,
    ) -> BuildServer {
        Self::start_for(REPOSITORY, expanded, packages, meta_arches, prjconf, log)
    }

    /// [`Self::start`] for the repository `repository` (home:alice's, on Debian:<n>).
    pub fn start_for(
        repository: &str,
        expanded: &[(&str, &Path)],
        packages: &[&str],
        meta_arches: &[&str],
        prjconf: &Path,
        log: &Path,
    ) -> BuildServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/build_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg(&script).arg("--repository").arg(repository);
        for (arch, file) in expanded {
            cmd.arg("--expanded")
                .arg(format!("{arch}={}", file.display()));
        }
        if !packages.is_empty() {
            cmd.arg("--packages").arg(packages.join(","));
        }
        if !meta_arches.is_empty() {
            cmd.arg("--arches").arg(meta_arches.join(","));
        }
        cmd.arg("--config")
            .arg(prjconf)
            .arg("--debs")
            .arg(super::cache_dir().join("build-e2e-debs"))
            // OBS's build results: the text a test writes there (see `results_file`)
            .arg("--results")
            .arg(log.with_file_name("results.xml"));
        let log_file = std::fs::File::create(log).unwrap();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", script.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!(
                    "build_server.py printed {line:?}, not PORT <n>: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        BuildServer {
            child,
            port,
            log: log.to_path_buf(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The file whose text the server answers `GET /build/<prj>/_result` with.
    pub fn results_file(&self) -> PathBuf {
        self.log.with_file_name("results.xml")
    }

    /// The server's process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every binary served from now on takes `seconds` more.
    pub fn set_delay(&self, seconds: f64) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/_delay", self.url()))
            .query(&[("seconds", seconds.to_string())])
            .send()
            .expect("set the stand-in's delay");
        assert!(r.status().is_success());
    }

    /// Its stderr so far: one line per request, per served binary, per failure.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How often binary `name` (a Debian package name) of `obs_arch` was served.
    pub fn served(&self, obs_arch: &str, name: &str) -> usize {
        let line = format!("build_server: served {obs_arch} {name}");
        self.log().lines().filter(|l| *l == line).count()
    }

    /// Every binary served so far, `(arch, name)`, in order.
    pub fn served_all(&self) -> Vec<(String, String)> {
        self.log()
            .lines()
            .filter_map(|l| l.strip_prefix("build_server: served "))
            .filter_map(|l| l.split_once(' '))
            .map(|(a, n)| (a.to_string(), n.to_string()))
            .collect()
    }
}

impl Drop for BuildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- build_server log\n{}", self.log());
        }
    }
}

/// A package checkout of `PROJECT/name` at `dir` in store format 1.0 (as `osc checkout`
/// of osc < 1.1 leaves it; osc >= 1.1 migrates it to 2.0 when it first reads it), with
/// NAME_1.0.dsc and NAME_1.0.tar.xz copied from `sources`; owned by pkger.
pub fn checkout(dir: &Path, url: &str, name: &str, sources: &Path) {
    std::fs::create_dir_all(dir.join(".osc")).unwrap();
    for (file, text) in [
        ("_osclib_version", "1.0\n".to_string()),
        ("_apiurl", format!("{url}\n")),
        ("_project", format!("{PROJECT}\n")),
        ("_package", format!("{name}\n")),
        ("_files", format!("<directory name=\"{name}\" />\n")),
    ] {
        std::fs::write(dir.join(".osc").join(file), text).unwrap();
    }
    for f in [format!("{name}_1.0.dsc"), format!("{name}_1.0.tar.xz")] {
        std::fs::copy(sources.join(&f), dir.join(&f)).unwrap();
    }
    sh("chown -R 4321:4321 /home/pkger");
}

/// The oscrc: `[general]` and the host section, with `credentials` lines for the host.
pub fn oscrc(url: &str, credentials: &str) {
    let path = Path::new(USER_HOME).join(".config/osc/oscrc");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        // trusted_prj: osc would otherwise ask whether to trust Debian:12's packages
        format!("[general]\napiurl = {url}\n\n[{url}]\nuser = alice\n{credentials}allow_http = 1\ntrusted_prj = Debian:12 Debian:13\n"),
    )
    .unwrap();
    sh("chown -R 4321:4321 /home/pkger && chmod 600 /home/pkger/.config/osc/oscrc");
}

/// `program ARGS` as pkger in `cwd` with a clean login environment, osc `version` on
/// PYTHONPATH (plus `extra_path`), and the ARCHBUILD_* settings of a private archbuild
/// installation in `state` (see `common::archbuild`).
pub fn as_pkger(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    version: &str,
    extra_path: &str,
    state: &Path,
) -> Command {
    let mut python_path = osc_dir(version).display().to_string();
    if !extra_path.is_empty() {
        python_path = format!("{python_path}:{extra_path}");
    }
    let settings = super::archbuild(state);
    let archbuild = settings.get_program().to_os_string();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=4321", "--regid=4321", "--init-groups", "--"])
        .arg(program)
        .args(args)
        .env_clear()
        .env("HOME", USER_HOME)
        .env("USER", "pkger")
        .env("LOGNAME", "pkger")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("LANG", "C.UTF-8")
        .env("PYTHONPATH", python_path)
        .env("ARCHBUILD", &archbuild)
        .env(
            "ARCHBUILD_CACHE_DIR",
            super::cache_dir().join("build-e2e-archbuild-cache"),
        )
        .current_dir(cwd);
    for (k, v) in settings.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd
}

/// The osc script of release `version`.
pub fn osc_script(version: &str) -> PathBuf {
    let dir = osc_dir(version);
    ["osc", "osc-wrapper.py"]
        .iter()
        .map(|s| dir.join("bin").join(s))
        .find(|p| p.is_file())
        .expect("osc script")
}

/// `osc ARGS` of release `version`, run as pkger in `cwd` (/usr/bin/python3: the
/// test's own python may live under /root, which pkger cannot read).
pub fn osc_as_pkger(version: &str, extra_path: &str, args: &[&str], cwd: &Path) -> Command {
    let script = osc_script(version);
    let mut full = vec![script.to_str().unwrap()];
    full.extend_from_slice(args);
    let state = tempfile::tempdir().unwrap().keep();
    as_pkger(
        Path::new("/usr/bin/python3"),
        &full,
        cwd,
        version,
        extra_path,
        &state,
    )
}

/// The `NAME_*_DEBARCH.deb` in `dir`.
pub fn find_deb(dir: &Path, name: &str, deb_arch: &str) -> PathBuf {
    let deb = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            file.starts_with(&format!("{name}_")) && file.ends_with(".deb")
        })
        .unwrap_or_else(|| panic!("no {name} .deb in {}", dir.display()));
    assert!(
        deb.to_string_lossy().ends_with(&format!("_{deb_arch}.deb")),
        "{}",
        deb.display()
    );
    let arch = output(
        Command::new("dpkg-deb")
            .arg("-f")
            .arg(&deb)
            .arg("Architecture"),
    );
    assert_eq!(arch.trim(), deb_arch, "{}", deb.display());
    deb
}

/// `deb` unpacked under `scratch`; returns the directory.
pub fn unpack(deb: &Path, scratch: &Path) -> PathBuf {
    let unpacked = scratch.join(format!(
        "unpacked-{}",
        deb.file_name().unwrap().to_string_lossy()
    ));
    output(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&unpacked));
    unpacked
}

/// osc's build root for `obs_arch` (osc's default, on the packager's /var/tmp).
pub fn build_root(obs_arch: &str) -> PathBuf {
    PathBuf::from(format!("/var/tmp/build-root/{REPOSITORY}-{obs_arch}"))
}

/// A package of the fast fixture: compiles nothing; its debian/rules writes
/// /usr/share/doc/NAME/built-on (`uname_m=...`, `deb_arch=...` as seen in the build).
#[derive(Debug, Clone)]
pub struct DebPackage {
    pub name: String,
    /// The `Architecture:` field: `any`, `all`, `amd64 arm64`...
    pub architecture: String,
    /// Debian arch on which the build fails on purpose (exit 1 after printing
    /// "failing on purpose on ARCH").
    pub fail_on: Option<String>,
    /// Seconds the build sleeps (after writing built-on), for kill tests.
    pub sleep: u32,
    /// MiB of random data shipped uncompressed in the package (a .deb that takes a
    /// while to copy), for kill tests.
    pub payload_mib: u32,
}

impl DebPackage {
    pub fn new(name: &str) -> DebPackage {
        DebPackage {
            name: name.to_string(),
            architecture: "any".to_string(),
            fail_on: None,
            sleep: 0,
            payload_mib: 0,
        }
    }

    pub fn architecture(mut self, field: &str) -> DebPackage {
        self.architecture = field.to_string();
        self
    }

    pub fn fail_on(mut self, deb_arch: &str) -> DebPackage {
        self.fail_on = Some(deb_arch.to_string());
        self
    }

    pub fn sleep(mut self, seconds: u32) -> DebPackage {
        self.sleep = seconds;
        self
    }

    pub fn payload_mib(mut self, mib: u32) -> DebPackage {
        self.payload_mib = mib;
        self
    }

    /// The source tree's files.
    pub fn files(&self) -> Vec<(String, String)> {
        let name = &self.name;
        let mut build = String::from(
            "\techo \"uname_m=$$(uname -m)\" > built-on\n\techo \"deb_arch=$$(dpkg --print-architecture)\" >> built-on\n",
        );
        if let Some(arch) = &self.fail_on {
            build += &format!(
                "\tif [ \"$$(dpkg --print-architecture)\" = {arch} ]; then echo \"failing on purpose on {arch}\"; exit 1; fi\n"
            );
        }
        if self.sleep > 0 {
            build += &format!(
                "\techo \"sleeping {} s\"\n\tsleep {}\n",
                self.sleep, self.sleep
            );
        }
        let payload = if self.payload_mib > 0 {
            format!(
                "\thead -c {}M /dev/urandom > debian/tmp/usr/share/doc/{name}/payload\n",
                self.payload_mib
            )
        } else {
            String::new()
        };
        let mut files = vec![
            (
                "debian/control".to_string(),
                // no Build-Depends; Rules-Requires-Root: no needs no fakeroot
                format!("Source: {name}\nSection: misc\nPriority: optional\nMaintainer: archbuild tests <tests@archbuild.invalid>\nStandards-Version: 4.6.2\nRules-Requires-Root: no\n\nPackage: {name}\nArchitecture: {}\nDescription: archbuild test package {name}\n Records the machine it was built on.\n", self.architecture),
            ),
            (
                "debian/rules".to_string(),
                format!("#!/usr/bin/make -f\nbuild build-arch build-indep:\n{build}binary binary-arch binary-indep: build\n\trm -rf debian/tmp\n\tinstall -D -m 0644 built-on debian/tmp/usr/share/doc/{name}/built-on\n{payload}\tinstall -d debian/tmp/DEBIAN\n\tdpkg-gencontrol -p{name} -Pdebian/tmp\n\tdpkg-deb -Znone --root-owner-group --build debian/tmp ..\nclean:\n\trm -rf built-on debian/tmp debian/files\n"),
            ),
        ];
        files.extend(debian_boilerplate(name));
        files
    }
}

/// The fast fixture: pkger's host, the packages checked out at
/// `/home/pkger/obs/home:alice/NAME` (store 2.0, as osc 1.28 leaves them), the oscrc,
/// one stand-in OBS serving every package for every arch, a private archbuild state.
pub struct DebBuild {
    pub scratch: tempfile::TempDir,
    pub packages: Vec<DebPackage>,
    pub arches: Vec<String>,
    /// Packages in the build root per arch (from the expansion).
    pub root_packages: Vec<(String, usize)>,
    server: BuildServer,
}

impl Drop for DebBuild {
    /// The binfmt entries archbuild's build-cmd registered for this test go with it.
    fn drop(&mut self) {
        super::remove_own_binfmt_entries();
    }
}

impl DebBuild {
    /// Set it all up, inside `isolated!` (call [`prerequisites`] first). `obs_arches`
    /// are the arches served (and listed in the project meta, with x86_64).
    pub fn new(packages: &[DebPackage], obs_arches: &[&str]) -> DebBuild {
        Self::with_meta_arches(packages, obs_arches, &[])
    }

    /// The same, with the project meta listing `meta_arches` (empty: x86_64 and the
    /// served arches), e.g. `["x86_64", "aarch64", "armv7l", "s390x"]`.
    pub fn with_meta_arches(
        packages: &[DebPackage],
        obs_arches: &[&str],
        meta_arches: &[&str],
    ) -> DebBuild {
        assert!(!packages.is_empty(), "DebBuild needs a package");
        packager_host();
        let scratch = tempfile::tempdir().unwrap();
        sh(&format!("chmod 755 {}", scratch.path().display()));
        let dscs: Vec<PathBuf> = packages
            .iter()
            .map(|p| source_package(scratch.path(), &p.name, &p.files()))
            .collect();
        // no package has Build-Depends: one expansion per arch serves them all
        let expanded: Vec<(String, PathBuf)> = obs_arches
            .iter()
            .map(|a| {
                (
                    a.to_string(),
                    expand(&dscs[0], scratch.path(), a, &prjconf_minimal()),
                )
            })
            .collect();
        let root_packages = expanded
            .iter()
            .map(|(a, f)| (a.clone(), expanded_packages(f)))
            .collect();
        let served: Vec<(&str, &Path)> = expanded
            .iter()
            .map(|(a, f)| (a.as_str(), f.as_path()))
            .collect();
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        let server = BuildServer::start(
            &served,
            &names,
            meta_arches,
            &prjconf_minimal(),
            &scratch.path().join("build_server.log"),
        );
        oscrc(&server.url(), "pass = opensuse\n");
        let state = scratch.path().join("archbuild");
        std::fs::create_dir_all(&state).unwrap();
        let fixture = DebBuild {
            scratch,
            packages: packages.to_vec(),
            arches: obs_arches.iter().map(|a| a.to_string()).collect(),
            root_packages,
            server,
        };
        for p in packages {
            let dir = fixture.checkout(&p.name);
            checkout(&dir, &fixture.server.url(), &p.name, fixture.scratch.path());
            // osc 1.28 turns the checkout into store format 2.0 when it first reads it
            output(&mut fixture.osc(&["status"], &dir));
        }
        fixture
    }

    /// Put new sources of `package` (same name and version) into its checkout, as an
    /// edit of the packager would.
    pub fn replace_sources(&self, package: &DebPackage) {
        let dir = tempfile::tempdir_in(self.scratch.path()).unwrap();
        source_package(dir.path(), &package.name, &package.files());
        for f in [
            format!("{}_1.0.dsc", package.name),
            format!("{}_1.0.tar.xz", package.name),
        ] {
            std::fs::copy(dir.path().join(&f), self.checkout(&package.name).join(&f)).unwrap();
        }
        sh("chown -R 4321:4321 /home/pkger");
    }

    /// The checkout of `name`.
    pub fn checkout(&self, name: &str) -> PathBuf {
        Path::new(USER_HOME).join("obs").join(PROJECT).join(name)
    }

    pub fn server(&self) -> &BuildServer {
        &self.server
    }

    /// The private archbuild installation (ARCHBUILD_STATE_DIR etc.) every command of
    /// this fixture uses.
    pub fn state(&self) -> PathBuf {
        self.scratch.path().join("archbuild")
    }

    /// `osc ARGS` (the fixture's release) as pkger in `cwd`.
    pub fn osc(&self, args: &[&str], cwd: &Path) -> Command {
        let script = osc_script(OSC_VERSION);
        let mut full = vec![script.to_str().unwrap()];
        full.extend_from_slice(args);
        as_pkger(
            Path::new("/usr/bin/python3"),
            &full,
            cwd,
            OSC_VERSION,
            "",
            &self.state(),
        )
    }

    /// The `--osc` value that runs the fixture's osc.
    pub fn osc_program(&self) -> String {
        format!("/usr/bin/python3 {}", osc_script(OSC_VERSION).display())
    }

    /// `archbuild ARGS` as pkger in `cwd` (any subcommand; `archbuild build` needs
    /// `--osc` [`Self::osc_program`]).
    pub fn archbuild(&self, args: &[&str], cwd: &Path) -> Command {
        as_pkger(
            &super::archbuild_bin(),
            args,
            cwd,
            OSC_VERSION,
            "",
            &self.state(),
        )
    }

    /// `archbuild build Debian_12 ARCH NAME_1.0.dsc --osc ... -- --no-verify OPTIONS...`
    /// as pkger in the checkout of `name`.
    pub fn build(&self, name: &str, obs_arch: &str, osc_options: &[&str]) -> Command {
        let dsc = format!("{name}_1.0.dsc");
        let osc = self.osc_program();
        let mut args = vec![
            "build",
            REPOSITORY,
            obs_arch,
            dsc.as_str(),
            "--osc",
            osc.as_str(),
            "--",
            "--no-verify",
        ];
        args.extend_from_slice(osc_options);
        self.archbuild(&args, &self.checkout(name))
    }

    /// The package `name` built for `deb_arch` in `dir` (a --keep-pkgs directory, or the
    /// build root's DEBS): its built-on record.
    pub fn built_on_in(&self, dir: &Path, name: &str, deb_arch: &str) -> String {
        let deb = find_deb(dir, name, deb_arch);
        let unpacked = unpack(&deb, self.scratch.path());
        std::fs::read_to_string(unpacked.join(format!("usr/share/doc/{name}/built-on"))).unwrap()
    }

    /// The built-on record of `name` in the build root of `obs_arch`.
    pub fn built_on(&self, name: &str, obs_arch: &str) -> String {
        let debs = build_root(obs_arch).join("usr/src/packages/DEBS");
        self.built_on_in(&debs, name, deb_arch(obs_arch))
    }

    /// What built-on says for a build on `obs_arch`.
    pub fn expected_built_on(obs_arch: &str) -> String {
        let arch = archbuild::arch::lookup(obs_arch).unwrap();
        format!("uname_m={}\ndeb_arch={}\n", arch.uname, arch.deb)
    }
}
