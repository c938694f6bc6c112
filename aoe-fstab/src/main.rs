use std::process::ExitCode;

use clap::Parser;
use aoe_fstab::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("aoe-fstab", || {
        let _cli = Cli::parse();
        Ok(ExitCode::SUCCESS)
    })
}
