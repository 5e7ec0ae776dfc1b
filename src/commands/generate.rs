//! `archbuild generate man|completions|binfmt-example DIR` (hidden): the man pages, shell
//! completions and binfmt.d example the package ships, made from the clap definition and
//! the arch table at build time so that they never drift from the program.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap_complete::Shell;

use crate::arch::{self, ARCHES};
use crate::binfmt::{Entry, Flags};

#[derive(Debug, clap::Subcommand)]
pub enum GenerateCommand {
    /// archbuild.1 and one page per subcommand (archbuild-binfmt-register.1, ...)
    Man {
        #[arg(value_hint = clap::ValueHint::DirPath)]
        dir: PathBuf,
    },
    /// Shell completions: archbuild.bash, _archbuild (zsh) and archbuild.fish
    Completions {
        #[arg(value_hint = clap::ValueHint::DirPath)]
        dir: PathBuf,
    },
    /// archbuild.conf: a binfmt.d file with archbuild's entry for every arch this host emulates
    BinfmtExample {
        #[arg(value_hint = clap::ValueHint::DirPath)]
        dir: PathBuf,
    },
}

/// Value parser of ARCH arguments: takes any name, as before (`arch::lookup` decides
/// later, so rpm, Debian and qemu aliases still work), and offers the OBS names of the
/// arch table to shell completions.
#[derive(Debug, Clone, Copy)]
pub struct ArchNames;

impl TypedValueParser for ArchNames {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(ARCHES.iter().map(|a| {
            PossibleValue::new(a.obs)
                .help(format!("rpm {}, Debian {}, qemu {}", a.rpm, a.deb, a.qemu))
        })))
    }
}

/// A file to write: its name in the output directory and its content.
#[derive(Debug, PartialEq, Eq)]
pub struct Generated {
    pub name: String,
    pub content: Vec<u8>,
}

/// The man pages: one for `cli` and one for each visible subcommand at every depth,
/// named `archbuild-<sub>-<subsub>.1`.
pub fn man_pages(cli: clap::Command) -> Result<Vec<Generated>> {
    fn walk(cmd: clap::Command, source: &str, out: &mut Vec<Generated>) -> Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub.clone(), source, out)?;
        }
        let man = clap_mangen::Man::new(cmd)
            .source(source)
            .manual("archbuild manual");
        let mut content = Vec::new();
        man.render(&mut content)?;
        out.push(Generated {
            name: man.get_filename(),
            content,
        });
        Ok(())
    }
    // `help` is not a command of its own in a manual; building sets the display names
    // (archbuild-binfmt-register) that the page names come from.
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    // Subcommands have no version of their own: every page names the program's.
    let source = format!(
        "{} {}",
        cli.get_name(),
        cli.get_version().unwrap_or_default()
    );
    let mut out = Vec::new();
    walk(cli, &source, &mut out)?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The bash, zsh and fish completion scripts, under clap_complete's file names.
pub fn completions(cli: clap::Command) -> Vec<Generated> {
    let bin = cli.get_name().to_string();
    [Shell::Bash, Shell::Zsh, Shell::Fish]
        .into_iter()
        .map(|shell| {
            let mut cmd = cli.clone();
            let mut content = Vec::new();
            clap_complete::generate(shell, &mut cmd, &bin, &mut content);
            Generated {
                name: clap_complete::Generator::file_name(&shell, &bin),
                content,
            }
        })
        .collect()
}

/// The emulator path of openSUSE's `qemu-linux-user` (static, as the `F` flag needs).
fn packaged_emulator(arch: &arch::Arch) -> PathBuf {
    Path::new("/usr/bin").join(arch.emulator_name())
}

/// A binfmt.d file registering archbuild's `FP` entry for each arch that `host` runs
/// under emulation (arches sharing a qemu target once), with openSUSE's emulator paths.
pub fn binfmt_example(host: &arch::Arch) -> Generated {
    let flags = Flags::parse("FP").expect("FP are valid flags");
    let mut arches: Vec<&arch::Arch> = ARCHES.iter().filter(|a| !a.is_native_on(host)).collect();
    arches.dedup_by_key(|a| a.qemu);
    let mut text = format!(
        "# Example: archbuild's binfmt_misc entries for an {} host, emulators from qemu-linux-user.\n\
         # Copy the lines you need to /etc/binfmt.d/archbuild.conf, or let\n\
         # `archbuild binfmt install ARCH` write one file per arch.\n",
        host.obs
    );
    for a in arches {
        let mut entry = Entry::for_arch(a, &packaged_emulator(a), flags);
        entry.name = format!("archbuild-{}", a.qemu);
        text.push_str(&format!(
            "# {} ({})\n{}\n",
            a.obs,
            a.emulator_name(),
            entry.register_line()
        ));
    }
    Generated {
        name: "archbuild.conf".to_string(),
        content: text.into_bytes(),
    }
}

fn write_all(dir: &Path, files: &[Generated]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create {}: give a directory you may write to",
            dir.display()
        )
    })?;
    for f in files {
        let path = dir.join(&f.name);
        std::fs::write(&path, &f.content).with_context(|| {
            format!(
                "cannot write {}: check the directory's permissions",
                path.display()
            )
        })?;
    }
    Ok(())
}

/// `cli` is the whole command line definition, the source of pages and completions.
pub fn run(cmd: GenerateCommand, cli: clap::Command) -> Result<()> {
    match cmd {
        GenerateCommand::Man { dir } => write_all(&dir, &man_pages(cli)?),
        GenerateCommand::Completions { dir } => write_all(&dir, &completions(cli)),
        GenerateCommand::BinfmtExample { dir } => write_all(&dir, &[binfmt_example(arch::host()?)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn cli() -> clap::Command {
        crate::cli::Cli::command()
    }

    fn names(files: &[Generated]) -> Vec<&str> {
        files.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn man_pages_cover_nested_subcommands_and_not_hidden_ones() {
        let pages = man_pages(cli()).unwrap();
        let names = names(&pages);
        for page in [
            "archbuild.1",
            "archbuild-binfmt-register.1",
            "archbuild-obs-plan.1",
            "archbuild-build.1",
        ] {
            assert!(names.contains(&page), "{page} missing from {names:?}");
        }
        assert!(
            !names
                .iter()
                .any(|n| n.contains("generate") || n.contains("help")),
            "{names:?}"
        );
        let register = pages
            .iter()
            .find(|p| p.name == "archbuild-binfmt-register.1")
            .unwrap();
        let text = String::from_utf8_lossy(&register.content);
        let title = format!(
            ".TH archbuild-binfmt-register 1  \"archbuild {}\" \"archbuild manual\"",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.lines().any(|l| l == title), "{text}");
    }

    #[test]
    fn bash_completion_offers_arch_names() {
        let files = completions(cli());
        assert_eq!(
            names(&files),
            ["archbuild.bash", "_archbuild", "archbuild.fish"]
        );
        for f in &files {
            let text = String::from_utf8_lossy(&f.content);
            for a in ["aarch64", "armv7l", "riscv64", "s390x"] {
                assert!(text.contains(a), "{}: no {a}", f.name);
            }
        }
    }

    #[test]
    fn arch_arguments_still_take_aliases() {
        use clap::Parser;
        let parsed = crate::cli::Cli::try_parse_from(["archbuild", "bootstrap", "arm64"]);
        assert!(parsed.is_ok(), "{parsed:?}");
        let parsed = crate::cli::Cli::try_parse_from(["archbuild", "doctor", "armhf", "armv7hl"]);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn binfmt_example_has_one_entry_per_emulated_qemu_target() {
        let x86_64 = arch::lookup("x86_64").unwrap();
        let text = String::from_utf8(binfmt_example(x86_64).content).unwrap();
        let entries: Vec<&str> = text.lines().filter(|l| l.starts_with(':')).collect();
        let aarch64 = entries
            .iter()
            .find(|l| l.starts_with(":archbuild-aarch64:"))
            .expect("an aarch64 entry");
        let entry = Entry::parse(aarch64).unwrap();
        let table = arch::lookup("aarch64").unwrap();
        assert_eq!(
            entry.matcher,
            Entry::for_arch(table, Path::new("/x"), Flags::default()).matcher
        );
        assert!(aarch64.ends_with(":/usr/bin/qemu-aarch64:FP"), "{aarch64}");
        assert_eq!(
            entries
                .iter()
                .filter(|l| l.starts_with(":archbuild-arm:"))
                .count(),
            1,
            "{text}"
        );
        assert!(
            !entries
                .iter()
                .any(|l| l.contains("qemu-x86_64") || l.contains("qemu-i386")),
            "{text}"
        );
        for line in &entries {
            Entry::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }
}
