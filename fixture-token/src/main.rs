use std::process::ExitCode;

use fixture_token::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("fixture-token", || {
        fixture_token::command::run(&cliutil::parse_args::<Cli>("fixture-token"))
    })
}
