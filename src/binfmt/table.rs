//! The live table: read it, register entries (putting the previous one back when the
//! kernel refuses the new one), remove them. The I/O itself is `sys::binfmt_misc`.

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::entry::{validate_name, Entry, LiveEntry};
use crate::settings;
use crate::sys::binfmt_misc;

/// Make sure binfmt_misc is mounted and enabled.
pub fn ensure_mounted() -> Result<PathBuf> {
    binfmt_misc::ensure_mounted(&settings::binfmt_misc_dir())
}

/// Every entry in the kernel's table, newest first (the order the kernel matches in).
pub fn read_table() -> Result<Vec<LiveEntry>> {
    binfmt_misc::read_entries(&settings::binfmt_misc_dir())?
        .iter()
        .map(|(name, text)| LiveEntry::parse(name, text))
        .collect()
}

fn read_one(name: &str) -> Option<LiveEntry> {
    let text = std::fs::read_to_string(settings::binfmt_misc_dir().join(name)).ok()?;
    LiveEntry::parse(name, &text).ok()
}

/// Register `entry`, replacing an existing entry of the same name. When the kernel
/// refuses the new line, the previous entry is registered again, so the host is never
/// left with neither.
pub fn register(entry: &Entry) -> Result<()> {
    let dir = ensure_mounted()?;
    let line = entry.register_line();
    if line.len() > 1920 {
        bail!(
            "binfmt register line for '{}' is longer than the kernel's 1920 bytes: use a shorter emulator path",
            entry.name
        );
    }
    let previous = if binfmt_misc::exists(&dir, &entry.name) {
        let previous = read_one(&entry.name);
        remove(&entry.name)?;
        previous
    } else {
        None
    };
    let Err(refused) = binfmt_misc::write_register(&dir, &entry.name, &line) else {
        return Ok(());
    };
    let Some(previous) = previous else {
        return Err(refused);
    };
    let restored =
        binfmt_misc::write_register(&dir, &previous.entry.name, &previous.entry.register_line())
            .and_then(|()| {
                if previous.enabled {
                    Ok(true)
                } else {
                    binfmt_misc::control(&dir, &previous.entry.name, "0")
                }
            });
    match restored {
        Ok(_) => Err(refused.context(format!(
            "the previous entry '{}' ({}) is back in force",
            previous.entry.name,
            previous.entry.interpreter.display()
        ))),
        Err(e) => Err(refused.context(format!(
            "and the previous entry '{}' could not be put back ({e}): re-register it with `archbuild binfmt register`",
            previous.entry.name
        ))),
    }
}

/// Remove the entry called `name`; a missing entry is not an error.
pub fn remove(name: &str) -> Result<bool> {
    validate_name(name)?;
    binfmt_misc::control(&settings::binfmt_misc_dir(), name, "-1")
}
