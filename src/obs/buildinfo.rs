//! `_buildinfo` (`POST /build/<prj>/<repo>/<arch>/<pkg>/_buildinfo`): the resolved
//! build dependencies of a package, as the backend computes them.

use serde::Deserialize;

use super::xml::flag;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BuildInfo {
    #[serde(rename = "@project", default)]
    pub project: String,
    #[serde(rename = "@repository", default)]
    pub repository: String,
    #[serde(rename = "@package", default)]
    pub package: String,
    #[serde(rename = "@downloadurl", default)]
    pub downloadurl: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
    /// Set when the backend could not resolve the build (`unresolvable: ...`).
    #[serde(default)]
    pub error: Option<String>,
    #[serde(rename = "bdep", default)]
    pub bdeps: Vec<Bdep>,
    #[serde(rename = "path", default)]
    pub paths: Vec<BuildPath>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Bdep {
    #[serde(rename = "@name")]
    pub name: String,
    #[serde(rename = "@version", default)]
    pub version: Option<String>,
    #[serde(rename = "@release", default)]
    pub release: Option<String>,
    #[serde(rename = "@arch", default)]
    pub arch: Option<String>,
    #[serde(rename = "@project", default)]
    pub project: Option<String>,
    #[serde(rename = "@repository", default)]
    pub repository: Option<String>,
    #[serde(rename = "@preinstall", default)]
    pub preinstall: Option<String>,
    #[serde(rename = "@vminstall", default)]
    pub vminstall: Option<String>,
    #[serde(rename = "@runscripts", default)]
    pub runscripts: Option<String>,
    #[serde(rename = "@notmeta", default)]
    pub notmeta: Option<String>,
    #[serde(rename = "@noinstall", default)]
    pub noinstall: Option<String>,
}

impl Bdep {
    pub fn is_preinstall(&self) -> bool {
        flag(&self.preinstall)
    }
    pub fn is_runscripts(&self) -> bool {
        flag(&self.runscripts)
    }
    pub fn is_vminstall(&self) -> bool {
        flag(&self.vminstall)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BuildPath {
    #[serde(rename = "@project")]
    pub project: String,
    #[serde(rename = "@repository")]
    pub repository: String,
    #[serde(rename = "@url", default)]
    pub url: Option<String>,
}

impl BuildInfo {
    /// Read a `_buildinfo` document. A buildinfo can list tens of thousands of `bdep`s,
    /// so this walks the XML events directly instead of going through serde (same result
    /// as `quick_xml::de::from_str`, several times faster; a test checks they agree).
    pub fn parse(text: &str, what: &str) -> anyhow::Result<BuildInfo> {
        if text.trim().is_empty() {
            return super::xml::parse(text, &format!("_buildinfo of {what}"));
        }
        events::parse(text).map_err(|e| {
            anyhow::anyhow!(
                "the _buildinfo of {what} is not a readable XML document ({e}): the answer was cut off or malformed; try again"
            )
        })
    }

    /// Names of the packages unpacked first (`preinstall="1"`).
    pub fn preinstalls(&self) -> Vec<&str> {
        self.bdeps
            .iter()
            .filter(|b| b.is_preinstall())
            .map(|b| b.name.as_str())
            .collect()
    }
}

mod events {
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::Reader;

    use super::{Bdep, BuildInfo, BuildPath};

    fn attrs(e: &BytesStart, mut f: impl FnMut(&[u8], String)) -> Result<(), String> {
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(|e| e.to_string())?;
            let v = if a.value.contains(&b'&') {
                a.unescape_value().map_err(|e| e.to_string())?.into_owned()
            } else {
                std::str::from_utf8(&a.value)
                    .map_err(|e| e.to_string())?
                    .to_string()
            };
            f(a.key.local_name().as_ref(), v);
        }
        Ok(())
    }

    fn element(e: &BytesStart, depth: usize, info: &mut BuildInfo) -> Result<(), String> {
        let name = e.local_name();
        match (depth, name.as_ref()) {
            (1, b"buildinfo") => attrs(e, |k, v| match k {
                b"project" => info.project = v,
                b"repository" => info.repository = v,
                b"package" => info.package = v,
                b"downloadurl" => info.downloadurl = Some(v),
                _ => {}
            }),
            (1, other) => Err(format!(
                "the root element is <{}>, not <buildinfo>",
                String::from_utf8_lossy(other)
            )),
            (2, b"bdep") => {
                let mut b = Bdep::default();
                attrs(e, |k, v| match k {
                    b"name" => b.name = v,
                    b"version" => b.version = Some(v),
                    b"release" => b.release = Some(v),
                    b"arch" => b.arch = Some(v),
                    b"project" => b.project = Some(v),
                    b"repository" => b.repository = Some(v),
                    b"preinstall" => b.preinstall = Some(v),
                    b"vminstall" => b.vminstall = Some(v),
                    b"runscripts" => b.runscripts = Some(v),
                    b"notmeta" => b.notmeta = Some(v),
                    b"noinstall" => b.noinstall = Some(v),
                    _ => {}
                })?;
                info.bdeps.push(b);
                Ok(())
            }
            (2, b"path") => {
                let mut p = BuildPath::default();
                attrs(e, |k, v| match k {
                    b"project" => p.project = v,
                    b"repository" => p.repository = v,
                    b"url" => p.url = Some(v),
                    _ => {}
                })?;
                info.paths.push(p);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub fn parse(text: &str) -> Result<BuildInfo, String> {
        let mut reader = Reader::from_str(text);
        let mut info = BuildInfo::default();
        let mut depth = 0usize;
        let mut seen_root = false;
        // the depth-2 element whose text we keep (<arch>, <error>)
        let mut capture: Option<(bool, String)> = None;
        loop {
            match reader
                .read_event()
                .map_err(|e| format!("{e} at byte {}", reader.buffer_position()))?
            {
                Event::Start(e) => {
                    depth += 1;
                    if depth == 1 {
                        seen_root = true;
                    }
                    element(&e, depth, &mut info)?;
                    if depth == 2 {
                        capture = match e.local_name().as_ref() {
                            b"arch" => Some((true, String::new())),
                            b"error" => Some((false, String::new())),
                            _ => None,
                        };
                    }
                }
                Event::Empty(e) => {
                    if depth == 0 {
                        seen_root = true;
                    }
                    element(&e, depth + 1, &mut info)?;
                }
                Event::Text(t) => {
                    if let Some((_, buf)) = capture.as_mut() {
                        buf.push_str(&t.unescape().map_err(|e| e.to_string())?);
                    }
                }
                Event::CData(t) => {
                    if let Some((_, buf)) = capture.as_mut() {
                        buf.push_str(&String::from_utf8_lossy(&t));
                    }
                }
                Event::End(_) => {
                    if depth == 2 {
                        match capture.take() {
                            Some((true, s)) => info.arch = Some(s.trim().to_string()),
                            Some((false, s)) => info.error = Some(s.trim().to_string()),
                            None => {}
                        }
                    }
                    depth = depth.saturating_sub(1);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !seen_root {
            return Err("no <buildinfo> element".to_string());
        }
        if depth != 0 {
            return Err("the document ends inside an element".to_string());
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_backend_example() {
        let b =
            BuildInfo::parse(include_str!("../../tests/data/obs/buildinfo.xml"), "screen").unwrap();
        assert_eq!(b.project, "openSUSE:13.2");
        assert_eq!(b.package, "screen");
        assert_eq!(b.arch.as_deref(), Some("i586"));
        assert_eq!(b.bdeps.len(), 104);
        assert_eq!(b.bdeps[0].name, "aaa_base");
        assert!(b.bdeps[0].is_preinstall() && b.bdeps[0].is_runscripts());
        assert!(b.preinstalls().contains(&"rpm"));
        assert!(b
            .bdeps
            .iter()
            .any(|d| d.is_vminstall() && d.name == "kernel-obs-build"));
        assert_eq!(b.error, None);
        assert_eq!(b.paths.len(), 1);
        assert_eq!(
            b.paths[0].url.as_deref(),
            Some("http://download.opensuse.org/repositories/openSUSE:/13.2/standard/")
        );
    }

    #[test]
    fn event_reader_agrees_with_serde() {
        let text = include_str!("../../tests/data/obs/buildinfo.xml");
        let fast = BuildInfo::parse(text, "screen").unwrap();
        let serde: BuildInfo = quick_xml::de::from_str(text).unwrap();
        assert_eq!(fast, serde);
        let err = "<buildinfo project=\"p\"><error>unresolvable: nothing provides foo</error><bdep name=\"a\"/></buildinfo>";
        let b = BuildInfo::parse(err, "x").unwrap();
        assert_eq!(
            b.error.as_deref(),
            Some("unresolvable: nothing provides foo")
        );
        assert_eq!(b.bdeps.len(), 1);
        let cut = &text[..text.len() / 2];
        let e = BuildInfo::parse(cut, "screen").unwrap_err().to_string();
        assert!(e.contains("not a readable XML document"), "{e}");
        assert!(BuildInfo::parse("<project name=\"x\"/>", "x").is_err());
        assert!(BuildInfo::parse("<buildinfo><bdep name='a'></buildinfo>", "x").is_err());
    }
}
