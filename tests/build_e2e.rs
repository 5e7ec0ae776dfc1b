//! End to end: the packager's own osc (real osc 1.28, 1.0 and 0.182 from PyPI) runs on the
//! host as user pkger and builds a small C package for Debian 12 through `osc archbuild`;
//! real obs-build runs natively through `archbuild build-cmd` (osc's su-wrapper is real
//! sudo) and archbuild's binfmt entry (flag F, qemu-user-static) runs the compiler and the
//! freshly built program inside obs-build's build chroot.
//! No OBS can be reached from here: tests/support/build_server.py stands in for it,
//! answering `_buildinfo` with the dependencies that obs-build's own `expanddeps`
//! resolved from Debian's archive index, and serving the binaries from Debian's archive.
//!
//! Heavy (about 150 packages unpacked and configured under qemu per arch): it runs with
//! ARCHBUILD_E2E=1, or under CI=true unless ARCHBUILD_E2E=0, and skips with the reason
//! otherwise.

mod common;

use common::sh;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::obs_server::Server;
use std::time::Instant;

const OSC_ROOT: &str = "/opt/archbuild-test";
const USER_HOME: &str = "/home/pkger";

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The source package: hello.c prints the machine it runs on; debian/rules runs the
/// freshly compiled binary during the build and ships what it printed.
fn source_package(dir: &Path) -> PathBuf {
    let src = dir.join("archbuild-hello-1.0");
    let files: &[(&str, &str)] = &[
        (
            "hello.c",
            "#include <stdio.h>\n#include <sys/utsname.h>\nint main(void) {\n    struct utsname u;\n    if (uname(&u) != 0) return 1;\n    printf(\"hello from %s\\n\", u.machine);\n    return 0;\n}\n",
        ),
        (
            "debian/control",
            "Source: archbuild-hello\nSection: misc\nPriority: optional\nMaintainer: archbuild tests <tests@archbuild.invalid>\nBuild-Depends: gcc, libc6-dev, make\nStandards-Version: 4.6.2\n\nPackage: archbuild-hello\nArchitecture: any\nDepends: libc6\nDescription: hello from a foreign architecture\n A C program built by the archbuild tests.\n",
        ),
        (
            "debian/changelog",
            "archbuild-hello (1.0) unstable; urgency=medium\n\n  * Test package.\n\n -- archbuild tests <tests@archbuild.invalid>  Sat, 28 Nov 2026 12:00:00 +0000\n",
        ),
        ("debian/source/format", "3.0 (native)\n"),
        (
            "debian/rules",
            "#!/usr/bin/make -f\nbuild build-arch build-indep:\n\tgcc -O2 -o hello hello.c\n\t./hello | tee hello.out\nbinary binary-arch: build\n\trm -rf debian/tmp\n\tinstall -D -m 0755 hello debian/tmp/usr/bin/archbuild-hello\n\tinstall -D -m 0644 hello.out debian/tmp/usr/share/doc/archbuild-hello/built-on\n\tinstall -d debian/tmp/DEBIAN\n\tdpkg-gencontrol -parchbuild-hello -Pdebian/tmp\n\tdpkg-deb --build debian/tmp ..\nbinary-indep:\nclean:\n\trm -rf hello hello.out debian/tmp debian/files\n",
        ),
    ];
    for (name, text) in files {
        let path = src.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    sh(&format!("chmod 755 {}/debian/rules", src.display()));
    output(
        Command::new("dpkg-source")
            .arg("-b")
            .arg("archbuild-hello-1.0")
            .current_dir(dir),
    );
    dir.join("archbuild-hello_1.0.dsc")
}

/// obs-build's own dependency expansion for the recipe, against Debian 12's index of
/// `obs_arch` (`aarch64`, `armv7l`).
fn expand(dsc: &Path, work: &Path, obs_arch: &str) -> PathBuf {
    let prjconf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/obs/prjconf_debian12.txt");
    let cache = common::cache_dir().join(format!("build-e2e-debdeps-{obs_arch}"));
    std::fs::create_dir_all(&cache).unwrap();
    let deps = output(
        Command::new("/usr/lib/obs-build/createdebdeps")
            .args([
                "--cachedir",
                cache.to_str().unwrap(),
                "--archpath",
                obs_arch,
            ])
            .arg("http://deb.debian.org/debian/bookworm/main")
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
        expanded.contains("\ngcc-12 "),
        "expanddeps found no compiler for {obs_arch}:\n{expanded}"
    );
    let path = work.join(format!("expanded-{obs_arch}"));
    std::fs::write(&path, expanded).unwrap();
    path
}

/// The stand-in OBS for `obs_arch`, answering with obs-build's expansion.
fn server(obs_arch: &str, expanded: &Path) -> Server {
    let prjconf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/obs/prjconf_debian12.txt");
    let args = [
        "--expanded".into(),
        format!("{obs_arch}={}", expanded.display()),
        "--config".into(),
        prjconf.display().to_string(),
        "--debs".into(),
        common::cache_dir()
            .join("build-e2e-debs")
            .display()
            .to_string(),
    ];
    Server::start_script("build_server.py", &args).expect("python3 for the stand-in OBS")
}

fn osc_dir(version: &str) -> PathBuf {
    Path::new(OSC_ROOT).join(format!("osc-{version}"))
}

fn prerequisites(osc_versions: &[&str], qemu: &str) -> bool {
    // ARCHBUILD_E2E=1 runs it, ARCHBUILD_E2E=0 skips it; unset, it runs under CI=true only
    let wanted = match std::env::var("ARCHBUILD_E2E").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => common::in_ci(),
    };
    if !wanted {
        eprintln!("SKIPPED: the end-to-end build runs with ARCHBUILD_E2E=1 (or CI=true unless ARCHBUILD_E2E=0)");
        return false;
    }
    let perl_lwp = Command::new("perl")
        .args(["-MLWP::UserAgent", "-e1"])
        .status()
        .is_ok_and(|s| s.success());
    common::prerequisite(
        Path::new(&format!("/usr/bin/qemu-{qemu}-static")).exists()
            && Path::new("/usr/lib/obs-build/expanddeps").exists()
            && common::tool("dpkg-source").is_some()
            && common::tool("python3").is_some()
            && Path::new("/usr/bin/python3").exists()
            && Path::new("/usr/bin/sudo").exists()
            && perl_lwp,
        "qemu-user-static, obs-build, dpkg-dev, python3, sudo and libwww-perl \
         (apt-get install qemu-user-static obs-build dpkg-dev python3 sudo libwww-perl)",
    ) && osc_versions.iter().all(|v| {
        common::prerequisite(
            osc_dir(v).join("osc/__init__.py").is_file(),
            &format!(
                "osc {v} in {} (scripts/install-test-deps)",
                osc_dir(v).display()
            ),
        )
    })
}

/// The host as the packager has it: user pkger (uid 4321) with a private /home and
/// /var/tmp, sudo for pkger (osc's su-wrapper; the test's ARCHBUILD_* settings pass
/// through it), the plugin in ~/.osc-plugins.
fn packager_host() {
    common::fake_sudo_user();
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

/// A package checkout of home:alice/archbuild-hello at `dir` in store format 1.0 (as
/// `osc checkout` of osc < 1.1 leaves it; osc >= 1.1 migrates it to 2.0).
fn checkout(dir: &Path, url: &str, sources: &Path) {
    std::fs::create_dir_all(dir.join(".osc")).unwrap();
    for (name, text) in [
        ("_osclib_version", "1.0\n".to_string()),
        ("_apiurl", format!("{url}\n")),
        ("_project", "home:alice\n".to_string()),
        ("_package", "archbuild-hello\n".to_string()),
        (
            "_files",
            "<directory name=\"archbuild-hello\" />\n".to_string(),
        ),
    ] {
        std::fs::write(dir.join(".osc").join(name), text).unwrap();
    }
    for f in ["archbuild-hello_1.0.dsc", "archbuild-hello_1.0.tar.xz"] {
        std::fs::copy(sources.join(f), dir.join(f)).unwrap();
    }
    sh("chown -R 4321:4321 /home/pkger");
}

/// The oscrc: `[general]` and the host section, with `credentials` lines for the host.
fn oscrc(url: &str, credentials: &str) {
    let path = Path::new(USER_HOME).join(".config/osc/oscrc");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        // trusted_prj: osc would otherwise ask whether to trust Debian:12's packages
        format!("[general]\napiurl = {url}\n\n[{url}]\nuser = alice\n{credentials}allow_http = 1\ntrusted_prj = Debian:12\n"),
    )
    .unwrap();
    sh("chown -R 4321:4321 /home/pkger && chmod 600 /home/pkger/.config/osc/oscrc");
}

/// `osc ARGS` of release `version`, run as pkger in `cwd` (/usr/bin/python3: the
/// test's own python may live under /root, which pkger cannot read).
fn osc_as_pkger(version: &str, extra_path: &str, args: &[&str], cwd: &Path) -> Command {
    let dir = osc_dir(version);
    let script = ["osc", "osc-wrapper.py"]
        .iter()
        .map(|s| dir.join("bin").join(s))
        .find(|p| p.is_file())
        .expect("osc script");
    let mut python_path = dir.display().to_string();
    if !extra_path.is_empty() {
        python_path = format!("{python_path}:{extra_path}");
    }
    let scratch = tempfile::tempdir().unwrap().keep();
    let c = common::archbuild(&scratch);
    let program = c.get_program().to_os_string();
    let envs: Vec<_> = c
        .get_envs()
        .map(|(k, v)| (k.to_os_string(), v.map(|v| v.to_os_string())))
        .collect();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=4321", "--regid=4321", "--init-groups", "--"])
        .arg("/usr/bin/python3")
        .arg(script)
        .args(args)
        .env_clear()
        .env("HOME", USER_HOME)
        .env("USER", "pkger")
        .env("LOGNAME", "pkger")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("LANG", "C.UTF-8")
        .env("PYTHONPATH", python_path)
        .env("ARCHBUILD", &program)
        .env(
            "ARCHBUILD_CACHE_DIR",
            common::cache_dir().join("build-e2e-archbuild-cache"),
        )
        .current_dir(cwd);
    for (k, v) in envs {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd
}

/// Run `osc archbuild ...` as pkger; returns its stderr (also shown) and the seconds.
fn osc_archbuild(version: &str, extra_path: &str, args: &[&str], cwd: &Path) -> (String, f64) {
    let mut full = vec!["archbuild"];
    full.extend_from_slice(args);
    let started = Instant::now();
    let out = osc_as_pkger(version, extra_path, &full, cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // obs-build's phase lines (its own [ Ns] clock) and the end of the log
    let phases: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.contains("started \"build")
                || l.contains("----- building")
                || l.contains("finished \"build")
        })
        .collect();
    eprintln!("obs-build phases:\n{}", phases.join("\n"));
    let tail: Vec<&str> = stdout.lines().rev().take(60).collect();
    eprintln!(
        "osc {version} archbuild {args:?}: {} in {seconds:.0} s\n--- stderr\n{stderr}\n--- stdout (last lines)\n{}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(
        out.status.success(),
        "osc {version} archbuild failed: {}",
        out.status
    );
    (stderr, seconds)
}

fn binfmt_names() -> BTreeSet<String> {
    std::fs::read_dir("/proc/sys/fs/binfmt_misc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The .deb the build made (in the build root on the host's /var/tmp, or in a
/// --keep-pkgs directory): its Debian arch, and what the program printed when the build
/// ran it.
fn check_deb(dir: &Path, deb_arch: &str, uname_m: &str, obs_arch: &str, scratch: &Path) {
    let deb = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("archbuild-hello_") && name.ends_with(".deb")
        })
        .unwrap_or_else(|| panic!("no archbuild-hello .deb in {}", dir.display()));
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
    assert_eq!(arch.trim(), deb_arch);
    let unpacked = scratch.join(format!(
        "unpacked-{}",
        deb.file_name().unwrap().to_string_lossy()
    ));
    output(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked));
    let built_on =
        std::fs::read_to_string(unpacked.join("usr/share/doc/archbuild-hello/built-on")).unwrap();
    assert_eq!(built_on, format!("hello from {uname_m}\n"));
    let elf = archbuild::elf::read(&unpacked.join("usr/bin/archbuild-hello")).unwrap();
    assert_eq!(
        archbuild::arch::from_elf(elf.class, elf.endian, elf.machine)
            .unwrap()
            .obs,
        obs_arch
    );
}

/// Everything in `dir` (and `dir`) belongs to pkger.
fn owned_by_pkger(dir: &Path) {
    let meta = std::fs::metadata(dir).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4321, 4321), "{}", dir.display());
    sh(&format!(
        "test -z \"$(find {} ! -uid 4321)\"",
        dir.display()
    ));
}

struct Target {
    obs: &'static str,
    deb: &'static str,
    qemu: &'static str,
    uname_m: &'static str,
}

const ARM64: Target = Target {
    obs: "aarch64",
    deb: "arm64",
    qemu: "aarch64",
    uname_m: "aarch64",
};
const ARMHF: Target = Target {
    obs: "armv7l",
    deb: "armhf",
    qemu: "arm",
    uname_m: "armv7l",
};

/// The build of `target` with osc 1.28 on a store-2.0 checkout; returns the scratch dir,
/// the server and the stderr of the build.
fn build_with_current_osc(
    target: &Target,
    credentials: &dyn Fn(&str) -> String,
    extra_path: &str,
) -> (tempfile::TempDir, Server, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let dsc = source_package(scratch.path());
    let expanded = expand(&dsc, scratch.path(), target.obs);
    let server = server(target.obs, &expanded);
    let url = server.url();
    oscrc(&url, &credentials(&url));
    let work = Path::new(USER_HOME).join("obs/home:alice/archbuild-hello");
    checkout(&work, &url, scratch.path());

    // osc 1.28 turns the checkout into store format 2.0 when it first reads it
    output(&mut osc_as_pkger("1.28.0", extra_path, &["status"], &work));
    assert_eq!(
        std::fs::read_to_string(work.join(".osc/_osclib_version"))
            .unwrap()
            .trim(),
        "2.0"
    );

    let before = binfmt_names();
    let keep = format!("--keep-pkgs={USER_HOME}/debs");
    let (stderr, seconds) = osc_archbuild(
        "1.28.0",
        extra_path,
        &[
            "Debian_12",
            target.obs,
            "archbuild-hello_1.0.dsc",
            "--no-verify",
            "--clean",
            &keep,
        ],
        &work,
    );
    eprintln!(
        "TIME osc 1.28 archbuild Debian_12 {}: {seconds:.1} s",
        target.obs
    );

    // the first line says what runs where
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("archbuild: building home:alice/archbuild-hello for Debian_12/")
            && first.contains(target.obs)
            && first.contains("as pkger")
            && first.contains("no container"),
        "{first}"
    );
    assert!(
        stderr.contains("runs natively in a private mount namespace (/proc/sys/fs/binfmt_misc"),
        "{stderr}"
    );

    // the package: for the target, in the host's /var/tmp, built by a compiler and a
    // program that ran under emulation in obs-build's chroot
    let root_debs = format!(
        "/var/tmp/build-root/Debian_12-{}/usr/src/packages/DEBS",
        target.obs
    );
    check_deb(
        Path::new(&root_debs),
        target.deb,
        target.uname_m,
        target.obs,
        scratch.path(),
    );
    // --keep-pkgs: copied by osc itself, as pkger
    let kept = Path::new(USER_HOME).join("debs");
    check_deb(
        &kept,
        target.deb,
        target.uname_m,
        target.obs,
        scratch.path(),
    );
    owned_by_pkger(&kept);
    // osc ran as pkger: nothing in the checkout or the package cache is root's
    owned_by_pkger(&work);
    owned_by_pkger(Path::new("/var/tmp/osbuild-packagecache"));

    // binfmt: obs-build added nothing; what archbuild added is its own entry, with F
    // (other archbuild tests on this machine add entries of their own meanwhile; obs-build's
    // qemu-reg names are the bare arch names: aarch64, arm, ...)
    let added: Vec<String> = binfmt_names().difference(&before).cloned().collect();
    let prefix = common::unique_binfmt_prefix();
    assert!(
        added.iter().all(|n| n.starts_with("archbuild")),
        "{added:?}"
    );
    let entry =
        std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/{prefix}{}", target.qemu))
            .unwrap();
    assert!(
        entry
            .lines()
            .any(|l| l.starts_with("flags:") && l.contains('F')),
        "{entry}"
    );
    // no mount of the build is left on the host
    assert!(
        !common::mount_table()
            .iter()
            .any(|m| m.contains("/var/tmp/build-root")),
        "mounts of the build root left behind"
    );
    (scratch, server, work)
}

#[test]
fn osc_archbuild_debian_12_arm64_with_osc_1_28_then_1_0_and_0_182() {
    isolated!();
    if !prerequisites(&["1.28.0", "1.0.0", "0.182.0"], ARM64.qemu) {
        return;
    }
    packager_host();
    let (scratch, server, _work) =
        build_with_current_osc(&ARM64, &|_| "pass = opensuse\n".to_string(), "");

    // osc 1.0 and 0.182 drive the same build (reusing the build root: no --clean), each
    // on a checkout in store format 1.0, which they read
    for version in ["1.0.0", "0.182.0"] {
        let work = Path::new(USER_HOME).join(format!("obs-{version}/home:alice/archbuild-hello"));
        checkout(&work, &server.url(), scratch.path());
        let kept = Path::new(USER_HOME).join(format!("debs-{version}"));
        let keep = format!("--keep-pkgs={}", kept.display());
        let (stderr, seconds) = osc_archbuild(
            version,
            "",
            &[
                "Debian_12",
                "aarch64",
                "archbuild-hello_1.0.dsc",
                "--no-verify",
                &keep,
            ],
            &work,
        );
        eprintln!(
            "TIME osc {version} archbuild Debian_12 aarch64 (build root reused): {seconds:.1} s"
        );
        assert!(stderr.starts_with("archbuild: building"), "{stderr}");
        check_deb(&kept, ARM64.deb, ARM64.uname_m, ARM64.obs, scratch.path());
        owned_by_pkger(&kept);
    }
    common::remove_test_binfmt_entries();
}

#[test]
fn osc_archbuild_debian_12_armhf_with_keyring_credentials() {
    isolated!();
    let keyring = Path::new(OSC_ROOT).join("keyring");
    if !prerequisites(&["1.28.0"], ARMHF.qemu)
        || !common::prerequisite(
            keyring.join("keyrings/alt").is_dir(),
            "keyring and keyrings.alt in /opt/archbuild-test/keyring (scripts/install-test-deps)",
        )
    {
        return;
    }
    // The password lives in pkger's file-backed keyring, not in the oscrc: only osc
    // running as pkger can read it.
    let keyring_path = keyring.display().to_string();
    packager_host();
    let credentials = |url: &str| {
        // osc's keyring manager keys the password by the API URL's host:port
        let service = url.trim_start_matches("http://").to_string();
        let stored = output(
            Command::new("setpriv")
                .args(["--reuid=4321", "--regid=4321", "--init-groups", "--"])
                .args(["/usr/bin/python3", "-c"])
                .arg("import sys, keyring, keyrings.alt.file as f; k = f.PlaintextKeyring(); keyring.set_keyring(k); keyring.set_password(sys.argv[1], 'alice', 'opensuse'); print(k.file_path)")
                .arg(&service)
                .env_clear()
                .env("HOME", USER_HOME)
                .env("PYTHONPATH", &keyring_path),
        );
        assert!(stored.trim().starts_with(USER_HOME), "{stored}");
        "credentials_mgr_class = osc.credentials.KeyringCredentialsManager:keyrings.alt.file.PlaintextKeyring\n".to_string()
    };
    let (_scratch, _server, _work) = build_with_current_osc(&ARMHF, &credentials, &keyring_path);
    let rc = std::fs::read_to_string(Path::new(USER_HOME).join(".config/osc/oscrc")).unwrap();
    assert!(
        !rc.contains("opensuse"),
        "the password went into the oscrc:\n{rc}"
    );
    common::remove_test_binfmt_entries();
}
