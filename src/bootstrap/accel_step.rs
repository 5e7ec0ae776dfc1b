//! `bootstrap --accel`: after the root is complete (whatever made it), the arch's
//! acceleration bundle from the root's compiler, as `archbuild accel bundle` makes it, or
//! the one already there when it fits this root; then the container is recorded
//! accelerated. [`refusal`] and [`decide`] are pure; [`carry_out`] applies.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::plan::{Backend, Plan};
use crate::accel::host::{self, RootMatch};
use crate::accel::{debian_bundle, make_debian};
use crate::arch::Arch;

/// Why `--accel` cannot go with this plan (a usage error, said before any work).
pub fn refusal(plan: &Plan, arch: &Arch, host: &Arch) -> Option<String> {
    if arch.is_native_on(host) {
        return Some(format!(
            "--accel: {} roots run natively on this {} host, nothing is emulated: drop --accel",
            arch.obs, host.obs
        ));
    }
    if plan.backend != Backend::Debian {
        return Some(
            "--accel: openSUSE roots cannot be accelerated yet (archbuild makes bundles from Debian's cross toolchains only): drop --accel, or bootstrap a Debian root (--dist debian-13)"
                .to_string(),
        );
    }
    if debian_bundle::triplet(arch.deb).is_none() {
        return Some(format!(
            "--accel: archbuild knows no Debian cross toolchain for {} ({}): drop --accel",
            arch.obs, arch.deb
        ));
    }
    None
}

/// What the host lacks for the step, each with its fix (said before any work).
pub fn missing_on_host(on_path: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut missing: Vec<String> = [
        ("patchelf", "patchelf"),
        ("dpkg-deb", "dpkg"),
        ("apt-get", "apt"),
    ]
    .iter()
    .filter(|(tool, _)| !on_path(tool))
    .map(|(tool, package)| format!("{tool} is not installed (install {package})"))
    .collect();
    if let Err(e) = host::find_handler() {
        missing.push(crate::error::one_line(&e));
    }
    missing
}

/// What the step does, decided from the root and the bundle already on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Make the bundle from the root.
    Make,
    /// The bundle there fits every tool of this root: use it.
    Reuse { tools: usize },
    /// The root has no compiler: nothing to accelerate (not an error).
    NothingToAccelerate(String),
    /// A bundle is there that does not fit this root (or cannot be read): an error.
    Conflict(String),
}

/// The verdict for container `name` whose root's dpkg status is `dpkg_status`, with
/// `existing` the bundle at `bundle` (its manifest checked and matched against the
/// root, or why it cannot be used), None when there is none.
pub fn decide(
    name: &str,
    arch: &Arch,
    dpkg_status: &str,
    bundle: &Path,
    existing: Option<Result<RootMatch, String>>,
) -> Verdict {
    if debian_bundle::root_compiler(dpkg_status).is_none() {
        return Verdict::NothingToAccelerate(format!(
            "the root of {name} has no gcc, so there is nothing to accelerate: install gcc (and g++) in it, then `archbuild accel bundle {name}` and `archbuild start {name} --accel`"
        ));
    }
    let remove = format!(
        "remove it (no accelerated {} container may be running) and run `archbuild accel bundle {name}`, or start {name} without acceleration",
        arch.obs
    );
    match existing {
        None => Verdict::Make,
        Some(Ok(m)) if m.complete() => Verdict::Reuse { tools: m.tools },
        Some(Ok(m)) => Verdict::Conflict(format!(
            "the bundle {} was made for another root ({} of {} tools match this one): {remove}",
            bundle.display(),
            m.matching,
            m.tools
        )),
        Some(Err(e)) => Verdict::Conflict(format!("{e}: {remove}")),
    }
}

/// What the step did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub bundle: PathBuf,
    /// `made`, `reused` or `nothing_to_accelerate`.
    pub how: &'static str,
    /// Tools in the bundle's manifest (0 when nothing was accelerated).
    pub tools: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Outcome {
    /// The container runs accelerated from now on.
    pub fn accelerated(&self) -> bool {
        self.how != "nothing_to_accelerate"
    }
}

/// Carry the step out for container `name` with its root at `root`: one bundle per arch,
/// so the bundle's lock is held while it is checked and made.
pub fn carry_out(
    name: &str,
    root: &Path,
    arch: &Arch,
    progress: &crate::progress::Progress,
) -> Result<Outcome> {
    let bundle = host::bundle_on_host(arch);
    let _lock = crate::sys::lock::exclusive(
        &bundle.with_extension("lock"),
        &mut || {
            progress.phase(&format!(
                "waiting for another archbuild that makes {}",
                bundle.display()
            ))
        },
        &super::supervise::check_interrupted,
    )?;
    let status_path = root.join("var/lib/dpkg/status");
    let status = std::fs::read_to_string(&status_path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {} ({e}): --accel needs a Debian root",
            status_path.display()
        )
    })?;
    let existing = bundle.exists().then(|| {
        host::check_bundle(&bundle, arch)
            .map(|m| host::root_match_on_host(root, &m, arch.qemu))
            .map_err(|e| crate::error::one_line(&e))
    });
    match decide(name, arch, &status, &bundle, existing) {
        Verdict::NothingToAccelerate(note) => Ok(Outcome {
            bundle,
            how: "nothing_to_accelerate",
            tools: 0,
            note: Some(note),
        }),
        Verdict::Conflict(why) => Err(anyhow::anyhow!(why)),
        Verdict::Reuse { tools } => Ok(Outcome {
            bundle,
            how: "reused",
            tools,
            note: None,
        }),
        Verdict::Make => {
            progress.phase(&format!(
                "making the acceleration bundle {} (Debian's cross toolchain of the root's gcc)",
                bundle.display()
            ));
            let report = make_debian::make(&make_debian::Request {
                root,
                deb_arch: arch.deb,
                target: arch.qemu,
                output: &bundle,
                cache: &crate::settings::cache_dir().join("accel"),
                drivers: false,
            })?;
            Ok(Outcome {
                bundle,
                how: "made",
                tools: report.tools.len(),
                note: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::lookup;

    const WITH_GCC: &str = "Package: gcc-14\nStatus: install ok installed\nVersion: 14.2.0-19\n\n\
        Package: gcc\nStatus: install ok installed\nVersion: 4:14.2.0-1\nDepends: gcc-14 (>= 14.2.0-6~)\n";
    const WITHOUT_GCC: &str = "Package: dash\nStatus: install ok installed\nVersion: 0.5.12-12\n";

    fn plan(backend: Backend) -> Plan {
        Plan {
            arch: "aarch64".into(),
            backend,
            source: "debian-13".into(),
            repositories: vec![],
            packages: vec![],
            emulator: None,
        }
    }

    #[test]
    fn only_emulated_debian_roots_of_a_known_triplet_can_be_accelerated() {
        let x86_64 = lookup("x86_64").unwrap();
        let aarch64 = lookup("aarch64").unwrap();
        assert_eq!(refusal(&plan(Backend::Debian), aarch64, x86_64), None);
        let zypper = refusal(&plan(Backend::Zypper), aarch64, x86_64).unwrap();
        assert!(
            zypper.contains("openSUSE roots cannot be accelerated"),
            "{zypper}"
        );
        let native = refusal(&plan(Backend::Debian), x86_64, x86_64).unwrap();
        assert!(native.contains("natively"), "{native}");
        for arch in crate::arch::ARCHES
            .iter()
            .filter(|a| !a.is_native_on(x86_64))
        {
            let said = refusal(&plan(Backend::Debian), arch, x86_64);
            assert_eq!(
                said.is_none(),
                debian_bundle::triplet(arch.deb).is_some(),
                "{}: {said:?}",
                arch.obs
            );
        }
    }

    #[test]
    fn the_host_tools_are_named_with_their_packages() {
        let missing = missing_on_host(&|t| t == "apt-get");
        assert!(missing
            .iter()
            .any(|m| m == "patchelf is not installed (install patchelf)"));
        assert!(missing
            .iter()
            .any(|m| m == "dpkg-deb is not installed (install dpkg)"));
        assert!(!missing.iter().any(|m| m.contains("apt-get")));
    }

    #[test]
    fn the_verdict_follows_the_root_and_the_bundle_there() {
        let arch = lookup("aarch64").unwrap();
        let bundle = Path::new("/b/x86_64-for-aarch64");
        let fits = |matching| RootMatch {
            tools: 19,
            matching,
            differing: vec![],
        };
        assert_eq!(decide("t", arch, WITH_GCC, bundle, None), Verdict::Make);
        assert_eq!(
            decide("t", arch, WITH_GCC, bundle, Some(Ok(fits(19)))),
            Verdict::Reuse { tools: 19 }
        );
        let Verdict::Conflict(why) = decide("t", arch, WITH_GCC, bundle, Some(Ok(fits(3)))) else {
            panic!("a bundle of another root is a conflict");
        };
        assert!(
            why.contains("3 of 19 tools match") && why.contains("`archbuild accel bundle t`"),
            "{why}"
        );
        let Verdict::Conflict(why) = decide(
            "t",
            arch,
            WITH_GCC,
            bundle,
            Some(Err("no acceleration bundle ...".into())),
        ) else {
            panic!("an unreadable bundle is a conflict");
        };
        assert!(why.starts_with("no acceleration bundle"), "{why}");
        // No compiler: nothing to accelerate, whatever bundle is there.
        for existing in [None, Some(Ok(fits(0)))] {
            let Verdict::NothingToAccelerate(note) =
                decide("t", arch, WITHOUT_GCC, bundle, existing)
            else {
                panic!("a root without gcc has nothing to accelerate");
            };
            assert!(note.contains("install gcc"), "{note}");
        }
    }
}
