//! The command line: lookups, exports, and every error's message and exit code.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::{assert_contains, cmd, corpus, exits, run, stdout};

const ADMIN_TOKEN: &str = "4axaw8zxe0qm22wa6urpp5nskcne8z88cvbupv653y1njyi05h";

fn dir() -> String {
    corpus().display().to_string()
}

/// Runs `fixture-token ARGS` with `ARVADOS_FIXTURES` set to `fixtures`.
fn run_with_fixtures_env(fixtures: &str, args: &[&str]) -> Output {
    cmd()
        .env("ARVADOS_FIXTURES", fixtures)
        .args(args)
        .output()
        .expect("running fixture-token")
}

/// A temporary directory holding the fixture file `name`, with `text` in it.
fn yaml_file(name: &str, text: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(name);
    std::fs::write(&file, text).unwrap();
    (tmp, file)
}

/// `--file` and `--field uuid foo_file`, given by `run` with fixtures that
/// do not exist: the file is read and the fixtures never looked at.
fn assert_file_wins(run: impl FnOnce(&[&str]) -> Output) {
    let file = corpus().join("collections-2015.yml");
    let out = run(&[
        "--file",
        file.to_str().unwrap(),
        "--field",
        "uuid",
        "foo_file",
    ]);
    exits(&out, 0);
    assert_eq!(stdout(&out), "zzzzz-4zz18-znfnqtbbv4spc3w\n");
}

/// Runs `fixture-token --file FILE ARGS`.
fn run_file(file: &std::path::Path, args: &[&str]) -> Output {
    cmd()
        .arg("--file")
        .arg(file)
        .args(args)
        .output()
        .expect("running fixture-token")
}

#[test]
fn prints_the_token_of_an_entry() {
    let out = run(&["--fixtures", &dir(), "admin"]);
    assert_eq!(exits(&out, 0), "");
    assert_eq!(stdout(&out), format!("{ADMIN_TOKEN}\n"));
}

#[test]
fn fixtures_dir_comes_from_the_environment() {
    let out = run_with_fixtures_env(&dir(), &["admin"]);
    exits(&out, 0);
    assert_eq!(stdout(&out), format!("{ADMIN_TOKEN}\n"));
}

#[test]
fn file_wins_over_the_fixtures_environment() {
    assert_file_wins(|args| run_with_fixtures_env("/nonexistent", args));
}

#[test]
fn no_fixtures_is_a_usage_error() {
    assert_contains(&exits(&run(&["admin"]), 2), "ARVADOS_FIXTURES");
    // Set but empty is the same as unset (not "a value is required for --fixtures").
    let err = exits(&run_with_fixtures_env("", &["admin"]), 2);
    assert!(
        err.starts_with("fixture-token: no fixtures given:"),
        "{err}"
    );
}

#[test]
fn field_list_and_json() {
    let out = run(&["--fixtures", &dir(), "--field", "uuid", "admin"]);
    assert_eq!(stdout(&out), "zzzzz-gj3su-027z32aux8dg2s1\n");

    let out = run(&["--fixtures", &dir(), "--list"]);
    let names = stdout(&out);
    assert!(names.starts_with("system_user\nadmin\n"), "{names}");
    assert_eq!(names.lines().count(), 48);

    let out = run(&["--fixtures", &dir(), "--json", "data_manager"]);
    let entry: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(entry["scopes"][0], "GET /arvados/v1/collections");
    assert_eq!(entry["expires_at"], "2038-01-01 00:00:00");
}

#[test]
fn trims_erb_from_the_marker_on() {
    let out = run_file(&corpus().join("collections-2015.yml"), &["--list"]);
    exits(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 47);
}

#[test]
fn export_is_safe_to_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("auth.yml");
    let nasty = r#"it's $(touch pwned) `x` "q" \n ; done"#;
    let yaml = format!("odd:\n  api_token: '{}'\n", nasty.replace('\'', "''"));
    std::fs::write(&file, yaml).unwrap();
    let out = run_file(&file, &["--export", "--host", "h o:1", "odd"]);
    exits(&out, 0);
    let script = format!(
        "{}\nprintf '%s|%s|%s' \"$ARVADOS_API_TOKEN\" \"$ARVADOS_API_HOST\" \"$ARVADOS_API_HOST_INSECURE\"",
        stdout(&out)
    );
    let shell = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&shell.stdout),
        format!("{nasty}|h o:1|true")
    );
    assert!(!tmp.path().join("pwned").exists());
}

#[test]
fn export_without_host_sets_only_the_token() {
    let out = run(&["--fixtures", &dir(), "--export", "admin"]);
    assert_eq!(
        stdout(&out),
        format!("export ARVADOS_API_TOKEN={ADMIN_TOKEN}\n")
    );
}

#[test]
fn unknown_entry_names_the_file_and_close_names() {
    let out = run(&["--fixtures", &dir(), "admn"]);
    let err = exits(&out, 1);
    assert!(
        err.starts_with("fixture-token: no entry 'admn' in "),
        "{err}"
    );
    assert_contains(&err, "api_client_authorizations.yml");
    assert_contains(&err, "closest: admin");
    assert_eq!(stdout(&out), "");
}

#[test]
fn missing_and_non_scalar_fields_fail() {
    for (field, entry, why) in [
        ("nope", "admin", "has no field 'nope'"),
        ("scopes", "data_manager", "is a list, not a single value"),
    ] {
        let out = run(&["--fixtures", &dir(), "--field", field, entry]);
        assert_contains(&exits(&out, 1), why);
    }
}

#[test]
fn malformed_yaml_gives_file_line_and_column() {
    let (_tmp, file) = yaml_file("bad.yml", "a:\n  api_token: x\n  b: [1, 2\nc: d\n");
    let err = exits(&run_file(&file, &["a"]), 2);
    assert!(
        err.starts_with(&format!("fixture-token: {}:4:", file.display())),
        "{err}"
    );
}

#[test]
fn missing_file_is_fatal() {
    let out = run(&["--file", "/nonexistent/auth.yml", "admin"]);
    assert_contains(&exits(&out, 2), "cannot read /nonexistent/auth.yml");
}

/// Runs `fixture-token --file FILE ARGS`, failing the test if it has not
/// ended within 60 s (a guard against a hang, not a measurement).
fn run_file_bounded(file: &std::path::Path, args: &[&str]) -> Output {
    let mut child = cmd()
        .arg("--file")
        .arg(file)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > 60 {
            child.kill().unwrap();
            panic!(
                "fixture-token --file {} still running after 60 s",
                file.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn only_regular_files_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for (path, kind) in [
        (fifo.clone(), "a FIFO"),
        ("/dev/zero".into(), "a character device"),
        (tmp.path().to_owned(), "a directory"),
    ] {
        let out = run_file_bounded(&path, &["admin"]);
        assert_eq!(
            exits(&out, 2),
            format!(
                "fixture-token: cannot read {}: {kind}, not a regular file: not a fixture file\n",
                path.display()
            )
        );
    }
}

#[test]
fn an_oversized_file_is_refused_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("big.yml");
    // Sparse: 17 MiB of nothing on disk.
    std::fs::File::create(&file)
        .unwrap()
        .set_len(17 << 20)
        .unwrap();
    assert_eq!(
        exits(&run_file(&file, &["admin"]), 2),
        format!(
            "fixture-token: cannot read {}: more than 16 MiB: not a fixture file\n",
            file.display()
        )
    );
}

#[test]
fn deep_nesting_fails_at_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("deep.yml");
    // 8 MB: the old reader took 7 s for 64 KB and grew with the square.
    std::fs::write(&file, format!("a: {}", "[".repeat(8 << 20))).unwrap();
    let err = exits(&run_file_bounded(&file, &["a"]), 2);
    assert!(
        err.starts_with(&format!("fixture-token: {}:1:", file.display()))
            && err.contains(": nested more than 100 deep"),
        "{err}"
    );
}

#[test]
fn bad_utf8_and_duplicate_keys_name_their_line_and_column() {
    let (_tmp, file) = yaml_file("f.yml", b"a:\n  api_token: x\n  b: caf\xff\n");
    assert_eq!(
        exits(&run_file(&file, &["a"]), 2),
        format!(
            "fixture-token: {}:3:9: invalid UTF-8 (\\xff): expected UTF-8 text\n",
            file.display()
        )
    );
    std::fs::write(&file, "a:\n  api_token: x\nb:\n  c: 1\n  c: 2\n").unwrap();
    assert_eq!(
        exits(&run_file(&file, &["a"]), 2),
        format!(
            "fixture-token: {}:5:3: duplicate key 'c' in this map\n",
            file.display()
        )
    );
}

#[test]
fn control_characters_are_escaped_in_messages() {
    let (_tmp, file) = yaml_file("f.yml", "\"adm\\nin\":\n  api_token: x\n");
    let err = exits(&run_file(&file, &["adm\x1b[2Jin"]), 1);
    assert_eq!(
        err,
        format!(
            "fixture-token: no entry 'adm\\x1b[2Jin' in {} (closest: adm\\nin)\n",
            file.display()
        )
    );
}

#[test]
fn an_entry_that_is_not_a_map_fails() {
    let (_tmp, file) = yaml_file("f.yml", "a: 5\nb:\n  api_token: x\n");
    assert_eq!(
        exits(&run_file(&file, &["a"]), 1),
        format!(
            "fixture-token: entry 'a' in {} is a number, expected a map of fields\n",
            file.display()
        )
    );
}

#[test]
fn file_wins_over_fixtures() {
    assert_file_wins(|args| run(&[&["--fixtures", "/nonexistent"], args].concat()));
}

#[test]
fn a_full_stdout_is_named_and_fails() {
    for args in [&["--fixtures", &dir(), "admin"][..], &["--help"]] {
        let out = cmd()
            .args(args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(
            exits(&out, 2),
            "fixture-token: cannot write to standard output: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}

#[test]
fn usage_errors_read_like_the_tools_own() {
    let out = run(&["--fixtures", &dir(), "--jsn", "admin"]);
    assert_eq!(
        exits(&out, 2),
        "fixture-token: unexpected argument '--jsn' found\n\
         fixture-token: tip: a similar argument exists: '--json'\n"
    );
}

#[test]
fn help_lists_exit_codes() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("Exit codes:"));
    assert!(stdout(&out).contains("ARVADOS_FIXTURES"));
}

#[test]
fn closed_stdout_is_quiet() {
    let mut child = cmd()
        .args(["--fixtures", &dir(), "--list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(exits(&out, 0), "");
}
