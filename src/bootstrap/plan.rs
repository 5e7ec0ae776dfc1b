//! What a bootstrap will do, as plain data: printed by `obs plan` and `--dry-run`,
//! produced from built-in distributions or OBS metadata, executed by a backend.

use serde::{Deserialize, Serialize};

/// Which package manager makes the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// zypper with rpm-md repositories and an arch override.
    Zypper,
    /// mmdebstrap (or debootstrap) with a Debian-style archive.
    Debian,
}

/// One package repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// Short name (zypper alias; informational for Debian).
    pub name: String,
    /// rpm-md base URL, or a Debian mirror URL (`http://deb.debian.org/debian`).
    /// May also be a local directory path.
    pub url: String,
    /// Debian suite (`bookworm`); None for rpm-md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// Debian components (`main`); empty for rpm-md.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

/// Everything that decides a root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// OBS arch name.
    pub arch: String,
    pub backend: Backend,
    /// Where the plan came from: a built-in distribution name, "repo" or "obs:PRJ/REPO".
    pub source: String,
    pub repositories: Vec<Repository>,
    /// Packages to install on top of the backend's minimal set.
    pub packages: Vec<String>,
    /// The qemu-user emulator that will run the root's binaries (None when native).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<String>,
}
