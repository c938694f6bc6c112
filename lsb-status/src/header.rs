//! Reading an init script's header: the LSB `### BEGIN INIT INFO` block and
//! the Red Hat `# chkconfig:` / `# description:` lines. Reading notes only
//! what is malformed line by line; [`crate::lint`] judges the content.

use serde::Serialize;

/// How bad a problem is: errors make tools (insserv, chkconfig) refuse or
/// misread the script; warnings are what they complain about and accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding, at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub line: usize,
    pub severity: Severity,
    pub message: String,
}

/// `Keyword: value` in the LSB block, as written (value trimmed, Description
/// continuation lines joined with single spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub keyword: String,
    pub value: String,
    pub line: usize,
}

/// The `### BEGIN INIT INFO` ... `### END INIT INFO` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lsb {
    pub begin: usize,
    pub end: Option<usize>,
    pub fields: Vec<Field>,
}

impl Lsb {
    /// The first field with this keyword (keywords compare case-blind, as
    /// insserv reads them).
    pub fn get(&self, keyword: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.keyword.eq_ignore_ascii_case(keyword))
    }

    /// The words of a list-valued field.
    pub fn words(&self, keyword: &str) -> Option<Vec<String>> {
        self.get(keyword)
            .map(|f| f.value.split_whitespace().map(str::to_owned).collect())
    }
}

/// `# chkconfig: LEVELS START STOP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chkconfig {
    pub line: usize,
    /// `-` (no runlevel) or digits 0-6.
    pub levels: String,
    pub start: u8,
    pub stop: u8,
}

/// Everything read from one script.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub lsb: Option<Lsb>,
    pub chkconfig: Option<Chkconfig>,
    /// The chkconfig-style `# description:` (with `\` continuations).
    pub description: Option<String>,
    pub problems: Vec<Problem>,
}

const BEGIN: &str = "### BEGIN INIT INFO";
const END: &str = "### END INIT INFO";

enum State {
    Outside,
    InBlock,
    /// A second block: insserv reads only the first.
    InExtraBlock,
}

/// How many lines with invalid UTF-8 are named one by one.
const UTF8_WARNINGS: usize = 3;

/// Reads a script. Any bytes are accepted; invalid UTF-8 is replaced (and
/// warned about).
pub fn parse(bytes: &[u8]) -> Header {
    let mut header = parse_text(bytes);
    let bad: Vec<(usize, usize, u8)> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let err = std::str::from_utf8(line).err()?;
            Some((i + 1, err.valid_up_to() + 1, line[err.valid_up_to()]))
        })
        .collect();
    for &(line, column, byte) in bad.iter().take(UTF8_WARNINGS) {
        header.problems.push(warning(
            line,
            &format!("not UTF-8 (byte 0x{byte:02x} at byte {column}): read as U+FFFD"),
        ));
    }
    if bad.len() > UTF8_WARNINGS {
        header.problems.push(warning(
            bad[UTF8_WARNINGS].0,
            &format!(
                "{} more lines that are not UTF-8",
                bad.len() - UTF8_WARNINGS
            ),
        ));
    }
    header
}

fn parse_text(bytes: &[u8]) -> Header {
    let text = String::from_utf8_lossy(bytes);
    // A final newline ends the last line; it does not start another.
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut header = Header::default();
    let mut state = State::Outside;
    let mut continuing = false;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let number = index + 1;
        index += 1;
        let marker = line.trim_end();
        match state {
            State::InBlock => {
                if marker == BEGIN {
                    let begin = header.lsb.as_ref().map_or(0, |l| l.begin);
                    header.problems.push(error(
                        number,
                        &format!(
                            "a nested `### BEGIN INIT INFO`: the block opened on line {begin} has no `### END INIT INFO` before it"
                        ),
                    ));
                } else if marker == END {
                    if let Some(lsb) = &mut header.lsb {
                        lsb.end = Some(number);
                    }
                    state = State::Outside;
                } else if let Some(lsb) = &mut header.lsb {
                    block_line(lsb, line, number, &mut continuing, &mut header.problems);
                }
            }
            State::InExtraBlock => {
                if marker == END {
                    state = State::Outside;
                }
            }
            State::Outside => {
                if marker == BEGIN {
                    if header.lsb.is_some() {
                        header.problems.push(warning(
                            number,
                            "a second INIT INFO block: insserv reads only the first",
                        ));
                        state = State::InExtraBlock;
                    } else {
                        header.lsb = Some(Lsb {
                            begin: number,
                            ..Lsb::default()
                        });
                        state = State::InBlock;
                    }
                } else if marker == END {
                    header
                        .problems
                        .push(warning(number, "`### END INIT INFO` without a BEGIN line"));
                } else {
                    index = redhat_line(&mut header, &lines, index - 1);
                }
            }
        }
    }
    header
}

/// A line inside the block: a keyword, a Description continuation, or junk.
/// `continuing` says whether the line before may be continued.
fn block_line(
    lsb: &mut Lsb,
    line: &str,
    number: usize,
    continuing: &mut bool,
    problems: &mut Vec<Problem>,
) {
    let Some(rest) = line.strip_prefix('#') else {
        *continuing = false;
        problems.push(error(
            number,
            "not a comment, inside the INIT INFO block: is `### END INIT INFO` missing above?",
        ));
        return;
    };
    if rest.trim().is_empty() {
        // A bare `#` is harmless, but ends a Description.
        *continuing = false;
        return;
    }
    let indented = rest.starts_with('\t') || rest.starts_with("  ");
    if indented && *continuing {
        if let Some(field) = lsb.fields.last_mut() {
            if !field.value.is_empty() {
                field.value.push(' ');
            }
            field.value.push_str(rest.trim());
            return;
        }
    }
    if let Some((keyword, value)) = keyword_line(rest) {
        *continuing = keyword.eq_ignore_ascii_case("Description");
        lsb.fields.push(Field {
            keyword: keyword.to_owned(),
            value: value.to_owned(),
            line: number,
        });
        return;
    }
    *continuing = false;
    let message = if indented {
        "an indented line, but only Description may continue on the next lines"
    } else {
        "expected `# Keyword: value` inside the INIT INFO block"
    };
    problems.push(warning(number, message));
}

/// `Keyword: value` after the `#`: a keyword is letters, digits and `-`.
fn keyword_line(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.trim_start();
    let (keyword, value) = rest.split_once(':')?;
    let plain = !keyword.is_empty()
        && keyword.starts_with(|c: char| c.is_ascii_alphabetic())
        && keyword
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    plain.then(|| (keyword, value.trim()))
}

/// A line outside the block: `# chkconfig:` or `# description:` (which may
/// continue with a trailing `\`). Returns the index of the next line.
fn redhat_line(header: &mut Header, lines: &[&str], index: usize) -> usize {
    let number = index + 1;
    let Some(comment) = lines[index].trim_start().strip_prefix('#') else {
        return index + 1;
    };
    let comment = comment.trim_start();
    if let Some(rest) = comment.strip_prefix("chkconfig:") {
        if header.chkconfig.is_some() {
            header.problems.push(warning(
                number,
                "a second `# chkconfig:` line: chkconfig uses the first",
            ));
        } else {
            match chkconfig(rest) {
                Ok((levels, start, stop)) => {
                    header.chkconfig = Some(Chkconfig {
                        line: number,
                        levels,
                        start,
                        stop,
                    });
                }
                Err(why) => header.problems.push(error(number, &why)),
            }
        }
        return index + 1;
    }
    let Some(rest) = comment.strip_prefix("description:") else {
        return index + 1;
    };
    let mut text = rest.trim().to_owned();
    let mut next = index + 1;
    while let Some(cut) = text.strip_suffix('\\') {
        let len = cut.trim_end().len();
        text.truncate(len);
        let more = lines
            .get(next)
            .and_then(|l| l.trim_start().strip_prefix('#'));
        let Some(more) = more else {
            header.problems.push(warning(
                number,
                "`# description:` ends with `\\` but the next line is not a comment: chkconfig drops it",
            ));
            break;
        };
        next += 1;
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(more.trim());
    }
    if header.description.is_none() {
        header.description = Some(text);
    }
    next
}

/// Checks `LEVELS START STOP` as chkconfig does: LEVELS `-` or digits 0-6,
/// priorities 0-99.
fn chkconfig(rest: &str) -> Result<(String, u8, u8), String> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let [levels, start, stop, ..] = words[..] else {
        return Err(format!(
            "`# chkconfig:{rest}` has {} field(s): expected `# chkconfig: LEVELS START STOP`, e.g. `# chkconfig: 2345 20 80`",
            words.len()
        ));
    };
    let levels_ok =
        levels == "-" || (levels.len() <= 15 && levels.bytes().all(|b| (b'0'..=b'6').contains(&b)));
    if !levels_ok {
        return Err(format!(
            "chkconfig runlevels '{levels}': expected `-` or digits 0-6, e.g. 2345"
        ));
    }
    let priority = |what: &str, word: &str| {
        word.parse::<u8>()
            .ok()
            .filter(|p| *p <= 99)
            .ok_or_else(|| format!("chkconfig {what} priority '{word}': expected a number 0-99"))
    };
    Ok((
        levels.to_owned(),
        priority("start", start)?,
        priority("stop", stop)?,
    ))
}

pub(crate) fn warning(line: usize, message: &str) -> Problem {
    Problem {
        line,
        severity: Severity::Warning,
        message: message.to_owned(),
    }
}

pub(crate) fn error(line: usize, message: &str) -> Problem {
    Problem {
        line,
        severity: Severity::Error,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = "#!/bin/bash
#
# chkconfig: 345 20 80
# description: Serves files \\
#              over HTTP.
#
### BEGIN INIT INFO
# Provides:          web www
# Required-Start:    $network $remote_fs
# Required-Stop:     $network $remote_fs
# Should-Start:      $syslog
# Default-Start:     3 4 5
# Default-Stop:      0 1 2 6
# Short-Description: A web server
# Description:       Serves files
#\tover HTTP,
#   fast.
# X-Interactive:     true
### END INIT INFO

echo hi
";

    #[test]
    fn reads_a_good_script() {
        let header = parse(GOOD.as_bytes());
        assert_eq!(header.problems, []);
        let lsb = header.lsb.as_ref().unwrap();
        assert_eq!((lsb.begin, lsb.end), (7, Some(19)));
        assert_eq!(lsb.words("Provides").unwrap(), ["web", "www"]);
        assert_eq!(lsb.get("provides").unwrap().line, 8);
        assert_eq!(
            lsb.get("Description").unwrap().value,
            "Serves files over HTTP, fast."
        );
        assert_eq!(lsb.get("X-Interactive").unwrap().value, "true");
        assert_eq!(lsb.words("Default-Stop").unwrap(), ["0", "1", "2", "6"]);
        assert_eq!(
            header.chkconfig,
            Some(Chkconfig {
                line: 3,
                levels: "345".into(),
                start: 20,
                stop: 80
            })
        );
        assert_eq!(
            header.description.as_deref(),
            Some("Serves files over HTTP.")
        );
    }

    #[test]
    fn crlf_and_empty_values() {
        let text =
            "### BEGIN INIT INFO\r\n# Provides: a\r\n# Required-Start:\r\n### END INIT INFO\r\n";
        let header = parse(text.as_bytes());
        let lsb = header.lsb.unwrap();
        assert_eq!(lsb.end, Some(4));
        assert_eq!(lsb.words("Required-Start").unwrap(), Vec::<String>::new());
        assert_eq!(lsb.get("Provides").unwrap().value, "a");
    }

    fn problems(text: &str) -> Vec<(usize, Severity, String)> {
        parse(text.as_bytes())
            .problems
            .into_iter()
            .map(|p| (p.line, p.severity, p.message))
            .collect()
    }

    #[test]
    fn a_non_comment_in_the_block_is_an_error() {
        let got = problems("### BEGIN INIT INFO\n# Provides: a\necho hi\n### END INIT INFO\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].0, got[0].1), (3, Severity::Error));
        assert!(got[0].2.contains("not a comment"), "{got:?}");
    }

    #[test]
    fn malformed_block_lines_are_warnings() {
        let got = problems(
            "### BEGIN INIT INFO\n# Provides: a\n#   stray continuation\n# just words\n### END INIT INFO\n",
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].0, got[0].1), (3, Severity::Warning));
        assert!(got[0].2.contains("only Description may continue"));
        assert_eq!((got[1].0, got[1].1), (4, Severity::Warning));
        assert!(got[1].2.contains("# Keyword: value"));
    }

    #[test]
    fn a_bare_comment_ends_the_description() {
        let header =
            parse(b"### BEGIN INIT INFO\n# Description: one\n#\n#   two\n### END INIT INFO\n");
        assert_eq!(header.lsb.unwrap().get("Description").unwrap().value, "one");
        assert_eq!(header.problems.len(), 1);
    }

    #[test]
    fn second_blocks_and_stray_ends_are_noted() {
        let got = problems(
            "### END INIT INFO\n### BEGIN INIT INFO\n### END INIT INFO\n### BEGIN INIT INFO\n# Provides: b\n### END INIT INFO\n",
        );
        assert_eq!(got.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 4]);
        let header = parse(b"### BEGIN INIT INFO\n### END INIT INFO\n### BEGIN INIT INFO\n# Provides: b\n### END INIT INFO\n");
        assert!(header.lsb.unwrap().get("Provides").is_none());
    }

    #[test]
    fn a_nested_begin_is_named() {
        let got = problems("### BEGIN INIT INFO\n# Provides: a\n### BEGIN INIT INFO\n# Provides: b\n### END INIT INFO\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].0, got[0].1), (3, Severity::Error));
        assert!(
            got[0]
                .2
                .contains("a nested `### BEGIN INIT INFO`: the block opened on line 1"),
            "{got:?}"
        );
    }

    #[test]
    fn invalid_utf8_is_warned_about_a_few_times() {
        let header = parse(b"ok\nbad \xff\n\xc3\n");
        let got: Vec<(usize, &str)> = header
            .problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (2, "not UTF-8 (byte 0xff at byte 5): read as U+FFFD"),
                (3, "not UTF-8 (byte 0xc3 at byte 1): read as U+FFFD")
            ]
        );
        let many = parse(&b"\xff\n".repeat(10));
        assert_eq!(many.problems.len(), UTF8_WARNINGS + 1);
        assert_eq!(many.problems[3].message, "7 more lines that are not UTF-8");
        assert_eq!(many.problems[3].line, 4);
    }

    #[test]
    fn chkconfig_lines_as_chkconfig_reads_them() {
        let read = |line: &str| parse(line.as_bytes());
        assert_eq!(
            read("# chkconfig: - 85 15\n").chkconfig.unwrap().levels,
            "-"
        );
        assert_eq!(read("#chkconfig: 2345 0 99\n").chkconfig.unwrap().stop, 99);
        for (bad, why) in [
            ("# chkconfig: 2345 20\n", "has 2 field(s)"),
            ("# chkconfig:\n", "has 0 field(s)"),
            ("# chkconfig: 2347 20 80\n", "digits 0-6"),
            ("# chkconfig: on 20 80\n", "digits 0-6"),
            ("# chkconfig: 2345 100 80\n", "start priority '100'"),
            ("# chkconfig: 2345 20 -1\n", "stop priority '-1'"),
            ("# chkconfig: 2345 2x 80\n", "start priority '2x'"),
        ] {
            let header = read(bad);
            assert!(header.chkconfig.is_none(), "{bad}");
            let problem = &header.problems[0];
            assert_eq!(
                (problem.line, problem.severity),
                (1, Severity::Error),
                "{bad}"
            );
            assert!(problem.message.contains(why), "{bad}: {}", problem.message);
        }
        let two = read("# chkconfig: 2345 20 80\n# chkconfig: 3 1 1\n");
        assert_eq!(two.chkconfig.unwrap().levels, "2345");
        assert_eq!(two.problems[0].line, 2);
    }

    #[test]
    fn description_continuations() {
        let header = parse(b"# description: one \\\n# two \\\n#three\n");
        assert_eq!(header.description.as_deref(), Some("one two three"));
        let header = parse(b"# description: one \\\necho\n");
        assert_eq!(header.description.as_deref(), Some("one"));
        assert_eq!(header.problems[0].severity, Severity::Warning);
        let header = parse(b"# description: dangling \\");
        assert_eq!(header.problems.len(), 1);
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let header = parse(&bytes);
            let lines = bytes.split(|b| *b == b'\n').count();
            for problem in crate::lint::lint(&header) {
                prop_assert!(problem.line >= 1 && problem.line <= lines);
            }
        }

        #[test]
        fn header_like_text_parses_without_panic(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("### BEGIN INIT INFO".to_owned()),
                    Just("### END INIT INFO".to_owned()),
                    "# [A-Za-z-]{0,12}:[ -~]{0,20}",
                    "#[ \t]{0,3}[ -~\\\\]{0,20}",
                    "# (chkconfig|description):[ 0-9a-z\\\\-]{0,12}",
                    "[ -~]{0,20}",
                ],
                0..24,
            )
        ) {
            let text = lines.join("\n");
            let header = parse(text.as_bytes());
            let _ = crate::lint::lint(&header);
            let _ = crate::report::text("f", &header);
        }

        #[test]
        fn generated_blocks_read_back(
            provides in "[a-z][a-z0-9-]{0,10}",
            levels in proptest::sample::subsequence(vec!["2", "3", "4", "5"], 0..4),
            words in proptest::collection::vec("[a-z]{1,8}", 1..6),
        ) {
            let text = format!(
                "### BEGIN INIT INFO\n# Provides: {provides}\n# Default-Start: {}\n# Description: {}\n#  {}\n### END INIT INFO\n",
                levels.join(" "), words[0], words[1..].join(" ")
            );
            let header = parse(text.as_bytes());
            let lsb = header.lsb.unwrap();
            prop_assert_eq!(lsb.words("Provides").unwrap(), vec![provides]);
            prop_assert_eq!(lsb.words("Default-Start").unwrap(), levels);
            prop_assert_eq!(&lsb.get("Description").unwrap().value, &words.join(" ").trim().to_owned());
        }
    }
}
