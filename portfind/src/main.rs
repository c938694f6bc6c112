use std::process::ExitCode;

use portfind::cli::Cli;

fn main() -> ExitCode {
    portfind::cli::unset_empty_env();
    cliutil::main_with("portfind", || {
        portfind::run(&cliutil::parse_args::<Cli>("portfind"))
    })
}
