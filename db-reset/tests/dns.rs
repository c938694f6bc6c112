//! A name server that never answers, for commands run in a private mount
//! namespace: a UDP socket on a loopback address that nobody reads, named in
//! an /etc/resolv.conf bind-mounted over the real one (with /etc/hosts and
//! /etc/nsswitch.conf that send every other name to it). The system
//! resolver then waits for its own timeouts, here 30 s a try, 3 tries.
//! Shared with httpwait's tests.

use std::net::UdpSocket;
use std::process::Command;

pub struct SilentDns {
    _socket: UdpSocket,
    dir: tempfile::TempDir,
}

impl SilentDns {
    /// A name server on `ip` port 53; None (after saying SKIP) if that
    /// cannot be made here.
    pub fn on(ip: &str) -> Option<SilentDns> {
        if !rustix::process::geteuid().is_root() {
            crate::skip("not root: cannot make a mount namespace");
            return None;
        }
        let socket = match UdpSocket::bind((ip, 53)) {
            Ok(socket) => socket,
            Err(e) => {
                crate::skip(&format!("cannot bind {ip}:53/udp: {e}"));
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            (
                "resolv.conf",
                format!("nameserver {ip}\noptions timeout:30 attempts:3\n"),
            ),
            ("hosts", "127.0.0.1 localhost\n".to_owned()),
            ("nsswitch.conf", "hosts: files dns\n".to_owned()),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Some(SilentDns {
            _socket: socket,
            dir,
        })
    }

    /// `program` (add its arguments) run with this name server.
    pub fn command(&self, program: &str) -> Command {
        let d = self.dir.path().display();
        let script = format!(
            "for f in resolv.conf hosts nsswitch.conf; do \
             mount --bind {d}/$f /etc/$f || exit 99; done; exec \"$0\" \"$@\""
        );
        let mut cmd = Command::new("unshare");
        cmd.env_clear().args([
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            program,
        ]);
        cmd
    }
}
