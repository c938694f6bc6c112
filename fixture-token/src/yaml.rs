//! YAML read as `PyYAML`'s `safe_load` reads it: YAML 1.1 resolution of plain
//! scalars (`yes` is true, `012` is 10, `1:20` is 80, `12e3` is a string),
//! `<<` merge keys, and values printed as Python's `str()` prints them.
//!
//! yaml-rust2 gives the events with each scalar's style and position; the
//! tree is built here, with a depth limit (checked as events arrive, so deep
//! nesting fails in linear time) and an alias budget (no billion laughs).

use std::collections::HashMap;
use std::fmt::Write as _;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::timestamp;

/// Deeper nesting is refused. `PyYAML` has no limit but Python's stack;
/// fixtures nest three or four levels.
pub const MAX_DEPTH: usize = 100;

/// Nodes that anchors and aliases may copy in all, so that a few lines of
/// nested aliases cannot expand to gigabytes. A scalar counts as one node
/// per [`TEXT_PER_NODE`] bytes of text, so that aliases of one long string
/// (or anchors nested around it, each kept as a copy) are bounded too:
/// at most 64 MiB of text.
const MAX_ALIAS_NODES: usize = 1 << 20;

/// Bytes of scalar text that count as one node for [`MAX_ALIAS_NODES`].
const TEXT_PER_NODE: usize = 64;

/// A loaded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Decimal digits with an optional `-`: Python's `str()` of any int.
    Int(String),
    Float(f64),
    Str(String),
    /// A timestamp or date, as Python's `str()` of the datetime or date.
    Time(String),
    Seq(Vec<Value>),
    Map(Map),
}

/// Keys in file order; a key appears once.
pub type Map = Vec<(Value, Value)>;

impl Value {
    /// Python's `str()` of the value, for scalars; `None` for lists and maps.
    pub fn text(&self) -> Option<String> {
        Some(match self {
            Value::Null => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(digits) => digits.clone(),
            Value::Float(x) => python_float(*x),
            Value::Str(s) | Value::Time(s) => s.clone(),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }

    /// What the value is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Time(_) => "a timestamp",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// The value as JSON: keys and timestamps as their `str()`, infinities
    /// and NaN (which JSON lacks) as their `str()` too.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(digits) => digits
                .parse::<i64>()
                .map(Json::from)
                .or_else(|_| digits.parse::<u64>().map(Json::from))
                .unwrap_or_else(|_| Json::String(digits.clone())),
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map_or_else(|| Json::String(python_float(*x)), Json::Number),
            Value::Str(s) | Value::Time(s) => Json::String(s.clone()),
            Value::Seq(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| {
                        (
                            k.text().unwrap_or_else(|| k.to_json().to_string()),
                            v.to_json(),
                        )
                    })
                    .collect(),
            ),
        }
    }
}

/// Why a document could not be loaded, and where (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl Error {
    fn at(mark: Marker, reason: impl Into<String>) -> Self {
        Self {
            line: mark.line(),
            column: mark.col() + 1,
            reason: reason.into(),
        }
    }
}

/// Loads the first document of `text`; an empty stream is `Null`.
pub fn load(text: &str) -> Result<Value, Error> {
    let mut loader = Loader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        copied: 0,
    };
    let value = loop {
        let (event, mark) = loader.next()?;
        match event {
            Event::StreamStart | Event::DocumentStart => {}
            Event::StreamEnd => return Ok(Value::Null),
            event => break loader.node(event, mark, 0)?.0,
        }
    };
    // As `safe_load`: one document only.
    loop {
        match loader.next()? {
            (Event::DocumentEnd, _) => {}
            (Event::StreamEnd, _) => return Ok(value),
            (_, mark) => {
                return Err(Error::at(
                    mark,
                    "a second document: expected a single document in the stream",
                ))
            }
        }
    }
}

struct Loader<'a> {
    parser: Parser<std::str::Chars<'a>>,
    /// Anchor id → (value, its node count).
    anchors: HashMap<usize, (Value, usize)>,
    copied: usize,
}

impl Loader<'_> {
    fn next(&mut self) -> Result<(Event, Marker), Error> {
        self.parser.next_token().map_err(|e| {
            let reason = match e.info() {
                // The scanner's own limit on flow nesting, reached first.
                "recursion limit exceeded" => {
                    format!("nested more than {MAX_DEPTH} deep: expected fixtures, not this")
                }
                info => info.to_owned(),
            };
            Error::at(*e.marker(), reason)
        })
    }

    /// Builds the node that starts with `event`; returns it and its size
    /// in nodes.
    fn node(&mut self, event: Event, mark: Marker, depth: usize) -> Result<(Value, usize), Error> {
        let (value, size, anchor) = match event {
            Event::Alias(id) => {
                let (value, size) = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| Error::at(mark, "alias of an unknown anchor"))?;
                self.spend(size, mark)?;
                return Ok((value, size));
            }
            Event::Scalar(text, style, anchor, tag) => {
                let size = 1 + text.len() / TEXT_PER_NODE;
                (
                    scalar(text, style, tag.as_ref()).map_err(|e| Error::at(mark, e))?,
                    size,
                    anchor,
                )
            }
            Event::SequenceStart(anchor, tag) => {
                check_tag(tag.as_ref(), "seq", mark)?;
                let depth = Self::deeper(depth, mark)?;
                let mut items = Vec::new();
                let mut size = 1;
                loop {
                    let (event, mark) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    let (item, n) = self.node(event, mark, depth)?;
                    size += n;
                    items.push(item);
                }
                (Value::Seq(items), size, anchor)
            }
            Event::MappingStart(anchor, tag) => {
                check_tag(tag.as_ref(), "map", mark)?;
                let depth = Self::deeper(depth, mark)?;
                let (map, size) = self.mapping(depth)?;
                (Value::Map(map), size, anchor)
            }
            other => return Err(Error::at(mark, format!("unexpected {other:?}"))),
        };
        if anchor > 0 {
            // The anchor keeps a copy: nested anchors copy their contents
            // once per level.
            self.spend(size, mark)?;
            self.anchors.insert(anchor, (value.clone(), size));
        }
        Ok((value, size))
    }

    /// Counts `size` more nodes copied, within [`MAX_ALIAS_NODES`].
    fn spend(&mut self, size: usize, mark: Marker) -> Result<(), Error> {
        self.copied = self.copied.saturating_add(size);
        if self.copied > MAX_ALIAS_NODES {
            return Err(Error::at(
                mark,
                format!(
                    "anchors and aliases copy more than {MAX_ALIAS_NODES} nodes \
                     (or {} MiB of text): expected fixtures, not this",
                    (MAX_ALIAS_NODES * TEXT_PER_NODE) >> 20
                ),
            ));
        }
        Ok(())
    }

    fn deeper(depth: usize, mark: Marker) -> Result<usize, Error> {
        if depth >= MAX_DEPTH {
            return Err(Error::at(
                mark,
                format!("nested more than {MAX_DEPTH} deep: expected fixtures, not this"),
            ));
        }
        Ok(depth + 1)
    }

    /// A mapping's pairs, `<<` merges applied as `PyYAML`'s `flatten_mapping`
    /// does: merged keys come first, the mapping's own override them, and of
    /// several merged maps the first wins. A key given twice is an error.
    fn mapping(&mut self, depth: usize) -> Result<(Map, usize), Error> {
        let mut own = Keyed::default();
        let mut merged = Keyed::default();
        let mut size = 1;
        loop {
            let (event, key_mark) = self.next()?;
            if event == Event::MappingEnd {
                break;
            }
            let is_merge =
                matches!(&event, Event::Scalar(text, TScalarStyle::Plain, _, None) if text == "<<");
            let is_value_key =
                matches!(&event, Event::Scalar(text, TScalarStyle::Plain, _, None) if text == "=");
            let (key, n) = if is_merge {
                (Value::Null, 1)
            } else if is_value_key {
                // `=` as a key is a string to PyYAML (`flatten_mapping`).
                (Value::Str("=".into()), 1)
            } else {
                self.node(event, key_mark, depth)?
            };
            size += n;
            let (event, mark) = self.next()?;
            let (value, n) = self.node(event, mark, depth)?;
            size += n;
            if is_merge {
                let maps = match value {
                    Value::Map(map) => vec![map],
                    Value::Seq(items) => items
                        .into_iter()
                        .map(|item| match item {
                            Value::Map(map) => Ok(map),
                            other => Err(other),
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|other| {
                            Error::at(
                                mark,
                                format!("expected a map to merge with <<, found {}", other.kind()),
                            )
                        })?,
                    other => {
                        return Err(Error::at(
                            mark,
                            format!(
                                "expected a map or a list of maps to merge with <<, found {}",
                                other.kind()
                            ),
                        ))
                    }
                };
                // The first map of the list wins: insert the last first.
                for map in maps.into_iter().rev() {
                    for (k, v) in map {
                        merged.insert(k, v);
                    }
                }
                continue;
            }
            let key = match key {
                Value::Map(_) | Value::Seq(_) => {
                    return Err(Error::at(
                        key_mark,
                        format!("{} as a key: expected a single value", key.kind()),
                    ))
                }
                key => key,
            };
            if own.contains(&key) {
                return Err(Error::at(
                    key_mark,
                    format!(
                        "duplicate key '{}' in this map",
                        cliutil::escape_controls(&key.text().unwrap_or_default())
                    ),
                ));
            }
            own.insert(key, value);
        }
        for (k, v) in own.map {
            merged.insert(k, v);
        }
        Ok((merged.map, size))
    }
}

/// A map being built, with an index of its keys: a map of many keys must
/// not cost a scan of the map for each (quadratic: 200,000 entries took
/// minutes).
#[derive(Default)]
struct Keyed {
    map: Map,
    index: HashMap<(std::mem::Discriminant<Value>, Option<String>), usize>,
}

impl Keyed {
    fn id(key: &Value) -> (std::mem::Discriminant<Value>, Option<String>) {
        (std::mem::discriminant(key), key.text())
    }

    fn contains(&self, key: &Value) -> bool {
        self.index.contains_key(&Self::id(key))
    }

    /// Python dict assignment: a new key goes last, an old one keeps its
    /// place.
    fn insert(&mut self, key: Value, value: Value) {
        match self.index.entry(Self::id(&key)) {
            std::collections::hash_map::Entry::Occupied(at) => self.map[*at.get()].1 = value,
            std::collections::hash_map::Entry::Vacant(at) => {
                at.insert(self.map.len());
                self.map.push((key, value));
            }
        }
    }
}

/// The non-specific tag `!`: a string for a scalar, as `PyYAML` has it.
fn non_specific(tag: &Tag) -> bool {
    tag.handle.is_empty() && tag.suffix == "!" || tag.handle == "!" && tag.suffix.is_empty()
}

fn standard_tag(tag: &Tag) -> Option<&str> {
    match tag.handle.as_str() {
        "!!" | "tag:yaml.org,2002:" => Some(tag.suffix.as_str()),
        _ => None,
    }
}

fn check_tag(tag: Option<&Tag>, expected: &str, mark: Marker) -> Result<(), Error> {
    match tag {
        None => Ok(()),
        Some(t) if non_specific(t) => Ok(()),
        Some(t) if standard_tag(t) == Some(expected) => Ok(()),
        Some(t) => Err(Error::at(
            mark,
            format!("tag {}{} is not supported", t.handle, t.suffix),
        )),
    }
}

/// A scalar as `PyYAML`'s `safe_load` constructs it.
fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if style == TScalarStyle::Plain && text.contains('\t') {
        // YAML 1.2 allows it; PyYAML's scanner stops at the tab and fails.
        return Err("a tab inside an unquoted value: expected spaces, or quotes around it".into());
    }
    let kind = match tag {
        None if style == TScalarStyle::Plain => resolve(&text),
        // Quoted, block, or the non-specific `!` tag: a string.
        None => return Ok(Value::Str(text)),
        Some(t) if non_specific(t) => return Ok(Value::Str(text)),
        Some(t) => match standard_tag(t) {
            Some("str") => return Ok(Value::Str(text)),
            Some("null") => Kind::Null,
            Some("bool") => Kind::Bool,
            Some("int") => Kind::Int,
            Some("float") => Kind::Float,
            Some("timestamp") => Kind::Timestamp,
            _ => return Err(format!("tag {}{} is not supported", t.handle, t.suffix)),
        },
    };
    let invalid = |what: &str| {
        format!(
            "'{}' is not a valid {what}",
            cliutil::escape_controls(&text)
        )
    };
    Ok(match kind {
        Kind::Str => Value::Str(text),
        Kind::Null => Value::Null,
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => Value::Bool(true),
            "no" | "false" | "off" => Value::Bool(false),
            _ => return Err(invalid("boolean")),
        },
        Kind::Int => Value::Int(construct_int(&text).ok_or_else(|| invalid("integer"))?),
        Kind::Float => Value::Float(construct_float(&text).ok_or_else(|| invalid("float"))?),
        Kind::Timestamp => {
            if is_date(&text) {
                // Python's `date()` refuses a day that does not exist.
                let part = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap_or(0);
                let (year, month, day) = (part(0..4), part(5..7), part(8..10));
                if year == 0
                    || !(1..=12).contains(&month)
                    || day == 0
                    || day > timestamp::days_in_month(year, month)
                {
                    return Err(invalid("date"));
                }
                Value::Time(text)
            } else {
                Value::Time(timestamp::canonical(&text).ok_or_else(|| invalid("timestamp"))?)
            }
        }
        // PyYAML's safe_load has no constructor for these tags (`=` and
        // `<<` are understood as keys only).
        Kind::Value => return Err(format!("a plain '{text}' is a key, not a value")),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
    Value,
    Str,
}

/// `PyYAML`'s implicit resolvers for a plain scalar, in their order: bool,
/// float, int, merge, null, timestamp, value (merge and value keys are
/// handled by the caller; as values, `safe_load` refuses them).
fn resolve(text: &str) -> Kind {
    if matches!(
        text,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    ) {
        Kind::Bool
    } else if is_float(text) {
        Kind::Float
    } else if is_int(text) {
        Kind::Int
    } else if matches!(text, "~" | "null" | "Null" | "NULL" | "") {
        Kind::Null
    } else if is_timestamp(text) {
        Kind::Timestamp
    } else if text == "=" || text == "<<" {
        Kind::Value
    } else {
        Kind::Str
    }
}

/// A tiny matcher over bytes for the resolvers' regular expressions.
struct Scan<'a>(&'a [u8]);

impl Scan<'_> {
    fn eat(&mut self, f: impl Fn(u8) -> bool) -> bool {
        match self.0.first() {
            Some(&b) if f(b) => {
                self.0 = &self.0[1..];
                true
            }
            _ => false,
        }
    }
    fn many(&mut self, f: impl Fn(u8) -> bool + Copy) -> usize {
        let mut n = 0;
        while self.eat(f) {
            n += 1;
        }
        n
    }
    fn sign(&mut self) {
        self.eat(|b| b == b'-' || b == b'+');
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
    /// `(?::[0-5]?[0-9])+`
    fn sexagesimal_tail(&mut self) -> bool {
        let mut parts = 0;
        while self.0.first() == Some(&b':') {
            let save = self.0;
            self.0 = &self.0[1..];
            let ok = match self.0 {
                [a @ b'0'..=b'5', b'0'..=b'9', ..] => {
                    let _ = a;
                    self.0 = &self.0[2..];
                    true
                }
                [b'0'..=b'9', ..] => {
                    self.0 = &self.0[1..];
                    true
                }
                _ => false,
            };
            if !ok {
                self.0 = save;
                break;
            }
            parts += 1;
        }
        parts > 0
    }
}

fn digit(b: u8) -> bool {
    b.is_ascii_digit()
}
fn digit_(b: u8) -> bool {
    b.is_ascii_digit() || b == b'_'
}

/// `[eE][-+][0-9]+`, optional.
fn exponent(s: &mut Scan) -> bool {
    if s.eat(|b| b == b'e' || b == b'E') {
        return s.eat(|b| b == b'-' || b == b'+') && s.many(digit) > 0;
    }
    true
}

fn is_float(text: &str) -> bool {
    let alternatives: [fn(&mut Scan) -> bool; 5] = [
        // [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
        |s| {
            s.sign();
            s.eat(digit)
                && {
                    s.many(digit_);
                    s.eat(|b| b == b'.')
                }
                && {
                    s.many(digit_);
                    exponent(s)
                }
        },
        // \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        |s| {
            s.eat(|b| b == b'.') && s.eat(digit) && {
                s.many(digit_);
                exponent(s)
            }
        },
        // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        |s| {
            s.sign();
            s.eat(digit)
                && {
                    s.many(digit_);
                    s.sexagesimal_tail()
                }
                && s.eat(|b| b == b'.')
                && {
                    s.many(digit_);
                    true
                }
        },
        // [-+]?\.(?:inf|Inf|INF)
        |s| {
            s.sign();
            matches!(s.0, b".inf" | b".Inf" | b".INF") && {
                s.0 = &[];
                true
            }
        },
        // \.(?:nan|NaN|NAN)
        |s| {
            matches!(s.0, b".nan" | b".NaN" | b".NAN") && {
                s.0 = &[];
                true
            }
        },
    ];
    alternatives.iter().any(|alt| {
        let mut s = Scan(text.as_bytes());
        alt(&mut s) && s.done()
    })
}

fn is_int(text: &str) -> bool {
    let alternatives: [fn(&mut Scan) -> bool; 5] = [
        // [-+]?0b[0-1_]+
        |s| {
            s.sign();
            s.0.starts_with(b"0b") && {
                s.0 = &s.0[2..];
                s.many(|b| matches!(b, b'0' | b'1' | b'_')) > 0
            }
        },
        // [-+]?0[0-7_]+
        |s| {
            s.sign();
            s.eat(|b| b == b'0') && s.many(|b| matches!(b, b'0'..=b'7' | b'_')) > 0
        },
        // [-+]?(?:0|[1-9][0-9_]*)
        |s| {
            s.sign();
            s.eat(|b| b == b'0')
                || (s.eat(|b| matches!(b, b'1'..=b'9')) && {
                    s.many(digit_);
                    true
                })
        },
        // [-+]?0x[0-9a-fA-F_]+
        |s| {
            s.sign();
            s.0.starts_with(b"0x") && {
                s.0 = &s.0[2..];
                s.many(|b| b.is_ascii_hexdigit() || b == b'_') > 0
            }
        },
        // [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
        |s| {
            s.sign();
            s.eat(|b| matches!(b, b'1'..=b'9')) && {
                s.many(digit_);
                s.sexagesimal_tail()
            }
        },
    ];
    alternatives.iter().any(|alt| {
        let mut s = Scan(text.as_bytes());
        alt(&mut s) && s.done()
    })
}

/// `[0-9]{4}-[0-9]{2}-[0-9]{2}`
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// `PyYAML`'s timestamp expression: a date, or a date and time.
fn is_timestamp(text: &str) -> bool {
    if is_date(text) {
        return true;
    }
    let mut s = Scan(text.as_bytes());
    let n = s.many(digit);
    if n != 4 || !s.eat(|b| b == b'-') {
        return false;
    }
    let upto2 = |s: &mut Scan| {
        s.eat(digit) && {
            s.eat(digit);
            true
        }
    };
    if !(upto2(&mut s) && s.eat(|b| b == b'-') && upto2(&mut s)) {
        return false;
    }
    if !(s.eat(|b| b == b'T' || b == b't') || s.many(|b| b == b' ' || b == b'\t') > 0) {
        return false;
    }
    if !(upto2(&mut s)
        && s.eat(|b| b == b':')
        && s.eat(digit)
        && s.eat(digit)
        && s.eat(|b| b == b':')
        && s.eat(digit)
        && s.eat(digit))
    {
        return false;
    }
    if s.eat(|b| b == b'.') {
        s.many(digit);
    }
    let save = s.0;
    s.many(|b| b == b' ' || b == b'\t');
    if s.eat(|b| b == b'Z') {
        return s.done();
    }
    if s.eat(|b| b == b'-' || b == b'+') {
        if !upto2(&mut s) {
            return false;
        }
        let before = s.0;
        if s.eat(|b| b == b':') && !(s.eat(digit) && s.eat(digit)) {
            s.0 = before;
        }
        return s.done();
    }
    s.0 = save;
    s.done()
}

/// `construct_yaml_int`: the value as decimal digits.
fn construct_int(text: &str) -> Option<String> {
    let value: String = text.chars().filter(|c| *c != '_').collect();
    let (negative, value) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, &value[..]),
    };
    let magnitude = if value == "0" {
        vec![0]
    } else if let Some(bin) = value.strip_prefix("0b") {
        big_from_radix(bin, 2)?
    } else if let Some(hex) = value.strip_prefix("0x") {
        big_from_radix(hex, 16)?
    } else if value.starts_with('0') {
        big_from_radix(value, 8)?
    } else if value.contains(':') {
        let mut total = vec![0];
        for part in value.split(':') {
            let part: u32 = part.parse().ok()?;
            mul_add(&mut total, 60, part);
        }
        total
    } else {
        big_from_radix(value, 10)?
    };
    let digits = big_to_decimal(&magnitude);
    Some(if negative && digits != "0" {
        format!("-{digits}")
    } else {
        digits
    })
}

/// Little-endian base-2^32 limbs.
fn mul_add(limbs: &mut Vec<u32>, mul: u32, add: u32) {
    let mut carry = u64::from(add);
    for limb in limbs.iter_mut() {
        let v = u64::from(*limb) * u64::from(mul) + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    if carry > 0 {
        limbs.push(carry as u32);
    }
}

fn big_from_radix(digits: &str, radix: u32) -> Option<Vec<u32>> {
    if digits.is_empty() {
        return None;
    }
    let mut limbs = vec![0];
    for c in digits.chars() {
        mul_add(&mut limbs, radix, c.to_digit(radix)?);
    }
    Some(limbs)
}

fn big_to_decimal(limbs: &[u32]) -> String {
    let mut limbs = limbs.to_vec();
    let mut chunks = Vec::new();
    while limbs.iter().any(|l| *l != 0) {
        let mut rem = 0u64;
        for limb in limbs.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*limb);
            *limb = (v / 1_000_000_000) as u32;
            rem = v % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.len() > 1 && limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut out = chunks
        .pop()
        .map_or_else(|| "0".to_owned(), |c| c.to_string());
    for c in chunks.iter().rev() {
        let _ = write!(out, "{c:09}");
    }
    out
}

/// `construct_yaml_float`.
fn construct_float(text: &str) -> Option<f64> {
    let value: String = text
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    let (sign, value) = match value.as_bytes().first() {
        Some(b'-') => (-1.0, &value[1..]),
        Some(b'+') => (1.0, &value[1..]),
        _ => (1.0, &value[..]),
    };
    if value == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if value == ".nan" {
        return Some(f64::NAN);
    }
    if value.contains(':') {
        let mut total = 0.0;
        let mut base = 1.0;
        for part in value.split(':').rev() {
            total += python_float_parse(part)? * base;
            base *= 60.0;
        }
        return Some(sign * total);
    }
    Some(sign * python_float_parse(value)?)
}

/// Python's `float()` of the forms the resolver lets through (`1.`, `.5`,
/// `1.e+3`), which Rust's parser may not all take.
fn python_float_parse(text: &str) -> Option<f64> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], &text[at..]),
        None => (text, ""),
    };
    let mut fixed = mantissa.to_owned();
    if fixed.starts_with('.') {
        fixed.insert(0, '0');
    }
    if fixed.ends_with('.') {
        fixed.push('0');
    }
    if fixed.is_empty() {
        return None;
    }
    format!("{fixed}{exp}").parse().ok()
}

/// Python's `repr()` (= `str()`) of a float: the shortest digits that read
/// back the same, in fixed notation when the decimal exponent is in
/// -4..16, else as `1e+16`, `1.5e-05`.
pub fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's shortest digits tell how many are needed; of the numbers with
    // that many digits, Python prints the one nearest to x (ties to even),
    // which is what exact rounding to that precision gives. Rust's own
    // choice can differ on a tie (936791357501116.25: Python ….2, Rust ….3).
    let shortest = format!("{:e}", x.abs());
    let needed = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.chars().filter(char::is_ascii_digit).count());
    let sci = format!("{:.*e}", needed.saturating_sub(1), x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let point = exp + 1; // digits before the decimal point
    if -4 < point && point <= 16 {
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let rest = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{rest}e{esign}{:02}", &digits[..1], exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Result<Value, String> {
        scalar(text.to_owned(), TScalarStyle::Plain, None)
    }

    fn shown(text: &str) -> String {
        plain(text).unwrap().text().unwrap()
    }

    #[test]
    fn plain_scalars_resolve_as_in_yaml_1_1() {
        for (input, expected) in [
            ("12e3", "12e3"),
            ("1.0e3", "1.0e3"),
            ("1.0e+3", "1000.0"),
            ("0o17", "0o17"),
            ("012", "10"),
            ("0x1F", "31"),
            ("0b101", "5"),
            ("-0b1_1", "-3"),
            ("1:20", "80"),
            ("-1:00:01", "-3601"),
            ("1_000", "1000"),
            ("1:20.5", "80.5"),
            ("yes", "True"),
            ("Off", "False"),
            ("y", "y"),
            ("~", "None"),
            ("", "None"),
            ("NULL", "None"),
            (".inf", "inf"),
            ("-.Inf", "-inf"),
            (".NaN", "nan"),
            ("1.", "1.0"),
            (".5", "0.5"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("-0", "0"),
            ("+12", "12"),
            ("00", "0"),
            ("09", "09"),
            ("1:60", "1:60"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("2001-12-14", "2001-12-14"),
            (
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14 21:59:43.100000-05:00",
            ),
            ("<%= x %>", "<%= x %>"),
        ] {
            assert_eq!(shown(input), expected, "{input}");
        }
    }

    #[test]
    fn python_float_repr() {
        for (x, expected) in [
            (1000.0, "1000.0"),
            (0.5, "0.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-0.0, "-0.0"),
            (123.456, "123.456"),
            (1e100, "1e+100"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(python_float(x), expected, "{x}");
        }
        // A tie between two shortest forms: Python takes the even digit.
        let tie: f64 = "936791357501116.25".parse().unwrap();
        assert_eq!(python_float(tie), "936791357501116.2");
    }

    #[test]
    fn a_tab_in_a_plain_scalar_is_refused_as_pyyaml_does() {
        let err = load("a: 2001-01-01\t10:00:00\n").unwrap_err();
        assert!(
            err.reason.starts_with("a tab inside an unquoted value"),
            "{err:?}"
        );
        assert_eq!(
            load("a: 'x\ty'\n").unwrap(),
            Value::Map(vec![(Value::Str("a".into()), Value::Str("x\ty".into()))])
        );
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let v = load("a: '12'\nb: \"yes\"\nc: !!str 0x10\nd: !!int '0x10'\n").unwrap();
        let Value::Map(map) = v else { panic!() };
        let texts: Vec<_> = map.iter().map(|(_, v)| v.text().unwrap()).collect();
        assert_eq!(texts, ["12", "yes", "0x10", "16"]);
        assert_eq!(map[0].1, Value::Str("12".into()));
    }

    #[test]
    fn nesting_up_to_the_limit_loads() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(load(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = load(&deep).unwrap_err();
        assert_eq!((err.line, err.column), (1, MAX_DEPTH + 1), "{err:?}");
    }

    #[test]
    fn unknown_tags_are_refused() {
        for doc in ["a: !!binary aGk=\n", "a: !custom x\n", "a: !!set {x}\n"] {
            let err = load(doc).unwrap_err();
            assert!(err.reason.contains("is not supported"), "{doc}: {err:?}");
        }
        assert_eq!(load("a: ! 12\n").unwrap(), load("a: '12'\n").unwrap());
    }

    #[test]
    fn json_keeps_big_integers_and_infinities_as_text() {
        let v = load("a: 123456789012345678901234567890\nb: .inf\nc: -9223372036854775808\nd: 18446744073709551615\n").unwrap();
        assert_eq!(
            v.to_json().to_string(),
            r#"{"a":"123456789012345678901234567890","b":"inf","c":-9223372036854775808,"d":18446744073709551615}"#
        );
    }

    #[test]
    fn one_document_only() {
        let err = load("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(err.reason.contains("expected a single document"), "{err:?}");
        assert_eq!(load("").unwrap(), Value::Null);
        assert_eq!(load("# only a comment\n").unwrap(), Value::Null);
    }

    #[test]
    fn duplicate_keys_name_their_place() {
        let err = load("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
        assert_eq!((err.line, err.column), (4, 3), "{err:?}");
        assert!(err.reason.contains("duplicate key 'c'"), "{err:?}");
    }

    #[test]
    fn merges_as_pyyaml() {
        let v =
            load("a: &a {x: 1, y: 2}\nb: &b {y: 3, z: 4}\nc:\n  <<: [*a, *b]\n  x: 0\n").unwrap();
        let Value::Map(map) = v else { panic!() };
        let c = &map[2].1;
        assert_eq!(c.to_json().to_string(), r#"{"x":0,"y":2,"z":4}"#);
    }

    #[test]
    fn depth_and_aliases_are_bounded() {
        for deep in [
            "[".repeat(100_000),
            "{a: ".repeat(100_000),
            "- ".repeat(100_000),
        ] {
            let err = load(&deep).unwrap_err();
            assert!(
                err.reason.starts_with("nested more than 100 deep"),
                "{err:?}"
            );
        }
        assert_eq!(
            plain("0x_").unwrap_err(),
            "'0x_' is not a valid integer",
            "as PyYAML, which fails"
        );
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9 {
            let _ = writeln!(
                laughs,
                "b{i}: &b{i} [{}]",
                vec![
                    format!(
                        "*{}",
                        if i == 0 {
                            "a".into()
                        } else {
                            format!("b{}", i - 1)
                        }
                    );
                    10
                ]
                .join(", ")
            );
        }
        let err = load(&laughs).unwrap_err();
        assert!(err.reason.contains("aliases copy more"), "{err:?}");
    }

    #[test]
    fn long_text_copied_by_aliases_or_anchors_is_bounded() {
        let long = "y".repeat(1 << 20);
        // 1 MiB aliased 100 times: 100 MiB, where each alias was one node.
        let aliased = format!("a: &x \"{long}\"\nb: [{}]\n", vec!["*x"; 100].join(", "));
        // 1 MiB inside 100 nested anchors, each kept as a copy.
        let nested = format!(
            "a: {}\"{long}\"{}\n",
            (0..99).fold(String::new(), |mut s, i| {
                let _ = write!(s, "&a{i} [");
                s
            }),
            "]".repeat(99)
        );
        for text in [aliased, nested] {
            let err = load(&text).unwrap_err();
            assert!(
                err.reason.starts_with(
                    "anchors and aliases copy more than 1048576 nodes (or 64 MiB of text)"
                ),
                "{err:?}"
            );
        }
        // Below the budget, it loads.
        let fine = format!("a: &x \"{long}\"\nb: [{}]\n", vec!["*x"; 50].join(", "));
        assert!(load(&fine).is_ok());
    }

    #[test]
    fn many_keys_load_in_linear_time() {
        // No time is asserted (tests never do): a map scanned once per key
        // (quadratic, minutes for 200,000 entries) makes this test crawl.
        let text = (0..50_000).fold(String::new(), |mut s, i| {
            let _ = writeln!(s, "k{i}: {i}");
            s
        });
        let Value::Map(map) = load(&text).unwrap() else {
            panic!()
        };
        assert_eq!(map.len(), 50_000);
        let dup = format!("{text}k7: again\n");
        let err = load(&dup).unwrap_err();
        assert_eq!(
            (err.line, err.reason.as_str()),
            (50_001, "duplicate key 'k7' in this map")
        );
    }
}
