use std::process::ExitCode;

use logwait::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("logwait", || {
        logwait::run(&cliutil::parse_args::<Cli>("logwait"))
    })
}
