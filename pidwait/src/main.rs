use pidwait::cli::Cli;

fn main() -> std::process::ExitCode {
    cliutil::main_with("pidwait", || {
        pidwait::run::run(&cliutil::parse_args::<Cli>("pidwait"))
    })
}
