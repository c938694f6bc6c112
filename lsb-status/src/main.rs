use std::process::ExitCode;

use clap::Parser;
use lsb_status::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("lsb-status", || {
        let _cli = Cli::parse();
        Ok(ExitCode::SUCCESS)
    })
}
