//! Targets as written on the command line: `PORT`, `HOST:PORT`, `[V6]:PORT`.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Result};

/// A target before name resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// None: any local address.
    pub host: Option<String>,
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            None => write!(f, "{}", self.port),
            Some(host) if host.contains(':') => write!(f, "[{host}]:{}", self.port),
            Some(host) => write!(f, "{host}:{}", self.port),
        }
    }
}

/// Parses `PORT`, `HOST:PORT` or `[IPV6]:PORT`.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let expected = "expected PORT, HOST:PORT or [IPV6]:PORT with a port from 1 to 65535";
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((host, port)) = rest.split_once("]:") else {
            return Err(format!("invalid target '{text}': {expected}"));
        };
        (Some(host), port)
    } else if let Some((host, port)) = text.rsplit_once(':') {
        if host.contains(':') {
            return Err(format!(
                "invalid target '{text}': write an IPv6 address in brackets, as [::1]:PORT"
            ));
        }
        (Some(host), port)
    } else {
        (None, text)
    };
    if host.is_some_and(str::is_empty) {
        return Err(format!("invalid target '{text}': empty host; {expected}"));
    }
    let number = port
        .parse::<u16>()
        .ok()
        .filter(|n| *n > 0 && port.bytes().all(|b| b.is_ascii_digit()));
    let Some(port) = number else {
        return Err(format!(
            "invalid target '{text}': bad port '{port}'; {expected}"
        ));
    };
    Ok(Target {
        host: host.map(str::to_owned),
        port,
    })
}

/// Where to look for a target's listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Any address of this host.
    AnyLocal,
    /// One address of this host: ask the kernel. With the interface a
    /// link-local address is on (its scope; 0 for any other).
    Local(IpAddr, u32),
    /// Another host: connect to it.
    Remote(SocketAddr),
}

/// Resolves a target to the places it may listen at; ready at any one.
/// `localhost` is both 127.0.0.1 and `::1`, whatever `/etc/hosts` says.
/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is its IPv4 address:
/// a connection to it is IPv4, which an IPv6-only socket never takes.
/// A host name gets at most `limit` to resolve. A name that does not
/// resolve (not known yet, or no answer within `limit`) is a
/// [`NotResolved`] error: it may resolve later (a container's name is known
/// only once it starts), so the caller may ask again.
pub fn resolve(target: &Target, limit: Duration) -> Result<Vec<Place>> {
    resolve_with(target, limit, |name| {
        name.to_socket_addrs().map(Iterator::collect)
    })
}

/// [`resolve`], with the name lookup given (tests give a slow one).
fn resolve_with(
    target: &Target,
    limit: Duration,
    lookup: impl FnOnce((String, u16)) -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> Result<Vec<Place>> {
    let Some(host) = &target.host else {
        return Ok(vec![Place::AnyLocal]);
    };
    let port = target.port;
    let mut addrs: Vec<SocketAddr> = if host.eq_ignore_ascii_case("localhost") {
        vec![
            (Ipv4Addr::LOCALHOST, port).into(),
            (Ipv6Addr::LOCALHOST, port).into(),
        ]
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip.to_canonical(), port)]
    } else {
        let name = (host.clone(), target.port);
        let not_resolved = |why: String| NotResolved {
            host: host.clone(),
            target: target.clone(),
            why,
        };
        let found = within(limit, move || lookup(name))
            .ok_or_else(|| not_resolved("no answer from the name service in time".into()))?;
        // (An IPv6 address with a scope, `fe80::1%eth0`, comes this way.)
        let mut addrs: Vec<SocketAddr> = found
            .map_err(|e| not_resolved(e.to_string()))?
            .into_iter()
            .map(|a| match a {
                SocketAddr::V6(v6) if v6.scope_id() == 0 => {
                    SocketAddr::new(v6.ip().to_canonical(), port)
                }
                a => a,
            })
            .collect();
        addrs.dedup();
        if addrs.is_empty() {
            Err(not_resolved("no address".into()))?;
        }
        addrs
    };
    // A link-local address without its interface cannot be reached: left
    // out of a name's addresses, an error if it is all there is.
    let unreachable = |a: &SocketAddr| link_local(a.ip()) && is_unscoped(a);
    if let Some(addr) = addrs.iter().find(|a| unreachable(a)).copied() {
        addrs.retain(|a| !unreachable(a));
        if !addrs.is_empty() {
            return Ok(places(addrs));
        }
        bail!(
            "target {target}: {} is a link-local address, which needs its interface, \
             as [{}%eth0]:{port}",
            addr.ip(),
            addr.ip()
        );
    }
    Ok(places(addrs))
}

/// A host name that did not resolve: not known (yet), or no answer from the
/// resolver in time. `why` is the resolver's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotResolved {
    pub host: String,
    pub target: Target,
    pub why: String,
}

impl fmt::Display for NotResolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { host, target, why } = self;
        write!(f, "host '{host}' of target {target}: {why}")
    }
}

impl std::error::Error for NotResolved {}

/// Local addresses are looked up in the kernel, others connected to.
fn places(addrs: Vec<SocketAddr>) -> Vec<Place> {
    addrs
        .into_iter()
        .map(|addr| {
            if is_local(addr) {
                let scope = match addr {
                    SocketAddr::V6(v6) => v6.scope_id(),
                    SocketAddr::V4(_) => 0,
                };
                Place::Local(addr.ip(), scope)
            } else {
                Place::Remote(addr)
            }
        })
        .collect()
}

/// An IPv6 link-local address (`fe80::/10`): it means something only with
/// the interface it is on.
pub fn link_local(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

fn is_unscoped(addr: &SocketAddr) -> bool {
    matches!(addr, SocketAddr::V6(v6) if v6.scope_id() == 0)
}

/// Runs `work` on a thread and waits at most `limit` for its result: the
/// system resolver cannot be given a timeout, and one whose name server does
/// not answer blocks for many seconds. None when `limit` runs out.
pub fn within<T: Send + 'static>(
    limit: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || send.send(work()));
    receive.recv_timeout(limit).ok()
}

/// True for an address of this host: one we can bind to (loopback, the
/// wildcard, or one assigned to an interface; a link-local one with its
/// scope).
pub fn is_local(addr: SocketAddr) -> bool {
    let ip = addr.ip();
    let mut any_port = addr;
    any_port.set_port(0);
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind(any_port).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn target(host: Option<&str>, port: u16) -> Target {
        Target {
            host: host.map(str::to_owned),
            port,
        }
    }

    #[test]
    fn forms() {
        assert_eq!(parse_target("80"), Ok(target(None, 80)));
        assert_eq!(parse_target("db:5432"), Ok(target(Some("db"), 5432)));
        assert_eq!(parse_target("[::1]:443"), Ok(target(Some("::1"), 443)));
        assert_eq!(
            parse_target("127.0.0.1:65535"),
            Ok(target(Some("127.0.0.1"), 65535))
        );
        assert_eq!(parse_target("[::1]:443").unwrap().to_string(), "[::1]:443");
    }

    #[test]
    fn bad_forms_say_what_was_expected() {
        for (bad, says) in [
            ("0", "bad port '0'"),
            ("70000", "bad port '70000'"),
            ("host:", "bad port ''"),
            (":80", "empty host"),
            ("[]:80", "empty host"),
            ("::1:80", "in brackets"),
            ("[::1]80", "expected PORT"),
            ("x", "bad port 'x'"),
            ("+80", "bad port '+80'"),
            ("", "bad port ''"),
        ] {
            let err = parse_target(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn places() {
        let resolve = |t: &Target| resolve(t, Duration::from_secs(10));
        let local = resolve(&target(Some("localhost"), 80)).unwrap();
        assert_eq!(
            local,
            vec![
                Place::Local("127.0.0.1".parse().unwrap(), 0),
                Place::Local("::1".parse().unwrap(), 0)
            ]
        );
        assert_eq!(resolve(&target(None, 80)).unwrap(), vec![Place::AnyLocal]);
        assert_eq!(
            resolve(&target(Some("192.0.2.1"), 80)).unwrap(),
            vec![Place::Remote("192.0.2.1:80".parse().unwrap())]
        );
        let err = resolve(&target(Some("no-such-host.invalid"), 80)).unwrap_err();
        assert!(err.downcast_ref::<NotResolved>().is_some(), "{err}");
        let err = resolve(&target(Some("fe80::1"), 80)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "target [fe80::1]:80: fe80::1 is a link-local address, which needs its \
             interface, as [fe80::1%eth0]:80"
        );
        assert!(link_local("febf::1".parse().unwrap()));
        assert!(!link_local("fec0::1".parse().unwrap()));
        assert_eq!(
            resolve(&target(Some("::ffff:127.0.0.1"), 80)).unwrap(),
            vec![Place::Local("127.0.0.1".parse().unwrap(), 0)]
        );
    }

    #[test]
    fn a_lookup_that_never_ends_is_given_up() {
        let (_keep, never) = mpsc::channel::<()>();
        assert_eq!(
            within(Duration::from_millis(20), move || never.recv().ok()),
            None
        );
        assert_eq!(within(Duration::from_secs(10), || 5), Some(5));
    }

    #[test]
    fn a_names_link_local_address_without_interface_is_left_out() {
        let answer = |addrs: &'static [&'static str]| {
            move |_| Ok(addrs.iter().map(|a| a.parse().unwrap()).collect())
        };
        let db = target(Some("db.example"), 80);
        let limit = Duration::from_secs(10);
        assert_eq!(
            resolve_with(&db, limit, answer(&["[fe80::1]:80", "127.0.0.1:80"])).unwrap(),
            vec![Place::Local("127.0.0.1".parse().unwrap(), 0)]
        );
        let err = resolve_with(&db, limit, answer(&["[fe80::1]:80"])).unwrap_err();
        assert!(err.to_string().contains("needs its interface"), "{err}");
    }

    #[test]
    fn a_name_that_does_not_resolve_may_be_asked_again() {
        let (keep, never) = mpsc::channel::<()>();
        let hung = move |_| {
            let _ = never.recv(); // a name server that never answers
            Ok(Vec::new())
        };
        let err = resolve_with(
            &target(Some("db.example"), 5432),
            Duration::from_millis(20),
            hung,
        )
        .unwrap_err();
        drop(keep);
        assert!(err.downcast_ref::<NotResolved>().is_some(), "{err}");
        assert_eq!(
            err.to_string(),
            "host 'db.example' of target db.example:5432: no answer from the name service in time"
        );
        let unknown = |_| Err(io::Error::other("Name or service not known"));
        let err =
            resolve_with(&target(Some("db"), 80), Duration::from_secs(10), unknown).unwrap_err();
        assert_eq!(
            err.to_string(),
            "host 'db' of target db:80: Name or service not known"
        );
        let none = |_| Ok(Vec::new());
        let err = resolve_with(&target(Some("db"), 80), Duration::from_secs(10), none).unwrap_err();
        assert!(err.downcast_ref::<NotResolved>().is_some(), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse_target(&text);
        }

        #[test]
        fn parse_round_trips(port in 1u16.., v6 in any::<bool>()) {
            let host = if v6 { "::1" } else { "example.org" };
            let t = target(Some(host), port);
            prop_assert_eq!(parse_target(&t.to_string()), Ok(t));
        }
    }
}
