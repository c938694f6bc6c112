//! Trying every URL until it answers as wanted, each in its own thread so a
//! slow one does not delay noticing the others.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::probe::{Failure, Probe};

/// Pauses after a refused connection: nobody listens yet, and a bare TCP
/// connect to see whether someone does now costs microseconds, so look often.
const REFUSED_FIRST: Duration = Duration::from_millis(1);
const REFUSED_MAX: Duration = Duration::from_millis(5);
/// The first pause after any other failure (doubling up to `--interval`).
const OTHER_FIRST: Duration = Duration::from_millis(10);

pub struct Plan {
    pub probe: Probe,
    /// The whole wait ends then.
    pub deadline: Instant,
    pub try_timeout: Duration,
    pub interval: Duration,
    pub once: bool,
    pub verbose: bool,
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
    let authority = authority(url);
    let mut refused_pause = REFUSED_FIRST;
    let mut other_pause = OTHER_FIRST.min(plan.interval);
    let mut last: Option<Failure> = None;
    loop {
        let left = plan.deadline.saturating_duration_since(Instant::now());
        // A try gets what is left of --timeout, but at least 100 ms, so that
        // --timeout 0 still looks once.
        let timeout = plan.try_timeout.min(left.max(Duration::from_millis(100)));
        // While refused, a bare connect tells cheaply whether anyone listens
        // yet; the whole request goes as soon as someone does.
        let failure = match last.clone().filter(Failure::refused) {
            Some(refused) if authority.as_deref().is_some_and(|a| all_refuse(a, timeout)) => {
                refused
            }
            _ => match plan.probe.try_once(url, timeout) {
                Ok(()) => return None,
                Err(failure) => failure,
            },
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

/// Where `url` connects, `host:port` (an IPv6 address in brackets), to be
/// looked up again on each use.
fn authority(url: &str) -> Option<String> {
    let parsed = ureq::get(url).request_url().ok()?;
    let port = parsed
        .port()
        .unwrap_or(if parsed.scheme() == "https" { 443 } else { 80 });
    Some(format!("{}:{port}", parsed.host()))
}

/// Whether every address of `authority` (looked up now) refuses a TCP
/// connection. One that accepts is closed at once, without a byte sent;
/// anything but a refusal (a lookup error, a timeout) is left for the full
/// request to find and name.
fn all_refuse(authority: &str, timeout: Duration) -> bool {
    let Ok(addrs) = authority.to_socket_addrs() else {
        return false;
    };
    let mut any = false;
    for addr in addrs {
        any = true;
        match TcpStream::connect_timeout(&addr, timeout) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            _ => return false,
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(authority("http://h/x").as_deref(), Some("h:80"));
        assert_eq!(authority("https://h/").as_deref(), Some("h:443"));
        assert_eq!(
            authority("https://[::1]:8443/").as_deref(),
            Some("[::1]:8443")
        );
        assert_eq!(authority("not a url"), None);
    }

    #[test]
    fn refusal_is_seen() {
        use rustix::net::{bind, getsockname, listen, socket, AddressFamily, SocketType};
        // A port bound but not listening refuses; once it listens, it does not.
        let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        bind(
            &fd,
            &std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0),
        )
        .unwrap();
        let addr = std::net::SocketAddrV4::try_from(getsockname(&fd).unwrap()).unwrap();
        let second = Duration::from_secs(1);
        assert!(all_refuse(&addr.to_string(), second));
        listen(&fd, 8).unwrap();
        assert!(!all_refuse(&addr.to_string(), second));
        // A name that does not resolve is left for the full request to name.
        assert!(!all_refuse("nonexistent.invalid:80", second));
    }
}
