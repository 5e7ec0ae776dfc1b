//! Make the Debian bundle of a root: apt (with a private state and the host's trusted
//! keys) fetches the archive's amd64 index and the packages `debian_index::plan` chose,
//! dpkg-deb unpacks them, patchelf makes every ELF file use the bundle's own loader and
//! libraries, and the manifest pairs the root's files with the cross tools.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use super::debian_bundle::{self, BundleElf, LIB_DIR, LOADER};
use super::debian_index::{self, BundlePlan, Source};
use super::debian_perl;
use super::manifest::{self, Identity, Toolchain};
use super::plan::RootFile;

/// What to make.
pub struct Request<'a> {
    pub root: &'a Path,
    /// The root's Debian arch (`arm64`).
    pub deb_arch: &'a str,
    /// qemu's name of the arch (`aarch64`).
    pub target: &'a str,
    /// The bundle directory on the host (must not exist yet).
    pub output: &'a Path,
    /// Where apt's private state and the downloaded packages are kept between runs.
    pub cache: &'a Path,
    /// Accelerate the compiler drivers too (see `debian_bundle::manifest`).
    pub drivers: bool,
}

/// What was made.
#[derive(Debug, Serialize)]
pub struct Report {
    pub bundle: PathBuf,
    pub toolchain: Toolchain,
    pub packages: Vec<String>,
    pub downloaded: usize,
    pub left_out: Vec<(String, String)>,
    /// The shell and compressors in the manifest (`dash 0.5.12-12`), and the others
    /// with why they stay emulated.
    pub native: Vec<String>,
    pub native_refused: Vec<(String, String)>,
    pub patched: usize,
    pub tools: Vec<String>,
    pub bytes: u64,
    pub seconds: f64,
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        bail!("{what} failed ({}): {last}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn need_tool(name: &str, package: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if !found {
        bail!("{name} is not installed: install {package} (it makes the bundle)");
    }
    Ok(())
}

/// apt with a private state under `dir` for amd64 packages of `source`: the host's
/// trusted keys verify the index, the index's hashes every package.
fn apt(dir: &Path, source: &Source) -> Result<Command> {
    for sub in [
        "lists/partial",
        "archives/partial",
        "etc/preferences.d",
        "etc/sources.list.d",
    ] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::write(
        dir.join("etc/sources.list"),
        format!("deb [arch=amd64] {} {} main\n", source.url, source.suite),
    )?;
    std::fs::write(dir.join("status"), "")?;
    let mut cmd = Command::new("apt-get");
    let d = dir.display();
    for opt in [
        "APT::Architecture=amd64".to_string(),
        "APT::Architectures=amd64".to_string(),
        format!("Dir::State={d}"),
        format!("Dir::State::Lists={d}/lists"),
        format!("Dir::State::status={d}/status"),
        format!("Dir::Cache={d}"),
        format!("Dir::Cache::archives={d}/archives"),
        format!("Dir::Etc::SourceList={d}/etc/sources.list"),
        format!("Dir::Etc::SourceParts={d}/etc/sources.list.d"),
        format!("Dir::Etc::Preferences={d}/etc/preferences"),
        format!("Dir::Etc::PreferencesParts={d}/etc/preferences.d"),
        "Acquire::Languages=none".to_string(),
        // The index as plain text, and none of the host's extra index targets.
        "Acquire::GzipIndexes=false".to_string(),
        "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false".to_string(),
        "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false".to_string(),
        "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false".to_string(),
        "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false".to_string(),
        "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false".to_string(),
        "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false".to_string(),
        "Debug::NoLocking=1".to_string(),
    ] {
        cmd.arg("-o").arg(opt);
    }
    cmd.args(["-q", "-q"]).env("LC_ALL", "C");
    Ok(cmd)
}

/// The archive's amd64 index of `source`, fresh (apt fetches it only when it changed).
fn index(dir: &Path, source: &Source) -> Result<String> {
    run(
        apt(dir, source)?.arg("update"),
        "apt-get update (the archive's amd64 index)",
    )?;
    let mut text = String::new();
    for entry in std::fs::read_dir(dir.join("lists"))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.ends_with("_binary-amd64_Packages") {
            text.push_str(&std::fs::read_to_string(&path)?);
            text.push_str("\n\n");
        }
    }
    if text.is_empty() {
        bail!(
            "apt-get update brought no amd64 index of {} {}: check the root's apt sources",
            source.url,
            source.suite
        );
    }
    Ok(text)
}

fn read_root_file(root: &Path, path: &str) -> Result<String> {
    std::fs::read_to_string(root.join(path.trim_start_matches('/')))
        .with_context(|| format!("cannot read {path} of the root {}", root.display()))
}

/// The root's apt source of `main`.
fn root_source(root: &Path) -> Result<Source> {
    let mut text = std::fs::read_to_string(root.join("etc/apt/sources.list")).unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir(root.join("etc/apt/sources.list.d")) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            text.push_str("\n\n");
            text.push_str(&std::fs::read_to_string(p).unwrap_or_default());
        }
    }
    debian_index::parse_sources(&text).ok_or_else(|| {
        anyhow!(
            "the root {} has no apt source of Debian's main component in /etc/apt/sources.list(.d): add one",
            root.display()
        )
    })
}

/// The bundle's packages for the root (reads the root, fetches the index).
pub fn plan(req: &Request) -> Result<(Source, BundlePlan)> {
    if !req.root.join("var/lib/dpkg/status").is_file() {
        bail!(
            "{} is not a Debian root (no /var/lib/dpkg/status): accel bundle makes bundles from Debian's cross toolchains only",
            req.root.display()
        );
    }
    let status = read_root_file(req.root, "/var/lib/dpkg/status")?;
    let source = root_source(req.root)?;
    need_tool("apt-get", "apt")?;
    let text = index(&req.cache.join("apt"), &source)?;
    let plan = debian_index::plan(req.deb_arch, &status, &debian_index::parse_index(&text))
        .map_err(|e| anyhow!("no bundle for {}: {e}", req.root.display()))?;
    Ok((source, plan))
}

/// The regular files of the root that a Debian bundle can stand in for.
fn root_files(root: &Path, triplet: &str, major: &str) -> Result<Vec<RootFile>> {
    let mut files = Vec::new();
    for dir in debian_bundle::root_tool_dirs(triplet, major) {
        let Ok(entries) = std::fs::read_dir(root.join(dir.trim_start_matches('/'))) else {
            continue;
        };
        for entry in entries.flatten() {
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{dir}/{name}");
            if dir == "/usr/bin" && !name.starts_with(triplet) {
                continue;
            }
            files.push(RootFile {
                identity: Identity::of_file(&entry.path())?,
                path,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The root's files at the native tools' paths (regular files only: the manifest is
/// keyed by canonical paths).
fn native_root_files(root: &Path, paths: &[String]) -> Result<Vec<RootFile>> {
    let mut files = Vec::new();
    for path in paths {
        let on_host = root.join(path.trim_start_matches('/'));
        if std::fs::symlink_metadata(&on_host).is_ok_and(|m| m.is_file()) {
            files.push(RootFile {
                identity: Identity::of_file(&on_host)?,
                path: path.clone(),
            });
        }
    }
    Ok(files)
}

/// Every x86_64 ELF regular file under `top`, relative.
fn bundle_elves(top: &Path) -> Result<Vec<BundleElf>> {
    let mut out = Vec::new();
    let mut todo = vec![top.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() {
                let Ok(info) = crate::elf::read(&entry.path()) else {
                    continue;
                };
                if info.machine != 62 {
                    continue;
                }
                let rel = entry
                    .path()
                    .strip_prefix(top)?
                    .to_string_lossy()
                    .into_owned();
                out.push(BundleElf {
                    file: rel,
                    executable: info.dynamic,
                });
            }
        }
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(out)
}

fn du(top: &Path) -> u64 {
    let mut total = 0;
    let mut todo = vec![top.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(entry.path()),
                Ok(t) if t.is_file() => total += entry.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// Writes the root's Debian arch over the `amd64` compiled into the bundle's copies of
/// `paths` (one line why not).
fn rewrite_arch(top: &Path, paths: &[String], deb_arch: &str) -> Result<(), String> {
    for path in paths {
        let file = top.join(path.trim_start_matches('/'));
        let mut bytes =
            std::fs::read(&file).map_err(|e| format!("cannot read the amd64 {path}: {e}"))?;
        debian_bundle::rewrite_compiled_arch(&mut bytes, deb_arch)
            .map_err(|why| format!("{path}: {why}"))?;
        std::fs::write(&file, bytes)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    Ok(())
}

/// Make the bundle's perl the native perl of `debian_perl` (its library directories
/// with the root's platform files left out, POSIX's `uname` the root's, the boot
/// module); its guard, or one line why the root's perl stays emulated.
fn native_perl(
    top: &Path,
    target: &str,
    triplet: &str,
    version: &str,
) -> Result<manifest::PerlGuard, String> {
    let dirs = debian_perl::lib_dirs(target, triplet, version)
        .ok_or_else(|| format!("perl-base {version} is not a perl version archbuild reads"))?;
    let in_top = |path: &str| top.join(path.trim_start_matches('/'));
    let binary = std::fs::read(in_top(debian_perl::PERL))
        .map_err(|e| format!("the amd64 {}: {e}", debian_perl::PERL))?;
    if let Some(dir) = debian_perl::not_compiled_in(&binary, &dirs) {
        return Err(format!(
            "the amd64 perl does not have {dir} compiled in: its @INC is not the one archbuild maps"
        ));
    }
    let mut twin_modules = Vec::new();
    for dir in dirs.iter().filter(|d| d.twin.is_some()) {
        let amd64 = in_top(&dir.amd64);
        for file in debian_perl::ROOT_FILES {
            let _ = std::fs::remove_file(amd64.join(file));
        }
        let mut modules = Vec::new();
        let mut todo = vec![amd64.join("auto")];
        while let Some(d) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    todo.push(path);
                } else if path.extension().is_some_and(|e| e == "so") {
                    let rel = path.strip_prefix(&amd64).map_err(|e| e.to_string())?;
                    modules.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        if modules.is_empty() {
            return Err(format!("the amd64 perl has no XS modules in {}", dir.amd64));
        }
        twin_modules.push((dir.root.clone(), modules));
    }
    let posix = dirs
        .iter()
        .filter_map(|d| d.twin.as_ref().map(|_| in_top(&d.amd64).join("POSIX.pm")))
        .find(|p| p.is_file())
        .ok_or("the amd64 perl-base has no POSIX.pm")?;
    let text = std::fs::read_to_string(&posix).map_err(|e| format!("POSIX.pm: {e}"))?;
    std::fs::write(&posix, debian_perl::patch_posix(&text, target)?)
        .map_err(|e| format!("{}: {e}", posix.display()))?;
    let boot = top.join(debian_perl::BOOT_DIR.trim_start_matches('/'));
    std::fs::create_dir_all(&boot).map_err(|e| e.to_string())?;
    std::fs::write(
        boot.join(format!("{}.pm", debian_perl::BOOT_MODULE)),
        debian_perl::boot_module(target, &dirs),
    )
    .map_err(|e| format!("the boot module: {e}"))?;
    Ok(debian_perl::guard(&dirs, &twin_modules))
}

/// Make the bundle: into `<output>.partial`, renamed to `output` when complete.
pub fn make(req: &Request) -> Result<Report> {
    let began = Instant::now();
    if req.output.exists() {
        bail!(
            "{} already exists: remove it first (no accelerated container of this arch may be running), then make the bundle again",
            req.output.display()
        );
    }
    need_tool("patchelf", "patchelf")?;
    need_tool("dpkg-deb", "dpkg")?;
    let (source, plan) = plan(req)?;

    // Download what the cache does not have (apt checks each file's hash).
    let debs = req.cache.join("debs");
    std::fs::create_dir_all(&debs)?;
    let missing: Vec<String> = plan
        .packages
        .iter()
        .filter(|p| {
            std::fs::metadata(debs.join(debian_index::deb_file_name(p)))
                .map(|m| m.len() != p.size)
                .unwrap_or(true)
        })
        .map(|p| format!("{}={}", p.name, p.version))
        .collect();
    if !missing.is_empty() {
        let mut cmd = apt(&req.cache.join("apt"), &source)?;
        cmd.arg("download").args(&missing).current_dir(&debs);
        run(&mut cmd, "apt-get download (the bundle's packages)")?;
    }

    let partial = req.output.with_extension("partial");
    if partial.exists() {
        // Never mounted: it is only ever made here.
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("cannot remove {}", partial.display()))?;
    }
    std::fs::create_dir_all(&partial)?;
    for p in &plan.packages {
        let deb = debs.join(debian_index::deb_file_name(p));
        run(
            Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&partial),
            &format!("dpkg-deb -x {}", deb.display()),
        )?;
    }
    // gconv: the bundle's glibc would look for its modules at the x86_64 path, which
    // is not in the root; options that need them stay emulated (emulate_if).
    for docs in [
        "usr/share/doc",
        "usr/share/man",
        "usr/share/lintian",
        "usr/lib/x86_64-linux-gnu/gconv",
    ] {
        let _ = std::fs::remove_dir_all(partial.join(docs));
    }

    // The bundle's own loader, at the path every patched executable names.
    let loader_from = [
        "usr/lib/x86_64-linux-gnu",
        "lib/x86_64-linux-gnu",
        "usr/lib64",
        "lib64",
    ]
    .iter()
    .map(|d| partial.join(d).join(LOADER))
    .find(|p| p.exists())
    .ok_or_else(|| {
        anyhow!(
            "libc6 of the bundle has no {LOADER}: the archive's libc6 is not what archbuild knows"
        )
    })?;
    std::fs::create_dir_all(partial.join(LIB_DIR))?;
    std::fs::copy(&loader_from, partial.join(LIB_DIR).join(LOADER))?;

    let elves = bundle_elves(&partial)?;
    let dirs = debian_bundle::library_dirs(&elves);
    let relocations = debian_bundle::relocations(req.target, &elves, &dirs);
    for r in &relocations {
        let host = partial.join(&r.file);
        run(
            Command::new("patchelf").args(debian_bundle::patchelf_args(r, &host.to_string_lossy())),
            &format!("patchelf {}", r.file),
        )?;
    }

    let toolchain = Toolchain {
        distribution: "debian".into(),
        version: plan.gcc_version.clone(),
        triplet: plan.triplet.clone(),
    };
    let mut native_refused = plan.native_refused.clone();
    let mut rewrite_failed = BTreeSet::new();
    for n in plan.native.iter().filter(|n| n.arch_compiled_in) {
        if let Err(why) = rewrite_arch(&partial, &n.paths, req.deb_arch) {
            native_refused.push((n.tool.clone(), why));
            rewrite_failed.insert(n.tool.clone());
        }
    }
    let mut perl_guard = None;
    if let Some(n) = plan
        .native
        .iter()
        .find(|n| n.perl && !rewrite_failed.contains(&n.tool))
    {
        match native_perl(&partial, req.target, &plan.triplet, &n.version) {
            Ok(guard) => perl_guard = Some(guard),
            Err(why) => {
                native_refused.push((n.tool.clone(), why));
                rewrite_failed.insert(n.tool.clone());
            }
        }
    }
    let native_paths: Vec<String> = plan
        .native
        .iter()
        .filter(|n| !rewrite_failed.contains(&n.tool))
        .flat_map(|n| n.paths.iter().cloned())
        .collect();
    let mut files = root_files(req.root, &plan.triplet, &plan.gcc_major)?;
    files.extend(native_root_files(req.root, &native_paths)?);
    let in_bundle = |tool: &str| {
        let p = partial.join(tool.trim_start_matches('/'));
        p.is_file()
    };
    let (manifest, _refused) = debian_bundle::manifest(
        req.target,
        &toolchain,
        &plan.gcc_major,
        &files,
        debian_bundle::Native {
            paths: &native_paths,
            perl: perl_guard.as_ref(),
        },
        &in_bundle,
        req.drivers,
    );
    let mut native = Vec::new();
    for n in plan
        .native
        .iter()
        .filter(|n| !rewrite_failed.contains(&n.tool))
    {
        match n.paths.iter().find(|p| !manifest.tools.contains_key(*p)) {
            None => native.push(format!("{} {}", n.tool, n.version)),
            Some(path) => native_refused.push((
                n.tool.clone(),
                format!(
                    "{path} is not a regular file of both the root and the amd64 {} {}",
                    n.package, n.version
                ),
            )),
        }
    }
    for (tool, why) in &native_refused {
        eprintln!("archbuild: accel bundle: no native {tool} ({tool} stays emulated): {why}");
    }
    if manifest.tools.is_empty() {
        bail!(
            "none of the root's compiler files has a tool in the bundle: the root's gcc-{} is not installed where Debian puts it",
            plan.gcc_major
        );
    }
    std::fs::create_dir_all(partial.join("log"))?;
    std::fs::write(partial.join("manifest.json"), manifest::format(&manifest))?;
    std::fs::rename(&partial, req.output).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            req.output.display()
        )
    })?;

    let names: BTreeSet<String> = plan
        .packages
        .iter()
        .map(|p| format!("{}={}", p.name, p.version))
        .collect();
    Ok(Report {
        bundle: req.output.to_path_buf(),
        toolchain,
        packages: names.into_iter().collect(),
        downloaded: missing.len(),
        left_out: plan.left_out,
        native,
        native_refused,
        patched: relocations.len(),
        tools: manifest.tools.keys().cloned().collect(),
        bytes: du(req.output),
        seconds: began.elapsed().as_secs_f64(),
    })
}
