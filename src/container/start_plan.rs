//! Everything `start` will do, decided before anything is done: the binfmt action, the
//! edits to the root's passwd/group and resolv.conf, and the mount plan. `start`,
//! `start --dry-run` and the build's visibility check all use this one plan; every fact
//! (the root's arch, the emulator, the live binfmt table) is looked up once.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;

use super::mounts::{self, MountPlan};
use super::root::{self, Append, ResolvConf};
use crate::arch::{self, Arch};
use crate::binfmt::{self, LiveEntry};
use crate::state::Record;

#[derive(Debug, Clone, Serialize)]
pub struct StartPlan {
    pub name: String,
    #[serde(serialize_with = "obs_name")]
    pub arch: &'static Arch,
    /// The root, canonical.
    pub root: PathBuf,
    /// The emulator bound read-only at `/qemu-<target>` (none for native arches).
    pub emulator: Option<PathBuf>,
    /// 32-bit personality for a 32-bit root on its 64-bit host arch.
    pub linux32: bool,
    pub binfmt: binfmt::Action,
    pub account_edits: Vec<Append>,
    pub resolv_conf: ResolvConf,
    pub mounts: MountPlan,
    /// Set for an accelerated container (`start --accel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accel: Option<AccelPlan>,
}

/// What acceleration adds to a start: the handler's binfmt entry and the bundle's mounts.
#[derive(Debug, Clone, Serialize)]
pub struct AccelPlan {
    /// The installed handler.
    pub handler: PathBuf,
    /// What is registered: the handler with the arch's qemu inside
    /// (`accel::host::registered_handler`), made when the container starts.
    pub registered: PathBuf,
    pub bundle: PathBuf,
    pub log_dir: PathBuf,
    /// How many root paths the bundle's manifest lists.
    pub tools: usize,
}

fn obs_name<S: serde::Serializer>(arch: &&'static Arch, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(arch.obs)
}

/// The facts a plan is made from that come from the kernel (not from the root).
pub struct HostFacts {
    pub host: &'static Arch,
    /// The live binfmt table, newest first (empty when it cannot be read).
    pub binfmt_table: Vec<LiveEntry>,
}

impl HostFacts {
    /// Read them; `mount_binfmt` mounts binfmt_misc first when needed (root only).
    pub fn gather(mount_binfmt: bool) -> Result<HostFacts> {
        if mount_binfmt {
            binfmt::ensure_mounted()?;
        }
        Ok(HostFacts {
            host: arch::host()?,
            binfmt_table: binfmt::read_table().unwrap_or_default(),
        })
    }
}

/// The plan for starting `record` with `user` as the invoking user.
pub fn plan(record: &Record, user: &str, facts: &HostFacts) -> Result<StartPlan> {
    let arch = arch::lookup(&record.arch)?;
    if !record.location.is_dir() {
        bail!(
            "root {} of container '{}' does not exist: bootstrap it with `archbuild bootstrap {} --name {}`",
            record.location.display(),
            record.name,
            arch.obs,
            record.name
        );
    }
    let location = record.location.canonicalize()?;
    root::check_arch(&location, arch)?;
    let native = arch.is_native_on(facts.host);
    let emulator = if native {
        None
    } else {
        Some(crate::emulator::find(arch, record.emulator.as_deref())?)
    };
    let situation = binfmt::policy::Situation {
        arch,
        native,
        table: &facts.binfmt_table,
        requested: record.emulator.as_deref(),
        own_only: crate::settings::binfmt_own_only(),
    };
    let accel = if record.accel && !native {
        let bundle = crate::accel::host::bundle_on_host(arch);
        let manifest = crate::accel::host::check_bundle(&bundle, arch)?;
        Some(AccelPlan {
            handler: crate::accel::host::find_handler()?,
            registered: crate::accel::host::registered_handler_path(arch),
            bundle,
            log_dir: crate::accel::host::log_dir_on_host(&record.name),
            tools: manifest.tools.len(),
        })
    } else {
        None
    };
    let binfmt = match &accel {
        Some(accel) => binfmt::policy::decide_accel(&situation, &accel.registered),
        None => binfmt::decide(&situation, &|| {
            Ok(emulator.clone().expect("emulated arches have an emulator"))
        })?,
    };
    let emulator = emulator.map(|e| e.path);
    let mut mounts = mounts::plan(&location, arch, emulator.as_deref(), &record.binds);
    if let Some(accel) = &accel {
        mounts::add_accel_bundle(&mut mounts, arch, &accel.bundle, &accel.log_dir);
    }
    Ok(StartPlan {
        name: record.name.clone(),
        arch,
        linux32: arch.needs_linux32_on(facts.host),
        binfmt,
        account_edits: root::account_edits(&location, user)?,
        resolv_conf: root::resolv_conf(&location)?,
        mounts,
        emulator,
        root: location,
        accel,
    })
}
