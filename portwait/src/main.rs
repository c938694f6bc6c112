use std::process::ExitCode;

use clap::Parser;
use portwait::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("portwait", || portwait::run(&Cli::parse()))
}
