use std::process::ExitCode;

use clap::Parser;
use fixture_token::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("fixture-token", || {
        let _cli = Cli::parse();
        Ok(ExitCode::SUCCESS)
    })
}
