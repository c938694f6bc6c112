//! Following a log file by name, as `tail -F` does: new lines as they are
//! written, from the start again after a truncation, on to the new file
//! after a rotation (rename and recreate), and a file that appears later.
//!
//! Woken by change notifications on the file's directory (pidwait's
//! [`DirWatch`], dnotify: a file in it written, created, renamed, removed),
//! and on the real file's directory when FILE is a symlink, so there is no
//! polling. Not inotify: closing an inotify descriptor waits for an SRCU
//! grace period (10-30 ms measured here), and a process cannot exit without
//! closing it. Each look is a few system calls: `fstat` of the open file,
//! reads from where we were, and a `stat` of the name to see whether it
//! now names another file.

use std::fs::{File, Metadata};
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use pidwait::dirwatch::DirWatch;
use rustix::fs::{Mode, OFlags};

use crate::lines::Lines;

/// The most read in one look, so that a huge backlog (`--from-start` on a
/// big file) still lets the caller check its deadline and process now and
/// then.
const READ_BUDGET: u64 = 16 << 20;
/// The most the last look reads: what a few hundred milliseconds can read,
/// so that the deadline is kept even for a huge (or sparse) backlog.
const FINISH_BUDGET: u64 = 16 * READ_BUDGET;
/// How much of the end of the file is read to show its last lines.
const TAIL_BYTES: u64 = 4096;

/// The file being read, and where.
#[derive(Debug)]
struct Open {
    file: File,
    dev: u64,
    ino: u64,
    offset: u64,
}

/// What a look found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// The line callback said it is done.
    Done,
    /// Everything written so far was read.
    Idle,
    /// The read budget ran out: look again without waiting.
    More,
}

pub struct Follower {
    path: PathBuf,
    dir: PathBuf,
    /// Whether to watch directories at all.
    watch: bool,
    /// FILE's directory, watched once it exists.
    dir_watch: Option<DirWatch>,
    /// The directory of the file FILE leads to, if a symlink took it
    /// elsewhere.
    real_watch: Option<(PathBuf, DirWatch)>,
    open: Option<Open>,
    lines: Lines,
    buf: Vec<u8>,
}

impl Follower {
    /// Starts following `path`. Unless `from_start`, what the file holds now
    /// (including the rest of a line it is in the middle of) is skipped; a
    /// file that appears later is read from its start.
    pub fn new(path: &Path, from_start: bool) -> Result<Self> {
        Self::with_watch(path, from_start, true)
    }

    /// [`Follower::new`]; without `watch`, nothing is watched (for unit
    /// tests: the SIGIO of a notification would end a multi-threaded test
    /// process, see [`DirWatch::new`]; the binary's tests cover watching).
    fn with_watch(path: &Path, from_start: bool, watch: bool) -> Result<Self> {
        if path.file_name().is_none() {
            bail!("{}: not a file name", path.display());
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut follower = Self {
            path: path.to_owned(),
            dir,
            watch,
            dir_watch: None,
            real_watch: None,
            open: None,
            lines: Lines::default(),
            buf: vec![0; 64 * 1024],
        };
        follower.watch_dir()?;
        if let Some(open) = follower.open_current()? {
            let size = open.file.metadata()?.len();
            let offset = if from_start { 0 } else { size };
            let mut last = [0u8; 1];
            if offset > 0 && open.file.read_at(&mut last, offset - 1)? == 1 && last[0] != b'\n' {
                follower.lines.skip_to_next_line();
            }
            follower.switch_to(Open { offset, ..open });
        }
        Ok(follower)
    }

    /// The descriptors to poll: readable when something happened.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.dir_watch
            .iter()
            .chain(self.real_watch.iter().map(|(_, w)| w))
            .map(DirWatch::fd)
            .collect()
    }

    /// Reads the pending notifications (their content does not matter: any
    /// of them means "look").
    pub fn drain(&mut self) -> Result<()> {
        for watch in self
            .dir_watch
            .iter()
            .chain(self.real_watch.iter().map(|(_, w)| w))
        {
            watch.drain().context("reading change notifications")?;
        }
        Ok(())
    }

    /// Reads what was written since the last look, calling `line` for
    /// each complete line until it returns true.
    pub fn look(&mut self, line: impl FnMut(&[u8]) -> bool) -> Result<Look> {
        self.look_within(READ_BUDGET, line)
    }

    /// The last look (the deadline has passed, or the process died): reads
    /// what the file (and, after a rotation, the new one) held when it was
    /// called, up to [`FINISH_BUDGET`], and nothing written meanwhile, so
    /// that a writer that never stops cannot keep us here. `More` means it
    /// stopped before the end.
    pub fn finish(&mut self, line: impl FnMut(&[u8]) -> bool) -> Result<Look> {
        let mut backlog = 0;
        if let Some(open) = &self.open {
            let size = open.file.metadata()?.len();
            // Smaller: truncated, all of it is new.
            backlog += size.checked_sub(open.offset).unwrap_or(size);
        }
        if let Ok(meta) = std::fs::metadata(&self.path) {
            if !self.is_open(&meta) {
                backlog += meta.len();
            }
        }
        self.look_within(backlog.min(FINISH_BUDGET), line)
    }

    /// [`Follower::look`], reading at most about `budget` bytes.
    fn look_within(
        &mut self,
        mut budget: u64,
        mut line: impl FnMut(&[u8]) -> bool,
    ) -> Result<Look> {
        if self.watch && self.dir_watch.as_ref().is_none_or(DirWatch::is_removed) {
            self.watch_dir()?;
        }
        loop {
            if let Some(open) = &mut self.open {
                let size = open.file.metadata()?.len();
                if size < open.offset {
                    // Truncated (copytruncate rotation, or `> log`): what
                    // is there now was written since.
                    open.offset = 0;
                    self.lines.reset();
                }
                loop {
                    let n = open
                        .file
                        .read_at(&mut self.buf, open.offset)
                        .with_context(|| format!("reading {}", self.path.display()))?;
                    if n == 0 {
                        break;
                    }
                    open.offset += n as u64;
                    if self.lines.feed(&self.buf[..n], &mut line) {
                        return Ok(Look::Done);
                    }
                    budget = budget.saturating_sub(n as u64);
                    if budget == 0 {
                        return Ok(Look::More);
                    }
                }
            }
            // Everything in the open file is read: does the name now stand
            // for another file (rotated, or created at last)?
            match self.open_current()? {
                Some(next) => {
                    // A new file: all of it was written since we started.
                    self.lines.reset();
                    self.switch_to(next);
                }
                None => return Ok(Look::Idle),
            }
        }
    }

    /// The last `n` lines of the file (at most a few KiB of its end), for a
    /// message.
    pub fn last_lines(&self, n: usize) -> Vec<Vec<u8>> {
        let Some(open) = &self.open else {
            return Vec::new();
        };
        let Ok(size) = open.file.metadata().map(|m| m.len()) else {
            return Vec::new();
        };
        let from = size.saturating_sub(TAIL_BYTES);
        let mut tail = vec![0u8; (size - from) as usize];
        let Ok(read) = open.file.read_at(&mut tail, from) else {
            return Vec::new();
        };
        tail.truncate(read);
        if tail.last() == Some(&b'\n') {
            tail.pop();
        }
        let mut lines: Vec<&[u8]> = tail.split(|b| *b == b'\n').collect();
        if from > 0 && lines.len() > 1 {
            lines.remove(0); // begun before the part we read
        }
        let skip = lines.len().saturating_sub(n);
        lines[skip..].iter().map(|l| l.to_vec()).collect()
    }

    /// The file the name stands for now, if it is not the one open.
    fn open_current(&self) -> Result<Option<Open>> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()))
            }
        };
        if self.is_open(&meta) {
            return Ok(None);
        }
        // Not even opened: opening a FIFO releases a writer blocked on it,
        // opening a device can act on it.
        if !meta.is_file() {
            return Err(not_regular(&self.path));
        }
        // Non-blocking, so that a FIFO swapped in meanwhile cannot hang us.
        let fd = match rustix::fs::open(
            &self.path,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => {
                return Err(io::Error::from(e))
                    .with_context(|| format!("cannot read {}", self.path.display()))
            }
        };
        let file = File::from(fd);
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(not_regular(&self.path));
        }
        Ok(Some(Open {
            dev: meta.dev(),
            ino: meta.ino(),
            offset: 0,
            file,
        }))
    }

    fn is_open(&self, meta: &Metadata) -> bool {
        self.open
            .as_ref()
            .is_some_and(|o| o.dev == meta.dev() && o.ino == meta.ino())
    }

    /// Follows `next` from now on. If FILE is a symlink to another
    /// directory, that one is watched too.
    fn switch_to(&mut self, next: Open) {
        self.open = Some(next);
        if !self.watch {
            return;
        }
        let real_dir = std::fs::canonicalize(&self.path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_owned));
        let here = std::fs::canonicalize(&self.dir).ok();
        match real_dir {
            Some(real) if Some(&real) != here.as_ref() => {
                if self.real_watch.as_ref().is_none_or(|(dir, _)| *dir != real) {
                    // Without it the regular re-check still finds changes.
                    self.real_watch = DirWatch::new(&real).ok().map(|w| (real, w));
                }
            }
            _ => self.real_watch = None,
        }
    }

    fn watch_dir(&mut self) -> Result<()> {
        if !self.watch {
            return Ok(());
        }
        match DirWatch::new(&self.dir) {
            Ok(watch) => self.dir_watch = Some(watch),
            // Not there yet: the caller looks again now and then.
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.dir_watch = None,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot watch directory {}", self.dir.display()))
            }
        }
        Ok(())
    }
}

fn not_regular(path: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: not a regular file (a log file is expected)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(follower: &mut Follower) -> Vec<String> {
        let mut out = Vec::new();
        while follower
            .look(|l| {
                out.push(String::from_utf8_lossy(l).into_owned());
                false
            })
            .unwrap()
            == Look::More
        {}
        out
    }

    fn append(path: &Path, text: &str) {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }

    #[test]
    fn starts_at_the_end_unless_from_start() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("app.log");
        std::fs::write(&log, "old\nhalf").unwrap();
        let mut end = Follower::with_watch(&log, false, false).unwrap();
        let mut start = Follower::with_watch(&log, true, false).unwrap();
        append(&log, " done\nnew\n");
        assert_eq!(collect(&mut end), ["new"]);
        assert_eq!(collect(&mut start), ["old", "half done", "new"]);
    }

    #[test]
    fn follows_truncation_rotation_and_a_late_file() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("app.log");
        let mut f = Follower::with_watch(&log, false, false).unwrap();
        assert!(collect(&mut f).is_empty());
        append(&log, "first\n");
        assert_eq!(collect(&mut f), ["first"]);
        std::fs::write(&log, "").unwrap(); // truncated
        assert!(collect(&mut f).is_empty());
        append(&log, "after truncation\n");
        assert_eq!(collect(&mut f), ["after truncation"]);
        append(&log, "last of old\n");
        std::fs::rename(&log, tmp.path().join("app.log.1")).unwrap();
        append(&log, "in new\n");
        assert_eq!(collect(&mut f), ["last of old", "in new"]);
    }

    #[test]
    fn last_lines_are_the_end_of_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("app.log");
        let mut text = "x".repeat(10_000);
        text.push_str("\na\nb\nc\n");
        std::fs::write(&log, &text).unwrap();
        let f = Follower::with_watch(&log, false, false).unwrap();
        assert_eq!(f.last_lines(2), [b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(f.last_lines(9).len(), 3);
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = Follower::with_watch(&fifo, false, false).err().unwrap();
        assert!(format!("{err:#}").contains("not a regular file"), "{err:#}");
    }
}
