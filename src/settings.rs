//! Every `ARCHBUILD_*` setting, read here and nowhere else. Each location can be moved
//! so that tests can run beside a real installation without touching it.

use std::path::PathBuf;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn path_from_env(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// A numeric setting (`ARCHBUILD_OBS_TIMEOUT` and the like), when set and a number.
pub fn number(name: &str) -> Option<f64> {
    var(name).and_then(|v| v.parse().ok())
}

/// Records of known containers and default roots (`ARCHBUILD_STATE_DIR`, default
/// `/var/lib/archbuild`).
pub fn state_dir() -> PathBuf {
    path_from_env("ARCHBUILD_STATE_DIR", "/var/lib/archbuild")
}

/// One JSON record per known container.
pub fn containers_dir() -> PathBuf {
    state_dir().join("containers")
}

/// Default location of bootstrapped roots.
pub fn roots_dir() -> PathBuf {
    state_dir().join("roots")
}

/// Namespace pins (`ARCHBUILD_PIN_DIR`, default `/run/build-container`, as in the article).
pub fn pin_dir() -> PathBuf {
    path_from_env("ARCHBUILD_PIN_DIR", "/run/build-container")
}

/// The binfmt_misc file system (`ARCHBUILD_BINFMT_MISC`).
pub fn binfmt_misc_dir() -> PathBuf {
    path_from_env("ARCHBUILD_BINFMT_MISC", "/proc/sys/fs/binfmt_misc")
}

/// Where `binfmt install` writes entries that survive a reboot (`ARCHBUILD_BINFMT_D`).
pub fn binfmt_d_dir() -> PathBuf {
    path_from_env("ARCHBUILD_BINFMT_D", "/etc/binfmt.d")
}

/// Host-wide locks (`ARCHBUILD_LOCK_DIR`, default `/run/lock/archbuild`).
pub fn lock_dir() -> PathBuf {
    path_from_env("ARCHBUILD_LOCK_DIR", "/run/lock/archbuild")
}

/// Prefix of archbuild's own binfmt entries (`ARCHBUILD_BINFMT_PREFIX`, default
/// `archbuild-`, giving `archbuild-<qemu-target>`).
pub fn binfmt_prefix() -> String {
    var("ARCHBUILD_BINFMT_PREFIX").unwrap_or_else(|| "archbuild-".to_string())
}

/// `ARCHBUILD_BINFMT_OWN_ONLY=1`: always keep an entry of archbuild's own, even beside
/// another working one.
pub fn binfmt_own_only() -> bool {
    var("ARCHBUILD_BINFMT_OWN_ONLY").is_some_and(|v| v == "1")
}

/// `ARCHBUILD_PLAIN`: plain progress lines even on a terminal.
pub fn plain_progress() -> bool {
    std::env::var_os("ARCHBUILD_PLAIN").is_some()
}

/// Root of archbuild's caches (`ARCHBUILD_CACHE_DIR`, default `/var/cache/archbuild`).
pub fn cache_dir() -> PathBuf {
    path_from_env("ARCHBUILD_CACHE_DIR", "/var/cache/archbuild")
}

/// Downloaded packages (`ARCHBUILD_PACKAGE_CACHE`, default `<cache>/packages`).
pub fn package_cache_dir() -> PathBuf {
    var("ARCHBUILD_PACKAGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("packages"))
}

/// Logs and history of batches (`ARCHBUILD_BATCH_DIR`; default per user, see
/// `batch::execute::batch_dir`).
pub fn batch_dir() -> Option<PathBuf> {
    var("ARCHBUILD_BATCH_DIR").map(PathBuf::from)
}

/// `ARCHBUILD_DEBIAN_TOOL`: force mmdebstrap or debootstrap.
pub fn debian_tool() -> Option<String> {
    var("ARCHBUILD_DEBIAN_TOOL")
}
