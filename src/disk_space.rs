//! Telling a full file system apart from other failures, and saying so in one line:
//! which file system, how much it has, and how much the work needed (as the package
//! manager announced it).

use std::path::Path;

use crate::mountinfo;
use crate::sys::mounts;

/// What a package manager said the operation needs, from one line of its output:
/// zypper's "additional 12.3 MiB will be used", apt's "After this operation, 123 MB of
/// additional disk space will be used.", rpm's "installing package X needs 208KB more
/// space on the / filesystem".
pub fn announced_need(line: &str) -> Option<String> {
    let lower = line.to_lowercase();
    if let Some(i) = lower.find(" more space on the ") {
        let amount = line[..i].rsplit(' ').next()?;
        return amount
            .chars()
            .next()?
            .is_ascii_digit()
            .then(|| amount.to_string());
    }
    let rest = if let Some(i) = lower.find("after this operation, ") {
        &line[i + "after this operation, ".len()..]
    } else if let Some(i) = lower.find("additional ") {
        &line[i + "additional ".len()..]
    } else {
        return None;
    };
    let words: Vec<&str> = rest.split_whitespace().take(2).collect();
    let [number, unit] = words[..] else {
        return None;
    };
    let number = number.trim_end_matches(',');
    (number.chars().next()?.is_ascii_digit()
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ','))
    .then(|| format!("{number} {}", unit.trim_end_matches([',', '.'])))
}

/// True when a line of output says the disk was full.
pub fn says_full(line: &str) -> bool {
    let lower = line.to_lowercase();
    lower.contains("no space left on device")
        || lower.contains("disk quota exceeded")
        || lower.contains("not enough disk space")
        || lower.contains("not enough free space")
        || lower.contains("you don't have enough free space")
        || lower.contains(" more space on the ")
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// When the file system of `path` is full (nearly no space left, or the output said
/// so), the one-line explanation; `needed` is what the tool announced, if it did.
pub fn explain_full(path: &Path, output_said_full: bool, needed: Option<&str>) -> Option<String> {
    let need = match needed {
        Some(n) => format!("the package manager said it needs {n} more"),
        None => "it needs more than that".to_string(),
    };
    explain(
        path,
        output_said_full,
        &need,
        "free space there or use another --location",
    )
}

/// The same for a build root: `installed_kib` is what its packages take installed (from
/// their headers), when known.
pub fn explain_full_build_root(root: &Path, installed_kib: Option<u64>) -> Option<String> {
    let need = match installed_kib {
        Some(kib) => format!(
            "the build's packages need {} installed, plus the build itself",
            mib(kib * 1024)
        ),
        None => "the build needs more than that".to_string(),
    };
    explain(
        root,
        false,
        &need,
        "free space there and build again with --clean, or point osc's build-root elsewhere (osc build --root DIR)",
    )
}

fn explain(path: &Path, output_said_full: bool, need: &str, fix: &str) -> Option<String> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let (free, total) = mounts::space(existing).ok()?;
    let nearly_none = free < (1 << 20).max(total / 100);
    if !nearly_none && !output_said_full {
        return None;
    }
    let (mount_point, fs_type) = mountinfo::read_own()
        .ok()
        .and_then(|table| {
            table
                .into_iter()
                .filter(|m| existing.starts_with(&m.mount_point))
                .max_by_key(|m| m.mount_point.as_os_str().len())
                .map(|m| (m.mount_point.display().to_string(), m.fs_type))
        })
        .unwrap_or_else(|| ("?".into(), "?".into()));
    Some(format!(
        "the file system at {mount_point} ({fs_type}, holding {}) is full: {} free of {}, and {need}; {fix}",
        path.display(),
        mib(free),
        mib(total)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_of_zypper_and_apt_are_read() {
        assert_eq!(
            announced_need("After the operation, additional 12.3 MiB will be used.").as_deref(),
            Some("12.3 MiB")
        );
        assert_eq!(
            announced_need("After this operation, 123 MB of additional disk space will be used.")
                .as_deref(),
            Some("123 MB")
        );
        assert_eq!(announced_need("additional packages: foo"), None);
        let rpm = "installing package busybox-base-1.0-1.aarch64 needs 208KB more space on the / filesystem";
        assert_eq!(announced_need(rpm).as_deref(), Some("208KB"));
        assert!(says_full(rpm));
        assert!(says_full("write error: No space left on device"));
        assert!(!says_full("Installing: bash"));
    }

    #[test]
    fn a_build_root_names_what_its_packages_need() {
        let dir = tempfile::tempdir().unwrap();
        let (free, _) = mounts::space(dir.path()).unwrap();
        if free > 1 << 30 {
            assert_eq!(explain_full_build_root(dir.path(), Some(1024)), None);
        }
    }

    #[test]
    fn a_file_system_with_room_is_not_full() {
        let dir = tempfile::tempdir().unwrap();
        let (free, _) = mounts::space(dir.path()).unwrap();
        if free > 1 << 30 {
            assert_eq!(explain_full(dir.path(), false, None), None);
        }
        let said = explain_full(&dir.path().join("new/root"), true, Some("5 MiB")).unwrap();
        assert!(
            said.contains("is full") && said.contains("5 MiB more"),
            "{said}"
        );
    }
}
