use std::process::ExitCode;

use db_reset::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("db-reset", || {
        db_reset::command::run(&cliutil::parse_args::<Cli>("db-reset"))
    })
}
