//! The command line of `fixture-token`.

// Doc comments here are `--help` text, where backticks would show.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::builder::{OsStringValueParser, TypedValueParser};
use clap::Parser;

/// Environment variable naming the default fixtures directory.
pub const DIR_ENV: &str = "ARVADOS_FIXTURES";

const EXIT_CODES: &str = "\
Exit codes:
  0  success: the token, field, list, JSON or export lines are printed
  1  no such entry (close names are suggested), the entry is not a map,
     no such field, the field is a list or map, or the token is not a
     string (an unquoted 012, yes or empty value)
  2  usage or fatal error: no fixtures given, or the fixture file is missing,
     unreadable, not valid YAML, or not a map of entries";

/// Print a credential (or any field) from an Arvados-style YAML test fixture.
///
/// Reads the map of entry name to fields in api_client_authorizations.yml and
/// prints the api_token of entry NAME. Text from the line
/// "# Test Helper trims the rest of the file" on is ignored (it is ERB).
#[derive(Debug, Parser)]
#[command(name = "fixture-token", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, long_about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The fixture entry to print (e.g. admin).
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,

    /// Directory holding api_client_authorizations.yml.
    // An empty value (ARVADOS_FIXTURES=) counts as none, as in the shell.
    #[arg(long, value_name = "DIR", env = DIR_ENV,
          value_parser = OsStringValueParser::new().map(PathBuf::from))]
    pub fixtures: Option<PathBuf>,

    /// Read this fixture file instead (any fixture file, e.g. collections.yml);
    /// it wins over --fixtures and ARVADOS_FIXTURES.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Print this field instead of api_token, as Python's str() prints
    /// what PyYAML reads (True, None, 10 for 012, timestamps with their zone).
    #[arg(long, value_name = "F", conflicts_with_all = ["json", "export"])]
    pub field: Option<String>,

    /// Print the entry names, one a line, in file order.
    #[arg(long, conflicts_with_all = ["name", "field", "json", "export"])]
    pub list: bool,

    /// Print the whole entry as one line of JSON.
    #[arg(long, conflicts_with = "export")]
    pub json: bool,

    /// Print `export ARVADOS_API_TOKEN=...` for `eval "$(...)"`.
    #[arg(long)]
    pub export: bool,

    /// With --export, also export ARVADOS_API_HOST=HOST and ARVADOS_API_HOST_INSECURE=true.
    #[arg(long, value_name = "HOST", requires = "export")]
    pub host: Option<String>,
}
