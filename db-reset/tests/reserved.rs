//! A loopback port held bound but not listening (shared with httpwait's
//! tests, which include this file).

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::OwnedFd;

use rustix::net::{self, AddressFamily, SocketType};

/// A loopback port held bound but not listening: connections to it are
/// refused, and no other process can take it before [`Reserved::listen`]
/// (closing a probe listener and binding again would race with them).
pub struct Reserved {
    pub fd: OwnedFd,
    pub port: u16,
}

impl Reserved {
    pub fn new() -> Reserved {
        let fd = net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        net::bind(&fd, &SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = SocketAddrV4::try_from(net::getsockname(&fd).unwrap())
            .unwrap()
            .port();
        Reserved { fd, port }
    }

    pub fn listen(self) -> TcpListener {
        net::listen(&self.fd, 128).unwrap();
        TcpListener::from(self.fd)
    }
}
