//! portfind: see README.md.

pub mod cli;
