//! Which prjconf lines count: `%if EXPR`, `%ifarch A...`, `%ifnarch A...`, `%ifos`,
//! `%ifnos`, `%elif`/`%elifarch`/`%elifos`, `%else`, `%endif`, with obs-build's
//! `read_config` semantics (including its quirks: a stray `%else` outside any `%if`
//! starts skipping, a stray `%endif` is ignored).
//!
//! obs-build keeps one counter; here it is a [`State`]: lines are taken, or skipped
//! because the innermost conditional is still looking for its branch or has had it,
//! under some number of `%if`s opened inside the skipped lines.

/// Where the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Lines count (outside any conditional, or in the branch that was chosen).
    Taking,
    /// Lines are skipped; `nested` counts the `%if`s opened inside the skipped lines,
    /// each waiting for its own `%endif` before `why` is back in charge.
    Skipping { why: Skip, nested: u32 },
}

/// Why the lines of the innermost conditional are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No branch was chosen yet: an `%elif` that holds or an `%else` opens one.
    Seeking,
    /// A branch was chosen already: everything up to the `%endif` is skipped.
    Done,
}

/// A line that moves between branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control<'a> {
    /// `%elif...`: the line from the `%`.
    Elif(&'a str),
    Else,
    Endif,
}

/// A line that opens a conditional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test<'a> {
    /// `%ifarch ARCH...`: holds when one is the target arch.
    Arch(&'a str),
    /// `%ifnarch ARCH...`
    NotArch(&'a str),
    /// `%ifos OS...`: holds when one is `linux`.
    Os(&'a str),
    /// `%ifnos OS...`
    NotOs(&'a str),
    /// `%if EXPR`
    Expr(&'a str),
}

impl<'a> Test<'a> {
    /// Does the test hold for target arch `target`? `expr` evaluates `%if` expressions.
    pub fn holds(&self, target: &str, expr: impl Fn(&str) -> bool) -> bool {
        let any = |words: &str, w: &str| words.split_whitespace().any(|a| a == w);
        match *self {
            Test::Arch(a) => any(a, target),
            Test::NotArch(a) => !any(a, target),
            Test::Os(o) => any(o, "linux"),
            Test::NotOs(o) => !any(o, "linux"),
            Test::Expr(e) => expr(e),
        }
    }
}

/// `%elif`, `%else` or `%endif` at the start of `t` (leading blanks removed).
pub fn control(t: &str) -> Option<Control<'_>> {
    if directive(t, &["elif", "elifarch", "elifos"]) {
        Some(Control::Elif(t))
    } else if directive(t, &["else"]) {
        Some(Control::Else)
    } else if directive(t, &["endif"]) {
        Some(Control::Endif)
    } else {
        None
    }
}

/// The conditional `t` opens, if it opens one.
pub fn test(t: &str) -> Option<Test<'_>> {
    let word = |name: &str| {
        t.strip_prefix(name)
            .filter(|a| a.is_empty() || a.starts_with(char::is_whitespace))
    };
    if let Some(a) = word("%ifarch") {
        Some(Test::Arch(a))
    } else if let Some(a) = word("%ifnarch") {
        Some(Test::NotArch(a))
    } else if let Some(o) = word("%ifos") {
        Some(Test::Os(o))
    } else if let Some(o) = word("%ifnos") {
        Some(Test::NotOs(o))
    } else {
        t.strip_prefix("%if").map(Test::Expr)
    }
}

/// Does a skipped line open a conditional (which then needs its own `%endif`)?
pub fn opens(t: &str) -> bool {
    t.starts_with("%if")
}

/// `%name` at the start of a line, followed by a word boundary.
fn directive(t: &str, names: &[&str]) -> bool {
    let Some(rest) = t.strip_prefix('%') else {
        return false;
    };
    names.iter().any(|n| {
        rest.strip_prefix(n).is_some_and(|after| {
            !matches!(after.chars().next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

impl State {
    pub fn taking(&self) -> bool {
        *self == State::Taking
    }

    /// An `%elif`: true when its condition is to be evaluated (as an `%if` would be).
    pub fn elif(&mut self) -> bool {
        *self = match *self {
            State::Taking => State::done(),
            State::Skipping {
                why: Skip::Seeking,
                nested: 0,
            } => State::Taking,
            other => other,
        };
        self.taking()
    }

    /// An `%else`.
    pub fn else_(&mut self) {
        *self = match *self {
            State::Taking => State::seeking(),
            State::Skipping {
                why: Skip::Seeking,
                nested: 0,
            } => State::Taking,
            other => other,
        };
    }

    /// An `%endif`.
    pub fn endif(&mut self) {
        *self = match *self {
            State::Skipping { why, nested } if nested > 0 => State::Skipping {
                why,
                nested: nested - 1,
            },
            _ => State::Taking,
        };
    }

    /// A conditional opened while taking lines: its test held or not.
    pub fn open(&mut self, holds: bool) {
        if !holds {
            *self = State::seeking();
        }
    }

    /// A conditional opened inside skipped lines.
    pub fn open_skipped(&mut self) {
        if let State::Skipping { nested, .. } = self {
            *nested = nested.saturating_add(1);
        }
    }

    fn seeking() -> State {
        State::Skipping {
            why: Skip::Seeking,
            nested: 0,
        }
    }

    fn done() -> State {
        State::Skipping {
            why: Skip::Done,
            nested: 0,
        }
    }
}

/// Run one macro-expanded line through the conditionals, as obs-build's readers do for
/// the prjconf and for recipes: `%elif`/`%else`/`%endif` and `%if` lines change `state`
/// and are consumed, lines in a skipped branch are consumed, and a taken content line
/// comes back (after `rewrite`, which runs before the line is tested as an `%if`:
/// obs-build replaces `@BUILD_FLAVOR@` there).
pub fn filter_line(
    state: &mut State,
    mut line: String,
    macros: &mut super::macros::Macros,
    rewrite: &dyn Fn(String) -> String,
) -> Option<String> {
    match control(line.trim_start()) {
        Some(Control::Elif(directive)) => {
            if !state.elif() {
                return None;
            }
            // evaluated as the matching %if: "%elifarch" -> "%ifarch"
            line = macros.expand(&format!("%{}", &directive[3..]));
        }
        Some(Control::Else) => {
            state.else_();
            return None;
        }
        Some(Control::Endif) => {
            state.endif();
            return None;
        }
        None => {}
    }
    if !state.taking() {
        if opens(line.trim_start()) {
            state.open_skipped();
        }
        return None;
    }
    let line = rewrite(line);
    if let Some(t) = test(line.trim_start()) {
        let target = macros.map.get("_target_cpu").cloned().unwrap_or_default();
        state.open(t.holds(&target, super::expr::truth));
        return None;
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_of_one_conditional() {
        let mut s = State::Taking;
        s.open(false);
        assert_eq!(s, State::seeking());
        assert!(s.elif(), "a seeking %elif is evaluated");
        s.open(true);
        assert!(s.taking());
        assert!(!s.elif(), "after the chosen branch, %elif skips");
        assert_eq!(s, State::done());
        s.else_();
        assert_eq!(s, State::done());
        s.endif();
        assert!(s.taking());
    }

    #[test]
    fn nested_conditionals_inside_skipped_lines() {
        let mut s = State::Taking;
        s.open(false);
        s.open_skipped();
        s.else_();
        assert!(!s.elif());
        assert!(!s.taking());
        s.endif();
        s.else_();
        assert!(s.taking());
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(control("%elifarch x"), Some(Control::Elif("%elifarch x")));
        assert_eq!(control("%else"), Some(Control::Else));
        assert_eq!(control("%endif # c"), Some(Control::Endif));
        assert_eq!(control("%elsewhere"), None);
        assert_eq!(test("%ifarch a b"), Some(Test::Arch(" a b")));
        assert_eq!(test("%ifnarch"), Some(Test::NotArch("")));
        assert_eq!(test("%if 1"), Some(Test::Expr(" 1")));
        assert_eq!(test("Required: x"), None);
        assert!(Test::NotOs(" hurd").holds("x", |_| false));
    }
}
