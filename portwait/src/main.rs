use std::process::ExitCode;

use portwait::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("portwait", || {
        portwait::run(&cliutil::parse_args::<Cli>("portwait"))
    })
}
