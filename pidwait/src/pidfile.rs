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
use std::io::{self, Read, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::{Mode, OFlags};

use crate::pathtrust;
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
    /// Believe it only if no one but root and us could have written it:
    /// the whole path is checked (see [`open`]).
    Checked,
    /// Read it whatever it is (follows symlinks).
    Any,
}

/// Refuses a pidfile that someone other than us or root could have
/// written; see [`open`] for the rules.
pub fn check_trust(path: &Path) -> Result<(), Error> {
    open(path, Trust::Checked).map(drop)
}

/// Opens a pidfile for reading, non-blocking (a FIFO planted as a pidfile
/// cannot hang us), and refuses anything that is not a regular file.
///
/// With [`Trust::Checked`] the whole path is checked as
/// [`crate::pathtrust`] does (every directory from `/` root's or ours and
/// writable by no one else unless sticky, no unsafe transition, no other
/// user's symlink, the pidfile itself not a symlink), and the pidfile must
/// be owned by root or us and writable by its owner only.
///
/// The error names the refused component and why.
pub fn open(path: &Path, trust: Trust) -> Result<(File, std::fs::Metadata), Error> {
    let fd = match trust {
        Trust::Any => rustix::fs::open(path, read_flags(), Mode::empty())
            .map_err(|e| io_error(path, e.into()))?,
        Trust::Checked => pathtrust::open_file(path, read_flags()).map_err(|e| match e {
            pathtrust::Error::Io(e) => io_error(path, e),
            pathtrust::Error::Untrusted(why) => untrusted(path, why),
        })?,
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    regular(path, &meta)?;
    if trust == Trust::Checked {
        file_rules(path, &meta)?;
    }
    Ok((file, meta))
}

fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY
}

/// The pidfile (or any file believed as one is): owned by root or us,
/// writable by its owner only.
pub fn file_rules(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        let who = if mode & 0o002 == 0 {
            "group-writable"
        } else {
            "world-writable"
        };
        return Err(untrusted(path, format!("it is {who} (mode {mode:o})")));
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

/// A pidfile's raw content and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// At most a little over [`MAX_LEN`] bytes.
    pub bytes: Vec<u8>,
    /// Its modification time, taken before the bytes were read (and the
    /// read done again if it changed meanwhile): a pid read is never
    /// credited with a later write than the one that put it there.
    pub written: SystemTime,
    /// Its writer is done with it: the bytes were read while no process
    /// had the file open for writing (see [`no_writer`]), or it has not
    /// been written for [`QUIET`]. A line without its newline is then
    /// final. Only ever set for a line without its newline.
    pub closed: bool,
}

/// Reads a pidfile's raw bytes and modification time (see [`open`]).
pub fn read_content(path: &Path, trust: Trust) -> Result<Content, Error> {
    read_with(path, trust, &Real)
}

fn read_with(path: &Path, trust: Trust, clock: &impl Clock) -> Result<Content, Error> {
    let (file, meta) = open(path, trust)?;
    let first = stamp(path, &meta)?;
    settle_content(&mut Opened { file: &file, path }, first, clock)
}

/// A file's modification time and length: it changed if either did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: SystemTime,
    len: u64,
}

fn stamp(path: &Path, meta: &std::fs::Metadata) -> Result<Stamp, Error> {
    Ok(Stamp {
        modified: meta.modified().map_err(|e| io_error(path, e))?,
        len: meta.len(),
    })
}

/// An open pidfile as [`settle_content`] reads it. A seam for the unit
/// tests: a file that changes between two reads, or at every read, cannot
/// be raced reliably with a real writer.
trait Source {
    /// Its modification time and length now.
    fn stamp(&mut self) -> Result<Stamp, Error>;
    /// Its whole content now (see [`read_all`]).
    fn read(&mut self) -> Result<Vec<u8>, Error>;
    /// `f` run while no one can write it (see [`no_writer`]).
    fn unwritten<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T>;
}

/// The real pidfile.
struct Opened<'a> {
    file: &'a File,
    path: &'a Path,
}

impl Source for Opened<'_> {
    fn stamp(&mut self) -> Result<Stamp, Error> {
        let meta = self.file.metadata().map_err(|e| io_error(self.path, e))?;
        stamp(self.path, &meta)
    }

    fn read(&mut self) -> Result<Vec<u8>, Error> {
        read_all(self.file, self.path)
    }

    fn unwritten<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        let file = self.file;
        no_writer(file, || f(self))
    }
}

/// The clocks [`load`] and [`read_content`] read, and the pause between
/// two reads: the real ones, or a test's (a settle time cannot be raced
/// reliably either).
trait Clock {
    fn instant(&self) -> Instant;
    fn wall(&self) -> SystemTime;
    fn pause(&mut self, d: Duration);
}

struct Real;

impl Clock for Real {
    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn pause(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// [`read_content`] once `src` is open, `first` its stamp then.
fn settle_content(
    src: &mut impl Source,
    first: Stamp,
    clock: &impl Clock,
) -> Result<Content, Error> {
    let mut before = first;
    // A file rewritten without pause is read a bounded number of times;
    // then the mtime of the first look is kept (older than the content:
    // a process may look stale, never the reverse).
    let mut tries = 0;
    loop {
        tries += 1;
        let bytes = src.read()?;
        let after = src.stamp()?;
        let stable = after == before;
        if stable || tries == MAX_REREADS {
            let written = if stable {
                before.modified
            } else {
                first.modified
            };
            let half = !bytes.is_empty() && !bytes.ends_with(b"\n");
            let quiet = clock
                .wall()
                .duration_since(written)
                .is_ok_and(|age| age >= QUIET);
            if half && !quiet {
                // Read once more with no writer possible: that content is
                // final whatever it is.
                if let Some(content) = src.unwritten(|src| {
                    let stamp = src.stamp()?;
                    let bytes = src.read()?;
                    Ok(Content {
                        closed: !bytes.is_empty() && !bytes.ends_with(b"\n"),
                        bytes,
                        written: stamp.modified,
                    })
                }) {
                    return content;
                }
            }
            return Ok(Content {
                bytes,
                written,
                closed: half && quiet && stable,
            });
        }
        before = after;
    }
}

/// The whole file from its start, at most a little over [`MAX_LEN`] bytes.
fn read_all(mut file: impl Read + Seek, path: &Path) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    file.rewind().map_err(|e| io_error(path, e))?;
    file.take(MAX_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    Ok(bytes)
}

/// How often a pidfile that changes while it is read is read again.
const MAX_REREADS: usize = 20;

/// Reads a pidfile's raw bytes (see [`read_content`]).
pub fn read_bytes(path: &Path, trust: Trust) -> Result<Vec<u8>, Error> {
    read_content(path, trust).map(|c| c.bytes)
}

/// A file last written this long ago is not being written: the settle
/// time a line without newline was always given (100 ms), counted from the
/// write itself rather than from when we first saw it, plus the tick the
/// kernel's `mtime` clock may lag by. (A wall clock stepped back makes a
/// file look newer: then it waits, which is safe.) This is the rule left
/// where [`no_writer`] cannot answer, and for a writer that keeps its
/// pidfile open.
pub const QUIET: Duration = Duration::from_millis(110);

/// Runs `f` while no process has `file` (opened read-only) open for
/// writing, proven by a read lease: `F_SETLEASE` with `F_RDLCK` is granted
/// only while no descriptor or shared mapping of the file, through any of
/// its names, is open for writing, and while it is held no one can open
/// the file for writing or truncate it (they wait for us to give it up).
/// The lease is given back as soon as `f` returns.
///
/// `None`, without calling `f`, when a writer holds the file (`EAGAIN`) or
/// when it cannot be known: leases disabled (`/proc/sys/fs/leases-enable`),
/// a file system without them (`EINVAL`), another user's file without
/// `CAP_LEASE` (`EACCES`).
///
/// A writer opening the file in the microseconds the lease is held waits
/// for us (one with `O_NONBLOCK` gets `EWOULDBLOCK`), and the kernel sends
/// us a signal: SIGURG, ignored unless handled, instead of the default
/// SIGIO, whose default action would end the process.
pub fn no_writer<T>(file: &File, f: impl FnOnce() -> T) -> Option<T> {
    lease(file, libc::F_RDLCK).ok()?;
    let out = f();
    // Cannot fail on a lease we hold; closing the file would also end it.
    let _ = lease(file, libc::F_UNLCK);
    Some(out)
}

/// From <asm-generic/fcntl.h> (x86, arm, riscv, …); the libc crate does not
/// define it.
const F_SETSIG: i32 = 10;

/// Takes (`F_RDLCK`) or gives back (`F_UNLCK`) a lease on `file`, with
/// SIGURG as the signal that tells of a writer waiting.
#[allow(unsafe_code)]
fn lease(file: &File, kind: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: F_SETSIG and F_SETLEASE take integer arguments and read or
    // write no memory of ours; `file` is an open descriptor for the whole
    // call.
    let rc = unsafe {
        if kind == libc::F_UNLCK || libc::fcntl(fd, F_SETSIG, libc::SIGURG) != -1 {
            libc::fcntl(fd, libc::F_SETLEASE, kind)
        } else {
            -1
        }
    };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A pidfile as it was read: its pids and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pidfile {
    pub pids: Vec<Pid>,
    pub written: SystemTime,
}

/// Reads and parses a pidfile as it is now. A half-written or empty file
/// gives [`Error::Incomplete`]: read it again later, or use
/// [`read_settled`]. A line without its newline that no one has open for
/// writing any more is complete.
pub fn read(path: &Path, trust: Trust) -> Result<Vec<Pid>, Error> {
    let content = read_content(path, trust)?;
    parse(&content.bytes, pid_max(), content.closed).map_err(|p| p.in_file(path, &content.bytes))
}

/// Reads a pidfile, giving a half-written one up to `settle` to be finished
/// (re-reading every few milliseconds). A line without its newline is
/// final as soon as its writer is done with it (see [`Content::closed`]);
/// one still held and written to when `settle` runs out is
/// [`Error::Incomplete`]: never guessed at; an empty file is then
/// [`Error::Invalid`]. With [`SETTLE`], a line
/// whose writer keeps the file open but no longer writes is final in time.
pub fn read_settled(path: &Path, trust: Trust, settle: Duration) -> Result<Vec<Pid>, Error> {
    load(path, trust, settle).map(|p| p.pids)
}

/// The time to give a half-written pidfile in [`read_settled`]: longer than
/// [`QUIET`], so that a writer that keeps its pidfile open (as libbsd's
/// `pidfile_write` does, without a newline) is not refused.
pub const SETTLE: Duration = Duration::from_millis(QUIET.as_millis() as u64 + 40);

/// [`read_settled`], with the time the pidfile was last written (for
/// [`crate::process::Identity::written_at`]).
pub fn load(path: &Path, trust: Trust, settle: Duration) -> Result<Pidfile, Error> {
    load_with(path, settle, &mut Real, |clock| {
        read_with(path, trust, clock)
    })
}

/// [`load`], reading the pidfile with `read`.
fn load_with<C: Clock>(
    path: &Path,
    settle: Duration,
    clock: &mut C,
    mut read: impl FnMut(&C) -> Result<Content, Error>,
) -> Result<Pidfile, Error> {
    let deadline = clock.instant() + settle;
    let pid_max = pid_max();
    loop {
        let content = read(clock)?;
        // Out of time, an empty file is simply wrong; half a line is not
        // guessed at (it stays incomplete).
        let late = clock.instant() >= deadline;
        match parse(
            &content.bytes,
            pid_max,
            content.closed || (late && content.bytes.is_empty()),
        ) {
            Err(Problem::Incomplete) if !late => clock.pause(Duration::from_millis(2)),
            other => {
                return other
                    .map(|pids| Pidfile {
                        pids,
                        written: content.written,
                    })
                    .map_err(|p| p.in_file(path, &content.bytes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

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
            ("-\n", 1, "-", "decimal pid"),
            ("-x\n", 1, "-x", "decimal pid"),
            ("123\n456\n", 2, "456", "one line"),
            ("123\n\nfoo", 3, "foo", "one line"),
        ];
        for (content, line, text, expected) in cases {
            let got = problem(content);
            assert_eq!((got.0, got.1.as_str()), (line, text), "{content:?}");
            assert!(got.2.contains(expected), "{content:?}: {}", got.2);
        }
    }

    /// A line of exactly `MAX_LEN` bytes is read; one byte more is refused,
    /// even if it holds nothing but a pid and blanks.
    #[test]
    fn at_most_max_len_bytes() {
        let line = |len: usize| format!("1234{}\n", " ".repeat(len - 5));
        assert_eq!(pids(&line(MAX_LEN)), [1234]);
        let (n, _, expected) = problem(&line(MAX_LEN + 1));
        assert_eq!(n, 1);
        assert!(expected.contains("over 4096 bytes"), "{expected}");
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

    /// A pidfile is opened non-blocking (a FIFO cannot hang us) and is not
    /// inherited by a child, however it is trusted.
    #[test]
    fn pidfiles_are_opened_non_blocking_and_close_on_exec() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pid");
        std::fs::write(&path, "1234\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        for trust in [Trust::Checked, Trust::Any] {
            let (file, _) = open(&path, trust).unwrap();
            let flags = rustix::fs::fcntl_getfl(&file).unwrap();
            assert!(flags.contains(OFlags::NONBLOCK), "{trust:?}: {flags:?}");
            let fd_flags = rustix::io::fcntl_getfd(&file).unwrap();
            assert!(
                fd_flags.contains(rustix::io::FdFlags::CLOEXEC),
                "{trust:?}: {fd_flags:?}"
            );
        }
    }

    /// What is parsed is the whole file, never a cut of it: one over
    /// `MAX_LEN` bytes is refused, not read as its first `MAX_LEN` (a pid and
    /// blanks). And an empty file, however old, is still only incomplete.
    #[test]
    fn reads_are_never_cut_and_an_old_empty_file_is_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        let write = |name: &str, content: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(old).unwrap();
            path
        };
        let full = write(
            "full.pid",
            format!("1234{}\n", " ".repeat(MAX_LEN - 5)).as_bytes(),
        );
        assert_eq!(
            read(&full, Trust::Checked).unwrap(),
            [Pid::new(1234).unwrap()]
        );
        let over = write(
            "over.pid",
            format!("1234{}\n", " ".repeat(MAX_LEN)).as_bytes(),
        );
        let err = read(&over, Trust::Checked).unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { expected, .. } if expected.contains("over 4096 bytes")),
            "{err}"
        );
        let empty = write("empty.pid", b"");
        let err = read(&empty, Trust::Checked).unwrap_err();
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
    }

    /// `read_settled` waits out its settle time on an empty pidfile (read
    /// again every few milliseconds), and takes what its writer then puts
    /// there. Seen for real: the reader is asleep between two reads before
    /// the pid is written.
    #[test]
    fn an_empty_pidfile_is_waited_on_for_its_settle_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("late.pid");
        let mut writer = std::fs::File::create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (tell, told) = std::sync::mpsc::channel();
        let reader = {
            let path = path.clone();
            std::thread::spawn(move || {
                let link = std::fs::read_link("/proc/thread-self").unwrap();
                tell.send(link.file_name().unwrap().to_owned()).unwrap();
                read_settled(&path, Trust::Checked, Duration::from_secs(30))
            })
        };
        let wchan = format!("/proc/self/task/{}/wchan", told.recv().unwrap().display());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&wchan).is_ok_and(|w| w.contains("nanosleep")) {
            assert!(
                !reader.is_finished(),
                "gave up at once: {:?}",
                reader.join()
            );
            assert!(Instant::now() < deadline, "the reader never slept");
            std::thread::yield_now();
        }
        std::io::Write::write_all(&mut writer, b"4321\n").unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), [Pid::new(4321).unwrap()]);
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
    fn the_whole_path_is_walked() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir(base.join("sub")).unwrap();
        let file = base.join("x.pid");
        std::fs::write(&file, "1234\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let want = [Pid::new(1234).unwrap()];
        assert_eq!(
            read(&base.join("sub/../x.pid"), Trust::Checked).unwrap(),
            want
        );
        // Links resolved, relative ones from where they are.
        std::os::unix::fs::symlink("..", base.join("sub/up")).unwrap();
        assert_eq!(
            read(&base.join("sub/up/x.pid"), Trust::Checked).unwrap(),
            want
        );
        std::os::unix::fs::symlink("loop", base.join("loop")).unwrap();
        let err = read(&base.join("loop/x.pid"), Trust::Checked).unwrap_err();
        assert!(err.to_string().contains("more than 40 symlinks"), "{err}");
        let err = read(&base.join("x.pid/y.pid"), Trust::Checked).unwrap_err();
        assert!(
            err.to_string().contains("x.pid is not a directory"),
            "{err}"
        );
        assert!(matches!(
            read(&base.join("nope/x.pid"), Trust::Checked),
            Err(Error::Missing { .. })
        ));
        // The mtime comes with the content.
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let got = load(&file, Trust::Checked, Duration::ZERO).unwrap();
        assert_eq!((got.pids.as_slice(), got.written), (&want[..], old));
    }

    #[test]
    fn a_line_without_newline_is_final_once_its_writer_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.pid");
        let want = [Pid::new(4321).unwrap()];
        // Still open for writing, with half a line ("4321" of "43210"),
        // last written now: never believed, however often it is read.
        let mut writer = std::fs::File::create(&file).unwrap();
        std::io::Write::write_all(&mut writer, b"4321").unwrap();
        for _ in 0..3 {
            let content = read_content(&file, Trust::Checked).unwrap();
            assert_eq!(
                (content.bytes.as_slice(), content.closed),
                (&b"4321"[..], false)
            );
            assert!(matches!(
                read(&file, Trust::Checked),
                Err(Error::Incomplete { .. })
            ));
        }
        // Held through another name (a hard link), or as a shared mapping
        // would be: the kernel counts the file, not the name.
        let link = dir.path().join("link.pid");
        std::fs::hard_link(&file, &link).unwrap();
        let reader = std::fs::File::open(&link).unwrap();
        assert_eq!(no_writer(&reader, || ()), None);
        // Nor once `read_settled` has given it its time: a writer that
        // keeps writing is never guessed at.
        let err = read_settled(&file, Trust::Checked, Duration::from_millis(20)).unwrap_err();
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
        // Closed: final at once, with no wait for the mtime to age. Readers
        // are no writers.
        drop(writer);
        assert_eq!(no_writer(&reader, || 7), Some(7));
        let content = read_content(&file, Trust::Checked).unwrap();
        assert!(content.closed);
        assert_eq!(read(&file, Trust::Checked).unwrap(), want);
        // While the lease is held a writer waits for us (one that may not
        // wait is told so), and the kernel's note of it to us, SIGURG, is
        // ignored: SIGIO, the default, would end this process.
        let held = no_writer(&reader, || {
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&file)
                .map(drop)
        });
        let err = held.unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EWOULDBLOCK), "{err}");
        // The lease is given back: a writer may open the file again at
        // once (else this would wait for the lease-break time, 45 s).
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&file)
            .unwrap();
        // A writer still holding it, but done writing for QUIET (a daemon
        // that keeps its pidfile open): final too.
        let writer = std::fs::File::options().write(true).open(&file).unwrap();
        assert!(matches!(
            read(&file, Trust::Checked),
            Err(Error::Incomplete { .. })
        ));
        writer
            .set_modified(SystemTime::now() - QUIET - Duration::from_millis(10))
            .unwrap();
        assert_eq!(read(&file, Trust::Checked).unwrap(), want);
        // In the future (a clock stepped back): not quiet.
        writer
            .set_modified(SystemTime::now() + Duration::from_secs(3600))
            .unwrap();
        assert!(!read_content(&file, Trust::Checked).unwrap().closed);
        drop(writer);
        std::fs::write(&file, "").unwrap();
        let err = read_settled(&file, Trust::Checked, Duration::from_millis(20)).unwrap_err();
        assert!(err.to_string().contains("empty file"), "{err}");
    }

    /// A pidfile as [`settle_content`] sees it, written by the test: each
    /// read gives the next of `reads`, each look the next of `looks` (the
    /// last one again once they run out); `held`: a writer has it open.
    struct Fake {
        reads: Vec<&'static [u8]>,
        looks: Vec<Stamp>,
        held: bool,
        n_reads: usize,
        n_looks: usize,
        leases: usize,
    }

    impl Fake {
        fn new(reads: &[&'static [u8]], looks: &[Stamp]) -> Self {
            Self {
                reads: reads.to_vec(),
                looks: looks.to_vec(),
                held: false,
                n_reads: 0,
                n_looks: 0,
                leases: 0,
            }
        }
    }

    impl Source for Fake {
        fn stamp(&mut self) -> Result<Stamp, Error> {
            let at = self.n_looks.min(self.looks.len() - 1);
            self.n_looks += 1;
            Ok(self.looks[at])
        }

        fn read(&mut self) -> Result<Vec<u8>, Error> {
            // Far more than any bound: a loop that never ends fails here
            // rather than hanging.
            assert!(self.n_reads < 1000, "read without bound");
            let at = self.n_reads.min(self.reads.len() - 1);
            self.n_reads += 1;
            Ok(self.reads[at].to_vec())
        }

        fn unwritten<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
            self.leases += 1;
            if self.held {
                None
            } else {
                Some(f(self))
            }
        }
    }

    /// A clock that moves only when paused.
    struct FakeClock {
        start: (Instant, SystemTime),
        elapsed: Duration,
    }

    impl FakeClock {
        fn at(wall: SystemTime) -> Self {
            Self {
                start: (Instant::now(), wall),
                elapsed: Duration::ZERO,
            }
        }
    }

    impl Clock for FakeClock {
        fn instant(&self) -> Instant {
            self.start.0 + self.elapsed
        }

        fn wall(&self) -> SystemTime {
            self.start.1 + self.elapsed
        }

        fn pause(&mut self, d: Duration) {
            self.elapsed += d;
        }
    }

    fn stamp_at(secs: u64, len: u64) -> Stamp {
        Stamp {
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            len,
        }
    }

    /// Long after any of the stamps above: every write is quiet.
    fn later() -> FakeClock {
        FakeClock::at(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30))
    }

    /// Rewritten between the first look and the read: read again, and the
    /// second content is taken with its own mtime, not the first.
    #[test]
    fn a_file_that_changed_while_read_is_read_again() {
        let (old, new) = (stamp_at(100, 4), stamp_at(200, 4));
        let mut src = Fake::new(&[b"111\n", b"222\n"], &[new, new]);
        let got = settle_content(&mut src, old, &later()).unwrap();
        assert_eq!(
            (got.bytes.as_slice(), got.written, got.closed),
            (&b"222\n"[..], new.modified, false)
        );
        assert_eq!(src.n_reads, 2);
    }

    /// Rewritten at every read: read `MAX_REREADS` times, no more, and
    /// stamped with the first look's (older) mtime.
    #[test]
    fn a_file_rewritten_at_every_read_is_read_a_bounded_number_of_times() {
        let looks: Vec<Stamp> = (1..=1001).map(|i| stamp_at(100 + i, 5)).collect();
        let mut src = Fake::new(&[b"1234\n"], &looks);
        let first = stamp_at(100, 5);
        let got = settle_content(&mut src, first, &later()).unwrap();
        assert_eq!(src.n_reads, MAX_REREADS);
        assert_eq!(
            (got.bytes.as_slice(), got.written, got.closed),
            (&b"1234\n"[..], first.modified, false)
        );
    }

    /// Unchanged while read, a complete line is read once, with no lease
    /// (which would make a writer opening it wait), even if just written.
    #[test]
    fn a_steady_complete_line_is_read_once_without_a_lease() {
        let now = stamp_at(100, 5);
        let mut src = Fake::new(&[b"1234\n"], &[now]);
        let got = settle_content(&mut src, now, &FakeClock::at(now.modified)).unwrap();
        assert_eq!((src.n_reads, src.leases), (1, 0));
        assert_eq!(
            (got.bytes.as_slice(), got.written, got.closed),
            (&b"1234\n"[..], now.modified, false)
        );
    }

    /// Half a line just written: read again under the lease, and what is
    /// there then is final: half a line is closed, a finished line or a
    /// file emptied meanwhile (truncated to be written again) is not.
    #[test]
    fn under_the_lease_only_a_half_line_is_closed() {
        let first = stamp_at(100, 2);
        let then = stamp_at(101, 3);
        for (under_lease, closed) in [(&b"123"[..], true), (b"123\n", false), (b"", false)] {
            let mut src = Fake::new(&[b"12", under_lease], &[first, then]);
            let got = settle_content(&mut src, first, &FakeClock::at(first.modified)).unwrap();
            assert_eq!(src.leases, 1);
            assert_eq!(
                (got.bytes.as_slice(), got.written, got.closed),
                (under_lease, then.modified, closed),
                "{under_lease:?}"
            );
        }
    }

    /// [`SETTLE`] is long enough for [`QUIET`]: half a line just written,
    /// whose writer keeps the file open and writes no more (libbsd's
    /// `pidfile_write`), is taken by `load` once quiet, before its settle
    /// time runs out. On a clock that moves only when `load` pauses.
    #[test]
    fn settle_outlasts_quiet_for_a_writer_that_keeps_its_pidfile_open() {
        let written = stamp_at(100, 4);
        let mut src = Fake::new(&[b"4321"], &[written]);
        src.held = true;
        let mut clock = FakeClock::at(written.modified);
        let path = Path::new("/run/x.pid");
        let got = load_with(path, SETTLE, &mut clock, |clock| {
            settle_content(&mut src, written, clock)
        })
        .unwrap();
        assert_eq!(got.pids, [Pid::new(4321).unwrap()]);
        assert!(
            clock.elapsed >= QUIET && clock.elapsed < SETTLE,
            "{:?}",
            clock.elapsed
        );
        // Still written to (its mtime moving with the clock): never taken,
        // and given up on after the 150 ms the README promises.
        let mut clock = FakeClock::at(written.modified);
        let err = load_with(path, SETTLE, &mut clock, |clock| {
            let now = Stamp {
                modified: clock.wall(),
                len: 4,
            };
            let mut src = Fake::new(&[b"4321"], &[now]);
            src.held = true;
            settle_content(&mut src, now, clock)
        })
        .unwrap_err();
        assert!(matches!(err, Error::Incomplete { .. }), "{err}");
        assert_eq!(clock.elapsed, Duration::from_millis(150));
    }
}
