//! Known containers: one JSON record per name under the state directory, so that
//! `archbuild start NAME` needs nothing but the name.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::settings;

/// An extra directory bound into a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// Path on the host.
    pub source: PathBuf,
    /// Path inside the container.
    pub target: PathBuf,
}

/// What archbuild remembers about a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    /// OBS arch name.
    pub arch: String,
    /// The root directory on the host.
    pub location: PathBuf,
    #[serde(default)]
    pub binds: Vec<Bind>,
    /// Emulator chosen explicitly with `--emulator`, if any.
    #[serde(default)]
    pub emulator: Option<PathBuf>,
    #[serde(default)]
    pub origin: Origin,
    /// Accelerated (`start --accel`): native tools from the arch's bundle where the
    /// root's manifest lists them.
    #[serde(default)]
    pub accel: bool,
}

/// How a container's root came to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `archbuild bootstrap` made it.
    Bootstrap,
    /// A root that was there before (`start --arch --location`).
    #[default]
    Existing,
}

fn record_path(name: &str) -> PathBuf {
    settings::containers_dir().join(format!("{name}.json"))
}

/// Store `record`, replacing an earlier one of the same name (written atomically).
pub fn save(record: &Record) -> Result<()> {
    crate::names::validate(&record.name)?;
    crate::atomic_file::write(
        &record_path(&record.name),
        &serde_json::to_vec_pretty(record)?,
    )
}

/// The record called `name`, if archbuild knows it.
pub fn load(name: &str) -> Result<Option<Record>> {
    crate::names::validate(name)?;
    let path = record_path(name);
    match fs::read(&path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "the record {} is damaged ({e}): fix it, or delete it and register the root again with `archbuild start --arch ARCH --location DIR --name {name}`",
                path.display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The record called `name`, or the one error for a name archbuild does not know
/// (exit status 1: the name is well-formed, there is just no such container).
pub fn require(name: &str) -> Result<Record> {
    load(name)?.ok_or_else(|| {
        anyhow::anyhow!(
            "no container called '{name}': `archbuild list` shows the known ones; create one with `archbuild bootstrap ARCH --name {name}` or `archbuild start --arch ARCH --location DIR --name {name}`"
        )
    })
}

/// Every known record, sorted by name; a damaged record is an error.
pub fn list() -> Result<Vec<Record>> {
    let (records, damaged) = list_readable()?;
    match damaged.into_iter().next() {
        Some(err) => Err(err),
        None => Ok(records),
    }
}

/// Every record that can be read, sorted by name, and the errors of those that cannot.
pub fn list_readable() -> Result<(Vec<Record>, Vec<anyhow::Error>)> {
    let dir = settings::containers_dir();
    let mut records = Vec::new();
    let mut damaged = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((records, damaged)),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            match load(&name) {
                Ok(Some(record)) => records.push(record),
                Ok(None) => {}
                Err(e) => damaged.push(e),
            }
        }
    }
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((records, damaged))
}

/// Forget the record called `name`.
pub fn forget(name: &str) -> Result<()> {
    let path = record_path(name);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_before_acceleration_load_as_not_accelerated() {
        let old = r#"{"name":"a","arch":"aarch64","location":"/r","binds":[],"emulator":null,"origin":"bootstrap"}"#;
        let record: Record = serde_json::from_str(old).unwrap();
        assert!(!record.accel);
        let again: Record = serde_json::from_str(
            &serde_json::to_string(&Record {
                accel: true,
                ..record
            })
            .unwrap(),
        )
        .unwrap();
        assert!(again.accel);
    }
}
