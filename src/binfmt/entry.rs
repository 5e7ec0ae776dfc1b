//! binfmt_misc entries as values: parse and format register lines and the kernel's
//! entry files, match ELF headers, write binfmt.d text. Nothing here touches the kernel.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use serde::Serialize;

use crate::arch::Arch;
use crate::settings;

/// binfmt_misc flags (the last field of a register line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Flags {
    /// `P`: preserve argv[0].
    pub preserve_argv0: bool,
    /// `O`: hand the interpreter an open file descriptor of the binary.
    pub open_binary: bool,
    /// `C`: credentials from the binary (setuid foreign binaries run the emulator as root).
    pub credentials: bool,
    /// `F`: open the interpreter at registration, so it works in any mount namespace.
    pub fix_binary: bool,
}

impl Flags {
    pub fn parse(text: &str) -> Result<Flags> {
        let mut flags = Flags::default();
        for c in text.trim().chars() {
            match c {
                'P' => flags.preserve_argv0 = true,
                'O' => flags.open_binary = true,
                'C' => {
                    flags.credentials = true;
                    flags.open_binary = true
                }
                'F' => flags.fix_binary = true,
                other => bail!("unknown binfmt flag '{other}' (known: P O C F)"),
            }
        }
        Ok(flags)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // qemu-binfmt-conf.sh's order (OC, F, P): `FP` is the familiar spelling.
        if self.credentials {
            f.write_str("OC")?;
        } else if self.open_binary {
            f.write_str("O")?;
        }
        if self.fix_binary {
            f.write_str("F")?;
        }
        if self.preserve_argv0 {
            f.write_str("P")?;
        }
        Ok(())
    }
}

/// What an entry matches on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Matcher {
    /// `M`: bytes at an offset, compared under a mask.
    Magic {
        offset: u32,
        magic: Vec<u8>,
        mask: Option<Vec<u8>>,
    },
    /// `E`: the file name extension.
    Extension(String),
}

/// One binfmt_misc entry, as registered or as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub name: String,
    pub matcher: Matcher,
    pub interpreter: PathBuf,
    pub flags: Flags,
}

/// Decode the kernel's escaped byte strings (`\xHH`, `\\` and literal bytes).
pub fn unescape(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            match bytes.get(i + 1) {
                Some(b'x') => {
                    let hex = text
                        .get(i + 2..i + 4)
                        .ok_or_else(|| anyhow!("truncated \\x escape in '{text}'"))?;
                    out.push(
                        u8::from_str_radix(hex, 16)
                            .map_err(|_| anyhow!("bad \\x escape '\\x{hex}' in '{text}'"))?,
                    );
                    i += 4;
                }
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                }
                _ => bail!("unsupported escape in '{text}'"),
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Encode bytes for a register line: letters and digits as they are, all else `\xHH`.
pub fn escape(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

impl Entry {
    /// The entry archbuild registers for `arch`: qemu's magic/mask, flags `FP` by default.
    pub fn for_arch(arch: &Arch, interpreter: &Path, flags: Flags) -> Entry {
        Entry {
            name: format!("{}{}", settings::binfmt_prefix(), arch.qemu),
            matcher: Matcher::Magic {
                offset: 0,
                magic: unescape(arch.magic).expect("arch table magic is valid"),
                mask: Some(unescape(arch.mask).expect("arch table mask is valid")),
            },
            interpreter: interpreter.to_path_buf(),
            flags,
        }
    }

    /// Parse a register line (`:name:type:offset:magic:mask:interpreter:flags`).
    pub fn parse(line: &str) -> Result<Entry> {
        let line = line.trim_end_matches(['\n', '\r']);
        let delim = line
            .chars()
            .next()
            .ok_or_else(|| anyhow!("empty binfmt register line"))?;
        let fields: Vec<&str> = line[delim.len_utf8()..].split(delim).collect();
        if fields.len() < 6 || fields.len() > 7 {
            bail!("binfmt register line '{line}' does not have the form :name:type:offset:magic:mask:interpreter:flags");
        }
        let name = fields[0];
        validate_name(name)?;
        let matcher = match fields[1] {
            "M" => Matcher::Magic {
                offset: if fields[2].is_empty() {
                    0
                } else {
                    fields[2]
                        .parse()
                        .map_err(|_| anyhow!("bad offset '{}' in '{line}'", fields[2]))?
                },
                magic: unescape(fields[3])?,
                mask: if fields[4].is_empty() {
                    None
                } else {
                    Some(unescape(fields[4])?)
                },
            },
            "E" => Matcher::Extension(fields[3].to_string()),
            other => bail!("binfmt type '{other}' in '{line}' is neither M nor E"),
        };
        if let Matcher::Magic {
            magic,
            mask: Some(mask),
            ..
        } = &matcher
        {
            if magic.len() != mask.len() {
                bail!("magic and mask of '{line}' differ in length");
            }
        }
        if fields[5].is_empty() {
            bail!("binfmt register line '{line}' has no interpreter");
        }
        Ok(Entry {
            name: name.to_string(),
            matcher,
            interpreter: PathBuf::from(fields[5]),
            flags: Flags::parse(fields.get(6).copied().unwrap_or(""))?,
        })
    }

    /// The register line for this entry.
    pub fn register_line(&self) -> String {
        match &self.matcher {
            Matcher::Magic {
                offset,
                magic,
                mask,
            } => format!(
                ":{}:M:{}:{}:{}:{}:{}",
                self.name,
                if *offset == 0 {
                    String::new()
                } else {
                    offset.to_string()
                },
                escape(magic),
                mask.as_deref().map(escape).unwrap_or_default(),
                self.interpreter.display(),
                self.flags
            ),
            Matcher::Extension(ext) => format!(
                ":{}:E::{}::{}:{}",
                self.name,
                ext,
                self.interpreter.display(),
                self.flags
            ),
        }
    }

    /// The same entry under another name.
    pub fn renamed(mut self, name: &str) -> Entry {
        self.name = name.to_string();
        self
    }

    /// Does this entry claim a binary whose first bytes are `header`?
    pub fn matches_header(&self, header: &[u8]) -> bool {
        let Matcher::Magic {
            offset,
            magic,
            mask,
        } = &self.matcher
        else {
            return false;
        };
        let start = *offset as usize;
        if header.len() < start + magic.len() {
            return false;
        }
        magic.iter().enumerate().all(|(i, &m)| {
            let k = mask
                .as_ref()
                .map_or(0xff, |mask| mask.get(i).copied().unwrap_or(0xff));
            header[start + i] & k == m & k
        })
    }
}

/// Names become files in binfmt_misc: non-empty, not `.`/`..`, no `/`.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        bail!("invalid binfmt entry name '{name}': it must be non-empty, not '.' or '..', without '/'");
    }
    Ok(())
}

/// An entry as the kernel shows it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveEntry {
    pub enabled: bool,
    pub entry: Entry,
}

impl LiveEntry {
    /// Parse the text of `/proc/sys/fs/binfmt_misc/<name>`.
    pub fn parse(name: &str, text: &str) -> Result<LiveEntry> {
        let mut enabled = None;
        let mut interpreter = None;
        let mut flags = Flags::default();
        let mut offset = 0;
        let mut magic = None;
        let mut mask = None;
        let mut extension = None;
        for line in text.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let hex = |v: &str| -> Result<Vec<u8>> {
                let digits = v.as_bytes();
                if !digits.len().is_multiple_of(2) || !digits.iter().all(u8::is_ascii_hexdigit) {
                    bail!("binfmt entry '{name}' has a malformed hex string '{v}'");
                }
                digits
                    .chunks(2)
                    .map(|pair| {
                        let text = std::str::from_utf8(pair).expect("ASCII hex digits");
                        u8::from_str_radix(text, 16).map_err(Into::into)
                    })
                    .collect()
            };
            match key {
                "enabled" => enabled = Some(true),
                "disabled" => enabled = Some(false),
                "interpreter" => interpreter = Some(PathBuf::from(value)),
                "flags:" => flags = Flags::parse(value)?,
                "offset" => offset = value.trim().parse()?,
                "magic" => magic = Some(hex(value.trim())?),
                "mask" => mask = Some(hex(value.trim())?),
                "extension" => extension = Some(value.trim_start_matches('.').to_string()),
                _ => {}
            }
        }
        if let (Some(magic), Some(mask)) = (&magic, &mask) {
            if magic.len() != mask.len() {
                bail!("binfmt entry '{name}' has a magic and a mask of different lengths");
            }
        }
        let matcher = match (magic, extension) {
            (Some(magic), _) => Matcher::Magic {
                offset,
                magic,
                mask,
            },
            (None, Some(ext)) => Matcher::Extension(ext),
            (None, None) => bail!("binfmt entry '{name}' shows neither magic nor extension"),
        };
        Ok(LiveEntry {
            enabled: enabled
                .ok_or_else(|| anyhow!("binfmt entry '{name}' has no enabled/disabled line"))?,
            entry: Entry {
                name: name.to_string(),
                matcher,
                interpreter: interpreter
                    .ok_or_else(|| anyhow!("binfmt entry '{name}' has no interpreter line"))?,
                flags,
            },
        })
    }
}

/// A representative ELF header of `arch` (the magic bytes themselves).
pub fn sample_header(arch: &Arch) -> Vec<u8> {
    unescape(arch.magic).expect("arch table magic is valid")
}

/// The text of a `binfmt.d` file holding `entry`.
pub fn binfmt_d_text(entry: &Entry) -> String {
    format!(
        "# Written by archbuild: qemu-user for architecture emulation containers.\n\
         # Remove with: archbuild binfmt unregister --persistent\n{}\n",
        entry.register_line()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qemu_lines() -> Vec<(String, String)> {
        include_str!("../../tests/data/qemu-binfmt-table.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                let target = if cols[0] == "i486" { "i386" } else { cols[0] };
                (
                    cols[0].to_string(),
                    format!(
                        ":qemu-{}:M::{}:{}:/usr/bin/qemu-{}:FP",
                        cols[0], cols[2], cols[3], target
                    ),
                )
            })
            .collect()
    }

    #[test]
    fn every_qemu_line_round_trips() {
        let lines = qemu_lines();
        assert_eq!(lines.len(), 34);
        for (target, line) in lines {
            let entry = Entry::parse(&line).unwrap();
            let again = Entry::parse(&entry.register_line()).unwrap();
            assert_eq!(entry, again, "{target}");
            // Letters-and-\xHH is qemu's own spelling except hppa's fully escaped "ELF".
            if target != "hppa" {
                assert_eq!(entry.register_line(), line, "{target}");
            }
            assert!(
                entry.flags.fix_binary && entry.flags.preserve_argv0 && !entry.flags.credentials
            );
        }
    }

    #[test]
    fn flags_parse_and_print_in_qemu_order() {
        assert_eq!(Flags::parse("PF").unwrap().to_string(), "FP");
        assert_eq!(Flags::parse("CF").unwrap().to_string(), "OCF");
        assert!(Flags::parse("C").unwrap().open_binary);
        assert!(Flags::parse("X").is_err());
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in [
            "",
            ":qemu-x:M::\\x7fELF",
            ":a/b:M::\\x7f::/bin/x:",
            ":..:M::\\x7f::/bin/x:",
            ":x:Q::\\x7f::/bin/x:",
            ":x:M::\\x7f\\x45:\\xff:/bin/x:F",
            ":x:M::\\x7f::/bin/x:Z",
            ":x:M::\\xzz::/bin/x:",
            ":x:M::\\x7f:::F",
        ] {
            assert!(Entry::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn live_entry_file_parses() {
        let text = "enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: OCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";
        let live = LiveEntry::parse("qemu-aarch64", text).unwrap();
        assert!(live.enabled);
        assert!(live.entry.flags.credentials && live.entry.flags.fix_binary);
        let aarch64 = crate::arch::lookup("aarch64").unwrap();
        assert!(live.entry.matches_header(&sample_header(aarch64)));
        assert!(!live
            .entry
            .matches_header(&sample_header(crate::arch::lookup("riscv64").unwrap())));
        let ext = LiveEntry::parse(
            "x",
            "disabled\ninterpreter /bin/true\nflags: \nextension .exe\n",
        )
        .unwrap();
        assert!(!ext.enabled);
        assert_eq!(ext.entry.matcher, Matcher::Extension("exe".into()));
    }

    #[test]
    fn hostile_entry_files_are_refused_not_panicked_on() {
        assert!(LiveEntry::parse("x", "enabled\ninterpreter /x\nmagic a\u{e9}\n").is_err());
        assert!(
            LiveEntry::parse("x", "enabled\ninterpreter /x\nmagic 7f454c46\nmask ff\n").is_err()
        );
        let short_mask = Entry {
            name: "x".into(),
            matcher: Matcher::Magic {
                offset: 0,
                magic: vec![0x7f, 0x45],
                mask: Some(vec![0xff]),
            },
            interpreter: "/x".into(),
            flags: Flags::default(),
        };
        assert!(short_mask.matches_header(&[0x7f, 0x45, 0x4c]));
    }

    #[test]
    fn each_arm_flavour_and_aarch64_are_told_apart() {
        let aarch64 = crate::arch::lookup("aarch64").unwrap();
        let arm = crate::arch::lookup("armv7l").unwrap();
        let entry = Entry::for_arch(aarch64, Path::new("/q"), Flags::default());
        assert!(entry.matches_header(&sample_header(aarch64)));
        assert!(!entry.matches_header(&sample_header(arm)));
    }
}
