//! What an rpm spec says about arches, read as obs-build's `Build::Rpm::parse` reads it
//! for the scheduler: every line runs through the macro expander (unless an `%if`
//! skips it), `%if`/`%ifarch`/... choose the lines, `@BUILD_FLAVOR@` and `@OBS_PACKAGE@`
//! are replaced in the lines that count, and only the main preamble (before the first
//! `%package` and before any section such as `%description` or `%prep`) gives `Name:`,
//! `ExclusiveArch:` and `ExcludeArch:`. `ExclusiveArch:` with nothing after it excludes
//! every arch. The values are split at blanks (commas are not separators).

use std::collections::VecDeque;

use crate::obs::prjconf::conditionals::{self, State};
use crate::obs::prjconf::macros::Macros;

/// The main preamble's arch limits and name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecArches {
    pub name: Option<String>,
    /// `ExclusiveArch:` values after macros; Some(empty) for an empty `ExclusiveArch:`.
    pub exclusive_arch: Option<Vec<String>>,
    /// `ExcludeArch:` values after macros.
    pub exclude_arch: Option<Vec<String>>,
}

/// The sections that end a preamble (obs-build's list).
const SECTIONS: &[&str] = &[
    "prep",
    "generate_buildrequires",
    "conf",
    "build",
    "install",
    "check",
    "clean",
    "preun",
    "postun",
    "pretrans",
    "posttrans",
    "preuntrans",
    "postuntrans",
    "pre",
    "post",
    "files",
    "changelog",
    "description",
    "triggerpostun",
    "triggerprein",
    "triggerun",
    "triggerin",
    "trigger",
    "verifyscript",
    "sepolicy",
    "filetriggerin",
    "filetrigger",
    "filetriggerun",
    "filetriggerpostun",
    "transfiletriggerin",
    "transfiletrigger",
    "transfiletriggerun",
    "transfiletriggerpostun",
    "end",
    "patchlist",
    "sourcelist",
];

/// Read `text` with `macros` (the repository's recipe macros for the arch); `flavor` is
/// the multibuild flavor ("" for the main package), `package` the OBS package name.
pub fn read(text: &str, mut macros: Macros, flavor: &str, package: &str) -> SpecArches {
    let mut out = SpecArches::default();
    let mut state = State::Taking;
    let mut subpackages = 0usize;
    let mut preamble = true;
    let mut pending_define: Option<String> = None;
    let mut lines: VecDeque<String> = VecDeque::new();
    let mut source = text.lines();
    loop {
        let line = match lines.pop_front() {
            Some(l) => l,
            None => match source.next() {
                Some(l) => l.to_string(),
                None => break,
            },
        };
        // a %define/%global whose line ends in a backslash goes on
        let line = match pending_define.take() {
            Some(start) => start + &line,
            None => line,
        };
        if is_define(&line) && line.ends_with('\\') {
            pending_define = Some(format!("{}\n", &line[..line.len() - 1]));
            continue;
        }
        if line.trim_start().starts_with('#') && !line.starts_with("#!") {
            continue;
        }
        let mut line = if state.taking() && line.contains('%') {
            macros.expand(&line)
        } else {
            line
        };
        if let Some(i) = line.find('\n') {
            // an expansion of several lines: the others are read next
            let rest = line.split_off(i);
            for l in rest[1..].lines().rev() {
                lines.push_front(l.to_string());
            }
        }
        let substitute = |l: String| {
            if l.contains('@') {
                l.replace("@BUILD_FLAVOR@", flavor)
                    .replace("@OBS_PACKAGE@", package)
            } else {
                l
            }
        };
        let Some(line) = conditionals::filter_line(&mut state, line, &mut macros, &substitute)
        else {
            continue;
        };
        let t = line.trim_start();
        if preamble && subpackages == 0 {
            match keyword(&line) {
                Some((key, arg)) => {
                    let key = key.to_ascii_lowercase();
                    match key.as_str() {
                        "name" | "epoch" | "version" | "release" | "disttag" | "url" => {
                            let word = arg.split_whitespace().next().unwrap_or("").to_string();
                            if key == "name" {
                                out.name = Some(word.clone());
                            }
                            macros.map.insert(key.to_ascii_uppercase(), word.clone());
                            macros.map.insert(key, word);
                        }
                        "exclusivearch" => out
                            .exclusive_arch
                            .get_or_insert_with(Vec::new)
                            .extend(arg.split_whitespace().map(str::to_string)),
                        "excludearch" => out
                            .exclude_arch
                            .get_or_insert_with(Vec::new)
                            .extend(arg.split_whitespace().map(str::to_string)),
                        _ => {}
                    }
                }
                None if is_empty_exclusive_arch(&line) => {
                    out.exclusive_arch.get_or_insert_with(Vec::new);
                }
                None => {}
            }
        }
        if let Some(rest) = section(t) {
            if rest == "package" {
                if t["%package".len()..].split_whitespace().any(|w| w != "-n") {
                    subpackages += 1;
                    preamble = true;
                }
            } else {
                preamble = false;
            }
        }
    }
    out
}

fn is_define(line: &str) -> bool {
    let t = line.trim_start();
    ["%define", "%global"].iter().any(|d| {
        t.strip_prefix(d)
            .is_some_and(|r| r.starts_with(char::is_whitespace))
    })
}

/// `KEY: ARG` with KEY at the start of the line and a non-blank ARG (`^(\S+)\s*:\s*(\S.*)`).
fn keyword(line: &str) -> Option<(&str, &str)> {
    let token_end = line.find(char::is_whitespace).unwrap_or(line.len());
    let mut ends: Vec<usize> = line[..token_end]
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    ends.reverse();
    for end in ends {
        let rest = line[end..].trim_start();
        if let Some(arg) = rest.strip_prefix(':') {
            let arg = arg.trim();
            if !arg.is_empty() {
                return Some((&line[..end], arg));
            }
        }
    }
    None
}

fn is_empty_exclusive_arch(line: &str) -> bool {
    line.len() >= "ExclusiveArch".len()
        && line.is_char_boundary("ExclusiveArch".len())
        && line[.."ExclusiveArch".len()].eq_ignore_ascii_case("ExclusiveArch")
        && line["ExclusiveArch".len()..].trim_start().starts_with(':')
}

/// The section a line opens (`%package`, `%description`, ...), by its name.
fn section(t: &str) -> Option<&'static str> {
    let rest = t.strip_prefix('%')?;
    let word_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let word = &rest[..word_end];
    if word == "package" {
        return Some("package");
    }
    SECTIONS.iter().find(|s| **s == word).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::prjconf::macros::work_for;

    fn arches(text: &str, arch: &str, flavor: &str) -> SpecArches {
        read(
            text,
            Macros::standard(arch, work_for(text.len())),
            flavor,
            "pkg",
        )
    }

    fn list(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn exclusive_and_exclude_arch_table() {
        type Row = (
            &'static str,
            &'static str,
            Option<Vec<String>>,
            Option<Vec<String>>,
        );
        let table: Vec<Row> = vec![
            ("absent", "Name: a\nVersion: 1\n", None, None),
            (
                "listed",
                "Name: a\nExclusiveArch: x86_64 aarch64\n",
                list(&["x86_64", "aarch64"]),
                None,
            ),
            (
                "empty excludes all",
                "Name: a\nExclusiveArch:\n",
                list(&[]),
                None,
            ),
            (
                "empty with blanks",
                "Name: a\nexclusivearch:   \n",
                list(&[]),
                None,
            ),
            (
                "two lines add up",
                "ExclusiveArch: x86_64\nExclusiveArch: s390x\n",
                list(&["x86_64", "s390x"]),
                None,
            ),
            (
                "standard macros",
                "ExclusiveArch: %{ix86} %arm64\n",
                list(&[
                    "i386", "i486", "i586", "i686", "pentium3", "pentium4", "athlon", "geode",
                    "aarch64",
                ]),
                None,
            ),
            (
                "spec macros",
                "%define arches riscv64 ppc64le\nExclusiveArch: %arches\n",
                list(&["riscv64", "ppc64le"]),
                None,
            ),
            (
                "global",
                "%global a s390x\nExcludeArch: %{a} %{?nothing}\n",
                None,
                list(&["s390x"]),
            ),
            (
                "in a subpackage: ignored",
                "Name: a\n%package doc\nExclusiveArch: x86_64\nExcludeArch: s390x\n",
                None,
                None,
            ),
            (
                "empty in a subpackage: ignored",
                "Name: a\n%package -n b\nExclusiveArch:\n",
                None,
                None,
            ),
            (
                "after %description: ignored",
                "Name: a\n%description\nExclusiveArch: x86_64\n",
                None,
                None,
            ),
            (
                "inside a false %if",
                "%if 0\nExclusiveArch: x86_64\n%endif\n",
                None,
                None,
            ),
            (
                "inside %ifarch of another arch",
                "%ifarch s390x\nExcludeArch: aarch64\n%else\nExcludeArch: ppc64le\n%endif\n",
                None,
                list(&["ppc64le"]),
            ),
            (
                "commas are not separators",
                "ExclusiveArch: x86_64, aarch64\n",
                list(&["x86_64,", "aarch64"]),
                None,
            ),
            ("comment", "# ExclusiveArch: x86_64\n", None, None),
            (
                "multi-line define: the first line counts",
                "%define arches x86_64 \\\n  aarch64\nExclusiveArch: %arches\n",
                list(&["x86_64"]),
                None,
            ),
        ];
        for (what, text, excl, exclude) in table {
            let a = arches(text, "aarch64", "");
            assert_eq!(a.exclusive_arch, excl, "{what}");
            assert_eq!(a.exclude_arch, exclude, "{what}");
        }
    }

    #[test]
    fn flavor_is_substituted_before_conditionals() {
        let text = "%define flavor @BUILD_FLAVOR@%{nil}\nName: python-foo%{?flavor:-%flavor}\n%if \"%{flavor}\" == \"doc\"\nExclusiveArch: x86_64\n%endif\n%if \"%flavor\" == \"\"\nExcludeArch: s390x\n%endif\n";
        let doc = arches(text, "aarch64", "doc");
        assert_eq!(doc.exclusive_arch, list(&["x86_64"]));
        assert_eq!(doc.exclude_arch, None);
        assert_eq!(doc.name.as_deref(), Some("python-foo-doc"));
        let main = arches(text, "aarch64", "");
        assert_eq!(main.exclusive_arch, None);
        assert_eq!(main.exclude_arch, list(&["s390x"]));
        assert_eq!(main.name.as_deref(), Some("python-foo-"));
    }

    #[test]
    fn name_macro_and_keyword_forms() {
        let a = arches("Name:hello\nExclusiveArch: %{name}-arch\n", "x86_64", "");
        assert_eq!(a.name.as_deref(), Some("hello"));
        assert_eq!(a.exclusive_arch, list(&["hello-arch"]));
        assert_eq!(
            keyword("Source0: http://x/y:z"),
            Some(("Source0", "http://x/y:z"))
        );
        assert_eq!(keyword("a:b: c"), Some(("a:b", "c")));
        assert_eq!(keyword(" Name: x"), None);
        assert_eq!(keyword("Name:"), None);
        let nameless = arches("Summary: s\n", "x86_64", "");
        assert_eq!(nameless.name, None);
    }
}
