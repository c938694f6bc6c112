//! One try of one URL: a request through the workspace's HTTPS client, and
//! the verdict on its answer.

use std::fmt::{self, Write};
use std::io::Read;
use std::time::Duration;

use db_reset::http::{self, humanize};
use regex_lite::Regex;

use crate::headers::Header;
use crate::status::StatusSet;

/// How much of a body a failure shows.
const EXCERPT: usize = 100;

/// What the body must hold.
#[derive(Debug)]
pub struct BodyMatch {
    pub re: Regex,
    /// For messages: `contain "OK"`, `match /ok|ready/`.
    pub what: String,
}

impl BodyMatch {
    pub fn text(text: &str) -> BodyMatch {
        BodyMatch {
            re: Regex::new(&regex_lite::escape(text)).expect("an escaped text is a valid regex"),
            what: format!("contain {text:?}"),
        }
    }

    pub fn regex(re: &str) -> anyhow::Result<BodyMatch> {
        let compiled = regex_lite::RegexBuilder::new(re)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| anyhow::anyhow!("invalid --body-regex '{re}': {e}"))?;
        Ok(BodyMatch {
            re: compiled,
            what: format!("match /{re}/"),
        })
    }
}

/// How every URL is asked and judged.
pub struct Probe {
    pub agent: ureq::Agent,
    pub method: String,
    pub headers: Vec<Header>,
    pub status: StatusSet,
    pub body: Option<BodyMatch>,
    pub body_limit: u64,
    /// Whether the body of a wanted answer is kept (--print-body).
    pub keep_body: bool,
}

/// Why a try did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer: (why, the try's timeout).
    Net(http::Failure, Duration),
    /// An answer with an unwanted status.
    Status { line: String, excerpt: String },
    /// A wanted status, but the body did not hold what it should.
    Body {
        line: String,
        what: String,
        read: u64,
        excerpt: String,
    },
    /// A wanted status, but a body to print that broke off (an error or
    /// the try's timeout after `read` bytes) or ran past `--body-limit`.
    Cut { line: String, why: String },
}

impl Failure {
    /// Nobody listening: cheap to ask again soon.
    pub fn refused(&self) -> bool {
        matches!(self, Failure::Net(http::Failure::Refused(_), _))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use http::Failure as F;
        match self {
            Failure::Net(net, timeout) => match net {
                F::Refused(_) => f.write_str("connection refused"),
                F::TimedOut { connecting: true } => {
                    write!(f, "no connection within {}", humanize(*timeout))
                }
                F::TimedOut { connecting: false } => {
                    write!(f, "no whole answer within {}", humanize(*timeout))
                }
                F::Tls(why) => write!(f, "TLS failed: {why}"),
                F::Dns(why) | F::LookupTimedOut(why) => {
                    write!(f, "cannot resolve the host: {why}")
                }
                F::Url(why) => write!(f, "invalid URL: {why}"),
                F::Connect(why) => write!(f, "cannot connect: {why}"),
                F::Other(why) => write!(f, "no proper answer: {why}"),
            },
            Failure::Status { line, excerpt } => {
                write!(f, "answered {line}")?;
                if !excerpt.is_empty() {
                    write!(f, ": {excerpt}")?;
                }
                Ok(())
            }
            Failure::Body {
                line,
                what,
                read,
                excerpt,
            } => write!(
                f,
                "answered {line}, but the body (first {read} bytes read) does not {what}: {excerpt}"
            ),
            Failure::Cut { line, why } => write!(f, "answered {line}, but the body {why}"),
        }
    }
}

impl Probe {
    /// One request to `url` (with `data` as its body, if any), all of it
    /// (connecting, TLS, the answer, the body read) within `timeout`; a
    /// wanted answer's body if it is kept (else empty).
    pub fn try_once(
        &self,
        url: &str,
        data: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<u8>, Failure> {
        let mut request = self.agent.request(&self.method, url).timeout(timeout);
        for h in &self.headers {
            request = request.set(&h.name, &h.value);
        }
        let answer = match data {
            Some(data) => request.send_string(data),
            None => request.call(),
        };
        let response = match answer {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(err)) => {
                return Err(Failure::Net(http::Failure::of(&err), timeout))
            }
        };
        let status = response.status();
        let mut line = format!("{status} {}", response.status_text());
        if (300..400).contains(&status) {
            if let Some(to) = response.header("location") {
                let _ = write!(line, " (to {to}; redirects are not followed)");
            }
        }
        let line = clean(&self.mask(&line));
        if !self.status.contains(status) {
            let body = read_prefix(response, EXCERPT as u64 * 4);
            return Err(Failure::Status {
                line,
                excerpt: self.excerpt(&body),
            });
        }
        if self.body.is_none() && !self.keep_body {
            // Not read: an endless body cannot hold us.
            return Ok(Vec::new());
        }
        if self.keep_body {
            // Printed as the body: only whole, never a prefix.
            let body = read_whole(response, self.body_limit).map_err(|why| Failure::Cut {
                line: line.clone(),
                why: clean(&self.mask(&why)),
            })?;
            return match &self.body {
                Some(want) if !want.re.is_match(&String::from_utf8_lossy(&body)) => {
                    Err(Failure::Body {
                        line,
                        what: want.what.clone(),
                        read: body.len() as u64,
                        excerpt: self.excerpt(&body),
                    })
                }
                _ => Ok(body),
            };
        }
        let body = read_prefix(response, self.body_limit);
        // Matched as text; bytes that are not UTF-8 (or a character cut at
        // the limit) stand as U+FFFD.
        let Some(want) = &self.body else {
            return Ok(Vec::new());
        };
        if want.re.is_match(&String::from_utf8_lossy(&body)) {
            return Ok(Vec::new());
        }
        Err(Failure::Body {
            line,
            what: want.what.clone(),
            read: body.len() as u64,
            excerpt: self.excerpt(&body),
        })
    }

    /// The start of a body for a message: on one line, control characters
    /// escaped, secrets masked.
    fn excerpt(&self, body: &[u8]) -> String {
        let text = self.mask(&String::from_utf8_lossy(body));
        let text = clean(text.trim());
        match text.char_indices().nth(EXCERPT) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        }
    }

    /// `text` from the server with the values of secret headers as
    /// `<secret>`: a server may echo them (in its body, a reason phrase, a
    /// Location). A token also shows without its scheme ("Bearer TOKEN"),
    /// and a secret's start at the very end is masked too (the read may
    /// have cut it there).
    fn mask(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for h in self.headers.iter().filter(|h| h.secret) {
            let token = h
                .value
                .split_once(' ')
                .map(|(_, t)| t)
                .filter(|t| t.len() >= 8);
            for secret in std::iter::once(h.value.as_str()).chain(token) {
                if secret.is_empty() {
                    continue;
                }
                text = text.replace(secret, "<secret>");
                let cut = (4..secret.len())
                    .rev()
                    .filter(|&n| secret.is_char_boundary(n))
                    .find(|&n| text.ends_with(&secret[..n]));
                if let Some(n) = cut {
                    text.truncate(text.len() - n);
                    text.push_str("<secret>");
                }
            }
        }
        text
    }
}

/// Reads at most `limit` bytes of the body (within the request's deadline);
/// a short read is what there is.
fn read_prefix(response: ureq::Response, limit: u64) -> Vec<u8> {
    let mut body = Vec::new();
    let _ = response.into_reader().take(limit).read_to_end(&mut body);
    body
}

/// The whole body, at most `limit` bytes (within the request's deadline);
/// else why it is not whole.
fn read_whole(response: ureq::Response, limit: u64) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let read = response
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut body);
    let len = body.len() as u64;
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(format!(
            "was not whole within the try's timeout ({len} bytes read)"
        )),
        Err(e) => Err(format!("broke off after {len} bytes: {e}")),
        Ok(_) if len > limit => Err(format!(
            "is longer than --body-limit ({limit} bytes): not printed cut"
        )),
        Ok(_) => Ok(body),
    }
}

/// Whitespace runs as one space, other control characters escaped.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
            continue;
        }
        space = false;
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_matches() {
        let m = BodyMatch::text("a.b (ok)");
        assert!(m.re.is_match("xx a.b (ok) yy"));
        assert!(!m.re.is_match("axb (ok)"));
        assert_eq!(m.what, "contain \"a.b (ok)\"");
        let m = BodyMatch::regex(r#""status":\s*"ok""#).unwrap();
        assert!(m.re.is_match("{\"status\": \"ok\"}"));
        let err = BodyMatch::regex("(unclosed").unwrap_err().to_string();
        assert!(err.starts_with("invalid --body-regex '(unclosed'"), "{err}");
    }

    #[test]
    fn secrets_are_masked_even_cut() {
        let probe = Probe {
            agent: ureq::AgentBuilder::new().build(),
            method: "GET".into(),
            headers: vec![Header {
                name: "Authorization".into(),
                value: "Bearer s3cret-token".into(),
                secret: true,
            }],
            status: StatusSet::parse("200").unwrap(),
            body: None,
            body_limit: 10,
            keep_body: false,
        };
        assert_eq!(
            probe.mask("got Bearer s3cret-token and s3cret-token"),
            "got <secret> and <secret>"
        );
        // A read cut in the middle of the token.
        assert_eq!(probe.mask("you sent s3cret-t"), "you sent <secret>");
        assert_eq!(probe.mask("ends in s3c"), "ends in s3c");
        assert_eq!(probe.excerpt(b"key=s3cret-tok"), "key=<secret>");
    }

    #[test]
    fn text_is_cleaned() {
        assert_eq!(clean("a\r\n  b\u{1b}[31m"), "a b\\u{1b}[31m");
    }

    #[test]
    fn failures_read_plainly() {
        let f = Failure::Net(http::Failure::Refused("x".into()), Duration::from_secs(5));
        assert!(f.refused());
        assert_eq!(f.to_string(), "connection refused");
        let f = Failure::Net(
            http::Failure::TimedOut { connecting: false },
            Duration::from_millis(500),
        );
        assert_eq!(f.to_string(), "no whole answer within 500ms");
        let f = Failure::Body {
            line: "200 OK".into(),
            what: "contain \"OK\"".into(),
            read: 3,
            excerpt: "NO!".into(),
        };
        assert_eq!(
            f.to_string(),
            "answered 200 OK, but the body (first 3 bytes read) does not contain \"OK\": NO!"
        );
    }
}
