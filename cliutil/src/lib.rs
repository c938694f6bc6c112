//! The conventions every stackutils tool shares, kept in one place so that
//! they stay the same everywhere:
//!
//! - durations read as `250ms`, `10s`, `2m`, `1h30m`; a bare number is seconds;
//! - exit codes: 0 success, 1 the awaited condition did not happen or the
//!   operation failed, 2 usage or fatal error (clap's own 2); a tool with
//!   codes fixed elsewhere (LSB) raises [`Exit`] with its own code;
//! - errors go to stderr once, as `tool: message`; a closed stdout ends the
//!   tool quietly.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Exit code: success.
pub const SUCCESS: u8 = 0;
/// Exit code: the awaited condition did not happen, or the operation failed.
pub const FAILURE: u8 = 1;
/// Exit code: bad usage or a fatal error (also clap's code for usage errors).
pub const FATAL: u8 = 2;

/// An error that carries the exit code it must end the tool with.
///
/// Any other error in a tool's `run` ends it with [`FATAL`].
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    /// The operation failed or the awaited condition did not happen (exit 1).
    pub fn failure(message: impl Into<String>) -> anyhow::Error {
        Self::with_code(FAILURE, message)
    }

    /// Any exit code, for tools whose codes are fixed by a standard (LSB).
    pub fn with_code(code: u8, message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Exit {
            code,
            message: message.into(),
        })
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Runs a tool's body and turns its outcome into the process exit code.
///
/// `Ok(code)` is returned as is. An error is printed once as `tool: error`
/// (with its context chain) and mapped to its [`Exit`] code, or to
/// [`FATAL`]. An [`Exit`] with an empty message prints nothing. A broken
/// pipe on stdout ends the tool quietly with success, as ripgrep does.
pub fn main_with(tool: &str, run: impl FnOnce() -> anyhow::Result<ExitCode>) -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let code = err.downcast_ref::<Exit>().map_or(FATAL, |e| e.code);
            let text = format!("{err:#}");
            if !text.is_empty() {
                warn(tool, text);
            }
            ExitCode::from(code)
        }
    }
}

/// Prints a message to stderr as `tool: message`. Unlike `eprintln!`, a
/// closed stderr is ignored rather than a panic.
pub fn warn(tool: &str, message: impl fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{tool}: {message}");
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Parses the command line with clap. Help and `--version` go to stdout and
/// exit 0; a usage error is printed as `tool: error: ...` and exits with
/// `usage_code` (2, clap's own, for every tool but LSB's `status`).
pub fn parse_args_or<P: clap::Parser>(tool: &str, usage_code: u8) -> P {
    P::try_parse().unwrap_or_else(|err| {
        if !err.use_stderr() {
            err.exit();
        }
        let _ = write!(io::stderr().lock(), "{tool}: {}", err.render());
        std::process::exit(usage_code.into());
    })
}

/// [`parse_args_or`] with the usual usage-error code, 2.
pub fn parse_args<P: clap::Parser>(tool: &str) -> P {
    parse_args_or(tool, FATAL)
}

/// Reads a whole file of at most `limit` bytes. A longer one, or an endless
/// one such as `/dev/zero` given by mistake, is refused with
/// "more than SIZE: not WHAT" instead of being read into memory.
pub fn read_limited(path: &Path, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        let size = if limit >= 1 << 20 {
            format!("{} MiB", limit >> 20)
        } else {
            format!("{} KiB", limit >> 10)
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than {size}: not {what}"),
        ));
    }
    Ok(bytes)
}

/// Parses a duration: `250ms`, `10s`, `2m`, `1h30m`, or a bare number of
/// seconds (`5`, `0.5`). For clap's `value_parser`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration: expected e.g. 250ms, 10s, 2m".into());
    }
    let duration = if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        text.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e12)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("invalid duration '{text}': expected e.g. 250ms, 10s, 2m"))?
    } else {
        humantime::parse_duration(text)
            .map_err(|e| format!("invalid duration '{text}' ({e}): expected e.g. 250ms, 10s, 2m"))?
    };
    // Far beyond any real wait, and small enough that `Instant + duration`
    // can never overflow (which would panic).
    if duration > MAX_DURATION {
        return Err(format!(
            "duration '{text}' is too long: expected at most 100 years"
        ));
    }
    Ok(duration)
}

/// The longest duration [`parse_duration`] accepts: 100 years (of 365.25
/// days, as humantime counts them).
pub const MAX_DURATION: Duration = Duration::from_secs(36_525 * 24 * 3600);

/// Quotes a value for a POSIX shell so that `eval` gives back exactly it.
///
/// Plain words are left alone; anything else is put in single quotes, with
/// embedded single quotes written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_what_was_expected() {
        for bad in ["", "abc", "10 parsecs", "-1", "1.2.3", "ms"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("expected e.g. 250ms"), "{bad}: {err}");
        }
        for huge in ["500000000000y", "101y", "99999999999"] {
            let err = parse_duration(huge).unwrap_err();
            assert!(err.contains("at most 100 years"), "{huge}: {err}");
        }
        assert_eq!(parse_duration("100y"), Ok(MAX_DURATION));
    }

    #[test]
    fn reads_are_limited() {
        let dir = std::env::temp_dir().join(format!("cliutil-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        fs::write(&file, vec![b'x'; 2048]).unwrap();
        assert_eq!(read_limited(&file, 2048, "a test").unwrap().len(), 2048);
        let err = read_limited(&file, 1024, "a test").unwrap_err();
        assert_eq!(err.to_string(), "more than 1 KiB: not a test");
        let err = read_limited(Path::new("/dev/zero"), 1 << 20, "a test").unwrap_err();
        assert_eq!(err.to_string(), "more than 1 MiB: not a test");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc-1.2"), "abc-1.2");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn exit_codes_come_from_the_error() {
        let code = |err: anyhow::Error| {
            err.chain()
                .next()
                .and_then(|e| e.downcast_ref::<Exit>())
                .map(|e| e.code)
        };
        assert_eq!(code(Exit::failure("x")), Some(FAILURE));
        assert_eq!(code(Exit::with_code(3, "x")), Some(3));
        assert_eq!(code(anyhow::anyhow!("x")), None);
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing to stdout");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
