//! Being told when a directory's entries change, through dnotify: the
//! kernel raises SIGIO (blocked, read from a signalfd) when a file in the
//! directory is created, written, renamed, removed or chmod'ed.
//!
//! Why not inotify: closing an inotify descriptor that has held a watch
//! waits for an SRCU grace period (8-15 ms measured here), and a process
//! cannot exit without closing it, so `pidwait FILE` would end 10 ms after
//! seeing the pidfile. dnotify marks are freed in the background; closing
//! the directory takes microseconds.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use rustix::fs::{Mode, OFlags};

// From <linux/fcntl.h>; the libc crate does not define them.
const DN_MODIFY: i32 = 0x2;
const DN_CREATE: i32 = 0x4;
const DN_DELETE: i32 = 0x8;
const DN_RENAME: i32 = 0x10;
const DN_ATTRIB: i32 = 0x20;
const DN_MULTISHOT: i32 = 0x8000_0000_u32 as i32;

/// A watched directory; its descriptor becomes readable on a change.
#[derive(Debug)]
pub struct DirWatch {
    dir: OwnedFd,
    signals: SignalFd,
}

impl DirWatch {
    /// Watches `dir`. SIGIO is blocked in this thread first: its default
    /// action ends the process, and it is sent to the whole process, so
    /// every thread must block it (pidwait has only one; a multi-threaded
    /// caller must call this before starting threads). The notifications
    /// themselves are tested through the binary, which is single-threaded.
    pub fn new(dir: &Path) -> io::Result<Self> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGIO);
        mask.thread_block()?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        let dir = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        notify(&dir)?;
        Ok(Self { dir, signals })
    }

    /// The descriptor to poll for input.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.signals.as_fd()
    }

    /// Consumes the pending notifications.
    pub fn drain(&self) -> io::Result<()> {
        while self.signals.read_signal()?.is_some() {}
        Ok(())
    }

    /// True if the directory was removed (it can no longer get entries):
    /// watch its path again.
    pub fn is_removed(&self) -> bool {
        rustix::fs::fstat(&self.dir).map_or(true, |st| st.st_nlink == 0)
    }
}

/// Asks for SIGIO on changes in `dir`, until it is closed.
#[allow(unsafe_code)]
fn notify(dir: &OwnedFd) -> io::Result<()> {
    let events = DN_MODIFY | DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB | DN_MULTISHOT;
    // SAFETY: F_NOTIFY takes an integer argument and reads or writes no
    // memory of ours; `dir` is an open descriptor for the whole call.
    let rc = unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_NOTIFY, events) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_an_error() {
        let err = DirWatch::new(Path::new("/no/such/dir")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
