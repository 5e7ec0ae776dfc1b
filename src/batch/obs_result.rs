//! OBS's build results of a package (`GET /build/<project>/_result?package=PKG&
//! multibuild=1&locallink=1`, what `osc results` shows) and how the local cells compare
//! with them (`archbuild check --against-server`).
//!
//! The document (open-build-service `docs/api/api/buildresult.rng`):
//! `<resultlist state=HASH><result project repository arch code state [dirty]
//! [details]><status package code><details>TEXT</details></status>...</result>...`.
//! Read as osc's `result_xml_to_dicts` reads it: a `<result>` whose repository `code`
//! is `broken` makes every package in it `broken` (details `repository: ...`), and a
//! result is outdated (`dirty`) when it says `dirty="true"` or its code is `blocked`.
//! Multibuild flavors come as `package="PKG:FLAVOR"`. Elements of other views
//! (`<summary>`, `<binarylist>`) are passed over.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::outcome::{CellOutcome, Code};
use super::verdict::is_failure;

/// One package in one repository/arch on OBS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerResult {
    /// `PKG` or `PKG:FLAVOR`, as [`crate::matrix::Cell::obs_name`].
    pub package: String,
    pub repository: String,
    pub arch: String,
    /// OBS's package code: `succeeded`, `failed`, `unresolvable`, `broken`,
    /// `excluded`, `disabled`, `locked`, `blocked`, `scheduled`, `building`, ...
    pub code: String,
    pub details: Option<String>,
    /// The repository is being recalculated: the code may be out of date.
    pub dirty: bool,
}

impl ServerResult {
    /// Does OBS say this cell fails?
    pub fn fails(&self) -> bool {
        matches!(self.code.as_str(), "failed" | "unresolvable" | "broken")
    }
}

fn attrs(e: &BytesStart) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|e| anyhow!("a broken attribute ({e})"))?;
        let value = a
            .unescape_value()
            .map_err(|e| anyhow!("a broken attribute value ({e})"))?;
        out.insert(
            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
            value.into_owned(),
        );
    }
    Ok(out)
}

/// The results of the document; `what` names it for errors.
pub fn parse(text: &str, what: &str) -> Result<Vec<ServerResult>> {
    if text.trim().is_empty() {
        bail!("the build results of {what} are empty: the server sent no document; try again, or check with `osc results`");
    }
    read(text).map_err(|e| {
        anyhow!("the build results of {what} are not a readable _result document ({e}): the answer was cut off or malformed; try again")
    })
}

/// The `<result>` being read: one repository/arch and its own state.
struct RepositoryState {
    repository: String,
    arch: String,
    code: String,
    details: Option<String>,
    dirty: bool,
}

fn read(text: &str) -> Result<Vec<ServerResult>> {
    let mut reader = Reader::from_str(text);
    let mut out = Vec::new();
    // the open elements, by name
    let mut stack: Vec<String> = Vec::new();
    let mut root_seen = false;
    let mut result: Option<RepositoryState> = None;
    let mut details: Option<String> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| anyhow!("at byte {}: {e}", reader.buffer_position()))?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                match stack.pop().as_deref() {
                    Some("result") => result = None,
                    Some("details") if stack.last().map(String::as_str) == Some("status") => {
                        if let (Some(d), Some(last)) = (details.take(), out.last_mut()) {
                            let last: &mut ServerResult = last;
                            if last.details.is_none() {
                                last.details = Some(d.trim().to_string());
                            }
                        }
                    }
                    _ => {}
                }
                continue;
            }
            Event::Text(t) => {
                if let Some(d) = details.as_mut() {
                    d.push_str(&t.unescape().map_err(|e| anyhow!("broken text ({e})"))?);
                }
                continue;
            }
            Event::CData(t) => {
                if let Some(d) = details.as_mut() {
                    d.push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let parent = stack.last().map(String::as_str);
        match (parent, name.as_str()) {
            (None, "resultlist") if !root_seen => root_seen = true,
            (None, other) => {
                if root_seen {
                    bail!("a second root element <{other}>");
                }
                bail!("the root element is <{other}>, not <resultlist>");
            }
            (Some("resultlist"), "result") => {
                let a = attrs(&e)?;
                let code = a
                    .get("code")
                    .or_else(|| a.get("state"))
                    .cloned()
                    .unwrap_or_default();
                let dirty = a.get("dirty").map(String::as_str) == Some("true") || code == "blocked";
                result = Some(RepositoryState {
                    repository: a.get("repository").cloned().unwrap_or_default(),
                    arch: a.get("arch").cloned().unwrap_or_default(),
                    code,
                    details: a.get("details").cloned(),
                    dirty,
                });
            }
            (Some("result"), "status") => {
                let a = attrs(&e)?;
                let Some(r) = &result else {
                    bail!("a <status> outside a <result>");
                };
                let Some(package) = a.get("package") else {
                    bail!(
                        "a <status> without a package in {}/{}",
                        r.repository,
                        r.arch
                    );
                };
                let (code, details) = if r.code == "broken" {
                    (
                        "broken".to_string(),
                        Some(format!(
                            "repository: {}",
                            r.details.as_deref().unwrap_or("broken")
                        )),
                    )
                } else {
                    (a.get("code").cloned().unwrap_or_default(), None)
                };
                out.push(ServerResult {
                    package: package.clone(),
                    repository: r.repository.clone(),
                    arch: r.arch.clone(),
                    code,
                    details,
                    dirty: r.dirty,
                });
            }
            (Some("status"), "details") if !empty => details = Some(String::new()),
            _ => {}
        }
        if !empty {
            stack.push(name);
        }
    }
    if !root_seen {
        bail!("no <resultlist> element");
    }
    Ok(out)
}

/// How a local cell compares with OBS's result for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Fails here, and on OBS it succeeded or was not built (yet).
    NewFailure,
    /// Fails here and on OBS.
    AlreadyFailing,
    /// Succeeds here, fails on OBS.
    Fixed,
    /// Nothing to report: both succeed, or neither was built, or only OBS builds it.
    Same,
    /// OBS has no result for the cell (a new repository, arch or flavor).
    NotOnObs,
    /// The local cell says nothing (cancelled, infrastructure, skipped).
    NotJudged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::NewFailure => "new failure",
            Change::AlreadyFailing => "already failing on OBS",
            Change::Fixed => "fixed",
            Change::Same => "same",
            Change::NotOnObs => "not on OBS",
            Change::NotJudged => "not judged",
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One local cell against OBS.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub outcome: CellOutcome,
    /// OBS's result for the cell, if it has one.
    pub server: Option<ServerResult>,
    pub change: Change,
}

impl Comparison {
    /// `hello:doc Debian_12/s390x: new failure (here failed, OBS succeeded)`; `OBS
    /// succeeded, outdated` when OBS is recalculating the repository.
    pub fn line(&self) -> String {
        let c = &self.outcome.cell;
        let obs = match &self.server {
            Some(s) if s.dirty => format!("OBS {}, outdated", s.code),
            Some(s) => format!("OBS {}", s.code),
            None => "OBS has no result".to_string(),
        };
        format!(
            "{} {}/{}: {} (here {}, {obs})",
            c.obs_name(),
            c.repository,
            c.arch,
            self.change,
            self.outcome.code
        )
    }
}

/// The change of one cell, from its local code and OBS's result.
pub fn change(local: Code, server: Option<&ServerResult>) -> Change {
    if matches!(
        local,
        Code::Cancelled | Code::Infrastructure | Code::Skipped
    ) {
        return Change::NotJudged;
    }
    let Some(server) = server else {
        return Change::NotOnObs;
    };
    match (is_failure(local), server.fails()) {
        (true, true) => Change::AlreadyFailing,
        (true, false) => Change::NewFailure,
        (false, true) if local == Code::Succeeded => Change::Fixed,
        _ => Change::Same,
    }
}

/// Each local cell, in order, against OBS's result for the same package[:flavor],
/// repository and arch.
pub fn compare(local: &[CellOutcome], server: &[ServerResult]) -> Vec<Comparison> {
    let by_key: HashMap<(&str, &str, &str), &ServerResult> = server
        .iter()
        .map(|s| {
            (
                (s.package.as_str(), s.repository.as_str(), s.arch.as_str()),
                s,
            )
        })
        .collect();
    local
        .iter()
        .map(|o| {
            let name = o.cell.obs_name();
            let s = by_key
                .get(&(
                    name.as_str(),
                    o.cell.repository.as_str(),
                    o.cell.arch.as_str(),
                ))
                .copied();
            Comparison {
                outcome: o.clone(),
                server: s.cloned(),
                change: change(o.code, s),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::results_table::tests::outcome;

    const MULTIBUILD: &str = r#"<resultlist state="0c4b6bd4d2bbd4c2e1c0b6d8e2b4a3f1">
  <result project="home:alice" repository="openSUSE_Tumbleweed" arch="x86_64" code="published" state="published">
    <status package="hello" code="succeeded"/>
    <status package="hello:doc" code="failed">
      <details>exit code 1</details>
    </status>
  </result>
  <result project="home:alice" repository="openSUSE_Tumbleweed" arch="aarch64" code="building" state="building" dirty="true">
    <status package="hello" code="unresolvable">
      <details>nothing provides libfoo-devel, nothing provides &lt;bar&gt;</details>
    </status>
    <status package="hello:doc" code="excluded"/>
  </result>
  <result project="home:alice" repository="Debian_12" arch="x86_64" code="broken" state="broken" details="interconnect error: api.opensuse.org: no such host">
    <status package="hello" code="succeeded"/>
  </result>
  <result project="home:alice" repository="Debian_12" arch="aarch64" code="blocked" state="blocked">
    <status package="hello" code="blocked"><details>waiting for 3 of 7</details></status>
    <summary><statuscount code="blocked" count="1"/></summary>
  </result>
</resultlist>
"#;

    fn sr(package: &str, repository: &str, arch: &str, code: &str) -> ServerResult {
        ServerResult {
            package: package.into(),
            repository: repository.into(),
            arch: arch.into(),
            code: code.into(),
            details: None,
            dirty: false,
        }
    }

    #[test]
    fn reads_packages_flavors_details_and_repository_states() {
        let r = parse(MULTIBUILD, "home:alice/hello").unwrap();
        assert_eq!(r.len(), 6);
        assert_eq!(
            r[0],
            sr("hello", "openSUSE_Tumbleweed", "x86_64", "succeeded")
        );
        assert_eq!(r[1].package, "hello:doc");
        assert_eq!(r[1].code, "failed");
        assert_eq!(r[1].details.as_deref(), Some("exit code 1"));
        assert!(r[2].dirty && r[3].dirty);
        assert_eq!(
            r[2].details.as_deref(),
            Some("nothing provides libfoo-devel, nothing provides <bar>")
        );
        // a broken repository makes its packages broken, as osc shows them
        assert_eq!(r[4].code, "broken");
        assert_eq!(
            r[4].details.as_deref(),
            Some("repository: interconnect error: api.opensuse.org: no such host")
        );
        // a blocked repository is outdated
        assert!(r[5].dirty);
        assert_eq!(r[5].details.as_deref(), Some("waiting for 3 of 7"));
    }

    #[test]
    fn reads_osc_s_own_fixtures() {
        for (doc, n) in [
            (include_str!("../../tests/data/obs/result_osc_dirty.xml"), 4),
            (include_str!("../../tests/data/obs/result_osc.xml"), 4),
        ] {
            let r = parse(doc, "testproject").unwrap();
            assert_eq!(r.len(), n);
            assert!(r.iter().all(|s| s.package == "python-MarkupSafe"));
        }
        let dirty = parse(
            include_str!("../../tests/data/obs/result_osc_dirty.xml"),
            "t",
        )
        .unwrap();
        assert_eq!(dirty[1].code, "broken");
        assert!(dirty[3].dirty && !dirty[0].dirty);
    }

    #[test]
    fn bad_documents_are_one_line_errors() {
        for (text, want) in [
            ("", "are empty"),
            ("   \n", "are empty"),
            ("<status code=\"unknown_project\"><summary>x</summary></status>", "root element is <status>"),
            ("<resultlist state=\"x\"><result", "not a readable"),
            ("<resultlist><result></resultlist>", "not a readable"),
            ("<resultlist/><resultlist/>", "second root"),
            ("<!-- only a comment -->", "no <resultlist>"),
            ("<resultlist><result repository=\"r\" arch=\"a\"><status code=\"failed\"/></result></resultlist>", "without a package"),
            ("<resultlist><result arch=\"a&bogus;\"/></resultlist>", "not a readable"),
        ] {
            let e = parse(text, "p/pkg").unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.contains("p/pkg") && !e.contains('\n'), "{e}");
        }
        assert_eq!(parse("<resultlist state=\"s\"/>", "p").unwrap(), vec![]);
    }

    #[test]
    fn every_branch_of_the_comparison() {
        use Change::*;
        use Code::*;
        // (local code, OBS code or none, change)
        let table: &[(Code, Option<&str>, Change)] = &[
            (Failed, Some("succeeded"), NewFailure),
            (Failed, Some("excluded"), NewFailure),
            (Failed, Some("disabled"), NewFailure),
            (Unresolvable, Some("scheduled"), NewFailure),
            (Broken, Some("building"), NewFailure),
            (Failed, Some("failed"), AlreadyFailing),
            (Unresolvable, Some("unresolvable"), AlreadyFailing),
            (Failed, Some("broken"), AlreadyFailing),
            (Broken, Some("failed"), AlreadyFailing),
            (Succeeded, Some("failed"), Fixed),
            (Succeeded, Some("unresolvable"), Fixed),
            (Succeeded, Some("broken"), Fixed),
            (Succeeded, Some("succeeded"), Same),
            (Succeeded, Some("blocked"), Same),
            (Excluded, Some("excluded"), Same),
            (Excluded, Some("failed"), Same),
            (Disabled, Some("succeeded"), Same),
            (Locked, Some("locked"), Same),
            (Succeeded, None, NotOnObs),
            (Failed, None, NotOnObs),
            (Excluded, None, NotOnObs),
            (Cancelled, Some("failed"), NotJudged),
            (Infrastructure, Some("succeeded"), NotJudged),
            (Skipped, None, NotJudged),
        ];
        for (local, server, want) in table {
            let s = server.map(|c| sr("hello", "r", "a", c));
            assert_eq!(change(*local, s.as_ref()), *want, "{local} vs {server:?}");
        }
    }

    #[test]
    fn cells_meet_their_own_package_flavor_repository_and_arch() {
        let server = parse(MULTIBUILD, "home:alice/hello").unwrap();
        let local = vec![
            outcome("hello", "openSUSE_Tumbleweed", "x86_64", Code::Failed),
            outcome(
                "hello:doc",
                "openSUSE_Tumbleweed",
                "x86_64",
                Code::Succeeded,
            ),
            outcome("hello", "openSUSE_Tumbleweed", "aarch64", Code::Failed),
            outcome(
                "hello:doc",
                "openSUSE_Tumbleweed",
                "aarch64",
                Code::Excluded,
            ),
            outcome("hello", "Debian_12", "x86_64", Code::Succeeded),
            outcome("hello", "openSUSE_Tumbleweed", "riscv64", Code::Succeeded),
        ];
        let c = compare(&local, &server);
        let changes: Vec<Change> = c.iter().map(|c| c.change).collect();
        assert_eq!(
            changes,
            [
                Change::NewFailure,
                Change::Fixed,
                Change::AlreadyFailing,
                Change::Same,
                Change::Fixed,
                Change::NotOnObs
            ]
        );
        assert_eq!(
            c[0].line(),
            "hello openSUSE_Tumbleweed/x86_64: new failure (here failed, OBS succeeded)"
        );
        assert_eq!(
            c[2].line(),
            "hello openSUSE_Tumbleweed/aarch64: already failing on OBS (here failed, OBS unresolvable, outdated)"
        );
        assert_eq!(
            c[5].line(),
            "hello openSUSE_Tumbleweed/riscv64: not on OBS (here succeeded, OBS has no result)"
        );
    }
}
