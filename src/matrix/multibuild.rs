//! `_multibuild`: the flavors of a package (`<flavor>`, or the older `<package>`
//! elements, used only when there is no `<flavor>`), as the OBS source server's
//! `BSSrcServer::Multibuild` reads them. Every flavor is one more package `PKG:FLAVOR`
//! in every repository and arch; a document OBS would refuse is ignored (OBS warns and
//! builds no flavors).

use quick_xml::events::Event;
use quick_xml::Reader;

/// The flavors, or why the document is ignored.
pub fn flavors(text: &str) -> Result<Vec<String>, String> {
    let mut reader = Reader::from_str(text);
    let mut depth = 0usize;
    let mut current: Option<(bool, String)> = None;
    let mut flavor = Vec::new();
    let mut package = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().map_err(|e| format!("not XML ({e})"))? {
            Event::Start(e) => {
                if depth == 0 {
                    root = Some(e.name().as_ref().to_vec());
                } else if depth == 1 {
                    match e.name().as_ref() {
                        b"flavor" => current = Some((true, String::new())),
                        b"package" => current = Some((false, String::new())),
                        _ => {}
                    }
                }
                depth += 1;
            }
            Event::Empty(e) if depth == 0 => root = Some(e.name().as_ref().to_vec()),
            Event::Text(t) => {
                if let Some((_, s)) = &mut current {
                    s.push_str(&t.unescape().map_err(|e| e.to_string())?);
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    if let Some((is_flavor, name)) = current.take() {
                        let name = name.trim().to_string();
                        if is_flavor {
                            flavor.push(name);
                        } else {
                            package.push(name);
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if root.as_deref() != Some(b"multibuild") || depth != 0 {
        return Err("not a <multibuild> document".into());
    }
    let names = if flavor.is_empty() { package } else { flavor };
    for n in &names {
        if !valid(n) {
            return Err(format!("'{n}' is not a valid flavor name"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(format!("flavor '{dup}' is listed twice"));
    }
    Ok(names)
}

/// A flavor becomes part of a package name: OBS's package name rules, no `:`.
fn valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with(['_', '.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors_packages_and_refusals() {
        let table: &[(&str, Result<&[&str], &str>)] = &[
            (
                "<multibuild><flavor>python3</flavor><flavor>doc</flavor></multibuild>",
                Ok(&["python3", "doc"]),
            ),
            (
                "<multibuild><package>a</package><package> b </package></multibuild>",
                Ok(&["a", "b"]),
            ),
            (
                "<multibuild><package>a</package><flavor>f</flavor></multibuild>",
                Ok(&["f"]),
            ),
            ("<multibuild/>", Ok(&[])),
            (
                "<multibuild><flavor>a:b</flavor></multibuild>",
                Err("not a valid"),
            ),
            (
                "<multibuild><flavor>a</flavor><flavor>a</flavor></multibuild>",
                Err("twice"),
            ),
            (
                "<other><flavor>a</flavor></other>",
                Err("not a <multibuild>"),
            ),
            ("<multibuild><flavor>a</flavor>", Err("not a <multibuild>")),
        ];
        for (text, want) in table {
            match (flavors(text), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, *w, "{text}"),
                (Err(got), Err(w)) => assert!(got.contains(w), "{text}: {got}"),
                (got, w) => panic!("{text}: got {got:?}, want {w:?}"),
            }
        }
    }
}
