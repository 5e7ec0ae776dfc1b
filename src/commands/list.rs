//! `archbuild list [--json]`: known containers and running pins.

use anyhow::Result;
use serde::Serialize;

use crate::{container, settings, state};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    name: String,
    arch: String,
    running: bool,
    /// Accelerated (`start --accel`, `bootstrap --accel`); None for a pin without a record.
    accel: Option<bool>,
    root: String,
}

/// The ACCEL column.
fn accel_word(accel: Option<bool>) -> &'static str {
    match accel {
        Some(true) => "on",
        Some(false) => "off",
        None => "?",
    }
}

pub fn run(args: Args) -> Result<()> {
    let (records, damaged) = state::list_readable()?;
    let mut rows: Vec<Row> = records
        .into_iter()
        .map(|r| Row {
            running: container::is_running(&r.name),
            name: r.name,
            arch: r.arch,
            accel: Some(r.accel),
            root: r.location.display().to_string(),
        })
        .collect();
    // Pins without a record (made by another installation or a removed record).
    if let Ok(pins) = std::fs::read_dir(settings::pin_dir()) {
        for pin in pins.flatten() {
            let name = pin.file_name().to_string_lossy().into_owned();
            if !rows.iter().any(|r| r.name == name) && container::is_running(&name) {
                rows.push(Row {
                    name,
                    arch: "?".into(),
                    running: true,
                    accel: None,
                    root: "?".into(),
                });
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return report_damaged(damaged);
    }
    if rows.is_empty() && damaged.is_empty() {
        println!("no containers; make one with `archbuild bootstrap ARCH`");
        return Ok(());
    }
    println!(
        "{:<20} {:<12} {:<8} {:<5} ROOT",
        "NAME", "ARCH", "STATE", "ACCEL"
    );
    for r in rows {
        println!(
            "{:<20} {:<12} {:<8} {:<5} {}",
            r.name,
            r.arch,
            if r.running { "running" } else { "stopped" },
            accel_word(r.accel),
            r.root
        );
    }
    report_damaged(damaged)
}

/// After the readable records are shown: one warning line per damaged record, and an
/// error naming the first.
fn report_damaged(damaged: Vec<anyhow::Error>) -> Result<()> {
    let count = damaged.len();
    let mut errors = damaged.into_iter();
    let Some(first) = errors.next() else {
        return Ok(());
    };
    for other in errors {
        eprintln!("archbuild: warning: {}", crate::error::one_line(&other));
    }
    Err(first.context(format!("{count} container record(s) cannot be read")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_accel_column_says_on_off_or_unknown() {
        assert_eq!(super::accel_word(Some(true)), "on");
        assert_eq!(super::accel_word(Some(false)), "off");
        assert_eq!(super::accel_word(None), "?");
    }
}
