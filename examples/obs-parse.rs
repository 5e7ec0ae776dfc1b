//! Parse a project meta and a `_buildinfo` with archbuild's OBS document types, timed.
//! Used by `bench/obs-parse`, which runs osc's own parser on the same files.
//!
//! Usage: obs-parse META.xml BUILDINFO.xml [ROUNDS]
//! Prints one JSON object: best seconds per document (file read + parse) and counts,
//! so the caller can check both parsers saw the same content.

use std::time::Instant;

use archbuild::obs::buildinfo::BuildInfo;
use archbuild::obs::meta::ProjectMeta;

fn best<T>(rounds: u32, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("at least one round"))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        anyhow::bail!("usage: obs-parse META.xml BUILDINFO.xml [ROUNDS]");
    }
    let rounds: u32 = args
        .get(3)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(5)
        .max(1);
    let (meta_s, meta) = best(rounds, || -> anyhow::Result<ProjectMeta> {
        let text = std::fs::read_to_string(&args[1])?;
        ProjectMeta::parse(&text, "bench")
    });
    let meta = meta?;
    let (bi_s, bi) = best(rounds, || -> anyhow::Result<BuildInfo> {
        let text = std::fs::read_to_string(&args[2])?;
        BuildInfo::parse(&text, "bench")
    });
    let bi = bi?;
    let out = serde_json::json!({
        "meta_seconds": meta_s,
        "buildinfo_seconds": bi_s,
        "repositories": meta.repositories.len(),
        "paths": meta.repositories.iter().map(|r| r.paths.len()).sum::<usize>(),
        "arches": meta.repositories.iter().map(|r| r.arches.len()).sum::<usize>(),
        "bdeps": bi.bdeps.len(),
        "preinstall": bi.preinstalls().len(),
    });
    println!("{out}");
    Ok(())
}
