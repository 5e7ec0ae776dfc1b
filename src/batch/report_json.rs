//! `--report json=PATH`: the versioned JSON document of a batch, and its reader.
//!
//! ```json
//! {
//!   "format": "archbuild-batch-report",
//!   "version": 1,
//!   "archbuild": "0.1.0",
//!   "run": {"started_unix": 1764590000, "duration": 312.5, "jobs": 2,
//!           "command": ["archbuild", "batch", "-j", "2"]},
//!   "counts": {"succeeded": 3, "failed": 1, ..., "skipped": 0},
//!   "cells": [
//!     {"package": "hello", "flavor": "doc", "repository": "Debian_12", "arch": "s390x",
//!      "checkout": "/home/p/hello", "code": "failed", "rule": "...", "exit_status": 1,
//!      "duration": 65.4, "log": "/var/tmp/...", "artifacts": [],
//!      "rpmlint": {"errors": 0, "warnings": 2}, "lintian": null}
//!   ]
//! }
//! ```
//!
//! `counts` has every code of [`Code::ALL`], zeros included. `flavor` is left out for the
//! main package; `exit_status`, `duration`, `log`, `rpmlint` and `lintian` are `null`
//! when unknown. A reader must refuse another `format` and a higher `version`; fields may
//! be added within a version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};

use super::outcome::{CellOutcome, Code};

pub const FORMAT: &str = "archbuild-batch-report";
pub const VERSION: u32 = 1;

/// The batch run as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// When the batch started, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Seconds the whole batch took.
    pub duration: f64,
    /// Builds run at once (`-j`).
    pub jobs: usize,
    /// archbuild's command line.
    pub command: Vec<String>,
}

/// The document as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub version: u32,
    /// The archbuild version that wrote the document.
    pub archbuild: String,
    pub run: RunInfo,
    /// Cells per code name.
    pub counts: BTreeMap<String, usize>,
    pub cells: Vec<CellOutcome>,
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// JSON holds only UTF-8: a path that is not is written with U+FFFD for its bad bytes.
fn lossy(p: &Path) -> PathBuf {
    PathBuf::from(p.to_string_lossy().into_owned())
}

/// The document for a batch's outcomes, pretty-printed, with a final newline.
pub fn render(info: &RunInfo, outcomes: &[CellOutcome]) -> String {
    let counts = Code::ALL
        .iter()
        .map(|c| {
            (
                c.as_str().to_string(),
                outcomes.iter().filter(|o| o.code == *c).count(),
            )
        })
        .collect();
    let report = Report {
        format: FORMAT.to_string(),
        version: VERSION,
        archbuild: env!("CARGO_PKG_VERSION").to_string(),
        run: RunInfo {
            // JSON has no NaN: a duration that is not a number is written as 0
            duration: finite(info.duration),
            ..info.clone()
        },
        counts,
        cells: outcomes
            .iter()
            .map(|o| CellOutcome {
                duration: o.duration.filter(|d| d.is_finite()),
                checkout: lossy(&o.checkout),
                log: o.log.as_deref().map(lossy),
                artifacts: o.artifacts.iter().map(|a| lossy(a)).collect(),
                ..o.clone()
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&report)
        .expect("a report of strings, numbers and paths serializes");
    text.push('\n');
    text
}

/// Read a document written by [`render`]. The error is one line saying what is wrong
/// (the caller adds which file).
pub fn parse(text: &str) -> Result<Report> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        anyhow!("not a JSON document ({e}): the file is cut off or not an archbuild batch report; run the batch again with --report json=PATH")
    })?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        Some(other) => bail!(
            "a report of format '{other}', not '{FORMAT}': give the file archbuild batch --report json=PATH wrote"
        ),
        None => bail!(
            "no \"format\": \"{FORMAT}\" in the document: give the file archbuild batch --report json=PATH wrote"
        ),
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) if v > u64::from(VERSION) => bail!(
            "a batch report of version {v}, written by a newer archbuild; this archbuild {} reads version {VERSION}: use the newer archbuild",
            env!("CARGO_PKG_VERSION")
        ),
        Some(v) => bail!("a batch report of version {v}, which no archbuild wrote: write it again with this archbuild"),
        None => bail!("the batch report has no numeric \"version\": write it again with archbuild batch --report json=PATH"),
    }
    serde_json::from_value(value).map_err(|e| {
        anyhow!("the batch report is damaged ({e}): write it again with archbuild batch --report json=PATH")
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::batch::outcome::LintCounts;
    use crate::batch::results_table::tests::outcome;

    fn info() -> RunInfo {
        RunInfo {
            started_unix: 1_764_590_000,
            duration: 312.5,
            jobs: 2,
            command: vec!["archbuild".into(), "batch".into(), "-j".into(), "2".into()],
        }
    }

    fn outcomes() -> Vec<CellOutcome> {
        let mut v: Vec<CellOutcome> = Code::ALL
            .iter()
            .map(|c| outcome("hello", "Debian_12", c.as_str(), *c))
            .collect();
        v[0].artifacts = vec![PathBuf::from("/var/tmp/out/hello_1.0_arm64.deb")];
        v[0].lintian = Some(LintCounts {
            errors: 1,
            warnings: 2,
        });
        v[1] = outcome("hello:doc", "openSUSE_Tumbleweed", "aarch64", Code::Failed);
        v[1].rpmlint = Some(LintCounts {
            errors: 0,
            warnings: 3,
        });
        v[1].rule = "failed: \"quotes\", \\ and \u{1} and ünïcode".into();
        v
    }

    #[test]
    fn a_report_reads_back_as_written() {
        let text = render(&info(), &outcomes());
        let r = parse(&text).unwrap();
        assert_eq!(r.format, FORMAT);
        assert_eq!(r.version, VERSION);
        assert_eq!(r.archbuild, env!("CARGO_PKG_VERSION"));
        assert_eq!(r.run, info());
        assert_eq!(r.cells, outcomes());
        assert_eq!(r.counts.len(), Code::ALL.len());
        assert_eq!(r.counts["failed"], 1);
        assert_eq!(r.counts["succeeded"], 1);
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn the_records_carry_the_documented_fields() {
        let v: serde_json::Value = serde_json::from_str(&render(&info(), &outcomes())).unwrap();
        let cell = &v["cells"][1];
        for key in [
            "package",
            "flavor",
            "repository",
            "arch",
            "checkout",
            "code",
            "rule",
            "exit_status",
            "duration",
            "log",
            "artifacts",
            "rpmlint",
            "lintian",
        ] {
            assert!(cell.get(key).is_some(), "no {key} in {cell}");
        }
        assert_eq!(cell["package"], "hello");
        assert_eq!(cell["flavor"], "doc");
        assert_eq!(cell["code"], "failed");
        assert_eq!(cell["rpmlint"]["warnings"], 3);
        assert!(v["cells"][0].get("flavor").is_none());
        assert_eq!(v["cells"][4]["log"], serde_json::Value::Null);
        assert_eq!(v["run"]["jobs"], 2);
        assert_eq!(v["counts"]["skipped"], 1);
    }

    #[test]
    fn numbers_json_cannot_hold_are_written_as_none_or_zero() {
        let mut o = outcomes();
        o[0].duration = Some(f64::NAN);
        let mut i = info();
        i.duration = f64::INFINITY;
        let r = parse(&render(&i, &o)).unwrap();
        assert_eq!(r.cells[0].duration, None);
        assert_eq!(r.run.duration, 0.0);
    }

    #[test]
    fn paths_that_are_not_utf8_are_written_lossily() {
        use std::os::unix::ffi::OsStrExt;
        let bad = std::path::Path::new(std::ffi::OsStr::from_bytes(b"/home/p/h\xffllo"));
        let mut o = outcomes();
        o[0].checkout = bad.to_path_buf();
        o[0].log = Some(bad.join("build.log"));
        o[0].artifacts = vec![bad.join("a.rpm")];
        let r = parse(&render(&info(), &o)).unwrap();
        assert_eq!(r.cells[0].checkout, PathBuf::from("/home/p/h\u{fffd}llo"));
        assert_eq!(
            r.cells[0].log.as_deref(),
            Some(std::path::Path::new("/home/p/h\u{fffd}llo/build.log"))
        );
        assert_eq!(r.cells[0].artifacts.len(), 1);
    }

    #[test]
    fn bad_documents_get_one_line_errors() {
        let good: serde_json::Value = serde_json::from_str(&render(&info(), &outcomes())).unwrap();
        let with = |k: &str, v: serde_json::Value| {
            let mut d = good.clone();
            d[k] = v;
            d.to_string()
        };
        let cases = [
            ("".to_string(), "not a JSON document"),
            ("{\"format\": ".to_string(), "not a JSON document"),
            ("[1, 2]".to_string(), "no \"format\""),
            (with("format", "junit".into()), "format 'junit'"),
            (with("version", 2.into()), "newer archbuild"),
            (with("version", 0.into()), "version 0"),
            (with("version", "1".into()), "no numeric \"version\""),
            (with("cells", 7.into()), "damaged"),
            (with("run", serde_json::json!({"jobs": 1})), "damaged"),
        ];
        for (text, want) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let mut bad_code = good.clone();
        bad_code["cells"][0]["code"] = "green".into();
        let e = parse(&bad_code.to_string()).unwrap_err().to_string();
        assert!(e.contains("damaged") && e.contains("green"), "{e}");
    }
}
