//! `bench/fuzz`'s engine: runs every parser of [`targets`] on generated and mutated
//! inputs (seeded from the real documents in tests/data, fixed RNG seed), catches panics
//! per input, times every input, and prints execs, panics and the slowest input per
//! parser; then times 1 MB prjconfs, realistic and hostile.
//!
//! Usage: fuzz [--execs N] [--jobs J] [--only NAME[,NAME]] [--seed S] [--out DIR]
//!        fuzz --prjconf FILE ARCH   (best of 5 reads of FILE: seconds and counts, JSON)
//! Exit status 1 when any input panicked; the inputs are written to DIR
//! (default target/fuzz-findings).

mod targets;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use archbuild::obs::prjconf::Prjconf;

struct Outcome {
    name: &'static str,
    execs: u64,
    seeds: usize,
    panics: u64,
    /// Distinct panic locations: how often, the first message and the first input's file.
    locations: BTreeMap<String, (u64, String, PathBuf)>,
    /// The slowest input as re-timed after the run (best of 3), so that a moment of a
    /// busy machine is not taken for a slow input.
    slowest: Duration,
    slowest_len: usize,
    slowest_file: PathBuf,
    /// The inputs that took longest the first time, with that time.
    candidates: Vec<(Duration, Vec<u8>)>,
    total: Duration,
}

fn fuzz(t: &targets::Target, execs: u64, seed: u64, out: &std::path::Path) -> Outcome {
    let mut rng = targets::Rng::new(seed ^ fnv(t.name));
    let mut o = Outcome {
        name: t.name,
        execs: 0,
        seeds: t.seeds.len(),
        panics: 0,
        locations: BTreeMap::new(),
        slowest: Duration::ZERO,
        slowest_len: 0,
        slowest_file: PathBuf::new(),
        candidates: Vec::new(),
        total: Duration::ZERO,
    };
    // every seed as it is first, then mutations
    let mut queue: Vec<Vec<u8>> = t.seeds.clone();
    for i in 0..execs {
        let input = queue.pop().unwrap_or_else(|| targets::input(&mut rng, t));
        let start = Instant::now();
        let panicked = targets::panics(t.run, &input);
        let took = start.elapsed();
        o.execs += 1;
        o.total += took;
        const KEEP: usize = 64;
        if o.candidates.len() < KEEP || took > o.candidates[KEEP - 1].0 {
            o.candidates.push((took, input.clone()));
            o.candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
            o.candidates.truncate(KEEP);
        }
        if let Some(what) = panicked {
            o.panics += 1;
            let n = o.locations.len();
            // one entry per location, with the first message seen there
            let at = what.split('\t').next().unwrap_or_default().to_string();
            let message = what.split('\t').nth(1).unwrap_or_default().to_string();
            let entry = o.locations.entry(at).or_insert_with(|| {
                let f = out.join(format!("{}-panic-{n}.bin", t.name));
                std::fs::write(&f, &input).unwrap();
                (0, message, f)
            });
            entry.0 += 1;
        }
        if i % 100_000 == 99_999 {
            eprintln!("  {}: {} execs, {} panics", t.name, i + 1, o.panics);
        }
    }
    for (_, input) in std::mem::take(&mut o.candidates) {
        let best = (0..3)
            .map(|_| {
                let start = Instant::now();
                let _ = targets::panics(t.run, &input);
                start.elapsed()
            })
            .min()
            .unwrap_or_default();
        if best >= o.slowest {
            o.slowest = best;
            o.slowest_len = input.len();
            o.slowest_file = out.join(format!("{}-slowest.bin", t.name));
            std::fs::write(&o.slowest_file, &input).unwrap();
        }
    }
    o
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// 1 MB prjconfs: the Tumbleweed one repeated, and inputs made to be slow.
fn prjconf_bench() -> Vec<(String, usize, Duration, String)> {
    const MB: usize = 1 << 20;
    let tw = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/obs/prjconf_tumbleweed.txt"),
    )
    .unwrap();
    let fill = |unit: &str| unit.repeat(MB / unit.len() + 1)[..MB].to_string();
    let mut doubling = String::from("%define a0 xxxxxxxxxxxxxxxx\n");
    for i in 1..64 {
        doubling.push_str(&format!("%define a{i} %a{}%a{}\n", i - 1, i - 1));
    }
    let doubling = doubling.clone() + &fill("Required: %a63\n")[..MB - doubling.len()];
    let names: String = (0..MB / 8).map(|i| format!("p{i} ")).collect::<String>();
    let removals: String = names
        .split(' ')
        .filter(|n| !n.is_empty())
        .map(|n| format!("!{n} "))
        .collect();
    let cases: Vec<(&str, String)> = vec![
        (
            "tumbleweed prjconf repeated to 1 MB",
            tw.repeat(MB / tw.len() + 1),
        ),
        ("1 MB line of '%{'", fill("%{")),
        ("1 MB line of '%?'", format!("%{}", fill("?"))),
        (
            "1 MB of nested %if/%endif",
            fill("%if 1\n") + &fill("%endif\n"),
        ),
        ("1 MB %if of '('", format!("%if {}", fill("("))),
        ("1 MB %if of '!'", format!("%if {}", fill("!"))),
        ("1 MB of doubling macros", doubling),
        (
            "1 MB of names, then each removed",
            format!("Required: {names}\nRequired: {removals}\n"),
        ),
        (
            "1 MB of %{expand:...} nesting",
            fill("%{expand:") + &fill("}"),
        ),
    ];
    cases
        .into_iter()
        .map(|(what, text)| {
            let start = Instant::now();
            let c = Prjconf::parse(&text, "aarch64");
            let took = start.elapsed();
            let summary = format!(
                "{} required, {} preinstall",
                c.required.len(),
                c.preinstall.len()
            );
            (what.to_string(), text.len(), took, summary)
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    if let Some(file) = opt("--prjconf") {
        let arch = args.last().cloned().unwrap_or_else(|| "aarch64".into());
        let text = std::fs::read_to_string(&file).expect("--prjconf FILE: readable text");
        let mut best = f64::MAX;
        let mut conf = Prjconf::default();
        for _ in 0..5 {
            let start = Instant::now();
            conf = Prjconf::parse(&text, &arch);
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!(
            "{}",
            serde_json::json!({"seconds": best, "bytes": text.len(), "required": conf.required.len(),
                "preinstall": conf.preinstall.len(), "support": conf.support.len()})
        );
        return;
    }
    let execs: u64 = opt("--execs").map_or(1_000_000, |v| v.parse().expect("--execs N"));
    let jobs: usize = opt("--jobs")
        .map_or(2, |v| v.parse().expect("--jobs J"))
        .max(1);
    let seed: u64 = opt("--seed").map_or(0x61726368, |v| v.parse().expect("--seed S"));
    let only: Option<Vec<String>> =
        opt("--only").map(|v| v.split(',').map(str::to_string).collect());
    let out = PathBuf::from(opt("--out").unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/fuzz-findings")
            .display()
            .to_string()
    }));
    std::fs::create_dir_all(&out).unwrap();
    targets::state_dir();
    targets::quiet_panics();

    let all: Vec<targets::Target> = targets::all()
        .into_iter()
        .filter(|t| only.as_ref().is_none_or(|o| o.iter().any(|n| n == t.name)))
        .collect();
    let names: Vec<&str> = all.iter().map(|t| t.name).collect();
    let work = Mutex::new(all.into_iter().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let Some(t) = work.lock().unwrap().pop() else {
                    break;
                };
                let o = fuzz(&t, execs, seed, &out);
                results.lock().unwrap().push(o);
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|o| names.iter().position(|n| *n == o.name));

    println!(
        "bench/fuzz: {execs} inputs per parser, seed {seed}, {jobs} jobs, {:.0} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<14} {:>9} {:>6} {:>7} {:>10} {:>12} {:>10}",
        "PARSER", "EXECS", "SEEDS", "PANICS", "EXECS/S", "SLOWEST µs", "ITS BYTES"
    );
    let mut failed = false;
    for o in &results {
        println!(
            "{:<14} {:>9} {:>6} {:>7} {:>10.0} {:>12.0} {:>10}",
            o.name,
            o.execs,
            o.seeds,
            o.panics,
            o.execs as f64 / o.total.as_secs_f64().max(1e-9),
            o.slowest.as_secs_f64() * 1e6,
            o.slowest_len
        );
        failed |= o.panics > 0;
    }
    for o in &results {
        for (at, (n, message, file)) in &o.locations {
            println!(
                "  PANIC {}: {n}x at {at}: {message} (first input: {})",
                o.name,
                file.display()
            );
        }
    }
    println!("slowest inputs are in {}", out.display());
    if only
        .as_ref()
        .is_none_or(|o| o.iter().any(|n| n == "prjconf"))
    {
        println!("prjconf, 1 MB inputs:");
        for (what, len, took, summary) in prjconf_bench() {
            println!(
                "  {:<40} {:>8} bytes {:>9.1} ms  ({summary})",
                what,
                len,
                took.as_secs_f64() * 1e3
            );
        }
    }
    if failed {
        std::process::exit(1);
    }
}
