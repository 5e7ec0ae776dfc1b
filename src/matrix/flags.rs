//! Enable/disable flags (`<build>`, `<lock>`, ... of a project or package meta) and
//! OBS's precedence among them, as the backend's `BSUtil::enabled` computes it:
//!
//! - only `<enable>`/`<disable>` elements whose `arch` and `repository` attributes match
//!   the cell (or are absent) count;
//! - none counts: the default stands (for a package, the project's result);
//! - each scores 1 for a disable, +2 with an `arch`, +4 with a `repository`;
//! - a disable of score 7 (both attributes) always wins; otherwise an enable wins only
//!   with a strictly higher score than the best disable, so at equal specificity the
//!   disable wins.

/// `<enable>` or `<disable>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Enable,
    Disable,
}

/// One `<enable .../>` or `<disable .../>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub switch: Switch,
    pub arch: Option<String>,
    pub repository: Option<String>,
}

impl Element {
    pub fn new(switch: Switch, repository: Option<&str>, arch: Option<&str>) -> Element {
        Element {
            switch,
            arch: arch.map(str::to_string),
            repository: repository.map(str::to_string),
        }
    }

    /// Does the element count for this repository and arch?
    pub fn matches(&self, repository: &str, arch: &str) -> bool {
        self.arch.as_deref().is_none_or(|a| a == arch)
            && self.repository.as_deref().is_none_or(|r| r == repository)
    }

    /// `BSUtil::enabled`'s score: disable +1, arch +2, repository +4.
    pub fn score(&self) -> u8 {
        u8::from(self.switch == Switch::Disable)
            + if self.arch.is_some() { 2 } else { 0 }
            + if self.repository.is_some() { 4 } else { 0 }
    }

    /// As written in a meta: `<disable arch="aarch64"/>`.
    pub fn xml(&self) -> String {
        let mut s = String::from(match self.switch {
            Switch::Enable => "<enable",
            Switch::Disable => "<disable",
        });
        if let Some(r) = &self.repository {
            s.push_str(&format!(" repository=\"{r}\""));
        }
        if let Some(a) = &self.arch {
            s.push_str(&format!(" arch=\"{a}\""));
        }
        s.push_str("/>");
        s
    }
}

/// What decided a flag for one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No element matched: the default stands.
    Default(bool),
    /// `winner` decided; `rival` is the best matching element of the other switch.
    By {
        winner: Element,
        rival: Option<Element>,
    },
}

impl Outcome {
    pub fn enabled(&self) -> bool {
        match self {
            Outcome::Default(d) => *d,
            Outcome::By { winner, .. } => winner.switch == Switch::Enable,
        }
    }

    /// The reason in words, without the verdict: `<disable arch="x"/> (score 3 beats
    /// <enable/> score 0)`; None for the default.
    pub fn explain(&self) -> Option<String> {
        let Outcome::By { winner, rival } = self else {
            return None;
        };
        let w = winner.score();
        Some(match rival {
            None => format!("{} (score {w}, the only kind that matches)", winner.xml()),
            Some(r) if w == 7 => format!(
                "{} (score 7 always wins, over {} score {})",
                winner.xml(),
                r.xml(),
                r.score()
            ),
            Some(r) if winner.switch == Switch::Disable => format!(
                "{} (score {w} is not beaten by {} score {}: an enable must score higher)",
                winner.xml(),
                r.xml(),
                r.score()
            ),
            Some(r) => format!(
                "{} (score {w} beats {} score {})",
                winner.xml(),
                r.xml(),
                r.score()
            ),
        })
    }
}

/// The best (highest scoring, first written) element of `switch` that matches.
fn best<'a>(
    elements: &'a [Element],
    switch: Switch,
    repository: &str,
    arch: &str,
) -> Option<&'a Element> {
    elements
        .iter()
        .filter(|e| e.switch == switch && e.matches(repository, arch))
        .fold(None, |acc: Option<&Element>, e| match acc {
            Some(a) if a.score() >= e.score() => Some(a),
            _ => Some(e),
        })
}

/// `BSUtil::enabled(repository, elements, default, arch)`, with what decided it.
pub fn enabled(elements: &[Element], default: bool, repository: &str, arch: &str) -> Outcome {
    let dis = best(elements, Switch::Disable, repository, arch);
    let ena = best(elements, Switch::Enable, repository, arch);
    let by = |winner: &Element, rival: Option<&Element>| Outcome::By {
        winner: winner.clone(),
        rival: rival.cloned(),
    };
    match (dis, ena) {
        (None, None) => Outcome::Default(default),
        (Some(d), None) => by(d, None),
        (None, Some(e)) => by(e, None),
        (Some(d), Some(e)) if d.score() == 7 || e.score() <= d.score() => by(d, Some(e)),
        (Some(d), Some(e)) => by(e, Some(d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Switch::{Disable as D, Enable as E};

    fn el(s: Switch, repo: Option<&str>, arch: Option<&str>) -> Element {
        Element::new(s, repo, arch)
    }

    #[test]
    fn scores() {
        let table = [
            (el(D, None, None), 1),
            (el(D, None, Some("x86_64")), 3),
            (el(D, Some("r"), None), 5),
            (el(D, Some("r"), Some("x86_64")), 7),
            (el(E, None, None), 0),
            (el(E, None, Some("x86_64")), 2),
            (el(E, Some("r"), None), 4),
            (el(E, Some("r"), Some("x86_64")), 6),
        ];
        for (e, score) in table {
            assert_eq!(e.score(), score, "{}", e.xml());
        }
    }

    /// (elements, default, repository, arch, enabled?) as `BSUtil::enabled` answers.
    #[test]
    fn precedence_table() {
        let r = Some("openSUSE_Tumbleweed");
        let a = Some("aarch64");
        type Row = (&'static str, Vec<Element>, bool, &'static str, bool);
        let table: Vec<Row> = vec![
            ("no elements: default on", vec![], true, "aarch64", true),
            ("no elements: default off", vec![], false, "aarch64", false),
            (
                "non-matching arch is ignored",
                vec![el(D, None, Some("x86_64"))],
                true,
                "aarch64",
                true,
            ),
            (
                "non-matching repo is ignored",
                vec![el(D, Some("other"), None)],
                true,
                "aarch64",
                true,
            ),
            (
                "plain disable",
                vec![el(D, None, None)],
                true,
                "aarch64",
                false,
            ),
            (
                "plain enable over default off",
                vec![el(E, None, None)],
                false,
                "aarch64",
                true,
            ),
            (
                "equal specificity: disable wins (arch)",
                vec![el(E, None, a), el(D, None, a)],
                true,
                "aarch64",
                false,
            ),
            (
                "equal specificity: disable wins (plain)",
                vec![el(E, None, None), el(D, None, None)],
                true,
                "aarch64",
                false,
            ),
            (
                "equal specificity: disable wins (repo)",
                vec![el(E, r, None), el(D, r, None)],
                true,
                "aarch64",
                false,
            ),
            (
                "arch enable (2) beats plain disable (1)",
                vec![el(D, None, None), el(E, None, a)],
                false,
                "aarch64",
                true,
            ),
            (
                "repo enable (4) beats arch disable (3)",
                vec![el(D, None, a), el(E, r, None)],
                true,
                "aarch64",
                true,
            ),
            (
                "repo disable (5) beats arch enable (2)",
                vec![el(E, None, a), el(D, r, None)],
                true,
                "aarch64",
                false,
            ),
            (
                "repo+arch enable (6) beats repo disable (5)",
                vec![el(D, r, None), el(E, r, a)],
                true,
                "aarch64",
                true,
            ),
            (
                "repo+arch disable (7) always wins",
                vec![el(E, r, a), el(D, r, a)],
                true,
                "aarch64",
                false,
            ),
            (
                "other arch's repo+arch disable does not count",
                vec![el(D, r, Some("x86_64")), el(E, None, None)],
                false,
                "aarch64",
                true,
            ),
            (
                "disable of another repo, enable plain",
                vec![el(D, Some("x"), a), el(E, None, None)],
                false,
                "aarch64",
                true,
            ),
        ];
        for (what, elements, default, arch, want) in table {
            let got = enabled(&elements, default, "openSUSE_Tumbleweed", arch);
            assert_eq!(got.enabled(), want, "{what}: {got:?}");
        }
    }

    #[test]
    fn explanations_name_the_elements() {
        let o = enabled(
            &[el(D, None, Some("aarch64")), el(E, None, None)],
            true,
            "r",
            "aarch64",
        );
        assert_eq!(
            o.explain().unwrap(),
            "<disable arch=\"aarch64\"/> (score 3 is not beaten by <enable/> score 0: an enable must score higher)"
        );
        let o = enabled(
            &[el(D, Some("r"), Some("a")), el(E, Some("r"), Some("a"))],
            true,
            "r",
            "a",
        );
        assert!(o.explain().unwrap().contains("score 7 always wins"));
        let o = enabled(&[el(D, None, None), el(E, Some("r"), None)], true, "r", "a");
        assert_eq!(
            o.explain().unwrap(),
            "<enable repository=\"r\"/> (score 4 beats <disable/> score 1)"
        );
        assert_eq!(enabled(&[], true, "r", "a").explain(), None);
        assert_eq!(
            enabled(&[el(E, None, Some("a"))], false, "r", "a")
                .explain()
                .unwrap(),
            "<enable arch=\"a\"/> (score 2, the only kind that matches)"
        );
    }
}
