//! pidwait: see README.md.

pub mod cli;
