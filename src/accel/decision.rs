//! The handler's decision at each exec, as a pure function: what binfmt_misc handed it
//! (with the P flag: interpreter, the binary's path, the original argv[0], the
//! arguments), the root's manifest and the identity of the root's file -> run a native
//! tool, or emulate (and say why). Shared with the handler binary (accel-handler/), so
//! this file uses nothing but std and `super::manifest`.

use std::ffi::{OsStr, OsString};

use super::manifest::{Identity, Manifest, PerlGuard};

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
    /// `LD_PRELOAD` names the root's libraries (fakeroot): the native tool would run
    /// without them.
    Preload(String),
    NativeFailed(String),
    /// A native perl could load this XS module of the root's (a foreign shared object)
    /// that the bundle has no amd64 build of.
    ForeignPerlModule(String),
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
            Why::ForeignPerlModule(m) => write!(
                f,
                "perl could load {m}, an XS module the bundle has no amd64 build of"
            ),
            Why::Preload(p) => write!(
                f,
                "LD_PRELOAD={p} (the root's libraries) cannot be loaded by the native tool"
            ),
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
    /// `LD_PRELOAD` of the exec: a library of the root (fakeroot's, say) that no native
    /// tool can load, so the tool stays emulated.
    pub preload: Option<&'a OsStr>,
    /// `PERL5LIB` (or, when it is unset, `PERLLIB`) of the exec: directories a perl
    /// searches for modules before its own.
    pub perl_lib_env: Option<&'a OsStr>,
    /// The XS modules (`auto/**/*.so`) under the given module directories, as paths
    /// beginning with the directory as given; asked only for a tool with a
    /// [`PerlGuard`].
    pub xs_modules: &'a dyn Fn(&[String]) -> Vec<String>,
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
    if let Some(preload) = inputs.preload.filter(|p| !p.is_empty()) {
        return emulate(Why::Preload(preload.to_string_lossy().into_owned()));
    }
    match (inputs.identity)() {
        Err(e) => emulate(Why::UnreadableFile(e)),
        Ok(found) if found != tool.identity => emulate(Why::Mismatch {
            made_for: tool.identity,
            found,
        }),
        Ok(_) => {
            if let Some(guard) = &tool.perl {
                if let Some(why) = perl_refusal(guard, inputs) {
                    return emulate(why);
                }
            }
            native(tool)
        }
    }
}

fn native(tool: &super::manifest::Tool) -> Exec {
    Exec::Native {
        program: tool.native.clone(),
        args: tool.args.clone(),
        replace: tool.replace.clone(),
        append: tool.append.clone(),
    }
}

/// Why a native perl must not run this exec, or None: a switch that prints what is
/// compiled into the binary (`-v`, `-V`), `-Mblib` (the build's own XS modules), or an
/// XS module without a twin in any directory it could search: the `-I` directories,
/// the environment's, the build's `blib/arch`, and the root's `@INC`.
fn perl_refusal(guard: &PerlGuard, inputs: &Inputs) -> Option<Why> {
    let switches = perl_switches(inputs.args);
    if let Some(s) = &switches.refused {
        return Some(Why::Argument(s.clone()));
    }
    let mut dirs = switches.include_dirs;
    if let Some(env) = inputs.perl_lib_env {
        dirs.extend(
            env.to_string_lossy()
                .split(':')
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        );
    }
    dirs.push("blib/arch".to_string());
    dirs.extend(guard.lib_dirs.iter().cloned());
    (inputs.xs_modules)(&dirs)
        .into_iter()
        .find(|m| !guard.twins.contains(m))
        .map(Why::ForeignPerlModule)
}

/// What perl's own switches (before the script's name) ask for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PerlSwitches {
    /// `-I` directories, in order.
    pub include_dirs: Vec<String>,
    /// The first switch the native perl cannot honour the same way.
    pub refused: Option<String>,
}

/// Perl's switches of `args`, read as perl reads them: clusters of flags (`-wnl0`),
/// `-e`/`-E` and `-I` with their value attached or in the next argument, the other
/// value switches with it attached; the first argument that is not a switch (the
/// script) or `--` ends them.
pub fn perl_switches(args: &[OsString]) -> PerlSwitches {
    let mut out = PerlSwitches::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_string_lossy();
        i += 1;
        let Some(cluster) = arg.strip_prefix('-') else {
            break;
        };
        if cluster.is_empty() || cluster == "-" {
            break;
        }
        let flags = cluster
            .find(|c: char| !"acnpsStTuUwWXl0123456789".contains(c))
            .unwrap_or(cluster.len());
        let rest = &cluster[flags..];
        let mut chars = rest.chars();
        let value = |chars: &std::str::Chars, i: &mut usize| {
            let attached = chars.as_str();
            if attached.is_empty() {
                *i += 1;
                args.get(*i - 1).map(|a| a.to_string_lossy().into_owned())
            } else {
                Some(attached.to_string())
            }
        };
        match chars.next() {
            Some('v' | 'V') => {
                out.refused.get_or_insert_with(|| arg.to_string());
            }
            Some('e' | 'E') => {
                value(&chars, &mut i);
            }
            Some('I') => out.include_dirs.extend(value(&chars, &mut i)),
            Some('M' | 'm') => {
                let module = chars.as_str().trim_start_matches('-');
                if module == "blib" || module.starts_with("blib=") {
                    out.refused.get_or_insert_with(|| arg.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// The CPU model the handler asks qemu for, per qemu target (`-cpu`), measured by
/// bench/qemu-cpu. aarch64: qemu's default is `max` with the architected QARMA5
/// pointer authentication, which is expensive to emulate, and Debian's and openSUSE's
/// arm64 binaries sign and check the return address in nearly every function
/// (`-mbranch-protection=standard`); `pauth-impdef=on` keeps the same CPU (the same
/// HWCAPs, the PAC instructions work) with qemu's cheap implementation-defined
/// algorithm: a dash loop 8.2x, perl 5.7x, cc1 1.2x less CPU with qemu 7.2. No other
/// target gets one.
pub fn qemu_cpu_for(target: &str) -> Option<&'static str> {
    match target {
        "aarch64" => Some("max,pauth-impdef=on"),
        _ => None,
    }
}

/// The environment variable qemu-user reads its CPU model from. When it is set (to
/// anything), the user chose: the handler passes no `-cpu` (which would win over it).
pub const QEMU_CPU: &str = "QEMU_CPU";

/// The `-cpu` for one exec: the target's ([`qemu_cpu_for`]) unless `QEMU_CPU` is set.
pub fn qemu_cpu(target: &str, qemu_cpu_env: Option<&OsStr>) -> Option<&'static str> {
    match qemu_cpu_env {
        Some(_) => None,
        None => qemu_cpu_for(target),
    }
}

/// The emulator's argv, as archbuild's own entry would run it: qemu with argv[0]
/// preserved by `-0`, and the target's CPU model ([`qemu_cpu`]) when there is one.
pub fn emulator_argv(emulator: &str, cpu: Option<&str>, inv: &Invocation) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![emulator.into()];
    if let Some(cpu) = cpu {
        argv.extend(["-cpu".into(), cpu.into()]);
    }
    argv.extend(["-0".into(), inv.argv0.clone(), inv.binary.clone()]);
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

/// The handler file archbuild registers carries the arch's qemu after the handler's own
/// ELF image, described by a trailer at its very end: [`EMBEDDED_MAGIC`], the qemu's
/// offset and size (little-endian u64), its qemu target (NUL-padded). In a root with no
/// qemu of its own (a chroot of another tool, a build root before archbuild's mounts) the
/// handler runs that copy, read through `/proc/self/exe`.
pub const EMBEDDED_MAGIC: &[u8; 16] = b"archbuild-qemu\0\0";
/// The trailer's size.
pub const EMBEDDED_TRAILER_LEN: usize = 64;

/// The trailer for a qemu of `target` at `offset`, `size` bytes long (archbuild writes
/// it; the handler only reads).
#[allow(dead_code)]
pub fn embedded_trailer(offset: u64, size: u64, target: &str) -> Vec<u8> {
    let mut trailer = EMBEDDED_MAGIC.to_vec();
    trailer.extend(offset.to_le_bytes());
    trailer.extend(size.to_le_bytes());
    let mut name = target.as_bytes().to_vec();
    name.resize(EMBEDDED_TRAILER_LEN - trailer.len(), 0);
    trailer.extend(name);
    trailer
}

/// Read a trailer (the last [`EMBEDDED_TRAILER_LEN`] bytes of a file of `file_len`
/// bytes): the qemu's offset, size and target, when it is one and fits in the file.
pub fn parse_embedded_trailer(trailer: &[u8], file_len: u64) -> Option<(u64, u64, String)> {
    if trailer.len() != EMBEDDED_TRAILER_LEN || &trailer[..16] != EMBEDDED_MAGIC {
        return None;
    }
    let word = |at: usize| u64::from_le_bytes(trailer[at..at + 8].try_into().expect("8 bytes"));
    let (offset, size) = (word(16), word(24));
    let name = trailer[32..].split(|b| *b == 0).next().unwrap_or_default();
    let end = offset.checked_add(size)?;
    (size > 0 && end + EMBEDDED_TRAILER_LEN as u64 == file_len)
        .then(|| Some((offset, size, String::from_utf8(name.to_vec()).ok()?)))
        .flatten()
}

/// One line of the handler's log: `<unix time> <pid> hit|fallback <path> <detail>`.
pub fn log_line(unix_time: u64, pid: u32, path: &str, exec: &Exec) -> String {
    match exec {
        Exec::Native { program, .. } => format!("{unix_time} {pid} hit {path} {program}\n"),
        Exec::Emulate { why } => format!("{unix_time} {pid} fallback {path} {why}\n"),
    }
}

/// The environment variable that turns the profile mode on (`1`, `yes`, `on`, `true`)
/// or off (`0`, `no`, `off`, `false`) whatever the switch file says.
pub const PROFILE: &str = "ARCHBUILD_ACCEL_PROFILE";

/// The profile mode's switch file inside the root: its existence turns the mode on. It
/// is in the bundle's writable log directory, which the host can reach
/// (`archbuild accel profile NAME on`), and which works where the environment does not
/// reach (obs-build starts the build with a clean environment).
pub fn profile_switch_path(qemu_target: &str) -> String {
    format!("{}/log/profile", super::manifest::bundle_dir(qemu_target))
}

/// Is the profile mode on, given [`PROFILE`]'s value and whether the switch file exists?
pub fn profiling(env: Option<&OsStr>, switch_file_exists: bool) -> bool {
    match env
        .and_then(OsStr::to_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("1" | "yes" | "on" | "true") => true,
        Some("0" | "no" | "off" | "false") => false,
        _ => switch_file_exists,
    }
}

/// How a profiled program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exit(i32),
    Signal(i32),
}

/// What the profile mode measured of one exec.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// `emulated` (qemu) or `native` (a tool of the bundle).
    pub native: bool,
    /// User + system CPU seconds of the program itself, without the processes it waited
    /// for (they have lines of their own); `None` when /proc could not tell.
    pub self_cpu: Option<f64>,
    /// User + system CPU seconds including the processes it waited for (`wait4`).
    pub cpu: f64,
    pub wall: f64,
    pub ended: Ended,
}

/// One line of the profile mode, in the handler's log:
/// `<unix time> <pid> emulated|native <path> self=<s>|self=- cpu=<s> wall=<s> exit=<n>|signal=<n>`
/// (the path may contain spaces: the four fields after it are read from the end).
pub fn profile_line(unix_time: u64, pid: u32, path: &str, m: &Measured) -> String {
    let kind = if m.native { "native" } else { "emulated" };
    let self_cpu = m
        .self_cpu
        .map(|s| format!("{s:.3}"))
        .unwrap_or_else(|| "-".into());
    let ended = match m.ended {
        Ended::Exit(code) => format!("exit={code}"),
        Ended::Signal(sig) => format!("signal={sig}"),
    };
    format!(
        "{unix_time} {pid} {kind} {path} self={self_cpu} cpu={:.3} wall={:.3} {ended}\n",
        m.cpu, m.wall
    )
}

/// The program's own CPU ticks and those of the children it waited for, from
/// `/proc/<pid>/stat` (fields 14+15 and 16+17, counted after the `)` that ends the
/// command name, which may contain spaces and parentheses).
pub fn proc_stat_ticks(stat: &str) -> Option<(u64, u64)> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some((field(14)? + field(15)?, field(16)? + field(17)?))
}

/// The exit status a profiled handler ends with when it cannot die of the program's
/// signal itself: the shell's convention.
pub fn exit_code(ended: Ended) -> i32 {
    match ended {
        Ended::Exit(code) => code,
        Ended::Signal(sig) => 128 + sig,
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
                perl: None,
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
            preload: None,
            perl_lib_env: None,
            xs_modules: &|_| Vec::new(),
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
            preload: None,
            perl_lib_env: None,
            xs_modules: &|_| Vec::new(),
        });
        assert_eq!(
            why(nostdinc).to_string(),
            "argument -nostdinc++ is not reproduced by the native tool"
        );
        // fakeroot's library (the root's) would not load into a native tool
        let preloaded = |preload: &str| {
            decide(&Inputs {
                path: Ok(GCC),
                target: "aarch64",
                manifest: &found,
                identity: &right,
                enabled: true,
                args: &os(&["-c", "x.c"]),
                preload: Some(OsStr::new(preload)),
                perl_lib_env: None,
                xs_modules: &|_| Vec::new(),
            })
        };
        let fakeroot = why(preloaded("libfakeroot-sysv.so"));
        assert!(matches!(fakeroot, Why::Preload(_)) && fakeroot.is_fallback());
        assert!(
            fakeroot
                .to_string()
                .contains("LD_PRELOAD=libfakeroot-sysv.so"),
            "{fakeroot}"
        );
        assert!(matches!(preloaded(""), Exec::Native { .. }));
        let with = |args: &[&str]| {
            decide(&Inputs {
                path: Ok(GCC),
                target: "aarch64",
                manifest: &found,
                identity: &right,
                enabled: true,
                args: &os(args),
                preload: None,
                perl_lib_env: None,
                xs_modules: &|_| Vec::new(),
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
            emulator_argv("/qemu-aarch64", None, &inv),
            os(&["/qemu-aarch64", "-0", "cc", "/usr/bin/cc", "-c", "x.c"])
        );
        assert_eq!(
            emulator_argv("/qemu-aarch64", Some("max,pauth-impdef=on"), &inv),
            os(&[
                "/qemu-aarch64",
                "-cpu",
                "max,pauth-impdef=on",
                "-0",
                "cc",
                "/usr/bin/cc",
                "-c",
                "x.c"
            ])
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
        assert_eq!(
            emulator_candidates("arm")[..2],
            ["/qemu-arm", "/emul/qemu-arm"]
        );
    }

    #[test]
    fn the_embedded_qemu_trailer_round_trips_and_refuses_what_does_not_fit() {
        let t = embedded_trailer(1000, 5000, "aarch64");
        assert_eq!(t.len(), EMBEDDED_TRAILER_LEN);
        assert_eq!(
            parse_embedded_trailer(&t, 6064),
            Some((1000, 5000, "aarch64".to_string()))
        );
        // the file must end right after it; garbage and a plain handler are no trailer
        assert_eq!(parse_embedded_trailer(&t, 6065), None);
        assert_eq!(
            parse_embedded_trailer(&embedded_trailer(u64::MAX, 2, "arm"), 64),
            None
        );
        assert_eq!(
            parse_embedded_trailer(&[0u8; EMBEDDED_TRAILER_LEN], 64),
            None
        );
        assert_eq!(parse_embedded_trailer(&t[1..], 6063), None);
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
    fn only_aarch64_gets_a_cpu_model_and_the_users_qemu_cpu_wins() {
        assert_eq!(qemu_cpu("aarch64", None), Some("max,pauth-impdef=on"));
        assert_eq!(qemu_cpu("aarch64", Some(OsStr::new("cortex-a57"))), None);
        assert_eq!(qemu_cpu("aarch64", Some(OsStr::new(""))), None);
        // Every other target the handler knows: no -cpu, so nothing aarch64-only can
        // reach another arch's emulator (an armhf program run from an arm64 root).
        let mut h =
            b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00".to_vec();
        let mut others = std::collections::BTreeSet::new();
        for machine in 0..=u16::MAX {
            for (class, data) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
                h[4] = class;
                h[5] = data;
                let bytes = if data == 1 {
                    machine.to_le_bytes()
                } else {
                    machine.to_be_bytes()
                };
                h[18..20].copy_from_slice(&bytes);
                if let Some(target) = qemu_target(&h) {
                    if target != "aarch64" {
                        others.insert(target);
                    }
                }
            }
        }
        assert!(
            others.contains("arm") && others.contains("s390x"),
            "{others:?}"
        );
        for target in others {
            assert_eq!(qemu_cpu(target, None), None, "{target}");
        }
    }

    #[test]
    fn the_profile_switch_and_its_lines() {
        assert!(!profiling(None, false));
        assert!(profiling(None, true));
        assert!(profiling(Some(OsStr::new("1")), false));
        assert!(profiling(Some(OsStr::new("ON")), false));
        assert!(
            !profiling(Some(OsStr::new("0")), true),
            "the environment wins"
        );
        assert!(profiling(Some(OsStr::new("maybe")), true));
        assert_eq!(
            profile_switch_path("aarch64"),
            "/emul/x86_64-for-aarch64/log/profile"
        );
        let m = Measured {
            native: false,
            self_cpu: Some(1.23456),
            cpu: 2.0,
            wall: 2.5,
            ended: Ended::Exit(7),
        };
        assert_eq!(
            profile_line(5, 7, "/usr/bin/my perl", &m),
            "5 7 emulated /usr/bin/my perl self=1.235 cpu=2.000 wall=2.500 exit=7\n"
        );
        let killed = Measured {
            native: true,
            self_cpu: None,
            ended: Ended::Signal(15),
            ..m
        };
        assert_eq!(
            profile_line(5, 7, "/usr/bin/as", &killed),
            "5 7 native /usr/bin/as self=- cpu=2.000 wall=2.500 signal=15\n"
        );
        assert_eq!(exit_code(Ended::Exit(7)), 7);
        assert_eq!(exit_code(Ended::Signal(15)), 143);
    }

    #[test]
    fn cpu_ticks_of_proc_stat() {
        let stat = "4242 (qemu (a) b) Z 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 30 12 3 20 0 1 0 100 0 0 18446744073709551615";
        assert_eq!(proc_stat_ticks(stat), Some((280, 15)));
        assert_eq!(proc_stat_ticks("4242 (x) Z 1"), None);
        assert_eq!(proc_stat_ticks("garbage"), None);
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
    #[test]
    fn perls_switches_are_read_as_perl_reads_them() {
        let s = perl_switches(&os(&[
            "-w",
            "-I",
            "lib",
            "-Iblib/arch",
            "script.pl",
            "-v",
            "-I/x",
        ]));
        assert_eq!(s.include_dirs, ["lib", "blib/arch"]);
        assert_eq!(s.refused, None, "a script's own -v is not perl's");
        for version in ["-v", "-V", "-V:archname", "-wV", "-l0v"] {
            assert_eq!(
                perl_switches(&os(&[version])).refused.as_deref(),
                Some(version),
                "{version}"
            );
        }
        // code, a module argument and an in-place suffix are not switches
        assert_eq!(perl_switches(&os(&["-e", "-v"])).refused, None);
        assert_eq!(perl_switches(&os(&["-le", "-V"])).refused, None);
        assert_eq!(
            perl_switches(&os(&["-eprint 1", "-Mstrict", "-i.v", "-x"])).refused,
            None
        );
        assert_eq!(perl_switches(&os(&["--", "-v"])).refused, None);
        assert_eq!(perl_switches(&os(&["-", "-v"])).refused, None);
        assert_eq!(
            perl_switches(&os(&["-Mblib", "t/a.t"])).refused.as_deref(),
            Some("-Mblib")
        );
        assert_eq!(
            perl_switches(&os(&["-Mblib=../x"])).refused.as_deref(),
            Some("-Mblib=../x")
        );
        assert_eq!(perl_switches(&os(&["-Mblibx"])).refused, None);
    }

    #[test]
    fn a_native_perl_runs_only_when_every_xs_module_it_could_load_has_a_twin() {
        const PERL: &str = "/usr/bin/perl";
        let mut tools = BTreeMap::new();
        tools.insert(
            PERL.to_string(),
            Tool {
                native: "/emul/x86_64-for-aarch64/usr/bin/perl".into(),
                args: vec!["-I/emul/x86_64-for-aarch64/perl-boot".into()],
                replace: BTreeMap::new(),
                append: vec![],
                emulate_if: vec![],
                unless_followed_by: vec![],
                identity: Identity::of_bytes(b"perl"),
                perl: Some(super::super::manifest::PerlGuard {
                    lib_dirs: vec!["/usr/lib/perl-base".into(), "/usr/share/perl5".into()],
                    twins: ["/usr/lib/perl-base/auto/POSIX/POSIX.so".to_string()].into(),
                }),
            },
        );
        let found = Found::Manifest(super::super::manifest::debian_aarch64(tools));
        let searched = std::cell::RefCell::new(Vec::new());
        let decide_with = |args: &[&str], env: Option<&str>, modules: &[&str]| {
            let args = os(args);
            let env = env.map(OsString::from);
            let modules: Vec<String> = modules.iter().map(|m| m.to_string()).collect();
            decide(&Inputs {
                path: Ok(PERL),
                target: "aarch64",
                manifest: &found,
                identity: &|| Ok(Identity::of_bytes(b"perl")),
                enabled: true,
                args: &args,
                preload: None,
                perl_lib_env: env.as_deref(),
                xs_modules: &|dirs| {
                    *searched.borrow_mut() = dirs.to_vec();
                    modules
                        .iter()
                        .filter(|m| dirs.iter().any(|d| m.starts_with(&format!("{d}/"))))
                        .cloned()
                        .collect()
                },
            })
        };
        let twin = "/usr/lib/perl-base/auto/POSIX/POSIX.so";
        assert!(matches!(
            decide_with(&["-w", "/usr/bin/dpkg-source", "-b", "."], None, &[twin]),
            Exec::Native { .. }
        ));
        assert_eq!(
            *searched.borrow(),
            ["blib/arch", "/usr/lib/perl-base", "/usr/share/perl5"],
            "the build's blib/arch and the root's @INC"
        );
        let foreign = "/usr/lib/perl-base/auto/Foo/Foo.so";
        assert_eq!(
            decide_with(&["x.pl"], None, &[twin, foreign]),
            Exec::Emulate {
                why: Why::ForeignPerlModule(foreign.into())
            }
        );
        // -I and PERL5LIB directories are searched too
        let mine = "/build/lib/auto/Mine/Mine.so";
        assert!(matches!(
            decide_with(&["x.pl"], None, &[mine]),
            Exec::Native { .. }
        ));
        assert_eq!(
            decide_with(&["-I/build/lib", "x.pl"], None, &[mine]),
            Exec::Emulate {
                why: Why::ForeignPerlModule(mine.into())
            }
        );
        assert_eq!(
            decide_with(&["x.pl"], Some("/a::/build/lib"), &[mine]),
            Exec::Emulate {
                why: Why::ForeignPerlModule(mine.into())
            }
        );
        assert_eq!(
            *searched.borrow(),
            [
                "/a",
                "/build/lib",
                "blib/arch",
                "/usr/lib/perl-base",
                "/usr/share/perl5"
            ]
        );
        let build = "blib/arch/auto/Mine/Mine.so";
        assert_eq!(
            decide_with(&["t/a.t"], None, &[build]),
            Exec::Emulate {
                why: Why::ForeignPerlModule(build.into())
            }
        );
        let version = decide_with(&["-V:archname"], None, &[]);
        assert_eq!(
            version,
            Exec::Emulate {
                why: Why::Argument("-V:archname".into())
            }
        );
        if let Exec::Emulate { why } = version {
            assert!(why.is_fallback());
        }
        let why = Why::ForeignPerlModule(foreign.into()).to_string();
        assert!(why.contains(foreign) && !why.contains('\n'), "{why}");
    }
}
