//! A repository's expanded build path, the way OBS expands it (BSSched/pbuild
//! `expand_path`): the repository itself, then its `<path>` elements in order; only the
//! LAST element of the list so far has its own paths appended, recursively; every
//! project/repository appears once, and each is expanded at most once (no loops).

use std::collections::{HashMap, HashSet, VecDeque};

use anyhow::Result;

use super::meta::{PathElement, ProjectMeta};

/// Where project metas come from (the API client, or a map in tests). Each project is
/// asked for at most once per expansion.
pub trait MetaSource {
    fn project_meta(&self, project: &str) -> Result<ProjectMeta>;
}

impl MetaSource for HashMap<String, ProjectMeta> {
    fn project_meta(&self, project: &str) -> Result<ProjectMeta> {
        self.get(project).cloned().ok_or_else(|| {
            anyhow::anyhow!("project '{project}' not found: check the <path> elements that name it")
        })
    }
}

/// A cache in front of a [`MetaSource`], so a project read once is not read again.
pub struct MetaCache<'a> {
    source: &'a dyn MetaSource,
    cache: std::cell::RefCell<HashMap<String, ProjectMeta>>,
}

impl<'a> MetaCache<'a> {
    pub fn new(source: &'a dyn MetaSource) -> MetaCache<'a> {
        MetaCache {
            source,
            cache: Default::default(),
        }
    }

    /// Seed the cache with a meta already read.
    pub fn insert(&self, meta: ProjectMeta) {
        self.cache.borrow_mut().insert(meta.name.clone(), meta);
    }
}

impl MetaSource for MetaCache<'_> {
    fn project_meta(&self, project: &str) -> Result<ProjectMeta> {
        if let Some(m) = self.cache.borrow().get(project) {
            return Ok(m.clone());
        }
        let m = self.source.project_meta(project)?;
        self.cache
            .borrow_mut()
            .insert(project.to_string(), m.clone());
        Ok(m)
    }
}

/// Expand the build path of `start` (which comes first in the result).
pub fn expand(start: &PathElement, source: &dyn MetaSource) -> Result<Vec<PathElement>> {
    let mut result = Vec::new();
    let mut done: HashSet<PathElement> = HashSet::new();
    let mut expanded: HashSet<PathElement> = HashSet::new();
    let mut queue: VecDeque<PathElement> = VecDeque::from([start.clone()]);
    while let Some(t) = queue.pop_front() {
        if done.insert(t.clone()) {
            result.push(t.clone());
        }
        if !queue.is_empty() {
            continue;
        }
        if !expanded.insert(t.clone()) {
            break;
        }
        let meta = source.project_meta(&t.project)?;
        if let Some(repo) = meta.repository(&t.repository) {
            queue.extend(repo.paths.iter().cloned());
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metas(docs: &[&str]) -> HashMap<String, ProjectMeta> {
        docs.iter()
            .map(|d| {
                let m = ProjectMeta::parse(d, "test").unwrap();
                (m.name.clone(), m)
            })
            .collect()
    }

    fn names(v: &[PathElement]) -> Vec<String> {
        v.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn only_the_last_elements_paths_are_inherited() {
        let m = metas(&[
            include_str!("../../tests/data/obs/project_meta.xml"),
            r#"<project name="gnome3"><repository name="suselinux-9.3"><path project="not" repository="inherited"/><arch>i386</arch></repository></project>"#,
            r#"<project name="suselinux-9.3"><repository name="standard"><path project="base" repository="core"/><arch>i386</arch></repository></project>"#,
            r#"<project name="base"><repository name="core"><arch>i386</arch></repository></project>"#,
        ]);
        let chain = expand(&PathElement::new("superkde", "gnomespecial"), &m).unwrap();
        assert_eq!(
            names(&chain),
            [
                "superkde/gnomespecial",
                "gnome3/suselinux-9.3",
                "suselinux-9.3/standard",
                "base/core"
            ]
        );
    }

    #[test]
    fn three_projects_deep_and_inside_one_project() {
        let m = metas(&[
            include_str!("../../tests/data/obs/project_meta_staging_path_chain.xml"),
            r#"<project name="openSUSE:Factory:Staging"><repository name="standard"><path project="openSUSE:Factory" repository="standard"/><arch>x86_64</arch></repository></project>"#,
            include_str!("../../tests/data/obs/project_meta_openSUSE_Factory_fixture.xml"),
        ]);
        let chain = expand(
            &PathElement::new("openSUSE:Factory:Staging:H", "images"),
            &m,
        )
        .unwrap();
        assert_eq!(
            names(&chain),
            [
                "openSUSE:Factory:Staging:H/images",
                "openSUSE:Factory:Staging:H/standard",
                "openSUSE:Factory:Staging:H/bootstrap_copy",
                "openSUSE:Factory:Staging/standard",
                "openSUSE:Factory/standard"
            ]
        );
    }

    #[test]
    fn loops_end() {
        let m = metas(&[
            r#"<project name="a"><repository name="r"><path project="b" repository="r"/></repository></project>"#,
            r#"<project name="b"><repository name="r"><path project="c" repository="r"/></repository></project>"#,
            r#"<project name="c"><repository name="r"><path project="a" repository="r"/></repository></project>"#,
            r#"<project name="self"><repository name="r"><path project="self" repository="r"/></repository></project>"#,
        ]);
        let chain = expand(&PathElement::new("a", "r"), &m).unwrap();
        assert_eq!(names(&chain), ["a/r", "b/r", "c/r"]);
        let chain = expand(&PathElement::new("self", "r"), &m).unwrap();
        assert_eq!(names(&chain), ["self/r"]);
    }

    #[test]
    fn missing_project_is_an_error_naming_it() {
        let m = metas(&[
            r#"<project name="a"><repository name="r"><path project="gone" repository="x"/></repository></project>"#,
        ]);
        let err = expand(&PathElement::new("a", "r"), &m)
            .unwrap_err()
            .to_string();
        assert!(err.contains("'gone'"), "{err}");
    }
}
