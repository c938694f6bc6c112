//! Sockets for tests, shared by the integration tests (through
//! `tests/common`) and diag.rs's unit tests (by path).

use rustix::fd::OwnedFd;
use rustix::net::{bind, listen, socket_with, sockopt, AddressFamily, SocketFlags, SocketType};
use std::net::{SocketAddr, TcpListener};

/// A TCP socket bound to `addr` (port 0: any), IPv6-only if asked (an IPv6
/// address), not yet listening: it holds its port, and the kernel lists it
/// as a listener only once `listen` runs. None if this host cannot (no
/// IPv6, no such address). Close-on-exec: a parallel test's child must not
/// keep it open.
pub fn bound_as(addr: &str, v6only: bool) -> Option<(OwnedFd, u16)> {
    let addr: SocketAddr = addr.parse().unwrap();
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None).ok()?;
    if addr.is_ipv6() {
        sockopt::set_ipv6_v6only(&fd, v6only).ok()?;
    }
    bind(&fd, &addr).ok()?;
    let port = SocketAddr::try_from(rustix::net::getsockname(&fd).ok()?)
        .ok()?
        .port();
    Some((fd, port))
}

/// A socket listening on `addr` (port 0), IPv6-only if asked; None if this
/// host cannot.
pub fn listening(addr: &str, v6only: bool) -> Option<TcpListener> {
    let (fd, _) = bound_as(addr, v6only)?;
    listen(&fd, 16).unwrap();
    Some(TcpListener::from(fd))
}
