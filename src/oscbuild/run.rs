//! `archbuild build`: the host's osc runs `osc build` as the user, with the build program
//! routed through `archbuild build-cmd` (see `command`).

use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, Context, Result};

use crate::arch;
use crate::batch::phase::BUILD_STARTED;
use crate::error::usage;
use crate::obs::{checkout, oscrc};
use crate::oscbuild::{call, command, keep_pkgs, package_cache};

/// Everything `archbuild build` was asked.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub repository: String,
    pub arch: String,
    pub build_descr: Option<String>,
    pub options: Vec<String>,
    pub apiurl: Option<String>,
    /// Run osc as this user (root only; default `$SUDO_USER` under sudo, else the caller).
    pub user: Option<String>,
    /// The oscrc osc reads (passed as `OSC_CONFIG`).
    pub oscrc: Option<PathBuf>,
    /// The osc program (default: `osc` on PATH).
    pub osc: Option<String>,
    /// The checkout directory.
    pub cwd: PathBuf,
    /// Run native tools of the arch's acceleration bundle in the build root.
    pub accel: bool,
}

/// Who osc runs as: None for the caller itself, else the account to switch to.
fn account(req: &Request) -> Result<Option<nix::unistd::User>> {
    let euid = nix::unistd::geteuid();
    let wanted = req.user.clone().or_else(|| {
        crate::user::sudo_user_from(std::env::var("SUDO_USER").ok().as_deref(), euid.is_root())
    });
    let Some(name) = wanted else {
        return Ok(None);
    };
    let user = nix::unistd::User::from_name(&name)
        .with_context(|| format!("cannot look up user '{name}'"))?
        .ok_or_else(|| {
            usage(format!(
                "no user '{name}' on this machine: pass --user NAME"
            ))
        })?;
    if user.uid == euid {
        return Ok(None);
    }
    if !euid.is_root() {
        return Err(usage(format!(
            "only root can build as another user ({name}): leave out --user to build as yourself"
        )));
    }
    Ok(Some(user))
}

/// The user's osc settings archbuild needs: the su-wrapper (`OSC_SU_WRAPPER`, else the
/// oscrc's `su-wrapper`) and the package cache (`OSC_PACKAGECACHEDIR`, else the
/// oscrc's `packagecachedir`, else osc's default).
fn user_settings(oscrc_path: Option<&Path>, home: Option<&Path>) -> (Option<String>, PathBuf) {
    let path = match home {
        Some(home) => {
            let env: std::collections::BTreeMap<String, String> =
                [("HOME".to_string(), home.display().to_string())].into();
            oscrc::locate(oscrc_path, &env)
        }
        None => oscrc::locate(oscrc_path, &oscrc::ProcessEnv),
    };
    let rc = path.and_then(|p| oscrc::read(&p).ok());
    let general = |key: &str| {
        rc.as_ref()
            .and_then(|rc| rc.general())
            .and_then(|g| g.get(key))
            .map(str::to_string)
    };
    let su_wrapper = std::env::var("OSC_SU_WRAPPER")
        .ok()
        .or_else(|| general("su-wrapper"));
    let cache = package_cache::dir(
        std::env::var("OSC_PACKAGECACHEDIR").ok().as_deref(),
        general("packagecachedir").as_deref(),
    );
    (su_wrapper, cache)
}

/// A private directory for build-cmd's "started" marker, removed when dropped.
struct MarkerDir(PathBuf);

impl MarkerDir {
    fn new() -> Result<MarkerDir> {
        let base = std::env::temp_dir();
        let base = if base.to_string_lossy().chars().any(char::is_whitespace) {
            PathBuf::from("/tmp")
        } else {
            base
        };
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = base.join(format!("archbuild-build-{}-{stamp}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(MarkerDir(dir))
    }

    fn marker(&self) -> PathBuf {
        self.0.join("started")
    }
}

impl Drop for MarkerDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.marker());
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Wait for osc, releasing the package cache lock as soon as the build program started
/// (the marker exists) or osc ended.
fn wait_releasing_cache(
    child: &mut std::process::Child,
    marker: &Path,
    mut cache_lock: Option<crate::sys::lock::FileLock>,
) -> std::io::Result<std::process::ExitStatus> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if cache_lock.is_some() && marker.exists() {
            cache_lock = None;
            eprintln!("{BUILD_STARTED}: osc fetched its packages; the package cache is free for other builds");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Run the build; returns osc's exit status.
pub fn build(req: &Request) -> Result<i32> {
    let (co, package) = checkout::read_package(&req.cwd)?;
    let arch = arch::lookup(&req.arch).map_err(|e| usage(e.to_string()))?;
    let host = arch::host()?;
    let switch_to = account(req)?;
    let osc = command::osc_program(req.osc.as_deref(), std::env::var_os("PATH").as_deref())?;
    let program = call::resolve_program(None, &|p: &Path| p.is_file())?;
    let foreign = !arch.is_native_on(host);
    let emulation = if foreign {
        let emulator = crate::emulator::find(arch, None)?;
        format!(
            "its {} binaries run by {} through archbuild's binfmt entry (flag F)",
            arch.obs,
            emulator.path.display()
        )
    } else {
        "native arch, no emulation".to_string()
    };
    let accel = req.accel && foreign;
    let emulation = if accel {
        // checked before osc runs: a missing part is one line, not a failed build later
        let parts = super::accel_root::find(arch, None)?;
        format!(
            "{emulation}, accelerated by {} ({} native tools from {})",
            parts.handler.display(),
            parts.tools,
            parts.bundle.display()
        )
    } else {
        if req.accel {
            eprintln!(
                "archbuild: {} is native on this host: --accel has nothing to accelerate",
                arch.obs
            );
        }
        emulation
    };
    let as_root = match &switch_to {
        Some(u) => u.uid.is_root(),
        None => nix::unistd::geteuid().is_root(),
    };
    let user_name = match &switch_to {
        Some(u) => u.name.clone(),
        None => crate::container::process::invoking_user(),
    };
    let (wrapper, cache) = user_settings(
        req.oscrc.as_deref(),
        switch_to.as_ref().map(|u| u.dir.as_path()),
    );
    let exe = std::env::current_exe().context("cannot tell where archbuild is installed")?;
    let marker_dir = MarkerDir::new()?;
    let marker = marker_dir.marker();
    let mut su_wrapper = watched_su_wrapper(&command::with_build_cmd_option(
        &command::su_wrapper(wrapper.as_deref(), as_root, &exe)?,
        &format!("--started={}", marker.display()),
    ));
    if accel {
        su_wrapper = command::with_build_cmd_option(&su_wrapper, "--accel");
    }
    let (options, staging) = stage_keep_pkgs(&req.options, &co.dir, switch_to.as_ref())?;
    let osc_build = command::OscBuild {
        osc,
        apiurl: req.apiurl.clone().or(co.apiurl.clone()),
        repository: req.repository.clone(),
        arch: arch.obs.to_string(),
        build_descr: req.build_descr.clone(),
        options,
    };
    eprintln!(
        "archbuild: building {}/{package} for {}/{} with `{}` as {user_name}, on this host (no container): obs-build ({}) runs natively as root in a private mount namespace, {emulation}",
        co.project,
        req.repository,
        arch.obs,
        osc_build.osc.join(" "),
        program.display()
    );
    let argv = osc_build.argv();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(&co.dir)
        .env("OSC_SU_WRAPPER", &su_wrapper);
    if let Some(rc) = &req.oscrc {
        cmd.env("OSC_CONFIG", rc);
    }
    if let (None, Some(dir)) = (std::env::var_os("BUILD_DIR"), call::build_dir(&program)) {
        // osc runs obs-build's helpers (queryconfig) itself; they find their Perl
        // modules through BUILD_DIR, which is not /usr/lib/build on Debian
        cmd.env("BUILD_DIR", dir);
    }
    let account = match &switch_to {
        Some(user) => {
            cmd.env("HOME", &user.dir)
                .env("USER", &user.name)
                .env("LOGNAME", &user.name)
                .env_remove("XDG_CONFIG_HOME");
            Some(crate::sys::process::Account {
                name: std::ffi::CString::new(user.name.clone())?,
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
        }
        None => None,
    };
    let owner = switch_to.as_ref().map(|u| (u.uid.as_raw(), u.gid.as_raw()));
    let cache_lock = package_cache::lock(&cache, owner)?;
    crate::sys::process::start_as(&mut cmd, account);
    // killed, archbuild takes osc with it (and build-cmd, watching archbuild, the build)
    crate::sys::process::dies_with_archbuild(&mut cmd);
    // Ctrl-C reaches osc through the terminal's process group: osc stops the build (it
    // runs `build --kill`) and returns. archbuild waits for it instead of dying first.
    let status = crate::sys::signals::with_sigint_ignored(|| {
        let mut child = cmd.spawn()?;
        wait_releasing_cache(&mut child, &marker, Some(cache_lock))
    })
    .map_err(|e| anyhow!("cannot run {}: {e}", argv[0]))?;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    finish_keep_pkgs(staging, code == 0)?;
    Ok(code)
}

/// The su-wrapper with `--watch=` this process for `archbuild build-cmd`: the build
/// (root's, out of this process's reach) ends when this process ends.
fn watched_su_wrapper(su_wrapper: &str) -> String {
    match crate::sys::process::ProcessId::current() {
        Some(me) => {
            command::with_build_cmd_option(su_wrapper, &format!("--watch={}", me.to_text()))
        }
        None => su_wrapper.to_string(),
    }
}

/// osc's options with `--keep-pkgs DIR` turned into a staging directory in DIR (see
/// `keep_pkgs`), and that directory.
fn stage_keep_pkgs(
    options: &[String],
    cwd: &Path,
    user: Option<&nix::unistd::User>,
) -> Result<(Vec<String>, Option<keep_pkgs::Staging>)> {
    let Some(me) = crate::sys::process::ProcessId::current() else {
        return Ok((options.to_vec(), None));
    };
    let name = keep_pkgs::staging_name(&me);
    let Some((dir, redirected)) = keep_pkgs::redirect(options, &name) else {
        return Ok((options.to_vec(), None));
    };
    let owner = user.map(|u| (u.uid.as_raw(), u.gid.as_raw()));
    let staging = keep_pkgs::prepare(&cwd.join(dir), &name, owner)?;
    Ok((redirected, Some(staging)))
}

/// After osc: its packages into the --keep-pkgs directory when it succeeded.
fn finish_keep_pkgs(staging: Option<keep_pkgs::Staging>, success: bool) -> Result<()> {
    match staging {
        Some(s) if success => s.commit().map(|_| ()),
        Some(s) => {
            s.discard();
            Ok(())
        }
        None => Ok(()),
    }
}
