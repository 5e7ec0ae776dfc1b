//! Find and verify qemu-user emulators. An emulator that binfmt_misc hands foreign
//! binaries to must be statically linked (inside a container there is no host loader),
//! owned by root and not writable by anyone else (it runs for every foreign process).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::arch::Arch;

/// A verified emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Emulator {
    /// The path as found (what binfmt entries name).
    pub path: PathBuf,
}

/// Where packagers' distributions put `qemu-<target>`, in the order archbuild looks.
pub fn candidates(arch: &Arch) -> Vec<PathBuf> {
    let t = arch.qemu;
    vec![
        // Debian 12 qemu-user-static, Fedora qemu-user-static
        PathBuf::from(format!("/usr/bin/qemu-{t}-static")),
        // openSUSE qemu-linux-user, Debian 13 qemu-user
        PathBuf::from(format!("/usr/bin/qemu-{t}")),
        PathBuf::from(format!("/usr/local/bin/qemu-{t}-static")),
        PathBuf::from(format!("/usr/local/bin/qemu-{t}")),
    ]
}

/// Check that `path` is usable as a binfmt interpreter for containers.
pub fn verify(path: &Path) -> Result<Emulator> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("emulator {} cannot be used", path.display()))?;
    if !meta.is_file() {
        bail!("emulator {} is not a regular file", path.display());
    }
    if meta.uid() != 0 {
        bail!(
            "emulator {} is owned by uid {}, not root: anyone owning it could run code in every container; `chown root {}`",
            path.display(),
            meta.uid(),
            path.display()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "emulator {} is writable by group or others (mode {:o}): `chmod go-w {}`",
            path.display(),
            meta.mode() & 0o7777,
            path.display()
        );
    }
    let info = crate::elf::read(path)?;
    if info.dynamic {
        bail!(
            "emulator {} is dynamically linked and cannot run inside a foreign root: install a static qemu-user (Debian/Ubuntu: qemu-user-static, openSUSE: qemu-linux-user) or pass --emulator",
            path.display()
        );
    }
    Ok(Emulator {
        path: path.to_path_buf(),
    })
}

/// Find the emulator for `arch`: `explicit` when given, else the first candidate that
/// exists. A candidate that exists but fails verification is an error, not skipped,
/// so the packager learns why their installed emulator is refused.
pub fn find(arch: &Arch, explicit: Option<&Path>) -> Result<Emulator> {
    if let Some(path) = explicit {
        return verify(path);
    }
    for candidate in candidates(arch) {
        if candidate.exists() {
            return verify(&candidate);
        }
    }
    bail!(
        "no qemu-user emulator for {} (looked for {}): install qemu-user-static (Debian/Ubuntu) or qemu-linux-user (openSUSE), or pass --emulator PATH",
        arch.obs,
        candidates(arch).iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )
}

/// What `archbuild arches` reports about emulators: the first existing candidate and
/// whether it is static, without failing.
pub fn probe(arch: &Arch) -> Option<(PathBuf, bool)> {
    candidates(arch).into_iter().find(|p| p.exists()).map(|p| {
        let is_static = crate::elf::read(&p).map(|i| !i.dynamic).unwrap_or(false);
        (p, is_static)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn dynamic_binary_is_refused() {
        let err = verify(Path::new("/bin/sh")).unwrap_err().to_string();
        assert!(err.contains("dynamically linked"), "{err}");
    }

    #[test]
    fn writable_emulator_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("qemu-fake");
        std::fs::copy("/bin/sh", &fake).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = verify(&fake).unwrap_err().to_string();
        if nix::unistd::geteuid().is_root() {
            assert!(err.contains("writable by group or others"), "{err}");
        } else {
            assert!(err.contains("not root"), "{err}");
        }
    }

    #[test]
    fn missing_emulator_names_the_fix() {
        let err = verify(Path::new("/nonexistent/qemu-x")).unwrap_err();
        assert!(format!("{err:#}").contains("No such file"), "{err:#}");
    }
}
