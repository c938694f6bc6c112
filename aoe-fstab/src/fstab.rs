//! The fstab(5) line format, read exactly as util-linux's libmount reads it
//! (`mnt_parse_table_line`), so that `findmnt --fstab` and we agree on every
//! file, odd lines included.

use std::borrow::Cow;
use std::fmt::Write;

/// One mount entry of an fstab-format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number in the file.
    pub line: usize,
    pub source: Vec<u8>,
    pub target: Vec<u8>,
    pub fstype: Vec<u8>,
    /// `None` when the line has no options field (mount uses the defaults).
    pub options: Option<Vec<u8>>,
    /// The dump field (`fs_freq`); 0 when absent.
    pub freq: i32,
    /// The fsck pass field (`fs_passno`); 0 when absent.
    pub passno: i32,
}

/// A line that is not a valid entry, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

/// The entries of a file, in file order, and the lines that were skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub entries: Vec<Entry>,
    pub bad: Vec<BadLine>,
}

impl Entry {
    /// Whether `name` is one of the options, with or without a value
    /// (`noauto`, `x=1`), as libmount's `mnt_optstr_get_option` finds it: a
    /// comma inside double quotes does not split options.
    pub fn has_option(&self, name: &str) -> bool {
        self.options
            .as_deref()
            .is_some_and(|o| option_names(o).any(|n| n == name.as_bytes()))
    }

    /// Why `mount -a` (and so `aoe-fstab mount` without TARGETs) leaves this
    /// entry alone, if it does: libmount's `mnt_context_next_mount` skips
    /// swap areas, the root file system and `noauto` entries.
    pub fn skipped_by_mount(&self) -> Option<Skip> {
        if self.is_swap() {
            Some(Skip::Swap)
        } else if self.target == b"/" || self.target == b"root" {
            Some(Skip::Root)
        } else if self.has_option("noauto") {
            Some(Skip::NoAuto)
        } else {
            None
        }
    }

    /// A swap area (type `swap`): `swapon`'s, never `mount`'s.
    pub fn is_swap(&self) -> bool {
        self.fstype == b"swap"
    }
}

/// Why `mount` leaves an entry alone when no TARGET is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Swap,
    Root,
    NoAuto,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Skip::Swap => "mount skips it: a swap area (swapon's job), as for `mount -a`",
            Skip::Root => "mount skips it: the root file system, as for `mount -a`",
            Skip::NoAuto => "mount skips it unless it is named: noauto",
        })
    }
}

/// The names of comma-separated options (the part before `=`); commas and
/// `=` inside double quotes belong to the value.
fn option_names(options: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = options;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut quoted = false;
        let end = rest
            .iter()
            .position(|&b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                b == b',' && !quoted
            })
            .unwrap_or(rest.len());
        let option = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        let name_end = option.iter().position(|&b| b == b'=' || b == b'"');
        Some(&option[..name_end.unwrap_or(option.len())])
    })
}

/// Parses fstab-format text (also `/proc/self/mounts`). Never fails: bad
/// lines are collected in [`Table::bad`].
pub fn parse(data: &[u8]) -> Table {
    let mut table = Table::default();
    let lines = data.split(|&b| b == b'\n').count();
    for (index, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        // libmount looks for the newline with strchr(), which stops at a NUL:
        // a NUL before the newline makes the line bad (comment or not); only
        // on a last line without a newline does the NUL just end it.
        let mut text = raw;
        if let Some(nul) = raw.iter().position(|&b| b == 0) {
            if line < lines {
                table.bad.push(BadLine {
                    line,
                    reason: format!("NUL byte at column {}", nul + 1),
                });
                continue;
            }
            text = &raw[..nul];
        }
        // CRLF: exactly one trailing CR is dropped.
        if let Some(stripped) = text.strip_suffix(b"\r") {
            text = stripped;
        }
        let start = skip_separators(text);
        if start.is_empty() || start[0] == b'#' {
            continue;
        }
        match parse_line(start, line) {
            Ok(entry) => table.entries.push(entry),
            Err(reason) => table.bad.push(BadLine { line, reason }),
        }
    }
    table
}

fn parse_line(text: &[u8], line: usize) -> Result<Entry, String> {
    let mut rest = text;
    let mut fields = Vec::with_capacity(4);
    for _ in 0..4 {
        match next_field(&mut rest) {
            Some(field) => fields.push(unmangle(field)),
            None => break,
        }
    }
    if fields.len() < 3 {
        return Err(format!(
            "expected at least 3 fields (source, target, type), found {}",
            fields.len()
        ));
    }
    let options = (fields.len() == 4).then(|| fields.pop().unwrap_or_default());
    let fstype = fields.pop().unwrap_or_default();
    let target = fields.pop().unwrap_or_default();
    let source = fields.pop().unwrap_or_default();
    let mut entry = Entry {
        line,
        source,
        target,
        fstype,
        options,
        freq: 0,
        passno: 0,
    };
    if entry.options.is_some() {
        entry.freq = next_number(&mut rest, "dump")?;
        entry.passno = next_number(&mut rest, "pass")?;
    }
    Ok(entry)
}

fn is_separator(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_separators(text: &[u8]) -> &[u8] {
    let n = text.iter().take_while(|&&b| is_separator(b)).count();
    &text[n..]
}

/// The next space- or tab-separated word, still escaped.
fn next_field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let text = skip_separators(rest);
    if text.is_empty() {
        *rest = text;
        return None;
    }
    let len = text.iter().take_while(|&&b| !is_separator(b)).count();
    *rest = &text[len..];
    Some(&text[..len])
}

/// Reads the optional dump or pass field as C's `strtol` would, including its
/// quirks (a value out of range at the very end of the line is accepted and
/// truncated to an `int`, as libmount does).
fn next_number(rest: &mut &[u8], name: &str) -> Result<i32, String> {
    let text = skip_separators(rest);
    if text.is_empty() {
        *rest = text;
        return Ok(0);
    }
    let bad = || {
        let word = text.iter().take_while(|&&b| !is_separator(b)).count();
        format!(
            "{name} field '{}' is not a number",
            cliutil::escape_bytes(&text[..word])
        )
    };
    let Some((value, used, overflow)) = strtol(text) else {
        return Err(bad());
    };
    let after = &text[used..];
    let clean = !overflow && after.first().is_none_or(|&b| is_separator(b));
    if !clean && !after.is_empty() {
        return Err(bad());
    }
    *rest = after;
    // C assigns the `long` to an `int`: keep the low 32 bits.
    Ok(value as i32)
}

/// `strtol(text, &end, 10)`: the value, the bytes consumed and whether it
/// overflowed; `None` when no digits were found.
fn strtol(text: &[u8]) -> Option<(i64, usize, bool)> {
    let mut i = text
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    let negative = match text.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = text[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut value: i64 = 0;
    let mut overflow = false;
    for &d in &text[i..i + digits] {
        let d = i64::from(d - b'0');
        let next = value.checked_mul(10).and_then(|v| {
            if negative {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        });
        if let Some(v) = next {
            value = v;
        } else {
            overflow = true;
            value = if negative { i64::MIN } else { i64::MAX };
            break;
        }
    }
    Some((value, i + digits, overflow))
}

/// Decodes `\NNN` octal escapes (`\040` space, `\011` tab, `\134`
/// backslash); any other backslash is kept. As in C, a decoded NUL ends the
/// value.
pub fn unmangle(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = |k: usize| field.get(i + k).filter(|b| (b'0'..=b'7').contains(b));
        if field[i] == b'\\' {
            if let (Some(a), Some(b), Some(c)) = (octal(1), octal(2), octal(3)) {
                let value =
                    (u32::from(a - b'0') << 6) | (u32::from(b - b'0') << 3) | u32::from(c - b'0');
                // A `char` keeps the low 8 bits (`\777` is 0xff).
                out.push((value & 0xff) as u8);
                i += 4;
                continue;
            }
        }
        out.push(field[i]);
        i += 1;
    }
    if let Some(nul) = out.iter().position(|&b| b == 0) {
        out.truncate(nul);
    }
    out
}

/// Encodes a value for an fstab field: the bytes that would split or end a
/// field, control characters and the backslash become `\NNN`. An empty
/// value (from a `\000`) becomes `\000` again: an empty field would shift
/// the others.
pub fn mangle(value: &[u8]) -> String {
    if value.is_empty() {
        return r"\000".to_owned();
    }
    let mut out = String::with_capacity(value.len());
    for chunk in value.utf8_chunks() {
        for c in chunk.valid().chars() {
            // Control characters too: a listed line cannot drive a
            // terminal; nor can bidi overrides reorder what it shows.
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c == ' ' || c == '\\' || c.is_control() || bidi {
                let mut buf = [0; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\{b:03o}");
                }
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            let _ = write!(out, "\\{b:03o}");
        }
    }
    out
}

/// A field as text for JSON (invalid UTF-8 shown as U+FFFD).
pub fn text(value: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(line: &str) -> Result<Entry, String> {
        let table = parse(line.as_bytes());
        match (table.entries.first(), table.bad.first()) {
            (Some(e), None) => Ok(e.clone()),
            (None, Some(b)) => Err(b.reason.clone()),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn full_line() {
        let e = one("/dev/etherd/e1.0\t/mnt/a  ext4 defaults,_netdev 1 2").unwrap();
        assert_eq!(e.source, b"/dev/etherd/e1.0");
        assert_eq!(e.target, b"/mnt/a");
        assert_eq!(e.fstype, b"ext4");
        assert_eq!(e.options.as_deref(), Some(&b"defaults,_netdev"[..]));
        assert_eq!((e.freq, e.passno, e.line), (1, 2, 1));
        assert!(e.has_option("_netdev"));
        assert!(!e.has_option("netdev"));
    }

    #[test]
    fn optional_fields_default() {
        let e = one("tmpfs /t tmpfs").unwrap();
        assert_eq!((e.options, e.freq, e.passno), (None, 0, 0));
        let e = one("tmpfs /t tmpfs rw 3").unwrap();
        assert_eq!((e.freq, e.passno), (3, 0));
        let e = one("tmpfs /t tmpfs rw 3 4 trailing words").unwrap();
        assert_eq!((e.freq, e.passno), (3, 4));
    }

    #[test]
    fn too_few_fields() {
        assert_eq!(
            one("bug").unwrap_err(),
            "expected at least 3 fields (source, target, type), found 1"
        );
        assert!(one("a /b").is_err());
    }

    #[test]
    fn numbers_must_be_numbers() {
        assert_eq!(
            one("a /b c d x 1").unwrap_err(),
            "dump field 'x' is not a number"
        );
        assert_eq!(
            one("a /b c d 1x 1").unwrap_err(),
            "dump field '1x' is not a number"
        );
        assert_eq!(
            one("a /b c d 1 2y").unwrap_err(),
            "pass field '2y' is not a number"
        );
        assert_eq!(
            one("a /b c d -1 +2").map(|e| (e.freq, e.passno)),
            Ok((-1, 2))
        );
        // strtol's overflow is fatal only when more text follows.
        assert_eq!(one("a /b c d 99999999999 1").unwrap().freq, 1_215_752_191);
        assert!(one("a /b c d 99999999999999999999 1").is_err());
        assert_eq!(one("a /b c d 99999999999999999999").unwrap().freq, -1);
    }

    #[test]
    fn comments_blanks_and_crlf() {
        let t = parse(b"# c\n  # indented\n\t\n\r\nx /y z w 0 0\r\n\r\r\n");
        assert_eq!(t.entries.len(), 1);
        assert_eq!(t.entries[0].line, 5);
        assert_eq!(t.entries[0].passno, 0);
        assert_eq!(t.bad.len(), 1);
        assert_eq!(t.bad[0].line, 6);
    }

    #[test]
    fn escapes() {
        assert_eq!(unmangle(br"/a\040b\011c"), b"/a b\tc");
        assert_eq!(unmangle(br"x\6860"), br"x\6860");
        assert_eq!(unmangle(br"\999\4"), br"\999\4");
        assert_eq!(unmangle(br"\101\777"), b"A\xff");
        assert_eq!(unmangle(br"/y\000zz"), b"/y");
        assert_eq!(unmangle(br"\134"), b"\\");
        let e = one(r"src /mnt/with\040space tmpfs").unwrap();
        assert_eq!(e.target, b"/mnt/with space");
    }

    #[test]
    fn nul_makes_a_line_bad_unless_it_is_the_unterminated_last() {
        let t = parse(b"n /n\0x t\n#c\0\n\0\nok /ok t\n");
        let bad: Vec<_> = t.bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(
            bad,
            [
                (1, "NUL byte at column 5"),
                (2, "NUL byte at column 3"),
                (3, "NUL byte at column 1")
            ]
        );
        assert_eq!(t.entries.len(), 1);
        // At the end of a file without a final newline, a NUL ends the line.
        let t = parse(b"a /b c\r\0junk");
        assert_eq!((t.entries.len(), t.bad.len()), (1, 0));
        assert_eq!(t.entries[0].fstype, b"c");
        assert!(parse(b"a /b c\n\0").bad.is_empty());
    }

    #[test]
    fn mangle_round_trips() {
        let raw = b"/a b\tc\\d\xffe\x1b[2J\xc2\x9b\xe2\x80\xaef\xe2\x81\xa6\xc3\xa9";
        assert_eq!(
            mangle(raw),
            r"/a\040b\011c\134d\377e\033[2J\302\233\342\200\256f\342\201\246é"
        );
        assert_eq!(unmangle(mangle(raw).as_bytes()), raw);
        // An empty field must not vanish from the line.
        assert_eq!(mangle(b""), r"\000");
        let t =
            parse(format!("{} /t {} {} 0 0", mangle(b""), mangle(b"x"), mangle(b"")).as_bytes());
        assert_eq!(t.entries[0].source, b"");
        assert_eq!(t.entries[0].options.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn option_names_as_libmount_reads_them() {
        let e = one("a /b c rw,x-note=\"a,noauto\",noauto=1").unwrap();
        assert!(e.has_option("noauto"), "a value does not hide the name");
        let e = one("a /b c rw,x-note=\"a,noauto\"").unwrap();
        assert!(!e.has_option("noauto"), "quoted commas do not split");
        assert!(e.has_option("x-note") && e.has_option("rw"));
        assert!(!one("a /b c").unwrap().has_option("noauto"));
        assert!(!one("a /b c noautox,xnoauto").unwrap().has_option("noauto"));
    }

    #[test]
    fn what_mount_skips() {
        let skip = |l: &str| one(l).unwrap().skipped_by_mount();
        assert_eq!(skip("UUID=x none swap sw"), Some(Skip::Swap));
        assert_eq!(skip("UUID=x swap swap defaults"), Some(Skip::Swap));
        assert_eq!(skip("/dev/a / ext4 defaults"), Some(Skip::Root));
        assert_eq!(skip("/dev/a root ext4 defaults"), Some(Skip::Root));
        assert_eq!(skip("/dev/a /m ext4 user,noauto"), Some(Skip::NoAuto));
        assert_eq!(skip("/dev/a /m swapfs"), None);
        assert_eq!(skip("/dev/a // ext4"), None);
        assert_eq!(skip("/dev/a /m ext4 defaults"), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let table = parse(&data);
            for e in &table.entries {
                prop_assert!(!e.source.is_empty() && !e.target.is_empty() && !e.fstype.is_empty());
            }
        }

        #[test]
        fn mangled_fields_parse_back(
            source in proptest::collection::vec(1u8.., 0..20),
            target in proptest::collection::vec(1u8.., 0..20),
        ) {
            let line = format!("{} {} tmpfs rw 0 0", mangle(&source), mangle(&target));
            let table = parse(line.as_bytes());
            // A source starting with '#' reads as a comment; anything else parses back.
            if source.first() != Some(&b'#') {
                prop_assert_eq!(&table.entries[0].source, &source);
                prop_assert_eq!(&table.entries[0].target, &target);
            }
        }
    }
}
