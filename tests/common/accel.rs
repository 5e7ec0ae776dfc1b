//! What the accel tests share: the static handler, a binfmt entry of the test's own that
//! catches only marked binaries, and the undoing of mounts and entries however a test
//! ends.

use std::path::{Path, PathBuf};
use std::process::Command;

use archbuild::binfmt::{Entry, Flags, Matcher};

/// The static handler, built by accel-handler/build-static into its own target dir.
pub fn handler() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/accel-handler/build-static"
    ))
    .arg("--target-dir")
    .arg(target.join("accel-static"))
    .env("CARGO", env!("CARGO"))
    .output()
    .expect("run accel-handler/build-static");
    assert!(
        out.status.success(),
        "building the handler failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let info = archbuild::elf::read(&path).unwrap();
    assert!(!info.dynamic, "{} has a PT_INTERP", path.display());
    path
}

/// Removes the test's binfmt entry however the test ends.
pub struct Registered(pub String);

impl Drop for Registered {
    fn drop(&mut self) {
        let _ = std::fs::write(format!("/proc/sys/fs/binfmt_misc/{}", self.0), "-1");
    }
}

/// Unmounts the test's mounts (last first) before its directory is removed: declared
/// after the directory, it is dropped before it, however the test ends.
pub struct Mounted(pub Vec<PathBuf>);

impl Drop for Mounted {
    fn drop(&mut self) {
        for target in self.0.iter().rev() {
            let _ = Command::new("umount").arg(target).status();
        }
    }
}

/// Register `handler` (flags F and P) for aarch64 ELF files whose `e_ident` padding byte
/// 15 is `marker`: only the test's own marked binaries go through it.
pub fn register_marked(handler: &Path, name: &str, marker: u8) -> Registered {
    register_marked_for("aarch64", handler, name, marker)
}

/// [`register_marked`] for the ELF files of archbuild's arch `arch` (`armv7l`).
pub fn register_marked_for(arch: &str, handler: &Path, name: &str, marker: u8) -> Registered {
    let target = archbuild::arch::lookup(arch).unwrap();
    let flags = Flags {
        fix_binary: true,
        preserve_argv0: true,
        ..Flags::default()
    };
    let mut entry = Entry::for_arch(target, handler, flags)
        .renamed(&format!("{}{name}", super::unique_binfmt_prefix()));
    if let Matcher::Magic { magic, mask, .. } = &mut entry.matcher {
        magic[15] = marker;
        assert_eq!(mask.as_ref().unwrap()[15], 0xff);
    }
    std::fs::write("/proc/sys/fs/binfmt_misc/register", entry.register_line())
        .expect("register the test's binfmt entry");
    Registered(entry.name)
}

/// The Debian 13 arm64 root every accel test and bench bootstraps (one pristine copy in
/// the test cache serves them all): `archbuild bootstrap` arguments before any extra.
pub const TRIXIE_BOOTSTRAP: [&str; 8] = [
    "bootstrap",
    "aarch64",
    "--dist",
    "debian-13",
    "--name",
    "trixie",
    "--packages",
    "gcc,g++,libc6-dev,xz-utils,zstd",
];

/// A private archbuild whose bootstraps and bundles use the test cache's packages and
/// pristine roots (shared by the accel tests).
pub fn trixie_env() -> super::TestEnv {
    super::TestEnv::new()
        .with_env(
            "ARCHBUILD_CACHE_DIR",
            super::cache_dir().join("accel-archbuild-cache"),
        )
        .with_env(
            "ARCHBUILD_PACKAGE_CACHE",
            super::cache_dir().join("packages"),
        )
}

/// `archbuild bootstrap` of [`TRIXIE_BOOTSTRAP`] plus `extra` in `env`; returns stdout.
pub fn bootstrap_trixie(env: &super::TestEnv, extra: &[&str]) -> String {
    let mut args = TRIXIE_BOOTSTRAP.to_vec();
    args.extend_from_slice(extra);
    env.ok(&args)
}
