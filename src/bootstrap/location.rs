//! What a root's location holds, and the only ways archbuild changes it: it writes its
//! state file there, and it empties a location that it bootstrapped itself, after
//! proving nothing is mounted below it, never crossing into another file system.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::plan::Plan;
use super::STATE_DIR_IN_ROOT;

/// Whether a root is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootState {
    /// While the backend runs, and after a failure or interruption.
    Incomplete,
    Complete,
}

/// archbuild's record inside a root it bootstraps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub state: RootState,
    pub plan: Plan,
    /// The program that made the root, or "pristine copy".
    pub tool: String,
    /// Seconds since the epoch.
    pub started: u64,
    #[serde(default)]
    pub finished: Option<u64>,
}

impl Marker {
    pub fn is_complete(&self) -> bool {
        self.state == RootState::Complete
    }
}

/// What a location holds.
#[derive(Debug)]
pub enum Found {
    Missing,
    Empty,
    /// A root archbuild bootstrapped (or began to).
    Ours(Marker),
    /// Anything else: refused, never touched.
    Foreign(String),
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn marker_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR_IN_ROOT).join("state.json")
}

pub fn write_marker(root: &Path, marker: &Marker) -> Result<()> {
    crate::atomic_file::write(&marker_path(root), &serde_json::to_vec_pretty(marker)?)
}

/// Look at `root` without changing anything.
pub fn inspect(root: &Path) -> Result<Found> {
    let meta = match std::fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(e).with_context(|| format!("cannot look at {}", root.display())),
    };
    if !meta.is_dir() {
        return Ok(Found::Foreign("it is not a directory".into()));
    }
    let mut entries =
        std::fs::read_dir(root).with_context(|| format!("cannot read {}", root.display()))?;
    if entries.next().is_none() {
        return Ok(Found::Empty);
    }
    let path = marker_path(root);
    match std::fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice::<Marker>(&bytes) {
            Ok(marker) => Ok(Found::Ours(marker)),
            Err(_) => Ok(Found::Foreign(format!("{} is damaged", path.display()))),
        },
        Err(_) => Ok(Found::Foreign(
            "it holds files archbuild did not put there".into(),
        )),
    }
}

/// Lazily unmount everything mounted below `root` (what a killed backend left).
pub fn unmount_under(root: &Path) -> Result<Vec<PathBuf>> {
    crate::sys::mounts::unmount_under(root)
}

/// Delete everything inside `root` (a root archbuild made), keeping `root` itself.
/// Refuses while anything is mounted below it; never crosses into another mount.
pub fn empty(root: &Path) -> Result<()> {
    crate::safe_delete::empty_dir(root).map(|_| ()).with_context(|| {
        format!(
            "cannot empty {} to start over: stop the container (`archbuild stop`) or unmount what is mounted there",
            root.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_below_root_deepest_first() {
        let mounts_under_in = |text: &str, root: &Path| {
            crate::mountinfo::mount_points_below(&crate::mountinfo::parse(text), root)
        };
        let info = "\
22 1 8:1 / / rw - ext4 /dev/vda rw
30 22 0:5 / /srv/r/proc rw - proc proc rw
31 22 0:6 / /srv/r/dev rw - devtmpfs udev rw
32 31 0:7 / /srv/r/dev/pts rw - devpts devpts rw
33 22 0:8 / /srv/root2 rw - tmpfs t rw
34 22 0:9 / /srv/r\\040x/a rw - tmpfs t rw
35 22 0:9 / /srv/r rw - tmpfs t rw
";
        let m = mounts_under_in(info, Path::new("/srv/r"));
        assert_eq!(m[0], PathBuf::from("/srv/r/dev/pts"));
        assert_eq!(m.len(), 3);
        assert!(!m.contains(&PathBuf::from("/srv/root2")));
        let m = mounts_under_in(info, Path::new("/srv/r x"));
        assert_eq!(m, [PathBuf::from("/srv/r x/a")]);
    }

    #[test]
    fn locations_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("r");
        assert!(matches!(inspect(&root).unwrap(), Found::Missing));
        std::fs::create_dir(&root).unwrap();
        assert!(matches!(inspect(&root).unwrap(), Found::Empty));
        std::fs::write(root.join("precious"), "x").unwrap();
        assert!(matches!(inspect(&root).unwrap(), Found::Foreign(_)));
        let plan = Plan {
            arch: "aarch64".into(),
            backend: crate::bootstrap::plan::Backend::Debian,
            source: "debian-12".into(),
            repositories: vec![],
            packages: vec![],
            emulator: None,
        };
        let marker = Marker {
            state: RootState::Incomplete,
            plan,
            tool: "mmdebstrap".into(),
            started: 1,
            finished: None,
        };
        write_marker(&root, &marker).unwrap();
        match inspect(&root).unwrap() {
            Found::Ours(m) => assert_eq!(m, marker),
            other => panic!("{other:?}"),
        }
        empty(&root).unwrap();
        assert!(matches!(inspect(&root).unwrap(), Found::Empty));
    }
}
