//! The command line of `portwait`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::target::{parse_target, Target};
use pidwait::process::parse_pid;

const EXIT_CODES: &str = "\
Targets:
  PORT             any address of this host: loopback and the wildcards at
                   every look, any other (127.0.0.2, an interface's address)
                   too with kernel events, else every 50 ms unless --pid or
                   --closed: up to ~50 ms late
  HOST:PORT        HOST's addresses; localhost means 127.0.0.1 and ::1
  [IPV6]:PORT      an IPv6 address ([fe80::1%eth0]:PORT if link-local)
  Local addresses are checked in the kernel's socket table (no connection is
  made, unless --connect), looked at again when the kernel says a listener
  on a wanted port started or stopped (the tracepoint
  sock:inet_sock_set_state; needs root or CAP_PERFMON and tracefs mounted)
  and at least every 100 ms, else every 1 ms backing off to 8 ms (-v says
  which); a detached second portwait, holding nothing else, releases the
  events for ~43 ms after it exits. Other hosts get a TCP connect probe. A
  HOST that does not resolve yet is waited for: looked up again every
  10 ms, backing off to 250 ms.

Exit codes:
  0  every target is listening (with --closed: none is); CMD, if given, is run
  1  timed out (the targets never ready, a host name never resolved with the
     resolver's last error, or a pidfile never written, are named), or the
     --pid process died
  2  usage or fatal error: bad target, unreadable or untrusted pidfile,
     /proc/PID/fd of the --pid process not readable, CMD not run";

/// Wait until TCP ports listen, then exit or run a command.
///
/// Waits until something listens on every target (or, with --closed, until
/// nothing does), woken by the kernel when a listener on a wanted port
/// starts or stops where it may trace, else checking every few
/// milliseconds.
// Flags of a command line, each on its own.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Parser)]
#[command(name = "portwait", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to wait for: PORT, HOST:PORT or [IPV6]:PORT.
    #[arg(required = true, value_name = "TARGET", value_parser = parse_target)]
    pub targets: Vec<Target>,

    /// Give up after this long (250ms, 10s, 2m; a bare number is seconds).
    #[arg(short, long, value_name = "DURATION", default_value = "10s", value_parser = cliutil::parse_duration)]
    pub timeout: Duration,

    /// Only a listener of this process or its descendants counts; fail at
    /// once if the process dies first.
    #[arg(short, long, value_name = "PID", value_parser = parse_pid, conflicts_with = "pidfile")]
    pub pid: Option<i32>,

    /// Like --pid, with the pid read from FILE (one line, one pid; a FIFO,
    /// device or directory is refused). A FILE not written yet is waited for,
    /// within the timeout.
    #[arg(short = 'P', long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,

    /// Believe the --pidfile whoever could have written it. By default a
    /// pidfile that someone other than root or us could have written or
    /// replaced (a symlink, a directory on its path owned or writable by
    /// another user, a group- or world-writable file) is refused (exit 2).
    #[arg(long, requires = "pidfile")]
    pub trust_pidfile: bool,

    /// Wait until nothing listens on the targets any more.
    #[arg(short, long)]
    pub closed: bool,

    /// Local targets must also accept a connection: a TCP handshake is
    /// completed and closed at once (no bytes are sent), so a port that
    /// listens but drops or refuses connections (a firewall rule, a full
    /// backlog) is not ready. Remote targets are always probed this way.
    #[arg(long, conflicts_with = "closed")]
    pub connect: bool,

    /// Say on stderr how the wait is made (kernel events, or polling and
    /// why) and, at the end, how many looks it took.
    #[arg(short, long)]
    pub verbose: bool,

    /// Run this command (replacing portwait) once the targets are ready.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}
