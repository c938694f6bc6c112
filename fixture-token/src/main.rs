use std::process::ExitCode;

use clap::Parser;
use fixture_token::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("fixture-token", || {
        fixture_token::command::run(&Cli::parse())
    })
}
