//! The rpm macro expander obs-build runs every prjconf line through: `%define`/`%global`,
//! `%name`, `%{name}`, `%{?name}`, `%{!?name}`, `%{?name:text}`, `%{!?name:text}`,
//! `%{defined x}`, `%{undefined x}`, `%{expand:...}`, `%{sub S A B}` and `%%`.
//!
//! Expansion nests at most [`MAX_DEPTH`] deep (as rpm's), and a whole document gets a
//! fixed amount of work (bytes scanned and copied): macros that double at every level
//! (`%define b %a%a`, `%define c %b%b`, ...) would otherwise take exponential time and
//! memory. When the work is used up, the rest is left unexpanded.

use std::collections::HashMap;

/// obs-build's standard macros (Build.pm `$std_macros`, synced with rpm 4.20.0).
const STD_MACROS: &[(&str, &str)] = &[
    ("nil", ""),
    ("ix86", "i386 i486 i586 i686 pentium3 pentium4 athlon geode"),
    ("x86_64", "x86_64 x86_64_v2 x86_64_v3 x86_64_v4 amd64 em64t"),
    ("arm32", "armv3l armv4b armv4l armv4tl armv5tl armv5tel armv5tejl armv6l armv6hl armv7l armv7hl armv7hnl armv8l armv8hl armv8hnl armv8hcnl"),
    ("arm", "%{arm32}"),
    ("arml", "armv3l armv4l armv5l armv5tel armv6l armv6hl armv7l armv7hl armv7hnl"),
    ("armb", "armv4b armv5b armv5teb"),
    ("arm64", "aarch64"),
    ("mips32", "mips mipsel mipsr6 mipsr6el"),
    ("mips64", "mips64 mips64el mips64r6 mips64r6el"),
    ("mipseb", "mips mipsr6 mips64 mips64r6"),
    ("mipsel", "mipsel mipsr6el mips64el mips64r6el"),
    ("mips", "%{mips32} %{mips64}"),
    ("loongarch64", "loongarch64"),
    ("sparc", "sparc sparcv8 sparcv9 sparcv9v sparc64 sparc64v"),
    ("alpha", "alpha alphaev56 alphaev6 alphaev67"),
    ("power64", "ppc64 ppc64p7 ppc64le"),
    ("riscv32", "riscv32"),
    ("riscv64", "riscv64"),
    ("riscv128", "riscv128"),
    ("riscv", "%{riscv32} %{riscv64} %{riscv128}"),
];

/// How deep macros may expand macros (rpm's limit).
pub const MAX_DEPTH: u32 = 64;

/// The work a document of `len` bytes may cost, in bytes scanned and copied.
pub fn work_for(len: usize) -> usize {
    (16 << 20) + len.saturating_mul(16)
}

/// The macro table and the expander.
pub struct Macros {
    pub map: HashMap<String, String>,
    /// Bytes of work left for the document.
    work_left: usize,
}

/// A macro reference's test: `%name`, `%?name` or `%!?name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    /// Plain: the value, or the reference itself when undefined.
    Plain,
    /// `?`: the value (or the alternative text) when defined, else nothing.
    IfDefined,
    /// `!?`: nothing when defined, else the alternative text.
    IfUndefined,
}

impl Macros {
    /// obs-build's standard macros for scheduler arch `arch`, with `work` bytes of work.
    pub fn standard(arch: &str, work: usize) -> Macros {
        let mut map: HashMap<String, String> = STD_MACROS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("_target_cpu".into(), arch.to_string());
        map.insert("_target_os".into(), "linux".into());
        Macros {
            map,
            work_left: work,
        }
    }

    /// Expand the macros in `line`. `%define`/`%global` define and yield the text before them.
    pub fn expand(&mut self, line: &str) -> String {
        self.expand_at(line, 0)
    }

    /// Take `n` bytes of work; false (and no work left) when there is not that much.
    fn charge(&mut self, n: usize) -> bool {
        match self.work_left.checked_sub(n) {
            Some(left) => {
                self.work_left = left;
                true
            }
            None => {
                self.work_left = 0;
                false
            }
        }
    }

    /// Append an expansion's result; when that is more than the work left, it is
    /// dropped, so that no line grows beyond the document's work.
    fn push_charged(&mut self, out: &mut String, text: &str) {
        if self.charge(text.len()) {
            out.push_str(text);
        }
    }

    fn expand_at(&mut self, line: &str, depth: u32) -> String {
        // scanning the line, its brace table and the copies made of it
        if depth > MAX_DEPTH || !self.charge(2 * line.len() + 1) {
            return line.to_string();
        }
        let mut braces: Option<Braces> = None;
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(pos) = rest.find('%') {
            if self.work_left == 0 {
                break;
            }
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(r) = after.strip_prefix('%') {
                out.push('%');
                rest = r;
                continue;
            }
            if let Some(inner_start) = after.strip_prefix('{') {
                let open = line.len() - inner_start.len() - 1;
                let braces = braces.get_or_insert_with(|| Braces::of(line));
                let Some(close) = braces.close_of(open) else {
                    out.push('%');
                    rest = after;
                    continue;
                };
                let inner = &line[open + 1..close];
                rest = &line[close + 1..];
                let text = self.braced(inner, depth);
                self.push_charged(&mut out, &text);
                continue;
            }
            let name_len = name_length(after);
            if name_len == 0 {
                out.push('%');
                rest = after;
                continue;
            }
            let token = &after[..name_len];
            rest = &after[name_len..];
            let (test, name) = split_test(token);
            if name.is_empty() {
                out.push('%');
                out.push_str(token);
                continue;
            }
            if test == Test::Plain && (name == "define" || name == "global") {
                self.define(rest, name == "global", depth);
                return out;
            }
            let text = self.lookup(test, name, None, || format!("%{token}"), depth);
            self.push_charged(&mut out, &text);
        }
        out.push_str(rest);
        out
    }

    fn define(&mut self, rest: &str, global: bool, depth: u32) {
        let rest = rest.trim_start();
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if name_len == 0 {
            return;
        }
        let name = rest[..name_len].to_string();
        let mut body = &rest[name_len..];
        if body.starts_with('(') {
            // parametric macro: keep the body, arguments are not evaluated here
            body = body.find(')').map(|i| &body[i + 1..]).unwrap_or("");
        }
        let mut body = body.trim().to_string();
        if global {
            body = self.expand_at(&body, depth + 1);
        }
        self.map.insert(name, body);
    }

    /// `%{...}` contents.
    fn braced(&mut self, inner: &str, depth: u32) -> String {
        let literal = || format!("%{{{inner}}}");
        let (head, sep, tail) = match inner.find([':', ' ', '\t']) {
            Some(i) => (&inner[..i], Some(inner.as_bytes()[i]), &inner[i + 1..]),
            None => (inner, None, ""),
        };
        let (test, name) = split_test(head);
        let alt = if sep == Some(b':') { Some(tail) } else { None };
        let plain = test == Test::Plain;
        let with_arguments = sep.is_some() && sep != Some(b':');
        match name {
            "defined" | "undefined" if plain && with_arguments => {
                let is = self.map.contains_key(tail.trim());
                return if is == (name == "defined") { "1" } else { "0" }.to_string();
            }
            "expand" if plain => return self.expand_at(tail, depth + 1),
            "sub" if plain && with_arguments => {
                let expanded = self.expand_at(tail, depth + 1);
                return substring(&expanded).unwrap_or_else(literal);
            }
            _ => {}
        }
        self.lookup(test, name, alt, literal, depth)
    }

    /// Resolve a macro reference.
    /// `literal` makes the reference as written, for when it stays as it is.
    fn lookup(
        &mut self,
        test: Test,
        name: &str,
        alt: Option<&str>,
        literal: impl Fn() -> String,
        depth: u32,
    ) -> String {
        let value = self.map.get(name);
        if !self.charge(value.map_or(0, String::len) + 1) {
            return literal();
        }
        let text = match (self.map.get(name), test) {
            (Some(v), Test::Plain | Test::IfDefined) => alt.unwrap_or(v).to_string(),
            (Some(_), Test::IfUndefined) => String::new(),
            (None, Test::Plain) => return literal(),
            (None, Test::IfDefined) => String::new(),
            (None, Test::IfUndefined) => alt.unwrap_or("").to_string(),
        };
        if text.contains('%') {
            self.expand_at(&text, depth + 1)
        } else {
            text
        }
    }
}

/// Where the `}` that closes each `{` of a line is, counting braces as rpm does (every
/// `{` opens, every `}` closes). Made in one pass, so a line full of unclosed `%{` costs
/// no more than its length.
struct Braces {
    /// (open, close) byte positions, sorted by open.
    pairs: Vec<(usize, usize)>,
}

impl Braces {
    fn of(s: &str) -> Braces {
        let mut pairs = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for (i, b) in s.bytes().enumerate() {
            match b {
                b'{' => open.push(i),
                b'}' => {
                    if let Some(o) = open.pop() {
                        pairs.push((o, i));
                    }
                }
                _ => {}
            }
        }
        pairs.sort_unstable();
        Braces { pairs }
    }

    fn close_of(&self, open: usize) -> Option<usize> {
        let i = self.pairs.binary_search_by_key(&open, |p| p.0).ok()?;
        Some(self.pairs[i].1)
    }
}

/// The length of `[?!]*name` at the start of `after` (the `?`/`!` only before the name).
fn name_length(after: &str) -> usize {
    let mut in_prefix = true;
    after
        .char_indices()
        .find(|&(_, c)| {
            let test_char = in_prefix && (c == '?' || c == '!');
            in_prefix = test_char;
            !(test_char || c.is_ascii_alphanumeric() || c == '_')
        })
        .map(|(i, _)| i)
        .unwrap_or(after.len())
}

/// `%{sub STRING START END}`: the 1-based, inclusive substring; None when the
/// arguments are not three words with two numbers.
fn substring(args: &str) -> Option<String> {
    let args: Vec<&str> = args.split_whitespace().collect();
    let [s, a, b] = args.as_slice() else {
        return None;
    };
    let (a, b) = (a.parse::<i64>().ok()?, b.parse::<i64>().ok()?);
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len() as i64;
    let norm = |x: i64| if x < 0 { n + x + 1 } else { x };
    let (a, b) = (norm(a).max(1), norm(b).min(n));
    if a > b {
        return Some(String::new());
    }
    Some(chars[(a - 1) as usize..b as usize].iter().collect())
}

/// Split `?!name` into its test and the name.
fn split_test(token: &str) -> (Test, &str) {
    let name = token.trim_start_matches(['?', '!']);
    let prefix = &token[..token.len() - name.len()];
    let test = if prefix.contains('!') && prefix.contains('?') {
        Test::IfUndefined
    } else if prefix.contains('?') {
        Test::IfDefined
    } else {
        Test::Plain
    };
    (test, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(lines: &[&str]) -> String {
        let mut m = Macros::standard("aarch64", work_for(1000));
        lines
            .iter()
            .map(|l| m.expand(l))
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn references_tests_and_builtins() {
        assert_eq!(
            expand(&[
                "%define v 1.2",
                "%v %{v} %{?v} %{!?v} %{?v:yes} %{!?v:no} %{?w:x}%{!?w:y} 100%%"
            ]),
            "|1.2 1.2 1.2  yes  y 100%"
        );
        assert_eq!(
            expand(&["%undefined_name %{undefined_name}"]),
            "%undefined_name %{undefined_name}"
        );
        assert_eq!(
            expand(&["%{defined _target_cpu}%{undefined _target_cpu}"]),
            "10"
        );
        assert_eq!(
            expand(&["%{sub abcdef 2 4} %{sub abc -2 -1} %{sub x}"]),
            "bcd bc %{sub x}"
        );
        assert_eq!(
            expand(&["%{expand:%%{_target_cpu}}", "%arm64"]),
            "%{_target_cpu}|aarch64"
        );
        assert_eq!(
            expand(&["%global g %_target_cpu", "%define d %_target_cpu", "%g %d"]),
            "||aarch64 aarch64"
        );
        assert_eq!(expand(&["%{ %{_target_os} }"]), "%{ %{_target_os} }");
    }

    #[test]
    fn doubling_macros_stop_when_the_work_is_used_up() {
        let mut m = Macros::standard("x86_64", work_for(0));
        m.expand("%define a0 xxxxxxxxxxxxxxxx");
        for i in 1..=60 {
            m.expand(&format!("%define a{i} %a{}%a{}", i - 1, i - 1));
        }
        let out = m.expand("%a60");
        assert!(out.len() <= work_for(0) + 8, "{}", out.len());
        assert_eq!(m.expand("%_target_cpu"), "%_target_cpu", "no work left");
    }

    #[test]
    fn long_runs_cost_their_length() {
        let mut m = Macros::standard("x86_64", work_for(0));
        let q = format!("%{}", "?".repeat(1 << 20));
        assert_eq!(m.expand(&q), q);
        let open = "%{".repeat(1 << 19);
        assert_eq!(m.expand(&open), open);
    }
}
