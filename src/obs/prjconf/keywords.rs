//! The keyword lines of a prjconf, case-insensitive: list keywords (`Preinstall`,
//! `Required`, `Support`, `Runscripts`, `RepoURL`, `ExpandFlags`, ...) accumulate, `!name`
//! removes a name and `!*` empties the list; `Repotype` replaces; `Type`, `Binarytype`
//! and `BuildEngine` take their first word. Unknown keywords are ignored.

use std::collections::{HashMap, HashSet};

use super::{BinaryType, Prjconf};

/// A list keyword's names while the file is read. `!name` does not search the list: it
/// notes when the name was removed, and a name stays when it was added after that, so a
/// list of many names with many `!name`s stays linear.
#[derive(Debug, Default)]
struct NameList {
    /// In order, each with when it was added.
    names: Vec<(String, u64)>,
    /// When each name was last removed.
    removed: HashMap<String, u64>,
    /// Counts additions and removals.
    clock: u64,
}

impl NameList {
    fn apply(&mut self, word: &str) {
        self.clock += 1;
        if word == "!*" {
            self.names.clear();
            self.removed.clear();
        } else if let Some(name) = word.strip_prefix('!') {
            self.removed.insert(name.to_string(), self.clock);
        } else {
            self.names.push((word.to_string(), self.clock));
        }
    }

    fn into_names(self) -> Vec<String> {
        let removed = self.removed;
        self.names
            .into_iter()
            .filter(|(n, added)| removed.get(n).is_none_or(|r| added > r))
            .map(|(n, _)| n)
            .collect()
    }
}

/// Keywords read so far.
#[derive(Debug, Default)]
pub struct Keywords {
    preinstall: NameList,
    vminstall: NameList,
    runscripts: NameList,
    required: NameList,
    support: NameList,
    keep: NameList,
    repourl: NameList,
    expandflags: NameList,
    buildflags: NameList,
    target: Option<String>,
    distmacros: Vec<String>,
    repotype: Vec<String>,
    type_: Option<String>,
    binarytype: Option<BinaryType>,
    buildengine: Option<String>,
}

impl Keywords {
    /// Apply one line that counts (after macros and conditionals).
    pub fn line(&mut self, line: &str) {
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
            "buildflags:" => &mut self.buildflags,
            "target:" | "changetarget:" => {
                let t = words.collect::<Vec<_>>().join(" ");
                self.target = (!t.is_empty()).then_some(t);
                return;
            }
            "distmacro:" => {
                let rest = line.trim_start()[first.len()..].trim();
                if !rest.is_empty() {
                    self.distmacros.push(rest.to_string());
                }
                return;
            }
            "repotype:" => {
                self.repotype = words.map(str::to_string).collect();
                return;
            }
            "type:" => {
                self.type_ = words.next().map(str::to_string);
                return;
            }
            "binarytype:" => {
                self.binarytype = words.next().map(BinaryType::from_word);
                return;
            }
            "buildengine:" => {
                self.buildengine = words.next().map(str::to_string);
                return;
            }
            _ => return,
        };
        for w in words {
            list.apply(w);
        }
    }

    /// Put what was read into `conf`; lists of package names keep the first of each.
    pub fn finish(self, conf: &mut Prjconf) {
        conf.preinstall = unify(self.preinstall.into_names());
        conf.vminstall = unify(self.vminstall.into_names());
        conf.runscripts = unify(self.runscripts.into_names());
        conf.required = unify(self.required.into_names());
        conf.support = unify(self.support.into_names());
        conf.keep = unify(self.keep.into_names());
        conf.repotype = unify(self.repotype);
        conf.repourl = self.repourl.into_names();
        conf.expandflags = self.expandflags.into_names();
        conf.buildflags = self.buildflags.into_names();
        conf.target = self.target;
        conf.distmacros = self.distmacros;
        conf.type_ = self.type_;
        conf.binarytype = self.binarytype;
        conf.buildengine = self.buildengine;
    }
}

/// Keep the first of each name, in order (obs-build `unify`).
fn unify(mut list: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    list.retain(|x| seen.insert(x.clone()));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_many_names_stays_linear() {
        let n = 200_000;
        let mut k = Keywords::default();
        let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        k.line(&format!("Required: {}", names.join(" ")));
        let removals: Vec<String> = names.iter().skip(1).map(|p| format!("!{p}")).collect();
        k.line(&format!("required: {} p0", removals.join(" ")));
        let mut c = Prjconf::default();
        k.finish(&mut c);
        assert_eq!(c.required, ["p0"]);
        let mut k = Keywords::default();
        k.line("Support: a b a c");
        k.line("Support: !a d a");
        k.line("Support: !c !x");
        let mut c = Prjconf::default();
        k.finish(&mut c);
        assert_eq!(c.support, ["b", "d", "a"]);
    }
}
