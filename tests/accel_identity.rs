//! Compiler identity: in a real Debian 13 arm64 root with gcc and g++ (bootstrapped with
//! mmdebstrap from Debian's archive once, then restored from archbuild's pristine copy),
//! `archbuild accel bundle` makes the bundle from Debian's cross toolchain of the
//! root's gcc version, and the root's compiler run emulated and run accelerated (the
//! real static handler, real binfmt_misc, qemu-user-static) gives byte-identical `.i`,
//! `.s`, `.o`, linked programs (that run and print the same), `-E -dM`,
//! `-print-search-dirs`, the header search list and `-MD` dependencies for the corpus
//! in tests/data/accel-corpus. Then the fallbacks: an argument the native cc1 cannot
//! follow, a root compiler that changed after the bundle was made, and a root whose
//! compiler version the archive's cross toolchain does not have.
//!
//! As in tests/accel.rs, the test's binfmt entry catches only binaries with a marker in
//! `e_ident`'s padding, which the test puts into its own root's executables: no other
//! aarch64 binary of the host goes through the handler.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::accel::{handler, register_marked, Mounted, Registered};

const MARKER: u8 = b'I';

/// Debian's default CFLAGS on arm64 (dpkg-buildflags), so the stack protector, stack
/// clash protection and branch protection paths of the compiler are compared too.
const CFLAGS: &str = "-g -O2 -fstack-protector-strong -fstack-clash-protection -Wformat -Werror=format-security -mbranch-protection=standard";

fn register(handler: &Path) -> Registered {
    register_marked(handler, "accel-identity", MARKER)
}

/// Put the marker into every aarch64 executable of the root (not into shared
/// libraries: glibc's loader checks their padding). Returns how many.
fn mark_executables(root: &Path) -> usize {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut marked = 0;
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                if !(dir == root && ["proc", "sys", "dev", "emul"].contains(&name.as_str())) {
                    todo.push(entry.path());
                }
                continue;
            }
            if !kind.is_file() || name.contains(".so") {
                continue;
            }
            let Ok(mut file) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(entry.path())
            else {
                continue;
            };
            let mut header = [0u8; 20];
            if file.read_exact(&mut header).is_err()
                || &header[..4] != b"\x7fELF"
                || header[18..20] != [183, 0]
                || header[15] != 0
            {
                continue;
            }
            file.seek(SeekFrom::Start(15)).unwrap();
            file.write_all(&[MARKER]).unwrap();
            marked += 1;
        }
    }
    marked
}

fn in_root(root: &Path, accel: bool, script: &str) -> Output {
    let mut cmd = Command::new(common::tool("chroot").expect("chroot (coreutils)"));
    cmd.arg(root)
        .args(["/bin/sh", "-c", script])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LC_ALL", "C")
        .env("HOME", "/root");
    if !accel {
        cmd.env("ARCHBUILD_ACCEL", "0");
    }
    cmd.output().expect("run chroot")
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Everything the comparison looks at, written to /tmp/out inside the root.
const COMPILE: &str = r#"set -e
rm -rf /tmp/out; mkdir /tmp/out; o=/tmp/out
cd /tmp/corpus
for f in *.c *.cpp; do
  case $f in *.cpp) cc=g++ ;; *) cc=gcc ;; esac
  b=${f%.*}
  $cc $CFLAGS -save-temps=obj -c -o $o/$b.o $f
  $cc -o $o/$b $o/$b.o -lm
  (cd $o && ./$b 7) > $o/$b.out
done
gcc -E -dM - </dev/null > $o/macros.c
g++ -E -dM -x c++ - </dev/null > $o/macros.cxx
gcc -print-search-dirs > $o/search-dirs.c
g++ -print-search-dirs > $o/search-dirs.cxx
g++ -v -E -x c++ - </dev/null 2>&1 | sed -n '/search starts here/,/End of search/p' > $o/search-list.cxx
gcc -v -E - </dev/null 2>&1 | sed -n '/search starts here/,/End of search/p' > $o/search-list.c
g++ $CFLAGS -MD -MF $o/deps.d -MT deps.o -c -o $o/deps.o templates.cpp
"#;

/// The root paths of the bundle's shell and compressors.
const NATIVE_PATHS: &[&str] = &[
    "/usr/bin/dash",
    "/usr/bin/xz",
    "/usr/bin/gzip",
    "/usr/bin/zstd",
];

/// What a configure script asks about the machine (item 3 of issue 11), one answer a
/// line, run by the root's /bin/sh (the native dash when accelerated).
const ARCH_GUARDS: &str = r#"set -e
uname -m
arch
dpkg --print-architecture
gcc -dumpmachine
bash -c 'echo $HOSTTYPE'
bash -c 'echo $MACHTYPE'
sh -c 'echo "sh: $(uname -m)"'
/tmp/config.guess
cd /tmp
cat > conftest.c <<'END'
#include <stdio.h>
int main(void) {
#ifdef __aarch64__
    puts("__aarch64__");
#endif
    return sizeof(void *);
}
END
gcc -o conftest conftest.c
./conftest || echo "conftest exit $?"
"#;

const ARCH_GUARD_ANSWERS: &[&str] = &[
    "aarch64",
    "aarch64",
    "arm64",
    "aarch64-linux-gnu",
    "aarch64",
    "aarch64-unknown-linux-gnu",
    "sh: aarch64",
    "aarch64-unknown-linux-gnu",
    "__aarch64__",
    "conftest exit 8",
];

/// The compressors on one test file (500 kB of the root's headers and an executable),
/// into `$o`, and their round trips through the names that are links or scripts
/// (`xzcat`, `gunzip`, `zstdcat`: the handler canonicalizes, argv[0] is kept).
const COMPRESS: &str = r#"set -e
mkdir $o && cd $o
{ cat /usr/include/*.h; cat /usr/bin/aarch64-linux-gnu-as; } | head -c 500000 > data
xz -9 -c data > data.xz
xz -9 < data > data.stdin.xz
gzip -9n -c data > data.gz
zstd -19 -q -c data > data.zst
xzcat data.xz | cmp - data
gunzip -c data.gz | cmp - data
zstdcat -q data.zst | cmp - data
{ xz --version; gzip --version | head -n 1; zstd -V; } > versions
"#;

fn log_lines_after(log: &Path, before: usize) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .skip(before)
        .map(str::to_string)
        .collect()
}

fn log_length(log: &Path) -> usize {
    std::fs::read_to_string(log).unwrap().lines().count()
}

fn timed(root: &Path, accel: bool, script: &str, what: &str) -> (String, f64) {
    let t = Instant::now();
    let out = ok(in_root(root, accel, script), what);
    (out, t.elapsed().as_secs_f64())
}

fn same_file(a: &Path, b: &Path) -> bool {
    std::fs::read(a).unwrap() == std::fs::read(b).unwrap()
}

/// Item 2 (the native shell and compressors give the emulated ones' output) and item 3
/// (the arch guards) of issue 11, in the accelerated root.
fn native_tools_and_arch_guards(root: &Path, log: &Path) {
    let began = Instant::now();
    std::fs::copy(
        "/usr/share/misc/config.guess",
        root.join("tmp/config.guess"),
    )
    .expect("the host's config.guess (autotools-dev, scripts/install-test-deps)");

    // The arch guards: the target's answers, accelerated and emulated alike.
    let before = log_length(log);
    let (accelerated, _) = timed(root, true, ARCH_GUARDS, "arch guards, accelerated");
    let answers: Vec<&str> = accelerated.lines().collect();
    assert_eq!(answers, ARCH_GUARD_ANSWERS, "accelerated");
    let conftest = std::fs::read(root.join("tmp/conftest")).unwrap();
    assert_eq!(
        conftest[18], 183,
        "the configure test is an aarch64 program"
    );
    let logged = log_lines_after(log, before);
    assert!(
        logged.iter().any(|l| l.contains(" hit /usr/bin/dash ")),
        "/bin/sh ran natively: {logged:?}"
    );
    for line in &logged {
        for emulated in [
            "/uname ",
            "/arch ",
            "/dpkg ",
            "/bash ",
            "conftest",
            "config.guess",
        ] {
            assert!(
                !line.contains(emulated),
                "{emulated} must stay emulated: {line}"
            );
        }
    }
    let (emulated, _) = timed(root, false, ARCH_GUARDS, "arch guards, emulated");
    assert_eq!(emulated, accelerated);

    // The shell corpus: the native dash prints what the emulated one does.
    let corpus = "sh /tmp/corpus/shell-corpus.sh 2>&1; echo \"exit $?\"";
    let before = log_length(log);
    let (emulated, emulated_s) = timed(root, false, corpus, "shell corpus, emulated");
    let (accelerated, accelerated_s) = timed(root, true, corpus, "shell corpus, accelerated");
    assert!(
        emulated.contains("\naarch64 aarch64 \n") && emulated.ends_with("== end\nexit 0\n"),
        "{emulated}"
    );
    assert_eq!(accelerated, emulated, "the native dash differs");
    let logged = log_lines_after(log, before);
    assert!(
        logged.iter().any(|l| l.contains(" hit /usr/bin/dash ")),
        "{logged:?}"
    );
    // The one difference known: INTMAX_MIN / -1 (undefined in C) traps on x86_64.
    let overflow = "sh -c 'x=$((-9223372036854775807 - 1)); echo $((x / -1))'; echo \"status $?\"";
    let (e, _) = timed(root, false, overflow, "overflow, emulated");
    let (a, _) = timed(root, true, overflow, "overflow, accelerated");
    assert_eq!(e, "-9223372036854775808\nstatus 0\n");
    assert!(a.ends_with("status 136\n"), "{a}");

    // The compressors: byte-identical output.
    let before = log_length(log);
    let (_, emulated_z) = timed(
        root,
        false,
        &format!("o=/tmp/z-emulated\n{COMPRESS}"),
        "compressors, emulated",
    );
    let (_, accelerated_z) = timed(
        root,
        true,
        &format!("o=/tmp/z-accelerated\n{COMPRESS}"),
        "compressors, accelerated",
    );
    let (emu, acc) = (root.join("tmp/z-emulated"), root.join("tmp/z-accelerated"));
    let names = files_of(&emu);
    assert_eq!(
        names,
        [
            "data",
            "data.gz",
            "data.stdin.xz",
            "data.xz",
            "data.zst",
            "versions"
        ]
    );
    for name in &names {
        assert!(
            same_file(&emu.join(name), &acc.join(name)),
            "{name} differs"
        );
    }
    assert_eq!(std::fs::metadata(emu.join("data")).unwrap().len(), 500_000);
    let logged = log_lines_after(log, before);
    for path in NATIVE_PATHS {
        assert!(
            logged.iter().any(|l| l.contains(&format!(" hit {path} "))),
            "{path} never ran natively: {logged:?}"
        );
    }
    assert!(
        !logged.iter().any(|l| l.contains(" fallback ")),
        "{logged:?}"
    );

    // A changed root gzip (a package update after the bundle was made): emulated, the
    // same output, one line why.
    let gzip = root.join("usr/bin/gzip");
    let mut bytes = std::fs::read(&gzip).unwrap();
    bytes.extend_from_slice(b"update");
    std::fs::write(&gzip, bytes).unwrap();
    let before = log_length(log);
    ok(
        in_root(
            root,
            true,
            "gzip -9n -c /tmp/z-emulated/data > /tmp/z-emulated/changed.gz",
        ),
        "a changed gzip",
    );
    assert!(same_file(&emu.join("changed.gz"), &emu.join("data.gz")));
    let logged = log_lines_after(log, before);
    assert!(
        logged
            .iter()
            .any(|l| l.contains(" fallback /usr/bin/gzip the root's file changed")),
        "{logged:?}"
    );

    eprintln!(
        "shell corpus: emulated {emulated_s:.1} s, accelerated {accelerated_s:.1} s; \
         compressors: emulated {emulated_z:.1} s, accelerated {accelerated_z:.1} s; \
         native tools and arch guards: {:.0} s",
        began.elapsed().as_secs_f64()
    );
}

fn files_of(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_accelerated_compiler_gives_the_emulated_compilers_output_byte_for_byte() {
    isolated!();
    if !common::have_qemu_tools()
        || !common::prerequisite(
            common::tool("mmdebstrap").is_some()
                && common::tool("patchelf").is_some()
                && common::tool("dpkg-deb").is_some(),
            "mmdebstrap, patchelf and dpkg-deb (scripts/install-test-deps)",
        )
    {
        return;
    }
    let began = Instant::now();
    let handler = handler();
    let env = common::accel::trixie_env();
    let boot: serde_json::Value =
        serde_json::from_str(&common::accel::bootstrap_trixie(&env, &["--json"])).unwrap();
    let root = PathBuf::from(boot["location"].as_str().unwrap());
    eprintln!(
        "root ({}): {:.0} s",
        boot["how"],
        began.elapsed().as_secs_f64()
    );
    let marked = mark_executables(&root);
    assert!(marked > 100, "only {marked} executables in the root");

    // The bundle, from the root's own files (after marking: the identity is of the files
    // the handler will see).
    let t = Instant::now();
    let bundle = env.path().join("bundles/x86_64-for-aarch64");
    let made: serde_json::Value = serde_json::from_str(&env.ok(&[
        "accel",
        "bundle",
        "trixie",
        "--output",
        bundle.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    eprintln!(
        "bundle: {:.0} s, {:.0} MB, {} packages, {} tools",
        t.elapsed().as_secs_f64(),
        made["bytes"].as_f64().unwrap() / 1e6,
        made["packages"].as_array().unwrap().len(),
        made["tools"].as_array().unwrap().len()
    );
    assert_eq!(made["toolchain"]["version"], "14.2.0-19", "{made}");
    let tools: Vec<&str> = made["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for needed in [
        "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1",
        "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1plus",
        "/usr/libexec/gcc/aarch64-linux-gnu/14/collect2",
        "/usr/bin/aarch64-linux-gnu-as",
        "/usr/bin/aarch64-linux-gnu-ld.bfd",
    ] {
        assert!(tools.contains(&needed), "{needed} is not in {tools:?}");
    }
    assert!(
        !tools
            .iter()
            .any(|t| t.contains("-gcc-14") || t.contains("-g++-14")),
        "the drivers stay emulated: {tools:?}"
    );
    // The shell and the compressors of the root's exact versions; never make or bash.
    for needed in NATIVE_PATHS {
        assert!(tools.contains(needed), "{needed} is not in {tools:?}");
    }
    let native: Vec<&str> = made["native"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().split(' ').next().unwrap())
        .collect();
    assert_eq!(native, ["dash", "xz", "gzip", "zstd"], "{made}");
    assert_eq!(made["native_refused"], serde_json::json!([]), "{made}");
    assert!(
        !tools
            .iter()
            .any(|t| t.ends_with("/make") || t.ends_with("/bash")),
        "{tools:?}"
    );
    // Every ELF of the bundle is self-contained: its interpreter is the bundle's own.
    let interp = Command::new("patchelf")
        .arg("--print-interpreter")
        .arg(bundle.join("usr/libexec/gcc-cross/aarch64-linux-gnu/14/cc1"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&interp.stdout).trim(),
        "/emul/x86_64-for-aarch64/lib/ld-linux-x86-64.so.2"
    );

    // The container's view: bundle read-only, its log writable, qemu at /qemu-aarch64.
    let inside = root.join("emul/x86_64-for-aarch64");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::write(root.join("qemu-aarch64"), "").unwrap();
    let logs = env.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let _mounted = Mounted(vec![
        inside.clone(),
        inside.join("log"),
        root.join("qemu-aarch64"),
    ]);
    common::sh(&format!(
        "mount --bind {b} {i} && mount -o remount,bind,ro {i} && mount --bind {l} {i}/log \
         && mount --bind /usr/bin/qemu-aarch64-static {q} && mount -o remount,bind,ro {q}",
        b = bundle.display(),
        i = inside.display(),
        l = logs.display(),
        q = root.join("qemu-aarch64").display()
    ));
    let log = logs.join("handler.log");
    std::fs::write(&log, "").unwrap();
    let corpus = root.join("tmp/corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for name in files_of(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/accel-corpus"
    ))) {
        std::fs::copy(
            Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/accel-corpus"
            ))
            .join(&name),
            corpus.join(&name),
        )
        .unwrap();
    }
    let _entry = register(&handler);
    let compile = format!("CFLAGS='{CFLAGS}'\n{COMPILE}");

    // Emulated, then accelerated, into the same path (/tmp/out) so that nothing differs
    // by name.
    let t = Instant::now();
    ok(in_root(&root, false, &compile), "emulated compile");
    let emulated = t.elapsed().as_secs_f64();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "",
        "the kill switch ran nothing natively"
    );
    std::fs::rename(root.join("tmp/out"), root.join("tmp/out-emulated")).unwrap();
    let t = Instant::now();
    ok(in_root(&root, true, &compile), "accelerated compile");
    let accelerated = t.elapsed().as_secs_f64();
    std::fs::rename(root.join("tmp/out"), root.join("tmp/out-accelerated")).unwrap();
    eprintln!(
        "corpus: emulated {emulated:.1} s, accelerated {accelerated:.1} s ({:.1}x)",
        emulated / accelerated
    );

    let (emu, acc) = (
        root.join("tmp/out-emulated"),
        root.join("tmp/out-accelerated"),
    );
    let names = files_of(&emu);
    assert_eq!(names, files_of(&acc));
    for wanted in [
        "hello.i",
        "hello.s",
        "hello.o",
        "hello",
        "templates.s",
        "templates.o",
    ] {
        assert!(
            names.contains(&wanted.to_string()),
            "{wanted} missing: {names:?}"
        );
    }
    let mut different = Vec::new();
    for name in &names {
        if std::fs::read(emu.join(name)).unwrap() != std::fs::read(acc.join(name)).unwrap() {
            different.push(name.clone());
        }
    }
    assert!(different.is_empty(), "differ: {different:?}");
    // What was compared is real output: aarch64 objects, the programs' output, the
    // root compiler's identity string and header directories.
    let object = std::fs::read(acc.join("numeric.o")).unwrap();
    assert_eq!(object[18], 183, "numeric.o is an aarch64 object");
    let s = std::fs::read_to_string(acc.join("hello.s")).unwrap();
    assert!(
        s.contains(".ident\t\"GCC: (Debian 14.2.0-19) 14.2.0\""),
        "{s}"
    );
    assert!(std::fs::read_to_string(acc.join("templates.out"))
        .unwrap()
        .contains("caught: no values"));
    let list = std::fs::read_to_string(acc.join("search-list.cxx")).unwrap();
    assert!(
        list.contains(" /usr/include/c++/14\n")
            && list.contains(" /usr/lib/gcc/aarch64-linux-gnu/14/include\n"),
        "{list}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    let (per_path, unreadable) = archbuild::accel::status::summarize(&logged);
    assert_eq!(unreadable, 0);
    for path in [
        "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1",
        "/usr/libexec/gcc/aarch64-linux-gnu/14/cc1plus",
        "/usr/libexec/gcc/aarch64-linux-gnu/14/collect2",
        "/usr/bin/aarch64-linux-gnu-as",
        "/usr/bin/aarch64-linux-gnu-ld.bfd",
    ] {
        let counts = per_path.get(path).cloned().unwrap_or_default();
        assert!(counts.hits > 0, "{path} never ran natively: {logged}");
    }
    // The only fallbacks: C++ preprocessing alone (g++ -E, -save-temps), kept emulated.
    for line in logged.lines().filter(|l| l.contains(" fallback ")) {
        assert!(
            line.contains(
                " fallback /usr/libexec/gcc/aarch64-linux-gnu/14/cc1plus argument -E is not reproduced"
            ),
            "{logged}"
        );
    }

    native_tools_and_arch_guards(&root, &log);

    // An argument the appended header list cannot follow: emulated, one line says why.
    let before = logged.lines().count();
    std::fs::write(corpus.join("plain.c"), "int answer(void) { return 42; }\n").unwrap();
    ok(
        in_root(
            &root,
            true,
            "cd /tmp/corpus && gcc -nostdinc -O2 -S -o /tmp/plain.s plain.c",
        ),
        "gcc -nostdinc",
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    let new: Vec<&str> = logged.lines().skip(before).collect();
    assert!(
        new.iter().any(|l| l.contains(
            " fallback /usr/libexec/gcc/aarch64-linux-gnu/14/cc1 argument -nostdinc is not reproduced"
        )),
        "{logged}"
    );

    // The root's compiler changed after the bundle was made (a package update): cc1 runs
    // emulated, the output is still the root compiler's, one log line says why.
    let cc1 = root.join("usr/libexec/gcc/aarch64-linux-gnu/14/cc1");
    let mut bytes = std::fs::read(&cc1).unwrap();
    bytes.extend_from_slice(b"update");
    std::fs::write(&cc1, bytes).unwrap();
    let before = std::fs::read_to_string(&log).unwrap().lines().count();
    ok(
        in_root(
            &root,
            true,
            &format!(
                "mkdir /tmp/out && cd /tmp/corpus && gcc {CFLAGS} -save-temps=obj -c -o /tmp/out/hello.o hello.c"
            ),
        ),
        "gcc with a changed cc1",
    );
    for name in ["hello.s", "hello.o"] {
        assert_eq!(
            std::fs::read(root.join("tmp/out").join(name)).unwrap(),
            std::fs::read(emu.join(name)).unwrap(),
            "{name}"
        );
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    let new: Vec<&str> = logged
        .lines()
        .skip(before)
        .filter(|l| l.contains("/cc1 "))
        .collect();
    // Two runs of cc1 (-save-temps: preprocess, then compile), one line each.
    assert_eq!(new.len(), 2, "{logged}");
    for line in new {
        assert!(
            line.contains(
                " fallback /usr/libexec/gcc/aarch64-linux-gnu/14/cc1 the root's file changed"
            ),
            "{logged}"
        );
    }

    // A root whose gcc version the archive's cross toolchain was not built from: no
    // bundle, one error line that says why (the root's gcc stays emulated).
    let status_path = root.join("var/lib/dpkg/status");
    let status = std::fs::read_to_string(&status_path).unwrap();
    let mut lines: Vec<String> = Vec::new();
    let mut in_gcc = false;
    for line in status.lines() {
        if line.starts_with("Package: ") {
            in_gcc = line == "Package: gcc-14";
        }
        if in_gcc && line.starts_with("Version: ") {
            lines.push("Version: 14.2.0-20".into());
        } else {
            lines.push(line.to_string());
        }
    }
    std::fs::write(&status_path, lines.join("\n") + "\n").unwrap();
    let other = env.path().join("bundles/other");
    let out = env.run(&[
        "accel",
        "bundle",
        "trixie",
        "--output",
        other.to_str().unwrap(),
    ]);
    common::assert_one_line_error(
        &out,
        "accel bundle for another gcc version",
        1,
        &[
            "gcc-14-aarch64-linux-gnu is 14.2.0-19cross1, not built from the root's gcc-14 14.2.0-20",
            "stays emulated",
        ],
    );
    assert!(!other.exists());
    eprintln!("whole test: {:.0} s", began.elapsed().as_secs_f64());
}
