//! Trying every URL until it answers as wanted, each in its own thread so a
//! slow one does not delay noticing the others.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use portwait::diag::Diag;

use crate::probe::{Failure, Probe};

/// Pauses after a refused connection: nobody listens yet, and looking
/// whether someone does now costs microseconds (one question to the
/// kernel for a local address, a bare connect for another), so look often.
const REFUSED_FIRST: Duration = Duration::from_millis(1);
const REFUSED_MAX: Duration = Duration::from_millis(5);
/// While refused, a whole request (which looks the name up again) still
/// goes this often: should a look ever miss a listener, the request finds it.
const FULL_EVERY: Duration = Duration::from_secs(1);
/// How often the looks in between look the name up again: a lookup reads
/// /etc/hosts, nsswitch.conf and gai.conf, or asks a name server, on a
/// thread of its own; that would cost more than the looks (and a whole
/// refused request several looks' worth).
const LOOKUP_EVERY: Duration = Duration::from_secs(1);
/// The first pause after any other failure (doubling up to `--interval`).
const OTHER_FIRST: Duration = Duration::from_millis(10);
/// What a try gets at least, so that --timeout 0 still looks once.
const MIN_TRY: Duration = Duration::from_millis(100);

pub struct Plan {
    pub probe: Probe,
    /// The whole wait ends then.
    pub deadline: Instant,
    pub try_timeout: Duration,
    pub interval: Duration,
    pub once: bool,
    pub verbose: bool,
}

/// How long a try that starts now may take: --try-timeout, but not past
/// the deadline, and at least [`MIN_TRY`].
pub fn try_limit(deadline: Instant, try_timeout: Duration) -> Duration {
    try_timeout.min(
        deadline
            .saturating_duration_since(Instant::now())
            .max(MIN_TRY),
    )
}

/// Waits for every URL; returns the ones never ready with their last
/// failure, in the order given.
pub fn wait(plan: Plan, urls: &[String]) -> Vec<(String, Failure)> {
    let plan = Arc::new(plan);
    let threads: Vec<_> = urls
        .iter()
        .map(|url| {
            let (plan, url) = (plan.clone(), url.clone());
            thread::spawn(move || one(&plan, &url).map(|f| (url, f)))
        })
        .collect();
    threads
        .into_iter()
        .filter_map(|t| t.join().expect("a probe thread panicked"))
        .collect()
}

/// Tries `url` until it is ready (`None`) or the time is up (its last failure).
fn one(plan: &Plan, url: &str) -> Option<Failure> {
    let mut listeners = Listeners::new(url);
    let mut refused_pause = REFUSED_FIRST;
    let mut other_pause = OTHER_FIRST.min(plan.interval);
    let mut last: Option<Failure> = None;
    let mut next_full = Instant::now();
    loop {
        let timeout = try_limit(plan.deadline, plan.try_timeout);
        // While refused, a cheap look tells whether anyone listens yet; the
        // whole request goes as soon as someone does.
        let failure = match last.clone().filter(Failure::refused) {
            Some(refused)
                if Instant::now() < next_full
                    && listeners.as_mut().is_some_and(|l| l.none(timeout)) =>
            {
                refused
            }
            _ => {
                next_full = Instant::now() + FULL_EVERY;
                match plan.probe.try_once(url, timeout) {
                    Ok(()) => return None,
                    Err(failure) => failure,
                }
            }
        };
        if plan.verbose && last.as_ref() != Some(&failure) {
            cliutil::warn("httpwait", format_args!("{url}: {failure}"));
        }
        let pause = if failure.refused() {
            let p = refused_pause;
            refused_pause = (refused_pause * 2).min(REFUSED_MAX.min(plan.interval));
            p
        } else {
            let p = other_pause;
            other_pause = (other_pause * 2).min(plan.interval);
            p
        };
        last = Some(failure);
        let left = plan.deadline.saturating_duration_since(Instant::now());
        if plan.once || left.is_zero() {
            return last;
        }
        thread::sleep(pause.min(left));
    }
}

/// Whether anyone listens at a URL's addresses, looked at without a request.
struct Listeners {
    /// `host:port`, an IPv6 address in brackets.
    netloc: String,
    /// Its addresses, each with whether to ask the kernel about it (one of
    /// this host's own, not link-local: the kernel's lookup of one listener
    /// has no interface to go with it).
    /// And when they were looked up.
    addrs: Option<(Vec<(SocketAddr, bool)>, Instant)>,
    /// The kernel's socket table (portwait's).
    kernel: Kernel,
}

impl Listeners {
    fn new(url: &str) -> Option<Listeners> {
        let parsed = ureq::get(url).request_url().ok()?;
        let port = parsed
            .port()
            .unwrap_or(if parsed.scheme() == "https" { 443 } else { 80 });
        Some(Listeners {
            netloc: format!("{}:{port}", parsed.host()),
            addrs: None,
            kernel: Kernel::Unopened,
        })
    }

    /// True if nobody listens at any address of the URL. A local address is
    /// asked of the kernel (the listener a connection would reach, as
    /// portwait does: nothing is sent, no socket made); another gets a bare
    /// TCP connect, closed at once without a byte sent. Anything but
    /// "nobody" (a listener, a lookup error, a timeout) is left for the whole
    /// request to find and name.
    fn none(&mut self, timeout: Duration) -> bool {
        let stale = self
            .addrs
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() >= LOOKUP_EVERY);
        if stale {
            let Ok(found) = db_reset::http::lookup(&self.netloc, timeout) else {
                return false;
            };
            let addrs = found
                .into_iter()
                .map(|a| {
                    let ask =
                        portwait::target::is_local(a) && !portwait::target::link_local(a.ip());
                    (a, ask)
                })
                .collect();
            self.addrs = Some((addrs, Instant::now()));
        }
        let Some((addrs, _)) = &self.addrs else {
            return false;
        };
        if addrs.is_empty() {
            return false;
        }
        for &(addr, local) in addrs {
            if local {
                match self.kernel.serving(addr.ip(), addr.port()) {
                    Some(false) => continue,
                    Some(true) => return false,
                    None => {}
                }
            }
            match TcpStream::connect_timeout(&addr, timeout) {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                _ => return false,
            }
        }
        true
    }
}

/// The kernel's socket table, opened on first need.
enum Kernel {
    Unopened,
    Open(Diag),
    /// It cannot answer here: local addresses are connected to instead.
    Unavailable,
}

impl Kernel {
    /// Whether a local listener would take a connection to `ip`:`port`;
    /// None if the kernel cannot tell.
    fn serving(&mut self, ip: IpAddr, port: u16) -> Option<bool> {
        if matches!(self, Kernel::Unopened) {
            *self = Diag::open().map_or(Kernel::Unavailable, Kernel::Open);
        }
        let Kernel::Open(diag) = self else {
            return None;
        };
        let found = diag.serving(ip, port).ok().map(|l| l.is_some());
        if !diag.can_look_up() {
            *self = Kernel::Unavailable;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netloc(url: &str) -> Option<String> {
        Listeners::new(url).map(|l| l.netloc)
    }

    #[test]
    fn netlocs() {
        assert_eq!(netloc("http://h/x").as_deref(), Some("h:80"));
        assert_eq!(netloc("https://h/").as_deref(), Some("h:443"));
        assert_eq!(netloc("https://[::1]:8443/").as_deref(), Some("[::1]:8443"));
        assert_eq!(netloc("not a url"), None);
    }

    #[test]
    fn refusal_is_seen() {
        use rustix::net::{bind, getsockname, listen, socket, AddressFamily, SocketType};
        // A port bound but not listening refuses; once it listens, it does
        // not: asked of the kernel, and by a bare connect.
        let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        bind(
            &fd,
            &std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0),
        )
        .unwrap();
        let addr = std::net::SocketAddrV4::try_from(getsockname(&fd).unwrap()).unwrap();
        let url = format!("http://{addr}/");
        let second = Duration::from_secs(1);
        let mut kernel = Listeners::new(&url).unwrap();
        let mut connect = Listeners::new(&url).unwrap();
        connect.kernel = Kernel::Unavailable;
        assert!(kernel.none(second) && connect.none(second));
        assert!(
            matches!(kernel.kernel, Kernel::Open(_)),
            "the kernel was asked"
        );
        listen(&fd, 8).unwrap();
        assert!(!kernel.none(second));
        assert!(!connect.none(second));
        // A name that does not resolve is left for the full request to name.
        let mut unknown = Listeners::new("http://nonexistent.invalid/").unwrap();
        assert!(!unknown.none(second));
    }

    #[test]
    fn tries_end_by_the_deadline() {
        let now = Instant::now();
        let second = Duration::from_secs(1);
        assert_eq!(try_limit(now + 10 * second, second), second);
        assert!(try_limit(now + 2 * MIN_TRY, second) <= 2 * MIN_TRY);
        assert_eq!(try_limit(now, second), MIN_TRY);
    }
}
