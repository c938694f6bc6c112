//! db-reset: reset an Arvados test server's database over HTTPS. See README.md.

pub mod cli;
pub mod command;
mod reset;
mod tls;
mod token;
