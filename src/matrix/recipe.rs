//! Which recipe file OBS builds a package from in a repository, as the source server's
//! `findfile` chooses it: by the repository's recipe type, preferring
//! `NAME-REPOSITORY.EXT`, then `NAME.EXT` (and `NAME` without its last `.parts`), then
//! the only `.EXT` file, or among several the only one starting with `NAME` (then
//! `NAME-REPOSITORY`); `debian.control` stands in for a `.dsc`. NAME is the package,
//! or the flavor for a multibuild flavor. No file found: OBS excludes the cell.
//! Source service results (`_service:SERVICE:FILE`) count as `FILE`.

use std::collections::BTreeMap;

/// The recipe file for `name` (package or flavor) in `repository` among `files`, for
/// recipe type `recipe_type`; None when OBS finds none.
pub fn find(files: &[String], name: &str, repository: &str, recipe_type: &str) -> Option<String> {
    if recipe_type.is_empty() || recipe_type == "none" {
        return None;
    }
    // visible name -> real file name
    let mut by_name: BTreeMap<String, String> =
        files.iter().map(|f| (f.clone(), f.clone())).collect();
    if by_name.contains_key("_service") {
        for f in files {
            if let Some(visible) = service_result(f) {
                by_name.remove(f);
                by_name.insert(visible.to_string(), f.clone());
            }
        }
    }
    let get = |n: &str| by_name.get(n).cloned();
    match recipe_type {
        "arch" => return get("PKGBUILD"),
        "apk" => return get("APKBUILD"),
        "helm" => return get("Chart.yaml"),
        "appimage" => return get("appimage.yml"),
        "fissile" => return get("fissile.yml"),
        "snapcraft" => return get("snapcraft.yaml"),
        "docker" => {
            return get(&format!("Dockerfile.{name}-{repository}"))
                .or_else(|| get(&format!("Dockerfile.{name}")))
                .or_else(|| get("Dockerfile"))
        }
        _ => {}
    }
    let ext = recipe_type;
    if let Some(f) =
        get(&format!("{name}-{repository}.{ext}")).or_else(|| get(&format!("{name}.{ext}")))
    {
        return Some(f);
    }
    let mut shorter = name;
    while let Some(i) = shorter.rfind('.') {
        shorter = &shorter[..i];
        if let Some(f) = get(&format!("{shorter}.{ext}")) {
            return Some(f);
        }
    }
    let suffix = format!(".{ext}");
    let mut candidates: Vec<&String> = by_name.keys().filter(|f| f.ends_with(&suffix)).collect();
    if candidates.len() > 1 {
        candidates.retain(|f| starts_with_ignore_case(f, name));
    }
    if candidates.len() > 1 {
        candidates.retain(|f| starts_with_ignore_case(f, &format!("{name}-{repository}")));
    }
    if let [one] = candidates.as_slice() {
        return get(one);
    }
    if ext == "dsc" {
        return get("debian.control");
    }
    None
}

/// `_service:SERVICE:FILE` -> `FILE`.
fn service_result(f: &str) -> Option<&str> {
    let rest = f.strip_prefix("_service:")?;
    rest.rfind(':').map(|i| &rest[i + 1..])
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn choice_table() {
        type Row = (
            &'static [&'static str],
            &'static str,
            &'static str,
            Option<&'static str>,
        );
        let table: &[Row] = &[
            (
                &["hello.spec", "hello.tar.gz"],
                "hello",
                "spec",
                Some("hello.spec"),
            ),
            (
                &["hello.spec", "hello-Debian_12.spec"],
                "hello",
                "spec",
                Some("hello-Debian_12.spec"),
            ),
            (&["other.spec"], "hello", "spec", Some("other.spec")),
            (&["a.spec", "b.spec"], "hello", "spec", None),
            (
                &["a.spec", "hello-extra.spec"],
                "hello",
                "spec",
                Some("hello-extra.spec"),
            ),
            (&["python-foo.spec", "doc.spec"], "python3", "spec", None),
            (
                &["python-foo.spec"],
                "python3",
                "spec",
                Some("python-foo.spec"),
            ),
            (
                &["python-foo.spec", "python3.spec"],
                "python3",
                "spec",
                Some("python3.spec"),
            ),
            (&["libx.1.spec"], "libx.1.2", "spec", Some("libx.1.spec")),
            (&["hello.spec"], "hello", "dsc", None),
            (
                &["hello.dsc", "hello.spec"],
                "hello",
                "dsc",
                Some("hello.dsc"),
            ),
            (
                &["debian.control", "hello.spec"],
                "hello",
                "dsc",
                Some("debian.control"),
            ),
            (
                &["_service", "_service:obs_scm:hello.spec"],
                "hello",
                "spec",
                Some("_service:obs_scm:hello.spec"),
            ),
            (&["PKGBUILD"], "hello", "arch", Some("PKGBUILD")),
            (
                &["Dockerfile", "Dockerfile.hello"],
                "hello",
                "docker",
                Some("Dockerfile.hello"),
            ),
            (&["hello.spec"], "hello", "none", None),
            (&[], "hello", "spec", None),
        ];
        for (names, name, ty, want) in table {
            assert_eq!(
                find(&files(names), name, "Debian_12", ty).as_deref(),
                *want,
                "{names:?} {name} {ty}"
            );
        }
    }
}
