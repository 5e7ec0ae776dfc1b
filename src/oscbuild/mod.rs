//! `archbuild build` and the build program osc runs through it.
//!
//! The packager's own osc runs on the host, as the packager, exactly as `osc build` would
//! (store, oscrc, credentials manager, package cache, build root, options). One thing
//! differs: osc's su-wrapper gets `archbuild build-cmd --` appended, so the build
//! program osc starts as root (obs-build) runs through archbuild. archbuild runs it
//! natively on the host in a private mount namespace where binfmt_misc (and the
//! mmap_min_addr sysctl obs-build's cross-build set-up writes) are read-only, with
//! archbuild's binfmt entry (flag F, static qemu-user) running every foreign binary of
//! the build root. docs/build.md has the measurements behind this choice.
//!
//! Decisions are data computed by pure functions: `command` (osc's command line and the
//! su-wrapper value), `call` (what osc asks of the build program: the program, the
//! target arch, what to shield). `run` starts osc; `build_cmd` runs the build program;
//! `namespace` is the only kernel-facing part.

pub mod accel_root;
pub mod build_cmd;
pub mod call;
pub mod command;
pub mod guard;
pub mod keep_pkgs;
pub mod package_cache;
pub mod run;
