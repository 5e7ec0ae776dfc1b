//! Run a host program natively in a private mount namespace in which some paths are
//! read-only (the binfmt_misc table above all), so that nothing it does can change them
//! on the host, and none of its mounts show on the host.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// Enter a private mount namespace (mounts from the host still propagate in, none go
/// out) with each of `read_only` bound read-only onto itself, check the binfmt_misc
/// `register` file cannot be written, then exec `program` with `args`.
/// Needs root and a single-threaded process.
pub fn exec_shielded(
    program: &Path,
    args: &[String],
    read_only: &[PathBuf],
    register: Option<&Path>,
) -> Result<Infallible> {
    unshare(CloneFlags::CLONE_NEWNS).context("cannot make a private mount namespace")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .context("cannot make / a slave mount in the build's namespace")?;
    protect(read_only, register)?;
    exec(program, args)
}

/// In the current mount namespace (one of the build's own): bind each of `read_only`
/// read-only onto itself and check the binfmt_misc `register` file cannot be written.
pub fn protect(read_only: &[PathBuf], register: Option<&Path>) -> Result<()> {
    for path in read_only {
        mount(
            Some(path.as_path()),
            path.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("cannot bind {} onto itself", path.display()))?;
        mount(
            None::<&str>,
            path.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .with_context(|| format!("cannot make {} read-only", path.display()))?;
    }
    if let Some(register) = register {
        if std::fs::OpenOptions::new()
            .write(true)
            .open(register)
            .is_ok()
        {
            bail!(
                "{} is still writable in the build's namespace: refusing to run the build program",
                register.display()
            );
        }
    }
    Ok(())
}

/// Replace this process with `program args`.
pub fn exec(program: &Path, args: &[String]) -> Result<Infallible> {
    let c = |s: &[u8]| CString::new(s).context("argument with a NUL byte");
    let mut argv = vec![c(program.as_os_str().as_bytes())?];
    for a in args {
        argv.push(c(a.as_bytes())?);
    }
    let err = nix::unistd::execv(&argv[0], &argv).unwrap_err();
    bail!("cannot run {}: {err}", program.display())
}
