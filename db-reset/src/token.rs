//! Where the API token comes from. Never argv, never printed.

use std::fmt;
use std::path::Path;

use anyhow::{bail, Context};
use fixture_token::{Fixtures, AUTH_FILE};

/// A token that will not show up in `{:?}` or `{}`.
pub struct Token(String);

impl Token {
    /// Checks that the token can go in an HTTP header; the message says where
    /// it came from, never what it is.
    pub fn new(value: &str, origin: &str) -> anyhow::Result<Self> {
        let value = value.trim();
        if value.is_empty() {
            bail!("the token from {origin} is empty");
        }
        if value.bytes().any(|b| !b.is_ascii_graphic()) {
            bail!("the token from {origin} holds spaces, control or non-ASCII characters");
        }
        Ok(Token(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

/// Where to look, in order: --token-file, --token-name, `ARVADOS_API_TOKEN`.
pub struct Sources<'a> {
    pub file: Option<&'a Path>,
    pub name: Option<&'a str>,
    pub fixtures: Option<&'a Path>,
    pub env: Option<String>,
}

pub fn find(src: &Sources<'_>) -> anyhow::Result<Token> {
    if let Some(file) = src.file {
        let origin = format!("token file {}", file.display());
        let text = read_small(file).with_context(|| format!("cannot read {origin}"))?;
        let text = String::from_utf8(text)
            .map_err(|_| anyhow::anyhow!("the {origin} is not UTF-8 text"))?;
        return Token::new(&text, &origin);
    }
    if let Some(name) = src.name {
        let dir = src
            .fixtures
            .filter(|d| !d.as_os_str().is_empty())
            .context("--token-name needs --fixtures DIR (or ARVADOS_FIXTURES)")?;
        let fixtures = Fixtures::load(&dir.join(AUTH_FILE))?;
        let token = fixtures.token(name)?;
        return Token::new(&token, &format!("fixture entry '{name}'"));
    }
    match &src.env {
        Some(value) => Token::new(value, "ARVADOS_API_TOKEN"),
        None => {
            bail!("no token: set ARVADOS_API_TOKEN, or use --token-file FILE or --token-name NAME")
        }
    }
}

/// Reads a file that should hold one token: a bounded read, so that
/// `/dev/zero` or a log file given by mistake fails instead of eating memory.
fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    cliutil::read_limited(path, 64 * 1024, "a token")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-value";

    fn sources() -> Sources<'static> {
        Sources {
            file: None,
            name: None,
            fixtures: None,
            env: None,
        }
    }

    #[test]
    fn file_wins_and_is_trimmed() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), format!("  {SECRET}\n")).unwrap();
        let src = Sources {
            file: Some(tmp.path()),
            env: Some("other".into()),
            ..sources()
        };
        assert_eq!(find(&src).unwrap().expose(), SECRET);
    }

    #[test]
    fn token_files_are_read_with_a_limit() {
        let err = find(&Sources {
            file: Some(Path::new("/dev/zero")),
            ..sources()
        })
        .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot read token file /dev/zero: more than 64 KiB: not a token"
        );
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), b"\xff\xfe\n").unwrap();
        let src = Sources {
            file: Some(tmp.path()),
            ..sources()
        };
        assert!(find(&src)
            .unwrap_err()
            .to_string()
            .ends_with("is not UTF-8 text"));
    }

    #[test]
    fn an_empty_fixtures_dir_is_none() {
        let src = Sources {
            name: Some("admin"),
            fixtures: Some(Path::new("")),
            ..sources()
        };
        let err = find(&src).unwrap_err().to_string();
        assert!(err.contains("--token-name needs --fixtures DIR"), "{err}");
    }

    #[test]
    fn env_is_the_fallback() {
        let src = Sources {
            env: Some(SECRET.into()),
            ..sources()
        };
        assert_eq!(find(&src).unwrap().expose(), SECRET);
        assert!(find(&sources())
            .unwrap_err()
            .to_string()
            .contains("no token"));
    }

    #[test]
    fn bad_tokens_are_refused_without_showing_them() {
        for bad in ["", "  \n", "two words", "a\r\nX-Evil: 1", "tök"] {
            let err = Token::new(bad, "somewhere").unwrap_err().to_string();
            assert!(err.contains("somewhere"), "{err}");
            assert!(bad.trim().is_empty() || !err.contains(bad.trim()), "{err}");
        }
        assert_eq!(
            format!("{:?}", Token::new(SECRET, "x").unwrap()),
            "Token(<hidden>)"
        );
    }
}
