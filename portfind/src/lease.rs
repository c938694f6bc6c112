//! Leases: the ports handed out and when each lease ends, one line each
//! (`PORT UNIX_MS`) in `DIR/leases`. Every reader and writer holds an
//! exclusive `flock` on `DIR/.lock` while it reads, picks and writes, so
//! two portfind runs never both see a port as unleased.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use cliutil::{escape_bytes, escape_controls};
use rustix::fs::{flock, AtFlags, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

/// How long to wait for another portfind to let go of the lock; holders
/// keep it for a few milliseconds only.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest lease file read: every port leased at once is 1.3 MB.
pub const MAX_FILE: u64 = 4 << 20;

/// Bad lines warned about one by one; the rest are counted.
const MAX_WARNINGS: usize = 3;

const LOCK: &str = ".lock";
const FILE: &str = "leases";
const NEW: &str = "leases.new";

/// The default lease directory: `$XDG_RUNTIME_DIR/portfind`, else
/// `/tmp/portfind-UID`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(run) if !run.is_empty() => Path::new(&run).join("portfind"),
        _ => PathBuf::from(format!(
            "/tmp/portfind-{}",
            rustix::process::getuid().as_raw()
        )),
    }
}

/// The leases, locked for as long as this value lives.
///
/// Every file in the directory is reached through the directory's own
/// descriptor, never by following a symlink: `.lock` and `leases` are opened
/// with `O_NOFOLLOW` and must be regular files, and the new list is created
/// with `O_EXCL` and renamed over `leases`. So whoever else can write to the
/// directory cannot make portfind truncate, write or read another file.
pub struct Leases {
    dir: File,
    path: PathBuf,
    /// (port, end in Unix milliseconds), expired ones dropped.
    held: Vec<(u16, u64)>,
    _lock: File,
}

impl Leases {
    /// Creates the directory (mode 0700, with its parents) if needed, takes
    /// its lock and reads the leases still running at `now`.
    ///
    /// The directory must belong to us or to root: another user could
    /// otherwise replace its files between two runs. `own` (our default
    /// directory, in a shared `/tmp`) also refuses one reached through a
    /// symlink; a directory the user names may be.
    pub fn lock(dir: &Path, own: bool, now: SystemTime) -> Result<Self> {
        let shown = escape_controls(&dir.to_string_lossy()).into_owned();
        let uid = rustix::process::getuid().as_raw();
        // Our default is refused as a link before anything is made where it
        // points (only root or we could have put one there: another user's
        // is refused by the way's check).
        if own && fs::symlink_metadata(dir).is_ok_and(|m| m.is_symlink()) {
            bail!(
                "lease directory {shown} is a symlink: expected a directory of our own; \
                 pass --lease-dir or set PORTFIND_LEASE_DIR to use it"
            );
        }
        // Each missing directory is made in its parent once that parent has
        // passed the rules, so nothing is made through another user's link;
        // the directory is then opened through the descriptor that was
        // judged, never by its path again.
        let judged = pidwait::pathtrust::create_dir_all(dir, 0o700).map_err(|e| refused(dir, e))?;
        let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
        let dir_file = match rustix::fs::openat(&judged, ".", flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            Err(Errno::NOTDIR) => bail!("lease directory {shown} is not a directory"),
            Err(e) => {
                return Err(io::Error::from(e))
                    .with_context(|| format!("opening lease directory {shown}"))
            }
        };
        let meta = dir_file
            .metadata()
            .with_context(|| format!("reading lease directory {shown}"))?;
        if meta.uid() != uid && meta.uid() != 0 {
            bail!(
                "lease directory {shown} belongs to uid {}, not to us (uid {uid}) or root: \
                 its owner could replace the leases; use a directory of your own \
                 (--lease-dir, PORTFIND_LEASE_DIR)",
                meta.uid()
            );
        }
        let path = dir.to_owned();
        // Read-only is enough for flock, so users sharing a directory can
        // all lock a lock file only one of them owns.
        let lock = open_regular(&dir_file, &path, LOCK, OFlags::CREATE | OFlags::RDONLY)?
            .with_context(|| {
                format!(
                    "lock file {} vanished as it was created: the lease directory was removed",
                    escape_controls(&path.join(LOCK).to_string_lossy())
                )
            })?;
        take_lock(&lock, &path.join(LOCK), LOCK_TIMEOUT)?;
        let mut leases = Self {
            dir: dir_file,
            path,
            held: Vec::new(),
            _lock: lock,
        };
        leases.read(now)?;
        Ok(leases)
    }

    fn read(&mut self, now: SystemTime) -> Result<()> {
        let shown = self.shown(FILE);
        let Some(file) = open_regular(&self.dir, &self.path, FILE, OFlags::RDONLY)? else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {shown}"))?;
        if bytes.len() as u64 > MAX_FILE {
            bail!(
                "lease file {shown} is larger than {} MiB: not a lease file \
                 (remove it to start afresh)",
                MAX_FILE >> 20
            );
        }
        let now = unix_ms(now);
        let latest = now.saturating_add(cliutil::MAX_DURATION.as_secs() * 1000);
        let mut bad = 0;
        // A damaged file must not stop every later run: a bad line (bytes
        // that are not text included) is dropped, and the next save mends it.
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let why = match parse_lease_bytes(line) {
                Some((port, end)) if end > latest => {
                    format!(
                        "line {}: port {port} leased for more than 100 years: \
                         expected at most 100 years, as --lease",
                        i + 1
                    )
                }
                Some((port, end)) => {
                    if end > now {
                        self.held.push((port, end));
                    }
                    continue;
                }
                None => format!(
                    "line {}: '{}': expected PORT UNIX_MS",
                    i + 1,
                    escape_bytes(line)
                ),
            };
            bad += 1;
            if bad <= MAX_WARNINGS {
                cliutil::warn("portfind", format_args!("dropping bad lease {shown} {why}"));
            }
        }
        if bad > MAX_WARNINGS {
            cliutil::warn(
                "portfind",
                format_args!("dropping {} more bad leases of {shown}", bad - MAX_WARNINGS),
            );
        }
        Ok(())
    }

    fn shown(&self, name: &str) -> String {
        escape_controls(&self.path.join(name).to_string_lossy()).into_owned()
    }

    /// The ports whose leases still run.
    pub fn ports(&self) -> Vec<u16> {
        self.held.iter().map(|(port, _)| *port).collect()
    }

    /// Leases `port` until `end`.
    pub fn grant(&mut self, port: u16, end: SystemTime) {
        self.release(port);
        self.held.push((port, unix_ms(end)));
    }

    /// Drops the lease on `port`, if there is one.
    pub fn release(&mut self, port: u16) {
        self.held.retain(|(p, _)| *p != port);
    }

    /// Writes the leases back: to `leases.new`, created afresh (`O_EXCL`,
    /// so never through a link), renamed over `leases`, so that a crash
    /// leaves the old or the new list, never half of one. A failed write
    /// removes `leases.new` and says why (a full disk: "No space left").
    pub fn save(&self) -> Result<()> {
        let mut text = String::new();
        for (port, end) in &self.held {
            writeln!(text, "{port} {end}")?;
        }
        let new = self.shown(NEW);
        // One left by a crashed run (perhaps another user's) goes first.
        match rustix::fs::unlinkat(&self.dir, NEW, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(io::Error::from(e)).context(format!("removing {new}")),
        }
        let written = rustix::fs::openat(
            &self.dir,
            NEW,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map_err(io::Error::from)
        .and_then(|fd| File::from(fd).write_all(text.as_bytes()))
        .with_context(|| format!("writing {new}"))
        .and_then(|()| {
            rustix::fs::renameat(&self.dir, NEW, &self.dir, FILE)
                .map_err(io::Error::from)
                .with_context(|| format!("replacing {} with {new}", self.shown(FILE)))
        });
        if written.is_err() {
            let _ = rustix::fs::unlinkat(&self.dir, NEW, AtFlags::empty());
        }
        written
    }
}

/// Why the way to lease directory `dir` was refused or could not be walked.
fn refused(dir: &Path, e: pidwait::pathtrust::Error) -> anyhow::Error {
    let shown = escape_controls(&dir.to_string_lossy()).into_owned();
    match e {
        pidwait::pathtrust::Error::Untrusted(why) => {
            anyhow::anyhow!("lease directory {shown}: {}", escape_controls(&why))
        }
        pidwait::pathtrust::Error::Io(e) => {
            anyhow::Error::new(e).context(format!("lease directory {shown}"))
        }
    }
}

/// Opens `name` in `dir` without following a symlink, and only if it is a
/// regular file (a FIFO would block, a device never end). `None`: no such
/// file (with `O_CREAT`: the directory itself was removed meanwhile).
fn open_regular(dir: &File, path: &Path, name: &str, flags: OFlags) -> Result<Option<File>> {
    let shown = escape_controls(&path.join(name).to_string_lossy()).into_owned();
    let flags = flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o644)) {
        Ok(fd) => File::from(fd),
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::ISDIR) => {
            bail!("refusing {shown}: not a regular file (a FIFO, device or directory; remove it)")
        }
        Err(Errno::LOOP) => bail!(
            "refusing {shown}: it is a symlink, and portfind never follows one in its \
             lease directory (remove it)"
        ),
        Err(e) => return Err(io::Error::from(e)).with_context(|| format!("opening {shown}")),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("reading {shown}"))?;
    if !meta.file_type().is_file() {
        bail!("refusing {shown}: not a regular file (a FIFO, device or directory; remove it)");
    }
    // A hard link to some other file (`/etc/shadow`, made by whoever else
    // may write in a shared directory) would be read, and its lines shown
    // in warnings: only a file of its own is a lease file.
    if meta.nlink() > 1 {
        bail!(
            "refusing {shown}: it has {} hard links, and a lease file has one \
             (remove it)",
            meta.nlink()
        );
    }
    Ok(Some(file))
}

/// Locks `lock`, waiting at most `timeout` for whoever holds it.
fn take_lock(lock: &File, path: &Path, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        match flock(lock, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            // A local flock with LOCK_NB never sleeps, but a network file
            // system's may, and a library caller's signal handler without
            // SA_RESTART then interrupts it: try again.
            Err(Errno::WOULDBLOCK | Errno::INTR) => {
                if start.elapsed() > timeout {
                    bail!(
                        "lock file {} still held after {timeout:?}",
                        escape_controls(&path.to_string_lossy())
                    );
                }
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => {
                return Err(io::Error::from(e)).with_context(|| {
                    format!("locking {}", escape_controls(&path.to_string_lossy()))
                })
            }
        }
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn parse_lease_bytes(line: &[u8]) -> Option<(u16, u64)> {
    parse_lease(std::str::from_utf8(line).ok()?)
}

/// Reads one lease line: `PORT UNIX_MS`.
pub fn parse_lease(line: &str) -> Option<(u16, u64)> {
    let (port, end) = line.split_once(' ')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(port) || !digits(end) {
        return None;
    }
    Some((port.parse().ok().filter(|p| *p > 0)?, end.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lease_lines() {
        assert_eq!(
            parse_lease("20001 1700000000000"),
            Some((20001, 1_700_000_000_000))
        );
        for bad in [
            "", "x", "20001", "20001 ", " 20001 5", "0 5", "70000 5", "1 -5", "1 5 6", "1  5",
            "+1 5", "1 +5", "+1 +5",
        ] {
            assert_eq!(parse_lease(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn grant_save_expire_release() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("leases");
        let now = SystemTime::now();
        let mut leases = Leases::lock(&dir, true, now).unwrap();
        leases.grant(20001, now + Duration::from_secs(60));
        leases.grant(20002, now + Duration::from_secs(1));
        leases.save().unwrap();
        drop(leases);
        let text = fs::read_to_string(dir.join("leases")).unwrap();
        fs::write(dir.join("leases"), format!("{text}garbage\n")).unwrap();
        let mut leases = Leases::lock(&dir, true, now + Duration::from_secs(2)).unwrap();
        assert_eq!(leases.ports(), vec![20001], "expired and bad lines dropped");
        leases.release(20001);
        leases.release(20001);
        leases.save().unwrap();
        drop(leases);
        assert!(Leases::lock(&dir, true, now).unwrap().ports().is_empty());
    }

    /// Our default directory as a link (even one only root or we could have
    /// made) is refused before anything is made where it points.
    #[test]
    fn our_default_as_a_link_makes_nothing_where_it_points() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("portfind");
        let target = tmp.path().join("elsewhere/leases");
        std::os::unix::fs::symlink(&target, &dir).unwrap();
        let err = Leases::lock(&dir, true, SystemTime::now()).err().unwrap();
        assert!(format!("{err:#}").contains("is a symlink: expected a directory of our own"));
        assert!(
            !tmp.path().join("elsewhere").exists(),
            "made through the link"
        );
        // One the user names may be a link: its target is made.
        Leases::lock(&dir, false, SystemTime::now()).unwrap();
        assert!(target.is_dir());
    }

    /// The ports leased in a fresh directory whose lease file holds `text`,
    /// read at `now`.
    fn read_at(text: &[u8], now: SystemTime) -> Result<Vec<u16>> {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(FILE), text).unwrap();
        Leases::lock(tmp.path(), false, now).map(|l| l.ports())
    }

    #[test]
    fn a_lease_runs_until_its_end_and_at_most_100_years() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let now_ms = 1_000_000_000;
        let latest = now_ms + cliutil::MAX_DURATION.as_secs() * 1000;
        let text = format!(
            "17001 {now_ms}\n17002 {}\n17003 {latest}\n17004 {}\n",
            now_ms + 1,
            latest + 1
        );
        assert_eq!(read_at(text.as_bytes(), now).unwrap(), vec![17002, 17003]);
    }

    #[test]
    fn a_lease_file_of_exactly_the_limit_is_read() {
        let now = SystemTime::now();
        let limit = usize::try_from(MAX_FILE).unwrap();
        assert!(read_at(&vec![b'\n'; limit], now).unwrap().is_empty());
        let err = read_at(&vec![b'\n'; limit + 1], now).unwrap_err();
        assert!(format!("{err:#}").contains("larger than 4 MiB"), "{err:#}");
    }

    #[test]
    fn a_file_as_the_default_directory_is_not_called_a_symlink() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let err = Leases::lock(tmp.path(), true, SystemTime::now())
            .err()
            .unwrap();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "lease directory {} is not a directory",
                tmp.path().display()
            )
        );
    }

    /// A library caller's children must not inherit the lock: a copy of its
    /// descriptor would hold it after the leases are dropped.
    #[test]
    #[allow(clippy::used_underscore_binding)]
    fn descriptors_are_not_inherited() {
        let tmp = tempfile::tempdir().unwrap();
        for own in [false, true] {
            let leases = Leases::lock(tmp.path(), own, SystemTime::now()).unwrap();
            for fd in [&leases.dir, &leases._lock] {
                let flags = rustix::io::fcntl_getfd(fd).unwrap();
                assert!(flags.contains(rustix::io::FdFlags::CLOEXEC), "own {own}");
            }
        }
    }

    /// With `O_CREAT`, no such file means the directory itself was removed
    /// after it was opened.
    #[test]
    fn creating_in_a_removed_directory_finds_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join("gone");
        fs::create_dir(&gone).unwrap();
        let dir = File::open(&gone).unwrap();
        fs::remove_dir(&gone).unwrap();
        let got = open_regular(&dir, &gone, LOCK, OFlags::CREATE | OFlags::RDONLY).unwrap();
        assert!(got.is_none());
    }

    /// A lock held by someone else is waited for no longer than the time
    /// given (here none, so that the test takes no time), then named.
    #[test]
    fn a_lock_held_too_long_is_given_up_on() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(LOCK);
        let held = File::create(&path).unwrap();
        flock(&held, FlockOperation::LockExclusive).unwrap();
        let ours = File::open(&path).unwrap();
        let err = take_lock(&ours, &path, Duration::ZERO).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!("lock file {} still held after 0ns", path.display())
        );
        drop(held);
        take_lock(&ours, &path, Duration::ZERO).unwrap();
    }

    #[test]
    fn a_file_is_not_a_lease_directory() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let err = Leases::lock(tmp.path(), false, SystemTime::now())
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("not a directory"), "{err:#}");
    }

    proptest! {
        #[test]
        fn arbitrary_lease_text_never_panics(text in any::<String>()) {
            let _ = parse_lease(&text);
        }

        #[test]
        fn lease_lines_round_trip(port in 1u16.., end in any::<u64>()) {
            prop_assert_eq!(parse_lease(&format!("{port} {end}")), Some((port, end)));
        }
    }
}
