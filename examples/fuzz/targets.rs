//! The parsers archbuild runs on documents it did not write, as fuzz targets: each takes
//! any bytes, runs one parser (plus what callers do next with its result) and returns;
//! a panic is a bug. Shared by `examples/fuzz` (bench/fuzz, millions of inputs) and
//! `tests/parsers.rs` (proptest, a few hundred per parser), together with the seeds (the
//! real documents in tests/data and /work/shared/reference/obs) and a small mutator
//! with a fixed seed.

#![allow(dead_code)]

use std::io::Cursor;
use std::path::{Path, PathBuf};

use archbuild::binfmt::{Entry, LiveEntry};
use archbuild::obs::buildinfo::BuildInfo;
use archbuild::obs::configuration::Configuration;
use archbuild::obs::meta::ProjectMeta;
use archbuild::obs::oscrc;
use archbuild::obs::prjconf::Prjconf;
use archbuild::obs::status::Status;

/// One parser under test.
pub struct Target {
    pub name: &'static str,
    /// Real documents to mutate.
    pub seeds: Vec<Vec<u8>>,
    /// Words of the format, for the mutator to insert.
    pub dictionary: &'static [&'static str],
    pub run: fn(&[u8]),
}

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files of tests/data/obs (and the shared reference copy, when there) whose name
/// starts with `prefix`.
fn documents(prefix: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in [
        repo_root().join("tests/data/obs"),
        PathBuf::from("/work/shared/reference/obs"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(prefix) {
                if let Ok(b) = std::fs::read(&p) {
                    if !out.contains(&b) {
                        out.push(b);
                    }
                }
            }
        }
    }
    assert!(!out.is_empty(), "no seed documents named {prefix}*");
    out
}

/// qemu's binfmt table (tests/data/qemu-binfmt-table.txt): target, magic, mask.
fn qemu_table() -> Vec<(String, String, String)> {
    let t = std::fs::read_to_string(repo_root().join("tests/data/qemu-binfmt-table.txt")).unwrap();
    t.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 4).then(|| (f[0].to_string(), f[2].to_string(), f[3].to_string()))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- the targets ----

fn elf(b: &[u8]) {
    if let Ok(info) = archbuild::elf::parse(Cursor::new(b), "fuzz input") {
        let _ = archbuild::arch::ARCHES
            .iter()
            .filter(|a| a.machine == info.machine)
            .count();
    }
}

fn project_meta(b: &[u8]) {
    if let Ok(m) = ProjectMeta::parse(&text(b), "fuzz") {
        for r in &m.repositories {
            let _ = m.repository(&r.name);
            for p in &r.paths {
                let _ = p.to_string();
            }
        }
        let _ = serde_json::to_string(
            &m.repositories
                .iter()
                .flat_map(|r| &r.downloads)
                .collect::<Vec<_>>(),
        );
    }
}

fn buildinfo(b: &[u8]) {
    if let Ok(i) = BuildInfo::parse(&text(b), "fuzz") {
        let _ = i.preinstalls();
    }
}

fn configuration(b: &[u8]) {
    if let Ok(c) = Configuration::parse(&text(b)) {
        if let Some(d) = &c.download_url {
            let _ = archbuild::obs::configuration::published_url(d, "a:b", "r");
        }
    }
}

fn build_results(b: &[u8]) {
    if let Ok(results) = archbuild::batch::obs_result::parse(&text(b), "fuzz") {
        let local: Vec<_> = results
            .iter()
            .take(8)
            .map(|r| {
                archbuild::batch::outcome::CellOutcome::unbuilt(
                    &archbuild::matrix::Cell {
                        package: r.package.clone(),
                        flavor: None,
                        repository: r.repository.clone(),
                        arch: r.arch.clone(),
                    },
                    Path::new("/fuzz"),
                    archbuild::batch::outcome::Code::Failed,
                    r.details.clone().unwrap_or_default(),
                )
            })
            .collect();
        for c in archbuild::batch::obs_result::compare(&local, &results) {
            let _ = c.line();
        }
    }
}

fn build_log(b: &[u8]) {
    let _ = archbuild::batch::lint::from_log(&text(b));
}

fn status(b: &[u8]) {
    if let Some(s) = Status::from_body(&text(b)) {
        let _ = s.one_line();
    }
}

fn prjconf(b: &[u8]) {
    let t = text(b);
    // the first byte picks the arch, so every arch's conditionals are reached
    let arches = [
        "x86_64", "aarch64", "i586", "armv7l", "ppc64le", "s390x", "riscv64",
    ];
    let arch = arches[usize::from(b.first().copied().unwrap_or(0)) % arches.len()];
    let c = Prjconf::parse_with(
        &t,
        arch,
        &[("_project", "home:fuzz"), ("_repository", "standard")],
    );
    let _ = (
        c.build_type(),
        c.binary_type(),
        c.has_expandflag("preinstallexpand"),
    );
    for list in [
        &c.preinstall,
        &c.required,
        &c.support,
        &c.runscripts,
        &c.keep,
        &c.vminstall,
    ] {
        let mut seen = std::collections::HashSet::new();
        assert!(
            list.iter().all(|p| seen.insert(p)),
            "unify left a duplicate"
        );
    }
}

/// An environment with the variables osc reads, so that `resolve` takes every branch.
fn osc_env(b: &[u8]) -> std::collections::BTreeMap<String, String> {
    let mut e = std::collections::BTreeMap::new();
    let pick = b.last().copied().unwrap_or(0);
    if pick & 1 != 0 {
        e.insert("OSC_PASSWORD".to_string(), "pw".to_string());
    }
    if pick & 2 != 0 {
        e.insert("OSC_HOST_OBS_USERNAME".to_string(), "u".to_string());
    }
    if pick & 4 != 0 {
        e.insert("OSC_APIURL".to_string(), "obs".to_string());
    }
    e
}

fn oscrc_target(b: &[u8]) {
    if let Ok(rc) = oscrc::parse(&text(b), Path::new("/fuzz/oscrc")) {
        let env = osc_env(b);
        let _ = oscrc::resolve(Some(&rc), None, None, &env);
        for alias in rc.aliases().keys().take(3) {
            let _ = oscrc::resolve(Some(&rc), Some(alias), None, &env);
        }
    }
}

fn passx(b: &[u8]) {
    let _ = oscrc::decode_passx(&text(b));
}

/// A scratch directory for the targets that read files (one per thread).
fn scratch() -> PathBuf {
    thread_local! {
        static DIR: tempfile::TempDir = {
            let base = if Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" };
            tempfile::Builder::new().prefix("archbuild-fuzz").tempdir_in(base).unwrap()
        };
    }
    DIR.with(|d| d.path().to_path_buf())
}

fn osc_store(b: &[u8]) {
    let dir = scratch().join("checkout");
    let store = dir.join(".osc");
    std::fs::create_dir_all(&store).unwrap();
    // the input is both files, split at the first NUL
    let (project, apiurl) = match b.iter().position(|&c| c == 0) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    std::fs::write(store.join("_project"), project).unwrap();
    match apiurl {
        Some(a) => std::fs::write(store.join("_apiurl"), a).unwrap(),
        None => {
            let _ = std::fs::remove_file(store.join("_apiurl"));
        }
    }
    if let Some(c) = archbuild::obs::checkout::read(&dir) {
        assert!(!c.project.is_empty());
    }
}

fn binfmt_line(b: &[u8]) {
    if let Ok(e) = Entry::parse(&text(b)) {
        let line = e.register_line();
        let _ = Entry::parse(&line);
        for a in archbuild::arch::ARCHES {
            let _ = e.matches_header(&archbuild::binfmt::sample_header(a));
        }
    }
}

fn binfmt_live(b: &[u8]) {
    if let Ok(live) = LiveEntry::parse("fuzz-entry", &text(b)) {
        let table = [live];
        for a in archbuild::arch::ARCHES {
            let _ = archbuild::binfmt::winner(&table, a);
        }
        let _ = archbuild::binfmt::usability(&table[0]);
    }
}

/// `ARCHBUILD_STATE_DIR` for the state target: set once, before the first use.
pub fn state_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        let d = tempfile::Builder::new()
            .prefix("archbuild-fuzz-state")
            .tempdir_in(base)
            .unwrap()
            .keep();
        std::env::set_var("ARCHBUILD_STATE_DIR", &d);
        std::fs::create_dir_all(d.join("containers")).unwrap();
        d
    })
    .clone()
}

fn state_record(b: &[u8]) {
    let dir = state_dir().join("containers");
    let name = format!("fuzz{:?}", std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "");
    std::fs::write(dir.join(format!("{name}.json")), b).unwrap();
    if let Ok(Some(r)) = archbuild::state::load(&name) {
        assert_eq!(r.name.is_empty(), r.name.is_empty());
        let _ = serde_json::to_string(&r);
    }
    let _ = archbuild::state::list();
}

// ---- seeds ----

fn elf_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for (_, magic, _) in qemu_table() {
        let mut h = archbuild::binfmt::unescape(&magic).unwrap();
        h.resize(64, 0);
        out.push(h);
    }
    // real binaries of this host: the headers and program headers (first 4 KiB)
    for p in [
        "/bin/sh",
        "/usr/bin/env",
        "/usr/bin/qemu-aarch64-static",
        "/usr/bin/qemu-arm-static",
    ] {
        if let Ok(b) = std::fs::read(p) {
            out.push(b[..b.len().min(4096)].to_vec());
        }
    }
    out
}

fn oscrc_seeds() -> Vec<Vec<u8>> {
    let passx = oscrc::encode_passx("opensuse");
    vec![
        b"[general]\napiurl = https://api.opensuse.org\n\n[https://api.opensuse.org]\nuser = alice\npass = secret\naliases = obs, ibs-like\n\n[https://obs.example.test/]\nuser=bob\npassx = QlpoOTFBWSZTWeTSblkAAAGBgAIBygAgADDACGNEHxaYXckU4UJDk0m5ZA==\ncredentials_mgr_class=osc.credentials.ObfuscatedConfigFileCredentialsManager\naliases=ex\n".to_vec(),
        format!("# c\n[general]\n; c\nApiUrl: https://a.test\n[https://a.test]\nuser = u\npass = p\n  continued\npassx={passx}\nsshkey=id_ed25519\n").into_bytes(),
        b"[general]\napiurl=https://h.test\n[https://h.test]\nuser=u\ncredentials_mgr_class=osc.credentials.KeyringCredentialsManager:keyring.backends.SecretService.Keyring\n".to_vec(),
        b"[general]\napiurl=http://127.0.0.1:81\n[http://127.0.0.1:81]\nuser=alice\npass=opensuse\nallow_http=1\ncredentials_mgr_class=osc.credentials.TransientCredentialsManager\n".to_vec(),
    ]
}

fn binfmt_line_seeds() -> Vec<Vec<u8>> {
    qemu_table()
        .into_iter()
        .map(|(t, magic, mask)| {
            format!(":qemu-{t}:M::{magic}:{mask}:/usr/bin/qemu-{t}-static:FP\n").into_bytes()
        })
        .chain([
            b":py:E::py::/usr/bin/python3:\n".to_vec(),
            b"|x|M|2|\\x7fELF||/i|OCF".to_vec(),
        ])
        .collect()
}

fn binfmt_live_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = qemu_table()
        .into_iter()
        .map(|(t, magic, mask)| {
            let m = archbuild::binfmt::unescape(&magic).unwrap();
            let k = archbuild::binfmt::unescape(&mask).unwrap();
            format!(
                "enabled\ninterpreter /usr/bin/qemu-{t}-static\nflags: PF\noffset 0\nmagic {}\nmask {}\n",
                hex(&m),
                hex(&k)
            )
            .into_bytes()
        })
        .collect();
    out.push(b"disabled\ninterpreter /usr/bin/python3\nflags: \nextension .py\n".to_vec());
    // the live table of this host, read only
    if let Ok(entries) = std::fs::read_dir("/proc/sys/fs/binfmt_misc") {
        for e in entries.flatten() {
            let n = e.file_name();
            if n != "register" && n != "status" {
                if let Ok(b) = std::fs::read(e.path()) {
                    out.push(b);
                }
            }
        }
    }
    out
}

fn state_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"name":"aarch64","arch":"aarch64","location":"/var/lib/archbuild/roots/aarch64","binds":[{"source":"/srv/src","target":"/src"}],"emulator":"/usr/bin/qemu-aarch64-static","origin":"bootstrap"}"#.to_vec(),
        br#"{"name":"tw-arm","arch":"armv7l","location":"/srv/roots/tw-arm","origin":"existing"}"#.to_vec(),
    ]
}

fn build_log_seeds() -> Vec<Vec<u8>> {
    vec![
        b"[  70s] RPMLINT report:\n[  70s] ===============\n[  71s] hello.x86_64: W: no-manual-page-for-binary hello\n[  71s] 2 packages and 0 specfiles checked; 0 errors, 1 warnings.\n".to_vec(),
        b"RPMLINT report:\n===============\nhello.x86_64: E: no-binary\n= 3 packages and 0 specfiles checked; 1 errors, 2 warnings, 4 filtered, 1000 badness; has taken 0.7 s =\n".to_vec(),
        b"[ 80s] Running lintian\n[ 80s] + lintian -i hello_1.0-1_arm64.changes\n[ 81s] E: hello: binary-without-manpage usr/bin/hello\n[ 81s] W: hello source: no-debian-copyright\n[ 81s] N: text\n".to_vec(),
    ]
}

/// Every target with its seeds.
pub fn all() -> Vec<Target> {
    const XML: &[&str] = &[
        "<",
        ">",
        "</",
        "/>",
        "=\"",
        "\"",
        "'",
        "&amp;",
        "&lt;",
        "&#x41;",
        "&#1114112;",
        "&bogus;",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "<?xml version=\"1.0\"?>",
        "<!DOCTYPE x [<!ENTITY e \"v\">]>",
        "<project name=\"p\">",
        "</project>",
        "<repository name=\"r\">",
        "</repository>",
        "<path project=\"a\" repository=\"b\"/>",
        "<arch>",
        "</arch>",
        "<download arch=\"x86_64\" url=\"u\" repotype=\"deb\"/>",
        "<bdep name=\"n\" preinstall=\"1\"/>",
        "<buildinfo project=\"p\">",
        "</buildinfo>",
        "<error>",
        "</error>",
        "<status code=\"c\">",
        "<summary>",
        "</summary>",
        "</status>",
        "<configuration>",
        "<download_url>",
        "<schedulers>",
        "<remoteurl>",
        "xmlns:x=\"u\"",
        "x:",
        "\u{feff}",
        "\0",
        "\u{10ffff}",
    ];
    const PRJCONF: &[&str] = &[
        "\n",
        "%",
        "%%",
        "%{",
        "}",
        "%{?",
        "%{!?",
        ":",
        "%define ",
        "%global ",
        "%undefine ",
        "%if ",
        "%ifarch ",
        "%ifnarch ",
        "%ifos ",
        "%ifnos ",
        "%elif ",
        "%elifarch ",
        "%else",
        "%endif",
        "%{expand:",
        "%{sub ",
        "%{defined ",
        "%{undefined ",
        "%_target_cpu",
        "%ix86",
        "%arm",
        "%{mips}",
        "0%{?suse_version}",
        " >= ",
        " == ",
        " != ",
        " && ",
        " || ",
        "!",
        "-",
        "(",
        ")",
        "\"",
        "v\"",
        "9223372036854775807",
        "-9223372036854775808",
        " / ",
        " * ",
        " + ",
        "Macros:",
        ":Macros",
        "Preinstall: ",
        "Required: ",
        "Support: ",
        "!*",
        "Repotype: ",
        "Type: ",
        "Binarytype: ",
        "RepoURL: ",
        "ExpandFlags: ",
        "# ",
        "\r\n",
        "\t",
        "%(",
        "%[",
    ];
    const OSCRC: &[&str] = &[
        "\n",
        "[",
        "]",
        "[general]",
        "apiurl",
        " = ",
        ": ",
        "user",
        "pass",
        "passx",
        "aliases",
        "credentials_mgr_class",
        "osc.credentials.ObfuscatedConfigFileCredentialsManager",
        "sshkey",
        "  ",
        "\t",
        "#",
        ";",
        ",",
        "https://",
        "http://",
        "/",
    ];
    const BINFMT: &[&str] = &[
        ":",
        "M",
        "E",
        "\\x",
        "\\\\",
        "\\x7fELF",
        "\\xff",
        "FP",
        "OC",
        "F",
        "/usr/bin/qemu-aarch64-static",
        "\n",
        "enabled",
        "disabled",
        "interpreter ",
        "flags: ",
        "offset ",
        "magic ",
        "mask ",
        "extension ",
        "7f454c46",
        "ff",
        "é",
    ];
    const ELF: &[&str] = &[
        "\x7fELF",
        "\x01",
        "\x02",
        "\x03\0\0\0",
        "\0\0\0\0",
        "\u{ff}\u{ff}",
    ];
    const JSON: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "null",
        "true",
        "1e999",
        "\"name\"",
        "\"arch\"",
        "\"location\"",
        "\"binds\"",
        "\"origin\"",
        "\"emulator\"",
        "\\u0000",
        "\\ud800",
    ];
    const BUILD_LOG: &[&str] = &[
        "\n",
        "[  12s] ",
        "[",
        "s] ",
        "RPMLINT report:",
        "Running lintian",
        " packages and ",
        " specfiles checked; ",
        " errors, ",
        " warnings",
        " error",
        ",",
        "E: ",
        "W: ",
        ": ",
        "pkg.x86_64",
        "\u{1b}[",
        "\u{1b}",
        "m",
        "4294967296",
        "7",
        "é",
    ];
    const STORE: &[&str] = &[
        "home:alice",
        "\n",
        "\0",
        "https://api.example.test",
        " ",
        "\r",
    ];
    vec![
        Target { name: "elf", seeds: elf_seeds(), dictionary: ELF, run: elf },
        Target { name: "project-meta", seeds: documents("project_meta"), dictionary: XML, run: project_meta },
        Target { name: "buildinfo", seeds: documents("buildinfo"), dictionary: XML, run: buildinfo },
        Target { name: "configuration", seeds: documents("configuration"), dictionary: XML, run: configuration },
        Target {
            name: "status",
            seeds: [documents("status"), vec![b"<status code=\"unknown_project\">\n  <summary>Project not found: home:x</summary>\n</status>\n".to_vec()]].concat(),
            dictionary: XML,
            run: status,
        },
        Target { name: "prjconf", seeds: documents("prjconf"), dictionary: PRJCONF, run: prjconf },
        Target { name: "oscrc", seeds: oscrc_seeds(), dictionary: OSCRC, run: oscrc_target },
        Target {
            name: "oscrc-passx",
            seeds: vec![oscrc::encode_passx("opensuse").into_bytes(), oscrc::encode_passx(&"x".repeat(1000)).into_bytes()],
            dictionary: &["=", "QlpoOTFBWSZTW", "A", "/", "+"],
            run: passx,
        },
        Target {
            name: "osc-store",
            seeds: vec![b"home:alice\n\0https://api.example.test\n".to_vec(), b"openSUSE:Factory".to_vec()],
            dictionary: STORE,
            run: osc_store,
        },
        Target { name: "binfmt-line", seeds: binfmt_line_seeds(), dictionary: BINFMT, run: binfmt_line },
        Target { name: "binfmt-live", seeds: binfmt_live_seeds(), dictionary: BINFMT, run: binfmt_live },
        Target { name: "state-record", seeds: state_seeds(), dictionary: JSON, run: state_record },
        Target { name: "build-results", seeds: documents("result"), dictionary: XML, run: build_results },
        Target { name: "build-log", seeds: build_log_seeds(), dictionary: BUILD_LOG, run: build_log },
    ]
}

// ---- the mutator ----

/// xorshift64*: small, fast, and the same sequence for the same seed everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// In `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'\n', b'%', b'<', b'>', b'{', b'}', b'"', b'&', b':', b'\\',
];

/// Inputs are cut to this many bytes; the large seeds are mutated in windows.
pub const MAX_LEN: usize = 64 << 10;
/// A window of a large seed that one input starts from.
const WINDOW: usize = 4 << 10;

/// One input for `target`: a mutated seed (or window of one), or, now and then, one
/// made of dictionary words and random bytes only.
pub fn input(rng: &mut Rng, t: &Target) -> Vec<u8> {
    let mut data = if rng.chance(10) {
        generate(rng, t.dictionary)
    } else {
        let seed = &t.seeds[rng.below(t.seeds.len())];
        if seed.len() > WINDOW && !rng.chance(500) {
            let start = rng.below(seed.len() - WINDOW);
            // a window starting at a line, so the lines in it are whole
            let start = seed[..start]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |i| i + 1);
            seed[start..(start + WINDOW).min(seed.len())].to_vec()
        } else {
            seed.clone()
        }
    };
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        mutate(rng, &mut data, t);
    }
    data.truncate(MAX_LEN);
    data
}

fn generate(rng: &mut Rng, dictionary: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(64) {
        if rng.chance(4) {
            out.push(rng.next() as u8);
        } else {
            out.extend_from_slice(dictionary[rng.below(dictionary.len())].as_bytes());
        }
    }
    out
}

/// One mutation of `data` in place.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, t: &Target) {
    let len = data.len();
    match rng.below(10) {
        // flip a bit
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        // an interesting byte
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        // a random byte inserted
        2 => {
            let i = rng.below(len + 1);
            data.insert(i, rng.next() as u8);
        }
        // a range deleted
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(256));
            data.drain(i..i + n);
        }
        // a range copied elsewhere (repeats elements, nests structures)
        4 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(512));
            let chunk: Vec<u8> = data[i..i + n].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, chunk);
        }
        // cut off
        5 if len > 0 => data.truncate(rng.below(len)),
        // a piece of another seed spliced in
        6 => {
            let other = &t.seeds[rng.below(t.seeds.len())];
            if !other.is_empty() {
                let i = rng.below(other.len());
                let n = 1 + rng.below((other.len() - i).min(1024));
                let at = rng.below(len + 1);
                data.splice(at..at, other[i..i + n].iter().copied());
            }
        }
        // a word repeated many times (deep nesting, long runs)
        7 if rng.chance(8) => {
            let w = t.dictionary[rng.below(t.dictionary.len())].as_bytes();
            let times = 1 + rng.below(2000);
            let at = rng.below(len + 1);
            let run: Vec<u8> = w.iter().copied().cycle().take(w.len() * times).collect();
            data.splice(at..at, run);
        }
        // a few 32-bit values that are edges (lengths, offsets, counts)
        8 if len >= 4 => {
            let i = rng.below(len - 3);
            let v: u32 = [0, 1, 0x7fff_ffff, 0xffff_ffff, 0xffff, 64, 56][rng.below(7)];
            data[i..i + 4].copy_from_slice(&v.to_le_bytes());
        }
        // a dictionary word
        _ => {
            let w = t.dictionary[rng.below(t.dictionary.len())].as_bytes();
            let at = rng.below(len + 1);
            data.splice(at..at, w.iter().copied());
        }
    }
}

// ---- panics as values ----

/// Run `f` on `input`; Some(where and what) when it panicked. The panic message is
/// not printed (the caller reports), see [`quiet_panics`].
pub fn panics(f: fn(&[u8]), input: &[u8]) -> Option<String> {
    std::panic::catch_unwind(|| f(input)).err().map(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "unknown".into())
    })
}

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Install a panic hook that records `file:line: message` for [`panics`] instead of
/// printing it.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| {
                format!(
                    "{}:{}",
                    l.file().rsplit("/src/").next().unwrap_or(l.file()),
                    l.line()
                )
            })
            .unwrap_or_default();
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let msg: String = msg.chars().take(160).collect();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{at}\t{msg}")));
    }));
}
