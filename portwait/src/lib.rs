//! portwait: see README.md.

pub mod cli;
