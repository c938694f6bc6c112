//! The command line of `lsb-status`.

use clap::Parser;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the operation failed
  2  usage or fatal error";

/// TODO(helper): about.
#[derive(Debug, Parser)]
#[command(name = "lsb-status", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, after_help = EXIT_CODES)]
pub struct Cli {}
