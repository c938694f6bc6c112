//! The request: one POST, retried while the server refuses connections.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cliutil::Exit;

use crate::tls;
use crate::token::Token;

/// How much of an error body to show.
const BODY_SHOWN: usize = 300;

pub struct Request<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub scheme: &'a str,
    pub token: &'a Token,
    pub tls: rustls::ClientConfig,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub retry_for: Duration,
    pub verbose: bool,
}

/// Checks HOST (or HOST:PORT) and PATH and makes the URL.
pub fn url(host: &str, path: &str) -> anyhow::Result<String> {
    if host.is_empty()
        || host.contains(['/', '@', '?', '#'])
        || host.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        anyhow::bail!("invalid host '{host}': expected HOST or HOST:PORT, e.g. localhost:8000");
    }
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        anyhow::bail!("invalid --path '{path}': expected an absolute path such as /database/reset");
    }
    Ok(format!("https://{host}{path}"))
}

/// Sends the request; `Ok` only on a 2xx answer. Errors carry exit code 1
/// (the server said no, or never answered) or 2 (TLS trouble, bad input).
pub fn send(req: Request<'_>) -> anyhow::Result<()> {
    let url = url(req.host, req.path)?;
    let agent = ureq::AgentBuilder::new()
        .tls_config(Arc::new(req.tls))
        .timeout_connect(req.connect_timeout)
        .timeout_read(req.read_timeout)
        .timeout_write(req.read_timeout)
        .redirects(0)
        .user_agent(concat!("db-reset/", env!("CARGO_PKG_VERSION")))
        .build();
    let auth = format!("{} {}", req.scheme, req.token.expose());
    let deadline = Instant::now() + req.retry_for;
    let mut pause = Duration::from_millis(5);
    loop {
        let result = agent.post(&url).set("Authorization", &auth).send_bytes(&[]);
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(err)) => {
                let now = Instant::now();
                if refused(&err) && now < deadline {
                    if req.verbose {
                        eprintln!("db-reset: {}: connection refused, retrying", req.host);
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(Duration::from_millis(100));
                    continue;
                }
                return Err(transport_error(
                    req.host,
                    &err,
                    (req.connect_timeout, req.read_timeout),
                ));
            }
        };
        return check(req.host, &url, response);
    }
}

fn check(host: &str, url: &str, response: ureq::Response) -> anyhow::Result<()> {
    let status = response.status();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let reason = response.status_text().to_owned();
    let mut body = Vec::new();
    // A failing server's body is only a hint; a short read is fine.
    let _ = response
        .into_reader()
        .take(BODY_SHOWN as u64 + 1)
        .read_to_end(&mut body);
    let mut text = String::from_utf8_lossy(&body).trim().to_owned();
    if body.len() > BODY_SHOWN {
        text.truncate(
            text.char_indices()
                .nth(BODY_SHOWN)
                .map_or(text.len(), |(i, _)| i),
        );
        text.push('…');
    }
    let text = text.replace(['\r', '\n'], " ");
    let mut msg = format!("{host} answered {status} {reason} to POST {url}");
    if !text.is_empty() {
        msg.push_str(": ");
        msg.push_str(&text);
    }
    Err(Exit::failure(msg))
}

fn io_errors(err: &ureq::Transport) -> impl Iterator<Item = &io::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    std::iter::from_fn(move || loop {
        let cur = next?;
        next = cur.source();
        if let Some(io) = cur.downcast_ref::<io::Error>() {
            return Some(io);
        }
    })
}

fn refused(err: &ureq::Transport) -> bool {
    err.kind() == ureq::ErrorKind::ConnectionFailed
        && io_errors(err).any(|e| e.kind() == io::ErrorKind::ConnectionRefused)
}

/// The rustls error inside an I/O error, if the failure was TLS.
fn tls_error(err: &ureq::Transport) -> Option<&rustls::Error> {
    io_errors(err).find_map(|e| e.get_ref()?.downcast_ref::<rustls::Error>())
}

/// `timeouts` is (connect, read).
fn transport_error(
    host: &str,
    err: &ureq::Transport,
    timeouts: (Duration, Duration),
) -> anyhow::Error {
    if let Some(tls) = tls_error(err) {
        return anyhow::anyhow!("TLS with {host} failed: {}", tls::explain(tls));
    }
    if io_errors(err).any(|e| {
        matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        )
    }) {
        // ureq marks the TCP connect step with this message; the TLS
        // handshake and the answer come later, under the read timeout.
        let what = if err.message() == Some("Connect error") {
            format!("could not be reached within {}", humanize(timeouts.0))
        } else {
            format!("did not answer within {}", humanize(timeouts.1))
        };
        return Exit::failure(format!("{host} {what}"));
    }
    match err.kind() {
        ureq::ErrorKind::Dns => anyhow::anyhow!("cannot resolve {host}: {}", cause(err)),
        ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
            anyhow::anyhow!("invalid host '{host}': {err}")
        }
        ureq::ErrorKind::ConnectionFailed => {
            Exit::failure(format!("cannot connect to {host}: {}", cause(err)))
        }
        _ => Exit::failure(format!("{host} did not answer properly: {}", cause(err))),
    }
}

fn cause(err: &ureq::Transport) -> String {
    io_errors(err)
        .next()
        .map_or_else(|| err.to_string(), ToString::to_string)
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            url("h:8000", "/database/reset").unwrap(),
            "https://h:8000/database/reset"
        );
        assert_eq!(url("[::1]:9", "/x").unwrap(), "https://[::1]:9/x");
        for bad in ["", "a/b", "user@h", "a b", "h\n"] {
            let err = url(bad, "/x").unwrap_err().to_string();
            assert!(err.contains("expected HOST or HOST:PORT"), "{err}");
        }
        assert!(url("h", "database")
            .unwrap_err()
            .to_string()
            .contains("--path"));
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(humanize(Duration::from_secs(60)), "60s");
        assert_eq!(humanize(Duration::from_millis(300)), "300ms");
    }
}
