//! Leases: the ports handed out and when each lease ends, one line each
//! (`PORT UNIX_MS`) in `DIR/leases`. Every reader and writer holds an
//! exclusive `flock` on `DIR/.lock` while it reads, picks and writes, so
//! two portfind runs never both see a port as unleased.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rustix::fs::{flock, FlockOperation, Mode, OFlags};

/// How long to wait for another portfind to let go of the lock; holders
/// keep it for a few milliseconds only.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

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
pub struct Leases {
    file: PathBuf,
    /// (port, end in Unix milliseconds), expired ones dropped.
    held: Vec<(u16, u64)>,
    _lock: File,
}

impl Leases {
    /// Creates the directory (mode 0700) if needed, takes its lock and
    /// reads the leases still running at `now`. `own` demands that the
    /// directory belongs to us: a shared `/tmp` path someone else created
    /// must not be trusted.
    pub fn lock(dir: &Path, own: bool, now: SystemTime) -> Result<Self> {
        match fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).context(format!("creating lease directory {}", dir.display())),
        }
        // Our default directory in /tmp must not be a symlink someone else
        // planted; a directory the user names may be reached through one.
        let meta = if own {
            fs::symlink_metadata(dir)
        } else {
            fs::metadata(dir)
        }
        .with_context(|| format!("reading lease directory {}", dir.display()))?;
        if meta.is_symlink() {
            bail!(
                "lease directory {} is a symlink: expected a directory of our own; \
                 pass --lease-dir or set PORTFIND_LEASE_DIR to use it",
                dir.display()
            );
        }
        if !meta.is_dir() {
            bail!("lease directory {} is not a directory", dir.display());
        }
        let uid = rustix::process::getuid().as_raw();
        if own && meta.uid() != uid {
            bail!(
                "lease directory {} belongs to uid {}, not to us (uid {uid}); \
                 pass --lease-dir or set PORTFIND_LEASE_DIR",
                dir.display(),
                meta.uid()
            );
        }
        let path = dir.join(".lock");
        // Read-only is enough for flock, so users sharing a directory can
        // all lock a lock file only one of them owns.
        let lock = rustix::fs::open(
            &path,
            OFlags::CREATE | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map(File::from)
        .map_err(io::Error::from)
        .with_context(|| format!("opening lock file {}", path.display()))?;
        let start = Instant::now();
        loop {
            match flock(&lock, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                    if start.elapsed() > LOCK_TIMEOUT {
                        bail!(
                            "lock file {} still held after {LOCK_TIMEOUT:?}",
                            path.display()
                        );
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                Err(e) => {
                    return Err(io::Error::from(e))
                        .with_context(|| format!("locking {}", path.display()))
                }
            }
        }
        let file = dir.join("leases");
        let bytes = match fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).context(format!("reading {}", file.display())),
        };
        // A damaged file must not stop every later run: bytes that are not
        // text make their line malformed, and it is dropped below.
        let text = String::from_utf8_lossy(&bytes);
        let now = unix_ms(now);
        let mut held = Vec::new();
        for (i, line) in text.lines().enumerate() {
            match parse_lease(line) {
                Some((port, end)) if end > now => held.push((port, end)),
                Some(_) => {} // expired
                None => cliutil::warn(
                    "portfind",
                    format_args!(
                        "dropping bad lease {} line {}: {:?}: expected PORT UNIX_MS",
                        file.display(),
                        i + 1,
                        line
                    ),
                ),
            }
        }
        Ok(Self {
            file,
            held,
            _lock: lock,
        })
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

    /// Writes the leases back (to a new file renamed over the old, so a
    /// crash leaves the old or the new list, never half of one).
    pub fn save(&self) -> Result<()> {
        let mut text = String::new();
        for (port, end) in &self.held {
            writeln!(text, "{port} {end}")?;
        }
        let new = self.file.with_extension("new");
        // One left by a crashed run of another user could not be opened
        // for writing, but in a directory we may write to it can go.
        match fs::remove_file(&new) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(e).context(format!("removing {}", new.display()))
            }
            _ => {}
        }
        fs::write(&new, text).with_context(|| format!("writing {}", new.display()))?;
        fs::rename(&new, &self.file).with_context(|| format!("replacing {}", self.file.display()))
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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
