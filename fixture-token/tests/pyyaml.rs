//! Agreement with `PyYAML`'s `safe_load` (what the original tool used): on
//! every entry and field of every fixture file in the corpus, and on plain
//! scalars generated to hit YAML 1.1's resolution rules.

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use serde_json::Value;

use crate::{corpus, run, skip, stderr, stdout};

const FILES: [&str; 3] = [
    "api_client_authorizations.yml",
    "api_client_authorizations-2015.yml",
    "collections-2015.yml",
];

/// Loads a file as the original did (cut at the marker, `safe_load`) and
/// dumps, for each entry in file order, its JSON (keys and timestamps
/// through `str()`) and the `str()` of each scalar field (null for a list or
/// map).
const DUMP: &str = r##"
import datetime, json, sys, yaml
text = open(sys.argv[1], encoding="utf-8").read()
at = text.find("# Test Helper trims the rest of the file")
if at >= 0:
    text = text[:at]
def conv(v):
    if isinstance(v, (datetime.date, datetime.datetime)):
        return str(v)
    if isinstance(v, dict):
        return {str(k): conv(x) for k, x in v.items()}
    if isinstance(v, list):
        return [conv(x) for x in v]
    return v
def shown(v):
    return None if isinstance(v, (dict, list)) else str(v)
doc = yaml.safe_load(text) or {}
print(json.dumps([[str(k), conv(x), {str(f): shown(y) for f, y in x.items()}]
                  for k, x in doc.items()]))
"##;

/// Reads a JSON list of scalar texts on stdin; for each, `str()` of what
/// `safe_load("v: TEXT")` gives, or null when `PyYAML` fails on it.
const RESOLVE: &str = r#"
import json, sys, yaml
out = []
for text in json.load(sys.stdin):
    try:
        out.append(str(yaml.safe_load("v: " + text)["v"]))
    except Exception:
        out.append(None)
print(json.dumps(out))
"#;

fn python_with_yaml() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import yaml"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn agrees_with_pyyaml_on_the_whole_corpus() {
    let Some(python) = python_with_yaml() else {
        return skip("no python3 with the yaml module (apt-get install python3-yaml)");
    };
    let mut checked = 0;
    for name in FILES {
        let path = corpus().join(name);
        let file = path.to_str().unwrap();
        let dump = Command::new(python)
            .args(["-c", DUMP, file])
            .output()
            .unwrap();
        assert!(
            dump.status.success(),
            "{}",
            String::from_utf8_lossy(&dump.stderr)
        );
        let entries: Vec<(String, Value, Value)> = serde_json::from_slice(&dump.stdout).unwrap();

        let listed = stdout(&run(&["--file", file, "--list"]));
        let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(listed.lines().collect::<Vec<_>>(), names, "{name}: --list");

        for (entry, fields, shown) in &entries {
            let out = run(&["--file", file, "--json", entry]);
            assert!(out.status.success(), "{name} {entry}: {}", stderr(&out));
            let ours: Value = serde_json::from_str(&stdout(&out)).unwrap();
            assert_eq!(&ours, fields, "{name} {entry}: --json");

            for (field, text) in shown.as_object().unwrap() {
                let out = run(&["--file", file, "--field", field, entry]);
                match text {
                    Value::String(s) => {
                        assert_eq!(stdout(&out), format!("{s}\n"), "{name} {entry} {field}");
                    }
                    _ => assert_eq!(out.status.code(), Some(1), "{name} {entry} {field}"),
                }
                checked += 1;
            }
            if let Some(token) = fields.get("api_token") {
                let out = run(&["--file", file, entry]);
                assert_eq!(
                    stdout(&out),
                    format!("{}\n", token.as_str().unwrap()),
                    "{name} {entry}"
                );
            }
        }
    }
    assert!(checked > 500, "only {checked} fields checked");
}

/// Plain scalars near YAML 1.1's rules: ints in every base, sexagesimals,
/// floats with and without an exponent sign, booleans and nulls in every
/// case, timestamps valid and not, and words.
fn plain_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        r"[-+]?[0-9][0-9_]{0,8}",
        r"[-+]?0[0-9_]{0,6}",
        r"[-+]?0[xXbBoO][0-9a-fA-F_]{0,6}",
        r"[-+]?[0-9][0-9_]{0,3}(:[0-9_]{1,2}){1,3}(\.[0-9_]{0,3})?",
        r"[-+]?([0-9][0-9_]{0,3})?\.[0-9_]{0,4}([eE][-+]?[0-9]{1,3})?",
        r"[-+]?[0-9]{1,3}[eE][-+]?[0-9]{1,3}",
        r"[-+]?[0-9]{1,18}\.[0-9]{0,18}([eE][-+][0-9]{1,3})?",
        r"[0-9]{20,40}",
        r"[-+]?\.(inf|Inf|INF|iNf|nan|NaN|NAN|naN)",
        "(y|Y|yes|Yes|YES|yEs|n|N|no|No|NO|true|True|TRUE|tRue|false|False|FALSE|on|On|ON|oN|off|Off|OFF|null|Null|NULL|nuLL|~|<<|=)",
        r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ ]{1,2})[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,8})?( ?(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?",
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
        r"(19|20)[0-9]{2}-(0?[1-9]|1[0-2])-(0?[1-9]|1[0-9]|2[0-8])([Tt]|[ \t]{1,2})([01]?[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{0,8})?([ \t]?(Z|[-+](0?[0-9]|1[0-3])(:[0-5][0-9])?))?",
        r"[a-z][a-z0-9_.+]{0,6}",
    ]
}

/// Our `str()` of the scalar, `None` when we refuse it.
fn ours(text: &str) -> Option<String> {
    let doc = format!("e:\n  v: {text}\n");
    let fixtures = fixture_token::Fixtures::parse("p.yml".as_ref(), doc.as_bytes()).ok()?;
    fixtures.field("e", "v").ok()
}

fn theirs(python: &str, texts: &[String]) -> Vec<Option<String>> {
    let mut child = Command::new(python)
        .args(["-c", RESOLVE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(texts).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn plain_scalars_resolve_as_pyyaml_resolves_them() {
    let Some(python) = python_with_yaml() else {
        return skip("no python3 with the yaml module (apt-get install python3-yaml)");
    };
    // One Python run for a batch of 200 scalars: 40 batches, 8000 scalars.
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(40));
    runner
        .run(&proptest::collection::vec(plain_scalar(), 200), |texts| {
            let expected = theirs(python, &texts);
            for (text, expected) in texts.iter().zip(expected) {
                prop_assert_eq!(ours(text), expected, "plain scalar {:?}", text);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_issue_examples_print_as_pyyaml_prints_them() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f.yml");
    std::fs::write(
        &file,
        "e:\n  a: 12e3\n  b: 0o17\n  c: 012\n  d: 1:20\n  e: 1_000\n  f: yes\n  g: on\n  h: .inf\n  i: ~\n  j: '012'\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    for (field, expected) in [
        ("a", "12e3"),
        ("b", "0o17"),
        ("c", "10"),
        ("d", "80"),
        ("e", "1000"),
        ("f", "True"),
        ("g", "True"),
        ("h", "inf"),
        ("i", "None"),
        ("j", "012"),
    ] {
        let out = run(&["--file", file, "--field", field, "e"]);
        assert_eq!(
            stdout(&out),
            format!("{expected}\n"),
            "{field}: {}",
            stderr(&out)
        );
    }
    let out = run(&["--file", file, "--json", "e"]);
    assert_eq!(
        stdout(&out),
        "{\"a\":\"12e3\",\"b\":\"0o17\",\"c\":10,\"d\":80,\"e\":1000,\"f\":true,\"g\":true,\"h\":\"inf\",\"i\":null,\"j\":\"012\"}\n"
    );
}
