//! The flags of a project or package meta document (`GET /source/<project>/_meta`,
//! `GET /source/<project>/<package>/_meta`): `<build>` and `<lock>` with their
//! `<enable>`/`<disable>` elements, the project's `kind` and the package's
//! `<releasename>`. `<publish>`, `<debuginfo>` and `<useforbuild>` decide nothing about
//! what is built and are not read.

use anyhow::{anyhow, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::flags::{Element, Switch};

/// The flags one meta document sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaFlags {
    /// The project's `kind` attribute (`maintenance_release` projects build nothing by
    /// default).
    pub kind: Option<String>,
    pub build: Vec<Element>,
    /// Whether the document has a `<build>` element at all (even an empty one).
    pub has_build: bool,
    pub lock: Vec<Element>,
    /// `<releasename>`: prjconf build lists match it as well as the package name.
    pub releasename: Option<String>,
}

/// Which part of the document the reader is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Build,
    Lock,
    Releasename,
    Other,
}

/// Read the flags of a meta document; `what` names it for errors ("package meta of 'x'").
pub fn parse(text: &str, what: &str) -> Result<MetaFlags> {
    if text.trim().is_empty() {
        return Err(anyhow!(
            "the {what} is empty: the server sent no document; try again"
        ));
    }
    let bad = |e: String| {
        anyhow!("the {what} is not a readable XML document ({e}): the answer was cut off or malformed; try again")
    };
    let mut reader = Reader::from_str(text);
    let mut flags = MetaFlags::default();
    let mut depth = 0usize;
    let mut section = Section::Other;
    let mut saw_root = false;
    loop {
        let event = reader.read_event().map_err(|e| bad(e.to_string()))?;
        match event {
            Event::Start(e) => {
                element(&e, depth, &mut section, &mut flags, &mut saw_root)?;
                depth += 1;
            }
            Event::Empty(e) => {
                element(&e, depth, &mut section, &mut flags, &mut saw_root)?;
                if depth == 1 {
                    section = Section::Other;
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth <= 1 {
                    section = Section::Other;
                }
            }
            Event::Text(t) if depth == 2 && section == Section::Releasename => {
                let t = t.unescape().map_err(|e| bad(e.to_string()))?;
                let t = t.trim();
                if !t.is_empty() {
                    flags.releasename = Some(t.to_string());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root || depth != 0 {
        return Err(bad("no complete root element".into()));
    }
    Ok(flags)
}

fn element(
    e: &BytesStart,
    depth: usize,
    section: &mut Section,
    flags: &mut MetaFlags,
    saw_root: &mut bool,
) -> Result<()> {
    let attr = |name: &[u8]| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
    };
    match depth {
        0 => {
            *saw_root = true;
            flags.kind = attr(b"kind");
        }
        1 => {
            *section = match e.name().as_ref() {
                b"build" => {
                    flags.has_build = true;
                    Section::Build
                }
                b"lock" => Section::Lock,
                b"releasename" => Section::Releasename,
                _ => Section::Other,
            }
        }
        2 => {
            let switch = match e.name().as_ref() {
                b"enable" => Switch::Enable,
                b"disable" => Switch::Disable,
                _ => return Ok(()),
            };
            let el = Element {
                switch,
                arch: attr(b"arch"),
                repository: attr(b"repository"),
            };
            match section {
                Section::Build => flags.build.push(el),
                Section::Lock => flags.lock.push(el),
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_build_and_lock_and_leaves_the_others() {
        let m = parse(
            r#"<package name="hello" project="home:alice">
  <title>Hello</title>
  <releasename>hello-world</releasename>
  <build>
    <disable arch="s390x"/>
    <enable repository="Debian_12" arch="aarch64"></enable>
  </build>
  <publish><disable/></publish>
  <debuginfo><enable/></debuginfo>
  <useforbuild><disable/></useforbuild>
  <lock><enable repository="old"/></lock>
</package>"#,
            "package meta",
        )
        .unwrap();
        assert_eq!(
            m.build,
            [
                Element::new(Switch::Disable, None, Some("s390x")),
                Element::new(Switch::Enable, Some("Debian_12"), Some("aarch64")),
            ]
        );
        assert_eq!(m.lock, [Element::new(Switch::Enable, Some("old"), None)]);
        assert_eq!(m.releasename.as_deref(), Some("hello-world"));
        assert_eq!(m.kind, None);
    }

    #[test]
    fn project_kind_and_errors() {
        let m = parse(
            "<project name='p' kind='maintenance_release'><title/><build/></project>",
            "project meta",
        )
        .unwrap();
        assert_eq!(m.kind.as_deref(), Some("maintenance_release"));
        assert!(m.build.is_empty());
        assert!(m.has_build);
        let e = parse("<project><build>", "project meta of 'p'").unwrap_err();
        assert!(e.to_string().contains("project meta of 'p'"), "{e}");
        assert!(parse("  ", "x").unwrap_err().to_string().contains("empty"));
        // elements nested deeper than a flag's children do not count
        let m = parse(
            "<project><description><build><disable/></build></description></project>",
            "m",
        )
        .unwrap();
        assert!(m.build.is_empty());
        assert!(!m.has_build);
    }
}
