//! `archbuild binfmt status|register|unregister|install [ARCH...]`

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::arch::{self, Arch, ARCHES};
use crate::binfmt::{self, Entry, Flags};
use crate::settings;

#[derive(Debug, clap::Args)]
pub struct Which {
    /// Architectures (default: every emulated arch that has an emulator installed)
    #[arg(value_parser = super::generate::ArchNames, hide_possible_values = true)]
    pub arches: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RegisterOptions {
    /// qemu-user emulator to register instead of the distribution's
    #[arg(long)]
    pub emulator: Option<PathBuf>,
    /// Flags, default FP. O passes an open file; C runs setuid foreign binaries with the
    /// emulator as root (a privilege escalation risk: only on explicit request)
    #[arg(long, default_value = "FP")]
    pub flags: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum BinfmtCommand {
    /// Which entry the kernel uses for each arch and whether it works in containers
    Status {
        #[command(flatten)]
        which: Which,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Register archbuild's entries (archbuild-<qemu-target>) now
    Register {
        #[command(flatten)]
        which: Which,
        #[command(flatten)]
        options: RegisterOptions,
    },
    /// Remove archbuild's entries
    Unregister {
        #[command(flatten)]
        which: Which,
        /// Also delete the /etc/binfmt.d files written by `install`
        #[arg(long)]
        persistent: bool,
    },
    /// Register now and write /etc/binfmt.d/archbuild-<qemu-target>.conf for every boot
    Install {
        #[command(flatten)]
        which: Which,
        #[command(flatten)]
        options: RegisterOptions,
    },
}

/// The arches named, or every emulated arch with an installed emulator. Arches sharing
/// a qemu target (armv6l/armv7l) appear once.
fn selected(which: &Which) -> Result<Vec<&'static Arch>> {
    let host = arch::host()?;
    let mut list: Vec<&'static Arch> = if which.arches.is_empty() {
        ARCHES
            .iter()
            .filter(|a| !a.is_native_on(host) && crate::emulator::probe(a).is_some())
            .collect()
    } else {
        which
            .arches
            .iter()
            .map(|n| arch::lookup(n))
            .collect::<Result<_>>()?
    };
    let mut seen = Vec::new();
    list.retain(|a| {
        let fresh = !seen.contains(&a.qemu);
        seen.push(a.qemu);
        fresh
    });
    for a in &list {
        if a.is_native_on(host) {
            bail!(
                "{} runs natively on this {} host and needs no binfmt entry",
                a.obs,
                host.obs
            );
        }
    }
    Ok(list)
}

fn flags(options: &RegisterOptions) -> Result<Flags> {
    let flags =
        Flags::parse(&options.flags).map_err(|e| crate::error::usage(format!("--flags: {e}")))?;
    if flags.credentials {
        eprintln!(
            "archbuild: warning: flag C makes setuid foreign binaries run the emulator as root; anyone who can put a setuid binary in a root gets root on this host"
        );
    }
    if !flags.fix_binary {
        eprintln!("archbuild: warning: without flag F the entry does not work inside containers");
    }
    Ok(flags)
}

fn entries(which: &Which, options: &RegisterOptions) -> Result<Vec<Entry>> {
    let flags = flags(options)?;
    selected(which)?
        .into_iter()
        .map(|a| {
            let emulator = crate::emulator::find(a, options.emulator.as_deref())?;
            Ok(Entry::for_arch(a, &emulator.path, flags))
        })
        .collect()
}

pub fn run(cmd: BinfmtCommand) -> Result<()> {
    match cmd {
        BinfmtCommand::Status { which, json } => status(&which, json),
        BinfmtCommand::Register { which, options } => {
            super::require_root("archbuild binfmt register")?;
            let _table = crate::locks::binfmt()?;
            for entry in entries(&which, &options)? {
                binfmt::register(&entry)?;
                println!("registered {}: {}", entry.name, entry.register_line());
            }
            Ok(())
        }
        BinfmtCommand::Install { which, options } => {
            super::require_root("archbuild binfmt install")?;
            let _table = crate::locks::binfmt()?;
            let dir = settings::binfmt_d_dir();
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for entry in entries(&which, &options)? {
                let file = dir.join(format!("{}.conf", entry.name));
                std::fs::write(&file, binfmt::binfmt_d_text(&entry))
                    .with_context(|| format!("cannot write {}", file.display()))?;
                binfmt::register(&entry)?;
                println!("installed {} ({})", entry.name, file.display());
            }
            Ok(())
        }
        BinfmtCommand::Unregister { which, persistent } => {
            super::require_root("archbuild binfmt unregister")?;
            let _table = crate::locks::binfmt()?;
            let arches: Vec<&Arch> = if which.arches.is_empty() {
                let mut all: Vec<&Arch> = ARCHES.iter().collect();
                all.dedup_by_key(|a| a.qemu);
                all
            } else {
                selected(&which)?
            };
            for a in arches {
                let name = format!("{}{}", settings::binfmt_prefix(), a.qemu);
                if binfmt::remove(&name)? {
                    println!("removed {name}");
                }
                if persistent {
                    let file = settings::binfmt_d_dir().join(format!("{name}.conf"));
                    if file.exists() {
                        std::fs::remove_file(&file)
                            .with_context(|| format!("cannot remove {}", file.display()))?;
                        println!("removed {}", file.display());
                    }
                }
            }
            Ok(())
        }
    }
}

fn status(which: &Which, json: bool) -> Result<()> {
    let table = binfmt::read_table()?;
    let arches = if which.arches.is_empty() {
        let host = arch::host()?;
        ARCHES.iter().filter(|a| !a.is_native_on(host)).collect()
    } else {
        selected(which)?
    };
    let rows: Vec<serde_json::Value> = arches
        .iter()
        .map(|a| {
            let winner = binfmt::winner(&table, a);
            serde_json::json!({
                "arch": a.obs,
                "entry": winner.map(|w| w.entry.name.clone()),
                "interpreter": winner.map(|w| w.entry.interpreter.display().to_string()),
                "flags": winner.map(|w| w.entry.flags.to_string()),
                "usable": winner.map(|w| binfmt::usability(w) == binfmt::Usability::Works).unwrap_or(false),
                "verdict": winner.map(|w| binfmt::usability(w).to_string()).unwrap_or_else(|| "no entry".into()),
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for row in rows {
        println!(
            "{:<12} {:<24} {:<6} {}",
            row["arch"].as_str().unwrap_or(""),
            row["entry"].as_str().unwrap_or("none"),
            row["flags"].as_str().unwrap_or("-"),
            row["verdict"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
