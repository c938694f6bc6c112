//! httpwait: wait until HTTP(S) URLs answer as wanted. See README.md.
//!
//! Requests go through db-reset's library, the workspace's one HTTPS client
//! (same trust rules, pinning and error wording as db-reset).

pub mod cli;
pub mod headers;
pub mod probe;
pub mod status;
pub mod wait;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cliutil::Exit;
use db_reset::tls;
use db_reset::token::Token;

use crate::cli::Cli;
use crate::headers::Header;
use crate::probe::{BodyMatch, Probe};
use crate::wait::Plan;

pub fn run(cli: &Cli) -> Result<ExitCode> {
    let start = Instant::now();
    for url in &cli.urls {
        check_url(url)?;
    }
    // A body is sent by POST unless asked otherwise, as curl --data does.
    let method = match (&cli.method, cli.data.is_empty()) {
        (Some(method), _) => method.clone(),
        (None, false) => "POST".to_owned(),
        (None, true) => "GET".to_owned(),
    };
    if cli.data.len() > 1 && cli.data.len() != cli.urls.len() {
        bail!(
            "--data given {} times for {} URLs: give it once (the same body to every URL) or once per URL",
            cli.data.len(),
            cli.urls.len()
        );
    }
    // Each URL with its body, if any.
    let targets: Vec<(String, Option<String>)> = cli
        .urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let data = cli
                .data
                .get(i)
                .or(cli.data.first().filter(|_| cli.data.len() == 1));
            (url.clone(), data.cloned())
        })
        .collect();
    if method == "HEAD" && (cli.body.is_some() || cli.body_regex.is_some() || cli.print_body) {
        bail!(
            "--method HEAD gets no body: --body, --body-regex and --print-body need another method"
        );
    }
    let body = match (&cli.body, &cli.body_regex) {
        (Some(text), _) => Some(BodyMatch::text(text)),
        (None, Some(re)) => Some(BodyMatch::regex(re)?),
        (None, None) => None,
    };
    let headers = request_headers(cli)?;
    if cli.insecure {
        cliutil::warn(
            "httpwait",
            "warning: not verifying TLS certificates (--insecure)",
        );
    }
    let config = tls::cli_config(cli.cacert.as_deref(), cli.insecure)?;
    let deadline = start
        .checked_add(cli.timeout)
        .unwrap_or_else(|| start + cliutil::MAX_DURATION);
    let try_timeout = cli.try_timeout;
    let agent = db_reset::http::agent(
        config,
        None,
        // A name lookup is part of a try.
        move || wait::try_limit(deadline, try_timeout),
        concat!("httpwait/", env!("CARGO_PKG_VERSION")),
    );
    let plan = Plan {
        probe: Probe {
            agent,
            method,
            headers,
            status: cli.status.clone(),
            body,
            body_limit: cli.body_limit,
            keep_body: cli.print_body,
        },
        deadline,
        try_timeout,
        interval: cli.interval,
        once: cli.once,
        verbose: cli.verbose,
    };
    let bodies = wait::wait(plan, &targets).map_err(|failed| not_ready(cli, &failed))?;
    if cli.print_body {
        print_bodies(&bodies)?;
    }
    let Some((program, args)) = cli.command.split_first() else {
        return Ok(ExitCode::SUCCESS);
    };
    let err = Command::new(program).args(args).exec();
    Err(err).context(format!("cannot run {}", program.to_string_lossy()))
}

/// The bodies, each ending in a newline (one is added where it lacks it,
/// an empty body too: one line at least per URL).
fn print_bodies(bodies: &[Vec<u8>]) -> Result<()> {
    let mut out = cliutil::stdout();
    for body in bodies {
        out.write_all(body)?;
        if body.last() != Some(&b'\n') {
            out.write_all(b"\n")?;
        }
    }
    out.flush().context("cannot write standard output")
}

/// The error for URLs never ready: each named with its last failure.
fn not_ready(cli: &Cli, failed: &[(String, crate::probe::Failure)]) -> anyhow::Error {
    let head = if cli.once {
        "not ready".to_owned()
    } else {
        format!(
            "timed out after {}; not ready",
            db_reset::http::humanize(cli.timeout)
        )
    };
    let list: Vec<String> = failed
        .iter()
        .map(|(url, why)| format!("{url}: {why}"))
        .collect();
    let msg = if list.len() == 1 {
        format!("{head}: {}", list[0])
    } else {
        format!("{head}:\n  {}", list.join("\n  "))
    };
    Exit::failure(msg)
}

/// The headers to send: --header, --header-file, and Authorization for --auth.
fn request_headers(cli: &Cli) -> Result<Vec<Header>> {
    headers::refuse_credentials(&cli.header)?;
    let mut headers = cli.header.clone();
    if let Some(path) = &cli.header_file {
        headers.extend(headers::read_file(path)?);
    }
    if let Some(scheme) = &cli.auth {
        if cli.token_file.is_none() && std::env::var_os("ARVADOS_API_TOKEN").is_none() {
            bail!("--auth needs a token: set ARVADOS_API_TOKEN, or use --token-file FILE");
        }
        // As db-reset takes it, without db-reset's fixtures (and their YAML
        // parser, which would double this binary's size).
        let token = match &cli.token_file {
            Some(path) => {
                let origin = format!("token file {}", path.display());
                let bytes = db_reset::token::read_secret(path, "a token")
                    .with_context(|| format!("cannot read {origin}"))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| anyhow::anyhow!("the {origin} is not UTF-8 text"))?;
                Token::new(&text, &origin)?
            }
            None => Token::new(
                &std::env::var("ARVADOS_API_TOKEN").unwrap_or_default(),
                "ARVADOS_API_TOKEN",
            )?,
        };
        headers.push(Header {
            name: "Authorization".into(),
            value: format!("{scheme} {}", token.expose()),
            secret: true,
        });
    }
    Ok(headers)
}

/// Refuses what is not an http(s) URL with a host, and credentials in the
/// URL: argv is public, and the URL is shown in messages.
fn check_url(url: &str) -> Result<()> {
    let shown = url.escape_debug();
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("invalid URL '{shown}': expected http://HOST[:PORT]/PATH or https://…");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        bail!("invalid URL '{shown}': only http:// and https:// URLs can be waited for");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        bail!(
            "invalid URL '{scheme}://…@…': credentials in a URL are visible to every user (ps); \
             put an Authorization header in --header-file instead"
        );
    }
    if authority.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("invalid URL '{shown}': expected http://HOST[:PORT]/PATH or https://…");
    }
    // ureq's own parser has the last word.
    let parsed = ureq::get(url)
        .request_url()
        .map_err(|e| anyhow::anyhow!("invalid URL '{shown}': {e}"))?;
    if parsed.port() == Some(0) {
        bail!("invalid URL '{shown}': port 0 cannot be connected to");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn urls() {
        for good in [
            "http://localhost:8080/health",
            "https://[::1]:9/",
            "HTTP://h",
        ] {
            check_url(good).unwrap();
        }
        for (bad, why) in [
            ("localhost:8080", "expected http://HOST"),
            ("ftp://h/", "only http:// and https://"),
            ("http:///x", "expected http://HOST"),
            ("http://h/a b", "expected http://HOST"),
            ("http://h:99999/", "invalid URL"),
            ("http://h:0/", "port 0 cannot be connected to"),
        ] {
            let err = check_url(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let err = check_url("https://user:pw@h/").unwrap_err().to_string();
        assert!(
            err.contains("credentials in a URL") && !err.contains("pw"),
            "{err}"
        );
    }
}
