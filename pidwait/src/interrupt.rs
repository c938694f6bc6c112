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
    /// other threads) and opens a signalfd for them.
    pub fn block() -> io::Result<Self> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGINT);
        mask.add(Signal::SIGTERM);
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

/// The conventional exit code for death by `signal`: 128 + its number
/// (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code(signal: Signal) -> u8 {
    (128 + signal as i32).clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(exit_code(Signal::SIGINT), 130);
        assert_eq!(exit_code(Signal::SIGTERM), 143);
    }
}
