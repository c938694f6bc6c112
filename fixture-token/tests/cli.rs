//! The command line: lookups, exports, and every error's message and exit code.

use std::process::Command;

use crate::{cmd, corpus, run, stderr, stdout};

const ADMIN_TOKEN: &str = "4axaw8zxe0qm22wa6urpp5nskcne8z88cvbupv653y1njyi05h";

fn dir() -> String {
    corpus().display().to_string()
}

#[test]
fn prints_the_token_of_an_entry() {
    let out = run(&["--fixtures", &dir(), "admin"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{ADMIN_TOKEN}\n"));
    assert_eq!(stderr(&out), "");
}

#[test]
fn fixtures_dir_comes_from_the_environment() {
    let out = cmd()
        .env("ARVADOS_FIXTURES", dir())
        .arg("admin")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{ADMIN_TOKEN}\n"));
}

#[test]
fn file_wins_over_the_fixtures_environment() {
    let file = corpus().join("collections-2015.yml");
    let out = cmd()
        .env("ARVADOS_FIXTURES", "/nonexistent")
        .args([
            "--file",
            file.to_str().unwrap(),
            "--field",
            "uuid",
            "foo_file",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "zzzzz-4zz18-znfnqtbbv4spc3w\n");
}

#[test]
fn no_fixtures_is_a_usage_error() {
    let out = run(&["admin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ARVADOS_FIXTURES"),
        "{}",
        stderr(&out)
    );
    // Set but empty is the same as unset (not "a value is required for --fixtures").
    let out = cmd()
        .env("ARVADOS_FIXTURES", "")
        .arg("admin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("fixture-token: no fixtures given:"),
        "{}",
        stderr(&out)
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
    let file = corpus().join("collections-2015.yml");
    let out = run(&["--file", file.to_str().unwrap(), "--list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 47);
}

#[test]
fn export_is_safe_to_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("auth.yml");
    let nasty = r#"it's $(touch pwned) `x` "q" \n ; done"#;
    let yaml = format!("odd:\n  api_token: '{}'\n", nasty.replace('\'', "''"));
    std::fs::write(&file, yaml).unwrap();
    let out = run(&[
        "--file",
        file.to_str().unwrap(),
        "--export",
        "--host",
        "h o:1",
        "odd",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
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
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("fixture-token: no entry 'admn' in "),
        "{err}"
    );
    assert!(err.contains("api_client_authorizations.yml"), "{err}");
    assert!(err.contains("closest: admin"), "{err}");
    assert_eq!(stdout(&out), "");
}

#[test]
fn missing_and_non_scalar_fields_fail() {
    let out = run(&["--fixtures", &dir(), "--field", "nope", "admin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no field 'nope'"),
        "{}",
        stderr(&out)
    );

    let out = run(&["--fixtures", &dir(), "--field", "scopes", "data_manager"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is a list, not a single value"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn malformed_yaml_gives_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bad.yml");
    std::fs::write(&file, "a:\n  api_token: x\n  b: [1, 2\nc: d\n").unwrap();
    let out = run(&["--file", file.to_str().unwrap(), "a"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("fixture-token: {}:4:", file.display())),
        "{err}"
    );
}

#[test]
fn missing_file_is_fatal() {
    let out = run(&["--file", "/nonexistent/auth.yml", "admin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read /nonexistent/auth.yml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_endless_file_is_refused_not_read() {
    let out = run(&["--file", "/dev/zero", "admin"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "fixture-token: cannot read /dev/zero: more than 64 MiB: not a fixture file\n"
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
    use std::process::Stdio;
    let mut child = cmd()
        .args(["--fixtures", &dir(), "--list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(stderr(&out), "");
    assert!(out.status.success());
}
