//! The command line of `portwait`.

use clap::Parser;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the operation failed
  2  usage or fatal error";

/// TODO(helper): about.
#[derive(Debug, Parser)]
#[command(name = "portwait", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, after_help = EXIT_CODES)]
pub struct Cli {}
