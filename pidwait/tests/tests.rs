//! Integration tests: run the real `pidwait` binary against real processes.

mod cli;
mod exit;
mod group;
mod hidepid;
mod kill;
mod safety;
mod support;
mod wait;
