//! The command line of `fixture-token`.

// Doc comments here are `--help` text, where backticks would show.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::Parser;

/// Environment variable naming the default fixtures directory.
pub const DIR_ENV: &str = "ARVADOS_FIXTURES";

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  no such entry, no such field, or the field is a list or map
  2  usage error, or the fixture file is missing or not valid YAML";

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
    #[arg(long, value_name = "DIR", env = DIR_ENV, conflicts_with = "file")]
    pub fixtures: Option<PathBuf>,

    /// Read this fixture file instead (any fixture file, e.g. collections.yml).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Print this field instead of api_token. Timestamps print as PyYAML's
    /// str() does; other non-string values in their JSON form.
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
