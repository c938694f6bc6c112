//! A tool in miniature for cliutil's integration tests: prints `--lines N`
//! lines through `cliutil::stdout()` and ends with `--code C`, the code it
//! "decided"; says on stderr whether it saw the pipe closed.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// Prints lines, then exits with the given code.
#[derive(Parser)]
#[command(name = "decided", version)]
struct Cli {
    /// How many lines to print.
    #[arg(long, default_value_t = 1)]
    lines: u32,
    /// The exit code decided.
    #[arg(long, default_value_t = 0)]
    code: u8,
    /// First write to a socket whose peer has gone (EPIPE, not stdout's).
    #[arg(long)]
    peer_gone: bool,
}

fn main() -> ExitCode {
    cliutil::main_with("decided", || {
        let cli = cliutil::parse_args::<Cli>("decided");
        if cli.peer_gone {
            let (mut ours, theirs) = std::os::unix::net::UnixStream::pair()?;
            drop(theirs);
            anyhow::Context::context(ours.write_all(b"request"), "sending the request")?;
        }
        let mut out = cliutil::stdout();
        for i in 0..cli.lines {
            writeln!(out, "line {i}")?;
        }
        out.flush()?;
        if cliutil::stdout_closed() {
            cliutil::warn("decided", "stdout closed");
        }
        Ok(ExitCode::from(cli.code))
    })
}
