//! Reading a fixture file: a YAML map of entry name → map of fields.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use crate::timestamp;

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
            Error::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Error::Malformed { path, reason } => {
                write!(f, "{}:{reason}", path.display())
            }
            Error::NotAMap { path, found } => write!(
                f,
                "{}: expected a map of entry name to fields at the top level, found {found}",
                path.display()
            ),
            Error::UnknownEntry {
                path,
                name,
                closest,
            } => {
                write!(f, "no entry '{name}' in {}", path.display())?;
                if !closest.is_empty() {
                    write!(f, " (closest: {})", closest.join(", "))?;
                }
                Ok(())
            }
            Error::EntryNotAMap { path, name, found } => write!(
                f,
                "entry '{name}' in {} is {found}, expected a map of fields",
                path.display()
            ),
            Error::MissingField {
                path,
                name,
                field,
                fields,
            } => write!(
                f,
                "entry '{name}' in {} has no field '{field}' (it has: {})",
                path.display(),
                fields.join(", ")
            ),
            Error::NotScalar {
                path,
                name,
                field,
                found,
            } => write!(
                f,
                "field '{field}' of entry '{name}' in {} is {found}, not a single value \
                 (use --json to see it)",
                path.display()
            ),
        }
    }
}

// No `source()`: each message already ends with its cause, and anyhow's
// `{:#}` would print the cause a second time.
impl std::error::Error for Error {}

/// A parsed fixture file.
#[derive(Debug)]
pub struct Fixtures {
    path: PathBuf,
    entries: Mapping,
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
        let malformed = |reason: String| Error::Malformed {
            path: path.clone(),
            reason,
        };
        let mut doc: Value = serde_yaml::from_slice(trim(bytes)).map_err(|err| {
            malformed(match err.location() {
                Some(at) => {
                    // The location goes in front, compiler style, not at the end.
                    let suffix = format!(" at line {} column {}", at.line(), at.column());
                    let reason = err.to_string().replacen(&suffix, "", 1);
                    format!("{}:{}: {reason}", at.line(), at.column())
                }
                None => format!(" {err}"),
            })
        })?;
        // `PyYAML`'s `safe_load` applies `<<` merge keys; serde_norway leaves them.
        doc.apply_merge()
            .map_err(|err| malformed(format!(" {err}")))?;
        let entries = match untag(doc) {
            Value::Mapping(map) => map,
            Value::Null => Mapping::new(), // an empty file, or only comments
            other => {
                return Err(Error::NotAMap {
                    path,
                    found: kind(&other),
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
        self.entries.keys().filter_map(scalar_text)
    }

    fn entry(&self, name: &str) -> Result<&Mapping, Error> {
        let value = self
            .entries
            .iter()
            .find(|(key, _)| scalar_text(key).as_deref() == Some(name))
            .map(|(_, value)| value)
            .ok_or_else(|| Error::UnknownEntry {
                path: self.path.clone(),
                name: name.to_owned(),
                closest: closest(name, self.names()),
            })?;
        match untag_ref(value) {
            Value::Mapping(map) => Ok(map),
            other => Err(Error::EntryNotAMap {
                path: self.path.clone(),
                name: name.to_owned(),
                found: kind(other),
            }),
        }
    }

    /// One field of an entry, as text: strings as they are, timestamps as
    /// `PyYAML` prints them, other scalars in their JSON form (`true`, `42`, `null`).
    pub fn field(&self, name: &str, field: &str) -> Result<String, Error> {
        let entry = self.entry(name)?;
        let value = entry
            .iter()
            .find(|(key, _)| scalar_text(key).as_deref() == Some(field))
            .map(|(_, value)| value)
            .ok_or_else(|| Error::MissingField {
                path: self.path.clone(),
                name: name.to_owned(),
                field: field.to_owned(),
                fields: entry.keys().filter_map(scalar_text).collect(),
            })?;
        scalar_text(value).ok_or_else(|| Error::NotScalar {
            path: self.path.clone(),
            name: name.to_owned(),
            field: field.to_owned(),
            found: kind(value),
        })
    }

    /// The entry's API token.
    pub fn token(&self, name: &str) -> Result<String, Error> {
        self.field(name, TOKEN_FIELD)
    }

    /// The whole entry as JSON.
    pub fn entry_json(&self, name: &str) -> Result<serde_json::Value, Error> {
        let entry = self.entry(name)?;
        Ok(to_json(&Value::Mapping(entry.clone())))
    }
}

/// The largest fixture file read; Arvados' biggest is well under 1 MiB.
const MAX_FILE: u64 = 64 << 20;

/// Reads a whole file, but refuses one beyond [`MAX_FILE`], so that
/// `--file /dev/zero` fails instead of eating the machine's memory.
fn read_limited(path: &Path) -> io::Result<Vec<u8>> {
    cliutil::read_limited(path, MAX_FILE, "a fixture file")
}

/// Cuts the text at the trim marker, as Arvados' test helper does.
pub fn trim(bytes: &[u8]) -> &[u8] {
    let marker = TRIM_MARKER.as_bytes();
    bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .map_or(bytes, |at| &bytes[..at])
}

fn untag(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => untag(tagged.value),
        other => other,
    }
}

fn untag_ref(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untag_ref(&tagged.value),
        other => other,
    }
}

fn kind(value: &Value) -> &'static str {
    match untag_ref(value) {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A scalar as text; `None` for lists and maps.
fn scalar_text(value: &Value) -> Option<String> {
    match untag_ref(value) {
        Value::String(s) => Some(timestamp::canonical(s).unwrap_or_else(|| s.clone())),
        Value::Sequence(_) | Value::Mapping(_) => None,
        other => Some(to_json(other).to_string()),
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match untag_ref(value) {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                // JSON has no infinity or NaN: keep YAML's spelling as a string.
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| Json::String(n.to_string()), Json::Number)
            }
        }
        Value::String(_) => Json::String(scalar_text(value).unwrap_or_default()),
        Value::Sequence(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Mapping(map) => Json::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = scalar_text(k).unwrap_or_else(|| to_json(k).to_string());
                    (key, to_json(v))
                })
                .collect(),
        ),
        Value::Tagged(_) => unreachable!("untag_ref removes tags"),
    }
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
        assert_eq!(f.field("admin", "ok").unwrap(), "true");
        assert_eq!(f.field("admin", "gone").unwrap(), "null");
        assert_eq!(f.field("admin", "at").unwrap(), "2013-12-26 19:22:54+00:00");
        assert_eq!(f.names().collect::<Vec<_>>(), ["admin"]);
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
            let _ = timestamp::canonical(&text);
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
