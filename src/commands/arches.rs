//! `archbuild arches [--json]`: the arch table with this host's emulators and binfmt state.

use anyhow::Result;
use serde::Serialize;

use crate::arch::{self, ARCHES};
use crate::binfmt;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct ArchRow {
    pub obs: &'static str,
    pub rpm: &'static str,
    pub deb: &'static str,
    pub qemu: &'static str,
    pub uname: &'static str,
    pub native: bool,
    pub linux32: bool,
    pub emulator: Option<String>,
    pub emulator_static: Option<bool>,
    /// The binfmt entry the kernel uses for this arch now.
    pub binfmt_entry: Option<String>,
    pub binfmt_flag_f: Option<bool>,
    pub binfmt_usable: Option<String>,
}

/// One row per arch, for this host now.
pub fn rows() -> Result<Vec<ArchRow>> {
    let host = arch::host()?;
    // Unreadable binfmt_misc (not mounted, not root) shows as "no entry".
    let table = binfmt::read_table().unwrap_or_default();
    Ok(ARCHES
        .iter()
        .map(|a| {
            let native = a.is_native_on(host);
            let probe = if native {
                None
            } else {
                crate::emulator::probe(a)
            };
            let winner = if native {
                None
            } else {
                binfmt::winner(&table, a)
            };
            ArchRow {
                obs: a.obs,
                rpm: a.rpm,
                deb: a.deb,
                qemu: a.qemu,
                uname: a.uname,
                native,
                linux32: a.needs_linux32_on(host),
                emulator: probe.as_ref().map(|(p, _)| p.display().to_string()),
                emulator_static: probe.as_ref().map(|(_, s)| *s),
                binfmt_entry: winner.map(|w| w.entry.name.clone()),
                binfmt_flag_f: winner.map(|w| w.entry.flags.fix_binary),
                binfmt_usable: winner.map(|w| binfmt::usability(w).to_string()),
            }
        })
        .collect())
}

pub fn run(args: Args) -> Result<()> {
    let rows = rows()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.obs.to_string(),
                r.rpm.to_string(),
                r.deb.to_string(),
                r.qemu.to_string(),
                if r.linux32 {
                    format!("{} (linux32)", r.uname)
                } else {
                    r.uname.to_string()
                },
                if r.native {
                    "native".to_string()
                } else {
                    r.emulator.clone().unwrap_or_else(|| "missing".into())
                },
                yes_no(r.emulator_static).to_string(),
                r.binfmt_entry
                    .clone()
                    .unwrap_or_else(|| if r.native { "-" } else { "none" }.to_string()),
                yes_no(r.binfmt_flag_f).to_string(),
            ]
        })
        .collect();
    println!(
        "{}",
        crate::text_table::render(
            &[
                "ARCH",
                "RPM",
                "DEB",
                "QEMU",
                "UNAME",
                "EMULATOR",
                "STATIC",
                "BINFMT ENTRY",
                "F"
            ],
            &cells
        )
    );
    Ok(())
}
