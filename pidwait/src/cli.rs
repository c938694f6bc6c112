//! The command line of `pidwait`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser};
use nix::sys::signal::Signal;

use crate::schedule::parse_signal;

const EXIT_CODES: &str = "\
Exit codes:
  0    done: the pidfile names a live process / the process is gone
       (also when it was gone already, with a note on stderr)
  1    timed out, still alive after the retry schedule, or (--strict)
       nothing to wait for or stop
  2    usage or fatal error: a bad or untrusted pidfile, a process that
       is not --exe/--name, a pid that is a thread or kernel thread
  130  interrupted by SIGINT; 143 by SIGTERM (any half-done stop is reported)

--running: 0 running (pids on stdout), 1 not running (no pidfile, gone,
zombie, stale, another process), 2 a bad or untrusted pidfile.

pidfile: one line of pids (several separated by spaces are all used), greater
than 1 and at most /proc/sys/kernel/pid_max. A process that started after the
pidfile was last written is not the one it names: it counts as dead and is
never signalled (a stale pidfile). The pidfile must be one only root or we
could have written (--exe/--name do not make up for it): every directory on its path owned by
root or us and not writable by others (unless sticky), the file not a symlink,
owned by root or us, writable by its owner only. --trust-pidfile accepts any.";

/// Wait for a pidfile, wait for a process to exit, or stop it.
///
/// `pidwait FILE` waits until FILE names a live process and prints its pid.
/// `pidwait --exit FILE` waits until the process is gone; `pidwait --kill
/// FILE` stops it. Exits are seen at once through pidfds; signals go through
/// the pidfd, so a recycled pid is never hit.
// Flags are what a command line is made of.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Parser)]
#[command(name = "pidwait", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, after_help = EXIT_CODES)]
#[command(group(ArgGroup::new("target").required(true).args(["file", "pid"])))]
#[command(group(ArgGroup::new("mode").args(["exit", "kill", "running"])))]
pub struct Cli {
    /// The pidfile.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Use these pids instead of a pidfile (with --exit, --kill or
    /// --running; repeatable).
    #[arg(long, value_name = "PID", requires = "mode", num_args = 1, action = clap::ArgAction::Append,
          value_parser = clap::value_parser!(i32).range(2..))]
    pub pid: Vec<i32>,

    /// Wait until the process is gone; send no signal.
    #[arg(short = 'x', long)]
    pub exit: bool,

    /// Stop the process: send --signal (or the --retry schedule) and wait
    /// until it is gone.
    #[arg(short, long)]
    pub kill: bool,

    /// Say whether it runs, at once: exit 0 and print the pids if every
    /// one is alive (and is what the checks ask for), 1 if not.
    #[arg(long)]
    pub running: bool,

    /// Only a process that started this many clock ticks after boot (as
    /// --print-started shows it) is the one meant: any other under its pid
    /// is a newcomer, never signalled. With --kill --group and the leader
    /// gone: only members that started no earlier.
    #[arg(long, value_name = "TICKS")]
    pub started: Option<u64>,

    /// Print each pid with its start time (PID TICKS), for --started.
    #[arg(long, conflicts_with_all = ["exit", "kill"])]
    pub print_started: bool,

    /// How long to wait: for the pidfile, for the exit, or after the signal
    /// of --kill without --retry (250ms, 10s, 2m; a bare number is seconds)
    /// [default: 10s].
    #[arg(short, long, value_name = "DURATION", value_parser = cliutil::parse_duration,
          conflicts_with = "retry")]
    pub timeout: Option<Duration>,

    /// The signal --kill sends (a name like TERM, HUP or a number).
    #[arg(short, long, value_name = "SIGNAL", value_parser = parse_signal, default_value = "TERM",
          requires = "kill", allow_hyphen_values = true)]
    pub signal: Signal,

    /// With --kill: first give the process this long to exit by itself
    /// (250ms, 10s, 2m; a bare number is seconds).
    #[arg(short, long, value_name = "DURATION", value_parser = cliutil::parse_duration,
          requires = "kill")]
    pub grace: Option<Duration>,

    /// With --kill: a start-stop-daemon schedule, e.g. TERM/10/KILL/5;
    /// a lone timeout N means SIGNAL/N/KILL/N; `forever` repeats what follows.
    #[arg(
        short = 'R',
        long,
        value_name = "SCHEDULE",
        requires = "kill",
        allow_hyphen_values = true
    )]
    pub retry: Option<String>,

    /// With --kill: signal the process's whole process group (it must be a
    /// group leader) and wait for every member to go, late ones too. If the
    /// leader is gone, stop what is left of its group.
    #[arg(long, requires = "kill")]
    pub group: bool,

    /// Delete the pidfile once the process is gone (if it still names it).
    #[arg(long, requires = "mode", conflicts_with_all = ["pid", "running"])]
    pub remove: bool,

    /// Exit 1 when there was nothing to wait for or stop (no pidfile, or
    /// the process was gone already).
    #[arg(long, requires = "mode", conflicts_with = "running")]
    pub strict: bool,

    /// Only act on a process running this executable (compared with
    /// /proc/PID/exe, symlinks resolved): a guard against a reused pid.
    #[arg(short, long, value_name = "PATH")]
    pub exe: Option<PathBuf>,

    /// Only act on a process with this command name (as in ps -o comm;
    /// the kernel keeps the first 15 bytes).
    #[arg(short, long, value_name = "COMM", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub name: Option<String>,

    /// Believe the pidfile whoever could have written it: its path, owner
    /// and mode are not checked, and its age is not compared with the
    /// process's start (for a wall clock stepped since it was written).
    #[arg(long)]
    pub trust_pidfile: bool,

    /// Say nothing on stderr about what was done (errors are still shown).
    #[arg(short, long)]
    pub quiet: bool,
}

/// The default of `--timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_rules() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("pidwait").chain(args.iter().copied()))
        };
        assert!(parse(&["f.pid"]).is_ok());
        assert!(parse(&["--kill", "--pid", "1234", "--pid", "99"]).is_ok());
        assert!(parse(&[]).is_err(), "a target is required");
        assert!(
            parse(&["--pid", "1234"]).is_err(),
            "--pid needs --exit or --kill"
        );
        assert!(parse(&["--exit", "--kill", "f"]).is_err());
        assert!(parse(&["--kill", "--pid", "1"]).is_err(), "pid 1");
        assert!(parse(&["--kill", "--pid", "-5"]).is_err(), "negative");
        assert!(
            parse(&["--signal", "HUP", "f"]).is_err(),
            "--signal needs --kill"
        );
        assert!(parse(&["--kill", "--retry", "5", "--timeout", "3", "f"]).is_err());
        assert!(parse(&["--kill", "--signal", "NOPE", "f"]).is_err());
        assert!(parse(&["--exit", "--remove", "--pid", "42"]).is_err());
        assert!(
            parse(&["--name", "", "f"]).is_err(),
            "an empty name matches nothing"
        );
        let cli = parse(&["--kill", "--retry", "-9/5", "f"]).unwrap();
        assert_eq!(cli.retry.as_deref(), Some("-9/5"));
        let cli = parse(&["--kill", "--signal", "-9", "f"]).unwrap();
        assert_eq!(cli.signal, Signal::SIGKILL);
        assert!(parse(&["--running", "--pid", "42"]).is_ok());
        assert!(parse(&["--running", "--kill", "f"]).is_err());
        assert!(parse(&["--running", "--remove", "f"]).is_err());
        assert!(parse(&["--kill", "--print-started", "f"]).is_err());
        assert!(parse(&["--running", "--started", "x", "f"]).is_err());
    }
}
