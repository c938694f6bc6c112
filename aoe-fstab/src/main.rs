use std::process::ExitCode;

use aoe_fstab::cli::Cli;

fn main() -> ExitCode {
    cliutil::main_with("aoe-fstab", || {
        aoe_fstab::run(cliutil::parse_args::<Cli>("aoe-fstab"))
    })
}
