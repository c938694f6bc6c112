//! `lsb-status lock` / `unlock`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use super::{assert_stderr_has, can_run, code, is_root, lsb_status, run, s, stderr, NOBODY};

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

#[test]
fn a_symlink_planted_at_the_lock_is_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("subsys");
    fs::create_dir(&dir).unwrap();
    let victim = tmp.path().join("victim");
    let missing = tmp.path().join("would-be-created");
    fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("svc")).unwrap();
    std::os::unix::fs::symlink(&missing, dir.join("other")).unwrap();
    for name in ["svc", "other"] {
        let out = run(&["lock", name, "--lock-dir", s(&dir)]);
        assert_eq!(code(&out), 1, "{name}");
        assert_stderr_has(&out, "is a symbolic link: not following it");
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!missing.exists());
    // A FIFO or directory where the lock goes is no lock either.
    nix::unistd::mkfifo(
        &dir.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let out = run(&["lock", "fifo", "--lock-dir", s(&dir)]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(&out, "is not a regular file");
}

#[test]
fn another_users_directory_is_refused() {
    if !can_run(is_root(), "needs root to give a directory to nobody") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let theirs = tmp.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    let out = run(&["lock", "svc", "--lock-dir", s(&theirs)]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(&out, "is owned by uid 65534, neither root nor us (uid 0)");
    assert!(!theirs.join("svc").exists());
    // Nor a directory below it that root would create.
    let out = run(&["lock", "svc", "--lock-dir", s(&theirs.join("sub"))]);
    assert_eq!(code(&out), 1);
    assert!(!theirs.join("sub").exists());
    // Anyone may write: refused too, whoever asks.
    let open = tmp.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(&["lock", "svc", "--lock-dir", s(&open)]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(
        &out,
        "is writable by anyone (mode 777) and has no sticky bit",
    );
    // A symlink to a good directory, owned by someone else: refused.
    let good = tmp.path().join("good");
    fs::create_dir(&good).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(NOBODY), Some(NOBODY)).unwrap();
    let out = run(&["lock", "svc", "--lock-dir", s(&link)]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(&out, "is a symlink owned by uid 65534");
    assert!(!good.join("svc").exists());
    // Dangling, where the directory is to be created: judged as the kernel
    // would follow it, and named (not a `File exists` from mkdir).
    let dangling = tmp.path().join("dangling");
    std::os::unix::fs::symlink(good.join("new"), &dangling).unwrap();
    std::os::unix::fs::lchown(&dangling, Some(NOBODY), Some(NOBODY)).unwrap();
    let out = run(&["lock", "svc", "--lock-dir", s(&dangling.join("sub"))]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(
        &out,
        &format!("{} is a symlink owned by uid 65534", dangling.display()),
    );
    assert!(!good.join("new").exists());
    // As nobody (setpriv), nobody's own directory is fine; root's open one
    // with the sticky bit too.
    let setpriv = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_lsb-status"))
            .args(args)
            .env_clear()
            .output()
            .unwrap()
    };
    let out = setpriv(&["lock", "svc", "--lock-dir", s(&theirs)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(theirs.join("svc").is_file());
    fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
    let out = setpriv(&["lock", "svc", "--lock-dir", s(&open)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // ... but a directory of root's that nobody may not write: exit 1, why.
    let out = setpriv(&["lock", "svc", "--lock-dir", s(&good)]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(&out, "Permission denied");
}

/// A full file system (a tiny tmpfs in a private mount namespace): the
/// lock fails with the real cause, and leaves nothing behind.
#[test]
fn a_full_disk_says_so_and_leaves_nothing() {
    if !can_run(is_root(), "needs root to mount a tmpfs") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"
set -u
mount -t tmpfs -o size=16k,nr_inodes=8 tmpfs "$1" || exit 90
mkdir "$1/subsys"
i=0
while : >"$1/subsys/fill$i" 2>/dev/null; do i=$((i + 1)); done
"$2" lock svc --lock-dir "$1/subsys"; echo "code=$?"
"$2" lock svc --lock-dir "$1/new/subsys"; echo "code=$?"
ls -A "$1/subsys" | grep -v '^fill' || true
ls -A "$1"
"#;
    let out = Command::new("unshare")
        .args([
            "-m",
            "--propagation",
            "private",
            "bash",
            "-c",
            script,
            "bash",
        ])
        .arg(tmp.path())
        .arg(env!("CARGO_BIN_EXE_lsb-status"))
        .output()
        .unwrap();
    let (text, err) = (super::stdout(&out), stderr(&out));
    assert!(
        text.starts_with("code=1\ncode=1\nsubsys\n"),
        "{text}\n{err}"
    );
    assert!(
        err.contains("cannot create lock file ") && err.contains("No space left on device"),
        "{err}"
    );
    assert!(err.contains("cannot create lock directory "), "{err}");
}
