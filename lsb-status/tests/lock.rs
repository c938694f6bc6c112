//! `lsb-status lock` / `unlock`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

use super::{assert_stderr_has, code, is_root, lsb_status, run, s, stderr, NOBODY};

#[test]
fn lock_creates_missing_directories_and_unlock_twice_is_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("var/lock/subsys");
    let out = run(&["lock", "svc", "--lock-dir", s(&dir)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(dir.join("svc").is_file());
    assert_eq!(code(&run(&["lock", "svc", "--lock-dir", s(&dir)])), 0);
    for _ in 0..2 {
        let out = run(&["unlock", "svc", "--lock-dir", s(&dir)]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(!dir.join("svc").exists());
    }
    // Not even the directory: still nothing to undo.
    let out = run(&[
        "unlock",
        "svc",
        "--lock-dir",
        s(&tmp.path().join("nowhere")),
    ]);
    assert_eq!(code(&out), 0);
}

#[test]
fn no_permission_is_a_clear_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("subsys");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("held"), "").unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let as_user = |args: &[&str]| {
        let mut cmd = lsb_status();
        cmd.args(args);
        if is_root() {
            // Root ignores permissions: ask as nobody instead.
            cmd.uid(NOBODY).gid(NOBODY);
        } else {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
        }
        cmd.output().unwrap()
    };
    let out = as_user(&["lock", "svc", "--lock-dir", s(&dir)]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.starts_with("lsb-status: cannot create lock file ") && err.contains("ermission denied"),
        "{err}"
    );
    let out = as_user(&["unlock", "held", "--lock-dir", s(&dir)]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(&out, "cannot remove lock file");
    let out = as_user(&["lock", "svc", "--lock-dir", s(&dir.join("new"))]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(&out, "cannot create lock directory");
}

#[test]
fn bad_names_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["../escape", "", ".."] {
        let out = run(&["lock", name, "--lock-dir", s(tmp.path())]);
        assert_eq!(code(&out), 2, "{name:?}");
        assert_stderr_has(&out, "invalid service name");
    }
    assert!(!tmp.path().parent().unwrap().join("escape").exists());
}
