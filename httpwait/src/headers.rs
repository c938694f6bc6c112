//! Request headers: from `--header` (public) and `--header-file` (secret).

use std::path::Path;

use anyhow::{bail, Context};

/// One request header. A secret one's value is never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
    pub secret: bool,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.secret { "<hidden>" } else { &self.value };
        write!(f, "{}: {value}", self.name)
    }
}

/// Checks `Name: value`; an error names the header, never its value.
/// From a secret file, even an invalid name is not shown (it may be the
/// secret on a line missing its name).
fn check(line: &str, secret: bool) -> Result<(String, String), String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err("expected 'Name: value'".into());
    };
    let name = name.trim();
    // RFC 9110 token characters.
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        if secret {
            return Err("the text before ':' is not a header name".into());
        }
        return Err(format!("'{}' is not a header name", name.escape_debug()));
    }
    let value = value.trim();
    if value
        .bytes()
        .any(|b| b != b'\t' && (b.is_ascii_control() || !b.is_ascii()))
    {
        return Err(format!(
            "the value of {name} holds control or non-ASCII characters"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Headers that carry credentials.
const CREDENTIALS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Refuses credentials among the `--header` arguments: argv is visible to
/// every user (ps), and a server may echo these headers into a message.
/// The error names the header, never its value.
pub fn refuse_credentials(headers: &[Header]) -> anyhow::Result<()> {
    if let Some(h) = headers
        .iter()
        .find(|h| CREDENTIALS.iter().any(|c| h.name.eq_ignore_ascii_case(c)))
    {
        bail!(
            "--header {}: credentials on the command line are visible to every user (ps); \
             put the header in --header-file FILE (or use --auth)",
            h.name
        );
    }
    Ok(())
}

/// A `--header` argument.
pub fn parse_header(text: &str) -> Result<Header, String> {
    let (name, value) = check(text, false)
        .map_err(|why| format!("invalid header '{}': {why}", text.escape_debug()))?;
    Ok(Header {
        name,
        value,
        secret: false,
    })
}

/// The headers of a `--header-file`: one `Name: value` a line; blank lines
/// and lines starting with `#` are skipped. Errors name the line, never
/// its value.
pub fn read_file(path: &Path) -> anyhow::Result<Vec<Header>> {
    let shown = path.display();
    let bytes = db_reset::token::read_secret(path, "a header file")
        .with_context(|| format!("cannot read --header-file {shown}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("--header-file {shown} is not UTF-8 text"))?;
    let mut headers = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match check(line, true) {
            Ok((name, value)) => headers.push(Header {
                name,
                value,
                secret: true,
            }),
            // The reason may name the header, never the value.
            Err(why) => bail!("--header-file {shown}, line {}: {why}", n + 1),
        }
    }
    if headers.is_empty() {
        bail!("--header-file {shown} holds no header (expected 'Name: value' lines)");
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_from_arguments() {
        let h = parse_header("X-Probe:  yes ").unwrap();
        assert_eq!(
            (h.name.as_str(), h.value.as_str(), h.secret),
            ("X-Probe", "yes", false)
        );
        assert_eq!(parse_header("Empty:").unwrap().value, "");
        for (bad, why) in [
            ("no colon", "expected 'Name: value'"),
            (": v", "is not a header name"),
            ("Bad Name: v", "'Bad Name' is not a header name"),
            ("X: a\r\nEvil: 1", "control or non-ASCII"),
            ("X: tök", "control or non-ASCII"),
        ] {
            let err = parse_header(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn credentials_are_refused_on_the_command_line() {
        for text in ["Authorization: Bearer s3cret", "cookie: s=s3cret"] {
            let err = refuse_credentials(&[parse_header(text).unwrap()])
                .unwrap_err()
                .to_string();
            assert!(err.contains("visible to every user"), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
        refuse_credentials(&[parse_header("X-Probe: 1").unwrap()]).unwrap();
    }

    #[test]
    fn header_files_never_show_values() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            tmp.path(),
            "# comment\n\nAuthorization: Bearer s3cret\nX-Other: 1\n",
        )
        .unwrap();
        let headers = read_file(tmp.path()).unwrap();
        assert_eq!(headers.len(), 2);
        assert!(headers.iter().all(|h| h.secret));
        assert_eq!(format!("{:?}", headers[0]), "Authorization: <hidden>");

        std::fs::write(tmp.path(), "X-Ok: 1\nsecret-without-colon\n").unwrap();
        let err = read_file(tmp.path()).unwrap_err().to_string();
        assert!(err.ends_with("line 2: expected 'Name: value'"), "{err}");
        assert!(!err.contains("secret-without-colon"), "{err}");

        std::fs::write(tmp.path(), "Bearer s3cret: x\n").unwrap();
        let err = read_file(tmp.path()).unwrap_err().to_string();
        assert!(
            err.ends_with("line 1: the text before ':' is not a header name"),
            "{err}"
        );

        std::fs::write(tmp.path(), "X-Token: a\u{1b}b\n").unwrap();
        let err = read_file(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("line 1: the value of X-Token holds control"),
            "{err}"
        );

        std::fs::write(tmp.path(), "\n# nothing\n").unwrap();
        let err = read_file(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("holds no header"), "{err}");
    }
}
