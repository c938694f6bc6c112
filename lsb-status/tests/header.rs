//! `lsb-status header` on hand-written good and broken scripts.

use std::path::{Path, PathBuf};

use super::{assert_stderr_has, closed_pipe, code, run, s, stderr, stdout};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

fn header(args: &[&str]) -> std::process::Output {
    let mut all = vec!["header"];
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn a_good_script_is_clean() {
    let file = script("good");
    let out = header(&[s(&file), "--strict"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("{}:\n  Provides:          webd\n", s(&file))),
        "{text}"
    );
    assert!(text.contains("  chkconfig:         2345 85 15\n"), "{text}");
    assert!(
        text.contains(
            "  Description:       A small web server that serves one directory over HTTP.\n"
        ),
        "{text}"
    );
}

#[test]
fn the_shipped_lsb_service_script_is_clean() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/lsb-service");
    let out = header(&[s(&file), "--strict"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn json_output() {
    let good = script("good");
    let broken = script("missing-end");
    let out = header(&["--json", s(&good), s(&broken)]);
    assert_eq!(code(&out), 1);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["file"], s(&good));
    assert_eq!(json[0]["lsb"]["provides"], serde_json::json!(["webd"]));
    assert_eq!(
        json[0]["lsb"]["required-start"],
        serde_json::json!(["$network", "$remote_fs"])
    );
    assert_eq!(json[0]["chkconfig"]["stop"], 15);
    assert_eq!(json[0]["problems"], serde_json::json!([]));
    assert!(json[1]["lsb"]["end"].is_null());
    assert_eq!(json[1]["problems"][0]["severity"], "error");
    assert_eq!(json[1]["problems"][0]["line"], 3);
}

/// Runs `header FILE` and checks the exit code and that each expected
/// `FILE:LINE: severity: text` appears on stderr.
fn check(name: &str, want_code: i32, expected: &[(usize, &str, &str)]) {
    let file = script(name);
    let out = header(&[s(&file)]);
    let err = stderr(&out);
    assert_eq!(code(&out), want_code, "{name}: {err}");
    for (line, severity, text) in expected {
        let prefix = format!("lsb-status: {}:{line}: {severity}: ", s(&file));
        assert!(
            err.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(text)),
            "{name}: no `{prefix}...{text}` in\n{err}"
        );
    }
    assert_eq!(err.lines().count(), expected.len(), "{name}:\n{err}");
}

#[test]
fn broken_scripts_are_reported_with_file_and_line() {
    check("missing-end", 1, &[(3, "error", "no `### END INIT INFO`")]);
    check(
        "bad-runlevels",
        1,
        &[
            (6, "error", "runlevel '2345' in Default-Start"),
            (7, "error", "runlevel '9' in Default-Stop"),
            (7, "error", "runlevel(s) 1 in both"),
        ],
    );
    check(
        "bad-chkconfig",
        1,
        &[(2, "error", "chkconfig start priority '120'")],
    );
    check(
        "warnings-only",
        0,
        &[
            (3, "warning", "missing `Required-Stop:`"),
            (5, "warning", "unknown facility `$netwrok`"),
            (7, "warning", "unknown keyword `Default-Stpo:`"),
        ],
    );
    check(
        "no-block",
        0,
        &[(1, "warning", "no `### BEGIN INIT INFO` block")],
    );
}

#[test]
fn strict_fails_on_warnings() {
    let out = header(&["--strict", s(&script("warnings-only"))]);
    assert_eq!(code(&out), 1);
    let out = header(&["--strict", s(&script("good")), s(&script("no-block"))]);
    assert_eq!(code(&out), 1);
}

#[test]
fn unreadable_files_are_fatal() {
    let out = header(&["/nonexistent/init-script"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("lsb-status: cannot read /nonexistent/init-script: "),
        "{}",
        stderr(&out)
    );
    assert_eq!(code(&header(&[])), 2);
}

#[test]
fn binary_junk_does_not_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("junk");
    let junk: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    std::fs::write(&file, junk).unwrap();
    let out = header(&[s(&file)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_closed_stdout_or_stderr_keeps_the_verdict() {
    let broken = script("bad-runlevels");
    for closed_stdout in [true, false] {
        let mut cmd = super::lsb_status();
        cmd.args(["header", s(&broken)]);
        if closed_stdout {
            cmd.stdout(closed_pipe());
        } else {
            cmd.stderr(closed_pipe());
        }
        let out = cmd.output().unwrap();
        assert_eq!(code(&out), 1, "closed stdout: {closed_stdout}");
    }
}

#[test]
fn endless_files_are_refused() {
    let out = header(&["/dev/zero"]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(
        &out,
        "cannot read /dev/zero: more than 16 MiB: not an init script",
    );
}
