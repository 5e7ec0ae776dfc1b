//! What the handler's log says (for `archbuild accel status`): hits and fallbacks per
//! path, and in the profile mode the emulated and native execs with their CPU time,
//! ranked by emulated CPU time: what to accelerate next.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counts per root path.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub hits: u64,
    pub fallbacks: u64,
    /// The reason of the newest fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fallback: Option<String>,
    /// Emulated execs the profile mode timed.
    pub emulated: u64,
    /// Their CPU seconds (user + system), without the processes they waited for where
    /// the handler could tell (`self=`), else with them (`cpu=`).
    pub emulated_cpu: f64,
    /// Their wall seconds (including the processes they waited for).
    pub emulated_wall: f64,
    /// Native execs the profile mode timed, and their CPU seconds.
    pub native: u64,
    pub native_cpu: f64,
    /// Profiled execs that ended by a signal.
    pub signalled: u64,
}

/// One timed exec of the profile mode (a line `... emulated|native <path> self=<s>|-
/// cpu=<s> wall=<s> exit=<n>|signal=<n>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub native: bool,
    pub path: String,
    pub cpu: f64,
    pub wall: f64,
    pub signalled: bool,
}

/// Read the part of a profile line after its kind: the path (which may contain spaces)
/// and the four fields after it.
pub fn parse_timed(native: bool, rest: &str) -> Option<Timed> {
    let mut fields = rest.rsplitn(5, ' ');
    let (ended, wall, cpu, own, path) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let number = |field: &str, key: &str| field.strip_prefix(key)?.parse::<f64>().ok();
    let cpu = number(cpu, "cpu=")?;
    let own = match own.strip_prefix("self=")? {
        "-" => None,
        s => Some(s.parse::<f64>().ok()?),
    };
    let signalled = if let Some(code) = ended.strip_prefix("exit=") {
        code.parse::<i32>().ok()?;
        false
    } else {
        ended.strip_prefix("signal=")?.parse::<i32>().ok()?;
        true
    };
    Some(Timed {
        native,
        path: path.to_string(),
        cpu: own.unwrap_or(cpu),
        wall: number(wall, "wall=")?,
        signalled,
    })
}

/// Summarize log lines (`<time> <pid> hit|fallback|emulated|native <path> <detail>`);
/// lines of another shape are counted as unreadable.
pub fn summarize(log: &str) -> (BTreeMap<String, Counts>, usize) {
    let mut per_path: BTreeMap<String, Counts> = BTreeMap::new();
    let mut unreadable = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.splitn(4, ' ');
        let (Some(_time), Some(_pid), Some(kind), Some(rest)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            unreadable += 1;
            continue;
        };
        if let "emulated" | "native" = kind {
            let Some(timed) = parse_timed(kind == "native", rest) else {
                unreadable += 1;
                continue;
            };
            let counts = per_path.entry(timed.path).or_default();
            if timed.native {
                counts.native += 1;
                counts.native_cpu += timed.cpu;
            } else {
                counts.emulated += 1;
                counts.emulated_cpu += timed.cpu;
                counts.emulated_wall += timed.wall;
            }
            counts.signalled += u64::from(timed.signalled);
            continue;
        }
        let (path, detail) = rest.split_once(' ').unwrap_or((rest, ""));
        match kind {
            "hit" => per_path.entry(path.to_string()).or_default().hits += 1,
            "fallback" => {
                let counts = per_path.entry(path.to_string()).or_default();
                counts.fallbacks += 1;
                counts.last_fallback = Some(detail.to_string());
            }
            _ => unreadable += 1,
        }
    }
    (per_path, unreadable)
}

/// The paths by emulated CPU time, most first (then by name): what to accelerate next.
pub fn by_emulated_cpu(per_path: &BTreeMap<String, Counts>) -> Vec<&str> {
    let mut paths: Vec<&str> = per_path.keys().map(String::as_str).collect();
    paths.sort_by(|a, b| {
        per_path[*b]
            .emulated_cpu
            .total_cmp(&per_path[*a].emulated_cpu)
            .then_with(|| a.cmp(b))
    });
    paths
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

    #[test]
    fn profile_lines_add_up_per_path_and_rank_by_emulated_cpu() {
        let log = "1 2 emulated /usr/bin/perl self=1.500 cpu=9.000 wall=10.000 exit=0\n\
                   1 3 emulated /usr/bin/perl self=- cpu=0.500 wall=0.600 signal=15\n\
                   1 4 emulated /usr/bin/my tool self=3.000 cpu=3.000 wall=3.100 exit=1\n\
                   1 5 hit /usr/bin/as /emul/x/as\n\
                   1 5 native /usr/bin/as self=0.250 cpu=0.250 wall=0.300 exit=0\n\
                   1 6 emulated /usr/bin/dash self=0.100 cpu=0.100 wall=0.100 exit=0\n\
                   1 7 emulated /usr/bin/dash self=x cpu=0.100 wall=0.100 exit=0\n\
                   1 8 emulated /usr/bin/dash self=1 cpu=0.100 wall=0.100 quit\n";
        let (per_path, unreadable) = summarize(log);
        assert_eq!(unreadable, 2);
        let perl = &per_path["/usr/bin/perl"];
        assert_eq!((perl.emulated, perl.signalled), (2, 1));
        assert!(
            (perl.emulated_cpu - 2.0).abs() < 1e-9,
            "self= wins: {perl:?}"
        );
        assert!((perl.emulated_wall - 10.6).abs() < 1e-9);
        let r#as = &per_path["/usr/bin/as"];
        assert_eq!((r#as.hits, r#as.native, r#as.emulated), (1, 1, 0));
        assert!((r#as.native_cpu - 0.25).abs() < 1e-9);
        assert_eq!(
            by_emulated_cpu(&per_path),
            [
                "/usr/bin/my tool",
                "/usr/bin/perl",
                "/usr/bin/dash",
                "/usr/bin/as"
            ]
        );
    }

    #[test]
    fn the_handlers_profile_lines_are_read_back() {
        use super::super::decision::{profile_line, Ended, Measured};
        let m = Measured {
            native: false,
            self_cpu: Some(0.5),
            cpu: 1.0,
            wall: 2.0,
            ended: Ended::Signal(9),
        };
        let line = profile_line(1, 2, "/bin/x y", &m);
        let (_, rest) = line.trim_end().split_once(" emulated ").unwrap();
        assert_eq!(
            parse_timed(false, rest),
            Some(Timed {
                native: false,
                path: "/bin/x y".into(),
                cpu: 0.5,
                wall: 2.0,
                signalled: true
            })
        );
    }
}
