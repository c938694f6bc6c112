use std::process::ExitCode;

fn main() -> ExitCode {
    cliutil::main_with("lsb-status", || lsb_status::run(lsb_status::parse_args()))
}
