//! Judging a parsed header by what insserv, chkconfig and the LSB expect.

use crate::header::{error, warning, Header, Lsb, Problem};

/// The LSB keywords, spelt as the specification does.
pub const KEYWORDS: [&str; 9] = [
    "Provides",
    "Required-Start",
    "Required-Stop",
    "Should-Start",
    "Should-Stop",
    "Default-Start",
    "Default-Stop",
    "Short-Description",
    "Description",
];

/// Keywords whose absence insserv complains about ("please add even if
/// empty"). The descriptions are optional: lintian does not insist either.
const WANTED: [&str; 5] = [
    "Provides",
    "Required-Start",
    "Required-Stop",
    "Default-Start",
    "Default-Stop",
];

/// Keywords that list facilities (insserv's `X-` ordering ones included).
const DEPENDENCIES: [&str; 6] = [
    "Required-Start",
    "Required-Stop",
    "Should-Start",
    "Should-Stop",
    "X-Start-Before",
    "X-Stop-After",
];

/// System facilities: the LSB's seven, insserv's `$all`, and Debian's
/// `$mail-transport-agent`. Names starting `$x-` are vendor extensions
/// (Debian's `$x-display-manager`) and are accepted too.
pub const FACILITIES: [&str; 9] = [
    "$local_fs",
    "$network",
    "$named",
    "$portmap",
    "$remote_fs",
    "$syslog",
    "$time",
    "$all",
    "$mail-transport-agent",
];

/// All problems of a header: the reader's, then these, by line.
pub fn lint(header: &Header) -> Vec<Problem> {
    let mut problems = header.problems.clone();
    match &header.lsb {
        None => problems.push(warning(
            1,
            "no `### BEGIN INIT INFO` block: insserv and update-rc.d cannot order this script",
        )),
        Some(lsb) => lint_block(lsb, &mut problems),
    }
    if let (Some(chk), Some(lsb)) = (&header.chkconfig, &header.lsb) {
        if let Some(start) = lsb.words("Default-Start") {
            let mut lsb_levels: Vec<char> = start
                .iter()
                .filter_map(|w| w.chars().next().filter(|_| w.len() == 1))
                .filter(char::is_ascii_digit)
                .collect();
            lsb_levels.sort_unstable();
            lsb_levels.dedup();
            let mut chk_levels: Vec<char> =
                chk.levels.chars().filter(char::is_ascii_digit).collect();
            chk_levels.sort_unstable();
            chk_levels.dedup();
            if lsb_levels != chk_levels {
                problems.push(warning(
                    chk.line,
                    &format!(
                        "chkconfig runlevels '{}' differ from Default-Start '{}'",
                        chk.levels,
                        start.join(" ")
                    ),
                ));
            }
        }
    }
    problems.sort_by_key(|p| p.line);
    problems
}

fn lint_block(lsb: &Lsb, problems: &mut Vec<Problem>) {
    if lsb.end.is_none() {
        problems.push(error(
            lsb.begin,
            "no `### END INIT INFO` after this BEGIN line: insserv refuses the script",
        ));
    }
    for field in &lsb.fields {
        let lower = field.keyword.to_ascii_lowercase();
        if let Some(first) = lsb.get(&field.keyword).filter(|f| f.line != field.line) {
            problems.push(warning(
                field.line,
                &format!(
                    "`{}:` again (first on line {}): only the first counts",
                    field.keyword, first.line
                ),
            ));
        } else if !lower.starts_with("x-")
            && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&lower))
        {
            problems.push(warning(
                field.line,
                &format!(
                    "unknown keyword `{}:`{}; extensions start with `X-`",
                    field.keyword,
                    did_you_mean(&field.keyword, &KEYWORDS)
                ),
            ));
        }
    }
    for keyword in WANTED {
        if lsb.get(keyword).is_none() {
            problems.push(warning(
                lsb.begin,
                &format!("missing `{keyword}:` (insserv wants it, even if empty)"),
            ));
        }
    }
    if let Some(provides) = lsb.get("Provides") {
        let names: Vec<&str> = provides.value.split_whitespace().collect();
        if names.is_empty() {
            problems.push(warning(provides.line, "`Provides:` names nothing"));
        }
        for name in names.iter().filter(|n| n.starts_with('$')) {
            problems.push(warning(
                provides.line,
                &format!("`Provides: {name}`: system facilities are not provided by scripts"),
            ));
        }
    }
    let start = runlevels(lsb, "Default-Start", problems);
    let stop = runlevels(lsb, "Default-Stop", problems);
    if let (Some(start), Some(stop)) = (start, stop) {
        let both: Vec<String> = stop
            .1
            .iter()
            .filter(|l| start.1.contains(l))
            .map(char::to_string)
            .collect();
        if !both.is_empty() {
            problems.push(error(
                stop.0,
                &format!(
                    "runlevel(s) {} in both Default-Start and Default-Stop",
                    both.join(" ")
                ),
            ));
        }
    }
    for keyword in DEPENDENCIES {
        let Some(field) = lsb.get(keyword) else {
            continue;
        };
        for name in field.value.split_whitespace() {
            let known = FACILITIES.contains(&name) || name.starts_with("$x-");
            if name.starts_with('$') && !known {
                problems.push(warning(
                    field.line,
                    &format!(
                        "unknown facility `{name}` in {}{}",
                        field.keyword,
                        did_you_mean(name, &FACILITIES)
                    ),
                ));
            }
        }
    }
}

/// The runlevels of `Default-Start`/`Default-Stop` (S folded to `S`), with
/// an error for each word that is not 0-6 or S.
fn runlevels(lsb: &Lsb, keyword: &str, problems: &mut Vec<Problem>) -> Option<(usize, Vec<char>)> {
    let field = lsb.get(keyword)?;
    let mut levels = Vec::new();
    for word in field.value.split_whitespace() {
        match word {
            "0" | "1" | "2" | "3" | "4" | "5" | "6" | "S" | "s" => {
                levels.push(word.chars().next()?.to_ascii_uppercase());
            }
            _ => problems.push(error(
                field.line,
                &format!(
                    "runlevel '{word}' in {keyword}: expected 0-6 or S, separated by spaces{}",
                    if word.len() > 1 && word.bytes().all(|b| b.is_ascii_digit()) {
                        " (write `2 3 4 5`, not `2345`)"
                    } else {
                        ""
                    }
                ),
            )),
        }
    }
    Some((field.line, levels))
}

/// ` (did you mean X?)` for the closest of `known`, if it is close.
fn did_you_mean(word: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| {
            (
                strsim::levenshtein(&word.to_ascii_lowercase(), &k.to_ascii_lowercase()),
                k,
            )
        })
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{parse, Severity};

    fn lint_text(text: &str) -> Vec<(usize, Severity, String)> {
        lint(&parse(text.as_bytes()))
            .into_iter()
            .map(|p| (p.line, p.severity, p.message))
            .collect()
    }

    fn block(fields: &str) -> String {
        format!("#!/bin/sh\n### BEGIN INIT INFO\n{fields}### END INIT INFO\n")
    }

    const COMPLETE: &str = "# Provides: foo\n# Required-Start: $remote_fs\n# Required-Stop: $remote_fs\n# Default-Start: 2 3 4 5\n# Default-Stop: 0 1 6\n";

    #[test]
    fn a_complete_block_is_clean() {
        assert_eq!(lint_text(&block(COMPLETE)), []);
    }

    #[test]
    fn no_block_is_a_warning() {
        let got = lint_text("#!/bin/sh\necho hi\n");
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0, got[0].1), (1, Severity::Warning));
    }

    #[test]
    fn a_missing_end_is_an_error_at_the_begin_line() {
        let got = lint_text(&format!("#!/bin/sh\n### BEGIN INIT INFO\n{COMPLETE}"));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].0, got[0].1), (2, Severity::Error));
        assert!(got[0].2.contains("END INIT INFO"));
    }

    #[test]
    fn each_missing_keyword_is_a_warning() {
        let got = lint_text(&block("# Provides: foo\n"));
        let missing: Vec<&str> = got.iter().map(|p| p.2.as_str()).collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got.iter().all(|p| p.0 == 2 && p.1 == Severity::Warning));
        for keyword in [
            "Required-Start",
            "Required-Stop",
            "Default-Start",
            "Default-Stop",
        ] {
            assert!(missing.iter().any(|m| m.contains(keyword)), "{keyword}");
        }
    }

    #[test]
    fn runlevels_must_be_0_to_6_or_s() {
        let fields = COMPLETE.replace("2 3 4 5", "2345 7 s");
        let got = lint_text(&block(&fields));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|p| p.0 == 6 && p.1 == Severity::Error));
        assert!(got[0].2.contains("'2345'") && got[0].2.contains("write `2 3 4 5`"));
        assert!(got[1].2.contains("'7'"));
    }

    #[test]
    fn overlapping_runlevels_are_an_error() {
        let fields = COMPLETE.replace("0 1 6", "0 1 2 5 6");
        let got = lint_text(&block(&fields));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].0, got[0].1), (7, Severity::Error));
        assert!(got[0].2.contains("runlevel(s) 2 5 in both"), "{}", got[0].2);
    }

    #[test]
    fn unknown_facilities_and_keywords_get_a_suggestion() {
        let fields = format!(
            "{COMPLETE}# Should-Start: $netwrok $x-display-manager $all mysql\n# Requried-Stop: x\n# X-Start-Before: $bogus\n"
        );
        let got = lint_text(&block(&fields));
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got.iter().all(|p| p.1 == Severity::Warning));
        assert!(
            got[0].2.contains("`$netwrok`") && got[0].2.contains("did you mean `$network`"),
            "{}",
            got[0].2
        );
        assert!(
            got[1].2.contains("did you mean `Required-Stop`"),
            "{}",
            got[1].2
        );
        assert!(
            got[2].2.contains("`$bogus`") && !got[2].2.contains("did you mean"),
            "{}",
            got[2].2
        );
    }

    #[test]
    fn duplicates_and_strange_provides() {
        let fields = format!("{COMPLETE}# Provides: bar\n");
        let got = lint_text(&block(&fields));
        assert_eq!(got.len(), 1);
        assert!(got[0].2.contains("first on line 3"), "{}", got[0].2);
        let fields = COMPLETE.replace("Provides: foo", "Provides: $network");
        assert!(lint_text(&block(&fields))[0]
            .2
            .contains("not provided by scripts"));
        let fields = COMPLETE.replace("Provides: foo", "Provides:");
        assert!(lint_text(&block(&fields))[0].2.contains("names nothing"));
    }

    #[test]
    fn chkconfig_and_default_start_should_agree() {
        let text = format!("# chkconfig: 345 20 80\n{}", block(COMPLETE));
        let got = lint_text(&text);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].0, got[0].1), (1, Severity::Warning));
        let text = format!("# chkconfig: 2345 20 80\n{}", block(COMPLETE));
        assert_eq!(lint_text(&text), []);
    }
}
