use std::process::ExitCode;

use clap::Parser;
use db_reset::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("db-reset", || {
        let _cli = Cli::parse();
        Ok(ExitCode::SUCCESS)
    })
}
