//! The handler's decision at each exec, as a pure function: what binfmt_misc handed it
//! (with the P flag: interpreter, the binary's path, the original argv[0], the
//! arguments), the root's manifest and the identity of the root's file -> run a native
//! tool, or emulate (and say why). Shared with the handler binary (accel-handler/), so
//! this file uses nothing but std and `super::manifest`.

use std::ffi::{OsStr, OsString};

use super::manifest::{Identity, Manifest};

/// The environment variable that turns acceleration off (`0`, `no`, `off`, `false`).
pub const KILL_SWITCH: &str = "ARCHBUILD_ACCEL";
/// The environment variable that makes the handler report fallbacks on stderr when its
/// log is not writable.
pub const DEBUG: &str = "ARCHBUILD_ACCEL_DEBUG";

/// One exec as binfmt_misc (flags `P`) hands it to the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The path the binary was executed by (as given to execve: may be relative).
    pub binary: OsString,
    /// The original argv[0].
    pub argv0: OsString,
    pub args: Vec<OsString>,
}

/// Read the handler's argv: `[handler, binary, argv0, args...]`.
pub fn parse_argv(argv: &[OsString]) -> Result<Invocation, String> {
    match argv {
        [_handler, binary, argv0, args @ ..] => Ok(Invocation {
            binary: binary.clone(),
            argv0: argv0.clone(),
            args: args.to_vec(),
        }),
        _ => Err(
            "archbuild-accel runs as a binfmt_misc interpreter with the P flag (argv: handler, binary, argv0, arguments); it is not meant to be run directly"
                .to_string(),
        ),
    }
}

/// The qemu target of an ELF header (`e_ident` and `e_machine`), for the arches
/// archbuild emulates.
pub fn qemu_target(header: &[u8]) -> Option<&'static str> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    let class64 = header[4] == 2;
    let little = header[5] == 1;
    let machine = if little {
        u16::from_le_bytes([header[18], header[19]])
    } else {
        u16::from_be_bytes([header[18], header[19]])
    };
    Some(match (machine, class64, little) {
        (183, true, true) => "aarch64",
        (40, false, true) => "arm",
        (40, false, false) => "armeb",
        (21, true, true) => "ppc64le",
        (21, true, false) => "ppc64",
        (22, true, false) => "s390x",
        (243, true, true) => "riscv64",
        (243, false, true) => "riscv32",
        (258, true, true) => "loongarch64",
        (3, false, true) => "i386",
        (62, true, true) => "x86_64",
        _ => return None,
    })
}

/// Is acceleration on, given the kill switch's value?
pub fn enabled(kill_switch: Option<&OsStr>) -> bool {
    !matches!(
        kill_switch
            .and_then(OsStr::to_str)
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("0" | "no" | "off" | "false")
    )
}

/// The root's manifest as the handler found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No manifest: the root is not accelerated (emulate, nothing to log).
    Missing,
    Unusable(String),
    Manifest(Manifest),
}

/// Why the handler emulates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Disabled,
    NoManifest,
    NotListed,
    UnusableManifest(String),
    UnresolvedPath(String),
    WrongTarget {
        manifest: String,
        binary: String,
    },
    UnreadableFile(String),
    Mismatch {
        made_for: Identity,
        found: Identity,
    },
    /// An original argument the native tool cannot honour the same way.
    Argument(String),
    NativeFailed(String),
}

impl Why {
    /// A fallback (logged): acceleration was meant to happen and did not.
    pub fn is_fallback(&self) -> bool {
        !matches!(self, Why::Disabled | Why::NoManifest | Why::NotListed)
    }
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Disabled => write!(f, "acceleration is off ({KILL_SWITCH})"),
            Why::NoManifest => f.write_str("the root has no acceleration manifest"),
            Why::NotListed => f.write_str("not in the manifest"),
            Why::UnusableManifest(e) => write!(f, "unusable manifest: {e}"),
            Why::UnresolvedPath(e) => write!(f, "the binary's path does not resolve: {e}"),
            Why::WrongTarget { manifest, binary } => {
                write!(f, "the manifest is for {manifest}, the binary for {binary}")
            }
            Why::UnreadableFile(e) => write!(f, "the root's file cannot be read: {e}"),
            Why::Mismatch { made_for, found } => write!(
                f,
                "the root's file changed: the tool was made for {made_for}, found {found}"
            ),
            Why::NativeFailed(e) => write!(f, "the native tool could not be executed: {e}"),
            Why::Argument(a) => write!(f, "argument {a} is not reproduced by the native tool"),
        }
    }
}

/// What the handler executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exec {
    Native {
        program: String,
        /// Arguments before the original ones.
        args: Vec<String>,
        /// Original arguments replaced where they occur whole.
        replace: std::collections::BTreeMap<String, String>,
        /// Arguments after the original ones.
        append: Vec<String>,
    },
    Emulate {
        why: Why,
    },
}

/// The inputs of [`decide`].
pub struct Inputs<'a> {
    /// The binary's canonical path inside the root, or why it has none.
    pub path: Result<&'a str, String>,
    /// The qemu target of the binary.
    pub target: &'a str,
    pub manifest: &'a Found,
    /// The identity of the root's file; asked only when the path is listed.
    pub identity: &'a dyn Fn() -> Result<Identity, String>,
    /// The kill switch's verdict ([`enabled`]).
    pub enabled: bool,
    /// The original arguments (checked against the tool's `emulate_if`).
    pub args: &'a [OsString],
}

/// The first argument matched by the tool's `emulate_if` and not excused by
/// `unless_followed_by` (with the argument after it).
fn refused_argument(tool: &super::manifest::Tool, args: &[OsString]) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_string_lossy();
        if !tool.emulate_if.iter().any(|p| a.starts_with(p.as_str())) {
            return None;
        }
        let next = args.get(i + 1).map(|n| n.to_string_lossy());
        let excused = tool
            .unless_followed_by
            .iter()
            .any(|[arg, value]| *arg == a && next.as_deref() == Some(value.as_str()));
        (!excused).then(|| a.into_owned())
    })
}

/// Native tool or emulator for one exec.
pub fn decide(inputs: &Inputs) -> Exec {
    let emulate = |why| Exec::Emulate { why };
    if !inputs.enabled {
        return emulate(Why::Disabled);
    }
    let manifest = match inputs.manifest {
        Found::Missing => return emulate(Why::NoManifest),
        Found::Unusable(e) => return emulate(Why::UnusableManifest(e.clone())),
        Found::Manifest(m) => m,
    };
    if manifest.target != inputs.target {
        return emulate(Why::WrongTarget {
            manifest: manifest.target.clone(),
            binary: inputs.target.to_string(),
        });
    }
    let path = match &inputs.path {
        Ok(path) => *path,
        Err(e) => return emulate(Why::UnresolvedPath(e.clone())),
    };
    let Some(tool) = manifest.tools.get(path) else {
        return emulate(Why::NotListed);
    };
    if let Some(arg) = refused_argument(tool, inputs.args) {
        return emulate(Why::Argument(arg));
    }
    match (inputs.identity)() {
        Err(e) => emulate(Why::UnreadableFile(e)),
        Ok(found) if found != tool.identity => emulate(Why::Mismatch {
            made_for: tool.identity,
            found,
        }),
        Ok(_) => Exec::Native {
            program: tool.native.clone(),
            args: tool.args.clone(),
            replace: tool.replace.clone(),
            append: tool.append.clone(),
        },
    }
}

/// The emulator's argv, as archbuild's own entry would run it: qemu with argv[0]
/// preserved by `-0`.
pub fn emulator_argv(emulator: &str, inv: &Invocation) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![
        emulator.into(),
        "-0".into(),
        inv.argv0.clone(),
        inv.binary.clone(),
    ];
    argv.extend(inv.args.iter().cloned());
    argv
}

/// The native tool's argv: the original argv[0], the tool's own arguments, the rest
/// (each replaced when `replace` lists it whole), then `append`.
pub fn native_argv(
    args_before: &[String],
    replace: &std::collections::BTreeMap<String, String>,
    append: &[String],
    inv: &Invocation,
) -> Vec<OsString> {
    let mut argv = vec![inv.argv0.clone()];
    argv.extend(args_before.iter().map(OsString::from));
    argv.extend(inv.args.iter().map(|a| {
        a.to_str()
            .and_then(|a| replace.get(a))
            .map(OsString::from)
            .unwrap_or_else(|| a.clone())
    }));
    argv.extend(append.iter().map(OsString::from));
    argv
}

/// Where the handler looks for the emulator, in order: archbuild's read-only binding
/// inside every container, the one inside an accelerated build root (beside the
/// bundle), then the host's usual places (a chroot of the host).
pub fn emulator_candidates(target: &str) -> Vec<String> {
    vec![
        format!("/qemu-{target}"),
        format!("/emul/qemu-{target}"),
        format!("/usr/bin/qemu-{target}-static"),
        format!("/usr/bin/qemu-{target}"),
    ]
}

/// One line of the handler's log: `<unix time> <pid> hit|fallback <path> <detail>`.
pub fn log_line(unix_time: u64, pid: u32, path: &str, exec: &Exec) -> String {
    match exec {
        Exec::Native { program, .. } => format!("{unix_time} {pid} hit {path} {program}\n"),
        Exec::Emulate { why } => format!("{unix_time} {pid} fallback {path} {why}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::manifest::Tool;
    use super::*;
    use std::collections::BTreeMap;

    fn os(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    fn manifest() -> Manifest {
        let mut tools = BTreeMap::new();
        tools.insert(
            "/usr/bin/aarch64-linux-gnu-gcc-12".to_string(),
            Tool {
                native: "/emul/x86_64-for-aarch64/usr/bin/aarch64-linux-gnu-gcc-12".into(),
                args: vec!["--sysroot=/".into()],
                replace: BTreeMap::from([("/root/plugin.so".into(), "/emul/x/plugin.so".into())]),
                append: vec!["-isystem".into(), "/usr/include".into()],
                emulate_if: vec!["-nostdinc".into(), "-imultilib".into()],
                unless_followed_by: vec![["-imultilib".into(), ".".into()]],
                identity: Identity::of_bytes(b"gcc"),
            },
        );
        super::super::manifest::debian_aarch64(tools)
    }

    fn run(
        path: Result<&str, String>,
        found: &Found,
        identity: Result<Identity, String>,
        enabled: bool,
    ) -> Exec {
        decide(&Inputs {
            path,
            target: "aarch64",
            manifest: found,
            identity: &|| identity.clone(),
            enabled,
            args: &[],
        })
    }

    const GCC: &str = "/usr/bin/aarch64-linux-gnu-gcc-12";

    #[test]
    fn a_listed_path_with_the_right_identity_runs_the_native_tool() {
        let found = Found::Manifest(manifest());
        assert_eq!(
            run(Ok(GCC), &found, Ok(Identity::of_bytes(b"gcc")), true),
            Exec::Native {
                program: "/emul/x86_64-for-aarch64/usr/bin/aarch64-linux-gnu-gcc-12".into(),
                args: vec!["--sysroot=/".into()],
                replace: BTreeMap::from([("/root/plugin.so".into(), "/emul/x/plugin.so".into())]),
                append: vec!["-isystem".into(), "/usr/include".into()],
            }
        );
    }

    #[test]
    fn everything_else_emulates_and_only_real_fallbacks_are_logged() {
        let found = Found::Manifest(manifest());
        let right = || Ok(Identity::of_bytes(b"gcc"));
        let why = |e: Exec| match e {
            Exec::Emulate { why } => why,
            other => panic!("{other:?}"),
        };
        let off = why(run(Ok(GCC), &found, right(), false));
        assert_eq!(off, Why::Disabled);
        assert_eq!(
            why(run(Ok(GCC), &Found::Missing, right(), true)),
            Why::NoManifest
        );
        assert_eq!(
            why(run(Ok("/bin/ls"), &found, Err("unasked".into()), true)),
            Why::NotListed
        );
        let changed = why(run(Ok(GCC), &found, Ok(Identity::of_bytes(b"gcc 2")), true));
        assert!(matches!(changed, Why::Mismatch { .. }));
        assert!(changed.to_string().contains("the root's file changed"));
        let unreadable = why(run(Ok(GCC), &found, Err("EACCES".into()), true));
        assert_eq!(unreadable, Why::UnreadableFile("EACCES".into()));
        let bad = why(run(
            Ok(GCC),
            &Found::Unusable("version 2".into()),
            right(),
            true,
        ));
        assert!(bad.to_string().contains("version 2"));
        let unresolved = why(run(Err("ENOENT".into()), &found, right(), true));
        assert!(matches!(unresolved, Why::UnresolvedPath(_)));
        let mut other = manifest();
        other.target = "arm".into();
        let wrong = why(run(Ok(GCC), &Found::Manifest(other), right(), true));
        assert!(matches!(wrong, Why::WrongTarget { .. }));
        let nostdinc = decide(&Inputs {
            path: Ok(GCC),
            target: "aarch64",
            manifest: &found,
            identity: &right,
            enabled: true,
            args: &os(&["-c", "-nostdinc++", "x.cc"]),
        });
        assert_eq!(
            why(nostdinc).to_string(),
            "argument -nostdinc++ is not reproduced by the native tool"
        );
        let with = |args: &[&str]| {
            decide(&Inputs {
                path: Ok(GCC),
                target: "aarch64",
                manifest: &found,
                identity: &right,
                enabled: true,
                args: &os(args),
            })
        };
        assert!(matches!(
            with(&["-imultilib", ".", "x.c"]),
            Exec::Native { .. }
        ));
        assert_eq!(
            why(with(&["-imultilib", "64", "x.c"])),
            Why::Argument("-imultilib".into())
        );
        assert_eq!(
            why(with(&["x.c", "-imultilib"])),
            Why::Argument("-imultilib".into())
        );
        for quiet in [Why::Disabled, Why::NoManifest, Why::NotListed] {
            assert!(!quiet.is_fallback(), "{quiet}");
        }
        for loud in [changed, unreadable, bad, unresolved, wrong] {
            assert!(loud.is_fallback(), "{loud}");
        }
    }

    #[test]
    fn argv_with_the_p_flag_and_the_commands_built_from_it() {
        let inv = parse_argv(&os(&[
            "/usr/libexec/archbuild-accel",
            "/usr/bin/cc",
            "cc",
            "-c",
            "x.c",
        ]))
        .unwrap();
        assert_eq!(inv.binary, "/usr/bin/cc");
        assert_eq!(inv.argv0, "cc");
        assert_eq!(inv.args, os(&["-c", "x.c"]));
        assert_eq!(
            emulator_argv("/qemu-aarch64", &inv),
            os(&["/qemu-aarch64", "-0", "cc", "/usr/bin/cc", "-c", "x.c"])
        );
        assert_eq!(
            native_argv(&["--sysroot=/".into()], &BTreeMap::new(), &[], &inv),
            os(&["cc", "--sysroot=/", "-c", "x.c"])
        );
        let replace = BTreeMap::from([("x.c".to_string(), "y.c".to_string())]);
        let plugin =
            parse_argv(&os(&["h", "/usr/bin/ld", "ld", "-plugin", "x.c", "x.c=1"])).unwrap();
        assert_eq!(
            native_argv(&[], &replace, &["-z".into()], &plugin),
            os(&["ld", "-plugin", "y.c", "x.c=1", "-z"]),
            "whole arguments only"
        );
        // No arguments at all, and too short an argv.
        let bare = parse_argv(&os(&["h", "/bin/true", "true"])).unwrap();
        assert!(bare.args.is_empty());
        assert!(parse_argv(&os(&["h", "/bin/true"]))
            .unwrap_err()
            .contains("P flag"));
        assert_eq!(emulator_candidates("arm")[..2], ["/qemu-arm", "/emul/qemu-arm"]);
    }

    #[test]
    fn the_kill_switch_and_the_log_line() {
        assert!(enabled(None));
        assert!(enabled(Some(OsStr::new("1"))));
        for off in ["0", "no", "OFF", "false"] {
            assert!(!enabled(Some(OsStr::new(off))), "{off}");
        }
        let line = log_line(
            5,
            7,
            GCC,
            &Exec::Emulate {
                why: Why::NativeFailed("ENOENT".into()),
            },
        );
        assert_eq!(
            line,
            format!("5 7 fallback {GCC} the native tool could not be executed: ENOENT\n")
        );
        assert!(log_line(
            5,
            7,
            GCC,
            &Exec::Native {
                program: "/emul/x".into(),
                args: vec![],
                replace: BTreeMap::new(),
                append: vec![],
            }
        )
        .starts_with("5 7 hit "));
    }

    #[test]
    fn qemu_targets_of_elf_headers() {
        let mut h =
            b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00".to_vec();
        assert_eq!(qemu_target(&h), Some("aarch64"));
        h[18] = 0x28;
        h[4] = 1;
        assert_eq!(qemu_target(&h), Some("arm"));
        assert_eq!(qemu_target(b"#!/bin/sh\n"), None);
        assert_eq!(qemu_target(&h[..10]), None);
    }
}
