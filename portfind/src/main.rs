use std::process::ExitCode;

use clap::Parser;
use portfind::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("portfind", || {
        let _cli = Cli::parse();
        Ok(ExitCode::SUCCESS)
    })
}
