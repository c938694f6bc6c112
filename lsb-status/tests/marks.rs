//! `lsb-status run` and the bare marks, on a pipe and on a real terminal.

use std::process::Command;

use super::{assert_stderr_has, closed_pipe, code, dev_full, lsb_status, run, stderr, stdout};

/// Column (1-based) of the mark's `[` on the last line of `text`.
fn bracket_column(text: &str) -> usize {
    text.trim_end_matches('\n')
        .rsplit('\n')
        .next()
        .unwrap()
        .find('[')
        .unwrap()
        + 1
}

#[test]
fn run_prints_the_mark_and_keeps_the_code() {
    let out = run(&["run", "Starting svc: ", "--", "true"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(
        text.starts_with("Starting svc: ") && text.ends_with("[  OK  ]\n"),
        "{text:?}"
    );
    assert_eq!(bracket_column(&text), 60);

    let out = run(&[
        "run",
        "Starting svc: ",
        "--",
        "sh",
        "-c",
        "echo from-cmd >&2; exit 3",
    ]);
    assert_eq!(code(&out), 3);
    assert!(stdout(&out).ends_with("[FAILED]\n"));
    assert_eq!(stderr(&out), "from-cmd\n");
}

#[test]
fn run_reports_what_a_shell_would() {
    let out = run(&["run", "x", "--", "/nonexistent/daemon"]);
    assert_eq!(code(&out), 127);
    assert!(stdout(&out).ends_with("[FAILED]\n"));
    assert_stderr_has(&out, "cannot run /nonexistent/daemon");
    let out = run(&["run", "x", "--", "/etc/hostname"]);
    assert_eq!(code(&out), 126);
    let out = run(&["run", "x", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(code(&out), 128 + 15);
    // No command at all is a usage error.
    assert_eq!(code(&run(&["run", "x"])), 2);
}

#[test]
fn the_command_output_comes_between_message_and_mark() {
    let out = run(&["run", "Loading: ", "--", "echo", "module"]);
    assert_eq!(
        stdout(&out),
        // Off a terminal the padding counts the message only (documented).
        format!(
            "Loading: module\n{}[  OK  ]\n",
            " ".repeat(59 - "Loading: ".len())
        )
    );
}

#[test]
fn bare_marks() {
    for (word, mark) in [
        ("ok", "[  OK  ]"),
        ("failed", "[FAILED]"),
        ("passed", "[PASSED]"),
        ("warning", "[WARNING]"),
    ] {
        let out = run(&[word, "Checking svc"]);
        assert_eq!(code(&out), 0, "{word}");
        let text = stdout(&out);
        assert!(
            text.starts_with("Checking svc ") && text.ends_with(&format!("{mark}\n")),
            "{text:?}"
        );
        assert_eq!(bracket_column(&text), 60);
        // Without MESSAGE the column is unknown (the script echoed its own
        // text): one space, not 59.
        let out = run(&[word]);
        assert_eq!(stdout(&out), format!(" {mark}\n"));
    }
}

/// RHEL's `echo -n "Starting foo"; echo_success` way, into a log file.
#[test]
fn a_bare_mark_after_the_scripts_own_echo_is_one_space_away() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{{ echo -n 'Starting foo'; '{}' ok; }} > '{}'",
            env!("CARGO_BIN_EXE_lsb-status"),
            log.display()
        ))
        .env_remove("TERM")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "Starting foo [  OK  ]\n"
    );
}

#[test]
fn colour_on_request_never_by_default_on_a_pipe() {
    let out = run(&["ok", "x"]);
    assert!(!stdout(&out).contains('\x1b'));
    let out = run(&["--color=always", "ok", "x"]);
    assert!(
        stdout(&out).contains("\x1b[32m  OK  \x1b[0m"),
        "{:?}",
        stdout(&out)
    );
    let out = run(&["failed", "--color", "always"]);
    assert!(
        stdout(&out).contains("\x1b[31mFAILED"),
        "{:?}",
        stdout(&out)
    );
    let out = lsb_status()
        .args(["--color=always", "ok"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains('\x1b'),
        "--color=always wins over NO_COLOR"
    );
}

/// Runs `lsb-status ARGS` on a real pseudo-terminal (util-linux `script`)
/// with the given environment, and returns what the terminal received.
fn on_terminal(args: &str, env: &[(&str, &str)]) -> String {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_lsb-status"));
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("script(1) from util-linux");
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
}

#[test]
fn terminals_get_colour_and_the_cursor_escape() {
    let text = on_terminal("ok Starting", &[("TERM", "xterm")]);
    assert!(text.contains("Starting\x1b[60G["), "{text:?}");
    assert!(text.contains("\x1b[32m  OK  \x1b[0m"), "{text:?}");

    let text = on_terminal("ok Starting", &[("TERM", "xterm"), ("NO_COLOR", "1")]);
    assert!(text.contains("\x1b[60G[  OK  ]"), "{text:?}");

    let text = on_terminal("ok Starting", &[("TERM", "dumb")]);
    assert!(!text.contains('\x1b'), "{text:?}");
    assert_eq!(bracket_column(&text.replace('\r', "")), 60);

    let text = on_terminal("--color=never ok Starting", &[("TERM", "xterm")]);
    assert!(
        !text.contains("\x1b[32m") && text.contains("\x1b[60G"),
        "{text:?}"
    );
}

#[test]
fn run_runs_the_command_even_when_nobody_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let ran = tmp.path().join("ran");
    let out = lsb_status()
        .args(["run", "Starting svc: ", "--", "sh", "-c"])
        .arg(format!("touch '{}'; exit 3", ran.display()))
        .stdout(closed_pipe())
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(ran.exists(), "the command was not run");
    assert_eq!(stderr(&out), "");
}

#[test]
fn run_runs_the_command_even_when_stdout_is_full() {
    let out = lsb_status()
        .args(["run", "Starting svc: ", "--", "sh", "-c", "exit 5"])
        .stdout(dev_full())
        .output()
        .unwrap();
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert_stderr_has(&out, "cannot write to stdout");
}

/// CMD gets lsb-status's own stdin (as with RHEL's `action`).
#[test]
fn run_passes_stdin_through_to_the_command() {
    use std::io::Write;
    let mut child = lsb_status()
        .args([
            "run",
            "Reading: ",
            "--",
            "sh",
            "-c",
            "read -r line; echo \"got $line\"",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.starts_with("Reading: got hello\n"), "{text:?}");
    assert!(text.ends_with("[  OK  ]\n"), "{text:?}");
}
