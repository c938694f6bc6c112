use std::process::ExitCode;

use clap::Parser;
use portfind::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("portfind", || portfind::run(&Cli::parse()))
}
