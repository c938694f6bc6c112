//! The command line of `logwait`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use pidwait::process::parse_pid;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  PATTERN appeared COUNT times; the first matching line is on stdout and
     CMD, if given, is run
  1  timed out (stderr says how many were seen), or the --pid process
     exited first (stderr shows the log's last lines)
  2  usage or fatal error: bad pattern, FILE not a regular file or not
     readable, bad or untrusted pidfile, CMD not run";

/// Wait until a pattern appears in a log file, then exit or run a command.
///
/// Follows FILE as `tail -F` does: through truncation, rotation (rename and
/// recreate) and a FILE that does not exist yet, woken by change
/// notifications rather than by polling. Only lines written after logwait starts count, unless
/// --from-start.
#[derive(Debug, Parser)]
#[command(name = "logwait", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The log file to follow.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The text to wait for (a line containing it matches).
    #[arg(value_name = "PATTERN")]
    pub pattern: String,

    /// PATTERN is a regular expression (Rust regex syntax), not plain text.
    #[arg(short = 'E', long)]
    pub regex: bool,

    /// Wait until this many lines have matched.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,

    /// Count the lines already in FILE too, not only those written later.
    #[arg(short = 's', long)]
    pub from_start: bool,

    /// Give up after this long (250ms, 10s, 2m; a bare number is seconds).
    #[arg(short, long, value_name = "DURATION", default_value = "10s", value_parser = cliutil::parse_duration)]
    pub timeout: Duration,

    /// Fail at once if this process exits before PATTERN appears.
    #[arg(short, long, value_name = "PID", value_parser = parse_pid, conflicts_with = "pidfile")]
    pub pid: Option<i32>,

    /// Like --pid, with the pid read from FILE (pidwait's reader and trust
    /// checks). A pidfile not written yet is waited for, within the timeout.
    #[arg(short = 'P', long, value_name = "PIDFILE")]
    pub pidfile: Option<PathBuf>,

    /// Run this command (replacing logwait) once PATTERN has appeared.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
