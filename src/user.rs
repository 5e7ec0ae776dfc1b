//! Who invoked archbuild: under sudo (running as root with `$SUDO_USER` naming someone
//! other than root) that is `$SUDO_USER`, otherwise the user archbuild runs as. Every
//! part of archbuild that acts for "the user" (accounts inside, oscrc, file ownership)
//! asks here.

/// `$SUDO_USER` when it names the user archbuild acts for.
pub fn sudo_user_from(sudo_user: Option<&str>, running_as_root: bool) -> Option<String> {
    sudo_user
        .filter(|u| running_as_root && !u.is_empty() && *u != "root")
        .map(str::to_string)
}

/// True when archbuild runs as root.
pub fn is_root() -> bool {
    crate::sys::process::is_root()
}

/// The user archbuild acts for.
pub fn invoking_user() -> String {
    let running_as_root = crate::sys::process::is_root();
    sudo_user_from(std::env::var("SUDO_USER").ok().as_deref(), running_as_root)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "root".to_string())
}

#[cfg(test)]
mod tests {
    use super::sudo_user_from;

    #[test]
    fn sudo_user_counts_only_for_root_and_only_when_it_is_someone_else() {
        assert_eq!(
            sudo_user_from(Some("pkger"), true).as_deref(),
            Some("pkger")
        );
        assert_eq!(sudo_user_from(Some("root"), true), None);
        assert_eq!(sudo_user_from(Some(""), true), None);
        assert_eq!(sudo_user_from(Some("pkger"), false), None);
        assert_eq!(sudo_user_from(None, true), None);
    }
}
