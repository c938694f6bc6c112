use std::process::ExitCode;

use httpwait::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("httpwait", || {
        httpwait::run(&cliutil::parse_args::<Cli>("httpwait"))
    })
}
