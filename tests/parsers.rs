//! Parsers never panic (issue 13): property tests over generated inputs and mutations of
//! the real documents in tests/data, with modest case counts (the whole file runs in
//! seconds). `bench/fuzz` runs the same targets on millions of inputs.
//!
//! Correctness properties of the prjconf reader ride along: conditionals choose the
//! branch a reference evaluator chooses, macros expand to their values, `%if`
//! arithmetic agrees with Rust's, and a 1 MB prjconf is read completely.

#[path = "../examples/fuzz/targets.rs"]
mod targets;

use proptest::prelude::*;
use proptest::test_runner::Config;

use archbuild::obs::prjconf::Prjconf;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn target(name: &str) -> targets::Target {
    targets::all()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"))
}

/// `cases` mutations of the target's real documents and `cases` inputs made of its
/// dictionary words and random bytes: none may panic.
fn never_panics(name: &str, cases: u32) {
    if name == "state-record" {
        targets::state_dir();
    }
    let t = target(name);
    let mut runner = proptest::test_runner::TestRunner::new(config(cases));
    runner
        .run(&any::<u64>(), |seed| {
            let input = targets::input(&mut targets::Rng::new(seed), &t);
            let panicked = targets::panics(t.run, &input);
            prop_assert!(
                panicked.is_none(),
                "{name} panicked on the mutated input {:?}",
                String::from_utf8_lossy(&input)
            );
            Ok(())
        })
        .unwrap();
    let words = proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(t.dictionary).prop_map(|w| w.as_bytes().to_vec()),
            1 => proptest::collection::vec(any::<u8>(), 0..8),
        ],
        0..48,
    )
    .prop_map(|parts| parts.concat());
    runner
        .run(&words, |input| {
            let panicked = targets::panics(t.run, &input);
            prop_assert!(
                panicked.is_none(),
                "{name} panicked on the generated input {:?}",
                String::from_utf8_lossy(&input)
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn elf_headers() {
    never_panics("elf", 512);
}

#[test]
fn project_meta() {
    never_panics("project-meta", 256);
}

#[test]
fn buildinfo() {
    never_panics("buildinfo", 256);
}

#[test]
fn configuration() {
    never_panics("configuration", 256);
}

#[test]
fn status_documents() {
    never_panics("status", 256);
}

#[test]
fn prjconf() {
    never_panics("prjconf", 256);
}

#[test]
fn oscrc() {
    never_panics("oscrc", 256);
    never_panics("oscrc-passx", 128);
}

#[test]
fn osc_store_files() {
    never_panics("osc-store", 128);
}

#[test]
fn binfmt_register_lines() {
    never_panics("binfmt-line", 512);
}

#[test]
fn binfmt_live_table() {
    never_panics("binfmt-live", 512);
}

#[test]
fn state_records() {
    never_panics("state-record", 128);
}

#[test]
fn obs_build_results() {
    never_panics("build-results", 256);
}

#[test]
fn build_log_lint_counts() {
    never_panics("build-log", 256);
}

// ---- ELF: any header bytes, and headers made with known fields ----

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn elf_fields_are_read_back(
        class in 1u8..=2, endian in 1u8..=2, machine in any::<u16>(),
        phnum in 0u16..4, interp_at in proptest::option::of(0usize..4),
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let big = endian == 2;
        let put16 = |b: &mut Vec<u8>, at: usize, v: u16| {
            b[at..at + 2].copy_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() })
        };
        let put32 = |b: &mut Vec<u8>, at: usize, v: u32| {
            b[at..at + 4].copy_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() })
        };
        let (ehsize, phentsize) = if class == 1 { (52usize, 32u16) } else { (64, 56) };
        let mut b = vec![0u8; ehsize + usize::from(phnum) * usize::from(phentsize)];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = class;
        b[5] = endian;
        put16(&mut b, 18, machine);
        if class == 1 {
            put32(&mut b, 28, ehsize as u32);
            put16(&mut b, 42, phentsize);
            put16(&mut b, 44, phnum);
        } else {
            let off = if big { (ehsize as u64).to_be_bytes() } else { (ehsize as u64).to_le_bytes() };
            b[32..40].copy_from_slice(&off);
            put16(&mut b, 54, phentsize);
            put16(&mut b, 56, phnum);
        }
        for i in 0..usize::from(phnum) {
            let p_type = if interp_at == Some(i) { 3 } else { 1 };
            put32(&mut b, ehsize + i * usize::from(phentsize), p_type);
        }
        b.extend_from_slice(&tail);
        let info = archbuild::elf::parse(std::io::Cursor::new(&b), "generated").unwrap();
        prop_assert_eq!(info.machine, machine);
        prop_assert_eq!(info.dynamic, interp_at.is_some_and(|i| i < usize::from(phnum)));
        // every prefix is an answer or an error, never a panic
        for cut in [0, 4, 51, 52, 63, b.len().saturating_sub(1)] {
            let _ = archbuild::elf::parse(std::io::Cursor::new(&b[..cut.min(b.len())]), "cut");
        }
    }
}

// ---- prjconf: conditionals against a reference evaluator ----

/// A piece of a generated prjconf.
#[derive(Debug, Clone)]
enum Block {
    /// `Required: NAME` (every name is different).
    Line,
    /// `%if`/`%elif` branches with a condition each, and maybe an `%else`.
    If {
        branches: Vec<(Condition, Vec<Block>)>,
        otherwise: Option<Vec<Block>>,
    },
}

#[derive(Debug, Clone, Copy)]
enum Condition {
    Number(bool),
    Arch(bool),
    NotArch(bool),
    Strings(bool),
    Macro(bool),
}

impl Condition {
    fn holds(self) -> bool {
        match self {
            Condition::Number(b)
            | Condition::Arch(b)
            | Condition::NotArch(b)
            | Condition::Strings(b)
            | Condition::Macro(b) => b,
        }
    }
    /// The directive after `%if`/`%elif` (arch is aarch64, `yes` is defined).
    fn text(self, first: bool) -> String {
        let kw = if first { "%if" } else { "%elif" };
        match self {
            Condition::Number(b) => format!("{kw} {}", u8::from(b)),
            Condition::Arch(b) => format!(
                "{kw}arch {}",
                if b { "x86_64 aarch64" } else { "%ix86 s390x" }
            ),
            // rpm has no %elifnarch
            Condition::NotArch(b) if first => {
                format!("%ifnarch {}", if b { "%arm ppc64le" } else { "%arm64" })
            }
            Condition::NotArch(b) => {
                format!("%elifarch {}", if b { "%arm64" } else { "%arm ppc64le" })
            }
            Condition::Strings(b) => format!(
                "{kw} \"%_target_cpu\" {} \"aarch64\"",
                if b { "==" } else { "!=" }
            ),
            Condition::Macro(b) => format!("{kw} 0%{{?{}}}", if b { "yes" } else { "no" }),
        }
    }
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        any::<bool>().prop_map(Condition::Number),
        any::<bool>().prop_map(Condition::Arch),
        any::<bool>().prop_map(Condition::NotArch),
        any::<bool>().prop_map(Condition::Strings),
        any::<bool>().prop_map(Condition::Macro),
    ]
}

fn blocks() -> impl Strategy<Value = Vec<Block>> {
    let leaf = Just(Block::Line);
    let block = leaf.prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            2 => Just(Block::Line),
            1 => (
                proptest::collection::vec((condition(), proptest::collection::vec(inner.clone(), 0..4)), 1..4),
                proptest::option::of(proptest::collection::vec(inner, 0..4)),
            )
                .prop_map(|(branches, otherwise)| Block::If { branches, otherwise }),
        ]
    });
    proptest::collection::vec(block, 0..8)
}

/// Write `blocks` as prjconf text, and the names a reader must take, in order.
fn render(blocks: &[Block], text: &mut String, taken: &mut Vec<String>, live: bool, n: &mut usize) {
    for b in blocks {
        match b {
            Block::Line => {
                *n += 1;
                text.push_str(&format!("Required: p{n}\n"));
                if live {
                    taken.push(format!("p{n}"));
                }
            }
            Block::If {
                branches,
                otherwise,
            } => {
                let mut chosen = false;
                for (i, (c, body)) in branches.iter().enumerate() {
                    text.push_str(&c.text(i == 0));
                    text.push('\n');
                    let this = !chosen && c.holds();
                    chosen |= this;
                    render(body, text, taken, live && this, n);
                }
                if let Some(body) = otherwise {
                    text.push_str("%else\n");
                    render(body, text, taken, live && !chosen, n);
                }
                text.push_str("%endif\n");
            }
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn conditionals_choose_the_branch_a_reference_evaluator_chooses(b in blocks()) {
        let mut text = String::from("%define yes 1\n");
        let mut taken = Vec::new();
        render(&b, &mut text, &mut taken, true, &mut 0);
        let c = Prjconf::parse(&text, "aarch64");
        prop_assert_eq!(c.required, taken, "{}", text);
    }

    #[test]
    fn defined_macros_expand_to_their_values(
        name in "[a-z][a-z0-9_]{0,12}", value in "[A-Za-z0-9.+-]{1,20}", global in any::<bool>(),
    ) {
        prop_assume!(!["define", "global", "expand", "sub", "defined", "undefined"].contains(&name.as_str()));
        let kw = if global { "global" } else { "define" };
        let text = format!(
            "%{kw} {name} {value}\nRequired: %{name} %{{{name}}}x %{{?{name}:alt}} %{{!?{name}:no}}%{{?{name}_undefined}}\n"
        );
        let c = Prjconf::parse(&text, "x86_64");
        prop_assert_eq!(c.required, vec![value.clone(), format!("{value}x"), "alt".to_string()]);
        prop_assert_eq!(c.macros.get(&name), Some(&value));
    }

    #[test]
    fn if_arithmetic_agrees_with_rust(
        a in -100_000i64..100_000, b in -100_000i64..100_000, op in 0usize..4, cmp in 0usize..6,
        c in -100_000i64..100_000,
    ) {
        let (sym, left) = match op {
            0 => ("+", a + b),
            1 => ("-", a - b),
            2 => ("*", a * b),
            _ => ("/", if b == 0 { 0 } else { a / b }),
        };
        let (csym, holds) = [("==", left == c), ("!=", left != c), (">=", left >= c), ("<=", left <= c), (">", left > c), ("<", left < c)][cmp];
        // written as rpm reads negative numbers: unary minus before the digits
        let text = format!("%if {a} {sym} ({b}) {csym} {c}\nRequired: yes\n%endif\n");
        let c = Prjconf::parse(&text, "x86_64");
        let expect_yes = holds && !(op == 3 && b == 0);
        prop_assert_eq!(c.required.len(), usize::from(expect_yes), "{}", text);
    }
}

// ---- a 1 MB prjconf ----

#[test]
fn a_one_megabyte_prjconf_is_read_completely() {
    let mut text = String::from("%define base pkg\n");
    let mut expected_required = 0usize;
    let mut i = 0usize;
    while text.len() < 1 << 20 {
        text.push_str(&format!(
            "%ifarch aarch64\nRequired: %{{base}}-{i} %{{?missing:never}}\n%else\nRequired: other-{i}\n%endif\n%if 0%{{?suse_version}} >= 1500\nRequired: never-{i}\n%endif\nSupport: s{i} !s{}\n# comment {i}\n",
            i.wrapping_sub(1)
        ));
        expected_required += 1;
        i += 1;
    }
    let c = Prjconf::parse(&text, "aarch64");
    assert!(text.len() >= 1 << 20);
    assert_eq!(c.required.len(), expected_required);
    assert_eq!(c.required[0], "pkg-0");
    assert_eq!(c.required.last().unwrap(), &format!("pkg-{}", i - 1));
    // each Support line removes the one before
    assert_eq!(c.support, [format!("s{}", i - 1)]);
    let x = Prjconf::parse(&text, "x86_64");
    assert_eq!(x.required[0], "other-0");
}

// ---- deep nesting: an error or an answer, not a stack overflow ----

#[test]
fn deeply_nested_documents() {
    let deep = |open: &str, close: &str, n: usize| format!("{}{}", open.repeat(n), close.repeat(n));
    let n = 100_000;
    let docs = [
        format!(
            "<project name=\"p\">{}</project>",
            deep("<repository name=\"r\">", "</repository>", n)
        ),
        format!(
            "<project name=\"p\"><description>{}</description></project>",
            deep("<a>", "</a>", n)
        ),
        format!("<configuration>{}</configuration>", deep("<x>", "</x>", n)),
        format!(
            "<status code=\"c\"><details>{}</details></status>",
            deep("<d>", "</d>", n)
        ),
        format!(
            "<buildinfo project=\"p\">{}</buildinfo>",
            deep("<bdep name=\"a\">", "</bdep>", n)
        ),
    ];
    for (i, d) in docs.iter().enumerate() {
        let t = [
            "project-meta",
            "project-meta",
            "configuration",
            "status",
            "buildinfo",
        ][i];
        assert_eq!(targets::panics(target(t).run, d.as_bytes()), None, "{t}");
    }
    targets::state_dir();
    let json = deep("[", "]", n);
    assert_eq!(
        targets::panics(target("state-record").run, json.as_bytes()),
        None
    );
}
