use std::process::ExitCode;

use clap::Parser;
use portwait::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("portwait", || {
        let _cli = Cli::parse();
        Ok(ExitCode::SUCCESS)
    })
}
