//! Just enough ELF to tell which arch a binary is for and whether it is statically linked.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

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
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    parse(file, &path.display().to_string())
}

/// Read the ELF header and program headers from `r`; `what` names it in errors. Any
/// bytes give an answer or an error; at most `e_phnum` (< 65536) 4-byte reads are made.
pub fn parse(mut r: impl Read + Seek, what: &str) -> Result<ElfInfo> {
    let mut header = [0u8; 64];
    let n = read_full(&mut r, &mut header).with_context(|| format!("cannot read {what}"))?;
    if n < 52 || &header[..4] != b"\x7fELF" {
        bail!("{what} is not an ELF binary");
    }
    let class = match header[4] {
        1 => ElfClass::Elf32,
        2 => ElfClass::Elf64,
        c => bail!("{what} has an unknown ELF class {c}"),
    };
    let endian = match header[5] {
        1 => Endian::Little,
        2 => Endian::Big,
        d => bail!("{what} has an unknown ELF byte order {d}"),
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
                bail!("{what} has a truncated ELF header");
            }
            (
                u64_at(&header, 32, endian),
                u16_at(&header, 54, endian),
                u16_at(&header, 56, endian),
            )
        }
    };
    let truncated = || anyhow!("{what} has truncated program headers");
    let mut dynamic = false;
    // p_type, the first 4 bytes of each program header, is all this needs
    let mut p_type = [0u8; 4];
    for i in 0..u64::from(phnum) {
        let at = i
            .checked_mul(u64::from(phentsize))
            .and_then(|o| o.checked_add(phoff))
            .ok_or_else(truncated)?;
        r.seek(SeekFrom::Start(at))?;
        r.read_exact(&mut p_type).map_err(|_| truncated())?;
        if u32_at(&p_type, 0, endian) == PT_INTERP {
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

/// Fill `buf` as far as the input goes; the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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

    fn header64(phoff: u64, phentsize: u16, phnum: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..6].copy_from_slice(b"\x7fELF\x02\x01");
        h[18..20].copy_from_slice(&183u16.to_le_bytes());
        h[32..40].copy_from_slice(&phoff.to_le_bytes());
        h[54..56].copy_from_slice(&phentsize.to_le_bytes());
        h[56..58].copy_from_slice(&phnum.to_le_bytes());
        h
    }

    #[test]
    fn hostile_program_header_tables_are_errors() {
        let parse = |b: Vec<u8>| parse(std::io::Cursor::new(b), "x");
        // offsets that overflow u64
        let e = parse(header64(u64::MAX - 10, 0xffff, 0xffff)).unwrap_err();
        assert!(e.to_string().contains("truncated program headers"), "{e}");
        // headers beyond the end
        assert!(parse(header64(1 << 40, 56, 3)).is_err());
        // a static binary with no program headers, and one with PT_INTERP
        let info = parse(header64(0, 56, 0)).unwrap();
        assert_eq!((info.machine, info.dynamic), (183, false));
        let mut b = header64(64, 56, 1);
        b.extend_from_slice(&[3, 0, 0, 0]);
        assert!(parse(b).unwrap().dynamic);
        assert!(parse(b"\x7fELF".to_vec()).is_err());
    }
}
