use clap::Parser;
use pidwait::cli::Cli;

fn main() -> std::process::ExitCode {
    cliutil::main_with("pidwait", || pidwait::run::run(&Cli::parse()))
}
