//! Container names become file names under the pin and state directories, so they must
//! be single, harmless path components.

use anyhow::Result;

use crate::error::usage;

/// Accept `name` as a container name or say why not.
pub fn validate(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("'.' and '..' are not names")
    } else if name.contains('/') {
        Some("it contains '/'")
    } else if name.starts_with('-') {
        Some("it starts with '-'")
    } else if name.len() > 64 {
        Some("it is longer than 64 characters")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | ':'))
    {
        Some("use only letters, digits and - _ . + :")
    } else {
        None
    };
    match why {
        Some(why) => Err(usage(format!(
            "invalid container name '{name}': {why}; pick a name like 'aarch64' or 'tw-armv7l'"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn good_names_pass() {
        for name in ["aarch64", "tw-armv7l", "Debian_12.arm64", "x+y:z"] {
            assert!(validate(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn bad_names_are_refused_with_reason() {
        for (name, why) in [
            ("", "empty"),
            ("..", "'.'"),
            (".", "'.'"),
            ("a/b", "'/'"),
            ("../etc", "'/'"),
            ("-rf", "'-'"),
            ("a b", "letters"),
        ] {
            let err = validate(name).unwrap_err().to_string();
            assert!(err.contains(why), "{name}: {err}");
        }
    }
}
