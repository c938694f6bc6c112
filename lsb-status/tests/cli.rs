//! The command line's contract: `--help` lists the exit codes, for the tool
//! and for each subcommand.

use super::{code, run, stdout};

#[test]
fn help_lists_the_exit_codes_of_every_subcommand() {
    let out = run(&["--help"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    let table = &text[text.find("Exit codes:").expect("an exit-code table")..];
    for row in [
        "status       0 running, 1 dead but pid file exists, 2 dead but lock file",
        "lock, unlock 0 done, 1 failed",
        "run          the command's own code; 126 cannot execute, 127 not found,",
        "ok, failed, passed, warning",
        "header       0 clean or warnings only, 1 errors",
        "unit         0 units written, 1 written but with warnings",
    ] {
        assert!(table.contains(row), "no {row:?} in\n{table}");
    }
    for (subcommand, rows) in [
        (
            "status",
            &[
                "0  running",
                "1  dead but the pid file exists",
                "2  dead but the lock file exists",
                "3  not running",
                "4  unknown",
            ][..],
        ),
        (
            "lock",
            &[
                "0  the lock file exists",
                "1  it could not be created",
                "2  usage or fatal error",
            ][..],
        ),
        (
            "unlock",
            &[
                "0  the lock file is gone",
                "1  it could not be removed",
                "2  usage or fatal error",
            ][..],
        ),
        (
            "run",
            &[
                "N    CMD's own exit code",
                "126  CMD could not be executed",
                "127  CMD was not found",
                "128+N  CMD was killed by signal N",
            ][..],
        ),
        ("ok", &["0  printed", "2  usage or fatal error"][..]),
        (
            "header",
            &[
                "0  clean, or warnings only",
                "1  errors found",
                "2  usage or fatal error",
            ][..],
        ),
        (
            "unit",
            &[
                "0  every unit written, nothing to warn about",
                "1  every unit written, with warnings",
                "2  usage or fatal error, or a script that cannot be read or parsed, or",
            ][..],
        ),
    ] {
        let out = run(&[subcommand, "--help"]);
        assert_eq!(code(&out), 0, "{subcommand}");
        let text = stdout(&out);
        let table = &text[text
            .find("Exit codes")
            .unwrap_or_else(|| panic!("{subcommand}: no table in\n{text}"))..];
        for row in rows {
            assert!(table.contains(row), "{subcommand}: no {row:?} in\n{table}");
        }
    }
}
