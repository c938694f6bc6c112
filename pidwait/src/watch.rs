//! Waiting for a pidfile to name a live process: change notifications on
//! its directory (see [`crate::dirwatch`]) so a write is seen within
//! milliseconds, a bounded re-check in case one is missed, and a fine poll
//! while the directory does not exist yet.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::Signal;

use crate::dirwatch::DirWatch;
use rustix::event::{PollFd, PollFlags};

use crate::interrupt::Interrupts;
use crate::pidfd::poll;
use crate::pidfile::{self, Problem, Trust};
use crate::process::{self, Identity, Match, Pid, State};

/// How often to look again even without an inotify event.
const RECHECK: Duration = Duration::from_millis(100);
/// How often to look for a directory that does not exist yet.
const DIR_POLL: Duration = Duration::from_millis(5);
/// How often to look again at a line without its newline that a writer
/// still holds: its close makes no dnotify event, and it is final once the
/// writer closes it or after [`pidfile::QUIET`].
const HELD_POLL: Duration = Duration::from_millis(2);

/// How the wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The pidfile names these pids, all alive (and matching the identity).
    Ready(Vec<Pid>),
    /// The time ran out; the text says what the pidfile looked like last.
    TimedOut(String),
    /// SIGINT or SIGTERM arrived.
    Interrupted(Signal),
}

/// Waits until `path` names live processes (all of them, if it names
/// several) that match `identity`, until `deadline`.
///
/// A missing, empty, half-written or stale pidfile is waited on; a pidfile
/// with bad content or one that fails the trust check is an error.
pub fn wait_for_pidfile(
    path: &Path,
    trust: Trust,
    identity: &Identity,
    interrupts: &Interrupts,
    deadline: Instant,
) -> Result<Outcome> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    if path.file_name().is_none() {
        anyhow::bail!("{}: not a file name", path.display());
    }
    let mut watch: Option<DirWatch> = None;
    let pid_max = pidfile::pid_max();
    loop {
        let mut next = RECHECK;
        if watch.as_ref().is_some_and(DirWatch::is_removed) {
            watch = None;
        }
        if watch.is_none() {
            match DirWatch::new(&dir) {
                Ok(w) => watch = Some(w),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => next = DIR_POLL,
                // Not a directory yet, or a file system without notifications.
                Err(_) => next = DIR_POLL * 2,
            }
        }
        let status = match look(path, trust, identity, pid_max)? {
            Look::Ready(pids) => return Ok(Outcome::Ready(pids)),
            Look::Waiting(status) => status,
            Look::Held(status) => {
                next = HELD_POLL;
                status
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Outcome::TimedOut(status));
        }
        let mut fds = vec![PollFd::from_borrowed_fd(interrupts.fd(), PollFlags::IN)];
        if let Some(w) = &watch {
            fds.push(PollFd::from_borrowed_fd(w.fd(), PollFlags::IN));
        }
        poll(&mut fds, Some(left.min(next))).context("poll")?;
        if !fds[0].revents().is_empty() {
            if let Some(signal) = interrupts.take().context("reading signalfd")? {
                return Ok(Outcome::Interrupted(signal));
            }
        }
        if let Some(w) = &watch {
            w.drain().context("reading signalfd")?;
        }
    }
}

enum Look {
    Ready(Vec<Pid>),
    Waiting(String),
    /// A line without its newline, its writer not done with it yet.
    Held(String),
}

/// One look at the pidfile and the processes it names.
fn look(path: &Path, trust: Trust, identity: &Identity, pid_max: i32) -> Result<Look> {
    let shown = path.display();
    let content = match pidfile::read_content(path, trust) {
        Ok(content) => content,
        Err(pidfile::Error::Missing { .. }) => {
            return Ok(Look::Waiting(format!("{shown} does not exist")));
        }
        Err(e) => return Err(e.into()),
    };
    let (bytes, written) = (&content.bytes, content.written);
    if bytes.is_empty() {
        return Ok(Look::Waiting(format!("{shown} is empty")));
    }
    // A line without its newline is final once its writer is done with it
    // (see `pidfile::Content::closed`).
    let settled = content.closed;
    let unfinished = !bytes.contains(&b'\n')
        && bytes
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b' ' || *b == b'\t');
    let pids = match pidfile::parse(bytes, pid_max, settled) {
        Ok(pids) => pids,
        Err(Problem::Invalid {
            line,
            text,
            expected,
        }) if !unfinished => {
            return Err(pidfile::Error::Invalid {
                path: path.to_owned(),
                line,
                text,
                expected,
            }
            .into())
        }
        // A line of digits without its newline may still grow: "1" may be
        // the start of "1234", so even an invalid one is waited on.
        Err(_) => {
            let text = String::from_utf8_lossy(bytes);
            let status = format!("{shown} holds {text:?} with no newline yet");
            return Ok(if settled {
                Look::Waiting(status)
            } else {
                Look::Held(status)
            });
        }
    };
    let identity = identity.clone().written_at(Some(written));
    for &pid in &pids {
        let why = match process::state(pid)? {
            State::Gone => "which is not running".to_owned(),
            State::Zombie => "which has exited (zombie)".to_owned(),
            State::Running => match identity.check(pid)? {
                Match::Yes => continue,
                Match::Gone => "which has exited".to_owned(),
                Match::No(why) | Match::Stale(why) => format!("but {why}"),
            },
        };
        return Ok(Look::Waiting(format!("{shown} names pid {pid}, {why}")));
    }
    Ok(Look::Ready(pids))
}
