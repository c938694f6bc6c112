//! SIGINT and SIGTERM to pidwait itself, as a descriptor to poll next to
//! the pidfds: the signals are blocked and read from a signalfd, so a wait
//! can end promptly and say what was left half done.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// The blocked SIGINT and SIGTERM, readable when one arrives.
#[derive(Debug)]
pub struct Interrupts {
    fd: SignalFd,
}

impl Interrupts {
    /// Blocks SIGINT and SIGTERM in this thread (call it before starting
    /// other threads) and opens a signalfd for them. One we were started
    /// with ignored (SIGINT in a script's `cmd &`, a shell's `trap '' TERM`;
    /// `nohup` ignores SIGHUP only) stays ignored, as the caller asked: a
    /// blocked signal is queued even when ignored.
    pub fn block() -> io::Result<Self> {
        let ignored = ignored_signals();
        let mut mask = SigSet::empty();
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            if ignored & (1 << (signal as u32 - 1)) == 0 {
                mask.add(signal);
            }
        }
        mask.thread_block()?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Self { fd })
    }

    /// The descriptor to poll for input.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The signal that arrived, if one did.
    pub fn take(&self) -> io::Result<Option<Signal>> {
        Ok(self
            .fd
            .read_signal()?
            .and_then(|info| Signal::try_from(info.ssi_signo as i32).ok()))
    }
}

/// The signals this process ignores, as a bit mask (bit N-1 for signal N),
/// from `/proc/self/status`; none if it cannot be read.
fn ignored_signals() -> u64 {
    crate::process::read_proc("/proc/self/status")
        .ok()
        .and_then(|status| parse_sig_ign(&String::from_utf8_lossy(&status)))
        .unwrap_or(0)
}

fn parse_sig_ign(status: &str) -> Option<u64> {
    u64::from_str_radix(crate::process::status_field(status, "SigIgn")?, 16).ok()
}

/// The conventional exit code for death by `signal`: 128 + its number
/// (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code(signal: Signal) -> u8 {
    (128 + signal as i32).clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_signals_are_read_from_sig_ign() {
        let status = "Name:\tx\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000004002\n";
        assert_eq!(parse_sig_ign(status), Some(0x4002));
        assert_eq!(parse_sig_ign("SigIgn:\tzz\n"), None);
        assert_eq!(parse_sig_ign("Name:\tx\n"), None);
    }

    #[test]
    fn the_signalfd_never_blocks_and_is_not_inherited() {
        // Blocks SIGINT and SIGTERM in this test's thread only.
        let interrupts = Interrupts::block().unwrap();
        let fd = interrupts.fd();
        let status = rustix::fs::fcntl_getfl(fd).unwrap();
        assert!(status.contains(rustix::fs::OFlags::NONBLOCK));
        let flags = rustix::io::fcntl_getfd(fd).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }

    #[test]
    fn codes() {
        assert_eq!(exit_code(Signal::SIGINT), 130);
        assert_eq!(exit_code(Signal::SIGTERM), 143);
    }
}
