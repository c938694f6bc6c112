//! The command line of `portfind`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::ports::{parse_port, parse_ports, parse_range, PortRange};

const EXIT_CODES: &str = "\
Exit codes:
  0  success: the ports are printed, one a line
  1  no free port could be found in the range
  2  usage or fatal error";

/// The environment variables that stand in for options.
const ENV_VARS: [&str; 2] = ["PORTFIND_LEASE_DIR", "PORTFIND_LEASE"];

/// Removes our environment variables that are set but empty, so that they
/// mean "unset" (as `${VAR:-default}` does in a shell; CI systems often
/// export empty ones) instead of clap's "a value is required" error.
/// Call it first thing in `main`, while there is only one thread.
pub fn unset_empty_env() {
    for var in ENV_VARS {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            std::env::remove_var(var);
        }
    }
}

/// Print free TCP ports, one a line.
///
/// A port is free when it binds on every address checked (by default the
/// IPv4 and IPv6 wildcards; a family the host lacks is skipped). Each port
/// handed out is leased in a lock directory, so that parallel portfind
/// callers never receive the same port while the lease lasts.
#[derive(Debug, Parser)]
#[command(name = "portfind", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, after_help = EXIT_CODES)]
pub struct Cli {
    /// How many distinct ports to print.
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub count: u16,

    /// Pick ports from this range, LOW-HIGH (inclusive). The default lies
    /// below Linux's ephemeral range, so outgoing connections do not take them.
    #[arg(short, long, value_name = "LOW-HIGH", default_value = "20000-32767", value_parser = parse_range)]
    pub range: PortRange,

    /// Never pick these ports: a comma-separated list of ports and ranges
    /// (`8080,9000-9100`); may be repeated.
    #[arg(short = 'x', long, value_name = "PORTS", value_parser = parse_ports)]
    pub exclude: Vec<Vec<PortRange>>,

    /// Also require the port to be free for UDP.
    #[arg(short, long)]
    pub udp: bool,

    /// Check the port on this address instead of the IPv4 and IPv6
    /// wildcards; may be repeated.
    #[arg(short, long, value_name = "ADDR")]
    pub address: Vec<IpAddr>,

    /// Directory holding the leases and their lock
    /// [default: `$XDG_RUNTIME_DIR/portfind`, else `/tmp/portfind-UID`].
    #[arg(long, value_name = "DIR", env = "PORTFIND_LEASE_DIR")]
    pub lease_dir: Option<PathBuf>,

    /// How long a handed-out port stays reserved for its caller
    /// (250ms, 10s, 2m; a bare number is seconds).
    #[arg(short, long, value_name = "DURATION", env = "PORTFIND_LEASE",
          default_value = "2m", value_parser = cliutil::parse_duration)]
    pub lease: Duration,

    /// Drop the lease on these ports (once the caller has bound them, or
    /// no longer needs them) and print nothing; may be repeated.
    #[arg(long, value_name = "PORT", value_parser = parse_port,
          conflicts_with_all = ["count", "range", "exclude", "udp", "address"])]
    pub release: Vec<u16>,
}
