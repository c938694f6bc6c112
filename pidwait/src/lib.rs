//! pidwait: wait for a pidfile, wait for a process to exit, stop a process
//! by pidfile. See README.md.
//!
//! The library part is shared with other tools (`lsb-status`):
//! - [`pidfile`]: strict pidfile reading, half-written files, trust checks;
//! - [`pathtrust`]: whether only root or we could have set up a path
//!   (systemd's `PIDFile=` rules), also for directories (`lsb-status lock`);
//! - [`process`]: process state from `/proc` (a zombie is dead), identity
//!   checks (`--exe`, `--name`), process groups;
//! - [`pidfd`]: waiting for an exit and signalling through a pidfd;
//! - [`schedule`]: signal names and start-stop-daemon `--retry` schedules;
//! - [`stop`]: holding a set of processes, signalling and waiting for them.

pub mod cli;
pub mod dirwatch;
pub mod interrupt;
pub mod pathtrust;
pub mod pidfd;
pub mod pidfile;
pub mod process;
pub mod run;
pub mod schedule;
pub mod stop;
pub mod watch;

pub use nix::sys::signal::Signal;
pub use process::Pid;
