//! The command line of `httpwait`.

// Doc comments here are `--help` text, where backticks would show.
#![allow(clippy::doc_markdown)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::headers::{parse_header, Header};
use crate::status::StatusSet;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  every URL answered as wanted; CMD, if given, is run
  1  timed out (or, with --once, the one try failed): each URL not ready is
     named with its last failure (refused, status, body mismatch, TLS error,
     no answer in time, name not resolved; with --print-body, a body cut
     short or longer than --body-limit); nothing is printed
  2  usage or fatal error: bad URL, status, header or pattern, unreadable
     --cacert, --header-file or --token-file, no token for --auth, CMD not
     run, standard output not writable (a closed pipe changes nothing)

Environment:
  ARVADOS_API_TOKEN  the token for --auth when --token-file is not given

Secrets go in --header-file or --token-file (or ARVADOS_API_TOKEN), never on
the command line (every user can read argv with ps); they are never shown in
a message (--print-body prints bodies as received: a server's echo too).";

/// Wait until HTTP(S) URLs answer as wanted, then exit or run a command.
///
/// Each URL is tried until it answers with a wanted status (and body), each
/// try with a fresh connection: the name is looked up again and all its
/// addresses, IPv4 and IPv6, are tried. Redirects are not followed.
// Flags of a command line, each on its own.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Parser)]
#[command(name = "httpwait", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, long_about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to wait for: http:// or https:// URLs.
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,

    /// Wanted statuses: codes and ranges, e.g. 200, 200-299,301.
    #[arg(short, long, value_name = "CODES", default_value = "200-399", value_parser = StatusSet::parse)]
    pub status: StatusSet,

    /// The body must contain TEXT (within its first --body-limit bytes).
    #[arg(long, value_name = "TEXT", conflicts_with = "body_regex")]
    pub body: Option<String>,

    /// The body must match this regular expression (within its first
    /// --body-limit bytes).
    #[arg(long, value_name = "RE")]
    pub body_regex: Option<String>,

    /// How much of the body --body and --body-regex look at, in bytes
    /// (K and M suffixes: 64K, 1M); with --print-body, the most a body may
    /// be (a longer one is a failure, never printed cut).
    #[arg(long, value_name = "BYTES", default_value = "64K", value_parser = parse_size)]
    pub body_limit: u64,

    /// Send this header, 'Name: value' (repeatable). Not for secrets
    /// (Authorization, Proxy-Authorization and Cookie are refused): use
    /// --header-file.
    #[arg(short = 'H', long, value_name = "HEADER", value_parser = parse_header)]
    pub header: Vec<Header>,

    /// Send the headers in FILE, one 'Name: value' a line; their values are
    /// never shown. /dev/stdin reads a pipe.
    #[arg(long, value_name = "FILE")]
    pub header_file: Option<PathBuf>,

    /// Send Authorization: SCHEME TOKEN, the token from --token-file or
    /// ARVADOS_API_TOKEN.
    #[arg(long, value_name = "SCHEME", value_parser = ["Bearer", "OAuth2"])]
    pub auth: Option<String>,

    /// The token for --auth (surrounding whitespace is ignored; /dev/stdin
    /// reads a pipe).
    #[arg(long, value_name = "FILE", requires = "auth")]
    pub token_file: Option<PathBuf>,

    /// The request method [default: GET, or POST with --data].
    #[arg(short = 'X', long, value_parser = parse_method)]
    pub method: Option<String>,

    /// Send TEXT as the request body, by POST unless --method says otherwise;
    /// once: the same to every URL; given once per URL: each to its URL, in
    /// the order given. No Content-Type unless a header gives one (JSON: -H
    /// 'Content-Type: application/json'). Not for secrets.
    #[arg(long, value_name = "TEXT")]
    pub data: Vec<String>,

    /// Once every URL answered as wanted, print their bodies on stdout in the
    /// order given, each ending in a newline (an empty one too); a body cut
    /// short or longer than --body-limit is a failure. Nothing is printed
    /// unless all are ready. Printed as received: not masked.
    #[arg(long)]
    pub print_body: bool,

    /// Give up after this long in all (250ms, 10s, 2m; a bare number is seconds).
    #[arg(short, long, value_name = "DURATION", default_value = "10s", value_parser = cliutil::parse_duration)]
    pub timeout: Duration,

    /// Give up on one try after this long: connecting, TLS and the whole
    /// answer (never past --timeout).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = positive_duration)]
    pub try_timeout: Duration,

    /// Longest pause between tries of a URL that answered (or failed)
    /// otherwise than refusing: pauses start at 10ms and double up to it.
    /// While connections are refused, httpwait looks whether anyone listens
    /// every 1 to 5ms, without a request.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = positive_duration)]
    pub interval: Duration,

    /// Try each URL once: exit 0 if all answered as wanted, else 1 (for
    /// container health checks and probes that retry themselves).
    #[arg(long)]
    pub once: bool,

    /// Trust the certificates in this PEM file: a server presenting exactly
    /// a self-signed one of them is accepted whatever its name (pinning);
    /// any other is verified against them as CAs and the system's.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Do not verify the server's certificate (warns on stderr).
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Say on stderr why a URL is not ready yet, each time the reason changes.
    #[arg(short, long)]
    pub verbose: bool,

    /// Run this command (replacing httpwait) once every URL is ready.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// A timeout of zero would give up before trying.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match cliutil::parse_duration(text)? {
        d if d.is_zero() => Err(format!(
            "'{text}' is no time at all: expected e.g. 250ms, 5s"
        )),
        d => Ok(d),
    }
}

/// A method is an HTTP token; upper case as servers expect it.
fn parse_method(text: &str) -> Result<String, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(format!(
            "invalid method '{text}': expected letters, e.g. GET, HEAD, POST"
        ))
    }
}

/// Bytes, with an optional K or M suffix (powers of 1024), at most 1024M.
fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("invalid size '{text}': expected bytes, e.g. 4096, 64K, 1M");
    let (digits, unit) = match text.trim().as_bytes().last() {
        Some(b'k' | b'K') => (&text.trim()[..text.trim().len() - 1], 1 << 10),
        Some(b'm' | b'M') => (&text.trim()[..text.trim().len() - 1], 1 << 20),
        _ => (text.trim(), 1),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match n.checked_mul(unit) {
        Some(size @ 1..=0x4000_0000) => Ok(size),
        Some(0) => Err(format!("invalid size '{text}': must be more than 0")),
        _ => Err(format!("invalid size '{text}': expected at most 1024M")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        for bad in ["", "K", "1.5M", "-1", "x"] {
            assert!(
                parse_size(bad).unwrap_err().contains("expected bytes"),
                "{bad}"
            );
        }
        assert!(parse_size("0").unwrap_err().contains("more than 0"));
        assert!(parse_size("2000M").unwrap_err().contains("at most 1024M"));
    }

    #[test]
    fn methods() {
        assert_eq!(parse_method("get"), Ok("GET".into()));
        assert!(parse_method("GE T").is_err());
        assert!(parse_method("").is_err());
    }

    #[test]
    fn timeouts_must_be_positive() {
        assert!(positive_duration("0")
            .unwrap_err()
            .contains("no time at all"));
        assert_eq!(positive_duration("2s"), Ok(Duration::from_secs(2)));
    }
}
