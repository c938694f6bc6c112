use std::process::ExitCode;

use aoe_fstab::cli::Cli;
use clap::Parser;

fn main() -> ExitCode {
    cliutil::main_with("aoe-fstab", || aoe_fstab::run(Cli::parse()))
}
