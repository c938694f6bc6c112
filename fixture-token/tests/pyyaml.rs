//! Agreement with `PyYAML`'s `safe_load` (what the original tool used) on every
//! entry and field of every fixture file in the corpus.

use std::process::Command;

use serde_json::Value;

use crate::{corpus, run, stderr, stdout};

const FILES: [&str; 3] = [
    "api_client_authorizations.yml",
    "api_client_authorizations-2015.yml",
    "collections-2015.yml",
];

/// Loads a file as the original did (cut at the marker, `safe_load`) and dumps
/// it as JSON: keys and timestamps through `str()`, the rest as is.
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
def conv_top(v):
    # Pairs keep the file order of entries.
    return [[str(k), conv(x)] for k, x in v.items()]
print(json.dumps(conv_top(yaml.safe_load(text) or {})))
"##;

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
        eprintln!("SKIPPED: no python3 with the yaml module (apt-get install python3-yaml)");
        return;
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
        let entries: Vec<(String, Value)> =
            serde_json::from_slice::<Vec<(String, Value)>>(&dump.stdout).unwrap();

        let listed = stdout(&run(&["--file", file, "--list"]));
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(listed.lines().collect::<Vec<_>>(), names, "{name}: --list");

        for (entry, fields) in &entries {
            let out = run(&["--file", file, "--json", entry]);
            assert!(out.status.success(), "{name} {entry}: {}", stderr(&out));
            let ours: Value = serde_json::from_str(&stdout(&out)).unwrap();
            assert_eq!(&ours, fields, "{name} {entry}: --json");

            for (field, value) in fields.as_object().unwrap() {
                let out = run(&["--file", file, "--field", field, entry]);
                match value {
                    Value::String(s) => {
                        assert_eq!(stdout(&out), format!("{s}\n"), "{name} {entry} {field}");
                    }
                    Value::Array(_) | Value::Object(_) => {
                        assert_eq!(out.status.code(), Some(1), "{name} {entry} {field}");
                    }
                    scalar => assert_eq!(
                        stdout(&out),
                        format!("{scalar}\n"),
                        "{name} {entry} {field}"
                    ),
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
