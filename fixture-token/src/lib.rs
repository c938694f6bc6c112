//! fixture-token: read credentials and other fields from Arvados-style YAML
//! test fixtures. See README.md.
//!
//! The reading is a library so that `db-reset` can take a token by fixture name:
//!
//! ```no_run
//! use fixture_token::{Fixtures, AUTH_FILE};
//! let fixtures = Fixtures::load(&std::path::Path::new("fixtures").join(AUTH_FILE))?;
//! let token = fixtures.token("admin")?;
//! # Ok::<(), fixture_token::Error>(())
//! ```

pub mod cli;
pub mod command;
mod fixtures;
mod timestamp;
mod yaml;

pub use fixtures::{trim, Error, Fixtures, AUTH_FILE, TOKEN_FIELD, TRIM_MARKER};
