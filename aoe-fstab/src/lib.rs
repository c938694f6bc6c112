//! aoe-fstab: see README.md.

pub mod cli;
