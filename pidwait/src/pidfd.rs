//! A handle on one process: a pidfd where the kernel has them, so the exit
//! is seen at once (for processes that are not our children too) and a
//! signal can never reach a process that took over a recycled pid.
//! Without pidfds (Linux before 5.3) it falls back to reading
//! `/proc/PID/stat` with a backoff.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::PidfdFlags;

use crate::process::{self, Pid, State};

/// The longest pause between two looks at a process when there is no pidfd.
const MAX_BACKOFF: Duration = Duration::from_millis(50);

/// One process, held so that its exit can be waited for and it can be
/// signalled without racing pid reuse.
#[derive(Debug)]
pub struct Handle {
    pid: Pid,
    fd: Option<OwnedFd>,
}

/// What happened to a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The kernel delivered it.
    Delivered,
    /// The process had already exited; nothing was signalled.
    Gone,
}

impl Handle {
    /// Takes hold of a process. `Ok(None)` if no process has this pid.
    ///
    /// A zombie can be held (and is reported as exited at once).
    pub fn open(pid: Pid) -> io::Result<Option<Self>> {
        let raw = rustix::process::Pid::from_raw(pid.get()).expect("Pid is > 1");
        match rustix::process::pidfd_open(raw, PidfdFlags::empty()) {
            Ok(fd) => Ok(Some(Self { pid, fd: Some(fd) })),
            Err(Errno::SRCH) => Ok(None),
            Err(Errno::NOSYS) => Self::open_without_pidfd(pid),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    /// Takes hold of a process without a pidfd: exit is noticed by reading
    /// `/proc` with a backoff, and a signal goes by pid (after checking the
    /// process is still there, which leaves a small window for pid reuse).
    pub fn open_without_pidfd(pid: Pid) -> io::Result<Option<Self>> {
        Ok(match process::state(pid)? {
            State::Gone => None,
            _ => Some(Self { pid, fd: None }),
        })
    }

    /// The pid held.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The pidfd, if there is one: it becomes readable when the process
    /// exits, for use in a `poll` with other descriptors.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(AsFd::as_fd)
    }

    /// True once the process has exited (a zombie has exited).
    pub fn has_exited(&self) -> io::Result<bool> {
        match &self.fd {
            Some(fd) => readable(fd.as_fd(), Some(Duration::ZERO)),
            None => Ok(!process::state(self.pid)?.is_alive()),
        }
    }

    /// Sends a signal to the process, unless it has exited.
    pub fn signal(&self, signal: Signal) -> io::Result<Sent> {
        let sig = rustix::process::Signal::from_named_raw(signal as i32)
            .ok_or_else(|| io::Error::other(format!("unsupported signal {signal}")))?;
        if self.has_exited()? {
            return Ok(Sent::Gone);
        }
        let result = match &self.fd {
            Some(fd) => rustix::process::pidfd_send_signal(fd, sig),
            None => rustix::process::kill_process(
                rustix::process::Pid::from_raw(self.pid.get()).expect("Pid is > 1"),
                sig,
            ),
        };
        match result {
            Ok(()) => Ok(Sent::Delivered),
            Err(Errno::SRCH) => Ok(Sent::Gone),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    /// Waits for the process to exit, at most `timeout` (`None`: no limit).
    /// True if it exited.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if let Some(fd) = &self.fd {
            return readable(fd.as_fd(), timeout);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut pause = Duration::from_millis(1);
        loop {
            if !process::state(self.pid)?.is_alive() {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(false);
            }
            std::thread::sleep(left.map_or(pause, |l| l.min(pause)));
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }
}

/// Polls one descriptor for input, at most `timeout`. True if readable.
fn readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
    Ok(poll(&mut fds, timeout)? > 0)
}

/// `poll(2)` with a `Duration`, retried on `EINTR` with the time left.
pub fn poll(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> io::Result<usize> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        // A duration too long for a timespec (centuries) waits without limit.
        let spec = left.and_then(|l| rustix::event::Timespec::try_from(l).ok());
        match rustix::event::poll(fds, spec.as_ref()) {
            Err(Errno::INTR) => {}
            other => return other.map_err(io::Error::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};

    fn sleeper() -> (Child, Pid) {
        let child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = Pid::new(child.id() as i32).unwrap();
        (child, pid)
    }

    #[test]
    fn sees_an_exit_and_a_zombie() {
        for pidfd in [true, false] {
            let (mut child, pid) = sleeper();
            let handle = if pidfd {
                Handle::open(pid)
            } else {
                Handle::open_without_pidfd(pid)
            }
            .unwrap()
            .unwrap();
            assert_eq!(handle.pid(), pid);
            assert_eq!(handle.fd().is_some(), pidfd);
            assert!(!handle.has_exited().unwrap());
            assert!(!handle.wait(Some(Duration::from_millis(10))).unwrap());
            assert_eq!(handle.signal(Signal::SIGTERM).unwrap(), Sent::Delivered);
            // Not reaped yet: a zombie, which counts as exited.
            assert!(handle.wait(Some(Duration::from_secs(10))).unwrap());
            assert_eq!(process::state(pid).unwrap(), State::Zombie);
            assert_eq!(handle.signal(Signal::SIGKILL).unwrap(), Sent::Gone);
            child.wait().unwrap();
            assert!(handle.has_exited().unwrap());
        }
    }

    #[test]
    fn a_reaped_pid_cannot_be_opened() {
        let (mut child, pid) = sleeper();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(Handle::open(pid).unwrap().is_none());
        assert!(Handle::open_without_pidfd(pid).unwrap().is_none());
    }
}
