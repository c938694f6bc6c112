//! The request: one POST, retried while the server refuses connections.

use std::io::Read;
use std::time::{Duration, Instant};

use cliutil::Exit;

use crate::http::{self, humanize, Failure};
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
    if let Err(why) = check_host(host) {
        anyhow::bail!("invalid host '{host}': {why}");
    }
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        anyhow::bail!("invalid --path '{path}': expected an absolute path such as /database/reset");
    }
    Ok(format!("https://{host}{path}"))
}

/// Catches before any work what the URL parser would refuse later, in words.
fn check_host(host: &str) -> Result<(), String> {
    const EXPECTED: &str = "expected HOST or HOST:PORT, e.g. localhost:8000";
    if host.is_empty()
        || host.contains(['/', '@', '?', '#'])
        || host.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(EXPECTED.into());
    }
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ']', e.g. [::1]:8000")?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("'{addr}' is not an IPv6 address"));
        }
        match after {
            "" => (addr, None),
            _ => (addr, Some(after.strip_prefix(':').ok_or(EXPECTED)?)),
        }
    } else if host.matches(':').count() > 1 {
        return Err("write an IPv6 address in brackets, e.g. [::1]:8000".into());
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    if name.is_empty() {
        return Err(EXPECTED.into());
    }
    match port {
        Some(port)
            if !port.bytes().all(|b| b.is_ascii_digit())
                || !matches!(port.parse::<u16>(), Ok(1..)) =>
        {
            Err(format!("port '{port}' is not a number from 1 to 65535"))
        }
        _ => Ok(()),
    }
}

/// Sends the request; `Ok` only on a 2xx answer. Errors carry exit code 1
/// (the server said no, or never answered) or 2 (TLS trouble, bad input).
pub fn send(req: Request<'_>) -> anyhow::Result<()> {
    let url = url(req.host, req.path)?;
    let connect_timeout = req.connect_timeout;
    let agent = http::agent(
        req.tls,
        Some(connect_timeout),
        // Looking the name up is part of connecting.
        move || connect_timeout,
        concat!("db-reset/", env!("CARGO_PKG_VERSION")),
    );
    let auth = format!("{} {}", req.scheme, req.token.expose());
    // No deadline at all only if the one asked for is past what Instant holds.
    let deadline = Instant::now().checked_add(req.retry_for);
    // Short pauses: a refused attempt costs a fraction of a millisecond, and a
    // server that comes up is then noticed within 10 ms.
    let mut pause = Duration::from_millis(1);
    let mut next_said = Instant::now();
    let mut listeners = http::Listeners::new(&url);
    loop {
        let next_full = Instant::now() + http::FULL_EVERY;
        // One deadline for the whole exchange, not one per read: a server
        // trickling its answer a byte at a time cannot hold us past it.
        let result = agent
            .post(&url)
            .timeout(req.connect_timeout.saturating_add(req.read_timeout))
            .set("Authorization", &auth)
            .send_bytes(&[]);
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(err)) => {
                let failure = Failure::of(&err);
                let now = Instant::now();
                let left = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(now));
                if matches!(failure, Failure::Refused(_)) && !left.is_zero() {
                    // At most a line a second, not one an attempt.
                    if req.verbose && now >= next_said {
                        cliutil::warn(
                            "db-reset",
                            format_args!("{}: connection refused, retrying", req.host),
                        );
                        next_said = now + Duration::from_secs(1);
                    }
                    // No new request until someone listens, asked cheaply
                    // (the kernel's socket table for a local address), or
                    // a second has passed.
                    loop {
                        let left = deadline.map_or(Duration::MAX, |d| {
                            d.saturating_duration_since(Instant::now())
                        });
                        std::thread::sleep(pause.min(left));
                        pause = (pause * 2).min(Duration::from_millis(10));
                        if left.is_zero()
                            || Instant::now() >= next_full
                            || !listeners
                                .as_mut()
                                .is_some_and(|l| l.none(req.connect_timeout))
                        {
                            break;
                        }
                    }
                    continue;
                }
                return Err(transport_error(
                    req.host,
                    failure,
                    (req.connect_timeout, req.read_timeout),
                ));
            }
        };
        return check(req.host, &url, response, req.token);
    }
}

fn check(host: &str, url: &str, response: ureq::Response, token: &Token) -> anyhow::Result<()> {
    let status = response.status();
    if (200..300).contains(&status) {
        return Ok(());
    }
    // A server may echo the credentials it refused, in its reason phrase
    // too; they must not reach a log.
    let reason = response.status_text().replace(token.expose(), "<secret>");
    let mut body = Vec::new();
    // A failing server's body is only a hint; a short read is fine. Read a
    // token's length more than is shown, so a token that starts in the
    // shown part is whole when it is masked.
    let limit = BODY_SHOWN + token.expose().len() + 1;
    let _ = response
        .into_reader()
        .take(limit as u64)
        .read_to_end(&mut body);
    // A server may echo the credentials it refused; they must not reach a log.
    let mut text = String::from_utf8_lossy(&body)
        .replace(token.expose(), "<secret>")
        .trim()
        .to_owned();
    if let Some((cut, _)) = text.char_indices().nth(BODY_SHOWN) {
        text.truncate(cut);
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

/// `timeouts` is (connect, read).
fn transport_error(host: &str, failure: Failure, timeouts: (Duration, Duration)) -> anyhow::Error {
    match failure {
        Failure::Tls(why) => anyhow::anyhow!("TLS with {host} failed: {why}"),
        Failure::TimedOut { connecting: true } => Exit::failure(format!(
            "{host} could not be reached within {}",
            humanize(timeouts.0)
        )),
        // The TLS handshake and the whole answer come under the read timeout.
        Failure::TimedOut { connecting: false } => Exit::failure(format!(
            "{host} did not answer within {}",
            humanize(timeouts.1)
        )),
        Failure::Dns(why) => anyhow::anyhow!("cannot resolve {host}: {why}"),
        // Like a connect timeout: the server may be reachable another time.
        Failure::LookupTimedOut(why) => Exit::failure(format!("cannot resolve {host}: {why}")),
        Failure::Url(why) => anyhow::anyhow!("invalid host '{host}': {why}"),
        Failure::Refused(why) | Failure::Connect(why) => {
            Exit::failure(format!("cannot connect to {host}: {why}"))
        }
        Failure::Other(why) => Exit::failure(format!("{host} did not answer properly: {why}")),
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
        assert_eq!(url("[::1]", "/x").unwrap(), "https://[::1]/x");
        assert_eq!(url("h.example", "/x").unwrap(), "https://h.example/x");
        for bad in ["", "a/b", "user@h", "a b", "h\n", ":80", "[::1]x"] {
            let err = url(bad, "/x").unwrap_err().to_string();
            assert!(err.contains("expected HOST or HOST:PORT"), "{err}");
        }
        for (bad, why) in [
            ("h:99999", "port '99999' is not a number from 1 to 65535"),
            ("h:0", "port '0'"),
            ("h:abc", "port 'abc'"),
            ("h:", "port ''"),
            ("h:+80", "port '+80'"),
            ("::1", "write an IPv6 address in brackets"),
            ("[::1", "closing ']'"),
            ("[zz]:1", "'zz' is not an IPv6 address"),
        ] {
            let err = url(bad, "/x").unwrap_err().to_string();
            assert!(err.starts_with(&format!("invalid host '{bad}': ")), "{err}");
            assert!(err.contains(why), "{err}");
        }
        assert!(url("h", "database")
            .unwrap_err()
            .to_string()
            .contains("--path"));
    }
}
