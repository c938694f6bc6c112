//! The conventions every stackutils tool shares, kept in one place so that
//! they stay the same everywhere:
//!
//! - durations read as `250ms`, `10s`, `2m`, `1h30m`; a bare number is seconds;
//! - exit codes: 0 success, 1 the awaited condition did not happen or the
//!   operation failed, 2 usage or fatal error (clap's own 2); a tool with
//!   codes fixed elsewhere (LSB) raises [`Exit`] with its own code;
//! - errors go to stderr once, as `tool: message`, with control characters
//!   from input escaped ([`escape_controls`]);
//! - data goes to [`stdout()`]: a closed pipe ends the output quietly but
//!   keeps the exit code the tool decides; any other failure to write (a full
//!   disk, `>/dev/full`) is an error that names standard output.

use std::borrow::Cow;
use std::fmt;
use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
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
/// `Ok(code)` is returned as is, once [`stdout()`] is flushed: a closed
/// pipe keeps `code`, any other failure to write (a full disk) is reported
/// and ends the tool with [`FATAL`]. An error is printed once as
/// `tool: error` (with its context chain) and mapped to its [`Exit`] code, or
/// to [`FATAL`]. An [`Exit`] with an empty message prints nothing.
///
/// A broken pipe that reaches here as an error did not come from
/// [`stdout()`] (whose writes never fail so): a server that hung up on a
/// request, a child that closed its pipe. That is a failure like any other,
/// never a quiet success.
pub fn main_with(tool: &str, run: impl FnOnce() -> anyhow::Result<ExitCode>) -> ExitCode {
    let err = match run() {
        Ok(code) => match stdout().flush() {
            Ok(()) => return code,
            Err(err) => anyhow::Error::new(err),
        },
        Err(err) => err,
    };
    let code = err.downcast_ref::<Exit>().map_or(FATAL, |e| e.code);
    let text = format!("{err:#}");
    if !text.is_empty() {
        warn(tool, text);
    }
    ExitCode::from(code)
}

/// Prints a message to stderr as `tool: message`. Unlike `eprintln!`, a
/// closed stderr is ignored rather than a panic. Control characters other
/// than newline are escaped, so that no text from input can move the cursor
/// or recolour the terminal; values from input should still go through
/// [`escape_controls`] so that a newline in them cannot forge a line.
pub fn warn(tool: &str, message: impl fmt::Display) {
    let text = message.to_string();
    let text: String = text
        .split('\n')
        .map(escape_controls)
        .collect::<Vec<_>>()
        .join("\n");
    let _ = writeln!(io::stderr().lock(), "{tool}: {text}");
}

/// Set once a write to standard output found the pipe closed.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output for a tool's data; see [`stdout()`].
pub struct Stdout {
    inner: io::StdoutLock<'static>,
}

/// Standard output, locked, for a tool's data.
///
/// When the reader has gone (`| head -1`, EPIPE), the write and every later
/// one succeed without writing, and [`stdout_closed`] says so: the tool goes
/// on to the exit code it would have had, which a closed pipe never changes.
/// Any other error (`>/dev/full`: no space left) is returned, saying that it
/// is standard output that could not be written.
pub fn stdout() -> Stdout {
    Stdout {
        inner: io::stdout().lock(),
    }
}

/// Whether a write through [`stdout()`] found the pipe closed: what was
/// written since then (and perhaps a little before, still buffered) never
/// reached the reader. A tool that must know whether a line arrived (a port
/// it leased for the reader) flushes and then asks.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

impl Stdout {
    fn outcome<T>(result: io::Result<T>, closed: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, Ordering::Relaxed);
                Ok(closed)
            }
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot write to standard output: {e}"),
            )),
            ok => ok,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if stdout_closed() {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        Self::outcome(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if stdout_closed() {
            return Ok(());
        }
        let result = self.inner.flush();
        Self::outcome(result, ())
    }
}

/// Escapes the control characters of `text` (ESC, newline, tab, DEL, the C1
/// controls, the Unicode line separators, and the bidirectional marks and
/// overrides that reorder what a terminal shows) for a message: `\n`, `\r`, `\t`, `\0`, `\x1b`,
/// `\u{202e}`. Other text, backslashes included, is left as it is.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escape_controls`] for bytes that may not be UTF-8: a byte that is not
/// part of a valid UTF-8 sequence is written `\xHH`.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    use fmt::Write as _;
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape_controls(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape_controls(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    // C0/C1 controls; the bidirectional marks, embeddings, overrides and
    // isolates; and the Unicode line and paragraph separators.
    c.is_control()
        || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    use fmt::Write as _;
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Parses the command line with clap. Help and `--version` go to stdout and
/// exit 0 (a full stdout is an error, exit 2); a usage error is printed as
/// the tool's own errors are, `tool: what is wrong` and one hint line, and
/// exits with `usage_code` (2, clap's own, for every tool but LSB's `status`).
pub fn parse_args_or<P: clap::Parser>(tool: &str, usage_code: u8) -> P {
    // Unstyled, so that the rendered message holds the user's text as it
    // was: clap's plain rendering drops anything that looks like styling.
    let plain = P::command()
        .styles(clap::builder::Styles::plain())
        .try_get_matches();
    plain
        .and_then(|m| P::from_arg_matches(&m))
        .unwrap_or_else(|err| {
            if !err.use_stderr() {
                print_and_exit::<P>(tool, &err);
            }
            let err = escaped_error::<P>(std::env::args_os(), &err).unwrap_or(err);
            let _ = io::stderr()
                .lock()
                .write_all(usage_error(tool, &err, &commands::<P>()).as_bytes());
            std::process::exit(usage_code.into());
        })
}

/// The same usage error, found again in `args` with their control
/// characters escaped (`\n`, `\x1b`): clap quotes the user's values as they
/// are, and a newline in one would otherwise split the message (or forge
/// its tip line). `None` when nothing needed escaping, or when the escaped
/// arguments fail differently (then the original error is shown).
fn escaped_error<P: clap::Parser>(
    args: impl IntoIterator<Item = std::ffi::OsString>,
    err: &clap::Error,
) -> Option<clap::Error> {
    use std::os::unix::ffi::OsStrExt;
    let mut changed = false;
    let args: Vec<String> = args
        .into_iter()
        .map(|arg| {
            let escaped = escape_bytes(arg.as_bytes()).into_owned();
            changed |= escaped.as_bytes() != arg.as_bytes();
            escaped
        })
        .collect();
    if !changed {
        return None;
    }
    let again = P::command()
        .styles(clap::builder::Styles::plain())
        .try_get_matches_from(args)
        .and_then(|m| P::from_arg_matches(&m))
        .err()?;
    (again.kind() == err.kind()).then_some(again)
}

/// The tool's subcommands, for a message that needs one.
fn commands<P: clap::Parser>() -> Vec<String> {
    P::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .map(|c| c.get_name().to_owned())
        .collect()
}

/// `--help` or `--version`: to a terminal as clap prints it (styled),
/// elsewhere through [`stdout()`], so that a full disk is not success.
fn print_and_exit<P: clap::Parser>(tool: &str, err: &clap::Error) -> ! {
    if io::stdout().is_terminal() {
        // Parsed again with the tool's own colours.
        if let Err(styled) = P::command().try_get_matches() {
            styled.exit();
        }
    }
    let mut out = stdout();
    let written = write!(out, "{}", err.render()).and_then(|()| out.flush());
    if let Err(e) = written {
        warn(tool, e);
        std::process::exit(FATAL.into());
    }
    std::process::exit(err.exit_code());
}

/// A clap usage error as two lines: `tool: message` (clap's first paragraph,
/// without its `error: `) and `tool: tip: …` (clap's own tip, or where to
/// look).
fn usage_error(tool: &str, err: &clap::Error, commands: &[String]) -> String {
    if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap's text here is the whole help; name the commands instead.
        let names: Vec<&str> = commands.iter().map(String::as_str).collect();
        let which = if names.is_empty() {
            String::new()
        } else {
            format!(" (one of: {})", names.join(", "))
        };
        return format!("{tool}: a command is required{which}\n{tool}: tip: see '{tool} --help'\n");
    }
    let text = err.render().ansi().to_string();
    let mut paragraphs = text
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "));
    let message = paragraphs.next().unwrap_or_default();
    let message = message
        .strip_prefix("error: ")
        .unwrap_or(&message)
        .to_owned();
    let tip = paragraphs
        .find_map(|p| p.strip_prefix("tip: ").map(str::to_owned))
        .unwrap_or_else(|| format!("see '{tool} --help'"));
    format!(
        "{tool}: {}\n{tool}: tip: {}\n",
        escape_controls(&message),
        escape_controls(&tip)
    )
}

/// [`parse_args_or`] with the usual usage-error code, 2.
pub fn parse_args<P: clap::Parser>(tool: &str) -> P {
    parse_args_or(tool, FATAL)
}

/// Reads a whole file of at most `limit` bytes. A longer one, or an endless
/// one such as `/dev/zero` given by mistake, is refused with
/// "more than SIZE: not WHAT" instead of being read into memory.
pub fn read_limited(path: &Path, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    read_to_limit(fs::File::open(path)?, limit, what)
}

/// [`read_limited`] for a file that must be a regular file: a FIFO (which
/// would block until some writer came), a device or a directory is refused
/// at once, as "a FIFO, not a regular file". It is refused before it is
/// opened (opening a device can act: a watchdog starts, a tape rewinds, a
/// terminal becomes ours), and the file opened is checked again on its
/// descriptor (opened without blocking), so nothing can be swapped in
/// between.
pub fn read_regular_limited(path: &Path, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let before = fs::metadata(path)?;
    not_regular(&before, what)?;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(path)?;
    let after = file.metadata()?;
    not_regular(&after, what)?;
    if (after.dev(), after.ino()) != (before.dev(), before.ino()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("replaced while it was opened: not {what}"),
        ));
    }
    read_to_limit(file, limit, what)
}

/// The error for anything but a regular file, naming what it is.
fn not_regular(meta: &fs::Metadata, what: &str) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let named = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else {
        Some("a socket")
    };
    if let Some(named) = named {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{named}, not a regular file: not {what}"),
        ));
    }
    Ok(())
}

fn read_to_limit(file: fs::File, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
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
        assert_eq!(
            read_regular_limited(&file, 2048, "a test").unwrap().len(),
            2048
        );
        let err = read_regular_limited(&file, 1024, "a test").unwrap_err();
        assert_eq!(err.to_string(), "more than 1 KiB: not a test");
        let fifo = dir.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // A device without a driver: opening it fails (ENXIO), so only a
        // check made before opening can name it.
        let device = dir.join("device");
        let made = rustix::fs::mknodat(
            rustix::fs::CWD,
            &device,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o600),
            rustix::fs::makedev(4000, 0),
        );
        if made.is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "cannot run under CI=true: mknod: {made:?}"
            );
            eprintln!("SKIP: mknod of a character device: {made:?}");
        }
        for (path, kind) in [
            (device.as_path(), "a character device"),
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a character device"),
            (dir.as_path(), "a directory"),
        ] {
            if !path.exists() {
                continue; // the device, skipped above
            }
            let err = read_regular_limited(path, 1 << 20, "a test").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{kind}, not a regular file: not a test")
            );
        }
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
    fn controls_are_escaped() {
        assert!(matches!(escape_controls("plain/path é"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\nb\tc\r\0"), r"a\nb\tc\r\0");
        assert_eq!(escape_controls("\x1b[31mred"), r"\x1b[31mred");
        assert_eq!(
            escape_controls("\x7f\u{9b}\u{202e}x"),
            r"\x7f\u{9b}\u{202e}x"
        );
        assert_eq!(escape_controls(r"back\slash"), r"back\slash");
        assert_eq!(
            escape_controls("a\u{2028}b\u{2029}c\u{200f}\u{61c}"),
            r"a\u{2028}b\u{2029}c\u{200f}\u{61c}"
        );
        assert_eq!(escape_bytes(b"ok\xff\n\xc3"), r"ok\xff\n\xc3");
        assert_eq!(escape_bytes("é".as_bytes()), "é");
    }

    fn usage(args: &[&str]) -> String {
        let cmd = clap::Command::new("demo")
            .styles(clap::builder::Styles::plain())
            .arg(
                clap::Arg::new("count")
                    .long("count")
                    .value_parser(clap::value_parser!(u8)),
            )
            .arg(clap::Arg::new("name").required(true));
        let err = cmd.try_get_matches_from(args).unwrap_err();
        usage_error("demo", &err, &[])
    }

    #[test]
    fn usage_errors_read_like_the_tools_own() {
        assert_eq!(
            usage(&["demo", "x", "--cont", "1"]),
            "demo: unexpected argument '--cont' found\n\
             demo: tip: a similar argument exists: '--count'\n"
        );
        assert_eq!(
            usage(&["demo", "x", "--count", "300"]),
            "demo: invalid value '300' for '--count <count>': 300 is not in 0..=255\n\
             demo: tip: see 'demo --help'\n"
        );
        assert_eq!(
            usage(&["demo"]),
            "demo: the following required arguments were not provided: <name>\n\
             demo: tip: see 'demo --help'\n"
        );
        let cmd = clap::Command::new("demo")
            .styles(clap::builder::Styles::plain())
            .subcommand(clap::Command::new("list"))
            .subcommand_required(true)
            .arg_required_else_help(true);
        let err = cmd.try_get_matches_from(["demo"]).unwrap_err();
        assert_eq!(
            usage_error("demo", &err, &["list".into(), "check".into()]),
            "demo: a command is required (one of: list, check)\n\
             demo: tip: see 'demo --help'\n"
        );
        let odd = usage(&["demo", "x", "--count", "\x1b[2J"]);
        assert!(
            odd.starts_with(r"demo: invalid value '\x1b[2J' for"),
            "{odd}"
        );
        assert_eq!(odd.lines().count(), 2, "{odd}");
    }

    #[test]
    fn write_errors_name_standard_output() {
        let err = Stdout::outcome::<()>(Err(io::Error::from_raw_os_error(28)), ()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(
            err.to_string()
                .starts_with("cannot write to standard output: No space left"),
            "{err}"
        );
        assert!(!stdout_closed());
        assert!(Stdout::outcome(Err(io::Error::from(io::ErrorKind::BrokenPipe)), 3).unwrap() == 3);
        assert!(stdout_closed());
    }
}
