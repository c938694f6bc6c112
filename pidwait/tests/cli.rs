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
    ] {
        assert!(out.contains(text), "{text} missing from:\n{out}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["--pid", "1234"],
        &["--kill", "--pid", "1"],
        &["--kill", "--pid", "0"],
        &["--kill", "--pid", "-1"],
        &["--exit", "--kill", "f.pid"],
        &["--signal", "HUP", "f.pid"],
        &["--kill", "--signal", "BOGUS", "f.pid"],
        &["--kill", "--retry", "5", "--timeout", "1", "f.pid"],
        &["--timeout", "soon", "f.pid"],
        &["--name", "", "f.pid"],
        &["--kill", "--exe", "/tmp", "--pid", "99999"],
    ] {
        let (code, out, err) = parts(&run(args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
        assert!(!err.is_empty(), "{args:?}");
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
