//! Where archbuild keeps things. Every location can be moved with an environment
//! variable so that tests can run beside a real installation without touching it.

use std::path::PathBuf;

fn from_env(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Records of known containers and default roots (`/var/lib/archbuild`).
pub fn state_dir() -> PathBuf {
    from_env("ARCHBUILD_STATE_DIR", "/var/lib/archbuild")
}

/// One JSON record per known container.
pub fn containers_dir() -> PathBuf {
    state_dir().join("containers")
}

/// Default location of bootstrapped roots.
pub fn roots_dir() -> PathBuf {
    state_dir().join("roots")
}

/// Namespace pins (`/run/build-container/<name>`), as in the article.
pub fn pin_dir() -> PathBuf {
    from_env("ARCHBUILD_PIN_DIR", "/run/build-container")
}

/// The binfmt_misc file system.
pub fn binfmt_misc_dir() -> PathBuf {
    from_env("ARCHBUILD_BINFMT_MISC", "/proc/sys/fs/binfmt_misc")
}

/// Where `binfmt install` writes entries that survive a reboot.
pub fn binfmt_d_dir() -> PathBuf {
    from_env("ARCHBUILD_BINFMT_D", "/etc/binfmt.d")
}

/// Prefix of archbuild's own binfmt entries (`archbuild-<qemu-target>`).
pub fn binfmt_prefix() -> String {
    std::env::var("ARCHBUILD_BINFMT_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "archbuild-".to_string())
}
