//! The waiting loop: look, and if not everything is ready, sleep a little
//! longer each time (1 ms doubling to 5 ms) until the deadline. A listener
//! query costs some tens of microseconds, so this notices a new listener
//! within a few milliseconds at well under 2% of a core. The sleep is a
//! poll on the owner's pidfd, so its death wakes us at once.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags};

use crate::diag::{Diag, Listener};
use crate::owner;
use crate::target::{Place, Target};

pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(1);
pub(crate) const MAX_PAUSE: Duration = Duration::from_millis(5);
/// Remote hosts get a connection attempt at most this often...
const REMOTE_EVERY: Duration = Duration::from_millis(50);
/// ...each given at most this long to connect...
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// ...and at least this long, even past the deadline, so that the one look
/// of `--timeout 0` (or the last one) really tries.
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_millis(100);

/// What to wait for.
pub struct Watch {
    pub targets: Vec<(Target, Vec<Place>)>,
    /// Only listeners of this process and its descendants count, and its
    /// death ends the wait.
    pub owner: Option<i32>,
    /// Wait until nothing listens instead.
    pub closed: bool,
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ready,
    /// The deadline passed; these targets were never ready.
    TimedOut(Vec<Target>),
    /// The owner died; these targets were never ready.
    OwnerDied(Vec<Target>),
}

/// Waits until every target is (or, with `closed`, is no longer) listening,
/// each needing to be seen so once, or until `timeout` passes or the
/// owner dies.
pub fn wait(watch: &Watch, timeout: Duration) -> Result<Outcome> {
    let start = Instant::now();
    let deadline = start
        .checked_add(timeout)
        .context("the timeout is too long for this system's clock")?;
    let has_local = watch
        .targets
        .iter()
        .flat_map(|(_, places)| places)
        .any(|p| !matches!(p, Place::Remote(_)));
    let mut diag = if has_local { Some(Diag::open()?) } else { None };
    let mut pidfd = watch.owner.and_then(open_pidfd);
    let mut pending: Vec<usize> = (0..watch.targets.len()).collect();
    let mut pause = FIRST_PAUSE;
    let mut next_remote = start;
    let mut owner_exited = false;
    let mut foreign = HashSet::new();
    loop {
        let now = Instant::now();
        let probe_remote = now >= next_remote;
        if probe_remote {
            next_remote = now + REMOTE_EVERY;
        }
        let listeners = match &mut diag {
            Some(diag) => diag.listeners()?,
            None => Vec::new(),
        };
        let mut look = Look {
            listeners: &listeners,
            owner: watch.owner,
            owned: None,
            foreign: &mut foreign,
            probe_remote,
            connect_timeout: deadline
                .saturating_duration_since(now)
                .clamp(MIN_CONNECT_TIMEOUT, CONNECT_TIMEOUT),
        };
        pending.retain(|i| {
            let (target, places) = &watch.targets[*i];
            let seen: Vec<Option<bool>> = places
                .iter()
                .map(|p| look.listening(target.port, *p))
                .collect();
            let done = if watch.closed {
                seen.iter().all(|s| *s == Some(false))
            } else {
                seen.contains(&Some(true))
            };
            !done
        });
        let unready = || {
            pending
                .iter()
                .map(|i| watch.targets[*i].0.clone())
                .collect()
        };
        if pending.is_empty() {
            return Ok(Outcome::Ready);
        }
        if let Some(pid) = watch.owner {
            let dead = owner_exited || (pidfd.is_none() && !owner::alive(pid));
            if dead && !watch.closed {
                return Ok(Outcome::OwnerDied(unready()));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Outcome::TimedOut(unready()));
        }
        let sleep = pause.min(deadline - now);
        if sleep_or_exit(pidfd.as_ref(), sleep)? {
            // A pidfd stays readable once its process exits: keep polling
            // it and every later sleep would return at once (a busy loop).
            owner_exited = true;
            pidfd = None;
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

fn open_pidfd(pid: i32) -> Option<OwnedFd> {
    rustix::process::pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()
}

/// Sleeps for `time`, or less if the pidfd says its process exited (true).
fn sleep_or_exit(pidfd: Option<&OwnedFd>, time: Duration) -> Result<bool> {
    let timeout = Timespec::try_from(time)?;
    let mut fds: Vec<PollFd> = pidfd
        .into_iter()
        .map(|fd| PollFd::new(fd, PollFlags::IN))
        .collect();
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => {}
        Err(e) => return Err(std::io::Error::from(e).into()),
    }
    Ok(fds.first().is_some_and(|fd| !fd.revents().is_empty()))
}

/// One round's view of the world.
struct Look<'a> {
    listeners: &'a [Listener],
    owner: Option<i32>,
    /// The owner tree's socket inodes, read once a round when first needed.
    owned: Option<HashSet<u32>>,
    /// Listener inodes seen not to be the owner's, kept across rounds so a
    /// stale server costs one `/proc` scan, not one a round.
    foreign: &'a mut HashSet<u32>,
    probe_remote: bool,
    connect_timeout: Duration,
}

impl Look<'_> {
    /// Whether something listens on `port` at `place`; None: not looked at
    /// this round.
    fn listening(&mut self, port: u16, place: Place) -> Option<bool> {
        let mut candidates: Vec<Listener> = match place {
            Place::Remote(addr) => return self.probe_remote.then(|| self.connect(addr)),
            Place::AnyLocal => self
                .listeners
                .iter()
                .filter(|l| l.port == port)
                .copied()
                .collect(),
            Place::Local(ip) => self
                .listeners
                .iter()
                .filter(|l| l.port == port && serves(l, ip))
                .copied()
                .collect(),
        };
        let Some(pid) = self.owner else {
            return Some(!candidates.is_empty());
        };
        candidates.retain(|l| !self.foreign.contains(&l.inode));
        if candidates.is_empty() {
            return Some(false);
        }
        let owned = self
            .owned
            .get_or_insert_with(|| owner::socket_inodes(&owner::tree(pid)));
        if candidates.iter().any(|l| owned.contains(&l.inode)) {
            return Some(true);
        }
        self.foreign.extend(candidates.iter().map(|l| l.inode));
        Some(false)
    }

    fn connect(&self, addr: SocketAddr) -> bool {
        TcpStream::connect_timeout(&addr, self.connect_timeout).is_ok()
    }
}

/// Whether a connection to local address `ip` reaches `listener`: same
/// address, or a wildcard of its family. An IPv6 wildcard also takes IPv4
/// unless it is `IPV6_V6ONLY`.
pub fn serves(listener: &Listener, ip: IpAddr) -> bool {
    let addr = listener.addr.to_canonical();
    let ip = ip.to_canonical();
    addr == ip
        || match (addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(_)) => a.is_unspecified(),
            (IpAddr::V6(a), IpAddr::V6(_)) => a.is_unspecified(),
            (IpAddr::V6(a), IpAddr::V4(_)) => a.is_unspecified() && !listener.v6only,
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(addr: &str, v6only: bool) -> Listener {
        Listener {
            addr: addr.parse().unwrap(),
            port: 80,
            inode: 1,
            v6only,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn which_listeners_serve_which_addresses() {
        assert!(serves(&listener("127.0.0.1", false), ip("127.0.0.1")));
        assert!(!serves(&listener("127.0.0.1", false), ip("127.0.0.2")));
        assert!(!serves(&listener("127.0.0.1", false), ip("::1")));
        assert!(serves(&listener("0.0.0.0", false), ip("127.0.0.1")));
        assert!(!serves(&listener("0.0.0.0", false), ip("::1")));
        assert!(serves(&listener("::", false), ip("::1")));
        assert!(serves(&listener("::", false), ip("127.0.0.1")));
        assert!(!serves(&listener("::", true), ip("127.0.0.1")));
        assert!(serves(
            &listener("::ffff:127.0.0.1", false),
            ip("127.0.0.1")
        ));
        assert!(!serves(&listener("::1", false), ip("127.0.0.1")));
    }

    #[test]
    fn a_present_listener_is_ready_at_once_and_a_missing_one_times_out() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let target = Target { host: None, port };
        let watch = |closed| Watch {
            targets: vec![(target.clone(), vec![Place::Local(ip("127.0.0.1"))])],
            owner: None,
            closed,
        };
        assert_eq!(wait(&watch(false), Duration::ZERO).unwrap(), Outcome::Ready);
        assert_eq!(
            wait(&watch(true), Duration::from_millis(20)).unwrap(),
            Outcome::TimedOut(vec![target.clone()])
        );
        drop(server);
        assert_eq!(wait(&watch(true), Duration::ZERO).unwrap(), Outcome::Ready);
    }

    #[test]
    fn a_remote_place_is_probed_by_connecting() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let target = Target {
            host: Some("127.0.0.1".into()),
            port: addr.port(),
        };
        let watch = |closed| Watch {
            targets: vec![(target.clone(), vec![Place::Remote(addr)])],
            owner: None,
            closed,
        };
        assert_eq!(
            wait(&watch(false), Duration::from_secs(5)).unwrap(),
            Outcome::Ready
        );
        // `--timeout 0` looks once, and for a remote place that means one
        // real connection attempt.
        assert_eq!(wait(&watch(false), Duration::ZERO).unwrap(), Outcome::Ready);
        drop(server);
        assert_eq!(
            wait(&watch(true), Duration::from_secs(5)).unwrap(),
            Outcome::Ready
        );
        assert_eq!(
            wait(&watch(false), Duration::from_millis(20)).unwrap(),
            Outcome::TimedOut(vec![target])
        );
    }
}
