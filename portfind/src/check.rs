//! Whether a port is free: it binds, as a server would bind it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};

use anyhow::{bail, Context, Result};

/// Checks ports on a fixed set of addresses.
#[derive(Debug)]
pub struct Checker {
    addrs: Vec<IpAddr>,
    udp: bool,
}

impl Checker {
    /// With no addresses, checks the IPv4 and IPv6 wildcards, skipping a
    /// family this host does not have. A given address must be local.
    pub fn new(addrs: &[IpAddr], udp: bool) -> Result<Self> {
        let addrs = if addrs.is_empty() {
            let wildcards = [
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ];
            let present: Vec<_> = wildcards
                .into_iter()
                .filter(|a| family_present(&TcpListener::bind((*a, 0))))
                .collect();
            if present.is_empty() {
                bail!("this host has neither IPv4 nor IPv6");
            }
            present
        } else {
            for addr in addrs {
                TcpListener::bind((*addr, 0)).with_context(|| {
                    format!("cannot bind to address {addr}: expected an address of this host")
                })?;
            }
            addrs.to_vec()
        };
        Ok(Self { addrs, udp })
    }

    /// True when `port` binds for TCP (and UDP if asked) on every address.
    /// std sets `SO_REUSEADDR`, as servers do, so a port whose old
    /// connections linger in `TIME_WAIT` still counts as free.
    pub fn is_free(&self, port: u16) -> bool {
        self.addrs.iter().all(|addr| {
            TcpListener::bind((*addr, port)).is_ok()
                && (!self.udp || UdpSocket::bind((*addr, port)).is_ok())
        })
    }
}

/// Whether binding a family's wildcard shows that the host has the family.
/// Only "address family not supported" (a kernel booted with
/// `ipv6.disable=1`, a sandbox whose seccomp filter refuses `AF_INET6`) or
/// "address not available" means it has not. A `disable_ipv6` sysctl is not
/// that: `::` still binds there, as a dual-stack socket covering IPv4. Any
/// other error keeps the family, whose ports then never bind: none is free.
fn family_present(bind: &io::Result<TcpListener>) -> bool {
    match bind {
        Ok(_) => true,
        Err(e) => {
            !(e.kind() == io::ErrorKind::AddrNotAvailable
                || e.raw_os_error() == Some(rustix::io::Errno::AFNOSUPPORT.raw_os_error()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port of `range` free for `checker`. Ports below Linux's ephemeral
    /// range: a port-0 one may be shared with other tests' connections.
    fn free_in(checker: &Checker, range: std::ops::Range<u16>) -> u16 {
        range.into_iter().find(|p| checker.is_free(*p)).unwrap()
    }

    #[test]
    fn a_bound_port_is_not_free_and_a_released_one_is() {
        let checker = Checker::new(&[], false).unwrap();
        let port = free_in(&checker, 17700..17800);
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert!(!checker.is_free(port));
        drop(listener);
        assert!(checker.is_free(port));
    }

    #[test]
    fn udp_is_checked_only_when_asked() {
        let tcp_only = Checker::new(&[IpAddr::V4(Ipv4Addr::LOCALHOST)], false).unwrap();
        let with_udp = Checker::new(&[IpAddr::V4(Ipv4Addr::LOCALHOST)], true).unwrap();
        let port = free_in(&with_udp, 17800..17900);
        let _socket = UdpSocket::bind(("0.0.0.0", port)).unwrap();
        assert!(tcp_only.is_free(port));
        assert!(!with_udp.is_free(port));
    }

    fn bind_error(errno: rustix::io::Errno) -> io::Result<TcpListener> {
        Err(io::Error::from_raw_os_error(errno.raw_os_error()))
    }

    #[test]
    fn a_family_is_absent_only_when_its_wildcard_cannot_exist() {
        use rustix::io::Errno;
        assert!(family_present(&TcpListener::bind(("127.0.0.1", 0))));
        assert!(!family_present(&bind_error(Errno::AFNOSUPPORT)));
        assert!(!family_present(&bind_error(Errno::ADDRNOTAVAIL)));
        // Not allowed is not absent: the family stays, and no port is free.
        assert!(family_present(&bind_error(Errno::ACCESS)));
        assert!(family_present(&bind_error(Errno::ADDRINUSE)));
    }

    #[test]
    fn a_foreign_address_is_refused() {
        let err = Checker::new(&["192.0.2.1".parse().unwrap()], false).unwrap_err();
        assert!(format!("{err:#}").contains("192.0.2.1"), "{err:#}");
    }
}
