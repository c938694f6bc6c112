//! Listening TCP sockets, from the kernel's socket-diagnostics netlink
//! interface (`NETLINK_SOCK_DIAG`, what `ss -ltn` uses): no connection to
//! the server, no parsing of `/proc/net/tcp`, and only sockets in LISTEN
//! state, so a connection whose port matches is never taken for a listener.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::time::Duration;

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
/// `INET_DIAG_SKV6ONLY`: the attribute the kernel adds to every IPv6 socket.
const ATTR_V6ONLY: u16 = 11;
/// `struct nlmsghdr` and `struct inet_diag_msg`.
const HEADER_LEN: usize = 16;
const MSG_LEN: usize = 72;
/// `struct nlmsghdr` and `struct inet_diag_req_v2`.
const REQUEST_LEN: usize = HEADER_LEN + 56;
/// `struct nlmsghdr` and `struct inet_diag_req` (the older request).
const COMPAT_LEN: usize = HEADER_LEN + 60;

/// A listening TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub addr: IpAddr,
    pub port: u16,
    pub inode: u32,
    /// An IPv6 socket that refuses IPv4 (`IPV6_V6ONLY`).
    pub v6only: bool,
}

/// A netlink socket for listener queries.
pub struct Diag {
    fd: OwnedFd,
    buf: Vec<u8>,
    /// Whether the kernel takes the one-dump request (else: one per family).
    compat: bool,
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
        // The kernel answers at once; should it ever not, fail rather than
        // wait past --timeout.
        rustix::net::sockopt::set_socket_timeout(&fd, Timeout::Recv, Some(REPLY_TIMEOUT))
            .map_err(io::Error::from)
            .context("setting a receive timeout on the NETLINK_SOCK_DIAG socket")?;
        Ok(Self {
            fd,
            buf: vec![0; 32 * 1024],
            compat: true,
        })
    }

    /// All TCP sockets in LISTEN state, IPv4 and IPv6.
    /// The older `TCPDIAG_GETSOCK` request dumps both families at once, at
    /// half the cost of two `SOCK_DIAG_BY_FAMILY` dumps; a kernel without it
    /// gets those.
    pub fn listeners(&mut self) -> Result<Vec<Listener>> {
        let mut found = Vec::new();
        if self.compat {
            if self.dump(&compat_request(), &mut found).is_ok() {
                return Ok(found);
            }
            self.compat = false;
            found.clear();
        }
        for family in [AF_INET, AF_INET6] {
            self.dump(&request(family), &mut found)
                .with_context(|| format!("querying listening sockets (family {family})"))?;
        }
        Ok(found)
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

/// Parses one datagram of a dump into `found`. True when the dump is done.
pub fn parse(mut data: &[u8], found: &mut Vec<Listener>) -> Result<bool> {
    while data.len() >= HEADER_LEN {
        let len = u32::from_ne_bytes(data[0..4].try_into()?) as usize;
        let kind = u16::from_ne_bytes(data[4..6].try_into()?);
        if len < HEADER_LEN || len > data.len() {
            bail!("malformed netlink message (length {len})");
        }
        let body = &data[HEADER_LEN..len];
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let code = body
                    .get(0..4)
                    .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap_or_default()));
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

/// Reads an `inet_diag_msg` (at least `MSG_LEN` bytes) and its attributes.
fn listener(body: &[u8]) -> Listener {
    let port = u16::from_be_bytes([body[4], body[5]]);
    let src: [u8; 16] = body[8..24].try_into().unwrap_or_default();
    let addr = if body[0] == AF_INET {
        IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(src))
    };
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::TcpListener;

    fn find(port: u16) -> Vec<Listener> {
        let mut diag = Diag::open().unwrap();
        diag.listeners()
            .unwrap()
            .into_iter()
            .filter(|l| l.port == port)
            .collect()
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
            return; // no IPv6 here
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
        let ports: Vec<u16> = std::iter::once(&v4)
            .chain(v6.as_ref())
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        let mut seen = Vec::new();
        for compat in [true, false] {
            let mut diag = Diag::open().unwrap();
            diag.compat = compat;
            let mut found: Vec<Listener> = diag
                .listeners()
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
    fn requests_are_well_formed() {
        let req = request(AF_INET6);
        assert_eq!(
            u32::from_ne_bytes(req[0..4].try_into().unwrap()) as usize,
            req.len()
        );
        assert_eq!(req[16], AF_INET6);
    }

    #[test]
    fn malformed_replies_are_errors() {
        let mut found = Vec::new();
        let mut msg = vec![0u8; 16];
        msg[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse(&msg, &mut found).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut found = Vec::new();
            let _ = parse(&data, &mut found);
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
