//! Reading `/proc/<pid>/mountinfo`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u64,
    pub parent: u64,
    /// Path of the mount point as seen from the reading process's root.
    pub mount_point: PathBuf,
    /// Optional fields such as `shared:1`, `master:2`.
    pub propagation: Vec<String>,
    pub fs_type: String,
    pub source: String,
}

impl MountEntry {
    pub fn is_shared(&self) -> bool {
        self.propagation.iter().any(|p| p.starts_with("shared:"))
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal `\NNN`. Paths are bytes,
/// not necessarily UTF-8.
fn unescape(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn unescape_path(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(unescape(field)))
}

/// Parse the text of a mountinfo file.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            if sep < 6 || fields.len() < sep + 3 {
                return None;
            }
            Some(MountEntry {
                id: fields[0].parse().ok()?,
                parent: fields[1].parse().ok()?,
                mount_point: unescape_path(fields[4]),
                propagation: fields[6..sep].iter().map(|s| s.to_string()).collect(),
                fs_type: fields[sep + 1].to_string(),
                source: String::from_utf8_lossy(&unescape(fields[sep + 2])).into_owned(),
            })
        })
        .collect()
}

/// The mounts of this process's namespace.
pub fn read_own() -> Result<Vec<MountEntry>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .context("cannot read /proc/self/mountinfo")?;
    Ok(parse(&text))
}

/// Mount points at or under `dir` (which must be canonical).
pub fn mounts_under<'a>(table: &'a [MountEntry], dir: &Path) -> Vec<&'a MountEntry> {
    table
        .iter()
        .filter(|m| m.mount_point.starts_with(dir))
        .collect()
}

/// Mount points strictly below `dir`, deepest first, each once: the order to unmount them.
pub fn mount_points_below(table: &[MountEntry], dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = mounts_under(table, dir)
        .into_iter()
        .map(|m| m.mount_point.clone())
        .filter(|p| p != dir)
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
        35 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw\n\
        40 22 0:40 / /run/build-container rw master:3 - tmpfs tmpfs rw\n\
        41 40 0:4 mnt:[4026532] /run/build-container/aarch64 rw - nsfs nsfs rw\n\
        42 22 8:1 /home /srv/my\\040root/home rw - ext4 /dev/sda1 rw\n";

    #[test]
    fn parses_fields_and_escapes() {
        let table = parse(SAMPLE);
        assert_eq!(table.len(), 5);
        assert!(table[0].is_shared());
        assert!(!table[2].is_shared());
        assert_eq!(table[3].fs_type, "nsfs");
        assert_eq!(table[4].mount_point, PathBuf::from("/srv/my root/home"));
        assert_eq!(mounts_under(&table, Path::new("/srv/my root")).len(), 1);
        assert_eq!(
            mounts_under(&table, Path::new("/run/build-container")).len(),
            2
        );
    }
}
