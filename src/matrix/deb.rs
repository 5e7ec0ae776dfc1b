//! What a Debian source package (`.dsc`, or `debian.control`) says about arches, read
//! as obs-build's `Build::Deb::parse` reads it: the first paragraph only (after a PGP
//! armor header), `Source:` as the name, and `Architecture:` with the `linux-` and
//! `any-` parts taken off each value; `any` or `all` among them means every arch, other
//! values are Debian names mapped to OBS arches (`amd64` -> `x86_64`, `arm64` ->
//! `aarch64`, `armhf` -> `armv7hl armv7l`, ...); names it does not know stay as they are
//! (so `kfreebsd-any` never matches).

/// obs-build's `%obs2debian` (OBS arch -> Debian arch).
const OBS_TO_DEBIAN: &[(&str, &str)] = &[
    ("i486", "i386"),
    ("i586", "i386"),
    ("i686", "i386"),
    ("ppc", "powerpc"),
    ("ppc64le", "ppc64el"),
    ("x86_64", "amd64"),
    ("armv4l", "armel"),
    ("armv5l", "armel"),
    ("armv6l", "armel"),
    ("armv7el", "armel"),
    ("armv7l", "armhf"),
    ("armv7hl", "armhf"),
    ("aarch64", "arm64"),
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebArches {
    /// `Source:`.
    pub name: Option<String>,
    /// The `Architecture:` field as written.
    pub field: Option<String>,
    /// The OBS arches it allows; None when it allows every arch (or is absent).
    pub exclusive_arch: Option<Vec<String>>,
}

/// The OBS arches a Debian arch name stands for (obs-build `obsarch`).
fn obs_arches(debian: &str) -> Vec<String> {
    let mut obs: Vec<&str> = OBS_TO_DEBIAN
        .iter()
        .filter(|(_, d)| *d == debian)
        .map(|(o, _)| *o)
        .collect();
    obs.sort_unstable();
    if obs.is_empty() {
        vec![debian.to_string()]
    } else {
        obs.into_iter().map(str::to_string).collect()
    }
}

pub fn read(text: &str) -> DebArches {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.len() > 3 && lines[0].starts_with("-----BEGIN") {
        lines.drain(..3);
    }
    let mut out = DebArches::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.is_empty() {
            break; // end of the first paragraph
        }
        let Some((tag, data)) = line.split_once(':') else {
            continue;
        };
        let mut data = data.to_string();
        while i < lines.len() && lines[i].starts_with(char::is_whitespace) {
            data.push('\n');
            data.push_str(&lines[i][1..]);
            i += 1;
        }
        let data = data.trim();
        match tag.to_ascii_uppercase().as_str() {
            "SOURCE" => out.name = Some(data.to_string()),
            "ARCHITECTURE" => {
                let values: Vec<String> = data
                    .split_whitespace()
                    .map(|a| a.replacen("linux-", "", 1).replacen("any-", "", 1))
                    .collect();
                out.field = Some(data.to_string());
                if values.iter().any(|a| a == "any" || a == "all") {
                    continue;
                }
                let mut obs: Vec<String> = values.iter().flat_map(|a| obs_arches(a)).collect();
                obs.sort();
                obs.dedup();
                out.exclusive_arch = (!obs.is_empty()).then_some(obs);
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_table() {
        type Row = (&'static str, Option<&'static [&'static str]>);
        let table: &[Row] = &[
            ("any", None),
            ("all", None),
            ("any all", None),
            ("linux-any", None),
            ("amd64 arm64", Some(&["aarch64", "x86_64"])),
            ("linux-amd64 any-arm64", Some(&["aarch64", "x86_64"])),
            ("armhf", Some(&["armv7hl", "armv7l"])),
            ("armel", Some(&["armv4l", "armv5l", "armv6l", "armv7el"])),
            ("i386", Some(&["i486", "i586", "i686"])),
            (
                "ppc64el s390x riscv64",
                Some(&["ppc64le", "riscv64", "s390x"]),
            ),
            ("kfreebsd-any", Some(&["kfreebsd-any"])),
            ("amd64 any", None),
            ("", None),
        ];
        for (field, want) in table {
            let d = read(&format!(
                "Format: 3.0 (quilt)\nSource: hello\nArchitecture: {field}\nVersion: 1\n"
            ));
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(d.exclusive_arch, want, "Architecture: {field}");
            assert_eq!(d.name.as_deref(), Some("hello"));
        }
    }

    #[test]
    fn first_paragraph_only_and_pgp_armor() {
        let d = read("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSource: hello\nArchitature-typo: x\n\nPackage: hello\nArchitecture: amd64\n");
        assert_eq!(d.name.as_deref(), Some("hello"));
        assert_eq!(d.exclusive_arch, None, "binary paragraphs do not count");
        let d = read("Source: a\nArchitecture: amd64\n arm64\n");
        assert_eq!(d.exclusive_arch.unwrap(), ["aarch64", "x86_64"]);
        assert_eq!(read("Architecture: any\n").name, None);
    }
}
