//! `--report junit=PATH`: the batch as JUnit XML, valid against the Jenkins JUnit schema
//! (jenkinsci/xunit-plugin `junit-10.xsd`, kept in tests/data/junit/).
//!
//! One `<testsuite>` per package (in the order the packages first appear), one
//! `<testcase classname="package[:flavor]" name="repository/arch">` per cell:
//! - succeeded: a plain testcase;
//! - excluded, disabled, locked, skipped: `<skipped message="RULE"/>`;
//! - failed, unresolvable, broken: `<failure message="RULE" type="CODE">` with the tail
//!   of the log (or the rule, when there is no log) as text;
//! - infrastructure, cancelled: `<error message="RULE" type="CODE">`, the same text.
//!
//! A cell with a log names it in `<system-out>`. Characters XML 1.0 cannot hold (control
//! characters other than tab, newline and carriage return; U+FFFE, U+FFFF) become U+FFFD;
//! colour escapes of the log are dropped.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::outcome::{CellOutcome, Code};

/// How much of a log's end a failure shows.
pub const TAIL_LINES: usize = 60;
const TAIL_BYTES: u64 = 64 * 1024;

/// The last [`TAIL_LINES`] lines of a log (of its last 64 KiB), read leniently: a log that
/// cannot be read gives a sentence saying so. The `log_tail` for [`render`].
pub fn read_log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    match read() {
        Ok(bytes) => tail(&String::from_utf8_lossy(&bytes), TAIL_LINES),
        Err(e) => format!("(the log {} cannot be read: {e})", path.display()),
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What kind of JUnit result a code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Passed,
    Skipped,
    Failure,
    Error,
}

fn kind(code: Code) -> Kind {
    match code {
        Code::Succeeded => Kind::Passed,
        Code::Excluded | Code::Disabled | Code::Locked | Code::Skipped => Kind::Skipped,
        Code::Failed | Code::Unresolvable | Code::Broken => Kind::Failure,
        Code::Infrastructure | Code::Cancelled => Kind::Error,
    }
}

/// Text as XML 1.0 can hold it: forbidden characters replaced, CSI escapes dropped.
fn xml_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                for f in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&f) {
                        break;
                    }
                }
            }
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

/// Escape for element text (a carriage return kept as one).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in xml_chars(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escape for a double-quoted attribute value (white space kept as written).
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in text(s).chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            _ => out.push(c),
        }
    }
    out
}

/// Seconds as the schema's `SUREFIRE_TIME` (digits, a dot, digits).
fn seconds(s: f64) -> String {
    format!("{:.3}", if s.is_finite() && s > 0.0 { s } else { 0.0 })
}

#[derive(Default)]
struct Totals {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    time: f64,
}

impl Totals {
    fn add(&mut self, o: &CellOutcome) {
        self.tests += 1;
        match kind(o.code) {
            Kind::Failure => self.failures += 1,
            Kind::Error => self.errors += 1,
            Kind::Skipped => self.skipped += 1,
            Kind::Passed => {}
        }
        self.time += o
            .duration
            .filter(|d| d.is_finite() && *d > 0.0)
            .unwrap_or(0.0);
    }
}

fn testcase(o: &CellOutcome, log_tail: &dyn Fn(&Path) -> String, out: &mut String) {
    out.push_str(&format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        attr(&o.cell.obs_name()),
        attr(&format!("{}/{}", o.cell.repository, o.cell.arch)),
        seconds(o.duration.unwrap_or(0.0))
    ));
    let body = match kind(o.code) {
        Kind::Passed => String::new(),
        Kind::Skipped => format!("      <skipped message=\"{}\"/>\n", attr(&o.rule)),
        k => {
            let element = if k == Kind::Failure {
                "failure"
            } else {
                "error"
            };
            let detail = match &o.log {
                Some(log) => log_tail(log),
                None => o.rule.clone(),
            };
            format!(
                "      <{element} message=\"{}\" type=\"{}\">{}</{element}>\n",
                attr(&o.rule),
                o.code,
                text(&detail)
            )
        }
    };
    let body = match &o.log {
        Some(log) => format!(
            "{body}      <system-out>log: {}</system-out>\n",
            text(&log.display().to_string())
        ),
        None => body,
    };
    if body.is_empty() {
        out.push_str("/>\n");
    } else {
        out.push_str(">\n");
        out.push_str(&body);
        out.push_str("    </testcase>\n");
    }
}

/// The JUnit document of a batch. `log_tail` gives the text shown for a failed cell's
/// log ([`read_log_tail`] in a batch; anything in tests).
pub fn render(outcomes: &[CellOutcome], log_tail: &dyn Fn(&Path) -> String) -> String {
    let mut packages: Vec<&str> = Vec::new();
    for o in outcomes {
        if !packages.contains(&o.cell.package.as_str()) {
            packages.push(&o.cell.package);
        }
    }
    let mut all = Totals::default();
    let mut suites = String::new();
    for package in packages {
        let mut totals = Totals::default();
        let mut cases = String::new();
        for o in outcomes.iter().filter(|o| o.cell.package == package) {
            totals.add(o);
            all.add(o);
            testcase(o, log_tail, &mut cases);
        }
        suites.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n{cases}  </testsuite>\n",
            attr(package),
            totals.tests,
            totals.failures,
            totals.errors,
            totals.skipped,
            seconds(totals.time)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"archbuild batch\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">\n{suites}</testsuites>\n",
        all.tests,
        all.failures,
        all.errors,
        seconds(all.time)
    )
}

#[cfg(test)]
mod tests {
    use quick_xml::events::Event;
    use quick_xml::Reader;

    use super::*;
    use crate::batch::results_table::tests::outcome;

    fn all_codes() -> Vec<CellOutcome> {
        let mut v: Vec<CellOutcome> = Code::ALL
            .iter()
            .map(|c| outcome("hello", "Debian_12", c.as_str(), *c))
            .collect();
        v.push(outcome(
            "world:doc",
            "openSUSE_Tumbleweed",
            "aarch64",
            Code::Failed,
        ));
        v
    }

    /// An element read back: name, attributes, text.
    type Element = (String, Vec<(String, String)>, String);

    /// Every element, read back with quick-xml.
    fn elements(xml: &str) -> Vec<Element> {
        let mut reader = Reader::from_str(xml);
        let mut out: Vec<Element> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        loop {
            let (e, empty) = match reader.read_event().unwrap() {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::Text(t) => {
                    if let Some(&i) = open.last() {
                        out[i].2.push_str(&t.unescape().unwrap());
                    }
                    continue;
                }
                Event::End(_) => {
                    open.pop();
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            let attrs = e
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    (
                        String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                        a.unescape_value().unwrap().into_owned(),
                    )
                })
                .collect();
            out.push((name, attrs, String::new()));
            if !empty {
                open.push(out.len() - 1);
            }
        }
        out
    }

    fn attr_of<'a>(e: &'a Element, k: &str) -> &'a str {
        e.1.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k} on <{}>", e.0))
    }

    #[test]
    fn suites_per_package_cases_per_cell_with_the_counts() {
        let xml = render(&all_codes(), &|p| format!("tail of {}", p.display()));
        let els = elements(&xml);
        let suites: Vec<_> = els.iter().filter(|e| e.0 == "testsuite").collect();
        assert_eq!(suites.len(), 2, "{xml}");
        assert_eq!(attr_of(suites[0], "name"), "hello");
        assert_eq!(attr_of(suites[0], "tests"), "10");
        assert_eq!(attr_of(suites[0], "failures"), "3");
        assert_eq!(attr_of(suites[0], "errors"), "2");
        assert_eq!(attr_of(suites[0], "skipped"), "4");
        // succeeded, failed, unresolvable, cancelled, infrastructure ran: 5 x 65.4 s
        assert_eq!(attr_of(suites[0], "time"), "327.000");
        assert_eq!(attr_of(suites[1], "name"), "world");
        let root = &els[0];
        assert_eq!(root.0, "testsuites");
        assert_eq!(attr_of(root, "tests"), "11");
        assert_eq!(attr_of(root, "failures"), "4");
        let cases: Vec<_> = els.iter().filter(|e| e.0 == "testcase").collect();
        assert_eq!(cases.len(), 11);
        assert_eq!(attr_of(cases[10], "classname"), "world:doc");
        assert_eq!(attr_of(cases[10], "name"), "openSUSE_Tumbleweed/aarch64");
        assert_eq!(attr_of(cases[1], "name"), "Debian_12/failed");
    }

    #[test]
    fn each_code_is_passed_skipped_failure_or_error() {
        let xml = render(&all_codes(), &|p| format!("tail of {}", p.display()));
        let els = elements(&xml);
        let inside = |code: Code| -> Vec<&Element> {
            let at = els
                .iter()
                .position(|e| {
                    e.0 == "testcase" && attr_of(e, "name") == format!("Debian_12/{code}")
                })
                .unwrap();
            els[at + 1..]
                .iter()
                .take_while(|e| e.0 != "testcase" && e.0 != "testsuite")
                .collect()
        };
        assert_eq!(inside(Code::Succeeded).len(), 1, "system-out only");
        for code in [Code::Excluded, Code::Disabled, Code::Locked, Code::Skipped] {
            let e = inside(code);
            assert_eq!(e[0].0, "skipped", "{code}");
            assert!(attr_of(e[0], "message").starts_with(code.as_str()));
        }
        for (code, element) in [
            (Code::Failed, "failure"),
            (Code::Unresolvable, "failure"),
            (Code::Broken, "failure"),
            (Code::Infrastructure, "error"),
            (Code::Cancelled, "error"),
        ] {
            let e = inside(code);
            assert_eq!(e[0].0, element, "{code}");
            assert_eq!(attr_of(e[0], "type"), code.as_str());
            if code == Code::Broken {
                // no log: the rule is the text
                assert_eq!(e[0].2, "broken: the rule of hello Debian_12/broken");
            } else {
                assert_eq!(
                    e[0].2,
                    format!("tail of /var/tmp/archbuild-hello-{code}.log")
                );
            }
        }
    }

    #[test]
    fn special_and_forbidden_characters_survive_or_are_replaced() {
        let mut o = all_codes();
        o[1].rule = "failed: <a href=\"x\">&'\t\n\r\u{0}\u{7}</a> ]]> \u{fffe}".into();
        o[1].cell.package = "he&llo<".into();
        let nasty =
            "line 1 <tag> & \"q\" ]]>\n\u{1b}[1;31mred\u{1b}[0m \u{8}\u{c}\u{1f}\r\nend\u{ffff}";
        let xml = render(&o, &|_| nasty.to_string());
        assert!(!xml
            .chars()
            .any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r')));
        let els = elements(&xml);
        let failure = els
            .iter()
            .find(|e| e.0 == "failure" && attr_of(e, "type") == "failed")
            .unwrap();
        assert_eq!(
            attr_of(failure, "message"),
            "failed: <a href=\"x\">&'\t\n\r\u{fffd}\u{fffd}</a> ]]> \u{fffd}"
        );
        assert_eq!(
            failure.2,
            "line 1 <tag> & \"q\" ]]>\nred \u{fffd}\u{fffd}\u{fffd}\r\nend\u{fffd}"
        );
        assert!(els
            .iter()
            .any(|e| e.0 == "testsuite" && attr_of(e, "name") == "he&llo<"));
    }

    #[test]
    fn the_tail_of_a_log_file_is_its_last_lines() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("build.log");
        let text: String = (1..=200).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, text).unwrap();
        let t = read_log_tail(&log);
        assert_eq!(t.lines().count(), TAIL_LINES);
        assert!(
            t.starts_with("line 141\n") && t.ends_with("line 200"),
            "{t}"
        );
        let missing = read_log_tail(&d.path().join("gone.log"));
        assert!(missing.contains("cannot be read"), "{missing}");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("", 5), "");
    }

    #[test]
    fn an_empty_batch_is_an_empty_valid_document() {
        let xml = render(&[], &|_| String::new());
        assert!(
            xml.contains("<testsuites name=\"archbuild batch\" tests=\"0\""),
            "{xml}"
        );
        assert_eq!(elements(&xml).len(), 1);
    }
}
