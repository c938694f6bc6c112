use std::process::ExitCode;

use clap::Parser;
use pidwait::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("pidwait", || {
        let _cli = Cli::parse();
        Ok(ExitCode::SUCCESS)
    })
}
