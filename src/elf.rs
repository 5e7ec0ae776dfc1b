//! Just enough ELF to tell which arch a binary is for and whether it is statically linked.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::arch::{ElfClass, Endian};

const PT_INTERP: u32 = 3;

/// The identifying part of an ELF header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfInfo {
    pub class: ElfClass,
    pub endian: Endian,
    pub machine: u16,
    /// Has a `PT_INTERP` program header: needs a dynamic loader to run.
    pub dynamic: bool,
}

fn u16_at(buf: &[u8], off: usize, endian: Endian) -> u16 {
    let b = [buf[off], buf[off + 1]];
    match endian {
        Endian::Little => u16::from_le_bytes(b),
        Endian::Big => u16::from_be_bytes(b),
    }
}

fn u32_at(buf: &[u8], off: usize, endian: Endian) -> u32 {
    let b = [buf[off], buf[off + 1], buf[off + 2], buf[off + 3]];
    match endian {
        Endian::Little => u32::from_le_bytes(b),
        Endian::Big => u32::from_be_bytes(b),
    }
}

fn u64_at(buf: &[u8], off: usize, endian: Endian) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[off..off + 8]);
    match endian {
        Endian::Little => u64::from_le_bytes(b),
        Endian::Big => u64::from_be_bytes(b),
    }
}

/// Read the ELF header and program headers of `path` (symlinks are followed by the caller).
pub fn read(path: &Path) -> Result<ElfInfo> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut header = [0u8; 64];
    let n = file
        .read(&mut header)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if n < 52 || &header[..4] != b"\x7fELF" {
        bail!("{} is not an ELF binary", path.display());
    }
    let class = match header[4] {
        1 => ElfClass::Elf32,
        2 => ElfClass::Elf64,
        c => bail!("{} has an unknown ELF class {c}", path.display()),
    };
    let endian = match header[5] {
        1 => Endian::Little,
        2 => Endian::Big,
        d => bail!("{} has an unknown ELF byte order {d}", path.display()),
    };
    let machine = u16_at(&header, 18, endian);
    let (phoff, phentsize, phnum) = match class {
        ElfClass::Elf32 => (
            u64::from(u32_at(&header, 28, endian)),
            u16_at(&header, 42, endian),
            u16_at(&header, 44, endian),
        ),
        ElfClass::Elf64 => {
            if n < 64 {
                bail!("{} has a truncated ELF header", path.display());
            }
            (
                u64_at(&header, 32, endian),
                u16_at(&header, 54, endian),
                u16_at(&header, 56, endian),
            )
        }
    };
    let mut dynamic = false;
    let mut phdr = vec![0u8; usize::from(phentsize).max(4)];
    for i in 0..u64::from(phnum) {
        file.seek(SeekFrom::Start(phoff + i * u64::from(phentsize)))?;
        file.read_exact(&mut phdr)
            .with_context(|| format!("{} has truncated program headers", path.display()))?;
        if u32_at(&phdr, 0, endian) == PT_INTERP {
            dynamic = true;
            break;
        }
    }
    Ok(ElfInfo {
        class,
        endian,
        machine,
        dynamic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_shell_is_a_dynamic_host_binary() {
        let info = read(Path::new("/bin/sh")).unwrap();
        let host = crate::arch::host().unwrap();
        assert_eq!(info.machine, host.machine);
        assert!(info.dynamic);
    }

    #[test]
    fn non_elf_is_refused() {
        let err = read(Path::new("/etc/hostname")).or_else(|_| read(Path::new("/etc/passwd")));
        assert!(err.unwrap_err().to_string().contains("not an ELF"));
    }
}
