//! The one architecture table: OBS scheduler arch <-> rpm arch <-> Debian arch <->
//! qemu target <-> ELF identification <-> `uname -m` <-> personality.
//!
//! ELF magic/mask strings are qemu's `scripts/qemu-binfmt-conf.sh` values (the unit
//! tests compare them with the copy in `tests/data/qemu-binfmt-table.txt`).

use anyhow::{bail, Result};
use serde::Serialize;

/// ELF word size, as in `EI_CLASS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ElfClass {
    Elf32,
    Elf64,
}

/// Byte order, as in `EI_DATA`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Endian {
    Little,
    Big,
}

/// One architecture as every tool involved names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Arch {
    /// OBS scheduler arch: the name used on the command line and as a container's name.
    pub obs: &'static str,
    /// rpm's arch for packages built on `obs` (OBS armv7l builds armv7hl RPMs).
    pub rpm: &'static str,
    /// Other rpm arches that mean this architecture (accepted on the command line).
    pub rpm_aliases: &'static [&'static str],
    /// Debian's architecture name.
    pub deb: &'static str,
    /// qemu-user target (`qemu-<target>`).
    pub qemu: &'static str,
    /// What `uname -m` says inside a container of this arch.
    pub uname: &'static str,
    /// CPU model for qemu (`QEMU_CPU`) when qemu's default would report another arch.
    pub qemu_cpu: Option<&'static str>,
    pub class: ElfClass,
    pub endian: Endian,
    /// ELF `e_machine`.
    pub machine: u16,
    /// binfmt_misc magic, escaped as written to `register`.
    pub magic: &'static str,
    /// binfmt_misc mask, escaped as written to `register`.
    pub mask: &'static str,
    /// The 64-bit arch whose machines run this 32-bit arch natively (needs linux32).
    pub runs_natively_on: Option<&'static str>,
}

impl Arch {
    /// Name of the emulator binary's target, as in `qemu-<target>`.
    pub fn emulator_name(&self) -> String {
        format!("qemu-{}", self.qemu)
    }

    /// Path of the read-only emulator inside every root of this arch.
    pub fn emulator_path_inside(&self) -> String {
        format!("/qemu-{}", self.qemu)
    }

    /// True when a host of arch `host` runs this arch's binaries without an emulator.
    pub fn is_native_on(&self, host: &Arch) -> bool {
        self.obs == host.obs || self.runs_natively_on == Some(host.obs)
    }

    /// True when, on `host`, processes must run with the linux32 personality so that
    /// `uname -m` reports this arch.
    pub fn needs_linux32_on(&self, host: &Arch) -> bool {
        self.runs_natively_on == Some(host.obs)
    }
}

macro_rules! arch {
    ($obs:expr, $rpm:expr, [$($alias:expr),*], $deb:expr, $qemu:expr, $uname:expr, $cpu:expr,
     $class:ident, $endian:ident, $machine:expr, $native:expr, $magic:expr, $mask:expr) => {
        Arch {
            obs: $obs,
            rpm: $rpm,
            rpm_aliases: &[$($alias),*],
            deb: $deb,
            qemu: $qemu,
            uname: $uname,
            qemu_cpu: $cpu,
            class: ElfClass::$class,
            endian: Endian::$endian,
            machine: $machine,
            runs_natively_on: $native,
            magic: $magic,
            mask: $mask,
        }
    };
}

/// Every architecture archbuild knows. Order: as `archbuild arches` lists them.
/// One line per arch reads as a table; rustfmt would spread each over fourteen.
#[rustfmt::skip]
pub const ARCHES: &[Arch] = &[
    arch!("x86_64", "x86_64", [], "amd64", "x86_64", "x86_64", None, Elf64, Little, 62, None,
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00",
        r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
    arch!("i586", "i586", ["i386", "i486", "i686"], "i386", "i386", "i686", None, Elf32, Little, 3, Some("x86_64"),
        r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00",
        r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
    arch!("aarch64", "aarch64", [], "arm64", "aarch64", "aarch64", None, Elf64, Little, 183, None,
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
    arch!("armv7l", "armv7hl", ["armv7l"], "armhf", "arm", "armv7l", None, Elf32, Little, 40, Some("aarch64"),
        r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
    arch!("armv6l", "armv6hl", ["armv6l"], "armel", "arm", "armv6l", Some("arm1176"), Elf32, Little, 40, Some("aarch64"),
        r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
    arch!("ppc64le", "ppc64le", [], "ppc64el", "ppc64le", "ppc64le", None, Elf64, Little, 21, None,
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x15\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\x00"),
    arch!("ppc64", "ppc64", [], "ppc64", "ppc64", "ppc64", None, Elf64, Big, 21, None,
        r"\x7fELF\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x15",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff"),
    arch!("s390x", "s390x", [], "s390x", "s390x", "s390x", None, Elf64, Big, 22, None,
        r"\x7fELF\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff"),
    arch!("riscv64", "riscv64", [], "riscv64", "riscv64", "riscv64", None, Elf64, Little, 243, None,
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
    arch!("loongarch64", "loongarch64", [], "loong64", "loongarch64", "loongarch64", None, Elf64, Little, 258, None,
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x02\x01",
        r"\xff\xff\xff\xff\xff\xff\xff\xfc\x00\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
];

/// Find an arch by any of its names: OBS, rpm, Debian or qemu. A name that means more
/// than one arch (qemu's `arm`) is refused with the candidates.
pub fn lookup(name: &str) -> Result<&'static Arch> {
    if let Some(a) = ARCHES.iter().find(|a| a.obs == name) {
        return Ok(a);
    }
    let matches: Vec<&'static Arch> = ARCHES
        .iter()
        .filter(|a| {
            a.rpm == name || a.rpm_aliases.contains(&name) || a.deb == name || a.qemu == name
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => bail!(
            "unknown architecture '{}': use one of {} (see `archbuild arches`)",
            name,
            obs_names().join(", ")
        ),
        many => bail!(
            "architecture name '{}' is ambiguous: say {}",
            name,
            many.iter().map(|a| a.obs).collect::<Vec<_>>().join(" or ")
        ),
    }
}

/// All OBS arch names, in table order.
pub fn obs_names() -> Vec<&'static str> {
    ARCHES.iter().map(|a| a.obs).collect()
}

/// The release of the running kernel (`uname -r`).
pub fn host_kernel_release() -> Result<String> {
    crate::sys::process::kernel_release()
}

/// Arch of the machine archbuild runs on.
pub fn host() -> Result<&'static Arch> {
    let machine = nix::sys::utsname::uname()?
        .machine()
        .to_string_lossy()
        .into_owned();
    ARCHES
        .iter()
        .find(|a| a.uname == machine && a.runs_natively_on.is_none())
        .or_else(|| ARCHES.iter().find(|a| a.uname == machine))
        .ok_or_else(|| {
            anyhow::anyhow!("this host's architecture '{machine}' is not in archbuild's table")
        })
}

/// The arch whose binaries look like this ELF header (class, byte order, machine).
/// armv6l and armv7l share one ELF identity; the first in table order (armv7l) is returned.
pub fn from_elf(class: ElfClass, endian: Endian, machine: u16) -> Option<&'static Arch> {
    ARCHES
        .iter()
        .find(|a| a.class == class && a.endian == endian && a.machine == machine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_from_every_vocabulary() {
        assert_eq!(lookup("armv7l").unwrap().obs, "armv7l");
        assert_eq!(lookup("armv7hl").unwrap().obs, "armv7l");
        assert_eq!(lookup("armhf").unwrap().obs, "armv7l");
        assert_eq!(lookup("arm64").unwrap().obs, "aarch64");
        assert_eq!(lookup("ppc64el").unwrap().obs, "ppc64le");
        assert_eq!(lookup("armel").unwrap().obs, "armv6l");
        assert_eq!(lookup("i686").unwrap().obs, "i586");
        assert_eq!(lookup("amd64").unwrap().obs, "x86_64");
        assert_eq!(lookup("loong64").unwrap().obs, "loongarch64");
    }

    #[test]
    fn ambiguous_and_unknown_names_are_refused() {
        let err = lookup("arm").unwrap_err().to_string();
        assert!(
            err.contains("ambiguous") && err.contains("armv7l") && err.contains("armv6l"),
            "{err}"
        );
        let err = lookup("vax").unwrap_err().to_string();
        assert!(
            err.contains("unknown architecture 'vax'") && err.contains("aarch64"),
            "{err}"
        );
    }

    #[test]
    fn magic_and_mask_match_qemus_table() {
        let table = include_str!("../tests/data/qemu-binfmt-table.txt");
        for arch in ARCHES {
            let line = table
                .lines()
                .find(|l| l.split('\t').next() == Some(arch.qemu))
                .unwrap_or_else(|| panic!("{} missing from qemu table", arch.qemu));
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols[2], arch.magic, "magic of {}", arch.obs);
            assert_eq!(cols[3], arch.mask, "mask of {}", arch.obs);
        }
    }

    #[test]
    fn elf_identity_matches_magic_bytes() {
        for arch in ARCHES {
            let magic = crate::binfmt::unescape(arch.magic).unwrap();
            assert_eq!(
                magic[4],
                if arch.class == ElfClass::Elf64 { 2 } else { 1 },
                "{}",
                arch.obs
            );
            assert_eq!(
                magic[5],
                if arch.endian == Endian::Little { 1 } else { 2 },
                "{}",
                arch.obs
            );
            let machine = match arch.endian {
                Endian::Little => u16::from_le_bytes([magic[18], magic[19]]),
                Endian::Big => u16::from_be_bytes([magic[18], magic[19]]),
            };
            assert_eq!(machine, arch.machine, "{}", arch.obs);
        }
    }

    #[test]
    fn personality_and_native_rules() {
        let x86_64 = lookup("x86_64").unwrap();
        let aarch64 = lookup("aarch64").unwrap();
        assert!(lookup("i586").unwrap().needs_linux32_on(x86_64));
        assert!(lookup("i586").unwrap().is_native_on(x86_64));
        assert!(!lookup("armv7l").unwrap().needs_linux32_on(x86_64));
        assert!(lookup("armv7l").unwrap().needs_linux32_on(aarch64));
        assert!(!aarch64.is_native_on(x86_64));
    }
}
