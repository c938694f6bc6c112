//! Showing parsed headers: as aligned text, or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::header::{Chkconfig, Header, Problem};
use crate::lint::KEYWORDS;

/// One file's header, in the shape `--json` prints.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub file: String,
    pub lsb: Option<LsbReport>,
    pub chkconfig: Option<&'a Chkconfig>,
    pub description: Option<&'a str>,
    pub problems: &'a [Problem],
}

/// The INIT INFO block: list keywords as word lists, text keywords as text,
/// `X-` extensions by their name as written. Absent keywords are `null`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LsbReport {
    pub begin: usize,
    pub end: Option<usize>,
    pub provides: Option<Vec<String>>,
    pub required_start: Option<Vec<String>>,
    pub required_stop: Option<Vec<String>>,
    pub should_start: Option<Vec<String>>,
    pub should_stop: Option<Vec<String>>,
    pub default_start: Option<Vec<String>>,
    pub default_stop: Option<Vec<String>>,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub extensions: BTreeMap<String, String>,
}

impl<'a> Report<'a> {
    pub fn new(file: String, header: &'a Header, problems: &'a [Problem]) -> Self {
        let lsb = header.lsb.as_ref().map(|lsb| LsbReport {
            begin: lsb.begin,
            end: lsb.end,
            provides: lsb.words("Provides"),
            required_start: lsb.words("Required-Start"),
            required_stop: lsb.words("Required-Stop"),
            should_start: lsb.words("Should-Start"),
            should_stop: lsb.words("Should-Stop"),
            default_start: lsb.words("Default-Start"),
            default_stop: lsb.words("Default-Stop"),
            short_description: lsb.get("Short-Description").map(|f| f.value.clone()),
            description: lsb.get("Description").map(|f| f.value.clone()),
            extensions: lsb
                .fields
                .iter()
                .filter(|f| f.keyword.len() > 2 && f.keyword[..2].eq_ignore_ascii_case("x-"))
                .rev() // the first of duplicates wins
                .map(|f| (f.keyword.clone(), f.value.clone()))
                .collect(),
        });
        Report {
            file,
            lsb,
            chkconfig: header.chkconfig.as_ref(),
            description: header.description.as_deref(),
            problems,
        }
    }
}

/// The text form: the file name, then one `Keyword: value` line per field
/// found, keywords in the LSB's order and spelling.
pub fn text(file: &str, header: &Header) -> String {
    let mut out = format!("{}:\n", crate::escape(file));
    if let Some(lsb) = &header.lsb {
        let extensions = lsb
            .fields
            .iter()
            .filter(|f| f.keyword.len() > 2 && f.keyword[..2].eq_ignore_ascii_case("x-"));
        let known = KEYWORDS.iter().filter_map(|k| lsb.get(k).map(|f| (*k, f)));
        let mut shown: Vec<&str> = Vec::new();
        for (keyword, field) in known.chain(extensions.map(|f| (f.keyword.as_str(), f))) {
            if shown.iter().any(|s| s.eq_ignore_ascii_case(keyword)) {
                continue;
            }
            shown.push(keyword);
            let line = format!(
                "  {:<19}{}",
                format!("{}:", crate::escape(keyword)),
                crate::escape(&field.value)
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    if let Some(chk) = &header.chkconfig {
        let _ = writeln!(
            out,
            "  {:<19}{} {} {}",
            "chkconfig:", chk.levels, chk.start, chk.stop
        );
    }
    if let Some(description) = &header.description {
        let _ = writeln!(
            out,
            "  {:<19}{}",
            "description:",
            crate::escape(description)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::parse;

    const SCRIPT: &str = "#!/bin/sh
# chkconfig: 2345 20 80
# description: Foo serves \\
#              files.
### BEGIN INIT INFO
# Provides:          foo
# Required-Start:    $network
# Default-Start:     2 3 4 5
# X-Interactive:     true
# Description:       Foo
#   serves files.
### END INIT INFO
";

    #[test]
    fn text_lists_fields_in_lsb_order() {
        let header = parse(SCRIPT.as_bytes());
        let text = text("foo", &header);
        assert_eq!(
            text,
            "foo:
  Provides:          foo
  Required-Start:    $network
  Default-Start:     2 3 4 5
  Description:       Foo serves files.
  X-Interactive:     true
  chkconfig:         2345 20 80
  description:       Foo serves files.
"
        );
    }

    #[test]
    fn json_has_every_keyword_and_nulls() {
        let header = parse(SCRIPT.as_bytes());
        let report = Report::new("foo".into(), &header, &[]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["lsb"]["provides"], serde_json::json!(["foo"]));
        assert_eq!(
            json["lsb"]["default-start"],
            serde_json::json!(["2", "3", "4", "5"])
        );
        assert!(json["lsb"]["required-stop"].is_null());
        assert_eq!(json["lsb"]["extensions"]["X-Interactive"], "true");
        assert_eq!(json["lsb"]["begin"], 5);
        assert_eq!(json["lsb"]["end"], 12);
        assert_eq!(json["chkconfig"]["start"], 20);
        assert_eq!(json["chkconfig"]["levels"], "2345");
        assert_eq!(json["description"], "Foo serves files.");
    }
}
