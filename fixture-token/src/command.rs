//! What `fixture-token` does with its command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use cliutil::{shell_quote, Exit};

use crate::cli::{Cli, DIR_ENV};
use crate::fixtures::{Error, Fixtures, AUTH_FILE};

/// Runs the tool; output goes to stdout.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let fixtures = Fixtures::load(&fixture_file(cli)?).map_err(|e| exit(&e))?;
    let mut out = cliutil::stdout();
    if cli.list {
        for name in fixtures.names() {
            writeln!(out, "{name}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = cli.name.as_deref().unwrap_or_default();
    if cli.json {
        let entry = fixtures.entry_json(name).map_err(|e| exit(&e))?;
        writeln!(out, "{entry}")?;
    } else if let Some(field) = &cli.field {
        writeln!(
            out,
            "{}",
            fixtures.field(name, field).map_err(|e| exit(&e))?
        )?;
    } else if cli.export {
        let token = fixtures.token(name).map_err(|e| exit(&e))?;
        writeln!(out, "export ARVADOS_API_TOKEN={}", shell_quote(&token))?;
        if let Some(host) = &cli.host {
            writeln!(out, "export ARVADOS_API_HOST={}", shell_quote(host))?;
            writeln!(out, "export ARVADOS_API_HOST_INSECURE=true")?;
        }
    } else {
        writeln!(out, "{}", fixtures.token(name).map_err(|e| exit(&e))?)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn fixture_file(cli: &Cli) -> anyhow::Result<PathBuf> {
    let dir = cli.fixtures.as_ref().filter(|d| !d.as_os_str().is_empty());
    match (&cli.file, dir) {
        (Some(file), _) => Ok(file.clone()),
        (None, Some(dir)) => Ok(dir.join(AUTH_FILE)),
        (None, None) => {
            bail!("no fixtures given: use --fixtures DIR, --file PATH, or set {DIR_ENV}")
        }
    }
}

/// Carries the lookup error's own exit code.
fn exit(err: &Error) -> anyhow::Error {
    Exit::with_code(err.exit_code(), err.to_string())
}
