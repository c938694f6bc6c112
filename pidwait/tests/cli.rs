//! The command-line contract: version, help, usage errors.

use crate::support::{kill_pid, parts, run, running, Proc};

#[test]
fn version_is_ours_not_procps() {
    let (code, out, _) = parts(&run(&["--version"]));
    assert_eq!(code, Some(0));
    assert_eq!(out, "pidwait 0.1.0 (stackutils)\n");
    assert!(!out.contains("procps"));
}

#[test]
fn help_lists_the_exit_codes() {
    let (code, out, _) = parts(&run(&["--help"]));
    assert_eq!(code, Some(0));
    for text in [
        "Exit codes:",
        "  0 ",
        "  1 ",
        "  2 ",
        "130",
        "143",
        "--retry",
        "--trust-pidfile",
        "--running: 0 running (pids on stdout), 1 not running",
        "never signalled (a stale pidfile)",
        "every directory on its path owned by\nroot or us",
    ] {
        assert!(out.contains(text), "{text} missing from:\n{out}");
    }
}

/// Each usage error exits 2 and says what is wrong with the command line.
#[test]
fn usage_errors_exit_2_and_say_why() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[],
            "required arguments were not provided: <FILE|--pid <PID>>",
        ),
        (
            &["--pid", "1234"],
            "required arguments were not provided: <--exit|--kill|--running>",
        ),
        (
            &["--kill", "--pid", "1"],
            "invalid value '1' for '--pid <PID>': 1 is not in 2..",
        ),
        (
            &["--kill", "--pid", "0"],
            "invalid value '0' for '--pid <PID>'",
        ),
        (&["--kill", "--pid", "-1"], "unexpected argument '-1'"),
        (
            &["--exit", "--kill", "f.pid"],
            "'--exit' cannot be used with '--kill'",
        ),
        (
            &["--signal", "HUP", "f.pid"],
            "required arguments were not provided: --kill",
        ),
        (
            &["--kill", "--signal", "BOGUS", "f.pid"],
            "unknown signal 'BOGUS'",
        ),
        (
            &["--kill", "--retry", "5", "--timeout", "1", "f.pid"],
            "'--retry <SCHEDULE>' cannot be used with '--timeout <DURATION>'",
        ),
        (&["--timeout", "soon", "f.pid"], "invalid duration 'soon'"),
        (
            &["--name", "", "f.pid"],
            "a value is required for '--name <COMM>'",
        ),
        (
            &["--kill", "--exe", "/tmp", "--pid", "99999"],
            "--exe: /tmp is a directory, not an executable file",
        ),
        (
            &["--running", "--remove", "f.pid"],
            "'--running' cannot be used with '--remove'",
        ),
        (
            &["--kill", "--print-started", "f.pid"],
            "'--kill' cannot be used with '--print-started'",
        ),
        (
            &["--running", "--started", "soon", "f.pid"],
            "invalid value 'soon' for '--started <TICKS>'",
        ),
    ];
    for (args, why) in cases {
        let (code, out, err) = parts(&run(args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
        assert!(
            err.starts_with("pidwait: ") && err.contains(why),
            "{args:?}: want {why:?} in {err}"
        );
    }
}

#[test]
fn bad_retry_schedules_exit_2_and_say_what_is_expected() {
    let target = Proc::sleeper();
    for schedule in [
        "TERM/5/KILL",
        "FOO/5",
        "TERM//5",
        "forever",
        "TERM/5/forever",
    ] {
        let (code, _, err) = kill_pid(target.pid(), &["--retry", schedule]);
        assert_eq!(code, Some(2), "{schedule}: {err}");
        assert!(
            err.contains("expected e.g. TERM/10/KILL/5"),
            "{schedule}: {err}"
        );
    }
    assert!(
        running(target.pid()),
        "a bad schedule must not signal anything"
    );
}

#[test]
fn missing_exe_is_named() {
    let target = Proc::sleeper();
    let (code, _, err) = kill_pid(target.pid(), &["--exe", "/no/such/prog"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/no/such/prog"), "{err}");
    assert!(running(target.pid()));
}
