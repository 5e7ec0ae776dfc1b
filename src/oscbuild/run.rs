//! Putting it together: checkout, container, osc configuration, the build, ownership.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context, Result};

use crate::arch::{self, Arch};
use crate::bootstrap::distributions;
use crate::bootstrap::plan::Plan;
use crate::container::{self, mounts as plan, process, root};
use crate::error::usage;
use crate::obs::meta::ProjectMeta;
use crate::obs::Client;
use crate::oscbuild::{checkout, command, oscrc, ownership, reach};
use crate::state::{self, Record};

/// Everything `archbuild build` was asked.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub repository: String,
    pub arch: String,
    pub build_descr: Option<String>,
    pub options: Vec<String>,
    pub apiurl: Option<String>,
    pub project: Option<String>,
    pub package: Option<String>,
    /// Container name (default: the OBS arch name).
    pub name: Option<String>,
    /// Build for this user (default: `$SUDO_USER`, else the caller).
    pub user: Option<String>,
    /// The user's oscrc (default: the one osc finds in the user's home).
    pub oscrc: Option<PathBuf>,
    /// The checkout directory.
    pub cwd: PathBuf,
}

/// True when the options make `osc build` work without the server (`-o/--offline`).
pub fn offline(options: &[String]) -> bool {
    options
        .iter()
        .take_while(|o| o.as_str() != "--")
        .any(|o| o == "--offline" || o == "-o")
}

/// Check REPOSITORY and ARCH against the project meta; the error lists what exists.
pub fn check_target(meta: &ProjectMeta, project: &str, repository: &str, arch: &str) -> Result<()> {
    let Some(repo) = meta.repository(repository) else {
        let names = meta.repository_names();
        return Err(usage(if names.is_empty() {
            format!(
                "project {project} has no repositories: add one with `osc meta prj -e {project}`"
            )
        } else {
            format!(
                "project {project} has no repository '{repository}': use one of {}",
                names.join(", ")
            )
        }));
    };
    if !repo.arches.iter().any(|a| a == arch) {
        return Err(usage(format!(
            "repository '{repository}' of project {project} does not build for {arch}: its arches are {}",
            if repo.arches.is_empty() { "none".to_string() } else { repo.arches.join(", ") }
        )));
    }
    Ok(())
}

/// The host account the build is for.
fn account(user: &str) -> Result<nix::unistd::User> {
    nix::unistd::User::from_name(user)
        .with_context(|| format!("cannot look up user '{user}'"))?
        .ok_or_else(|| {
            usage(format!(
                "no user '{user}' on this machine: pass --user NAME"
            ))
        })
}

/// The known container `name`, checked to be of `arch`.
fn known_container(name: &str, arch: &'static Arch) -> Result<Option<Record>> {
    let Some(record) = state::load(name)? else {
        return Ok(None);
    };
    if record.arch != arch.obs {
        return Err(usage(format!(
            "container '{name}' is for {}, not {}: pick another with --name, or create one with `archbuild bootstrap {} --name NAME --with-osc`",
            record.arch, arch.obs, arch.obs
        )));
    }
    Ok(Some(record))
}

/// The bootstrap plan of a new container for `project`/`repository`: the root the
/// project's OBS metadata describes, plus osc and obs-build.
fn bootstrap_plan(
    client: &Client,
    arch: &'static Arch,
    project: &str,
    repository: &str,
) -> Result<Plan> {
    let mut plan =
        crate::obs::bootstrap_plan::for_repository(client, project, repository, arch.obs)
            .with_context(|| {
                format!(
                    "cannot work out a root for {project}/{repository} to make container for {}",
                    arch.obs
                )
            })?;
    for p in distributions::osc_packages(plan.backend) {
        if !plan.packages.iter().any(|q| q == p) {
            plan.packages.push(p.to_string());
        }
    }
    plan.emulator = if arch.is_native_on(arch::host()?) {
        None
    } else {
        Some(
            crate::emulator::find(arch, None)?
                .path
                .display()
                .to_string(),
        )
    };
    Ok(plan)
}

/// Make container `name` from `plan` (with the bootstrap's progress and log).
fn bootstrap_container(name: &str, plan: Plan, project: &str, repository: &str) -> Result<Record> {
    let location = crate::settings::roots_dir().join(name);
    eprintln!(
        "archbuild: there is no container '{name}' yet: bootstrapping one for {} from {project}/{repository} (with osc) in {}",
        plan.arch,
        location.display()
    );
    let backend = crate::bootstrap::backend_for(&plan)?;
    let request = crate::bootstrap::run::Request {
        name: name.to_string(),
        location,
        plan,
        force: false,
        use_pristine: true,
        emulator: None,
    };
    let outcome = crate::bootstrap::run::execute(&request, backend.as_ref()).with_context(|| {
        format!("cannot bootstrap container '{name}' (or make one yourself with `sudo archbuild bootstrap ARCH --name {name} --with-osc`)")
    })?;
    eprintln!(
        "archbuild: container '{name}' {} in {:.0} s (log: {})",
        outcome.how,
        outcome.seconds,
        outcome.log.display()
    );
    state::load(name)?.ok_or_else(|| anyhow!("the bootstrap of '{name}' left no container record"))
}

/// What the container needs inside for `osc build`.
fn check_osc_inside(record: &Record) -> Result<()> {
    // Debian's obs-build is /usr/bin/obs-build; osc looks for both.
    for (what, paths) in [
        ("osc", &["/usr/bin/osc"][..]),
        ("obs-build", &["/usr/bin/build", "/usr/bin/obs-build"][..]),
    ] {
        let mut found = false;
        for path in paths {
            found |= root::resolve_in_root(&record.location, Path::new(path))?.exists();
        }
        if !found {
            let path = paths.join(" or ");
            bail!(
                "container '{}' has no {what} ({path}): make a root with it, `sudo archbuild bootstrap {} --name {} --with-osc --force`, or install osc and obs-build (`build`) inside with `sudo archbuild enter {} --root`",
                record.name,
                record.arch,
                record.name,
                record.name
            );
        }
    }
    Ok(())
}

/// Copy the user's oscrc into the container's /root (0600, root's).
fn install_oscrc(record: &Record, from: &Path, inside: &Path) -> Result<()> {
    let text = fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    let target = root::resolve_in_root(&record.location, inside)?;
    let parent = target
        .parent()
        .ok_or_else(|| anyhow!("bad path {}", target.display()))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let tmp = target.with_extension("oscrc.tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(&text)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    drop(f);
    fs::rename(&tmp, &target).with_context(|| format!("cannot write {}", target.display()))?;
    Ok(())
}

/// Run the build; returns osc's exit status.
pub fn build(req: &Request) -> Result<i32> {
    let co = checkout::read(&req.cwd)?;
    let project = req.project.clone().unwrap_or_else(|| co.project.clone());
    let package = req.package.clone().unwrap_or_else(|| co.package.clone());
    let arch = arch::lookup(&req.arch).map_err(|e| usage(e.to_string()))?;
    let name = req.name.clone().unwrap_or_else(|| arch.obs.to_string());
    crate::names::validate(&name)?;
    let user = req.user.clone().unwrap_or_else(process::invoking_user);
    let account = account(&user)?;

    // The osc configuration and its credentials, then the project's repositories, all
    // before the container is touched. The HTTP client (and its threads) is gone before
    // any namespace work starts.
    let oscrc_path = match &req.oscrc {
        Some(p) => p.clone(),
        None => oscrc::in_home(&account.dir).ok_or_else(|| {
            anyhow!(
                "{user} has no osc configuration ({}/.config/osc/oscrc or ~/.oscrc): run `osc` once as {user} to make one",
                account.dir.display()
            )
        })?,
    };
    let settings = command::UserSettings::from_oscrc(&crate::obs::oscrc::read(&oscrc_path)?);
    let api = oscrc::check(
        &oscrc_path,
        &user,
        req.apiurl.as_deref(),
        co.apiurl.as_deref(),
    )?;
    let existing = known_container(&name, arch)?;
    if existing.is_none() && !arch.is_native_on(arch::host()?) {
        // say first when this host cannot run the arch at all
        crate::emulator::find(arch, None)?;
    }
    let is_offline = offline(&req.options);
    let plan = {
        let client = if existing.is_none() || !is_offline {
            Some(Client::new(&api)?)
        } else {
            None
        };
        if let (Some(client), false) = (&client, is_offline) {
            let meta = client.project_meta(&project)?;
            check_target(&meta, &project, &req.repository, arch.obs)?;
        }
        match (&client, &existing) {
            (Some(client), None) => Some(bootstrap_plan(client, arch, &project, &req.repository)?),
            _ => None,
        }
    }; // the HTTP client and its threads end here, before any namespace work
    let record = match (existing, plan) {
        (Some(record), _) => record,
        (None, Some(plan)) => bootstrap_container(&name, plan, &project, &req.repository)?,
        (None, None) => unreachable!("a plan is made whenever there is no container"),
    };
    let mount_plan = plan::plan(&record.location, arch, None, &record.binds);
    reach::require_same_path(&mount_plan, &co.dir, "the checkout", &name)?;
    let dirs = command::directory_options(&req.options, &co.dir);
    for (option, dir) in &dirs {
        reach::require_same_path(&mount_plan, dir, &format!("the {option} directory"), &name)?;
    }

    if container::start(&record)? == container::Started::Now {
        eprintln!("archbuild: started container '{name}'");
    }
    check_osc_inside(&record)?;
    let oscrc_inside = oscrc::inside_path(&user);
    install_oscrc(&record, &oscrc_path, &oscrc_inside)?;

    let osc = command::OscBuild {
        apiurl: Some(api.apiurl.clone()),
        repository: req.repository.clone(),
        arch: arch.obs.to_string(),
        build_descr: req.build_descr.clone(),
        options: req.options.clone(),
    };
    eprintln!(
        "archbuild: building {project}/{package} for {}/{} in container '{name}' ({})",
        req.repository,
        arch.obs,
        co.dir.display()
    );
    let spec = process::RunSpec {
        identity: process::Identity::Root,
        command: osc.argv(),
        cwd: Some(co.dir.clone()),
        env: command::environment(&oscrc_inside, &settings),
    };
    let started = ownership::epoch_seconds(SystemTime::now());
    let status = container::enter(&record, &spec);

    // Whatever happened, what the build left for the user is the user's.
    if !account.uid.is_root() {
        let (uid, gid) = (account.uid.as_raw(), account.gid.as_raw());
        let mut to_fix = vec![co.dir.clone()];
        to_fix.extend(
            dirs.iter()
                .filter(|(o, _)| o == "--keep-pkgs")
                .map(|(_, d)| d.clone()),
        );
        for dir in to_fix {
            if let Err(e) = ownership::give_back(&dir, uid, gid, started) {
                eprintln!("archbuild: warning: {}", crate::error::one_line(&e));
            }
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"<project name="home:pkger:arm">
  <title/><description/>
  <repository name="openSUSE_Factory_ARM">
    <path project="openSUSE:Factory:ARM" repository="standard"/>
    <arch>armv7l</arch>
    <arch>aarch64</arch>
  </repository>
  <repository name="Debian_12">
    <path project="Debian:12" repository="standard"/>
    <arch>x86_64</arch>
    <arch>aarch64</arch>
  </repository>
</project>"#;

    fn meta() -> ProjectMeta {
        ProjectMeta::parse(META, "home:pkger:arm").unwrap()
    }

    #[test]
    fn known_repository_and_arch_pass() {
        check_target(&meta(), "home:pkger:arm", "Debian_12", "aarch64").unwrap();
        check_target(&meta(), "home:pkger:arm", "openSUSE_Factory_ARM", "armv7l").unwrap();
    }

    #[test]
    fn unknown_repository_lists_the_valid_ones() {
        let err = check_target(&meta(), "home:pkger:arm", "Debian_13", "aarch64").unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        let msg = err.to_string();
        assert!(msg.contains("no repository 'Debian_13'"), "{msg}");
        assert!(msg.contains("openSUSE_Factory_ARM, Debian_12"), "{msg}");
    }

    #[test]
    fn arch_not_built_by_the_repository_lists_its_arches() {
        let msg = check_target(&meta(), "home:pkger:arm", "Debian_12", "riscv64")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("does not build for riscv64: its arches are x86_64, aarch64"),
            "{msg}"
        );
    }

    #[test]
    fn offline_is_seen_before_the_separator_only() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(offline(&s(&["--clean", "--offline"])));
        assert!(offline(&s(&["-o"])));
        assert!(!offline(&s(&["--clean"])));
        assert!(!offline(&s(&["--", "--offline"])));
    }
}
