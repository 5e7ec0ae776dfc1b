//! Compiler identity: in real Debian 13 arm64 and armhf roots with gcc and g++
//! (bootstrapped with mmdebstrap from Debian's archive once, then restored from
//! archbuild's pristine copy), `archbuild accel bundle` makes the bundle from Debian's
//! cross toolchain of the root's gcc version, and the root's compiler run emulated and
//! run accelerated (the real static handler, real binfmt_misc, qemu-user-static) gives
//! byte-identical `.i`, `.s`, `.o`, linked programs (that run and print the same), `-E
//! -dM`, `-print-search-dirs`, the header search list and `-MD` dependencies for the
//! corpus in tests/data/accel-corpus; the arch guards give the target's answers. In the
//! arm64 root, the native shell, compressors, file tools and dpkg's programs give the
//! emulated ones' output too. Then the fallbacks: an argument the native cc1 cannot
//! follow, a root compiler that changed after the bundle was made, and a root whose
//! compiler version the archive's cross toolchain does not have.
//!
//! As in tests/accel.rs, the test's binfmt entry catches only binaries with a marker in
//! `e_ident`'s padding, which the test puts into its own root's executables: no other
//! binary of the host goes through the handler.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::accel::{handler, register_marked_for, Mounted, Registered};

const MARKER: u8 = b'I';

/// One arch the comparison runs for: a Debian 13 root of it with gcc and g++.
struct Case {
    /// archbuild's (OBS's) name, qemu's name, the GNU triplet, ELF's `e_machine`.
    obs: &'static str,
    qemu: &'static str,
    triplet: &'static str,
    e_machine: u8,
    /// The `archbuild bootstrap` arguments (the container is named `name`).
    bootstrap: &'static [&'static str],
    name: &'static str,
    /// Debian's default CFLAGS of the arch (dpkg-buildflags), so the stack protector,
    /// stack clash protection and branch protection paths are compared too.
    cflags: &'static str,
    /// What [`ARCH_GUARDS`] prints in the root.
    guard_answers: &'static [&'static str],
    /// The native tools the bundle has besides the compiler (none for 32-bit roots).
    native: &'static [&'static str],
}

const AARCH64: Case = Case {
    obs: "aarch64",
    qemu: "aarch64",
    triplet: "aarch64-linux-gnu",
    e_machine: 183,
    bootstrap: &common::accel::TRIXIE_BOOTSTRAP,
    name: "trixie",
    cflags: "-g -O2 -fstack-protector-strong -fstack-clash-protection -Wformat -Werror=format-security -mbranch-protection=standard",
    guard_answers: &[
        "aarch64",
        "aarch64",
        "arm64",
        "(arm64)",
        "(arm64)",
        "arm64",
        "aarch64-linux-gnu",
        "aarch64-linux-gnu-thread-multi",
        "aarch64",
        "built for aarch64-linux-gnu-thread-multi",
        "aarch64",
        "aarch64-unknown-linux-gnu",
        "sh: aarch64",
        "aarch64-unknown-linux-gnu",
        "__aarch64__",
        "conftest exit 8",
    ],
    native: &[
        "dash",
        "xz",
        "gzip",
        "zstd",
        "tar",
        "coreutils",
        "sed",
        "findutils",
        "diffutils",
        "dpkg",
        "update-alternatives",
        "perl",
    ],
};

/// armhf: the same comparisons of the compiler; no native tools (32-bit), so dpkg and
/// the shell stay emulated.
const ARMV7L: Case = Case {
    obs: "armv7l",
    qemu: "arm",
    triplet: "arm-linux-gnueabihf",
    e_machine: 40,
    bootstrap: &[
        "bootstrap",
        "armv7l",
        "--dist",
        "debian-13",
        "--name",
        "trixie-armhf",
        "--packages",
        "gcc,g++,libc6-dev",
    ],
    name: "trixie-armhf",
    cflags: "-g -O2 -fstack-protector-strong -Wformat -Werror=format-security",
    guard_answers: &[
        "armv7l",
        "armv7l",
        "armhf",
        "(armhf)",
        "(armhf)",
        "armhf",
        "arm-linux-gnueabihf",
        "arm-linux-gnueabihf-thread-multi-64int",
        "armv7l",
        "built for arm-linux-gnueabihf-thread-multi-64int",
        "arm",
        "arm-unknown-linux-gnueabihf",
        "sh: armv7l",
        "armv7l-unknown-linux-gnueabihf",
        "__arm__",
        "conftest exit 4",
    ],
    native: &[],
};

fn register(case: &Case, handler: &Path) -> Registered {
    register_marked_for(case.obs, handler, "accel-identity", MARKER)
}

/// Put the marker into every executable of the root of ELF machine `e_machine` (not
/// into shared libraries: glibc's loader checks their padding). Returns how many.
fn mark_executables(root: &Path, e_machine: u8) -> usize {
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
                || header[18..20] != [e_machine, 0]
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
dpkg --version | head -n 1 | grep -o '([a-z0-9]*)'
dpkg-deb --version | head -n 1 | grep -o '([a-z0-9]*)'
dpkg-query -W -f '${Architecture}\n' dpkg
gcc -dumpmachine
perl -MConfig -e 'print "$Config{archname}\n"'
perl -MPOSIX -e 'print((POSIX::uname())[4], "\n")'
perl -v | grep -o 'built for [a-z0-9_-]*'
bash -c 'echo $HOSTTYPE'
bash -c 'echo $MACHTYPE'
sh -c 'echo "sh: $(uname -m)"'
/tmp/config.guess
cd /tmp
cat > conftest.c <<'END'
#include <stdio.h>
int main(void) {
#if defined __aarch64__
    puts("__aarch64__");
#elif defined __arm__
    puts("__arm__");
#endif
    return sizeof(void *);
}
END
gcc -o conftest conftest.c
./conftest || echo "conftest exit $?"
"#;

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

/// Item 3 of issue 11 (the arch guards), in the accelerated root: the target's answers,
/// accelerated and emulated alike; the programs that tell the arch stay emulated, dpkg's
/// run natively only with the root's arch written into them.
fn arch_guards(case: &Case, root: &Path, log: &Path) {
    std::fs::copy(
        "/usr/share/misc/config.guess",
        root.join("tmp/config.guess"),
    )
    .expect("the host's config.guess (autotools-dev, scripts/install-test-deps)");
    let before = log_length(log);
    let (accelerated, _) = timed(root, true, ARCH_GUARDS, "arch guards, accelerated");
    let answers: Vec<&str> = accelerated.lines().collect();
    assert_eq!(answers, case.guard_answers, "accelerated");
    let conftest = std::fs::read(root.join("tmp/conftest")).unwrap();
    assert_eq!(
        conftest[18], case.e_machine,
        "the configure test is an {} program",
        case.obs
    );
    let logged = log_lines_after(log, before);
    let natively = [
        "/usr/bin/dash",
        "/usr/bin/dpkg",
        "/usr/bin/dpkg-deb",
        "/usr/bin/perl",
    ];
    for native in natively {
        let hit = logged
            .iter()
            .any(|l| l.contains(&format!(" hit {native} ")));
        assert_eq!(
            hit,
            !case.native.is_empty(),
            "{native} ran natively (dpkg's with the arch rewritten) where the root has native tools: {logged:?}"
        );
    }
    for line in &logged {
        for emulated in ["/uname ", "/arch ", "/bash ", "conftest", "config.guess"] {
            assert!(
                !line.contains(emulated),
                "{emulated} must stay emulated: {line}"
            );
        }
    }
    let (emulated, _) = timed(root, false, ARCH_GUARDS, "arch guards, emulated");
    assert_eq!(emulated, accelerated);
}

/// Item 2 of issue 11: the native shell and compressors give the emulated ones' output
/// (aarch64).
fn native_tools(root: &Path, log: &Path) {
    let began = Instant::now();

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
    all_native_no_fallback(&log_lines_after(log, before), NATIVE_PATHS);

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
         native tools: {:.0} s",
        began.elapsed().as_secs_f64()
    );
}

/// A package's life in the root (built with dpkg-deb, installed with its maintainer
/// script, queried, removed, purged) and the file tools on the root's files, into /tmp/d.
const DPKG_AND_FILE_TOOLS: &str = r#"set -e
export PATH=/usr/sbin:/sbin:$PATH
o=/tmp/d; rm -rf $o; mkdir -p $o/pkg/DEBIAN $o/pkg/usr/share/probe
printf 'Package: archbuild-probe\nVersion: 1.0\nArchitecture: arm64\nMaintainer: t <t@example.invalid>\nDescription: probe\n' > $o/pkg/DEBIAN/control
printf '#!/bin/sh\necho "postinst $1 $DPKG_MAINTSCRIPT_ARCH $DPKG_MAINTSCRIPT_PACKAGE"\n' > $o/pkg/DEBIAN/postinst
chmod 755 $o/pkg/DEBIAN/postinst
head -c 200000 /usr/bin/aarch64-linux-gnu-as > $o/pkg/usr/share/probe/data
ln -s data $o/pkg/usr/share/probe/link
find $o/pkg -exec touch -h -d @1700000000 {} +
SOURCE_DATE_EPOCH=1700000000 dpkg-deb --root-owner-group -Zxz --build $o/pkg $o/probe.deb > $o/build.log
dpkg-deb --info $o/probe.deb > $o/info
dpkg-deb --contents $o/probe.deb > $o/contents
SOURCE_DATE_EPOCH=1700000000 dpkg-split -S 50 -s $o/probe.deb $o/part > $o/split.log
dpkg -i $o/probe.deb > $o/install.log 2>&1
dpkg-query -W -f '${Package} ${Version} ${Architecture} ${Status}\n' archbuild-probe > $o/query
dpkg -L archbuild-probe > $o/list
dpkg --audit > $o/audit
dpkg-divert --list > $o/diversions
dpkg -r archbuild-probe > $o/remove.log 2>&1
dpkg -P archbuild-probe >> $o/remove.log 2>&1
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf $o/probe.tar -C $o pkg
tar -tvf $o/probe.tar > $o/tar-list
mkdir $o/x && tar -xf $o/probe.tar -C $o/x && cmp $o/x/pkg/usr/share/probe/data $o/pkg/usr/share/probe/data
sort /usr/include/stdio.h | uniq -c | sed -e 's/^ *//' -e 's/[0-9]/N/g' | tr a-z A-Z | cut -c1-40 | tail -n 50 > $o/text
wc /usr/include/*.h | tail -n 1 > $o/wc
find /usr/include -name 'std*.h' | sort | xargs basename -a > $o/find
diff /usr/include/stdio.h /usr/include/stdlib.h > $o/diff || test $? = 1
cmp /usr/include/stdio.h /usr/include/stdlib.h > $o/cmp || test $? = 1
cp -a $o/pkg $o/copy && mv $o/copy $o/moved && chmod -R go-w $o/moved && rm -r $o/moved
readlink $o/pkg/usr/share/probe/link > $o/readlink
mktemp -u -p /tmp XXXXXX | wc -c > $o/mktemp
dpkg-realpath /usr/bin/../lib/../bin/dpkg > $o/realpath
update-alternatives --install /usr/local/bin/archbuild-probe archbuild-probe /usr/bin/true 10 > $o/alternatives 2>&1
update-alternatives --query archbuild-probe >> $o/alternatives
readlink /etc/alternatives/archbuild-probe >> $o/alternatives
update-alternatives --remove archbuild-probe /usr/bin/true >> $o/alternatives 2>&1
test ! -e /usr/local/bin/archbuild-probe
sync
rm -rf $o/pkg $o/x
"#;

/// dpkg's programs (the compiled-in arch rewritten to arm64), tar, the coreutils, sed,
/// find and diff: what they print and write is the emulated programs', byte for byte,
/// and every one of them ran natively.
fn file_tools_and_dpkg(root: &Path, log: &Path) {
    let status = std::fs::read(root.join("var/lib/dpkg/status")).unwrap();
    let before = log_length(log);
    let run = |accel: bool, what: &str| timed(root, accel, DPKG_AND_FILE_TOOLS, what).1;
    let emulated_s = run(false, "dpkg and file tools, emulated");
    let emu = root.join("tmp/d-emulated");
    std::fs::rename(root.join("tmp/d"), &emu).unwrap();
    let emulated_log = log_length(log);
    let accelerated_s = run(true, "dpkg and file tools, accelerated");
    let acc = root.join("tmp/d");
    let names = files_of(&emu);
    assert_eq!(names, files_of(&acc));
    assert!(names.iter().any(|n| n.starts_with("part.")), "{names:?}");
    for wanted in [
        "probe.deb",
        "install.log",
        "query",
        "probe.tar",
        "text",
        "realpath",
        "alternatives",
    ] {
        assert!(
            names.contains(&wanted.to_string()),
            "{wanted} not in {names:?}"
        );
    }
    for name in &names {
        assert!(
            same_file(&emu.join(name), &acc.join(name)),
            "{name} differs"
        );
    }
    let install = std::fs::read_to_string(acc.join("install.log")).unwrap();
    assert!(
        install.contains("postinst configure arm64 archbuild-probe"),
        "{install}"
    );
    assert_eq!(
        std::fs::read_to_string(acc.join("query")).unwrap(),
        "archbuild-probe 1.0 arm64 install ok installed\n"
    );
    assert_eq!(
        std::fs::read(root.join("var/lib/dpkg/status")).unwrap(),
        status,
        "installed and purged twice: the status database is as it was"
    );
    let logged = log_lines_after(log, emulated_log);
    assert!(
        !log_lines_after(log, before)[..emulated_log - before]
            .iter()
            .any(|l| l.contains(" hit ")),
        "the kill switch held"
    );
    all_native_no_fallback(
        &logged,
        &[
            "/usr/bin/dpkg",
            "/usr/bin/dpkg-deb",
            "/usr/bin/dpkg-split",
            "/usr/bin/dpkg-query",
            "/usr/bin/dpkg-divert",
            "/usr/bin/tar",
            "/usr/bin/sort",
            "/usr/bin/sed",
            "/usr/bin/find",
            "/usr/bin/xargs",
            "/usr/bin/diff",
            "/usr/bin/cmp",
            "/usr/bin/cp",
            "/usr/bin/rm",
            "/usr/bin/dpkg-realpath",
            "/usr/bin/update-alternatives",
            "/usr/bin/sync",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(acc.join("realpath")).unwrap(),
        "/usr/bin/dpkg\n"
    );
    let alternatives = std::fs::read_to_string(acc.join("alternatives")).unwrap();
    assert!(
        alternatives.contains("Value: /usr/bin/true"),
        "{alternatives}"
    );
    eprintln!("dpkg and file tools: emulated {emulated_s:.1} s, accelerated {accelerated_s:.1} s");
}

/// The native perl (perl-base of the root's version, with the root's `%Config`): the
/// perl corpus prints what the emulated perl prints, byte for byte, and it ran natively.
/// `-v` (what is compiled in) and a directory with an XS module the bundle has no twin
/// of (an aarch64 shared object it could not load) keep it emulated, one line each.
fn native_perl(root: &Path, log: &Path) {
    let corpus = "cd /tmp && perl /tmp/corpus/perl-corpus.pl 2>&1; echo \"exit $?\"";
    let before = log_length(log);
    let (emulated, emulated_s) = timed(root, false, corpus, "perl corpus, emulated");
    let emulated_log = log_length(log);
    let (accelerated, accelerated_s) = timed(root, true, corpus, "perl corpus, accelerated");
    assert_eq!(accelerated, emulated);
    for wanted in [
        "machine aarch64, scalar aarch64",
        "program /usr/bin/perl,",
        "children aarch64\nagain 42",
        "system 3",
        "exit 0",
    ] {
        assert!(emulated.contains(wanted), "{wanted}: {emulated}");
    }
    assert!(
        !log_lines_after(log, before)[..emulated_log - before]
            .iter()
            .any(|l| l.contains(" hit ")),
        "the kill switch held"
    );
    let logged = log_lines_after(log, emulated_log);
    all_native_no_fallback(&logged, &["/usr/bin/perl", "/usr/bin/dash"]);
    let perl_hits = logged
        .iter()
        .filter(|l| l.contains(" hit /usr/bin/perl "))
        .count();
    assert_eq!(perl_hits, 2, "the corpus and its `$^X -e`: {logged:?}");

    // A module directory with an XS module the bundle has no twin of: emulated.
    let foreign = root.join("tmp/xs-lib/auto/Foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::copy(
        root.join("usr/lib/aarch64-linux-gnu/perl-base/auto/Fcntl/Fcntl.so"),
        foreign.join("Foreign.so"),
    )
    .unwrap();
    let before = log_length(log);
    let probe = "PERL5LIB=/tmp/xs-lib perl -e 'print qq{still $^X\n}'; perl -V:archname";
    let out = ok(in_root(root, true, probe), "perl with a foreign XS module");
    assert_eq!(
        out,
        "still /usr/bin/perl\narchname='aarch64-linux-gnu-thread-multi';\n"
    );
    let logged = log_lines_after(log, before);
    let fallbacks: Vec<&String> = logged.iter().filter(|l| l.contains(" fallback ")).collect();
    assert_eq!(fallbacks.len(), 2, "{logged:?}");
    assert!(
        fallbacks[0].contains(
            "fallback /usr/bin/perl perl could load /tmp/xs-lib/auto/Foreign/Foreign.so, an XS module the bundle has no amd64 build of"
        ),
        "{logged:?}"
    );
    assert!(
        fallbacks[1].contains("fallback /usr/bin/perl argument -V:archname"),
        "{logged:?}"
    );
    std::fs::remove_dir_all(root.join("tmp/xs-lib")).unwrap();
    eprintln!("perl corpus: emulated {emulated_s:.1} s, accelerated {accelerated_s:.1} s");
}

/// Every one of `paths` has a hit in `logged` (handler log lines), and nothing fell back.
fn all_native_no_fallback(logged: &[String], paths: &[&str]) {
    for path in paths {
        assert!(
            logged.iter().any(|l| l.contains(&format!(" hit {path} "))),
            "{path} never ran natively: {logged:?}"
        );
    }
    assert!(
        !logged.iter().any(|l| l.contains(" fallback ")),
        "{logged:?}"
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

/// One arch at a time: the bootstraps and bundles share the test cache's apt state and
/// package directories.
static ONE_ROOT_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_accelerated_compiler_gives_the_emulated_compilers_output_byte_for_byte() {
    let _one = ONE_ROOT_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    isolated!();
    if prerequisites() {
        compare(&AARCH64);
    }
}

#[test]
fn the_same_for_armv7l() {
    let _one = ONE_ROOT_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    isolated!();
    if prerequisites() {
        compare(&ARMV7L);
    }
}

fn prerequisites() -> bool {
    common::have_qemu_tools()
        && common::prerequisite(
            common::tool("mmdebstrap").is_some()
                && common::tool("patchelf").is_some()
                && common::tool("dpkg-deb").is_some(),
            "mmdebstrap, patchelf and dpkg-deb (scripts/install-test-deps)",
        )
}

/// The whole comparison in a Debian 13 root of `case`'s arch.
fn compare(case: &Case) {
    let began = Instant::now();
    let handler = handler();
    let env = common::accel::trixie_env();
    let mut bootstrap = case.bootstrap.to_vec();
    bootstrap.push("--json");
    let boot: serde_json::Value = serde_json::from_str(&env.ok(&bootstrap)).unwrap();
    let root = PathBuf::from(boot["location"].as_str().unwrap());
    eprintln!(
        "root ({}): {:.0} s",
        boot["how"],
        began.elapsed().as_secs_f64()
    );
    let marked = mark_executables(&root, case.e_machine);
    assert!(marked > 100, "only {marked} executables in the root");

    // The bundle, from the root's own files (after marking: the identity is of the files
    // the handler will see).
    let t = Instant::now();
    let bundle = env.path().join(format!("bundles/x86_64-for-{}", case.qemu));
    let made: serde_json::Value = serde_json::from_str(&env.ok(&[
        "accel",
        "bundle",
        case.name,
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
    let compiler = compiler_paths(case);
    for needed in &compiler {
        assert!(
            tools.contains(&needed.as_str()),
            "{needed} is not in {tools:?}"
        );
    }
    assert!(
        !tools
            .iter()
            .any(|t| t.contains("-gcc-14") || t.contains("-g++-14")),
        "the drivers stay emulated: {tools:?}"
    );
    // The shell and the compressors of the root's exact versions; never make or bash.
    if !case.native.is_empty() {
        for needed in NATIVE_PATHS {
            assert!(tools.contains(needed), "{needed} is not in {tools:?}");
        }
    }
    let native: Vec<&str> = made["native"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().split(' ').next().unwrap())
        .collect();
    assert_eq!(native, case.native, "{made}");
    if case.native.is_empty() {
        let refused = made["native_refused"].as_array().unwrap();
        assert!(
            refused
                .iter()
                .all(|r| r[1].as_str().unwrap().contains("32-bit")),
            "{made}"
        );
    } else {
        assert_eq!(made["native_refused"], serde_json::json!([]), "{made}");
    }
    assert!(
        !tools
            .iter()
            .any(|t| t.ends_with("/make") || t.ends_with("/bash")),
        "{tools:?}"
    );
    // Every ELF of the bundle is self-contained: its interpreter is the bundle's own.
    let interp = Command::new("patchelf")
        .arg("--print-interpreter")
        .arg(bundle.join(format!("usr/libexec/gcc-cross/{}/14/cc1", case.triplet)))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&interp.stdout).trim(),
        format!("/emul/x86_64-for-{}/lib/ld-linux-x86-64.so.2", case.qemu)
    );

    // The container's view: bundle read-only, its log writable, qemu at /qemu-<target>.
    let inside = root.join(format!("emul/x86_64-for-{}", case.qemu));
    let qemu_inside = root.join(format!("qemu-{}", case.qemu));
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::write(&qemu_inside, "").unwrap();
    let logs = env.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let _mounted = Mounted(vec![
        inside.clone(),
        inside.join("log"),
        qemu_inside.clone(),
    ]);
    common::sh(&format!(
        "mount --bind {b} {i} && mount -o remount,bind,ro {i} && mount --bind {l} {i}/log \
         && mount --bind /usr/bin/qemu-{t}-static {q} && mount -o remount,bind,ro {q}",
        b = bundle.display(),
        i = inside.display(),
        l = logs.display(),
        t = case.qemu,
        q = qemu_inside.display()
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
    let _entry = register(case, &handler);
    let compile = format!("CFLAGS='{}'\n{COMPILE}", case.cflags);

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
    // What was compared is real output: the arch's objects, the programs' output, the
    // root compiler's identity string and header directories.
    let object = std::fs::read(acc.join("numeric.o")).unwrap();
    assert_eq!(
        object[18], case.e_machine,
        "numeric.o is an {} object",
        case.obs
    );
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
            && list.contains(&format!(" /usr/lib/gcc/{}/14/include\n", case.triplet)),
        "{list}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    let (per_path, unreadable) = archbuild::accel::status::summarize(&logged);
    assert_eq!(unreadable, 0);
    for path in &compiler {
        let counts = per_path.get(path).cloned().unwrap_or_default();
        assert!(counts.hits > 0, "{path} never ran natively: {logged}");
    }
    // The only fallbacks: C++ preprocessing alone (g++ -E, -save-temps), kept emulated.
    for line in logged.lines().filter(|l| l.contains(" fallback ")) {
        assert!(
            line.contains(&format!(
                " fallback /usr/libexec/gcc/{}/14/cc1plus argument -E is not reproduced",
                case.triplet
            )),
            "{logged}"
        );
    }

    arch_guards(case, &root, &log);
    if !case.native.is_empty() {
        native_tools(&root, &log);
        file_tools_and_dpkg(&root, &log);
        native_perl(&root, &log);
    }

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
        new.iter().any(|l| l.contains(&format!(
            " fallback /usr/libexec/gcc/{}/14/cc1 argument -nostdinc is not reproduced",
            case.triplet
        ))),
        "{logged}"
    );

    // The root's compiler changed after the bundle was made (a package update): cc1 runs
    // emulated, the output is still the root compiler's, one log line says why.
    let cc1 = root.join(format!("usr/libexec/gcc/{}/14/cc1", case.triplet));
    let mut bytes = std::fs::read(&cc1).unwrap();
    bytes.extend_from_slice(b"update");
    std::fs::write(&cc1, bytes).unwrap();
    let before = std::fs::read_to_string(&log).unwrap().lines().count();
    ok(
        in_root(
            &root,
            true,
            &format!(
                "mkdir /tmp/out && cd /tmp/corpus && gcc {} -save-temps=obj -c -o /tmp/out/hello.o hello.c",
                case.cflags
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
            line.contains(&format!(
                " fallback /usr/libexec/gcc/{}/14/cc1 the root's file changed",
                case.triplet
            )),
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
        case.name,
        "--output",
        other.to_str().unwrap(),
    ]);
    common::assert_one_line_error(
        &out,
        "accel bundle for another gcc version",
        1,
        &[
            &format!(
                "gcc-14-{} is 14.2.0-19cross1, not built from the root's gcc-14 14.2.0-20",
                case.triplet
            ),
            "stays emulated",
        ],
    );
    assert!(!other.exists());
    eprintln!("whole test: {:.0} s", began.elapsed().as_secs_f64());
}

/// The root's compiler programs that must run natively: cc1, cc1plus, collect2, as, ld.
fn compiler_paths(case: &Case) -> Vec<String> {
    let t = case.triplet;
    vec![
        format!("/usr/libexec/gcc/{t}/14/cc1"),
        format!("/usr/libexec/gcc/{t}/14/cc1plus"),
        format!("/usr/libexec/gcc/{t}/14/collect2"),
        format!("/usr/bin/{t}-as"),
        format!("/usr/bin/{t}-ld.bfd"),
    ]
}
