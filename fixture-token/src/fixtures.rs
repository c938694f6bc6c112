//! Reading a fixture file: a YAML map of entry name → map of fields.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::yaml::{self, Map, Value};

/// Everything from this text on is ERB, not YAML; Arvados' test helper cuts it off.
pub const TRIM_MARKER: &str = "# Test Helper trims the rest of the file";

/// The fixture file that holds API tokens.
pub const AUTH_FILE: &str = "api_client_authorizations.yml";

/// The field `fixture-token NAME` prints by default.
pub const TOKEN_FIELD: &str = "api_token";

/// Why a fixture could not be read or looked up.
#[derive(Debug)]
pub enum Error {
    Read {
        path: PathBuf,
        source: io::Error,
    },
    Malformed {
        path: PathBuf,
        reason: String,
    },
    NotAMap {
        path: PathBuf,
        found: &'static str,
    },
    UnknownEntry {
        path: PathBuf,
        name: String,
        closest: Vec<String>,
    },
    EntryNotAMap {
        path: PathBuf,
        name: String,
        found: &'static str,
    },
    MissingField {
        path: PathBuf,
        name: String,
        field: String,
        fields: Vec<String>,
    },
    NotScalar {
        path: PathBuf,
        name: String,
        field: String,
        found: &'static str,
    },
    /// A token that YAML did not read as a string (`None`, `True`, `10`
    /// for `012`): printing Python's `str()` of it would hand out a
    /// credential that is not the one in the file.
    TokenNotText {
        path: PathBuf,
        name: String,
        found: &'static str,
        shown: String,
    },
}

impl Error {
    /// 1 when the file is fine but lacks what was asked for; 2 when the file
    /// itself cannot be used.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Read { .. } | Error::Malformed { .. } | Error::NotAMap { .. } => cliutil::FATAL,
            _ => cliutil::FAILURE,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, source } => write!(f, "cannot read {}: {source}", shown(path)),
            Error::Malformed { path, reason } => {
                write!(f, "{}:{}", shown(path), esc(reason))
            }
            Error::NotAMap { path, found } => write!(
                f,
                "{}: expected a map of entry name to fields at the top level, found {found}",
                shown(path)
            ),
            Error::UnknownEntry {
                path,
                name,
                closest,
            } => {
                write!(f, "no entry '{}' in {}", esc(name), shown(path))?;
                if !closest.is_empty() {
                    write!(f, " (closest: {})", esc(&closest.join(", ")))?;
                }
                Ok(())
            }
            Error::EntryNotAMap { path, name, found } => write!(
                f,
                "entry '{}' in {} is {found}, expected a map of fields",
                esc(name),
                shown(path)
            ),
            Error::MissingField {
                path,
                name,
                field,
                fields,
            } => write!(
                f,
                "entry '{}' in {} has no field '{}' (it has: {})",
                esc(name),
                shown(path),
                esc(field),
                esc(&fields.join(", "))
            ),
            Error::NotScalar {
                path,
                name,
                field,
                found,
            } => write!(
                f,
                "field '{}' of entry '{}' in {} is {found}, not a single value \
                 (use --json to see it)",
                esc(field),
                esc(name),
                shown(path)
            ),
            Error::TokenNotText {
                path,
                name,
                found,
                shown: text,
            } => write!(
                f,
                "{TOKEN_FIELD} of entry '{}' in {} is {found} ({} as YAML reads it), \
                 not a string: quote it in the file",
                esc(name),
                shown(path),
                esc(text)
            ),
        }
    }
}

/// Text from input or the command line, control characters escaped.
fn esc(text: &str) -> std::borrow::Cow<'_, str> {
    cliutil::escape_controls(text)
}

fn shown(path: &Path) -> String {
    esc(&path.to_string_lossy()).into_owned()
}

// No `source()`: each message already ends with its cause, and anyhow's
// `{:#}` would print the cause a second time.
impl std::error::Error for Error {}

/// A parsed fixture file.
#[derive(Debug)]
pub struct Fixtures {
    path: PathBuf,
    entries: Map,
}

impl Fixtures {
    /// Reads and parses the fixture file at `path`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = read_limited(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &bytes)
    }

    /// Parses fixture text; `path` is only used in messages.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, Error> {
        let path = path.to_owned();
        let malformed = |line: usize, column: usize, reason: String| Error::Malformed {
            path: path.clone(),
            reason: format!("{line}:{column}: {reason}"),
        };
        let bytes = trim(bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let (line, column) = position(bytes, e.valid_up_to());
            let bad = &bytes[e.valid_up_to()..];
            let bad = &bad[..e.error_len().unwrap_or(bad.len()).min(4)];
            malformed(
                line,
                column,
                format!(
                    "invalid UTF-8 ({}): expected UTF-8 text",
                    cliutil::escape_bytes(bad)
                ),
            )
        })?;
        if let Some((at, c)) = text.char_indices().find(|(_, c)| !printable(*c)) {
            let (line, column) = position(bytes, at);
            return Err(malformed(
                line,
                column,
                format!(
                    "special character '{}' (U+{:04X}): expected printable text, as PyYAML does",
                    esc(c.encode_utf8(&mut [0; 4])),
                    u32::from(c)
                ),
            ));
        }
        // A byte order mark opening the file is skipped, as PyYAML does.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let doc = yaml::load(text).map_err(|e| malformed(e.line, e.column, e.reason))?;
        let entries = match doc {
            Value::Map(map) => map,
            Value::Null => Map::new(), // an empty file, or only comments
            other => {
                return Err(Error::NotAMap {
                    path,
                    found: other.kind(),
                })
            }
        };
        Ok(Fixtures { path, entries })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entry names, in file order.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.entries.iter().filter_map(|(key, _)| key.text())
    }

    fn entry(&self, name: &str) -> Result<&Map, Error> {
        let value = self
            .entries
            .iter()
            .find(|(key, _)| key.text().as_deref() == Some(name))
            .map(|(_, value)| value)
            .ok_or_else(|| Error::UnknownEntry {
                path: self.path.clone(),
                name: name.to_owned(),
                closest: closest(name, self.names()),
            })?;
        match value {
            Value::Map(map) => Ok(map),
            other => Err(Error::EntryNotAMap {
                path: self.path.clone(),
                name: name.to_owned(),
                found: other.kind(),
            }),
        }
    }

    /// One field of an entry, as text: as Python's `str()` prints what
    /// `PyYAML` loads (`True`, `42`, `1000.0`, `None`, timestamps as
    /// `2013-12-26 19:22:54+00:00`).
    pub fn field(&self, name: &str, field: &str) -> Result<String, Error> {
        let value = self.value(name, field)?;
        value.text().ok_or_else(|| Error::NotScalar {
            path: self.path.clone(),
            name: name.to_owned(),
            field: field.to_owned(),
            found: value.kind(),
        })
    }

    fn value(&self, name: &str, field: &str) -> Result<&Value, Error> {
        let entry = self.entry(name)?;
        entry
            .iter()
            .find(|(key, _)| key.text().as_deref() == Some(field))
            .map(|(_, value)| value)
            .ok_or_else(|| Error::MissingField {
                path: self.path.clone(),
                name: name.to_owned(),
                field: field.to_owned(),
                fields: entry.iter().filter_map(|(key, _)| key.text()).collect(),
            })
    }

    /// The entry's API token, which must be a string: an unquoted `012`,
    /// `yes` or empty value is not printed as `10`, `True` or `None`. (The
    /// original failed on such a token too, or printed `''` for null.)
    pub fn token(&self, name: &str) -> Result<String, Error> {
        match self.value(name, TOKEN_FIELD)? {
            Value::Str(text) => Ok(text.clone()),
            Value::Seq(_) | Value::Map(_) => self.field(name, TOKEN_FIELD),
            other => Err(Error::TokenNotText {
                path: self.path.clone(),
                name: name.to_owned(),
                found: other.kind(),
                shown: other.text().unwrap_or_default(),
            }),
        }
    }

    /// The whole entry as JSON.
    pub fn entry_json(&self, name: &str) -> Result<serde_json::Value, Error> {
        let entry = self.entry(name)?;
        Ok(Value::Map(entry.clone()).to_json())
    }
}

/// The largest fixture file read; Arvados' biggest is well under 1 MiB.
/// A file of tiny entries takes about 50 times its size in memory (825 MB
/// measured for 16 MiB of one-field entries): this keeps that bounded.
const MAX_FILE: u64 = 16 << 20;

/// Reads a whole file, but refuses one beyond [`MAX_FILE`], and anything
/// but a regular file (a FIFO would block, `/dev/zero` never end).
fn read_limited(path: &Path) -> io::Result<Vec<u8>> {
    cliutil::read_regular_limited(path, MAX_FILE, "a fixture file")
}

/// Cuts the text at the trim marker, as Arvados' test helper does.
pub fn trim(bytes: &[u8]) -> &[u8] {
    let marker = TRIM_MARKER.as_bytes();
    bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .map_or(bytes, |at| &bytes[..at])
}

/// What `PyYAML`'s reader accepts in a stream (its `NON_PRINTABLE`): a file
/// with an ESC, DEL or C1 control anywhere is refused whole, so none can
/// reach a token printed to a terminal.
fn printable(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// The 1-based line and column (in characters) of byte `at`.
fn position(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.split(|b| *b == b'\n').count();
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Up to three entry names close to `name`, best first.
fn closest(name: &str, names: impl Iterator<Item = String>) -> Vec<String> {
    let mut scored: Vec<(f64, String)> = names
        .map(|n| (strsim::jaro_winkler(name, &n), n))
        .filter(|(score, _)| *score > 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Fixtures, Error> {
        Fixtures::parse(Path::new("f.yml"), text.as_bytes())
    }

    #[test]
    fn looks_up_fields() {
        let f = parse(
            "admin:\n  api_token: abc\n  n: 7\n  ok: true\n  gone:\n  at: 2013-12-26T19:22:54Z\n",
        )
        .unwrap();
        assert_eq!(f.token("admin").unwrap(), "abc");
        assert_eq!(f.field("admin", "n").unwrap(), "7");
        assert_eq!(f.field("admin", "ok").unwrap(), "True");
        assert_eq!(f.field("admin", "gone").unwrap(), "None");
        assert_eq!(f.field("admin", "at").unwrap(), "2013-12-26 19:22:54+00:00");
        assert_eq!(f.names().collect::<Vec<_>>(), ["admin"]);
    }

    #[test]
    fn a_token_must_be_a_string() {
        let f = parse(
            "a:\n  api_token: 012\nb:\n  api_token:\nc:\n  api_token: yes\nd:\n  api_token: '012'\n",
        )
        .unwrap();
        for (name, found, shown) in [
            ("a", "a number", "10"),
            ("b", "null", "None"),
            ("c", "a boolean", "True"),
        ] {
            let err = f.token(name).unwrap_err();
            assert_eq!(err.exit_code(), 1);
            assert_eq!(
                err.to_string(),
                format!("api_token of entry '{name}' in f.yml is {found} ({shown} as YAML reads it), not a string: quote it in the file")
            );
            // --field still prints what PyYAML reads.
            assert_eq!(f.field(name, "api_token").unwrap(), shown);
        }
        assert_eq!(f.token("d").unwrap(), "012");
    }

    #[test]
    fn special_characters_are_refused_as_pyyaml_refuses_them() {
        for (text, at, shown) in [
            ("a:\n  api_token: x\x1by\n", "2:15", r"'\x1b' (U+001B)"),
            ("a:\n  b: 1\n  c: '\x7f'\n", "3:7", r"'\x7f' (U+007F)"),
            ("a: \u{9b}\n", "1:4", r"'\u{9b}' (U+009B)"),
            ("a: \u{fffe}\n", "1:4", "'\u{fffe}' (U+FFFE)"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert_eq!(
                err.to_string(),
                format!("f.yml:{at}: special character {shown}: expected printable text, as PyYAML does")
            );
        }
        // Tabs, CRLF, an opening byte order mark and all of Unicode's
        // printable text are fine.
        let f = parse("\u{feff}a:\r\n  api_token: \"\tx é\u{1F600}\"\r\n").unwrap();
        assert_eq!(f.token("a").unwrap(), "\tx é\u{1F600}");
    }

    #[test]
    fn trims_at_the_marker() {
        let text = format!("a:\n  api_token: x\n{TRIM_MARKER}\n<% for i in 1..3 %>\n: : :\n");
        assert_eq!(parse(&text).unwrap().token("a").unwrap(), "x");
    }

    #[test]
    fn erb_in_values_is_plain_text() {
        let f = parse("a:\n  api_token: <%= ENV['T'] %>\n  owner: x<% 1 %>\n").unwrap();
        assert_eq!(f.token("a").unwrap(), "<%= ENV['T'] %>");
        assert_eq!(f.field("a", "owner").unwrap(), "x<% 1 %>");
    }

    #[test]
    fn applies_merge_keys() {
        let f = parse("base: &b\n  api_token: t\nother:\n  <<: *b\n  user: u\n").unwrap();
        assert_eq!(f.token("other").unwrap(), "t");
    }

    #[test]
    fn unknown_entry_suggests_close_names() {
        let f =
            parse("admin:\n  api_token: a\nadmin_trusted:\n  api_token: b\nzz:\n  x: 1\n").unwrap();
        let err = f.token("admn").unwrap_err();
        assert_eq!(err.exit_code(), 1);
        let text = err.to_string();
        assert!(text.contains("no entry 'admn' in f.yml"), "{text}");
        assert!(text.contains("closest: admin"), "{text}");
        assert!(!text.contains("zz"), "{text}");
    }

    #[test]
    fn missing_and_non_scalar_fields() {
        let f = parse("a:\n  scopes: [x, y]\n  user: u\n").unwrap();
        let err = f.token("a").unwrap_err();
        assert!(err
            .to_string()
            .contains("has no field 'api_token' (it has: scopes, user)"));
        let err = f.field("a", "scopes").unwrap_err();
        assert!(
            err.to_string().contains("is a list, not a single value"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn malformed_yaml_names_line_and_column() {
        let err = parse("a:\n  b: c\n d: [\n").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.starts_with("f.yml:3:"), "{text}");
    }

    #[test]
    fn read_errors_name_the_cause_once() {
        let err = Fixtures::load(Path::new("/nonexistent/f.yml")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        // As a library error through anyhow, as db-reset shows it.
        let text = format!("{:#}", anyhow::Error::new(err));
        assert_eq!(
            text.matches("No such file").count(),
            1,
            "cause shown twice: {text}"
        );
        assert!(
            text.starts_with("cannot read /nonexistent/f.yml: "),
            "{text}"
        );
    }

    #[test]
    fn top_level_must_be_a_map() {
        let err = parse("- a\n- b\n").unwrap_err();
        assert!(err.to_string().contains("found a list"), "{err}");
        assert_eq!(parse("# nothing\n").unwrap().names().count(), 0);
    }

    #[test]
    fn json_keeps_structure() {
        let f = parse("a:\n  api_token: t\n  scopes:\n    - GET /x\n  n: 1.5\n").unwrap();
        assert_eq!(
            f.entry_json("a").unwrap().to_string(),
            r#"{"api_token":"t","n":1.5,"scopes":["GET /x"]}"#
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Arbitrary bytes as a fixture file: an error at worst, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            exercise(&bytes);
        }

        /// Near-YAML text reaches deeper into the parser than random bytes do.
        #[test]
        fn yaml_like_text_never_panics(text in r"([a-z_]{1,6}:( [-\[\]{}&*!|>'\x22#%@`,?:a-z0-9 ]{0,12})?\n( {1,4}[-a-z_&*<]{1,6}: ?[-\[\]{}&*!|>'\x22#:a-z0-9. ]{0,20}\n){0,4}){0,6}") {
            exercise(text.as_bytes());
        }

        #[test]
        fn timestamps_never_panic(text in r"[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}[Tt \t]{0,2}[0-9]{0,3}:?[0-9]{0,3}:?[0-9]{0,3}\.?[0-9]{0,9} ?[-+Z]?[0-9]{0,3}:?[0-9]{0,3}") {
            let _ = crate::timestamp::canonical(&text);
        }
    }

    fn exercise(bytes: &[u8]) {
        if let Ok(f) = Fixtures::parse(Path::new("p.yml"), bytes) {
            let names: Vec<String> = f.names().collect();
            for name in names.iter().take(4) {
                let _ = f.token(name);
                let _ = f.entry_json(name);
            }
            let _ = f.field("missing", "x");
        }
    }
}
