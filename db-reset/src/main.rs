use std::process::ExitCode;

use clap::Parser;
use db_reset::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("db-reset", || db_reset::command::run(&Cli::parse()))
}
