//! The project configuration (prjconf, `_config`, `_buildconfig`), read as obs-build's
//! `Build::read_config` reads it for one scheduler arch:
//!
//! - every line is first run through the rpm macro processor: `%define`/`%global`,
//!   `%name`, `%{name}`, `%{?name}`, `%{!?name}`, `%{?name:text}`, `%{!?name:text}`;
//! - `%if EXPR`, `%ifarch A...`, `%ifnarch A...`, `%ifos`, `%ifnos`, `%elif`, `%else`,
//!   `%endif` decide which lines count; `%ifarch` compares with `%_target_cpu`, which is
//!   the OBS scheduler arch (as the OBS backend sets it), and `%ix86`, `%arm`, ... are
//!   obs-build's standard macros;
//! - `Macros:` ... `:Macros` blocks are rpm macros for the build, not configuration:
//!   skipped;
//! - keywords are case-insensitive; list keywords (`Preinstall`, `Required`, `Support`,
//!   `Runscripts`, `RepoURL`, `ExpandFlags`, ...) accumulate, `!name` removes a name and
//!   `!*` empties the list; `Repotype` replaces; `Type`/`Binarytype` take their first word.

use std::collections::HashMap;

use serde::Serialize;

/// obs-build's standard macros (Build.pm `$std_macros`, synced with rpm).
const STD_MACROS: &[(&str, &str)] = &[
    ("nil", ""),
    ("ix86", "i386 i486 i586 i686 pentium3 pentium4 athlon geode"),
    ("arm", "armv3l armv4b armv4l armv4tl armv5b armv5l armv5teb armv5tel armv5tejl armv6l armv6hl armv7l armv7hl armv7hnl armv5el armv5eb armv6el armv6eb armv7el armv7eb armv7nhl armv8el"),
    ("arml", "armv3l armv4l armv5l armv5tel armv6l armv6hl armv7l armv7hl armv7hnl"),
    ("armb", "armv4b armv5b armv5teb"),
    ("arm64", "aarch64"),
    ("mips32", "mips mipsel mipsr6 mipsr6el"),
    ("mips64", "mips64 mips64el mips64r6 mips64r6el"),
    ("mipseb", "mips mipsr6 mips64 mips64r6"),
    ("mipsel", "mipsel mipsr6el mips64el mips64r6el"),
    ("mips", "%{mips32} %{mips64}"),
    ("sparc", "sparc sparcv8 sparcv9 sparcv9v sparc64 sparc64v"),
    ("alpha", "alpha alphaev56 alphaev6 alphaev67"),
    ("power64", "ppc64 ppc64p7 ppc64le"),
];

/// What a project configuration says about building a root, for one arch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Prjconf {
    /// The scheduler arch the conditionals were evaluated for.
    pub arch: String,
    pub repotype: Vec<String>,
    /// `Type:` as written (`spec`, `dsc`, `arch`, `kiwi`, ...).
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `Binarytype:` as written (`rpm`, `deb`, `arch`).
    pub binarytype: Option<String>,
    pub buildengine: Option<String>,
    pub preinstall: Vec<String>,
    pub vminstall: Vec<String>,
    pub runscripts: Vec<String>,
    pub required: Vec<String>,
    pub support: Vec<String>,
    pub keep: Vec<String>,
    pub repourl: Vec<String>,
    pub expandflags: Vec<String>,
    /// Macro values after the whole file (e.g. `_project`, `_repository`).
    #[serde(skip)]
    pub macros: HashMap<String, String>,
}

impl Prjconf {
    /// Read `text` for scheduler arch `arch`.
    pub fn parse(text: &str, arch: &str) -> Prjconf {
        Prjconf::parse_with(text, arch, &[])
    }

    /// Read `text` with extra macros defined first (`_project`, `_repository`, ...).
    pub fn parse_with(text: &str, arch: &str, defines: &[(&str, &str)]) -> Prjconf {
        let mut m = Macros::standard(arch);
        for (k, v) in defines {
            m.map.insert(k.to_string(), v.to_string());
        }
        let mut conf = Prjconf {
            arch: arch.to_string(),
            ..Prjconf::default()
        };
        let mut skip: u32 = 0;
        let mut in_macros = false;
        for raw in text.lines() {
            let trimmed = raw.trim();
            let lower = trimmed.to_ascii_lowercase();
            if in_macros {
                if lower == ":macros" {
                    in_macros = false;
                }
                continue;
            }
            if lower == "macros:" {
                in_macros = true;
                continue;
            }
            if trimmed.starts_with('#') {
                continue;
            }
            let mut line = raw.to_string();
            if skip == 0 && line.contains('%') {
                line = m.expand(&line, 0);
            }
            let t = line.trim_start();
            if let Some(rest) = directive(t, &["elif", "elifarch", "elifos"]) {
                if skip == 0 {
                    skip = 1;
                }
                if skip <= 2 {
                    skip = 2 - skip;
                }
                if skip != 0 {
                    continue;
                }
                // evaluate as the matching %if
                line = m.expand(&format!("%{}", &rest[3..]), 0);
            } else if directive(t, &["else"]).is_some() {
                if skip <= 2 {
                    skip = 2 - skip;
                }
                continue;
            } else if directive(t, &["endif"]).is_some() {
                skip = skip.saturating_sub(2);
                continue;
            }
            let t = line.trim_start();
            if skip > 0 {
                if t.starts_with("%if") {
                    skip += 2;
                }
                continue;
            }
            let target = m.map.get("_target_cpu").cloned().unwrap_or_default();
            if let Some(args) = t
                .strip_prefix("%ifarch")
                .filter(|a| a.is_empty() || a.starts_with(char::is_whitespace))
            {
                if !args.split_whitespace().any(|a| a == target) {
                    skip = 2;
                }
                continue;
            }
            if let Some(args) = t
                .strip_prefix("%ifnarch")
                .filter(|a| a.is_empty() || a.starts_with(char::is_whitespace))
            {
                if args.split_whitespace().any(|a| a == target) {
                    skip = 2;
                }
                continue;
            }
            if let Some(args) = t
                .strip_prefix("%ifos")
                .filter(|a| a.is_empty() || a.starts_with(char::is_whitespace))
            {
                if !args.split_whitespace().any(|a| a == "linux") {
                    skip = 2;
                }
                continue;
            }
            if let Some(args) = t
                .strip_prefix("%ifnos")
                .filter(|a| a.is_empty() || a.starts_with(char::is_whitespace))
            {
                if args.split_whitespace().any(|a| a == "linux") {
                    skip = 2;
                }
                continue;
            }
            if let Some(expr) = t.strip_prefix("%if") {
                if !expr::truth(expr) {
                    skip = 2;
                }
                continue;
            }
            conf.keyword(t);
        }
        for list in [
            &mut conf.preinstall,
            &mut conf.vminstall,
            &mut conf.runscripts,
            &mut conf.required,
            &mut conf.support,
            &mut conf.keep,
            &mut conf.repotype,
        ] {
            unify(list);
        }
        conf.macros = m.map;
        conf
    }

    fn keyword(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { return };
        let key = first.to_ascii_lowercase();
        let list = match key.as_str() {
            "preinstall:" => &mut self.preinstall,
            "vminstall:" => &mut self.vminstall,
            "runscripts:" => &mut self.runscripts,
            "required:" => &mut self.required,
            "support:" => &mut self.support,
            "keep:" => &mut self.keep,
            "repourl:" => &mut self.repourl,
            "expandflags:" => &mut self.expandflags,
            "repotype:" => {
                self.repotype = words.map(str::to_string).collect();
                return;
            }
            "type:" => {
                self.type_ = words.next().map(str::to_string);
                return;
            }
            "binarytype:" => {
                self.binarytype = words.next().map(str::to_string);
                return;
            }
            "buildengine:" => {
                self.buildengine = words.next().map(str::to_string);
                return;
            }
            _ => return,
        };
        for w in words {
            if w == "!*" {
                list.clear();
            } else if let Some(name) = w.strip_prefix('!') {
                list.retain(|x| x != name);
            } else {
                list.push(w.to_string());
            }
        }
    }

    /// The recipe type: `Type:`, else guessed from the preinstalls as obs-build does.
    pub fn build_type(&self) -> &str {
        if let Some(t) = &self.type_ {
            return t;
        }
        let has = |n: &str| self.preinstall.iter().any(|p| p == n);
        if has("rpm") {
            "spec"
        } else if has("debianutils") {
            "dsc"
        } else if has("pacman") {
            "arch"
        } else {
            "UNDEFINED"
        }
    }

    /// The binary package format: `Binarytype:`, else derived from the type.
    pub fn binary_type(&self) -> &str {
        if let Some(b) = &self.binarytype {
            return b;
        }
        let has = |n: &str| self.preinstall.iter().any(|p| p == n);
        match self.build_type() {
            "spec" => "rpm",
            "dsc" | "collax" | "livebuild" => "deb",
            "arch" => "arch",
            "snapcraft" | "appimage" | "docker" | "fissile" | "kiwi" if has("rpm") => "rpm",
            "snapcraft" | "appimage" | "docker" | "fissile" | "kiwi" if has("debianutils") => "deb",
            "snapcraft" | "appimage" | "docker" | "fissile" | "kiwi" if has("pacman") => "arch",
            _ => "UNDEFINED",
        }
    }

    /// True when `ExpandFlags:` carries `flag` (e.g. `preinstallexpand`).
    pub fn has_expandflag(&self, flag: &str) -> bool {
        self.expandflags.iter().any(|f| f == flag)
    }
}

/// `%name` directive at the start of a line, followed by a word boundary; returns the
/// line from the `%`.
fn directive<'a>(t: &'a str, names: &[&str]) -> Option<&'a str> {
    let rest = t.strip_prefix('%')?;
    for n in names {
        if let Some(after) = rest.strip_prefix(n) {
            if !matches!(after.chars().next(), Some(c) if c.is_ascii_alphanumeric() || c == '_') {
                return Some(t);
            }
        }
    }
    None
}

/// Keep the first of each name, in order (obs-build `unify`).
fn unify(list: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    list.retain(|x| seen.insert(x.clone()));
}

/// The macro table and the expander.
struct Macros {
    map: HashMap<String, String>,
}

const MAX_DEPTH: u32 = 64;

impl Macros {
    fn standard(arch: &str) -> Macros {
        let mut map: HashMap<String, String> = STD_MACROS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("_target_cpu".into(), arch.to_string());
        map.insert("_target_os".into(), "linux".into());
        Macros { map }
    }

    /// Expand the macros in `line`. `%define`/`%global` define and yield the text before them.
    fn expand(&mut self, line: &str, depth: u32) -> String {
        if depth > MAX_DEPTH {
            return line.to_string();
        }
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(r) = after.strip_prefix('%') {
                out.push('%');
                rest = r;
                continue;
            }
            if let Some(inner_start) = after.strip_prefix('{') {
                // find the matching brace
                let mut level = 1;
                let mut end = None;
                for (i, c) in inner_start.char_indices() {
                    match c {
                        '{' => level += 1,
                        '}' => {
                            level -= 1;
                            if level == 0 {
                                end = Some(i);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some(end) = end else {
                    out.push('%');
                    rest = after;
                    continue;
                };
                let inner = &inner_start[..end];
                rest = &inner_start[end + 1..];
                let literal = format!("%{{{inner}}}");
                out.push_str(&self.braced(inner, &literal, depth));
                continue;
            }
            // %[?!]*name
            let name_len = after
                .char_indices()
                .find(|(i, c)| {
                    !(c.is_ascii_alphanumeric()
                        || *c == '_'
                        || ((*c == '?' || *c == '!')
                            && after[..*i].chars().all(|x| x == '?' || x == '!')))
                })
                .map(|(i, _)| i)
                .unwrap_or(after.len());
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
            if test == 0 && (name == "define" || name == "global") {
                self.define(rest, name == "global", depth);
                return out;
            }
            out.push_str(&self.lookup(test, name, None, &format!("%{token}"), depth));
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
            body = self.expand(&body, depth + 1);
        }
        self.map.insert(name, body);
    }

    /// `%{...}` contents.
    fn braced(&mut self, inner: &str, literal: &str, depth: u32) -> String {
        let (head, sep, tail) = match inner.find([':', ' ', '\t']) {
            Some(i) => (&inner[..i], Some(inner.as_bytes()[i]), &inner[i + 1..]),
            None => (inner, None, ""),
        };
        let (test, name) = split_test(head);
        let alt = if sep == Some(b':') { Some(tail) } else { None };
        match (test, name) {
            (0, "defined") | (0, "undefined") if sep.is_some() && sep != Some(b':') => {
                let is = self.map.contains_key(tail.trim());
                return if is == (name == "defined") { "1" } else { "0" }.to_string();
            }
            (0, "expand") => return self.expand(tail, depth + 1),
            (0, "sub") if sep.is_some() && sep != Some(b':') => {
                // %{sub STRING START END}: the 1-based, inclusive substring
                let args: Vec<String> = self
                    .expand(tail, depth + 1)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                if let [s, a, b] = args.as_slice() {
                    let chars: Vec<char> = s.chars().collect();
                    let n = chars.len() as i64;
                    let norm = |x: i64| if x < 0 { n + x + 1 } else { x };
                    if let (Ok(a), Ok(b)) = (a.parse::<i64>(), b.parse::<i64>()) {
                        let (a, b) = (norm(a).max(1), norm(b).min(n));
                        if a > b {
                            return String::new();
                        }
                        return chars[(a - 1) as usize..b as usize].iter().collect();
                    }
                }
                return literal.to_string();
            }
            _ => {}
        }
        self.lookup(test, name, alt, literal, depth)
    }

    /// Resolve a macro reference. `test`: 0 plain, 1 `?`, -1 `!?`.
    fn lookup(
        &mut self,
        test: i32,
        name: &str,
        alt: Option<&str>,
        literal: &str,
        depth: u32,
    ) -> String {
        let value = self.map.get(name).cloned();
        let text = match (value, test) {
            (Some(v), 0) => alt.map(str::to_string).unwrap_or(v),
            (Some(v), 1) => alt.map(str::to_string).unwrap_or(v),
            (Some(_), _) => String::new(),
            (None, 0) => return literal.to_string(),
            (None, 1) => String::new(),
            (None, _) => alt.unwrap_or("").to_string(),
        };
        if text.contains('%') {
            self.expand(&text, depth + 1)
        } else {
            text
        }
    }
}

/// Split `?!name` into (test, name): 1 for `?`, -1 for `!?`/`?!`, 0 for none.
fn split_test(token: &str) -> (i32, &str) {
    let name = token.trim_start_matches(['?', '!']);
    let prefix = &token[..token.len() - name.len()];
    let test = if prefix.contains('!') && prefix.contains('?') {
        -1
    } else if prefix.contains('?') {
        1
    } else {
        0
    };
    (test, name)
}

/// rpm's expression language as obs-build evaluates `%if` (after macro expansion).
mod expr {
    #[derive(Debug, Clone, PartialEq)]
    enum V {
        Num(i64),
        Str(String),
    }

    impl V {
        fn truth(&self) -> bool {
            match self {
                V::Num(n) => *n != 0,
                V::Str(s) => !s.is_empty(),
            }
        }
        fn as_str(&self) -> String {
            match self {
                V::Num(n) => n.to_string(),
                V::Str(s) => s.clone(),
            }
        }
    }

    /// The truth of an `%if` expression; unreadable expressions are false (obs-build skips).
    pub fn truth(s: &str) -> bool {
        let mut p = P {
            s: s.as_bytes(),
            i: 0,
        };
        match p.or() {
            Some(v) => {
                p.ws();
                v.truth()
            }
            None => false,
        }
    }

    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn eat(&mut self, t: &str) -> bool {
            self.ws();
            if self.s[self.i..].starts_with(t.as_bytes()) {
                self.i += t.len();
                true
            } else {
                false
            }
        }
        fn or(&mut self) -> Option<V> {
            let mut v = self.and()?;
            while self.eat("||") {
                let r = self.and()?;
                v = if v.truth() { v } else { r };
            }
            Some(v)
        }
        fn and(&mut self) -> Option<V> {
            let mut v = self.cmp()?;
            while self.eat("&&") {
                let r = self.cmp()?;
                v = if v.truth() { r } else { v };
            }
            Some(v)
        }
        fn cmp(&mut self) -> Option<V> {
            let mut v = self.add()?;
            loop {
                let op = ["==", "!=", ">=", "<=", ">", "<"]
                    .into_iter()
                    .find(|op| self.eat(op));
                let Some(op) = op else { return Some(v) };
                let r = self.add()?;
                let ord = match (&v, &r) {
                    (V::Num(a), V::Num(b)) => a.cmp(b),
                    _ => v.as_str().cmp(&r.as_str()),
                };
                use std::cmp::Ordering::*;
                let b = match op {
                    "==" => ord == Equal,
                    "!=" => ord != Equal,
                    ">=" => ord != Less,
                    "<=" => ord != Greater,
                    ">" => ord == Greater,
                    _ => ord == Less,
                };
                v = V::Num(b as i64);
            }
        }
        fn add(&mut self) -> Option<V> {
            let mut v = self.mul()?;
            loop {
                if self.eat("+") {
                    let r = self.mul()?;
                    v = match (v, r) {
                        (V::Num(a), V::Num(b)) => V::Num(a.wrapping_add(b)),
                        (a, b) => V::Str(a.as_str() + &b.as_str()),
                    };
                } else if self.peek_minus() {
                    self.i += 1;
                    let r = self.mul()?;
                    v = V::Num(num(&v)?.wrapping_sub(num(&r)?));
                } else {
                    return Some(v);
                }
            }
        }
        fn peek_minus(&mut self) -> bool {
            self.ws();
            self.s.get(self.i) == Some(&b'-')
        }
        fn mul(&mut self) -> Option<V> {
            let mut v = self.unary()?;
            loop {
                if self.eat("*") {
                    let r = self.unary()?;
                    v = V::Num(num(&v)?.wrapping_mul(num(&r)?));
                } else if self.eat("/") {
                    let r = num(&self.unary()?)?;
                    if r == 0 {
                        return None;
                    }
                    v = V::Num(num(&v)? / r);
                } else {
                    return Some(v);
                }
            }
        }
        fn unary(&mut self) -> Option<V> {
            self.ws();
            if self.eat("!") {
                let v = self.unary()?;
                return Some(V::Num(!v.truth() as i64));
            }
            if self.peek_minus() {
                self.i += 1;
                let v = self.unary()?;
                return Some(V::Num(-num(&v)?));
            }
            if self.eat("(") {
                let v = self.or()?;
                if !self.eat(")") {
                    return None;
                }
                return Some(v);
            }
            self.ws();
            let rest = &self.s[self.i..];
            match rest.first()? {
                b'"' => {
                    let end = rest[1..].iter().position(|&c| c == b'"')?;
                    let s = String::from_utf8_lossy(&rest[1..1 + end]).into_owned();
                    self.i += end + 2;
                    Some(V::Str(s))
                }
                b'v' if rest.get(1) == Some(&b'"') => {
                    let end = rest[2..].iter().position(|&c| c == b'"')?;
                    let s = String::from_utf8_lossy(&rest[2..2 + end]).into_owned();
                    self.i += end + 3;
                    Some(V::Str(s))
                }
                c if c.is_ascii_digit() => {
                    let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                    let v = std::str::from_utf8(&rest[..n]).ok()?.parse::<i64>().ok()?;
                    self.i += n;
                    Some(V::Num(v))
                }
                c if c.is_ascii_alphabetic() => {
                    let n = rest
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                        .count();
                    let s = String::from_utf8_lossy(&rest[..n]).into_owned();
                    self.i += n;
                    Some(V::Str(s))
                }
                _ => None,
            }
        }
    }

    fn num(v: &V) -> Option<i64> {
        match v {
            V::Num(n) => Some(*n),
            V::Str(s) => s.trim().parse().ok(),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::truth;

        #[test]
        fn expressions() {
            assert!(truth(" 1"));
            assert!(!truth(" 0"));
            assert!(truth(r#" "a" == "a""#));
            assert!(!truth(r#" "a" == "b" || "c" != "c""#));
            assert!(truth(r#" "a" == "b" || "c" == "c""#));
            assert!(truth(" 01"));
            assert!(!truth(" 0 && 1"));
            assert!(truth(" 1500 >= 1315"));
            assert!(truth(" !(1 > 2)"));
            assert!(!truth(" \"\""));
            assert!(!truth(" ==garbage"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TW: &str = include_str!("../../tests/data/obs/prjconf_tumbleweed.txt");
    const DEB: &str = include_str!("../../tests/data/obs/prjconf_debian12.txt");

    #[test]
    fn ifarch_selects_per_arch() {
        let text = "%ifarch aarch64\nRepoURL: http://a/aarch64\n%else\nRepoURL: http://a/other\n%endif\n%ifnarch %ix86 x86_64\nSupport: not-x86\n%endif\n";
        let a = Prjconf::parse(text, "aarch64");
        assert_eq!(a.repourl, ["http://a/aarch64"]);
        assert_eq!(a.support, ["not-x86"]);
        let x = Prjconf::parse(text, "i586");
        assert_eq!(x.repourl, ["http://a/other"]);
        assert!(x.support.is_empty());
    }

    #[test]
    fn if_with_macros_nested_and_elif() {
        let text = "%define suse_version 1699\n%if 0%{?suse_version} >= 1500\nRequired: new\n%if \"%_repository\" == \"images\"\nRequired: image-only\n%else\nRequired: not-image\n%endif\n%elif 1\nRequired: elif-branch\n%else\nRequired: old\n%endif\n%if %{?undefined_thing:1}0\nRequired: never\n%endif\n";
        let c = Prjconf::parse_with(text, "x86_64", &[("_repository", "standard")]);
        assert_eq!(c.required, ["new", "not-image"]);
        let c = Prjconf::parse_with(
            &text.replace("1699", "1315"),
            "x86_64",
            &[("_repository", "images")],
        );
        assert_eq!(c.required, ["elif-branch"]);
    }

    #[test]
    fn keywords_case_insensitive_lists_accumulate_and_remove() {
        let text = "preinstall: a b c\nPREINSTALL: d !b\nPreinstall: a\nSupport: x y\nSupport: !*\nSupport: z\nRepotype: rpm-md\nrepotype: debian\nTYPE: dsc\nbinarytype: deb\nExpandFlags: preinstallexpand\n";
        let c = Prjconf::parse(text, "x86_64");
        assert_eq!(c.preinstall, ["a", "c", "d"]);
        assert_eq!(c.support, ["z"]);
        assert_eq!(c.repotype, ["debian"]);
        assert_eq!(c.build_type(), "dsc");
        assert_eq!(c.binary_type(), "deb");
        assert!(c.has_expandflag("preinstallexpand"));
    }

    #[test]
    fn macros_blocks_are_skipped_and_defines_apply() {
        let text = "Macros:\nRequired: inside-macros\n%define x 1\n:Macros\n%define pkg from-define\nRequired: %pkg %{pkg}-devel %{!?nope:alt} %{?nope:no}\n%if %{defined x}\nRequired: x-defined\n%endif\n";
        let c = Prjconf::parse(text, "x86_64");
        assert_eq!(c.required, ["from-define", "from-define-devel", "alt"]);
    }

    #[test]
    fn tumbleweed_for_aarch64_and_x86_64() {
        let a = Prjconf::parse_with(
            TW,
            "aarch64",
            &[
                ("_project", "home:alice"),
                ("_repository", "openSUSE_Tumbleweed"),
            ],
        );
        assert_eq!(
            a.repourl,
            ["https://download.opensuse.org/ports/aarch64/tumbleweed/repo/oss"]
        );
        assert_eq!(a.repotype, ["rpm-md:sha512:filelists-ext"]);
        assert!(a.preinstall.contains(&"rpm".to_string()));
        assert!(a.preinstall.contains(&"-rpm-config-SUSE".to_string()));
        assert!(a.required.contains(&"rpm-build".to_string()));
        assert!(a.has_expandflag("preinstallexpand"));
        assert_eq!(a.build_type(), "spec");
        assert_eq!(a.binary_type(), "rpm");
        assert_eq!(
            a.macros.get("suse_version").map(String::as_str),
            Some("1699")
        );
        let x = Prjconf::parse(TW, "x86_64");
        assert_eq!(
            x.repourl,
            ["https://download.opensuse.org/tumbleweed/repo/oss"]
        );
        // ExpandFlags: preinstallexpand only outside the ports repository
        let p = Prjconf::parse_with(TW, "aarch64", &[("_repository", "ports")]);
        assert!(!p.has_expandflag("preinstallexpand"));
    }

    #[test]
    fn debian12_is_deb() {
        let c = Prjconf::parse(DEB, "aarch64");
        assert_eq!(c.repotype, ["debian"]);
        assert_eq!(c.build_type(), "dsc");
        assert_eq!(c.binary_type(), "deb");
        assert_eq!(
            c.repourl,
            ["debian@http://ftp.de.debian.org/debian/bookworm/main"]
        );
        assert!(c.preinstall.contains(&"dpkg".to_string()));
        assert_eq!(c.required, ["build-essential"]);
        assert!(c.runscripts.contains(&"base-passwd".to_string()));
    }
}
