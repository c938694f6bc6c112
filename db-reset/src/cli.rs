//! The command line of `db-reset`.

// Doc comments here are `--help` text, where backticks would show.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{OsStringValueParser, TypedValueParser};
use clap::Parser;

const EXIT_CODES: &str = "\
Exit codes:
  0  the server answered 2xx: the database was reset
  1  the server answered another status, or never answered (refused after
     --retry-for, connect or read timeout, no answer from the name service
     within the connect timeout)
  2  usage or fatal error: no or malformed token, unknown fixture entry,
     unresolvable host, a token file that is a FIFO, device or directory,
     or a TLS problem (bad --cacert, certificate not trusted, not valid for
     the host name, expired, a pinned certificate out of its dates)

Environment:
  ARVADOS_API_TOKEN          the token, when neither --token-file nor
                             --token-name is given
  ARVADOS_API_HOST_INSECURE  1, true, yes or on (any case): like --insecure,
                             unless --cacert is given (flags win)

The token is never taken on the command line (every user can read argv with ps)
and never printed in a message.";

/// Reset an Arvados test server's database: POST https://HOST/database/reset
/// with `Authorization: OAuth2 TOKEN`.
///
/// The token comes from --token-file, from --token-name (a fixture entry, read
/// from DIR/api_client_authorizations.yml) or from ARVADOS_API_TOKEN.
#[derive(Debug, Parser)]
#[command(name = "db-reset", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, long_about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The API server, HOST or HOST:PORT ([::1]:8000 for IPv6).
    #[arg(long, env = "ARVADOS_API_HOST", value_name = "HOST")]
    pub host: String,

    /// Read the token from this file (surrounding whitespace is ignored;
    /// at most 64 KiB). A FIFO, device or directory is refused, but
    /// /dev/stdin reads a pipe or here-string (waiting at most 10s).
    #[arg(long, value_name = "FILE", conflicts_with = "token_name")]
    pub token_file: Option<PathBuf>,

    /// Take the api_token of this entry of the fixtures (like fixture-token NAME).
    #[arg(long, value_name = "NAME", requires = "fixtures")]
    pub token_name: Option<String>,

    /// Fixtures directory for --token-name.
    // An empty value (ARVADOS_FIXTURES=) counts as none, as in the shell.
    #[arg(long, value_name = "DIR", env = "ARVADOS_FIXTURES",
          value_parser = OsStringValueParser::new().map(PathBuf::from))]
    pub fixtures: Option<PathBuf>,

    /// Authorization scheme: OAuth2 (the original), or Bearer for newer servers.
    #[arg(long, default_value = "OAuth2", value_parser = ["OAuth2", "Bearer"])]
    pub scheme: String,

    /// The endpoint to POST to.
    #[arg(long, default_value = "/database/reset", value_name = "PATH")]
    pub path: String,

    /// Trust the certificates in this PEM file. A server presenting exactly a
    /// self-signed one of them is accepted whatever its name (pinning, for
    /// test certificates); any other is verified against them as CAs.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Do not verify the server's certificate (warns on stderr). Also set by
    /// ARVADOS_API_HOST_INSECURE=1|true|yes|on, unless --cacert is given.
    #[arg(long, short = 'k')]
    pub insecure: bool,

    /// Give up connecting after this long (250ms, 10s, 2m; a bare number is seconds).
    #[arg(long, default_value = "5s", value_parser = positive_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,

    /// Give up waiting for the whole answer (TLS handshake included) after
    /// this long, however the server trickles it; resetting takes a while
    /// (250ms, 10s, 2m; a bare number is seconds).
    #[arg(long, default_value = "60s", value_parser = positive_duration, value_name = "DURATION")]
    pub read_timeout: Duration,

    /// Keep retrying this long while the server refuses connections, as it
    /// does while it starts (250ms, 10s, 2m; a bare number is seconds).
    #[arg(long, default_value = "0s", value_parser = cliutil::parse_duration, value_name = "DURATION")]
    pub retry_for: Duration,

    /// On success, print the environment the original reset() set, as shell
    /// `export` lines for eval (this prints the token, on stdout only).
    #[arg(long)]
    pub export: bool,

    /// Say on stderr what is happening (refused attempts, at most once a second).
    #[arg(long, short)]
    pub verbose: bool,
}

/// A timeout of zero would give up before trying (the OS refuses it too).
fn positive_duration(text: &str) -> Result<Duration, String> {
    match cliutil::parse_duration(text)? {
        d if d.is_zero() => Err(format!(
            "'{text}' is no time at all: expected e.g. 250ms, 5s"
        )),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_must_be_positive() {
        assert_eq!(positive_duration("250ms"), Ok(Duration::from_millis(250)));
        for zero in ["0", "0s", "0ms"] {
            let err = positive_duration(zero).unwrap_err();
            assert!(err.contains("no time at all"), "{err}");
        }
        assert!(positive_duration("soon").is_err());
    }
}
