use clap::Parser;

fn main() {
    archbuild::sys::signals::default_sigpipe();
    let cli = match archbuild::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Err(err) = archbuild::cli::run(cli) {
        let code = archbuild::error::exit_code(&err);
        if err.downcast_ref::<archbuild::error::ExitStatus>().is_none() {
            eprintln!("archbuild: error: {}", archbuild::error::one_line(&err));
        }
        std::process::exit(code);
    }
}
