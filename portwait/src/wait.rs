//! The waiting loop: look, and if not everything is ready, wait for a
//! kernel event that says a listener on a wanted port started or ended
//! (see `events`), or, where events cannot be had, sleep a little longer
//! each time (1 ms doubling to 8 ms), until the deadline.
//!
//! With events, a look follows each event at once (at most one a
//! millisecond), then after 1, 2, 4 ... ms (the event comes before the
//! kernel's table holds the new listener, or has dropped the closed one),
//! backing off to [`SAFETY_LOOK`]: looking only every 100 ms while
//! nothing happens costs a tenth of polling's wake-ups, and bounds how
//! late a missed event (a CPU brought online later) can make us. The table
//! is walked at every look then (see below), so a bare PORT on any address
//! is as quick as on loopback. Events are set up only once the first look
//! found the targets not ready (nothing to pay when they are), and looked
//! after once more at once (a listener may have come in between).
//!
//! Polling: while
//! nothing listens, a look is the kernel's lookup of one address (or, for a
//! bare PORT, of 127.0.0.1 and `::1` in one request), so the wakeups
//! themselves are most of the cost: 8 ms between looks keeps the median
//! detection delay near 4 ms at about 1% of a core. A bare PORT's
//! listener on any other address is found by a dump of the listener
//! table, which walks every bucket of the kernel's listener hash (16384
//! here) whatever it is filtered by: it is made at every look at first,
//! then every 50 ms (see `WALK_EVERY`; measured: a walk costs about a
//! fifth of a look and its wakeup, and walking every 50 ms or every
//! 100 ms made no difference the CPU share could show). The sleep is a
//! poll on the owner's pidfd, so its death wakes us at once.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::diag::{Diag, Listener};
use crate::events::Events;
use crate::owner::{self, sleep_or_exit, Owner};
use crate::target::{self, NotResolved, Place, Target};

pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(1);
pub(crate) const MAX_PAUSE: Duration = Duration::from_millis(8);
/// Without an owner, a bare PORT's listener table is walked at the first
/// looks, then with a pause doubling from [`FIRST_PAUSE`] to this: a
/// listener bound to an address other than loopback or a wildcard (which
/// the lookups of 127.0.0.1 and `::1` every look find) is seen within it.
pub(crate) const WALK_EVERY: Duration = Duration::from_millis(50);
/// Remote hosts get a connection attempt at most this often...
const REMOTE_EVERY: Duration = Duration::from_millis(50);
/// ...each given at most this long to connect...
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// ...and at least this long, even past the deadline, so that the one look
/// of `--timeout 0` (or the last one) really tries.
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_millis(100);
/// A name that does not resolve yet is looked up again after 10 ms,
/// doubling to 250 ms: a lookup may send DNS queries, so not every few ms.
const FIRST_LOOKUP_PAUSE: Duration = Duration::from_millis(10);
const MAX_LOOKUP_PAUSE: Duration = Duration::from_millis(250);
/// A lookup gets what is left of the timeout, and at least this, so that
/// the one look of `--timeout 0` (or the last one) really asks.
const MIN_LOOKUP: Duration = Duration::from_millis(100);
/// With kernel events, looks back off to this while no event comes: a
/// missed event delays us by at most this (the `lsof` loop portwait
/// replaces slept 100 ms too), for 10 wake-ups a second, about 0.1% of a
/// core here.
pub(crate) const SAFETY_LOOK: Duration = Duration::from_millis(100);
/// With kernel events, at most one look this often, however many come;
/// while they keep coming (a storm: a loop opening and closing listeners
/// on the port, in another network namespace or on another address), the
/// gap doubles up to polling's [`MAX_PAUSE`], so that a storm costs no
/// more than polling (measured, 3 s in a storm of ~40000 listeners a
/// second: 2738 looks and 2.7-2.9% of a core at a steady 1 ms, 374 looks
/// and 0.7-0.9% with this, polling 372 looks and 0.7%).
const MIN_GAP: Duration = Duration::from_millis(1);

/// What to wait for.
pub struct Watch {
    pub targets: Vec<(Target, Vec<Place>)>,
    /// Only listeners of this process and its descendants count, and its
    /// death ends the wait.
    pub owner: Option<Owner>,
    /// Wait until nothing listens instead.
    pub closed: bool,
    /// Local listeners must also complete a TCP handshake.
    pub connect: bool,
    /// Say on stderr how the wait is made (kernel events or polling, and
    /// why) and how many looks it took.
    pub verbose: bool,
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ready,
    /// The deadline passed; these targets were never ready.
    TimedOut(Vec<Target>),
    /// The owner died; these targets were never ready.
    OwnerDied(Vec<Target>),
    /// The deadline passed; these targets' host names never resolved.
    Unresolved(Vec<NotResolved>),
}

/// How resolving the targets ended.
#[derive(Debug)]
pub enum Resolved {
    /// Every target with the places it may listen at.
    Places(Vec<(Target, Vec<Place>)>),
    /// The wait is over before any listener was looked for.
    Ended(Outcome),
}

/// Resolves every target's host. A name that does not resolve (yet: a
/// container's name is known only once it starts) is looked up again with
/// a backoff until `timeout`; an error that no later lookup can mend
/// (a link-local address without its interface) is returned at once. The
/// owner's death ends the wait as it does the listener wait; with
/// `closed` it is success.
pub fn resolve(
    targets: &[Target],
    owner: Option<&Owner>,
    closed: bool,
    timeout: Duration,
) -> Result<Resolved> {
    let deadline = Instant::now()
        .checked_add(timeout)
        .context("the timeout is too long for this system's clock")?;
    let died = || {
        Resolved::Ended(if closed {
            Outcome::Ready
        } else {
            Outcome::OwnerDied(targets.to_vec())
        })
    };
    let mut found: Vec<Option<Vec<Place>>> = vec![None; targets.len()];
    let mut pause = FIRST_LOOKUP_PAUSE;
    loop {
        let mut unresolved = Vec::new();
        for (target, places) in targets.iter().zip(&mut found) {
            if places.is_some() {
                continue;
            }
            let limit = deadline
                .saturating_duration_since(Instant::now())
                .max(MIN_LOOKUP);
            match target::resolve(target, limit) {
                Ok(found) => *places = Some(found),
                Err(e) => match e.downcast::<NotResolved>() {
                    Ok(not) => unresolved.push(not),
                    Err(e) => return Err(e),
                },
            }
        }
        if unresolved.is_empty() {
            let places = found.into_iter().flatten();
            return Ok(Resolved::Places(
                targets.iter().cloned().zip(places).collect(),
            ));
        }
        // Without a pidfd to wake the sleep, `/proc` says.
        if let Some(owner) = owner.filter(|o| o.pidfd().is_none()) {
            if owner.exited()? {
                return Ok(died());
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Resolved::Ended(Outcome::Unresolved(unresolved)));
        }
        if sleep_or_exit(owner.and_then(Owner::pidfd), pause.min(deadline - now))? {
            return Ok(died());
        }
        pause = (pause * 2).min(MAX_LOOKUP_PAUSE);
    }
}

/// Waits until every target is (or, with `closed`, is no longer) listening,
/// each needing to be seen so once, or until `timeout` passes or the
/// owner dies.
pub fn wait(watch: &Watch, timeout: Duration) -> Result<Outcome> {
    let mut count = Count::default();
    let outcome = wait_counted(watch, timeout, &mut count);
    if watch.verbose {
        say(format_args!(
            "{} look{}, {} woken by a kernel event",
            count.looks,
            if count.looks == 1 { "" } else { "s" },
            count.woken
        ));
    }
    outcome
}

/// How many looks a wait made, and after how many kernel events.
#[derive(Default)]
struct Count {
    looks: u64,
    woken: u64,
}

fn say(message: impl std::fmt::Display) {
    cliutil::warn("portwait", message);
}

/// Why kernel events will not do for `watch`, if they will not.
fn no_events(watch: &Watch, has_pidfd: bool) -> Option<&'static str> {
    let remote = watch
        .targets
        .iter()
        .flat_map(|(_, places)| places)
        .any(|p| matches!(p, Place::Remote(_)));
    if remote {
        Some("a target on another host is probed by connecting")
    } else if watch.connect {
        Some("--connect probes by connecting")
    } else if watch.owner.is_some() && !has_pidfd {
        Some("no pidfd for the --pid process: its death is noticed by looking")
    } else {
        None
    }
}

fn wait_counted(watch: &Watch, timeout: Duration, count: &mut Count) -> Result<Outcome> {
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
    // What a bare PORT looks up every look: the loopback addresses, which
    // reach listeners on them and on the wildcards. `::1` only where IPv6 is.
    let loopback = loopback_addresses();
    let mut walk = Walk::new(start);
    let mut pidfd = watch.owner.as_ref().and_then(Owner::pidfd);
    let mut pending: Vec<usize> = (0..watch.targets.len()).collect();
    let mut pace = Pace::new();
    let mut next_remote = start;
    let mut owner_exited = false;
    let mut foreign = HashSet::new();
    loop {
        let now = Instant::now();
        let last_look = now;
        count.looks += 1;
        let probe_remote = now >= next_remote;
        if probe_remote {
            next_remote = now + REMOTE_EVERY;
        }
        let ports = pending.iter().map(|i| watch.targets[*i].0.port).collect();
        // With events, looks are few: walk at each.
        let walk_now = pace.on_events() || walk.due(now);
        let mut look = Look {
            diag: diag.as_mut(),
            ports,
            dumped: None,
            owner: watch.owner.as_ref().map(|o| o.pid),
            owned: None,
            foreign: &mut foreign,
            loopback: &loopback,
            // --closed needs the walk whenever the lookups find nothing
            // (only the walk tells that nothing listens anywhere).
            walk: Walking::of(walk_now, watch.closed),
            probe_remote,
            connect: watch.connect,
            connect_timeout: deadline
                .saturating_duration_since(now)
                .clamp(MIN_CONNECT_TIMEOUT, CONNECT_TIMEOUT),
        };
        let mut still = Vec::with_capacity(pending.len());
        for &i in &pending {
            let (target, places) = &watch.targets[i];
            let mut done = watch.closed;
            for place in places {
                let seen = look.listening(target.port, *place)?;
                if watch.closed {
                    done &= seen == Some(false);
                } else if seen == Some(true) {
                    done = true;
                    break;
                }
            }
            if !done {
                still.push(i);
            }
        }
        pending = still;
        let unready = || {
            pending
                .iter()
                .map(|i| watch.targets[*i].0.clone())
                .collect()
        };
        if let Some(owner) = &watch.owner {
            // The look read the owner's sockets through /proc by pid; they
            // were its own only if it still lives now (a pid is reused only
            // once its process is gone). Otherwise a newcomer that got the
            // pid and listens would be taken for the owner.
            if pending.is_empty() && !watch.closed && (owner_exited || owner.exited()?) {
                return Ok(Outcome::OwnerDied(
                    watch.targets.iter().map(|(t, _)| t.clone()).collect(),
                ));
            }
        }
        if pending.is_empty() {
            return Ok(Outcome::Ready);
        }
        if let Some(owner) = &watch.owner {
            let dead = owner_exited || (pidfd.is_none() && owner.exited()?);
            if dead && !watch.closed {
                return Ok(Outcome::OwnerDied(unready()));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Outcome::TimedOut(unready()));
        }
        if !pace.tried {
            let ports: Vec<u16> = pending.iter().map(|i| watch.targets[*i].0.port).collect();
            if pace.arm(watch, &ports, pidfd.is_some()) {
                // A listener may have come or gone before the events were
                // on.
                continue;
            }
        }
        if pace.sleep(pidfd, deadline - now, last_look, watch.verbose, count)? {
            // A pidfd stays readable once its process exits: keep polling
            // it and every later sleep would return at once (a busy loop).
            owner_exited = true;
            pidfd = None;
        }
    }
}

/// How the loop waits between looks: on kernel events, or polling.
struct Pace {
    events: Option<Events>,
    /// The next sleep (unless an event ends it).
    pause: Duration,
    /// Whether setting up events was tried (once, after the first look).
    tried: bool,
    /// The least time between a look and the next one an event calls for.
    gap: Duration,
}

impl Pace {
    fn new() -> Self {
        Pace {
            events: None,
            pause: FIRST_PAUSE,
            tried: false,
            gap: MIN_GAP,
        }
    }

    /// An event came: the gap to keep since the last look, doubling for
    /// each event that comes before a sleep ends without one.
    fn storm_gap(&mut self) -> Duration {
        let gap = self.gap;
        self.gap = (self.gap * 2).min(MAX_PAUSE);
        gap
    }

    /// Sets up kernel events for `ports`, unless they will not do for
    /// `watch`; whether they are on.
    fn arm(&mut self, watch: &Watch, ports: &[u16], has_pidfd: bool) -> bool {
        self.tried = true;
        let opened = no_events(watch, has_pidfd).map_or_else(
            || Events::open(ports).map_err(|e| format!("{e:#}")),
            |why| Err(why.to_owned()),
        );
        match opened {
            Ok(events) => {
                if watch.verbose {
                    say(format_args!(
                        "waiting on kernel events (tracepoint sock:inet_sock_set_state on {} CPUs), looking at least every {} ms",
                        events.cpus(),
                        SAFETY_LOOK.as_millis()
                    ));
                }
                self.events = Some(events);
                self.pause = SAFETY_LOOK;
                true
            }
            Err(why) => {
                if watch.verbose {
                    say(format_args!(
                        "polling every {}-{} ms, without kernel events: {why}",
                        FIRST_PAUSE.as_millis(),
                        MAX_PAUSE.as_millis()
                    ));
                }
                false
            }
        }
    }

    /// Sleeps until the next look is due (at most `left`): with events,
    /// until one comes (but not within [`MIN_GAP`] of `last_look`) or the
    /// pause ends. True if `pidfd` said its process exited.
    fn sleep(
        &mut self,
        pidfd: Option<&OwnedFd>,
        left: Duration,
        last_look: Instant,
        verbose: bool,
        count: &mut Count,
    ) -> Result<bool> {
        let sleep = self.pause.min(left);
        let Some(events) = &self.events else {
            self.pause = (self.pause * 2).min(MAX_PAUSE);
            return sleep_or_exit(pidfd, sleep);
        };
        match events.sleep(pidfd, sleep) {
            Ok(woke) if woke.event => {
                count.woken += 1;
                self.pause = FIRST_PAUSE;
                let wait = self.storm_gap().saturating_sub(last_look.elapsed());
                if woke.owner || wait.is_zero() {
                    return Ok(woke.owner);
                }
                sleep_or_exit(pidfd, wait)
            }
            Ok(woke) => {
                self.gap = MIN_GAP;
                self.pause = (self.pause * 2).clamp(FIRST_PAUSE, SAFETY_LOOK);
                Ok(woke.owner)
            }
            Err(e) => {
                if verbose {
                    say(format_args!(
                        "kernel events failed, polling from now on: {e:#}"
                    ));
                }
                self.events = None;
                self.pause = FIRST_PAUSE;
                Ok(false)
            }
        }
    }

    fn on_events(&self) -> bool {
        self.events.is_some()
    }
}

/// One round's view of the world.
struct Look<'a> {
    diag: Option<&'a mut Diag>,
    /// The ports still waited for: the kernel filters the dump by them.
    ports: Vec<u16>,
    /// The listeners on those ports, dumped once a round when first needed.
    dumped: Option<Vec<Listener>>,
    owner: Option<i32>,
    /// The owner tree's socket inodes, read once a round when first needed.
    owned: Option<HashSet<u32>>,
    /// Listener inodes seen not to be the owner's, kept across rounds so a
    /// stale server costs one `/proc` scan, not one a round.
    foreign: &'a mut HashSet<u32>,
    /// Looked up for a bare PORT every round: 127.0.0.1 (and `::1`).
    loopback: &'a [IpAddr],
    /// Which targets that the lookups did not find are looked for in the
    /// listener table this round.
    walk: Walking,
    probe_remote: bool,
    /// A local listener must also complete a TCP handshake.
    connect: bool,
    connect_timeout: Duration,
}

impl Look<'_> {
    /// Whether something listens on `port` at `place`; None: not looked at
    /// this round.
    fn listening(&mut self, port: u16, place: Place) -> Result<Option<bool>> {
        let mut candidates = match place {
            Place::Remote(addr) => return Ok(self.probe_remote.then(|| self.connect(addr))),
            // Without an owner to tell listeners apart, the kernel's lookup
            // of the one that would take a connection is enough, and cheap.
            // Not for a link-local address: its listener is bound to an
            // interface, which the lookup would have to name.
            Place::Local(ip, _)
                if self.owner.is_none() && self.can_look_up() && !target::link_local(ip) =>
            {
                let diag = self.diag.as_mut().context("no netlink socket")?;
                match diag.serving(ip, port) {
                    Ok(Some(found)) => vec![found],
                    // The lookup, made for a connection from this host,
                    // misses a listener bound to another interface
                    // (`SO_BINDTODEVICE`), which other hosts may reach:
                    // --closed lists before it says nothing listens.
                    Ok(None) if self.walk != Walking::Every => Vec::new(),
                    // Or it gave up on lookups: dumps from now on.
                    Ok(None) | Err(_) => self.dumped(port, Some((ip, 0)))?,
                }
            }
            Place::Local(ip, scope) => self.dumped(port, Some((ip, scope)))?,
            // Without an owner, the listeners that serve loopback (on it or
            // on a wildcard) are found by lookups, and any other by the
            // walk, made when due.
            Place::AnyLocal if self.owner.is_none() && self.can_look_up() => {
                let diag = self.diag.as_mut().context("no netlink socket")?;
                match diag.serving_any(self.loopback, port) {
                    Ok(found) if !found.is_empty() || self.walk == Walking::No => found,
                    Ok(_) | Err(_) => self.dumped(port, None)?,
                }
            }
            Place::AnyLocal => self.dumped(port, None)?,
        };
        if let Some(pid) = self.owner {
            candidates.retain(|l| !self.foreign.contains(&l.inode));
            if !candidates.is_empty() {
                let owned = self
                    .owned
                    .get_or_insert_with(|| owner::socket_inodes(&owner::tree(pid)));
                let (mine, theirs): (Vec<Listener>, Vec<Listener>) = candidates
                    .into_iter()
                    .partition(|l| owned.contains(&l.inode));
                self.foreign.extend(theirs.iter().map(|l| l.inode));
                candidates = mine;
            }
        }
        if candidates.is_empty() || !self.connect {
            return Ok(Some(!candidates.is_empty()));
        }
        // --connect: a listener that drops or refuses connections (a
        // firewall rule, a full backlog) is not ready.
        if !self.probe_remote {
            return Ok(None);
        }
        Ok(Some(candidates.iter().any(|l| {
            let addr = match place {
                // A link-local address is reached through its interface.
                Place::Local(IpAddr::V6(ip), scope) if scope != 0 => {
                    SocketAddrV6::new(ip, port, 0, scope).into()
                }
                Place::Local(ip, _) => SocketAddr::new(ip, port),
                _ => SocketAddr::new(reachable(l.addr), port),
            };
            self.connect(addr)
        })))
    }

    fn can_look_up(&self) -> bool {
        self.diag.as_ref().is_some_and(|d| d.can_look_up())
    }

    /// The listeners on `port` (if given, serving `ip`, link-local on
    /// interface `scope`), from this round's dump of the ports waited for,
    /// made when first needed. For a wait to listen, only those that take
    /// connections from this host (not one bound to another interface than
    /// theirs arrive on); for --closed, any: the port is not free.
    fn dumped(&mut self, port: u16, place: Option<(IpAddr, u32)>) -> Result<Vec<Listener>> {
        let diag = self.diag.as_mut().context("no netlink socket")?;
        if self.dumped.is_none() {
            self.dumped = Some(diag.listeners(&self.ports)?);
        }
        let closed = self.walk == Walking::Every;
        let place = place.map(|(ip, scope)| {
            let via = if target::link_local(ip) {
                scope
            } else {
                diag.arrival(ip)
            };
            (ip, via)
        });
        Ok(self
            .dumped
            .iter()
            .flatten()
            .filter(|l| {
                l.port == port
                    && place.is_none_or(|(ip, via)| serves(l, ip) && (closed || l.takes_from(via)))
            })
            .copied()
            .collect())
    }

    /// A completed TCP handshake, closed at once: no bytes are sent.
    fn connect(&self, addr: SocketAddr) -> bool {
        TcpStream::connect_timeout(&addr, self.connect_timeout).is_ok()
    }
}

/// Which targets that the lookups do not find are looked for in the
/// listener table in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walking {
    No,
    /// A bare PORT (its walk is due).
    BarePort,
    /// Every target (--closed).
    Every,
}

impl Walking {
    fn of(due: bool, closed: bool) -> Self {
        match (due, closed) {
            (_, true) => Walking::Every,
            (true, false) => Walking::BarePort,
            (false, false) => Walking::No,
        }
    }
}

/// When a bare PORT's listener table is walked: at every look while the
/// pause between walks is shorter than a look's, later every
/// [`WALK_EVERY`].
struct Walk {
    next: Instant,
    pause: Duration,
}

impl Walk {
    fn new(start: Instant) -> Self {
        Walk {
            next: start,
            pause: FIRST_PAUSE,
        }
    }

    /// Whether a walk is due at `now`; if so, the next is planned.
    fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.pause;
        self.pause = (self.pause * 2).min(WALK_EVERY);
        true
    }
}

/// 127.0.0.1, and `::1` if this host has IPv6 (else the kernel refuses the
/// lookup).
fn loopback_addresses() -> Vec<IpAddr> {
    let ipv6 = rustix::net::socket(
        rustix::net::AddressFamily::INET6,
        rustix::net::SocketType::STREAM,
        None,
    )
    .is_ok();
    let mut found = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    if ipv6 {
        found.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
    found
}

/// The address to connect to for a listener: its own, or loopback for a
/// wildcard.
fn reachable(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
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
            bound_if: 0,
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

    /// `server`'s port at `place` is ready at the first look, a `--closed`
    /// wait times out while it listens, and is ready once it is gone.
    fn ready_then_closed(server: std::net::TcpListener, place: Place) {
        let port = server.local_addr().unwrap().port();
        let target = Target { host: None, port };
        let watch = |closed| Watch {
            targets: vec![(target.clone(), vec![place])],
            owner: None,
            closed,
            connect: false,
            verbose: false,
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
    fn a_present_listener_is_ready_at_once_and_a_missing_one_times_out() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        ready_then_closed(server, Place::Local(ip("127.0.0.1"), 0));
    }

    #[test]
    fn the_listener_table_is_walked_at_every_look_at_first_then_every_50_ms() {
        let start = Instant::now();
        let mut walk = Walk::new(start);
        // Looks every millisecond for a second: walks at 0, 1, 3, 7, 15,
        // 31, 63 ms (the pause doubling), then every WALK_EVERY.
        let walked: Vec<u64> = (0..1000u64)
            .filter(|ms| walk.due(start + Duration::from_millis(*ms)))
            .collect();
        assert_eq!(walked[..9], [0, 1, 3, 7, 15, 31, 63, 113, 163]);
        assert!(
            walked.windows(2).skip(6).all(|w| w[1] - w[0] == 50),
            "{walked:?}"
        );
    }

    #[test]
    fn in_an_event_storm_looks_slow_down_to_pollings_pace() {
        let mut pace = Pace::new();
        let gaps: Vec<u128> = (0..5).map(|_| pace.storm_gap().as_millis()).collect();
        assert_eq!(gaps, [1, 2, 4, 8, 8]);
    }

    /// One look at a bare PORT, without an owner, walking the listener
    /// table or not: what it saw, and whether it walked the table.
    fn look_at_port(port: u16, walk: bool, closed: bool) -> (Option<bool>, bool) {
        let mut diag = Diag::open().unwrap();
        let mut foreign = HashSet::new();
        let loopback = loopback_addresses();
        let mut look = Look {
            diag: Some(&mut diag),
            ports: vec![port],
            dumped: None,
            owner: None,
            owned: None,
            foreign: &mut foreign,
            loopback: &loopback,
            walk: Walking::of(walk, closed),
            probe_remote: true,
            connect: false,
            connect_timeout: CONNECT_TIMEOUT,
        };
        let seen = look.listening(port, Place::AnyLocal).unwrap();
        (seen, look.dumped.is_some())
    }

    #[test]
    fn a_bare_port_is_looked_up_on_loopback_every_look_and_walked_for_when_due() {
        // Loopback and the wildcards: the lookups, walk or not.
        let mut servers = vec![
            std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            std::net::TcpListener::bind("0.0.0.0:0").unwrap(),
        ];
        for addr in ["[::1]:0", "[::]:0"] {
            match std::net::TcpListener::bind(addr) {
                Ok(server) => servers.push(server),
                Err(_) => crate::diag::tests::skip(&format!("cannot listen on {addr} here")),
            }
        }
        for server in &servers {
            let port = server.local_addr().unwrap().port();
            for (walk, closed) in [(false, false), (true, false), (false, true)] {
                let look = look_at_port(port, walk, closed);
                assert_eq!(look, (Some(true), false), "{server:?}");
            }
        }
        // Any other address: the walk, when due. With --closed, whenever
        // the lookups find nothing.
        let other = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        let port = other.local_addr().unwrap().port();
        assert_eq!(look_at_port(port, false, false), (Some(false), false));
        assert_eq!(look_at_port(port, true, false), (Some(true), true));
        assert_eq!(look_at_port(port, false, true), (Some(true), true));
        drop(other);
        assert_eq!(look_at_port(port, false, true), (Some(false), true));
    }

    #[test]
    fn a_bare_port_on_another_address_is_seen_by_the_first_look() {
        let other = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        ready_then_closed(other, Place::AnyLocal);
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
            connect: false,
            verbose: false,
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
