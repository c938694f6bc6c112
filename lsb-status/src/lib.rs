//! lsb-status: see README.md.

pub mod cli;
