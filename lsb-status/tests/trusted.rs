//! `lsb-status trusted [--file] PATH...`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::{can_run, code, is_root, run, s, stderr, NOBODY};

/// 0 when every PATH passes, 1 with the first one's reason, 2 for usage;
/// a PATH that looks like an option after `--` is a path, never `--help`.
#[test]
fn exit_codes_and_the_first_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    fs::create_dir(&good).unwrap();
    let open = tmp.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let missing = tmp.path().join("missing/sub");
    let out = run(&["trusted", s(&good), s(&missing)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let out = run(&[
        "trusted",
        s(&good),
        s(&open),
        s(&tmp.path().join("nowhere")),
    ]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stderr(&out),
        format!(
            "lsb-status: directory {} is writable by anyone (mode 777) and has no sticky bit\n",
            open.display()
        )
    );
    let out = run(&["trusted", "--file", s(&missing)]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stderr(&out),
        format!("lsb-status: {}: no such file\n", missing.display())
    );
    assert_eq!(code(&run(&["trusted"])), 2);
    // After `--`, `--help` is a (relative, missing) path: not a pass.
    let out = run(&["trusted", "--file", "--", "--help"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(stderr(&out), "lsb-status: --help: no such file\n");
}

/// A control character in a path or a reason never reaches the terminal.
#[test]
fn messages_escape_control_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let evil = tmp.path().join("a\x1b[2Jb");
    fs::create_dir(&evil).unwrap();
    fs::set_permissions(&evil, fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(&["trusted", s(&evil.join("x"))]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(!err.contains('\x1b'), "{err:?}");
    assert!(err.contains("a\\x1b[2Jb is writable by anyone"), "{err:?}");
}

/// The attack `..` allowed: nobody's directory in a sticky directory, left
/// by `..`, passed, and nobody could then move it away and put a link in
/// its place, so that the path root sources or writes in led to them.
#[test]
fn a_directory_another_user_may_move_is_not_left_by_dot_dot() {
    if !can_run(is_root(), "needs root to act as nobody (setpriv)") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let sticky = tmp.path().join("sticky");
    fs::create_dir(&sticky).unwrap();
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let defaults = sticky.join("defaults");
    fs::write(&defaults, "").unwrap();
    fs::set_permissions(&defaults, fs::Permissions::from_mode(0o644)).unwrap();
    let theirs = sticky.join("theirs");
    let as_nobody = |cmd: &[&str]| {
        let out = Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .args(cmd)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    as_nobody(&["mkdir", s(&theirs)]);
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&fs::metadata(&theirs).unwrap()),
        NOBODY
    );
    let way = theirs.join("../defaults");
    let why = format!(
        "lsb-status: directory {} is owned by uid 65534, neither root nor us (uid 0)\n",
        theirs.display()
    );
    for args in [
        vec!["trusted", "--file", s(&way)],
        vec!["trusted", s(&theirs.join("../lock"))],
    ] {
        let out = run(&args);
        assert_eq!(code(&out), 1, "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), why, "{args:?}");
    }
    // What they could do once it passed: the same path now leads to theirs.
    let place = tmp.path().join("place");
    fs::create_dir_all(place.join("sub")).unwrap();
    fs::write(place.join("defaults"), "theirs").unwrap();
    std::os::unix::fs::chown(&place, Some(NOBODY), Some(NOBODY)).unwrap();
    as_nobody(&["mv", s(&theirs), s(&sticky.join("gone"))]);
    as_nobody(&["ln", "-s", s(&place.join("sub")), s(&theirs)]);
    assert_eq!(fs::read_to_string(&way).unwrap(), "theirs");
    assert_eq!(code(&run(&["trusted", "--file", s(&way)])), 1);
}
