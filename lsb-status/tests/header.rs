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
fn devices_fifos_directories_and_huge_files_are_refused_at_once() {
    let out = header(&["/dev/zero"]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(
        &out,
        "cannot read /dev/zero: a character device, not a regular file: not an init script",
    );
    let tmp = tempfile::tempdir().unwrap();
    // A FIFO nobody writes to: read, it would block for ever.
    let fifo = tmp.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let out = header(&[s(&fifo)]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "a FIFO, not a regular file");
    let out = header(&[s(tmp.path())]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "a directory, not a regular file");
    let big = tmp.path().join("big");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len((16 << 20) + 1).unwrap();
    let out = header(&[s(&big)]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "more than 16 MiB: not an init script");
}

#[test]
fn control_characters_from_the_input_are_escaped_one_problem_a_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("evil\nscript");
    std::fs::write(
        &file,
        "### BEGIN INIT INFO\n# Provides: a\x1b[31m\n# Required-Start: $net\x1b]0;x\x07work\n### END INIT INFO\n",
    )
    .unwrap();
    let out = header(&[s(&file)]);
    let err = stderr(&out);
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
    assert!(
        err.contains("unknown facility `$net\\x1b]0;x\\x07work`"),
        "{err}"
    );
    assert!(err.contains("evil\\nscript:3: warning"), "{err}");
    // One problem, one line: as many lines as problems.
    let problems = err
        .lines()
        .filter(|l| l.contains(": warning: ") || l.contains(": error: "))
        .count();
    assert_eq!(err.lines().count(), problems, "{err}");
    let text = stdout(&out);
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(text.contains("Provides:          a\\x1b[31m"), "{text}");
}

#[test]
fn non_utf8_and_nested_blocks_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s");
    std::fs::write(
        &file,
        b"### BEGIN INIT INFO\n# Provides: caf\xe9\n### BEGIN INIT INFO\n### END INIT INFO\n"
            .as_slice(),
    )
    .unwrap();
    let out = header(&[s(&file)]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(
        &out,
        ":2: warning: not UTF-8 (byte 0xe9 at byte 16): read as U+FFFD",
    );
    assert_stderr_has(&out, ":3: error: a nested `### BEGIN INIT INFO`: the block opened on line 1 has no `### END INIT INFO` before it");
}
