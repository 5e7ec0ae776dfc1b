//! archbuild-accel: the binfmt_misc interpreter of accelerated roots (flags `FP`).
//! At each exec of a foreign binary it asks `decision::decide` whether the root's
//! manifest lists a native tool for it; then it execs that tool, or the arch's qemu as
//! archbuild's normal entry would. Every failure of the native path ends in qemu.
//!
//! The exec must be transparent: `no_main`, so Rust's start-up does not set SIGPIPE to
//! ignored, and a plain execv, so neither the signal mask nor any disposition is reset
//! (std's `Command` does both). The program it execs inherits them as it would from
//! the kernel's exec.
//!
//! In the profile mode (`decision::profiling`) it forks instead: the child execs the
//! same program with the same argv, mask and dispositions; the handler forwards the
//! signals sent to it, waits, appends one `decision::profile_line` to the log and ends
//! as the program did (dying of the same signal).

// The test harness brings its own main.
#![cfg_attr(not(test), no_main)]

#[path = "../../src/accel/decision.rs"]
mod decision;
mod profile;
// Shared with archbuild, which also makes manifests: not everything is used here.
#[allow(dead_code)]
#[path = "../../src/accel/manifest.rs"]
mod manifest;

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::exit;

use decision::{Exec, Found, Invocation, Why};

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    run()
}

#[cfg_attr(test, allow(dead_code))]
fn run() -> ! {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let inv = decision::parse_argv(&argv).unwrap_or_else(|e| fail(126, &e));
    let mut file = File::open(&inv.binary).unwrap_or_else(|e| {
        fail(
            126,
            &format!("cannot open {}: {e}", inv.binary.to_string_lossy()),
        )
    });
    let mut header = [0u8; 20];
    let target = file
        .read_exact(&mut header)
        .ok()
        .and_then(|()| decision::qemu_target(&header))
        .unwrap_or_else(|| {
            fail(
                126,
                &format!(
                    "{} is not an ELF binary of an arch archbuild emulates",
                    inv.binary.to_string_lossy()
                ),
            )
        });
    let enabled = decision::enabled(std::env::var_os(decision::KILL_SWITCH).as_deref());
    let found = if enabled {
        read_manifest(target)
    } else {
        Found::Missing
    };
    let canonical = std::fs::canonicalize(&inv.binary)
        .map_err(|e| e.to_string())
        .and_then(|p| {
            p.into_os_string()
                .into_string()
                .map_err(|_| "the path is not UTF-8".to_string())
        });
    let identity = || {
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        manifest::Identity::of_reader(&file, size).map_err(|e| e.to_string())
    };
    let exec = decision::decide(&decision::Inputs {
        path: canonical.as_deref().map_err(String::clone),
        target,
        manifest: &found,
        identity: &identity,
        enabled,
        args: &inv.args,
        preload: std::env::var_os("LD_PRELOAD").as_deref(),
        perl_lib_env: std::env::var_os("PERL5LIB")
            .or_else(|| std::env::var_os("PERLLIB"))
            .as_deref(),
        xs_modules: &xs_modules,
    });
    let path = canonical
        .clone()
        .unwrap_or_else(|_| inv.binary.to_string_lossy().into_owned());
    let run = Run {
        profile: decision::profiling(
            std::env::var_os(decision::PROFILE).as_deref(),
            std::path::Path::new(&decision::profile_switch_path(target)).exists(),
        ),
        target,
        path: &path,
    };
    let why = match exec {
        Exec::Native {
            ref program,
            ref args,
            ref replace,
            ref append,
        } => {
            log_line(
                target,
                &decision::log_line(now(), std::process::id(), &path, &exec),
            );
            let error = run.exec(
                program.as_ref(),
                &decision::native_argv(args, replace, append, &inv),
                true,
            );
            Why::NativeFailed(format!("{program}: {error}"))
        }
        Exec::Emulate { why } => why,
    };
    if why.is_fallback() {
        log_line(
            target,
            &decision::log_line(now(), std::process::id(), &path, &Exec::Emulate { why }),
        );
    }
    emulate(&run, &inv)
}

/// How the chosen program is run: exec'd in place, or in the profile mode as a child
/// that is measured.
struct Run<'a> {
    profile: bool,
    target: &'a str,
    /// The binary's path as logged.
    path: &'a str,
}

impl Run<'_> {
    /// Run `program`; returns only when it could not be executed.
    fn exec(&self, program: &std::ffi::OsStr, argv: &[OsString], native: bool) -> std::io::Error {
        let Some((program, argv)) = c_args(program, argv) else {
            return std::io::Error::from_raw_os_error(libc::EINVAL);
        };
        let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        pointers.push(std::ptr::null());
        if self.profile {
            return profile::run(&program, &pointers, native, |m| {
                log_line(
                    self.target,
                    &decision::profile_line(now(), std::process::id(), self.path, m),
                )
            });
        }
        // SAFETY: NUL-terminated strings and a NULL-terminated array that outlive the call.
        unsafe { libc::execv(program.as_ptr(), pointers.as_ptr()) };
        std::io::Error::last_os_error()
    }
}

fn c_args(program: &std::ffi::OsStr, argv: &[OsString]) -> Option<(CString, Vec<CString>)> {
    let to_c = |s: &std::ffi::OsStr| CString::new(s.as_bytes()).ok();
    Some((
        to_c(program)?,
        argv.iter().map(|a| to_c(a)).collect::<Option<Vec<_>>>()?,
    ))
}

fn read_manifest(target: &str) -> Found {
    match std::fs::read_to_string(manifest::manifest_path(target)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Found::Missing,
        Err(e) => Found::Unusable(e.to_string()),
        Ok(text) => match manifest::parse(&text) {
            Ok(m) => Found::Manifest(m),
            Err(e) => Found::Unusable(e),
        },
    }
}

/// Exec qemu with argv[0] preserved (`-0`) and the target's CPU model, from the first
/// place it is found.
fn emulate(run: &Run, inv: &Invocation) -> ! {
    let target = run.target;
    let cpu = decision::qemu_cpu(target, std::env::var_os(decision::QEMU_CPU).as_deref());
    let mut tried = Vec::new();
    for emulator in decision::emulator_candidates(target) {
        let argv = decision::emulator_argv(&emulator, cpu, inv);
        let error = run.exec(emulator.as_ref(), &argv, false);
        tried.push(format!("{emulator} ({error})"));
    }
    match embedded_emulator(target) {
        Ok(emulator) => {
            let argv = decision::emulator_argv(&emulator, cpu, inv);
            let error = run.exec(emulator.as_ref(), &argv, false);
            tried.push(format!("the embedded qemu ({error})"));
        }
        Err(why) => tried.push(format!("the embedded qemu ({why})")),
    }
    fail(
        127,
        &format!(
            "no emulator for {target} could be executed for {}: tried {}",
            inv.binary.to_string_lossy(),
            tried.join(", ")
        ),
    )
}

/// The qemu of `target` archbuild appended to this handler file
/// (`decision::embedded_trailer`), copied into a memfd: its `/proc/self/fd/N` path (the
/// descriptor is close-on-exec; the kernel has opened the file by then).
fn embedded_emulator(target: &str) -> Result<String, String> {
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
    use std::os::unix::fs::FileExt;
    let exe = File::open("/proc/self/exe").map_err(|e| format!("/proc/self/exe: {e}"))?;
    let len = exe.metadata().map_err(|e| e.to_string())?.len();
    let mut trailer = [0u8; decision::EMBEDDED_TRAILER_LEN];
    let start = len
        .checked_sub(trailer.len() as u64)
        .ok_or("this handler file carries no qemu")?;
    exe.read_exact_at(&mut trailer, start)
        .map_err(|e| e.to_string())?;
    let (offset, size, embedded) = decision::parse_embedded_trailer(&trailer, len)
        .ok_or("this handler file carries no qemu")?;
    if embedded != target {
        return Err(format!("this handler file carries qemu-{embedded}"));
    }
    // SAFETY: a NUL-terminated name; the descriptor is owned by the File below.
    let fd = unsafe { libc::memfd_create(c"qemu-embedded".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: fd was just made and is owned by nobody else.
    let memfd = unsafe { File::from_raw_fd(fd) };
    let (mut from, mut left) = (offset as libc::loff_t, size as usize);
    while left > 0 {
        // SAFETY: valid descriptors; the kernel advances `from`. (sendfile, not
        // copy_file_range: the memfd is on another file system.)
        let n = unsafe { libc::sendfile(memfd.as_raw_fd(), exe.as_raw_fd(), &mut from, left) };
        if n <= 0 {
            return Err(format!(
                "copying it: {}",
                if n == 0 {
                    "short file".to_string()
                } else {
                    std::io::Error::last_os_error().to_string()
                }
            ));
        }
        left -= n as usize;
    }
    Ok(format!("/proc/self/fd/{}", memfd.into_raw_fd()))
}

/// The XS modules (`auto/**/*.so`) under the module directories `dirs` (directories
/// that do not exist have none; links are followed, to a depth that stops loops).
fn xs_modules(dirs: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo: Vec<(String, u32)> = dirs.iter().map(|d| (format!("{d}/auto"), 0)).collect();
    while let Some((dir, depth)) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let path = format!("{dir}/{}", name.to_string_lossy());
            let is_dir = match entry.file_type() {
                Ok(t) if t.is_symlink() => std::fs::metadata(&path).is_ok_and(|m| m.is_dir()),
                Ok(t) => t.is_dir(),
                Err(_) => false,
            };
            if is_dir {
                if depth < 16 {
                    todo.push((path, depth + 1));
                }
            } else if name.as_bytes().ends_with(b".so") {
                found.push(path);
            }
        }
    }
    found
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One line to the log under the bundle dir; when that is not writable, to stderr only
/// with ARCHBUILD_ACCEL_DEBUG set (a build's output stays the build's).
fn log_line(target: &str, line: &str) {
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(manifest::log_path(target))
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if written.is_err() && std::env::var_os(decision::DEBUG).is_some() {
        eprint!("archbuild-accel: {line}");
    }
}

pub(crate) fn fail(code: i32, message: &str) -> ! {
    eprintln!("archbuild-accel: error: {message}");
    exit(code)
}
