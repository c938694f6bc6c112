//! Reading pidfiles: strict parsing, a way to tell a half-written file from a
//! bad one, and the ownership checks that decide whether a pidfile may be
//! believed.
//!
//! The format (LSB): one line of one or more decimal pids separated by
//! spaces (or tabs), ending in a newline. Blank lines after it are ignored;
//! anything else is an error. Every pid must be greater than 1 and at most
//! the kernel's `pid_max`.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use crate::process::Pid;

/// A pidfile longer than this is not a pidfile.
const MAX_LEN: usize = 4096;

/// Why a pidfile could not be used.
#[derive(Debug)]
pub enum Error {
    /// The file does not exist.
    Missing { path: PathBuf },
    /// It exists but could not be opened or read.
    Io { path: PathBuf, source: io::Error },
    /// Empty, or a line of digits with no newline yet: probably still being
    /// written. Read it again rather than rejecting it.
    Incomplete { path: PathBuf, text: String },
    /// The content is wrong: `line` (from 1) holds `text`; `expected` says
    /// what should be there.
    Invalid {
        path: PathBuf,
        line: usize,
        text: String,
        expected: String,
    },
    /// The file may have been written by someone who should not decide what
    /// we signal: `reason` says why.
    Untrusted { path: PathBuf, reason: String },
}

impl Error {
    /// The pidfile the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Missing { path }
            | Self::Io { path, .. }
            | Self::Incomplete { path, .. }
            | Self::Invalid { path, .. }
            | Self::Untrusted { path, .. } => path,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { path } => write!(f, "{}: no such pidfile", path.display()),
            Self::Io { path, source } => {
                write!(f, "cannot read pidfile {}: {source}", path.display())
            }
            Self::Incomplete { path, text } if text.is_empty() => {
                write!(f, "{}: pidfile is empty", path.display())
            }
            Self::Incomplete { path, text } => write!(
                f,
                "{}: pidfile is incomplete ({text:?} has no newline yet)",
                path.display()
            ),
            Self::Invalid {
                path,
                line,
                text,
                expected,
            } => write!(f, "{}:{line}: {text:?}: {expected}", path.display()),
            Self::Untrusted { path, reason } => {
                write!(f, "refusing pidfile {}: {reason}", path.display())
            }
        }
    }
}

// No `source()`: the message already ends with the I/O error (other tools
// print it with `{e}`), and a chain would print it twice.
impl std::error::Error for Error {}

/// A content problem, before a file name is attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Empty, or digits and spaces with no newline yet.
    Incomplete,
    /// Line `line` (from 1) holds `text`, which is wrong; `expected` says why.
    Invalid {
        line: usize,
        text: String,
        expected: String,
    },
}

impl Problem {
    /// The error for this problem in the file `path` holding `content`.
    pub fn in_file(self, path: &Path, content: &[u8]) -> Error {
        let path = path.to_owned();
        match self {
            Self::Incomplete => Error::Incomplete {
                path,
                text: String::from_utf8_lossy(content).into_owned(),
            },
            Self::Invalid {
                line,
                text,
                expected,
            } => Error::Invalid {
                path,
                line,
                text,
                expected,
            },
        }
    }
}

fn invalid(line: usize, text: &str, expected: impl Into<String>) -> Problem {
    Problem::Invalid {
        line,
        text: text.to_owned(),
        expected: expected.into(),
    }
}

/// Parses pidfile content. A file without its final newline, or an empty
/// one, is [`Problem::Incomplete`] if it could still become valid; with
/// `at_eof` set the content is taken as final (a writer that never adds the
/// newline, an empty file that stays empty).
///
/// Pids are returned in file order, without duplicates.
pub fn parse(content: &[u8], pid_max: i32, at_eof: bool) -> Result<Vec<Pid>, Problem> {
    if content.len() > MAX_LEN {
        return Err(invalid(
            1,
            &String::from_utf8_lossy(&content[..40]),
            format!("a pidfile is one short line, this one is over {MAX_LEN} bytes"),
        ));
    }
    let Ok(text) = std::str::from_utf8(content) else {
        let shown = String::from_utf8_lossy(content);
        return Err(invalid(
            1,
            shown.lines().next().unwrap_or(""),
            "expected decimal pids, found bytes that are not text",
        ));
    };
    let (first, rest) = match text.split_once('\n') {
        Some((first, rest)) => (first, Some(rest)),
        None => (text, None),
    };
    let unfinished = rest.is_none() && !at_eof;
    if unfinished
        && first
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b' ' || b == b'\t')
    {
        return Err(Problem::Incomplete);
    }
    let mut pids = Vec::new();
    for word in first.split([' ', '\t']).filter(|w| !w.is_empty()) {
        let pid = parse_pid(word, pid_max).map_err(|expected| invalid(1, word, expected))?;
        if !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    if pids.is_empty() {
        let found = if text.is_empty() {
            "an empty file"
        } else {
            "an empty line"
        };
        return Err(invalid(1, first, format!("expected a pid, found {found}")));
    }
    if let Some(rest) = rest {
        if let Some((n, line)) = rest
            .split('\n')
            .enumerate()
            .find(|(_, l)| !l.trim().is_empty())
        {
            return Err(invalid(
                n + 2,
                line,
                "expected one line of pids, found more text after it",
            ));
        }
    }
    Ok(pids)
}

/// One pid: decimal digits, greater than 1, at most `pid_max`.
fn parse_pid(word: &str, pid_max: i32) -> Result<Pid, String> {
    let word = word.strip_suffix('\r').unwrap_or(word);
    if let Some(digits) = word.strip_prefix('-') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                "negative pid: a negative number would signal a whole process group".into(),
            );
        }
    }
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a decimal pid (digits only)".into());
    }
    let digits = word.trim_start_matches('0');
    let over = || format!("pid is over pid_max ({pid_max})");
    if digits.len() > 10 {
        return Err(over());
    }
    let value: i64 = digits.parse().unwrap_or(0);
    match value {
        0 => Err("pid 0 means our own process group: never a service".into()),
        1 => Err("pid 1 is init: never a service".into()),
        v if v > i64::from(pid_max) => Err(over()),
        v => Pid::new(v as i32).ok_or_else(over),
    }
}

/// The kernel's largest pid (`/proc/sys/kernel/pid_max`), or its upper
/// bound (4194304) if that cannot be read.
pub fn pid_max() -> i32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .filter(|&n: &i32| n > 1)
        .unwrap_or(4_194_304)
}

/// Whether to believe a pidfile whoever wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Refuse a symlink, a world-writable file, or a file owned by another
    /// non-root user (see [`check_trust`]).
    Checked,
    /// Read it whatever it is (follows symlinks).
    Any,
}

/// Refuses a pidfile that someone other than us or root could have written:
/// a symlink, a world-writable file, or one owned by another non-root user.
/// Such a file could name any process, and we would signal it.
///
/// [`read`] with [`Trust::Checked`] does the same on the file it opens,
/// without a window between check and read.
pub fn check_trust(path: &Path) -> Result<(), Error> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_error(path, e))?;
    if meta.file_type().is_symlink() {
        return Err(untrusted(path, "it is a symlink".into()));
    }
    trust_metadata(path, &meta)
}

fn trust_metadata(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    regular(path, meta)?;
    if meta.mode() & 0o002 != 0 {
        return Err(untrusted(
            path,
            format!("it is world-writable (mode {:o})", meta.mode() & 0o7777),
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        return Err(untrusted(
            path,
            format!(
                "it is owned by uid {}, neither root nor us (uid {me})",
                meta.uid()
            ),
        ));
    }
    Ok(())
}

/// A FIFO, socket, device or directory is no pidfile (and reading a FIFO
/// could block).
fn regular(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    if meta.is_file() {
        return Ok(());
    }
    Err(Error::Io {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
    })
}

fn untrusted(path: &Path, reason: String) -> Error {
    Error::Untrusted {
        path: path.to_owned(),
        reason,
    }
}

fn io_error(path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        Error::Missing {
            path: path.to_owned(),
        }
    } else {
        Error::Io {
            path: path.to_owned(),
            source: e,
        }
    }
}

/// Reads a pidfile's raw bytes (at most a little over [`MAX_LEN`]).
///
/// The file is opened non-blocking so a FIFO planted as a pidfile cannot
/// hang us; with [`Trust::Checked`] it is opened without following a
/// symlink and checked through the open descriptor.
pub fn read_bytes(path: &Path, trust: Trust) -> Result<Vec<u8>, Error> {
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    if trust == Trust::Checked {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP) if trust == Trust::Checked => {
            return Err(untrusted(path, "it is a symlink".into()))
        }
        Err(e) => return Err(io_error(path, e.into())),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if trust == Trust::Checked {
        trust_metadata(path, &meta)?;
    } else {
        regular(path, &meta)?;
    }
    let mut content = Vec::new();
    file.take(MAX_LEN as u64 + 1)
        .read_to_end(&mut content)
        .map_err(|e| io_error(path, e))?;
    Ok(content)
}

/// Reads and parses a pidfile as it is now. A half-written or empty file
/// gives [`Error::Incomplete`]: read it again later, or use
/// [`read_settled`].
pub fn read(path: &Path, trust: Trust) -> Result<Vec<Pid>, Error> {
    let content = read_bytes(path, trust)?;
    parse(&content, pid_max(), false).map_err(|p| p.in_file(path, &content))
}

/// Reads a pidfile, giving a half-written one up to `settle` to be finished
/// (re-reading every few milliseconds). After that its content is taken as
/// final: digits without a newline are accepted, an empty file is
/// [`Error::Invalid`].
pub fn read_settled(path: &Path, trust: Trust, settle: Duration) -> Result<Vec<Pid>, Error> {
    let deadline = Instant::now() + settle;
    let pid_max = pid_max();
    loop {
        let content = read_bytes(path, trust)?;
        let last = Instant::now() >= deadline;
        match parse(&content, pid_max, last) {
            Err(Problem::Incomplete) if !last => std::thread::sleep(Duration::from_millis(5)),
            other => return other.map_err(|p| p.in_file(path, &content)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::fs::PermissionsExt;

    const MAX: i32 = 4_194_304;

    fn pids(content: &str) -> Vec<i32> {
        parse(content.as_bytes(), MAX, false)
            .unwrap()
            .into_iter()
            .map(Pid::get)
            .collect()
    }

    fn problem(content: &str) -> (usize, String, String) {
        match parse(content.as_bytes(), MAX, false) {
            Err(Problem::Invalid {
                line,
                text,
                expected,
            }) => (line, text, expected),
            other => panic!("{content:?}: {other:?}"),
        }
    }

    #[test]
    fn good_pidfiles() {
        assert_eq!(pids("1234\n"), [1234]);
        assert_eq!(pids("12 34 56\n"), [12, 34, 56]);
        assert_eq!(pids("12 12\n"), [12]);
        assert_eq!(pids("0042\n"), [42]);
        assert_eq!(pids("1234\r\n"), [1234]);
        assert_eq!(pids("1234\n\n  \n"), [1234]);
        assert_eq!(pids(&format!("{MAX}\n")), [MAX]);
    }

    #[test]
    fn half_written_pidfiles_are_incomplete() {
        for partial in ["", "12", "12 3", "12\t3", "0", "1"] {
            assert_eq!(
                parse(partial.as_bytes(), MAX, false),
                Err(Problem::Incomplete),
                "{partial:?}"
            );
        }
        assert_eq!(parse(b"12", MAX, true).unwrap(), [Pid::new(12).unwrap()]);
        assert!(matches!(
            parse(b"", MAX, true),
            Err(Problem::Invalid { .. })
        ));
        assert!(matches!(
            parse(b"1", MAX, true),
            Err(Problem::Invalid { .. })
        ));
    }

    #[test]
    fn bad_pidfiles_name_line_and_text() {
        let cases = [
            ("\n", 1, "", "empty line"),
            ("abc\n", 1, "abc", "decimal pid"),
            ("-5\n", 1, "-5", "negative"),
            ("-5", 1, "-5", "negative"),
            ("0\n", 1, "0", "pid 0"),
            ("1\n", 1, "1", "init"),
            ("00001\n", 1, "00001", "init"),
            ("4194305\n", 1, "4194305", "pid_max"),
            (
                "99999999999999999999\n",
                1,
                "99999999999999999999",
                "pid_max",
            ),
            ("123abc\n", 1, "123abc", "decimal pid"),
            ("123 garbage\n", 1, "garbage", "decimal pid"),
            ("123x", 1, "123x", "decimal pid"),
            ("+12\n", 1, "+12", "decimal pid"),
            ("123\n456\n", 2, "456", "one line"),
            ("123\n\nfoo", 3, "foo", "one line"),
        ];
        for (content, line, text, expected) in cases {
            let got = problem(content);
            assert_eq!((got.0, got.1.as_str()), (line, text), "{content:?}");
            assert!(got.2.contains(expected), "{content:?}: {}", got.2);
        }
    }

    #[test]
    fn pid_max_comes_from_the_kernel() {
        let max = pid_max();
        assert!(max > 300, "{max}");
        assert!(parse(format!("{}\n", max + 1).as_bytes(), max, false).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), eof: bool) {
            let _ = parse(&bytes, MAX, eof);
        }

        #[test]
        fn any_valid_pid_round_trips(pid in 2..=MAX) {
            let got = parse(format!("{pid}\n").as_bytes(), MAX, false).unwrap();
            prop_assert_eq!(got, vec![Pid::new(pid).unwrap()]);
        }

        #[test]
        fn results_are_always_signallable(text in "[-0-9 \n]{0,24}", eof: bool) {
            if let Ok(pids) = parse(text.as_bytes(), MAX, eof) {
                prop_assert!(!pids.is_empty());
                prop_assert!(pids.iter().all(|p| p.get() > 1 && p.get() <= MAX));
            }
        }
    }

    #[test]
    fn trust_checks() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.pid");
        std::fs::write(&good, "1234\n").unwrap();
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
        check_trust(&good).unwrap();
        assert_eq!(
            read(&good, Trust::Checked).unwrap(),
            [Pid::new(1234).unwrap()]
        );

        let link = dir.path().join("link.pid");
        std::os::unix::fs::symlink(&good, &link).unwrap();
        assert!(
            matches!(check_trust(&link), Err(Error::Untrusted { reason, .. }) if reason.contains("symlink"))
        );
        assert!(
            matches!(read(&link, Trust::Checked), Err(Error::Untrusted { reason, .. }) if reason.contains("symlink"))
        );
        assert_eq!(read(&link, Trust::Any).unwrap(), [Pid::new(1234).unwrap()]);

        let open = dir.path().join("open.pid");
        std::fs::write(&open, "1234\n").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(
            matches!(read(&open, Trust::Checked), Err(Error::Untrusted { reason, .. }) if reason.contains("world-writable"))
        );
        assert!(read(&open, Trust::Any).is_ok());

        let missing = dir.path().join("missing.pid");
        assert!(matches!(
            read(&missing, Trust::Checked),
            Err(Error::Missing { .. })
        ));
        let err = read(dir.path(), Trust::Any).unwrap_err();
        assert!(err.to_string().ends_with("not a regular file"), "{err}");
        // Said once, also through an error chain (`{:#}`).
        let chained = format!("{:#}", anyhow::Error::from(err));
        assert_eq!(
            chained.matches("not a regular file").count(),
            1,
            "{chained}"
        );
    }

    #[test]
    fn settled_read_accepts_a_final_line_without_newline() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.pid");
        std::fs::write(&file, "4321").unwrap();
        assert!(matches!(
            read(&file, Trust::Checked),
            Err(Error::Incomplete { .. })
        ));
        let got = read_settled(&file, Trust::Checked, Duration::from_millis(20)).unwrap();
        assert_eq!(got, [Pid::new(4321).unwrap()]);
        std::fs::write(&file, "").unwrap();
        let err = read_settled(&file, Trust::Checked, Duration::from_millis(20)).unwrap_err();
        assert!(err.to_string().contains("empty file"), "{err}");
    }
}
