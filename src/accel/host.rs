//! Where acceleration's parts are on the host: the handler binary, each arch's bundle,
//! each container's handler log. Checked, not made.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use serde::Serialize;

use super::decision::{self, Exec, Found, Inputs};
use super::manifest::{self, Identity, Manifest};
use crate::arch::Arch;
use crate::settings;

/// The bundle of `arch` on the host (`ARCHBUILD_ACCEL_BUNDLES`, default
/// `<state dir>/accel`, then `x86_64-for-<qemu target>`).
pub fn bundle_on_host(arch: &Arch) -> PathBuf {
    std::env::var_os("ARCHBUILD_ACCEL_BUNDLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| settings::state_dir().join("accel"))
        .join(format!("x86_64-for-{}", arch.qemu))
}

/// The directory on the host bound writable at the bundle's `log` in container `name`.
pub fn log_dir_on_host(name: &str) -> PathBuf {
    settings::state_dir().join("accel-logs").join(name)
}

/// Make the handler log of container `name`: the directory, and the file writable by
/// every user (the handler runs as whoever execs, e.g. abuild in a build chroot, and
/// appends one line per fallback; only root reads it back).
pub fn prepare_log(name: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = log_dir_on_host(name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let log = dir.join("handler.log");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|_| std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o622)))
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", log.display()))
}

/// The handler's file name, wherever it is installed.
pub const HANDLER_NAME: &str = "archbuild-accel";
/// Where packages install the handler (spec/archbuild.spec).
pub const INSTALLED_HANDLER: &str = "/usr/libexec/archbuild/archbuild-accel";

/// The handler: `ARCHBUILD_ACCEL_HANDLER`, else `archbuild-accel` beside this program,
/// else [`INSTALLED_HANDLER`].
pub fn handler_candidates() -> Vec<PathBuf> {
    if let Some(explicit) = std::env::var_os("ARCHBUILD_ACCEL_HANDLER") {
        return vec![PathBuf::from(explicit)];
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join(HANDLER_NAME));
    }
    candidates.push(PathBuf::from(INSTALLED_HANDLER));
    candidates
}

/// The handler, checked as an emulator is (root-owned, not writable by others, static).
pub fn find_handler() -> Result<PathBuf> {
    let candidates = handler_candidates();
    for candidate in &candidates {
        if candidate.exists() {
            return Ok(crate::emulator::verify(candidate)?.path);
        }
    }
    bail!(
        "the acceleration handler archbuild-accel is not installed (looked at {}): install the archbuild package, or build it with `accel-handler/build-static --release` and install it as root beside archbuild (or set ARCHBUILD_ACCEL_HANDLER), or start without --accel",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The handler file archbuild registers for `arch`: the handler with the arch's qemu
/// appended (`decision::embedded_trailer`), so that it can emulate in a root that has no
/// qemu of its own. Made (root's, 0755, by a rename) under `<state dir>/accel/` when
/// missing or different; the kernel keeps the registered file open (flag F), so an old
/// one stays valid until its entry goes.
pub fn registered_handler(arch: &Arch) -> Result<PathBuf> {
    let handler = find_handler()?;
    let emulator = crate::emulator::find(arch, None)?.path;
    let path = registered_handler_path(arch);
    combine(
        &handler,
        &emulator,
        arch,
        path.parent().unwrap_or(Path::new("/")),
    )
}

/// Where [`registered_handler`] puts the file for `arch`.
pub fn registered_handler_path(arch: &Arch) -> PathBuf {
    settings::state_dir()
        .join("accel")
        .join(format!("{HANDLER_NAME}-{}", arch.qemu))
}

/// [`registered_handler`]'s file in `dir`, from `handler` and `emulator`.
pub fn combine(handler: &Path, emulator: &Path, arch: &Arch, dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
    };
    let mut content = read(handler)?;
    let qemu = read(emulator)?;
    let trailer =
        super::decision::embedded_trailer(content.len() as u64, qemu.len() as u64, arch.qemu);
    content.extend(qemu);
    content.extend(trailer);
    let path = dir.join(format!("{HANDLER_NAME}-{}", arch.qemu));
    // the old file is read only when it can be the same (qemu is tens of MB)
    let same_length = std::fs::metadata(&path).is_ok_and(|m| m.len() == content.len() as u64);
    if same_length && std::fs::read(&path).is_ok_and(|old| old == content) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    // one partial file per process: two builds starting at once must not write into
    // (or rename) each other's half-written file
    let partial = dir.join(format!(
        ".{HANDLER_NAME}-{}.partial.{}",
        arch.qemu,
        std::process::id()
    ));
    std::fs::write(&partial, &content)
        .and_then(|()| std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)))
        .and_then(|()| std::fs::rename(&partial, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            anyhow::anyhow!("cannot write {}: {e}", path.display())
        })?;
    Ok(path)
}

/// The bundle of `arch` at `dir`, with its manifest read and checked.
pub fn check_bundle(dir: &Path, arch: &Arch) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "no acceleration bundle for {} at {} ({e}): make one, or start without --accel",
            arch.obs,
            dir.display()
        )
    })?;
    let manifest =
        manifest::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if manifest.target != arch.qemu {
        bail!(
            "{} is for {}, not {}: remake the bundle",
            path.display(),
            manifest.target,
            arch.qemu
        );
    }
    if !dir.join("log").is_dir() {
        bail!(
            "bundle {} has no log directory: `mkdir {}/log`",
            dir.display(),
            dir.display()
        );
    }
    Ok(manifest)
}

/// Is the binfmt interpreter `interpreter` archbuild's handler (`handler`, the one
/// [`find_handler`] found, or any `archbuild-accel` file: the handler itself or the
/// registered handler file with an arch's qemu, [`registered_handler`])?
pub fn is_handler(interpreter: &Path, handler: Option<&Path>) -> bool {
    handler == Some(interpreter) || crate::binfmt::policy::is_accel_handler(interpreter)
}

/// How far a bundle's manifest still fits a root: for each listed path, what the handler
/// would decide for an exec of it (without arguments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootMatch {
    pub tools: usize,
    /// Listed paths whose root file is still the one the tool was made for.
    pub matching: usize,
    /// The others, each with the handler's reason (changed, unreadable, wrong target).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differing: Vec<(String, String)>,
}

impl RootMatch {
    /// Every listed tool runs natively in this root (and there is at least one).
    pub fn complete(&self) -> bool {
        self.tools > 0 && self.matching == self.tools
    }
}

/// [`RootMatch`] of `manifest` for a root of qemu target `target` whose files have the
/// identities `identity_of` gives (pure: the handler's own decision).
pub fn root_match(
    manifest: &Manifest,
    target: &str,
    identity_of: &dyn Fn(&str) -> Result<Identity, String>,
) -> RootMatch {
    let found = Found::Manifest(manifest.clone());
    let mut matching = 0;
    let mut differing = Vec::new();
    for path in manifest.tools.keys() {
        let exec = decision::decide(&Inputs {
            path: Ok(path),
            target,
            manifest: &found,
            identity: &|| identity_of(path),
            enabled: true,
            args: &[],
            preload: None,
            perl_lib_env: None,
            xs_modules: &|_| Vec::new(),
        });
        match exec {
            Exec::Native { .. } => matching += 1,
            Exec::Emulate { why } => differing.push((path.clone(), why.to_string())),
        }
    }
    RootMatch {
        tools: manifest.tools.len(),
        matching,
        differing,
    }
}

/// [`root_match`] with the identities of the files of the root at `root` on the host.
pub fn root_match_on_host(root: &Path, manifest: &Manifest, target: &str) -> RootMatch {
    root_match(manifest, target, &|path| {
        Identity::of_file(&root.join(path.trim_start_matches('/'))).map_err(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accel::manifest::{Tool, Toolchain};

    fn tool(contents: &[u8]) -> Tool {
        Tool {
            native: "/emul/x86_64-for-aarch64/usr/bin/x".into(),
            args: vec![],
            replace: Default::default(),
            append: vec![],
            emulate_if: vec![],
            unless_followed_by: vec![],
            identity: Identity::of_bytes(contents),
            perl: None,
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            version: manifest::FORMAT_VERSION,
            target: "aarch64".into(),
            toolchain: Toolchain {
                distribution: "debian".into(),
                version: "14.2.0-19".into(),
                triplet: "aarch64-linux-gnu".into(),
            },
            tools: [
                ("/usr/bin/as".to_string(), tool(b"as")),
                ("/usr/bin/ld".to_string(), tool(b"ld")),
                ("/usr/lib/cc1".to_string(), tool(b"cc1")),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn the_handler_is_known_by_its_path_or_its_name() {
        let installed = Path::new(INSTALLED_HANDLER);
        assert!(is_handler(installed, Some(installed)));
        assert!(is_handler(installed, None));
        assert!(is_handler(Path::new("/opt/x"), Some(Path::new("/opt/x"))));
        assert!(!is_handler(
            Path::new("/usr/bin/qemu-aarch64-static"),
            Some(installed)
        ));
    }

    #[test]
    fn a_root_matches_where_the_handler_would_run_the_native_tool() {
        let m = manifest();
        let files = |path: &str| match path {
            "/usr/bin/as" => Ok(Identity::of_bytes(b"as")),
            "/usr/bin/ld" => Ok(Identity::of_bytes(b"ld, updated")),
            _ => Err("No such file or directory".to_string()),
        };
        let found = root_match(&m, "aarch64", &files);
        assert_eq!((found.tools, found.matching), (3, 1));
        assert!(!found.complete());
        assert_eq!(found.differing[0].0, "/usr/bin/ld");
        assert!(found.differing[0].1.contains("the root's file changed"));
        assert!(found.differing[1].1.contains("cannot be read"));

        let all = root_match(&m, "aarch64", &|p| {
            Ok(Identity::of_bytes(match p {
                "/usr/bin/as" => b"as",
                "/usr/bin/ld" => b"ld",
                _ => b"cc1",
            }))
        });
        assert!(all.complete() && all.differing.is_empty());
        // A manifest of another arch fits no file of this root.
        let other = root_match(&m, "arm", &|_| Ok(Identity::of_bytes(b"as")));
        assert_eq!(other.matching, 0);
        assert!(other.differing[0].1.contains("the manifest is for aarch64"));
        let empty = Manifest {
            tools: Default::default(),
            ..m
        };
        assert!(!root_match(&empty, "aarch64", &files).complete());
    }

    #[test]
    fn the_registered_handler_carries_the_emulator_and_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let (handler, qemu) = (dir.path().join("h"), dir.path().join("q"));
        std::fs::write(&handler, b"\x7fELF handler").unwrap();
        std::fs::write(&qemu, b"\x7fELF qemu-aarch64").unwrap();
        let arch = crate::arch::lookup("aarch64").unwrap();
        let out = dir.path().join("accel");
        let path = combine(&handler, &qemu, arch, &out).unwrap();
        assert_eq!(path, out.join("archbuild-accel-aarch64"));
        let bytes = std::fs::read(&path).unwrap();
        let len = bytes.len() as u64;
        let trailer = &bytes[bytes.len() - super::super::decision::EMBEDDED_TRAILER_LEN..];
        let (offset, size, target) =
            super::super::decision::parse_embedded_trailer(trailer, len).unwrap();
        assert_eq!(target, "aarch64");
        assert_eq!(
            &bytes[offset as usize..(offset + size) as usize],
            b"\x7fELF qemu-aarch64"
        );
        assert!(bytes.starts_with(b"\x7fELF handler"));
        // the same parts: the same file, not rewritten
        let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let first = inode(&path);
        combine(&handler, &qemu, arch, &out).unwrap();
        assert_eq!(inode(&path), first);
        assert!(crate::binfmt::policy::is_accel_handler(&path));
    }
}
