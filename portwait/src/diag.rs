//! Listening TCP sockets, from the kernel's socket-diagnostics netlink
//! interface (`NETLINK_SOCK_DIAG`, what `ss -ltn` uses): no connection to
//! the server, no parsing of `/proc/net/tcp`, and only sockets in LISTEN
//! state, so a connection whose port matches is never taken for a listener.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::sockopt::Timeout;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

/// How long a reply from the kernel may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The older request type; its dump covers IPv4 and IPv6 at once.
const TCPDIAG_GETSOCK: u16 = 18;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const TCP_LISTEN: u32 = 10;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
const ENOENT: i32 = 2;
/// `INET_DIAG_SKV6ONLY`: the attribute the kernel adds to every IPv6 socket.
const ATTR_V6ONLY: u16 = 11;
/// `struct nlmsghdr` and `struct inet_diag_msg`.
const HEADER_LEN: usize = 16;
const MSG_LEN: usize = 72;
/// `struct nlmsghdr` and `struct inet_diag_req_v2`.
const REQUEST_LEN: usize = HEADER_LEN + 56;
/// `lo`'s interface index in every network namespace (the kernel's
/// `LOOPBACK_IFINDEX`).
const LOOPBACK_IFINDEX: u32 = 1;
/// How long the interface holding an address is believed.
const ARRIVALS_FOR: Duration = Duration::from_secs(1);
/// `struct nlmsghdr` and `struct inet_diag_req` (the older request).
const COMPAT_LEN: usize = HEADER_LEN + 60;
/// The request attribute holding a filter program (`INET_DIAG_REQ_BYTECODE`).
const ATTR_BYTECODE: u16 = 1;
/// Filter operations (`INET_DIAG_BC_*`): jump, source port ≥ and ≤.
const BC_JMP: u8 = 1;
const BC_S_GE: u8 = 2;
const BC_S_LE: u8 = 3;
/// At most this many ports are filtered in the kernel (a filter is capped
/// in size); more, and every listener is dumped and filtered here.
const MAX_FILTER_PORTS: usize = 64;

/// A listening TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub addr: IpAddr,
    pub port: u16,
    pub inode: u32,
    /// An IPv6 socket that refuses IPv4 (`IPV6_V6ONLY`).
    pub v6only: bool,
    /// The interface it is bound to (`SO_BINDTODEVICE`), 0 if none: it
    /// takes only connections arriving there.
    pub bound_if: u32,
}

impl Listener {
    /// Whether a connection arriving on interface `via` (see
    /// [`Diag::arrival`]) can reach it.
    pub fn takes_from(&self, via: u32) -> bool {
        self.bound_if == 0 || self.bound_if == via
    }
}

/// A netlink socket for listener queries.
pub struct Diag {
    fd: OwnedFd,
    buf: Vec<u8>,
    /// Whether the kernel takes the one-dump request (else: one per family).
    compat: bool,
    /// Whether the kernel takes a port filter with the request (else every
    /// listener is dumped and filtered here).
    filter: bool,
    /// Whether the kernel answers a request for one socket.
    exact: bool,
    /// The interface a connection from this host to each address looked
    /// up arrives on (see [`arrival`]), and when they were found.
    arrivals: Vec<(IpAddr, u32)>,
    arrivals_found: Option<Instant>,
}

impl Diag {
    pub fn open() -> Result<Self> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        )
        .map_err(io::Error::from)
        .context("opening a NETLINK_SOCK_DIAG socket")?;
        // A process with CAP_NET_ADMIN may send to any netlink socket; once
        // it is connected to the kernel, only the kernel can: no forged
        // answer.
        rustix::net::connect(&fd, &SocketAddrNetlink::new(0, 0))
            .map_err(io::Error::from)
            .context("connecting the NETLINK_SOCK_DIAG socket to the kernel")?;
        // The kernel answers at once; should it ever not, fail rather than
        // wait past --timeout.
        rustix::net::sockopt::set_socket_timeout(&fd, Timeout::Recv, Some(REPLY_TIMEOUT))
            .map_err(io::Error::from)
            .context("setting a receive timeout on the NETLINK_SOCK_DIAG socket")?;
        Ok(Self {
            fd,
            buf: vec![0; 32 * 1024],
            compat: true,
            filter: true,
            exact: true,
            arrivals: Vec::new(),
            arrivals_found: None,
        })
    }

    /// The TCP sockets in LISTEN state on any of `ports` (all of them if
    /// `ports` is empty), IPv4 and IPv6.
    ///
    /// The kernel is given the ports as a filter program (as `ss sport =
    /// :P` does), so while nothing listens a look is one small request and
    /// an empty answer. The older `TCPDIAG_GETSOCK` request dumps both
    /// families at once, at half the cost of two `SOCK_DIAG_BY_FAMILY`
    /// dumps; a kernel without it gets those, and one that refuses the
    /// filter gets the requests without it.
    pub fn listeners(&mut self, ports: &[u16]) -> Result<Vec<Listener>> {
        let bytecode = self.filter_for(ports);
        self.listeners_filtered(ports, &bytecode)
    }

    /// The filter program for `ports`: none for more than
    /// [`MAX_FILTER_PORTS`], nor once the kernel refused one.
    fn filter_for(&self, ports: &[u16]) -> Vec<u8> {
        if self.filter && ports.len() <= MAX_FILTER_PORTS {
            port_filter(ports)
        } else {
            Vec::new()
        }
    }

    /// [`Diag::listeners`], with `bytecode` as the filter program.
    fn listeners_filtered(&mut self, ports: &[u16], bytecode: &[u8]) -> Result<Vec<Listener>> {
        let mut found = Vec::new();
        if self.compat {
            if self
                .dump(&with_filter(&compat_request(), bytecode), &mut found)
                .is_ok()
            {
                return Ok(keep(found, ports));
            }
            found.clear();
            if !bytecode.is_empty() && self.dump(&compat_request(), &mut found).is_ok() {
                self.filter = false;
                return Ok(keep(found, ports));
            }
            self.compat = false;
            found.clear();
        }
        for family in [AF_INET, AF_INET6] {
            let filtered = with_filter(&request(family), bytecode);
            if self.filter && self.dump(&filtered, &mut found).is_ok() {
                continue;
            }
            self.filter = false;
            self.dump(&request(family), &mut found)
                .with_context(|| format!("querying listening sockets (family {family})"))?;
        }
        Ok(keep(found, ports))
    }

    /// The listener a connection to `ip`:`port` would reach, by the
    /// kernel's own lookup for an arriving connection (the address, or its
    /// family's wildcard; an IPv6 wildcard takes IPv4 unless it is
    /// `IPV6_V6ONLY`): one hash lookup, however many sockets the host has,
    /// where a dump walks the whole listener table. `Err` if the kernel
    /// cannot look up one socket (see [`Diag::can_look_up`]).
    pub fn serving(&mut self, ip: IpAddr, port: u16) -> Result<Option<Listener>> {
        Ok(self.serving_any(&[ip], port)?.pop())
    }

    /// The listeners connections to each of `ips` at `port` would reach, as
    /// [`Diag::serving`] finds one: the lookups go to the kernel in one
    /// datagram (one `sendto`), and each has its own answer.
    pub fn serving_any(&mut self, ips: &[IpAddr], port: u16) -> Result<Vec<Listener>> {
        let mut request = Vec::with_capacity(ips.len() * REQUEST_LEN);
        for ip in ips {
            let via = self.arrival(*ip);
            request.extend(exact_request(*ip, port, via));
        }
        self.look_up(&request, ips.len())
    }

    /// The interface a connection from this host to `ip` arrives on: `lo`
    /// for a loopback address, else [`arrival`], remembered for a second
    /// (an address may move to another interface during a wait; asking at
    /// every look would cost more than the look).
    pub fn arrival(&mut self, ip: IpAddr) -> u32 {
        if ip.is_loopback() {
            return LOOPBACK_IFINDEX;
        }
        let now = Instant::now();
        if self
            .arrivals_found
            .is_none_or(|t| now.duration_since(t) >= ARRIVALS_FOR)
        {
            self.arrivals.clear();
            self.arrivals_found = Some(now);
        }
        if let Some(&(_, via)) = self.arrivals.iter().find(|(seen, _)| *seen == ip) {
            return via;
        }
        let via = arrival(ip);
        self.arrivals.push((ip, via));
        via
    }

    /// Sends `request` (`count` exact requests) and reads `count` answers,
    /// all of them even after a bad one, so that none is left to be taken
    /// for part of a later answer. A failure means lookups do not work here.
    fn look_up(&mut self, request: &[u8], count: usize) -> Result<Vec<Listener>> {
        let found = self.ask(request, count);
        if found.is_err() {
            self.exact = false;
        }
        found
    }

    fn ask(&mut self, request: &[u8], count: usize) -> Result<Vec<Listener>> {
        let kernel = SocketAddrNetlink::new(0, 0);
        rustix::net::sendto(&self.fd, request, SendFlags::empty(), &kernel)
            .map_err(io::Error::from)?;
        let mut found = Vec::new();
        let mut bad = None;
        for _ in 0..count {
            let (len, _) = rustix::net::recv(&self.fd, &mut self.buf[..], RecvFlags::empty())
                .map_err(io::Error::from)?;
            match parse_one(&self.buf[..len]) {
                Ok(one) => found.extend(one),
                Err(e) => bad = bad.or(Some(e)),
            }
        }
        bad.map_or(Ok(found), Err)
    }

    /// Whether [`Diag::serving`] works here (false once it failed).
    pub fn can_look_up(&self) -> bool {
        self.exact
    }

    fn dump(&mut self, request: &[u8], found: &mut Vec<Listener>) -> Result<()> {
        let kernel = SocketAddrNetlink::new(0, 0);
        rustix::net::sendto(&self.fd, request, SendFlags::empty(), &kernel)
            .map_err(io::Error::from)?;
        loop {
            let (len, _) = rustix::net::recv(&self.fd, &mut self.buf[..], RecvFlags::empty())
                .map_err(io::Error::from)?;
            if parse(&self.buf[..len], found)? {
                return Ok(());
            }
        }
    }
}

/// The interface (its index) that a connection from this host to `ip`, not
/// a loopback address (those arrive on `lo`), arrives on, as the kernel's
/// local route delivers it: the one interface that holds `ip`. 0 (none) if
/// no interface holds it, or several do (the kernel then takes the one
/// given it first, which nothing here tells): a listener bound to an
/// interface with `SO_BINDTODEVICE`, which takes only connections arriving
/// on it, is then never taken for one that serves this host's clients.
fn arrival(ip: IpAddr) -> u32 {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return 0;
    };
    let mut holders: Vec<String> = addrs
        .filter(|a| {
            a.address.as_ref().is_some_and(|sa| {
                let held: Option<IpAddr> = if let Some(v4) = sa.as_sockaddr_in() {
                    Some(v4.ip().into())
                } else {
                    sa.as_sockaddr_in6().map(|v6| v6.ip().into())
                };
                held == Some(ip)
            })
        })
        .map(|a| a.interface_name)
        .collect();
    holders.sort();
    holders.dedup();
    match holders.as_slice() {
        [one] => nix::net::if_::if_nametoindex(one.as_str()).unwrap_or(0),
        _ => 0,
    }
}

/// A request for the one TCP socket that would take a connection to
/// `ip`:`port` from a client on this host (remote address and port zero),
/// arriving on interface `via` (see [`arrival`]): so a listener bound to
/// that interface is found, and one bound to another, which such a client
/// cannot reach, is not. No cookie to check (`INET_DIAG_NOCOOKIE`).
fn exact_request(ip: IpAddr, port: u16, via: u32) -> [u8; REQUEST_LEN] {
    let mut req = [0u8; REQUEST_LEN];
    req[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    let (family, addr) = match ip {
        IpAddr::V4(v4) => (AF_INET, v4.to_ipv6_mapped().octets()),
        IpAddr::V6(v6) => (AF_INET6, v6.octets()),
    };
    req[16] = family;
    req[17] = IPPROTO_TCP;
    req[20..24].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    req[24..26].copy_from_slice(&port.to_be_bytes());
    // An IPv4 address takes the first 4 bytes of the 16.
    let addr = if family == AF_INET {
        &addr[12..]
    } else {
        &addr[..]
    };
    req[28..28 + addr.len()].copy_from_slice(addr);
    req[60..64].copy_from_slice(&via.to_ne_bytes());
    req[64..72].fill(0xff);
    req
}

/// Parses the answer to an exact request: the socket if it listens, None
/// if there is none (`ENOENT`).
fn parse_one(data: &[u8]) -> Result<Option<Listener>> {
    if data.len() < HEADER_LEN {
        bail!("malformed netlink answer ({} bytes)", data.len());
    }
    let (kind, body, _) = message(data)?;
    match kind {
        NLMSG_ERROR => {
            let code = error_code(body);
            if -code == ENOENT {
                Ok(None)
            } else {
                Err(io::Error::from_raw_os_error(-code).into())
            }
        }
        SOCK_DIAG_BY_FAMILY if body.len() >= MSG_LEN => {
            Ok((u32::from(body[1]) == TCP_LISTEN).then(|| listener(body)))
        }
        _ => bail!("unexpected netlink message type {kind}"),
    }
}

/// A dump request: `nlmsghdr` + `inet_diag_req_v2` for TCP sockets of
/// `family` in LISTEN state.
fn request(family: u8) -> [u8; REQUEST_LEN] {
    let mut req = [0u8; REQUEST_LEN];
    req[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[16] = family;
    req[17] = IPPROTO_TCP;
    req[20..24].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    req
}

/// A dump request: `nlmsghdr` + `inet_diag_req` for TCP sockets of both
/// families in LISTEN state.
fn compat_request() -> [u8; COMPAT_LEN] {
    let mut req = [0u8; COMPAT_LEN];
    req[0..4].copy_from_slice(&(COMPAT_LEN as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[68..72].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    req
}

/// A filter program that accepts a socket whose local port is one of
/// `ports` (empty: no filter).
///
/// The kernel runs it op by op, each jumping `yes` or `no` bytes on, and
/// accepts the socket if the run ends exactly at the end. Per port, a test
/// `sport >= P`, `sport <= P` (ops every kernel with `sock_diag` has) and,
/// but for the last port, a `JMP` to the end (accepted). A failed test
/// jumps 20 bytes on from its start: past its `JMP` to the next port's
/// test, or for the last port 4 bytes past the end (refused). Every target
/// lies on the chain of `yes` steps, as the kernel's check requires.
pub fn port_filter(ports: &[u16]) -> Vec<u8> {
    fn op(bc: &mut Vec<u8>, code: u8, yes: u8, no: u16) {
        bc.push(code);
        bc.push(yes);
        bc.extend(no.to_ne_bytes());
    }
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    let mut bc = Vec::with_capacity(ports.len() * 20);
    for (i, port) in ports.iter().enumerate() {
        op(&mut bc, BC_S_GE, 8, 20);
        op(&mut bc, 0, 0, *port);
        op(&mut bc, BC_S_LE, 8, 12);
        op(&mut bc, 0, 0, *port);
        let rest = (ports.len() - 1 - i) * 20;
        if rest > 0 {
            op(&mut bc, BC_JMP, 4, rest as u16);
        }
    }
    bc
}

/// `request` with `bytecode` as its filter attribute (none if empty).
fn with_filter(request: &[u8], bytecode: &[u8]) -> Vec<u8> {
    let mut req = request.to_vec();
    if bytecode.is_empty() {
        return req;
    }
    req.extend(((4 + bytecode.len()) as u16).to_ne_bytes());
    req.extend(ATTR_BYTECODE.to_ne_bytes());
    req.extend(bytecode);
    let len = req.len() as u32;
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    req
}

/// The listeners on `ports` (all if empty): a kernel that ignored or
/// refused the filter answered with every listener.
fn keep(mut found: Vec<Listener>, ports: &[u16]) -> Vec<Listener> {
    if !ports.is_empty() {
        found.retain(|l| ports.contains(&l.port));
    }
    found
}

/// Parses one datagram of a dump into `found`. True when the dump is done.
pub fn parse(mut data: &[u8], found: &mut Vec<Listener>) -> Result<bool> {
    while data.len() >= HEADER_LEN {
        let (kind, body, len) = message(data)?;
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let code = error_code(body);
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(-code).into());
                }
            }
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK if body.len() >= MSG_LEN => {
                found.push(listener(body));
            }
            _ => {}
        }
        data = &data[len.next_multiple_of(4).min(data.len())..];
    }
    Ok(false)
}

/// The first netlink message in `data` (at least `HEADER_LEN` bytes): its
/// type, its body and its length.
fn message(data: &[u8]) -> Result<(u16, &[u8], usize)> {
    let len = u32::from_ne_bytes(data[0..4].try_into()?) as usize;
    let kind = u16::from_ne_bytes(data[4..6].try_into()?);
    if len < HEADER_LEN || len > data.len() {
        bail!("malformed netlink message (length {len})");
    }
    Ok((kind, &data[HEADER_LEN..len], len))
}

/// The error number of an `NLMSG_ERROR` body, negated (0: an acknowledgement).
fn error_code(body: &[u8]) -> i32 {
    body.get(0..4)
        .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap_or_default()))
}

/// Reads an `inet_diag_msg` (at least `MSG_LEN` bytes) and its attributes.
fn listener(body: &[u8]) -> Listener {
    let port = u16::from_be_bytes([body[4], body[5]]);
    let src: [u8; 16] = body[8..24].try_into().unwrap_or_default();
    let addr = if body[0] == AF_INET {
        IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(src))
    };
    let bound_if = u32::from_ne_bytes(body[40..44].try_into().unwrap_or_default());
    let inode = u32::from_ne_bytes(body[68..72].try_into().unwrap_or_default());
    let mut v6only = false;
    let mut attrs = &body[MSG_LEN..];
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            break;
        }
        if kind == ATTR_V6ONLY && len > 4 {
            v6only = attrs[4] != 0;
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    Listener {
        addr,
        port,
        inode,
        v6only,
        bound_if,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::TcpListener;

    use crate::test_sockets::listening;

    /// A test that cannot run here says so; under CI=true (which has IPv6
    /// loopback) it fails instead.
    pub(crate) fn skip(reason: &str) {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "cannot run under CI=true: {reason}"
        );
        eprintln!("SKIP: {reason}");
    }

    fn find(port: u16) -> Vec<Listener> {
        let mut diag = Diag::open().unwrap();
        let found = diag.listeners(&[port]).unwrap();
        assert!(diag.filter, "the kernel refused the port filter");
        found
    }

    #[test]
    fn sees_a_loopback_listener_and_its_going() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let found = find(port);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_ne!(found[0].inode, 0);
        drop(server);
        assert!(find(port).is_empty());
    }

    #[test]
    fn a_connection_is_not_a_listener() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _accepted = server.accept().unwrap();
        drop(server);
        assert!(find(port).is_empty());
    }

    #[test]
    fn sees_ipv6_listeners_when_the_host_has_ipv6() {
        let Ok(server) = TcpListener::bind("[::1]:0") else {
            return skip("no IPv6 loopback here");
        };
        let port = server.local_addr().unwrap().port();
        let found = find(port);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
    }

    #[test]
    fn the_one_dump_and_the_two_dumps_agree() {
        let v4 = TcpListener::bind("0.0.0.0:0").unwrap();
        let v6 = TcpListener::bind("[::]:0").ok();
        if v6.is_none() {
            skip("no IPv6 here: the IPv6 half");
        }
        let ports: Vec<u16> = std::iter::once(&v4)
            .chain(v6.as_ref())
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        let mut seen = Vec::new();
        for compat in [true, false] {
            let mut diag = Diag::open().unwrap();
            diag.compat = compat;
            let mut found: Vec<Listener> = diag
                .listeners(&[])
                .unwrap()
                .into_iter()
                .filter(|l| ports.contains(&l.port))
                .collect();
            found.sort_by_key(|l| l.port);
            assert_eq!(found.len(), ports.len(), "compat {compat}: {found:?}");
            seen.push(found);
        }
        assert_eq!(seen[0], seen[1]);
    }

    #[test]
    fn the_kernels_lookup_finds_the_listener_a_connection_would_reach() {
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        let mut diag = Diag::open().unwrap();
        let lo = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = lo.local_addr().unwrap().port();
        let found = diag.serving(ip("127.0.0.1"), port).unwrap().unwrap();
        assert_eq!((found.addr, found.port), (ip("127.0.0.1"), port));
        assert_ne!(found.inode, 0);
        assert_eq!(diag.serving(ip("127.0.0.2"), port).unwrap(), None);
        assert_eq!(diag.serving(ip("::1"), port).unwrap(), None);
        drop(lo);
        assert_eq!(diag.serving(ip("127.0.0.1"), port).unwrap(), None);
        let any = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = any.local_addr().unwrap().port();
        assert!(diag.serving(ip("127.0.0.2"), port).unwrap().is_some());
        assert_eq!(diag.serving(ip("::1"), port).unwrap(), None);
        // An established connection is no listener, even on the port.
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _accepted = any.accept().unwrap();
        drop(any);
        assert_eq!(diag.serving(ip("127.0.0.1"), port).unwrap(), None);
        if let Ok(dual) = TcpListener::bind("[::]:0") {
            let port = dual.local_addr().unwrap().port();
            assert!(diag.serving(ip("::1"), port).unwrap().is_some());
            assert!(diag.serving(ip("127.0.0.1"), port).unwrap().is_some());
        } else {
            skip("no IPv6 here: the dual-stack half");
        }
        assert!(diag.can_look_up());
    }

    #[test]
    fn the_loopback_lookups_find_listeners_on_loopback_and_the_wildcards() {
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        let loopback = [ip("127.0.0.1"), ip("::1")];
        let mut diag = Diag::open().unwrap();
        // Where it listens, and how many of the two lookups reach it (the
        // kernel makes a socket on one IPv6 address IPv6-only).
        for (addr, v6only, reached) in [
            ("127.0.0.1:0", false, 1),
            ("0.0.0.0:0", false, 1),
            ("[::1]:0", true, 1),
            ("[::]:0", false, 2),
            ("[::]:0", true, 1),
        ] {
            let Some(server) = listening(addr, v6only) else {
                skip(&format!("cannot listen on {addr} here"));
                continue;
            };
            let at = server.local_addr().unwrap();
            let found = diag.serving_any(&loopback, at.port()).unwrap();
            assert_eq!(found.len(), reached, "{addr} (v6only {v6only}): {found:?}");
            for l in &found {
                assert_eq!((l.addr, l.port, l.v6only), (at.ip(), at.port(), v6only));
            }
            drop(server);
            assert_eq!(diag.serving_any(&loopback, at.port()).unwrap(), []);
        }
        // Another address is the dump's to find, not the lookups'.
        let other = listening("127.0.0.2:0", false).unwrap();
        let port = other.local_addr().unwrap().port();
        assert_eq!(diag.serving_any(&loopback, port).unwrap(), []);
        assert_eq!(diag.listeners(&[port]).unwrap().len(), 1);
        assert!(diag.can_look_up());
    }

    #[test]
    fn only_the_kernel_can_answer() {
        // Netlink lets a process with CAP_NET_ADMIN (root, here) send to
        // another's socket: a forged answer (a listener where none is, an
        // empty dump) must not be read.
        let unused = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = unused.local_addr().unwrap().port();
        drop(unused);
        let here = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut diag = Diag::open().unwrap();
        assert_eq!(diag.serving(here, port).unwrap(), None);
        let ours =
            SocketAddrNetlink::try_from(rustix::net::getsockname(&diag.fd).unwrap()).unwrap();
        let mut forged = vec![0u8; HEADER_LEN + MSG_LEN];
        forged[0..4].copy_from_slice(&((HEADER_LEN + MSG_LEN) as u32).to_ne_bytes());
        forged[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        forged[HEADER_LEN] = AF_INET;
        forged[HEADER_LEN + 1] = TCP_LISTEN as u8;
        forged[HEADER_LEN + 4..HEADER_LEN + 6].copy_from_slice(&port.to_be_bytes());
        forged[HEADER_LEN + 8..HEADER_LEN + 12].copy_from_slice(&[127, 0, 0, 1]);
        let attacker = rustix::net::socket(
            AddressFamily::NETLINK,
            SocketType::RAW,
            Some(netlink::SOCK_DIAG),
        )
        .unwrap();
        // Refused once the socket is connected to the kernel; should it
        // arrive, it must not be taken for an answer.
        let _ = rustix::net::sendto(&attacker, &forged, SendFlags::empty(), &ours);
        assert_eq!(diag.serving(here, port).unwrap(), None);
        assert_eq!(diag.listeners(&[port]).unwrap(), []);
        assert!(diag.can_look_up());
    }

    #[test]
    fn a_refused_lookup_leaves_no_answer_behind_and_ends_lookups() {
        let server = listening("127.0.0.1:0", false).unwrap();
        let port = server.local_addr().unwrap().port();
        let here = IpAddr::V4(Ipv4Addr::LOCALHOST);
        // A family the kernel does not know: refused (EINVAL).
        let mut refused = exact_request(here, port, LOOPBACK_IFINDEX);
        refused[16] = 255;
        for request in [
            [refused, exact_request(here, port, LOOPBACK_IFINDEX)].concat(),
            [exact_request(here, port, LOOPBACK_IFINDEX), refused].concat(),
        ] {
            let mut diag = Diag::open().unwrap();
            let err = diag.look_up(&request, 2).unwrap_err();
            assert!(err.to_string().contains("Invalid argument"), "{err}");
            assert!(!diag.can_look_up());
            // Had an answer been left unread, this would read it.
            assert_eq!(diag.serving(here, port + 1).unwrap(), None);
            assert_eq!(
                diag.serving(here, port).unwrap().map(|l| l.port),
                Some(port)
            );
        }
    }

    #[test]
    fn the_kernel_filters_by_port() {
        let servers: Vec<TcpListener> = (0..3)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let ports: Vec<u16> = servers
            .iter()
            .map(|s| s.local_addr().unwrap().port())
            .collect();
        let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let unused_port = unused.local_addr().unwrap().port();
        drop(unused);
        let wanted = [ports[2], unused_port, ports[0]];
        for compat in [true, false] {
            let mut diag = Diag::open().unwrap();
            diag.compat = compat;
            // The raw answers, without the check done here afterwards.
            let mut raw = Vec::new();
            let bytecode = port_filter(&wanted);
            if compat {
                diag.dump(&with_filter(&compat_request(), &bytecode), &mut raw)
                    .unwrap();
            } else {
                for family in [AF_INET, AF_INET6] {
                    diag.dump(&with_filter(&request(family), &bytecode), &mut raw)
                        .unwrap();
                }
            }
            let mut seen: Vec<u16> = raw.iter().map(|l| l.port).collect();
            seen.sort_unstable();
            let mut expected = vec![ports[0], ports[2]];
            expected.sort_unstable();
            assert_eq!(seen, expected, "compat {compat}");
            // One port, and none: every listener.
            raw.clear();
            diag.dump(
                &with_filter(&compat_request(), &port_filter(&[ports[1]])),
                &mut raw,
            )
            .unwrap();
            assert_eq!(raw.iter().map(|l| l.port).collect::<Vec<_>>(), [ports[1]]);
            raw.clear();
            diag.dump(&compat_request(), &mut raw).unwrap();
            assert!(ports.iter().all(|p| raw.iter().any(|l| l.port == *p)));
        }
    }

    #[test]
    fn the_ports_are_filtered_in_the_kernel_unless_too_many_or_refused() {
        let mut diag = Diag::open().unwrap();
        assert_eq!(diag.filter_for(&[80]), port_filter(&[80]));
        let many: Vec<u16> = (1..=65).collect();
        assert_eq!(diag.filter_for(&many[..64]), port_filter(&many[..64]));
        assert_eq!(diag.filter_for(&many), []);
        diag.filter = false;
        assert_eq!(diag.filter_for(&[80]), []);
    }

    #[test]
    fn a_kernel_that_refuses_the_filter_gets_the_dump_without_it() {
        let server = listening("127.0.0.1:0", false).unwrap();
        let port = server.local_addr().unwrap().port();
        // An op the kernel does not know: the filter is refused (EINVAL).
        let refused = [255u8, 4, 8, 0];
        for compat in [true, false] {
            let mut diag = Diag::open().unwrap();
            // The kernel's answer: an error, at once.
            let request = if compat {
                with_filter(&compat_request(), &refused)
            } else {
                with_filter(&request(AF_INET), &refused)
            };
            let err = diag.dump(&request, &mut Vec::new()).unwrap_err();
            assert!(err.to_string().contains("Invalid argument"), "{err}");
            diag.compat = compat;
            let found = diag.listeners_filtered(&[port], &refused).unwrap();
            assert_eq!(found.iter().map(|l| l.port).collect::<Vec<_>>(), [port]);
            assert!(!diag.filter, "compat {compat}");
            assert_eq!(
                diag.compat, compat,
                "the filter was refused, not the request"
            );
        }
    }

    #[test]
    fn short_or_truncated_answers_to_a_lookup_are_errors() {
        assert!(parse_one(&[0u8; 3]).is_err());
        // A SOCK_DIAG_BY_FAMILY answer too short to hold an inet_diag_msg.
        let mut msg = vec![0u8; HEADER_LEN + MSG_LEN - 1];
        let len = msg.len() as u32;
        msg[0..4].copy_from_slice(&len.to_ne_bytes());
        msg[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        assert!(parse_one(&msg).is_err());
        msg.push(0);
        msg[0..4].copy_from_slice(&(len + 1).to_ne_bytes());
        msg[HEADER_LEN + 1] = TCP_LISTEN as u8;
        assert!(parse_one(&msg).unwrap().is_some());
    }

    #[test]
    fn requests_are_well_formed() {
        let req = request(AF_INET6);
        assert_eq!(
            u32::from_ne_bytes(req[0..4].try_into().unwrap()) as usize,
            req.len()
        );
        assert_eq!(req[16], AF_INET6);
        let filtered = with_filter(&req, &port_filter(&[80, 443]));
        assert_eq!(
            u32::from_ne_bytes(filtered[0..4].try_into().unwrap()) as usize,
            filtered.len()
        );
        assert_eq!(filtered.len(), REQUEST_LEN + 4 + 36);
        assert_eq!(with_filter(&req, &[]), req);
    }

    /// The kernel's interpreter (`inet_diag_bc_run`) for the ops we use.
    fn accepts(bc: &[u8], sport: u16) -> bool {
        let mut at = 0usize;
        let mut len = bc.len() as isize;
        while len > 0 {
            let (code, yes, no) = (
                bc[at],
                bc[at + 1],
                u16::from_ne_bytes([bc[at + 2], bc[at + 3]]),
            );
            let arg = || u16::from_ne_bytes([bc[at + 6], bc[at + 7]]);
            let ok = match code {
                BC_JMP => false,
                BC_S_GE => sport >= arg(),
                BC_S_LE => sport <= arg(),
                _ => panic!("unexpected op {code}"),
            };
            let step = if ok {
                usize::from(yes)
            } else {
                usize::from(no)
            };
            at += step;
            len -= step as isize;
        }
        len == 0
    }

    proptest! {
        #[test]
        fn the_filter_accepts_exactly_the_ports(
            ports in proptest::collection::vec(any::<u16>(), 1..10),
            probe in any::<u16>(),
        ) {
            let bc = port_filter(&ports);
            for p in &ports {
                prop_assert!(accepts(&bc, *p));
            }
            prop_assert_eq!(accepts(&bc, probe), ports.contains(&probe));
        }
    }

    #[test]
    fn malformed_replies_are_errors() {
        let mut found = Vec::new();
        let mut msg = vec![0u8; 20];
        msg[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse(&msg, &mut found).is_err());
        // Shorter than its own header.
        msg[0..4].copy_from_slice(&8u32.to_ne_bytes());
        assert!(parse(&msg, &mut found).is_err());
        // A bare header is a whole message.
        msg.truncate(HEADER_LEN);
        msg[0..4].copy_from_slice(&(HEADER_LEN as u32).to_ne_bytes());
        msg[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        assert!(parse(&msg, &mut found).unwrap());
        assert!(found.is_empty());
    }

    /// An attribute: its length field, its type, its payload (unpadded).
    fn attr(len: u16, kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = len.to_ne_bytes().to_vec();
        a.extend(kind.to_ne_bytes());
        a.extend(payload);
        a
    }

    #[test]
    fn attributes_are_read_within_their_bounds() {
        let v6only = |attrs: &[Vec<u8>]| {
            let mut body = vec![0u8; MSG_LEN];
            body[0] = AF_INET6;
            body.extend(attrs.concat());
            listener(&body).v6only
        };
        let yes = attr(5, ATTR_V6ONLY, &[1]);
        assert!(
            v6only(std::slice::from_ref(&yes)),
            "the last attribute, unpadded"
        );
        assert!(
            v6only(&[attr(4, 99, &[]), yes.clone()]),
            "after an empty one"
        );
        assert!(
            v6only(&[attr(5, 99, &[0, 0, 0, 0]), yes.clone()]),
            "after a padded one"
        );
        assert!(!v6only(&[attr(4, ATTR_V6ONLY, &[])]), "no payload: no flag");
        assert!(
            !v6only(&[attr(100, ATTR_V6ONLY, &[1, 0, 0, 0])]),
            "longer than the message"
        );
        assert!(
            !v6only(&[attr(0, 99, &[]), yes]),
            "a zero length ends the reading"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut found = Vec::new();
            let _ = parse(&data, &mut found);
            let _ = parse_one(&data);
        }

        #[test]
        fn arbitrary_answers_to_a_lookup_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..120),
            kind in prop_oneof![Just(SOCK_DIAG_BY_FAMILY), Just(NLMSG_ERROR), any::<u16>()],
            len in prop_oneof![Just(None), any::<u32>().prop_map(Some)],
        ) {
            let mut msg = vec![0u8; HEADER_LEN];
            let whole = (HEADER_LEN + body.len()) as u32;
            msg[0..4].copy_from_slice(&len.unwrap_or(whole).to_ne_bytes());
            msg[4..6].copy_from_slice(&kind.to_ne_bytes());
            msg.extend(&body);
            let _ = parse_one(&msg);
        }

        #[test]
        fn arbitrary_message_bodies_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            kind in prop_oneof![Just(SOCK_DIAG_BY_FAMILY), Just(TCPDIAG_GETSOCK), Just(NLMSG_ERROR)],
        ) {
            let mut msg = vec![0u8; HEADER_LEN];
            msg[0..4].copy_from_slice(&((HEADER_LEN + body.len()) as u32).to_ne_bytes());
            msg[4..6].copy_from_slice(&kind.to_ne_bytes());
            msg.extend(&body);
            let mut found = Vec::new();
            let _ = parse(&msg, &mut found);
            prop_assert!(found.len() <= 1);
        }
    }
}
