//! The acceleration manifest: which of a root's executables the handler replaces with a
//! native tool of the bundle, and the identity of the root's file each tool was made for.
//! A versioned JSON document; parse and format only. Shared with the handler binary
//! (accel-handler/), so this file uses nothing but std, serde and serde_json.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

/// The manifest format this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Bytes hashed at each end of a file for its identity.
pub const SAMPLE_BYTES: u64 = 64 * 1024;

/// Where the bundle of target `qemu_target` (qemu's name: aarch64, arm, ...) is, inside
/// every root: bound read-only, like `/qemu-<target>`.
pub fn bundle_dir(qemu_target: &str) -> String {
    format!("/emul/x86_64-for-{qemu_target}")
}

/// The manifest's path inside the root.
pub fn manifest_path(qemu_target: &str) -> String {
    format!("{}/manifest.json", bundle_dir(qemu_target))
}

/// The handler's log inside the root (a writable directory bound over the bundle's
/// `log`, when there is one).
pub fn log_path(qemu_target: &str) -> String {
    format!("{}/log/handler.log", bundle_dir(qemu_target))
}

/// The identity of a root's file: its size and FNV-1a 64 of its first and last
/// [`SAMPLE_BYTES`] (the whole file when smaller). Cheap enough to check at every exec
/// (two reads), and any package update of a compiler changes its build-id note near the
/// start and almost always its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub size: u64,
    #[serde(with = "hex_u64")]
    pub fnv1a64_head_tail: u64,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "size {} hash {:016x}", self.size, self.fnv1a64_head_tail)
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a64(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

impl Identity {
    /// The identity of the bytes `contents` (a whole file).
    pub fn of_bytes(contents: &[u8]) -> Identity {
        let size = contents.len() as u64;
        let hash = if size <= 2 * SAMPLE_BYTES {
            fnv1a64(FNV_OFFSET, contents)
        } else {
            let n = SAMPLE_BYTES as usize;
            let head = fnv1a64(FNV_OFFSET, &contents[..n]);
            fnv1a64(head, &contents[contents.len() - n..])
        };
        Identity {
            size,
            fnv1a64_head_tail: hash,
        }
    }

    /// The identity of an open file of `size` bytes (from its start, wherever the
    /// reader is), reading at most 2 * SAMPLE_BYTES.
    pub fn of_reader(mut file: impl Read + Seek, size: u64) -> std::io::Result<Identity> {
        file.seek(SeekFrom::Start(0))?;
        let hash = if size <= 2 * SAMPLE_BYTES {
            let mut all = Vec::with_capacity(size as usize);
            file.read_to_end(&mut all)?;
            if all.len() as u64 != size {
                return Err(std::io::Error::other("file changed size while being read"));
            }
            fnv1a64(FNV_OFFSET, &all)
        } else {
            let mut buf = vec![0; SAMPLE_BYTES as usize];
            file.read_exact(&mut buf)?;
            let head = fnv1a64(FNV_OFFSET, &buf);
            file.seek(SeekFrom::Start(size - SAMPLE_BYTES))?;
            file.read_exact(&mut buf)?;
            fnv1a64(head, &buf)
        };
        Ok(Identity {
            size,
            fnv1a64_head_tail: hash,
        })
    }

    /// The identity of the file at `path`.
    pub fn of_file(path: &std::path::Path) -> std::io::Result<Identity> {
        let file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        Identity::of_reader(file, size)
    }
}

mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() != 16 {
            return Err(serde::de::Error::custom(format!(
                "hash '{text}' is not 16 hex digits"
            )));
        }
        u64::from_str_radix(&text, 16)
            .map_err(|_| serde::de::Error::custom(format!("hash '{text}' is not hex")))
    }
}

/// The toolchain the bundle was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toolchain {
    /// `debian` or `opensuse`.
    pub distribution: String,
    /// The compiler version, as the root's package says it (e.g. `12.2.0-14`).
    pub version: String,
    /// The target triplet of the root's compiler (`aarch64-linux-gnu`).
    pub triplet: String,
}

/// The native tool run instead of one root path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// The native executable, an absolute path inside the root (under the bundle dir).
    pub native: String,
    /// Arguments put before the original ones (e.g. `--sysroot=/`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Arguments replaced where they occur whole (the root's aarch64 LTO plugin that the
    /// root's driver hands to `ld` -> the bundle's x86_64 one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replace: BTreeMap<String, String>,
    /// Arguments put after the original ones (the root compiler's header search list
    /// for a cross cc1: `-isystem` options keep their order after the build's own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub append: Vec<String>,
    /// Emulate when an original argument starts with one of these (options whose effect
    /// the native tool cannot reproduce, e.g. `-nostdinc` against an appended list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emulate_if: Vec<String>,
    /// Exceptions to `emulate_if`: an argument followed by this value is fine
    /// (`["-imultilib", "."]`: the default multilib directory changes nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unless_followed_by: Vec<[String; 2]>,
    /// The root's file this tool stands in for.
    pub identity: Identity,
    /// A native perl's check of the perl modules it could load (see [`PerlGuard`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perl: Option<PerlGuard>,
}

/// What a native perl needs checked at each exec: an x86_64 perl cannot load the root's
/// XS modules (foreign shared objects), and would fail in the middle of a script, too
/// late to fall back. So it runs only when every XS module (`auto/**/*.so`) under the
/// directories it could search has an amd64 twin in the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerlGuard {
    /// The root perl's `@INC`, in its order.
    pub lib_dirs: Vec<String>,
    /// The root paths of the XS modules (`<lib dir>/auto/.../X.so`) the bundle has an
    /// amd64 build of, of the root perl's own version.
    pub twins: std::collections::BTreeSet<String>,
}

/// The whole manifest of one bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    /// qemu's target name of the root's arch (`aarch64`, `arm`).
    pub target: String,
    pub toolchain: Toolchain,
    /// Keyed by the canonical absolute path of the root's executable.
    pub tools: BTreeMap<String, Tool>,
}

/// Read a manifest, refusing other format versions and relative or odd paths.
pub fn parse(text: &str) -> Result<Manifest, String> {
    #[derive(Deserialize)]
    struct Versioned {
        version: u32,
    }
    let versioned: Versioned =
        serde_json::from_str(text).map_err(|e| format!("manifest is not valid: {e}"))?;
    if versioned.version != FORMAT_VERSION {
        return Err(format!(
            "manifest format version {} is not supported (this archbuild reads version {FORMAT_VERSION}): remake the bundle",
            versioned.version
        ));
    }
    let manifest: Manifest =
        serde_json::from_str(text).map_err(|e| format!("manifest is not valid: {e}"))?;
    validate(&manifest)?;
    Ok(manifest)
}

fn clean_absolute(path: &str) -> bool {
    path.starts_with('/')
        && !path.contains('\0')
        && path[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Check what the types cannot: absolute, normalized paths; tools under the bundle dir.
pub fn validate(manifest: &Manifest) -> Result<(), String> {
    if manifest.version != FORMAT_VERSION {
        return Err(format!(
            "manifest format version {} is not {FORMAT_VERSION}",
            manifest.version
        ));
    }
    if manifest.target.is_empty() || manifest.target.contains('/') {
        return Err(format!(
            "manifest target '{}' is not a qemu target name",
            manifest.target
        ));
    }
    let bundle = format!("{}/", bundle_dir(&manifest.target));
    for (path, tool) in &manifest.tools {
        if !clean_absolute(path) {
            return Err(format!(
                "manifest path '{path}' is not a normalized absolute path"
            ));
        }
        if !clean_absolute(&tool.native) || !tool.native.starts_with(&bundle) {
            return Err(format!(
                "native tool '{}' for '{path}' is not a normalized path under {bundle}",
                tool.native
            ));
        }
    }
    Ok(())
}

/// The manifest as pretty JSON (what [`parse`] reads), ending in a newline.
pub fn format(manifest: &Manifest) -> String {
    let mut text = serde_json::to_string_pretty(manifest).expect("a manifest serializes");
    text.push('\n');
    text
}

/// A Debian 12 aarch64 manifest of `tools`, for tests.
#[cfg(test)]
pub fn debian_aarch64(tools: BTreeMap<String, Tool>) -> Manifest {
    Manifest {
        version: FORMAT_VERSION,
        target: "aarch64".into(),
        toolchain: Toolchain {
            distribution: "debian".into(),
            version: "12.2.0-14".into(),
            triplet: "aarch64-linux-gnu".into(),
        },
        tools,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut tools = BTreeMap::new();
        tools.insert(
            "/usr/lib/gcc/aarch64-linux-gnu/12/cc1".to_string(),
            Tool {
                native: "/emul/x86_64-for-aarch64/usr/lib/gcc-cross/aarch64-linux-gnu/12/cc1"
                    .into(),
                args: vec![],
                replace: BTreeMap::new(),
                append: vec![],
                emulate_if: vec![],
                unless_followed_by: vec![],
                identity: Identity::of_bytes(b"cc1"),
                perl: None,
            },
        );
        tools.insert(
            "/usr/bin/aarch64-linux-gnu-gcc-12".to_string(),
            Tool {
                native: "/emul/x86_64-for-aarch64/usr/bin/aarch64-linux-gnu-gcc-12".into(),
                args: vec!["--sysroot=/".into()],
                replace: BTreeMap::new(),
                append: vec![],
                emulate_if: vec![],
                unless_followed_by: vec![],
                identity: Identity {
                    size: 1_000_000,
                    fnv1a64_head_tail: 0x0123_4567_89ab_cdef,
                },
                perl: Some(PerlGuard {
                    lib_dirs: vec!["/usr/share/perl5".into()],
                    twins: ["/usr/share/perl5/auto/X/X.so".to_string()].into(),
                }),
            },
        );
        debian_aarch64(tools)
    }

    #[test]
    fn format_and_parse_round_trip() {
        let m = sample();
        let text = format(&m);
        assert!(text.contains("\"fnv1a64_head_tail\": \"0123456789abcdef\""));
        assert!(text.contains("\"version\": 1"));
        assert_eq!(parse(&text).unwrap(), m);
        // No args: the field is left out and reads back empty.
        assert_eq!(text.matches("\"args\"").count(), 1);
    }

    #[test]
    fn other_versions_and_bad_documents_are_refused_with_the_reason() {
        let text = format(&sample());
        let v2 = text.replacen("\"version\": 1", "\"version\": 2", 1);
        assert!(parse(&v2)
            .unwrap_err()
            .contains("version 2 is not supported"));
        assert!(parse("{").unwrap_err().contains("not valid"));
        assert!(parse("{\"version\": 1}").unwrap_err().contains("not valid"));
        let unknown = text.replacen("\"target\"", "\"extra\": 1, \"target\"", 1);
        assert!(parse(&unknown).is_err());
        let short_hash = text.replacen("0123456789abcdef", "0123", 1);
        assert!(parse(&short_hash).unwrap_err().contains("16 hex digits"));
        let relative = text.replacen("\"/usr/bin/aarch64", "\"usr/bin/aarch64", 1);
        assert!(parse(&relative).unwrap_err().contains("not a normalized"));
        let dotdot = text.replacen("/usr/lib/gcc/aarch64", "/usr/lib/../gcc/aarch64", 1);
        assert!(parse(&dotdot).unwrap_err().contains("not a normalized"));
        let outside = text.replacen(
            "/emul/x86_64-for-aarch64/usr/bin",
            "/usr/local/x86_64/usr/bin",
            1,
        );
        assert!(parse(&outside)
            .unwrap_err()
            .contains("under /emul/x86_64-for-aarch64/"));
    }

    #[test]
    fn identity_of_a_file_samples_head_and_tail_and_matches_of_bytes() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0usize, 1, 100, 2 * SAMPLE_BYTES as usize, 300_000] {
            let contents: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("f{size}"));
            std::fs::write(&path, &contents).unwrap();
            let id = Identity::of_file(&path).unwrap();
            assert_eq!(id, Identity::of_bytes(&contents), "size {size}");
            // A reader that has already been read from (the handler reads the header).
            let mut file = std::fs::File::open(&path).unwrap();
            let _ = file.read(&mut [0; 20]).unwrap();
            assert_eq!(Identity::of_reader(&file, size as u64).unwrap(), id);
            assert_eq!(id.size, size as u64);
        }
        // A change at either end or in the size changes the identity.
        let base: Vec<u8> = vec![1; 300_000];
        let mut head = base.clone();
        head[10] = 2;
        let mut tail = base.clone();
        tail[299_990] = 2;
        let longer = [base.as_slice(), &[1]].concat();
        let id = Identity::of_bytes(&base);
        for other in [&head, &tail, &longer] {
            assert_ne!(Identity::of_bytes(other), id);
        }
        // FNV-1a 64 reference value of "a".
        assert_eq!(
            Identity::of_bytes(b"a").fnv1a64_head_tail,
            0xaf63dc4c8601ec8c
        );
    }

    #[test]
    fn paths_inside_the_root() {
        assert_eq!(bundle_dir("aarch64"), "/emul/x86_64-for-aarch64");
        assert_eq!(manifest_path("arm"), "/emul/x86_64-for-arm/manifest.json");
        assert_eq!(log_path("arm"), "/emul/x86_64-for-arm/log/handler.log");
    }
}
