//! What the handler's log says: hits and fallbacks per path (for `archbuild accel status`).

use std::collections::BTreeMap;

use serde::Serialize;

/// Counts per root path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub hits: u64,
    pub fallbacks: u64,
    /// The reason of the newest fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fallback: Option<String>,
}

/// Summarize log lines (`<time> <pid> hit|fallback <path> <detail>`); lines of another
/// shape are counted as unreadable.
pub fn summarize(log: &str) -> (BTreeMap<String, Counts>, usize) {
    let mut per_path: BTreeMap<String, Counts> = BTreeMap::new();
    let mut unreadable = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.splitn(5, ' ');
        let (Some(_time), Some(_pid), Some(kind), Some(path)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            unreadable += 1;
            continue;
        };
        let detail = fields.next().unwrap_or("");
        let counts = per_path.entry(path.to_string()).or_default();
        match kind {
            "hit" => counts.hits += 1,
            "fallback" => {
                counts.fallbacks += 1;
                counts.last_fallback = Some(detail.to_string());
            }
            _ => unreadable += 1,
        }
    }
    (per_path, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_and_fallbacks_per_path() {
        let log = "1 2 hit /usr/bin/gcc-12 /emul/x/gcc\n1 3 hit /usr/bin/gcc-12 /emul/x/gcc\n\
                   2 4 fallback /usr/bin/as the root's file changed: x\nnonsense\n\n";
        let (per_path, unreadable) = summarize(log);
        assert_eq!(unreadable, 1);
        assert_eq!(per_path["/usr/bin/gcc-12"].hits, 2);
        assert_eq!(per_path["/usr/bin/as"].fallbacks, 1);
        assert_eq!(
            per_path["/usr/bin/as"].last_fallback.as_deref(),
            Some("the root's file changed: x")
        );
    }
}
