//! fixture-token: see README.md.

pub mod cli;
