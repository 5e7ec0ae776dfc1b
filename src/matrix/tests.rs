//! The matrix rules, table-driven: one row per branch of `decide`, in the scheduler's order.

use super::*;

const TW: &str = "openSUSE_Tumbleweed";
const DEB: &str = "Debian_12";
const SPEC: &str = "Name: hello\nVersion: 1\n";
const DSC: &str = "Format: 3.0 (quilt)\nSource: hello\nArchitecture: any\n";
const PROJECT: &str = "<project name='home:alice'><title/></project>";

/// One row: the documents, the cell, the verdict and a piece of its rule.
struct Row {
    what: &'static str,
    project: &'static str,
    package: Option<&'static str>,
    /// Appended to both repositories' build configurations.
    config: &'static str,
    /// Replaces the openSUSE_Tumbleweed build configuration.
    tw_config: Option<&'static str>,
    files: &'static [(&'static str, &'static str)],
    /// (flavor or "", repository, arch)
    cell: (&'static str, &'static str, &'static str),
    verdict: Verdict,
    rule: &'static str,
}

const fn row(what: &'static str) -> Row {
    Row {
        what,
        project: PROJECT,
        package: Some("<package name='hello'><title/></package>"),
        config: "",
        tw_config: None,
        files: &[("hello.spec", SPEC), ("hello.dsc", DSC)],
        cell: ("", TW, "aarch64"),
        verdict: Verdict::Scheduled,
        rule: "scheduled: recipe hello.spec",
    }
}

fn input(r: &Row) -> PlanInput {
    let mut sources = Sources::default();
    let mut multibuild = None;
    for (name, text) in r.files {
        sources.files.push(name.to_string());
        sources.texts.insert(name.to_string(), text.to_string());
        if *name == "_multibuild" {
            multibuild = Some(text.to_string());
        }
    }
    let mut configs = BTreeMap::new();
    let tw = r
        .tw_config
        .map_or(format!("Type: spec\n{}", r.config), str::to_string);
    configs.insert(
        TW.to_string(),
        RepositoryConfig {
            text: tw,
            defines: vec![],
        },
    );
    configs.insert(
        DEB.to_string(),
        RepositoryConfig {
            text: format!("Type: dsc\n{}", r.config),
            defines: vec![],
        },
    );
    PlanInput {
        project: "home:alice".into(),
        package: "hello".into(),
        repositories: vec![
            (
                TW.into(),
                vec!["x86_64".into(), "aarch64".into(), "s390x".into()],
            ),
            (DEB.into(), vec!["x86_64".into(), "aarch64".into()]),
        ],
        project_flags: meta_flags::parse(r.project, "project meta").unwrap(),
        package_flags: r
            .package
            .map(|p| meta_flags::parse(p, "package meta").unwrap()),
        sources,
        multibuild,
        configs,
    }
}

fn rows() -> Vec<Row> {
    use Verdict::*;
    vec![
        row("plain package: scheduled"),
        Row { cell: ("", DEB, "x86_64"), rule: "scheduled: recipe hello.dsc, Architecture: any includes x86_64", ..row("Debian recipe: scheduled") },
        // 1. lock
        Row { project: "<project><lock><enable/></lock></project>", verdict: Locked, rule: "locked by <enable/> (score 0, the only kind that matches) in the project meta", ..row("project lock") },
        Row { project: "<project><lock><enable/></lock></project>", package: Some("<package><lock><disable repository='openSUSE_Tumbleweed'/></lock></package>"), ..row("package unlocks one repository") },
        Row { project: "<project><lock><enable/></lock></project>", package: Some("<package><lock><disable repository='openSUSE_Tumbleweed'/></lock></package>"), cell: ("", DEB, "aarch64"), verdict: Locked, rule: "in the project meta", ..row("the other repository stays locked") },
        Row { package: Some("<package><lock><enable arch='s390x'/></lock><build><disable/></build></package>"), config: "BuildFlags: excludebuild:hello\n", cell: ("", TW, "s390x"), verdict: Locked, rule: "locked by <enable arch=\"s390x\"/>", ..row("locked before excluded and disabled") },
        Row { package: Some("<package><lock><enable arch='s390x'/></lock></package>"), ..row("a lock of another arch does not count") },
        // 2. prjconf build lists
        Row { config: "BuildFlags: excludebuild:hello\n", verdict: Excluded, rule: "BuildFlags: excludebuild:hello", ..row("excludebuild") },
        Row { config: "BuildFlags: excludebuild:hello\n", files: &[("hello.spec", SPEC), ("_multibuild", "<multibuild><flavor>doc</flavor></multibuild>")], cell: ("doc", TW, "aarch64"), ..row("excludebuild:PKG leaves a flavor") },
        Row { config: "BuildFlags: excludebuild:hello:doc\n", files: &[("hello.spec", SPEC), ("_multibuild", "<multibuild><flavor>doc</flavor></multibuild>")], cell: ("doc", TW, "aarch64"), verdict: Excluded, rule: "excludebuild:hello:doc", ..row("excludebuild:PKG:FLAVOR") },
        Row { config: "BuildFlags: excludebuild:hello:doc\n", files: &[("hello.spec", SPEC), ("_multibuild", "<multibuild><flavor>doc</flavor></multibuild>")], ..row("excludebuild:PKG:FLAVOR leaves the main package") },
        Row { config: "BuildFlags: onlybuild:other\n", verdict: Excluded, rule: "onlybuild: lists other and not hello", ..row("onlybuild without the package") },
        Row { config: "BuildFlags: onlybuild:other onlybuild:hello\n", ..row("onlybuild with the package") },
        Row { config: "BuildFlags: onlybuild:hello:doc\n", files: &[("hello.spec", SPEC), ("_multibuild", "<multibuild><flavor>doc</flavor></multibuild>")], verdict: Excluded, rule: "onlybuild: lists hello:doc and not hello", ..row("onlybuild:PKG:FLAVOR excludes the main package") },
        Row { config: "BuildFlags: onlybuild:hello:doc\n", files: &[("hello.spec", SPEC), ("_multibuild", "<multibuild><flavor>doc</flavor></multibuild>")], cell: ("doc", TW, "aarch64"), ..row("onlybuild:PKG:FLAVOR keeps the flavor") },
        Row { package: Some("<package><releasename>hello-rel</releasename></package>"), config: "BuildFlags: excludebuild:hello-rel\n", verdict: Excluded, rule: "excludebuild:hello-rel", ..row("excludebuild by releasename") },
        Row { config: "%ifarch s390x\nBuildFlags: excludebuild:hello\n%endif\n", ..row("excludebuild under %ifarch of another arch") },
        Row { config: "BuildFlags: excludebuild:hello\n", package: Some("<package><build><disable/></build></package>"), verdict: Excluded, rule: "excludebuild", ..row("excluded before disabled") },
        // 3. no sources
        Row { files: &[], verdict: Broken, rule: "no source files", ..row("empty checkout") },
        Row { files: &[], package: Some("<package><build><disable arch='aarch64'/></build></package>"), verdict: Disabled, rule: "disabled by <disable arch=\"aarch64\"/>", ..row("empty checkout, disabled everywhere for the arch") },
        Row { files: &[], package: Some("<package><build><disable repository='Debian_12'/></build></package>"), cell: ("", DEB, "aarch64"), verdict: Broken, rule: "no source files", ..row("empty checkout is broken before disabled when another repository builds") },
        // 4. build flags
        Row { project: "<project><build><disable/></build></project>", verdict: Disabled, rule: "disabled by <disable/> (score 1, the only kind that matches) in the project meta (no package element matches)", ..row("project disable") },
        Row { project: "<project><build><disable/></build></project>", package: Some("<package><build><enable arch='aarch64'/></build></package>"), rule: "build enabled by <enable arch=\"aarch64\"/> (score 2, the only kind that matches) in the package meta", ..row("package enable overrides where it matches") },
        Row { project: "<project><build><disable/></build></project>", package: Some("<package><build><enable arch='aarch64'/></build></package>"), cell: ("", TW, "x86_64"), verdict: Disabled, rule: "in the project meta", ..row("and only there") },
        Row { project: "<project><build><disable arch='s390x'/></build></project>", package: Some("<package><build><enable repository='Debian_12'/></build></package>"), cell: ("", TW, "s390x"), verdict: Disabled, rule: "<disable arch=\"s390x\"/>", ..row("a package element of another repository does not override") },
        Row { package: Some("<package><build><enable arch='aarch64'/><disable arch='aarch64'/></build></package>"), verdict: Disabled, rule: "score 3 is not beaten by <enable arch=\"aarch64\"/> score 2", ..row("equal specificity: disable wins") },
        Row { package: Some("<package><build><disable/><enable repository='openSUSE_Tumbleweed'/></build></package>"), rule: "score 4 beats <disable/> score 1", ..row("repository enable beats plain disable") },
        Row { package: Some("<package><build><enable repository='openSUSE_Tumbleweed' arch='aarch64'/><disable repository='openSUSE_Tumbleweed' arch='aarch64'/></build></package>"), verdict: Disabled, rule: "score 7 always wins", ..row("disable 7 wins") },
        Row { project: "<project kind='maintenance_release'/>", verdict: Disabled, rule: "maintenance_release", ..row("maintenance_release builds nothing by default") },
        Row { project: "<project kind='maintenance_release'/>", package: Some("<package><build><enable/></build></package>"), ..row("unless enabled") },
        Row { project: "<project kind='maintenance_release'><build><disable arch='s390x'/></build></project>", rule: "build enabled by default", ..row("a maintenance_release project with a <build> element defaults to on") },
        Row { package: None, ..row("package not on the server: no package flags") },
        // 5. recipe type
        Row { tw_config: Some("Required: x\n"), verdict: Broken, rule: "gives no recipe type", ..row("no Type: and no guess") },
        Row { tw_config: Some("Preinstall: rpm\n"), ..row("type guessed from Preinstall: rpm") },
        // 6. recipe file
        Row { files: &[("hello.dsc", DSC)], verdict: Excluded, rule: "no spec recipe for hello", ..row("no spec for a spec repository") },
        Row { files: &[("hello.spec", SPEC)], cell: ("", DEB, "aarch64"), verdict: Excluded, rule: "no dsc recipe for hello", ..row("no dsc for a Debian repository") },
        Row { files: &[("a.spec", SPEC), ("b.spec", SPEC), ("_multibuild", "<multibuild><flavor>a</flavor><flavor>b</flavor></multibuild>")], verdict: Excluded, rule: "no spec recipe for hello", ..row("multibuild: no main recipe, main excluded") },
        Row { files: &[("a.spec", SPEC), ("b.spec", SPEC), ("_multibuild", "<multibuild><flavor>a</flavor><flavor>b</flavor></multibuild>")], cell: ("b", TW, "aarch64"), rule: "recipe b.spec", ..row("multibuild: flavor with its own recipe") },
        Row { files: &[("hello.spec", SPEC), ("_multibuild", "<multibuild><flavor>doc</flavor></multibuild>")], cell: ("doc", TW, "aarch64"), rule: "recipe hello.spec", ..row("multibuild: flavor of the main recipe") },
        // 7. name
        Row { files: &[("hello.spec", "Summary: no name\n")], verdict: Broken, rule: "can not parse name", ..row("spec without Name:") },
        Row { files: &[("hello.dsc", "Architecture: any\n")], cell: ("", DEB, "x86_64"), verdict: Broken, rule: "no Source:", ..row("dsc without Source:") },
        // 8. arch limits
        Row { files: &[("hello.spec", "Name: hello\nExclusiveArch: x86_64 s390x\n")], verdict: Excluded, rule: "ExclusiveArch: x86_64 s390x (after macros) in hello.spec does not list aarch64", ..row("ExclusiveArch without the arch") },
        Row { files: &[("hello.spec", "Name: hello\nExclusiveArch: x86_64 s390x\n")], cell: ("", TW, "s390x"), rule: "ExclusiveArch lists s390x", ..row("ExclusiveArch with the arch") },
        Row { files: &[("hello.spec", "Name: hello\nExclusiveArch:\n")], cell: ("", TW, "x86_64"), verdict: Excluded, rule: "empty ExclusiveArch", ..row("empty ExclusiveArch") },
        Row { files: &[("hello.spec", "Name: hello\nExclusiveArch: %{my_arches}\n")], config: "Macros:\n%my_arches aarch64 riscv64\n:Macros\n", rule: "ExclusiveArch lists aarch64", ..row("ExclusiveArch with a macro of the build configuration") },
        Row { files: &[("hello.spec", "Name: hello\nExclusiveArch: %{my_arches}\n")], config: "%define my_arches aarch64\n", verdict: Excluded, rule: "ExclusiveArch: %{my_arches}", ..row("a prjconf %define does not reach the recipe") },
        Row { files: &[("hello.spec", "Name: hello\n%package doc\nExclusiveArch: x86_64\n")], ..row("ExclusiveArch of a subpackage is ignored") },
        Row { files: &[("hello.spec", "Name: hello\nExcludeArch: s390x\n")], cell: ("", TW, "s390x"), verdict: Excluded, rule: "ExcludeArch: s390x (after macros) in hello.spec lists s390x", ..row("ExcludeArch") },
        Row { files: &[("hello.spec", "Name: hello\nExcludeArch: s390x\n")], rule: "ExcludeArch does not list aarch64", ..row("ExcludeArch of another arch") },
        Row { files: &[("hello.spec", "Name: hello\nExclusiveArch: armv7hl\n")], config: "Target: armv7hl-suse-linux\n", cell: ("", TW, "x86_64"), rule: "ExclusiveArch lists armv7hl", ..row("Target: changes the compared arch") },
        Row { files: &[("hello.spec", "%define flavor @BUILD_FLAVOR@%{nil}\nName: hello\n%if \"%flavor\" == \"doc\"\nExclusiveArch: x86_64\n%endif\n"), ("_multibuild", "<multibuild><flavor>doc</flavor></multibuild>")], cell: ("doc", TW, "aarch64"), verdict: Excluded, rule: "does not list aarch64", ..row("ExclusiveArch of a flavor only") },
        Row { files: &[("hello.spec", "%define flavor @BUILD_FLAVOR@%{nil}\nName: hello\n%if \"%flavor\" == \"doc\"\nExclusiveArch: x86_64\n%endif\n"), ("_multibuild", "<multibuild><flavor>doc</flavor></multibuild>")], ..row("the main package of that spec") },
        Row { files: &[("hello.dsc", "Source: hello\nArchitecture: amd64\n")], cell: ("", DEB, "aarch64"), verdict: Excluded, rule: "Architecture: amd64 in hello.dsc (OBS arches: x86_64) does not include aarch64", ..row("Debian Architecture without the arch") },
        Row { files: &[("hello.dsc", "Source: hello\nArchitecture: linux-any\n")], cell: ("", DEB, "aarch64"), rule: "Architecture: linux-any includes aarch64", ..row("Debian linux-any") },
        Row { files: &[("hello.dsc", "Source: hello\nArchitecture: arm64 amd64\n")], cell: ("", DEB, "aarch64"), rule: "includes aarch64", ..row("Debian arch names") },
        Row { files: &[("hello.kiwi", "<image/>")], tw_config: Some("Type: kiwi\n"), rule: "archbuild does not read the arch limits", ..row("other recipe types are scheduled with a note") },
    ]
}

#[test]
fn every_rule_in_order() {
    for r in rows() {
        let input = input(&r);
        let plan = plan(&input);
        let (flavor, repo, arch) = r.cell;
        let flavor = (!flavor.is_empty()).then(|| flavor.to_string());
        let cell = plan
            .cells
            .iter()
            .find(|c| c.cell.flavor == flavor && c.cell.repository == repo && c.cell.arch == arch)
            .unwrap_or_else(|| panic!("{}: no cell {:?} in {:#?}", r.what, r.cell, plan.cells));
        assert_eq!(cell.verdict, r.verdict, "{}: {}", r.what, cell.rule);
        assert!(
            cell.rule.contains(r.rule),
            "{}: rule {:?} lacks {:?}",
            r.what,
            cell.rule,
            r.rule
        );
    }
}

#[test]
fn cells_are_every_repository_arch_and_flavor() {
    let r = Row {
        files: &[
            ("hello.spec", SPEC),
            (
                "_multibuild",
                "<multibuild><flavor>a</flavor><flavor>b</flavor></multibuild>",
            ),
        ],
        ..row("")
    };
    let plan = plan(&input(&r));
    assert_eq!(plan.cells.len(), 5 * 3);
    let names: Vec<String> = plan
        .cells
        .iter()
        .take(3)
        .map(|c| c.cell.obs_name())
        .collect();
    assert_eq!(names, ["hello", "hello:a", "hello:b"]);
    assert_eq!(plan.cells[3].cell.arch, "aarch64");
    assert_eq!(plan.cells[9].cell.repository, DEB);
    assert!(plan.warnings.is_empty());
    // the Debian repository has no .dsc: excluded there
    assert_eq!(
        plan.counts(),
        [(Verdict::Scheduled, 9), (Verdict::Excluded, 6)]
    );
}

#[test]
fn an_invalid_multibuild_is_ignored_with_a_warning() {
    let r = Row {
        files: &[
            ("hello.spec", SPEC),
            (
                "_multibuild",
                "<multibuild><flavor>a:b</flavor></multibuild>",
            ),
        ],
        ..row("")
    };
    let plan = plan(&input(&r));
    assert_eq!(plan.cells.len(), 5);
    assert!(
        plan.warnings[0].contains("_multibuild is ignored"),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn the_json_shape() {
    let plan = plan(&input(&row("")));
    let v = serde_json::to_value(&plan.cells[0]).unwrap();
    assert_eq!(v["package"], "hello");
    assert_eq!(v["repository"], TW);
    assert_eq!(v["arch"], "x86_64");
    assert_eq!(v["verdict"], "scheduled");
    assert!(v.get("flavor").is_none());
}
