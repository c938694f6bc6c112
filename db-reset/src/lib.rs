//! db-reset: see README.md.

pub mod cli;
