//! binfmt_misc I/O: mount it, read its entries, write register lines, remove and
//! disable entries. What the lines mean lives in `crate::binfmt`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

/// Make sure binfmt_misc is mounted at `dir` and enabled; mount it when `register` is
/// missing.
pub fn ensure_mounted(dir: &Path) -> Result<PathBuf> {
    if !dir.join("register").exists() {
        nix::mount::mount(
            Some("binfmt_misc"),
            dir,
            Some("binfmt_misc"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV | nix::mount::MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(|e| {
            anyhow!(
                "binfmt_misc is not available at {} ({e}): load it with `modprobe binfmt_misc` and mount it with `mount -t binfmt_misc binfmt_misc {}`",
                dir.display(),
                dir.display()
            )
        })?;
    }
    let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
    if status.trim() == "disabled" {
        bail!(
            "binfmt_misc is disabled: enable it with `echo 1 > {}`",
            dir.join("status").display()
        );
    }
    Ok(dir.to_path_buf())
}

/// Every entry file of the table as (name, text), in readdir order: newest first, the
/// order the kernel tries them in.
pub fn read_entries(dir: &Path) -> Result<Vec<(String, String)>> {
    let listing = fs::read_dir(dir).with_context(|| {
        format!(
            "cannot read {} (is binfmt_misc mounted? `archbuild doctor` checks)",
            dir.display()
        )
    })?;
    let mut entries = Vec::new();
    for dirent in listing {
        let dirent = dirent?;
        let name = dirent.file_name().to_string_lossy().into_owned();
        if name == "register" || name == "status" {
            continue;
        }
        // An entry may vanish between readdir and read (another tool removing it).
        if let Ok(text) = fs::read_to_string(dirent.path()) {
            entries.push((name, text));
        }
    }
    Ok(entries)
}

/// True when an entry called `name` exists.
pub fn exists(dir: &Path, name: &str) -> bool {
    dir.join(name).exists()
}

/// Write one register line; the kernel's refusal comes back as the error.
pub fn write_register(dir: &Path, name: &str, line: &str) -> Result<()> {
    let mut register = fs::OpenOptions::new()
        .write(true)
        .open(dir.join("register"))
        .with_context(|| format!("cannot open {}/register (are you root?)", dir.display()))?;
    register
        .write_all(line.as_bytes())
        .map_err(|e| anyhow!("the kernel refused binfmt entry '{name}' ({e}); line was: {line}"))
}

/// Write `-1` (remove), `0` (disable) or `1` (enable) to the entry `name`. Returns false
/// when there is no such entry.
pub fn control(dir: &Path, name: &str, word: &str) -> Result<bool> {
    let path = dir.join(name);
    match fs::write(&path, word) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(anyhow!(
            "cannot write '{word}' to binfmt entry {} ({e}); are you root?",
            path.display()
        )),
    }
}
