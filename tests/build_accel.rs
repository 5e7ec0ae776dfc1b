//! `archbuild build --accel`: a real `osc build` (osc 1.28, obs-build, the stand-in OBS
//! serving Debian 13's binaries) of a small C package for aarch64, built by the
//! packager pkger with make -j2 and gcc in obs-build's own build root, accelerated
//! (`--clean`: the bundle must be bound into the build root after obs-build emptied it)
//! and then emulated in the same build root. The real static handler is the arch's
//! binfmt interpreter (full aarch64 magic, the test's own entry name) while the
//! accelerated build runs; the bundle is made by `archbuild accel bundle` from a Debian
//! 13 arm64 container root with the same gcc (tests/accel_identity.rs's, restored from
//! the cached pristine copy).
//!
//! Checked: the handler ran cc1, as, the linker and perl natively inside the build chroot
//! (its log), `uname -m`, `dpkg --print-architecture` and `gcc -dumpmachine` in the
//! build said aarch64, the program the build compiled and ran (emulated) printed the
//! same in both builds, and the two packages are byte-identical. After the build qemu is
//! the arch's interpreter again and nothing is mounted in the build root.
//!
//! `bench_accel_package_builds` (ignored; bench/accel runs it) times the same kind of
//! builds natively, emulated and accelerated.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::deb_build::{self, BuildServer};

const REPOSITORY: &str = "Debian_13";

/// A C package: `files` C files of `funcs` functions each, built with make -j2 by
/// debian/rules, which also runs the program (as a configure test would: emulated) and
/// records what the build saw of its arch.
fn c_package(name: &str, files: usize, funcs: usize) -> Vec<(String, String)> {
    let mut tree = Vec::new();
    let mut main = String::from("#include <stdio.h>\n");
    let mut calls = String::new();
    for f in 0..files {
        let mut c = String::from("#include <stdint.h>\n#include <string.h>\n\n");
        for k in 0..funcs {
            c += &format!(
                "uint64_t f{f}_{k}(uint64_t x)\n{{\n    uint64_t acc = x ^ {seed}u;\n    char buf[64];\n    for (int i = 0; i < 64; i++) {{\n        buf[i] = (char)(acc >> (i % 8));\n        acc = acc * 6364136223846793005u + (uint64_t)buf[i] + {k}u;\n        if (acc % {m} == 0)\n            acc ^= acc >> 17;\n    }}\n    switch (acc % 5) {{\n    case 0: return acc + {f}u;\n    case 1: return acc * 3u;\n    case 2: return acc >> 3;\n    case 3: return acc ^ {seed}u;\n    default: return acc - {k}u;\n    }}\n}}\n\n",
                seed = 1000 + 31 * k + f,
                m = 7 + k % 11,
            );
            main += &format!("unsigned long f{f}_{k}(unsigned long);\n");
            calls += &format!("    sum = f{f}_{k}(sum);\n");
        }
        tree.push((format!("src/part{f}.c"), c));
    }
    main += &format!(
        "\nint main(void)\n{{\n    unsigned long sum = 1;\n{calls}    printf(\"{name}: %lu, %zu-byte pointers\\n\", sum, sizeof(void *));\n#ifdef __aarch64__\n    puts(\"__aarch64__\");\n#endif\n    return 0;\n}}\n"
    );
    tree.push(("src/main.c".into(), main));
    tree.push((
        "Makefile".into(),
        format!("OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))\n{name}: $(OBJS)\n\t$(CC) $(CFLAGS) -o $@ $(OBJS)\n%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n"),
    ));
    tree.push((
        "debian/control".into(),
        format!("Source: {name}\nSection: misc\nPriority: optional\nMaintainer: archbuild tests <tests@archbuild.invalid>\nBuild-Depends: gcc, libc6-dev, make\nStandards-Version: 4.7.0\nRules-Requires-Root: no\n\nPackage: {name}\nArchitecture: any\nDescription: archbuild test package {name}\n A C program built with make -j2.\n"),
    ));
    tree.push((
        "debian/rules".into(),
        format!("#!/usr/bin/make -f\nCFLAGS = -g -O2 -fstack-protector-strong -Wall\nbuild build-arch build-indep:\n\t$(MAKE) -j2 CFLAGS=\"$(CFLAGS)\"\n\t./{name} > {name}.out\n\techo \"uname_m=$$(uname -m)\" > built-on\n\techo \"deb_arch=$$(dpkg --print-architecture)\" >> built-on\n\techo \"gcc_machine=$$(gcc -dumpmachine)\" >> built-on\nbinary binary-arch binary-indep: build\n\trm -rf debian/tmp\n\tinstall -D -m 0755 {name} debian/tmp/usr/bin/{name}\n\tinstall -D -m 0644 {name}.out debian/tmp/usr/share/doc/{name}/{name}.out\n\tinstall -D -m 0644 built-on debian/tmp/usr/share/doc/{name}/built-on\n\tinstall -d debian/tmp/DEBIAN\n\tdpkg-gencontrol -p{name} -Pdebian/tmp\n\tdpkg-deb --root-owner-group --build debian/tmp ..\nclean:\n\trm -rf src/*.o {name} {name}.out built-on debian/tmp debian/files\n"),
    ));
    tree.extend(deb_build::debian_boilerplate(name));
    tree
}

/// What an accelerated build needs: the static handler, and the Debian 13 arm64 root with
/// gcc (accel_identity's, from the pristine copy) with its bundle at
/// `<env>/bundles/x86_64-for-aarch64` (`env` owns both).
struct AccelParts {
    handler: PathBuf,
    bundles: PathBuf,
    _env: common::TestEnv,
}

impl AccelParts {
    fn new() -> Self {
        let handler = common::accel::handler();
        let env = common::accel::trixie_env();
        let t = Instant::now();
        common::accel::bootstrap_trixie(&env, &[]);
        let bundles = env.path().join("bundles");
        env.ok(&[
            "accel",
            "bundle",
            "trixie",
            "--output",
            bundles.join("x86_64-for-aarch64").to_str().unwrap(),
        ]);
        eprintln!("root and bundle: {:.0} s", t.elapsed().as_secs_f64());
        // pkger's archbuild reads the manifest (and the handler) before osc starts
        common::sh(&format!("chmod 755 {}", env.path().display()));
        AccelParts {
            handler,
            bundles,
            _env: env,
        }
    }

    /// The build's settings that point archbuild at them.
    fn settings(&self) -> [(&'static str, &Path); 2] {
        [
            ("ARCHBUILD_ACCEL_BUNDLES", &self.bundles),
            ("ARCHBUILD_ACCEL_HANDLER", &self.handler),
        ]
    }
}

/// The stand-in OBS serving `packages` of Debian 13 for `arches`, the checkouts.
struct Trixie {
    scratch: tempfile::TempDir,
    server: BuildServer,
}

impl Trixie {
    fn new(packages: &[(&str, Vec<(String, String)>)], arches: &[&str]) -> Trixie {
        deb_build::packager_host();
        let scratch = tempfile::tempdir().unwrap();
        common::sh(&format!("chmod 755 {}", scratch.path().display()));
        let prjconf = deb_build::data("prjconf_debian13_minimal.txt");
        let dscs: Vec<PathBuf> = packages
            .iter()
            .map(|(name, files)| deb_build::source_package(scratch.path(), name, files))
            .collect();
        // the packages have the same Build-Depends: one expansion per arch serves all
        let expanded: Vec<(String, PathBuf)> = arches
            .iter()
            .map(|a| {
                (
                    a.to_string(),
                    deb_build::expand_from(&dscs[0], scratch.path(), a, &prjconf, "trixie"),
                )
            })
            .collect();
        let served: Vec<(&str, &Path)> = expanded
            .iter()
            .map(|(a, f)| (a.as_str(), f.as_path()))
            .collect();
        let names: Vec<&str> = packages.iter().map(|(n, _)| *n).collect();
        let server = BuildServer::start_for(
            REPOSITORY,
            &served,
            &names,
            &[],
            &prjconf,
            &scratch.path().join("build_server.log"),
        );
        deb_build::oscrc(&server.url(), "pass = opensuse\n");
        let fixture = Trixie { scratch, server };
        for name in names {
            let dir = fixture.checkout(name);
            deb_build::checkout(&dir, &fixture.server.url(), name, fixture.scratch.path());
            deb_build::output(
                &mut fixture.as_pkger(
                    Path::new("/usr/bin/python3"),
                    &[
                        deb_build::osc_script(deb_build::OSC_VERSION)
                            .to_str()
                            .unwrap(),
                        "status",
                    ],
                    &dir,
                    &[],
                ),
            );
        }
        fixture
    }

    fn checkout(&self, name: &str) -> PathBuf {
        Path::new(deb_build::USER_HOME)
            .join("obs")
            .join(deb_build::PROJECT)
            .join(name)
    }

    fn state(&self) -> PathBuf {
        self.scratch.path().join("archbuild")
    }

    fn as_pkger(
        &self,
        program: &Path,
        args: &[&str],
        cwd: &Path,
        env: &[(&str, &Path)],
    ) -> Command {
        let mut cmd = deb_build::as_pkger(
            program,
            args,
            cwd,
            deb_build::OSC_VERSION,
            "",
            &self.state(),
        );
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `archbuild build Debian_13 ARCH NAME_1.0.dsc [--accel] -- --no-verify OPTIONS`
    /// as pkger; `env` adds settings (the bundles, the handler).
    fn build(
        &self,
        name: &str,
        arch: &str,
        accel: bool,
        options: &[&str],
        env: &[(&str, &Path)],
    ) -> Output {
        let dsc = format!("{name}_1.0.dsc");
        let osc = format!(
            "/usr/bin/python3 {}",
            deb_build::osc_script(deb_build::OSC_VERSION).display()
        );
        let mut args = vec![
            "build",
            REPOSITORY,
            arch,
            dsc.as_str(),
            "--osc",
            osc.as_str(),
        ];
        if accel {
            args.push("--accel");
        }
        args.extend(["--", "--no-verify"]);
        args.extend_from_slice(options);
        self.as_pkger(&common::archbuild_bin(), &args, &self.checkout(name), env)
            .output()
            .unwrap()
    }
}

fn succeeded(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {:?}\n--- stdout (last 60 lines)\n{}\n--- stderr\n{stderr}",
        out.status,
        stdout
            .lines()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    format!("{stdout}\n{stderr}")
}

fn build_root(arch: &str) -> PathBuf {
    PathBuf::from(format!("/var/tmp/build-root/{REPOSITORY}-{arch}"))
}

/// The interpreter line of binfmt entry `name`, None when there is none.
fn interpreter_of(name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/{name}"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("interpreter ").map(str::to_string))
        })
}

#[test]
fn an_accelerated_osc_build_runs_the_compiler_natively_and_builds_the_same_package() {
    isolated!();
    if !deb_build::prerequisites(&["aarch64"])
        || !common::prerequisite(
            common::tool("mmdebstrap").is_some() && common::tool("patchelf").is_some(),
            "mmdebstrap and patchelf (scripts/install-test-deps)",
        )
    {
        return;
    }
    let began = Instant::now();
    let parts = AccelParts::new();
    let fixture = Trixie::new(&[("calc", c_package("calc", 3, 12))], &["aarch64"]);
    let settings = parts.settings();
    let keep_accel = Path::new(deb_build::USER_HOME).join("out-accel");
    let keep_emul = Path::new(deb_build::USER_HOME).join("out-emulated");
    common::sh(&format!(
        "mkdir -p {} {} && chown 4321:4321 {} {}",
        keep_accel.display(),
        keep_emul.display(),
        keep_accel.display(),
        keep_emul.display()
    ));
    let entry = format!("{}aarch64", common::unique_binfmt_prefix());

    // 1. accelerated, --clean
    let t = Instant::now();
    let out = fixture.build(
        "calc",
        "aarch64",
        true,
        &["--clean", &format!("--keep-pkgs={}", keep_accel.display())],
        &settings,
    );
    let accel_secs = t.elapsed().as_secs_f64();
    let text = succeeded(&out, "the accelerated build");
    assert!(
        text.contains("accelerated by") && text.contains("native tools from"),
        "archbuild did not say the build is accelerated:\n{text}"
    );
    assert!(
        text.contains("the acceleration bundle is in the build root"),
        "the bundle was not bound into the build root:\n{text}"
    );
    let log_name = archbuild::oscbuild::accel_root::log_name(&build_root("aarch64"));
    let handler_log = || {
        std::fs::read_to_string(
            fixture
                .state()
                .join("state/accel-logs")
                .join(&log_name)
                .join("handler.log"),
        )
        .unwrap_or_default()
    };
    let log = handler_log();
    for tool in [
        "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1 ",
        "/usr/bin/aarch64-linux-gnu-as ",
        "/usr/libexec/gcc/aarch64-linux-gnu/14/collect2 ",
        "/usr/bin/aarch64-linux-gnu-ld.bfd ",
        // dpkg-buildpackage, dpkg-source, dpkg-gencontrol, ...: the native perl
        "/usr/bin/perl ",
    ] {
        let hits = log
            .lines()
            .filter(|l| l.contains(" hit ") && l.contains(tool))
            .count();
        assert!(
            hits > 0,
            "no native run of {tool} in the handler's log:\n{log}"
        );
    }
    let cc1_hits = log
        .lines()
        .filter(|l| l.contains(" hit ") && l.contains("/cc1 "))
        .count();
    assert_eq!(cc1_hits, 4, "one cc1 per C file:\n{log}");
    assert!(
        !log.contains(" fallback "),
        "the build root's compiler is the bundle's, nothing should fall back:\n{log}"
    );
    // `accel status` of the build root reads the same log
    let status = common::archbuild(&fixture.state())
        .args(["accel", "status"])
        .arg(build_root("aarch64"))
        .arg("--json")
        .env("ARCHBUILD_ACCEL_BUNDLES", &parts.bundles)
        .output()
        .unwrap();
    succeeded(&status, "accel status");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["accelerated"], true, "{status}");
    assert_eq!(
        status["per_path"]["/usr/libexec/gcc/aarch64-linux-gnu/14/cc1"]["hits"], 4,
        "{status}"
    );
    // afterwards: qemu is the interpreter again, nothing stays mounted in the build root
    let after = interpreter_of(&entry).unwrap_or_default();
    assert!(
        after.ends_with("qemu-aarch64-static"),
        "after the accelerated build, {entry} runs {after:?}, not qemu"
    );
    let mounted = archbuild::sys::mounts::mounts_under(&build_root("aarch64")).unwrap();
    assert!(mounted.is_empty(), "left mounted: {mounted:?}");

    // 2. emulated, in the same build root
    let t = Instant::now();
    let out = fixture.build(
        "calc",
        "aarch64",
        false,
        &[&format!("--keep-pkgs={}", keep_emul.display())],
        &[],
    );
    let emul_secs = t.elapsed().as_secs_f64();
    let text = succeeded(&out, "the emulated build");
    assert!(!text.contains("accelerated by"), "{text}");
    let log_after = handler_log();
    assert_eq!(
        log_after.lines().count(),
        log.lines().count(),
        "the emulated build went through the handler"
    );

    // 3. the same package
    let accel_deb = deb_build::find_deb(&keep_accel, "calc", "arm64");
    let emul_deb = deb_build::find_deb(&keep_emul, "calc", "arm64");
    let unpacked_a = deb_build::unpack(&accel_deb, fixture.scratch.path());
    let built_on = std::fs::read_to_string(unpacked_a.join("usr/share/doc/calc/built-on")).unwrap();
    assert_eq!(
        built_on, "uname_m=aarch64\ndeb_arch=arm64\ngcc_machine=aarch64-linux-gnu\n",
        "what the accelerated build saw of its arch"
    );
    let ran = std::fs::read_to_string(unpacked_a.join("usr/share/doc/calc/calc.out")).unwrap();
    assert!(ran.contains("8-byte pointers\n__aarch64__\n"), "{ran}");
    let elf = archbuild::elf::read(&unpacked_a.join("usr/bin/calc")).unwrap();
    assert_eq!(elf.machine, 183, "the program is not an aarch64 ELF");
    let same = std::fs::read(&accel_deb).unwrap() == std::fs::read(&emul_deb).unwrap();
    if !same {
        let listing = |deb: &Path| deb_build::output(Command::new("dpkg-deb").arg("-c").arg(deb));
        let unpacked_e = deb_build::unpack(&emul_deb, fixture.scratch.path());
        let diff = Command::new("diff")
            .args(["-r"])
            .arg(&unpacked_a)
            .arg(&unpacked_e)
            .output()
            .unwrap();
        panic!(
            "the accelerated and the emulated package differ:\n{}\n{}\n{}",
            listing(&accel_deb),
            listing(&emul_deb),
            String::from_utf8_lossy(&diff.stdout)
        );
    }
    eprintln!(
        "calc (3 x 12 functions, make -j2): accelerated --clean {accel_secs:.0} s, emulated in the same root {emul_secs:.0} s; test {:.0} s",
        began.elapsed().as_secs_f64()
    );
}

/// bench/accel part (2): `osc build --clean` of an install-dominated package (a tiny C
/// program: the build root's set-up is most of the build) and a compile-heavy one
/// (BENCH_FILES C files of BENCH_FUNCS functions, default 8 x 60: about 10,000 lines,
/// make -j2), each natively (x86_64), emulated and accelerated (aarch64), one after the
/// other in one run, with osc's package cache filled by an untimed build of each arch
/// first. Prints the times and the ratios to native.
#[test]
#[ignore = "a benchmark: bench/accel runs it"]
fn bench_accel_package_builds() {
    isolated!();
    if !deb_build::prerequisites(&["x86_64", "aarch64"]) {
        return;
    }
    let number = |key: &str, default: usize| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (files, funcs) = (number("BENCH_FILES", 8), number("BENCH_FUNCS", 60));
    let parts = AccelParts::new();
    let heavy = c_package("heavy", files, funcs);
    let lines: usize = heavy
        .iter()
        .filter(|(p, _)| p.ends_with(".c"))
        .map(|(_, t)| t.lines().count())
        .sum();
    let fixture = Trixie::new(
        &[("tiny", c_package("tiny", 1, 2)), ("heavy", heavy)],
        &["x86_64", "aarch64"],
    );
    let settings = parts.settings();
    for arch in ["x86_64", "aarch64"] {
        let out = fixture.build("tiny", arch, false, &[], &[]);
        succeeded(&out, &format!("the untimed {arch} build"));
    }
    let mut rows = Vec::new();
    for name in ["tiny", "heavy"] {
        let time = |arch: &str, accel: bool| {
            let t = Instant::now();
            let out = fixture.build(name, arch, accel, &["--clean"], &settings);
            let secs = t.elapsed().as_secs_f64();
            succeeded(&out, &format!("{name} {arch} accel={accel}"));
            eprintln!(
                "{name} {arch}{}: {secs:.1} s",
                if accel { " accelerated" } else { "" }
            );
            secs
        };
        let native = time("x86_64", false);
        let emulated = time("aarch64", false);
        let accelerated = time("aarch64", true);
        rows.push((name, native, emulated, accelerated));
    }
    println!("osc build --clean, Debian 13, warm package cache (heavy: {files} x {funcs} functions, {lines} lines of C, make -j2):");
    for (name, native, emulated, accelerated) in rows {
        let goal = if name == "heavy" { "1.8" } else { "3" };
        println!(
            "  {name:5}  native {native:6.1} s  emulated {emulated:6.1} s ({:.2}x)  accelerated {accelerated:6.1} s ({:.2}x, goal <= {goal}x)  emulated/accelerated {:.2}x",
            emulated / native,
            accelerated / native,
            emulated / accelerated
        );
    }
}

/// What an accelerated build still spends emulated, by the handler's profile mode: the
/// tiny package (`ARCHBUILD_PROFILE_PACKAGE=heavy`: the compile-heavy one) built
/// `--clean --accel` with `accel profile BUILD_ROOT on`, then the twelve
/// executables with the most emulated CPU time (`accel status --json`). Run by hand:
/// `cargo test --release --test build_accel profile_an_accelerated_build -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, run by hand"]
fn profile_an_accelerated_build() {
    isolated!();
    if !deb_build::prerequisites(&["aarch64"]) {
        return;
    }
    // ARCHBUILD_PROFILE_PACKAGE=heavy profiles the bench's compile-heavy package
    let (name, files, funcs) = match std::env::var("ARCHBUILD_PROFILE_PACKAGE").as_deref() {
        Ok("heavy") => ("heavy", 8, 60),
        _ => ("tiny", 1, 2),
    };
    let parts = AccelParts::new();
    let fixture = Trixie::new(&[(name, c_package(name, files, funcs))], &["aarch64"]);
    let settings = parts.settings();
    // the first build makes the build root's log directory; the profiled one is --clean
    succeeded(
        &fixture.build(name, "aarch64", true, &[], &settings),
        "the first build",
    );
    let root = build_root("aarch64");
    let accel = |args: &[&str]| {
        let out = common::archbuild(&fixture.state())
            .arg("accel")
            .args(args)
            .env("ARCHBUILD_ACCEL_BUNDLES", &parts.bundles)
            .output()
            .unwrap();
        succeeded(&out, &format!("accel {args:?}"));
        out.stdout
    };
    accel(&["profile", root.to_str().unwrap(), "on"]);
    let t = Instant::now();
    succeeded(
        &fixture.build(name, "aarch64", true, &["--clean"], &settings),
        "the profiled build",
    );
    let secs = t.elapsed().as_secs_f64();
    let status: serde_json::Value =
        serde_json::from_slice(&accel(&["status", root.to_str().unwrap(), "--json"])).unwrap();
    let ranked = status["by_emulated_cpu"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !ranked.is_empty(),
        "the profile mode timed nothing: {status}"
    );
    let total: f64 = ranked
        .iter()
        .map(|r| r["emulated_cpu"].as_f64().unwrap_or(0.0))
        .sum();
    println!("{name}, --clean --accel, profiled: {secs:.0} s; emulated CPU {total:.0} s in {} executables; the most:", ranked.len());
    for r in ranked.iter().take(12) {
        println!(
            "  {:8.1} s  {:5} execs  {}",
            r["emulated_cpu"].as_f64().unwrap_or(0.0),
            r["emulated"],
            r["path"].as_str().unwrap_or("?")
        );
    }
    let mut native: Vec<(f64, String)> = status["per_path"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(path, c)| (c["native_cpu"].as_f64().unwrap_or(0.0), path.clone()))
                .filter(|(cpu, _)| *cpu > 0.0)
                .collect()
        })
        .unwrap_or_default();
    native.sort_by(|a, b| b.0.total_cmp(&a.0));
    let native_total: f64 = native.iter().map(|(cpu, _)| cpu).sum();
    println!("native CPU {native_total:.0} s; the most:");
    for (cpu, path) in native.iter().take(6) {
        println!("  {cpu:8.1} s  {path}");
    }
}
