//! Where the API token comes from. Never argv, never printed.

use std::fmt;
use std::io::{self, IsTerminal, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};

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

/// Reads a file that should hold one token. See [`read_secret`].
fn read_small(path: &Path) -> io::Result<Vec<u8>> {
    read_secret(path, "a token")
}

/// The most a secret file may hold.
pub const SECRET_LIMIT: u64 = 64 * 1024;

/// How long a pipe on stdin may take to deliver a secret and close.
pub const STDIN_WAIT: Duration = Duration::from_secs(10);

/// Reads a small file holding a secret (`what` names it in errors), bounded
/// in size and time.
///
/// A regular file is read (at most [`SECRET_LIMIT`]). A path that is this
/// process's own stdin (`/dev/stdin`, `/dev/fd/0`) is read from stdin even
/// when that is a pipe, so `--token-file /dev/stdin <<<"$TOKEN"` and
/// `produce-token | tool --token-file /dev/stdin` work, within
/// [`STDIN_WAIT`]. Anything else that is not a regular file (a FIFO, a
/// device, a directory, a socket) is refused at once: reading it could wait
/// forever or never end.
pub fn read_secret(path: &Path, what: &str) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        if stdin_fd().is_ok_and(|fd| same_file(&meta, &std::fs::File::from(fd))) {
            if std::io::stdin().is_terminal() {
                return Err(refused("stdin is a terminal; pipe the secret in instead"));
            }
            return read_stdin(what);
        }
        return Err(refused(&format!("{}, not a regular file", kind(&meta))));
    }
    // Opened non-blocking, checked again through the descriptor: a FIFO put
    // in the file's place since it was looked at cannot hang us.
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(&format!("{}, not a regular file", kind(&meta))));
    }
    limited(file, what)
}

fn refused(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why.to_owned())
}

/// A duplicate of stdin, so comparing it never closes the real one.
fn stdin_fd() -> io::Result<std::os::fd::OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(
        std::io::stdin().as_fd(),
        3,
    )?)
}

fn same_file(meta: &std::fs::Metadata, file: &std::fs::File) -> bool {
    file.metadata()
        .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
}

fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn limited(reader: impl Read, what: &str) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(SECRET_LIMIT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > SECRET_LIMIT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than {} KiB: not {what}", SECRET_LIMIT >> 10),
        ));
    }
    Ok(bytes)
}

/// Reads stdin to its end, waiting at most [`STDIN_WAIT`] in all.
fn read_stdin(what: &str) -> io::Result<Vec<u8>> {
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let deadline = Instant::now() + STDIN_WAIT;
    let mut bytes = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = Timespec::try_from(left).map_err(io::Error::other)?;
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "stdin did not end within {}s (pipe {what} in and close it)",
                        STDIN_WAIT.as_secs()
                    ),
                ))
            }
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        match rustix::io::read(fd, &mut buf) {
            Ok(0) => return limited(&bytes[..], what),
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                if bytes.len() as u64 > SECRET_LIMIT {
                    return limited(&bytes[..], what);
                }
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(e) => return Err(e.into()),
        }
    }
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
        let big = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(big.path(), vec![b'x'; 64 * 1024 + 1]).unwrap();
        let err = find(&Sources {
            file: Some(big.path()),
            ..sources()
        })
        .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "cannot read token file {}: more than 64 KiB: not a token",
                big.path().display()
            )
        );
        std::fs::write(big.path(), vec![b'x'; 64 * 1024]).unwrap();
        assert_eq!(read_secret(big.path(), "x").unwrap().len(), 64 * 1024);
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
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for (path, kind) in [
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a device"),
            (dir.path(), "a directory"),
        ] {
            let err = read_secret(path, "a token").unwrap_err().to_string();
            assert_eq!(err, format!("{kind}, not a regular file"));
        }
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
