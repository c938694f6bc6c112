//! Agreement with util-linux: `findmnt --tab-file FILE --fstab` and
//! `aoe-fstab list --json` must see the same entries and the same bad lines.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use serde_json::Value;

use crate::{corpus, corpus_files, run, stderr};

/// (source, target, fstype, options, freq, passno) per entry, and the
/// numbers of the lines reported as bad.
type Seen = (Vec<[Value; 6]>, Vec<usize>);

const FIELDS: [&str; 6] = ["source", "target", "fstype", "options", "freq", "passno"];

fn entries(doc: &str) -> Vec<[Value; 6]> {
    if doc.trim().is_empty() {
        return Vec::new();
    }
    let doc: Value = serde_json::from_str(doc).expect("JSON");
    doc["filesystems"]
        .as_array()
        .expect("filesystems array")
        .iter()
        .map(|fs| FIELDS.map(|f| fs[f].clone()))
        .collect()
}

/// Line numbers from messages like `...:LINE: ...` or `... at line N ...`.
fn bad_lines(stderr: &str, marker: &str) -> Vec<usize> {
    stderr
        .lines()
        .filter_map(|l| {
            let at = l.find(marker)? + marker.len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn findmnt(file: &Path) -> Seen {
    let out = Command::new("findmnt")
        .env("LC_ALL", "C")
        .arg("--tab-file")
        .arg(file)
        .args([
            "--fstab",
            "--json",
            "-o",
            "SOURCE,TARGET,FSTYPE,OPTIONS,FREQ,PASSNO",
        ])
        .output()
        .expect("findmnt (util-linux) must be installed");
    // findmnt prints field bytes as they are (`\742` is a lone 0xe2);
    // `aoe-fstab --json` prints U+FFFD for them, as this does.
    let text = String::from_utf8_lossy(&out.stdout);
    (
        entries(&text),
        bad_lines(
            &String::from_utf8_lossy(&out.stderr),
            "parse error at line ",
        ),
    )
}

/// Our entries (`list --json`) and bad lines: `check` lists every bad
/// line (warnings stop after a few), among problems of entries, which
/// `list --json` numbers.
fn ours(file: &Path) -> Seen {
    let out = run(file, &["list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout.clone()).expect("JSON output is UTF-8");
    let entry_lines: Vec<usize> = if text.trim().is_empty() {
        Vec::new()
    } else {
        let doc: Value = serde_json::from_str(&text).expect("JSON");
        doc["filesystems"]
            .as_array()
            .expect("filesystems array")
            .iter()
            .map(|fs| usize::try_from(fs["line"].as_u64().expect("line")).unwrap())
            .collect()
    };
    let check = run(file, &["check"]);
    let marker = format!("{}:", file.display());
    let mut bad = bad_lines(&String::from_utf8_lossy(&check.stdout), &marker);
    bad.retain(|n| !entry_lines.contains(n));
    bad.dedup();
    (entries(&text), bad)
}

#[test]
fn agrees_with_findmnt_on_the_corpus() {
    let files = corpus_files();
    assert!(files.len() >= 6, "corpus files: {files:?}");
    for file in files {
        let theirs = findmnt(&file);
        assert!(
            !theirs.0.is_empty(),
            "{}: findmnt saw nothing",
            file.display()
        );
        let ours = ours(&file);
        assert_eq!(
            ours.0.len(),
            theirs.0.len(),
            "{}: entry count",
            file.display()
        );
        for (i, (a, b)) in ours.0.iter().zip(&theirs.0).enumerate() {
            assert_eq!(a, b, "{}: entry {i}", file.display());
        }
        assert_eq!(ours.1, theirs.1, "{}: bad lines", file.display());
    }
}

#[test]
fn broken_corpus_file_reports_lines_1_and_8() {
    let file = corpus().join("util-linux-fstab.broken");
    let (_, bad) = ours(&file);
    assert_eq!(bad, [1, 8]);
}

#[test]
fn agrees_with_findmnt_on_nul_bytes_and_raw_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fstab");
    // A NUL before a newline makes the line bad, even a comment; on the
    // last, unterminated line it ends the line. `\742` decodes to 0xe2.
    std::fs::write(
        &file,
        b"a /b c\0d\n# note\0\n\0\n\\ /\xff \\742\nx /y z\r\0junk",
    )
    .unwrap();
    let (entries, bad) = ours(&file);
    assert_eq!(bad, [1, 2, 3]);
    assert_eq!(entries.len(), 2);
    assert_eq!((entries, bad), findmnt(&file));
}

/// Lines built from the bytes that matter to the format.
fn line() -> impl Strategy<Value = Vec<u8>> {
    const ATOMS: &[&[u8]] = &[
        b"a",
        b"/m",
        b" ",
        b"\t",
        b"#",
        b"\\",
        b"\\040",
        b"\\011",
        b"\\101",
        b"\\134",
        b"\\000",
        b"\\742",
        b"0",
        b"7",
        b"42",
        b"-",
        b"+",
        b"\r",
        b"\0",
        b"\xff",
        b"x",
        b"99999999999999999999",
    ];
    proptest::collection::vec(proptest::sample::select(ATOMS), 0..14)
        .prop_map(|atoms| atoms.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_findmnt_on_generated_files(lines in proptest::collection::vec(line(), 1..12)) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fstab");
        let text = lines.join(&b'\n');
        std::fs::write(&file, &text).unwrap();
        prop_assert_eq!(ours(&file), findmnt(&file), "file: {:?}", String::from_utf8_lossy(&text));
    }
}
