//! Integration tests: run the real `pidwait` binary against real processes.

mod cli;
mod exit;
mod kill;
mod safety;
mod support;
mod wait;
