//! What `db-reset` does with its command line.

use std::io::Write;
use std::process::ExitCode;

use cliutil::shell_quote;

use crate::cli::Cli;
use crate::reset::{self, Request};
use crate::tls;
use crate::token::{self, Sources};

/// `ARVADOS_API_HOST_INSECURE` values that mean yes, as Arvados' SDKs read it.
fn truthy(value: &str) -> bool {
    ["1", "t", "true", "y", "yes", "on"]
        .iter()
        .any(|yes| value.trim().eq_ignore_ascii_case(yes))
}

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    // Check the host first: a usage error should not cost a file read.
    reset::url(&cli.host, &cli.path)?;
    let token = token::find(&Sources {
        file: cli.token_file.as_deref(),
        name: cli.token_name.as_deref(),
        fixtures: cli.fixtures.as_deref(),
        env: std::env::var("ARVADOS_API_TOKEN").ok(),
    })?;
    // Flags over environment, as curl and git do: an explicit --cacert keeps
    // pinning even when ARVADOS_API_HOST_INSECURE (which `--export` and the
    // stack scripts set) says otherwise.
    let insecure = cli.insecure
        || (cli.cacert.is_none()
            && std::env::var("ARVADOS_API_HOST_INSECURE").is_ok_and(|v| truthy(&v)));
    if insecure {
        cliutil::warn(
            "db-reset",
            format_args!(
                "warning: not verifying the TLS certificate of {} (insecure)",
                cli.host
            ),
        );
    }
    let config = tls::cli_config(cli.cacert.as_deref(), insecure)?;
    reset::send(Request {
        host: &cli.host,
        path: &cli.path,
        scheme: &cli.scheme,
        token: &token,
        tls: config,
        connect_timeout: cli.connect_timeout,
        read_timeout: cli.read_timeout,
        retry_for: cli.retry_for,
        verbose: cli.verbose,
    })?;
    if cli.export {
        // What run_test_server.py's reset() left in os.environ.
        let mut out = cliutil::stdout();
        writeln!(out, "export ARVADOS_API_HOST_INSECURE=true")?;
        writeln!(out, "export ARVADOS_API_HOST={}", shell_quote(&cli.host))?;
        writeln!(
            out,
            "export ARVADOS_API_TOKEN={}",
            shell_quote(token.expose())
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::truthy;

    #[test]
    fn insecure_values() {
        for yes in ["1", "true", "TRUE", "yes", " on "] {
            assert!(truthy(yes), "{yes}");
        }
        for no in ["", "0", "false", "no", "off", "maybe"] {
            assert!(!truthy(no), "{no}");
        }
    }
}
