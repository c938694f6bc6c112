//! db-reset: reset an Arvados test server's database over HTTPS. See README.md.
//!
//! The library also holds the workspace's one HTTPS client ([`http`], [`tls`])
//! and its secret reading ([`token`]), which httpwait uses too.

pub mod cli;
pub mod command;
pub mod http;
mod reset;
pub mod tls;
pub mod token;
mod x509;

/// The openssl command lines of the test certificates, written once for the
/// unit and the integration tests.
#[cfg(test)]
#[path = "../tests/openssl.rs"]
mod openssl;
