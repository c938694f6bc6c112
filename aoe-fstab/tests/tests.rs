//! Integration tests: run the real `aoe-fstab` binary.

mod cli;
mod findmnt;
mod mount_a;
mod mounting;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The built binary, with a clean locale.
pub fn aoe_fstab() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aoe-fstab"));
    cmd.env("LC_ALL", "C");
    cmd
}

/// `aoe-fstab --file FILE`, to add arguments or redirect.
pub fn with_file(file: &Path) -> Command {
    let mut cmd = aoe_fstab();
    cmd.arg("--file").arg(file);
    cmd
}

/// Starts `cmd` with stdout and stderr piped.
pub fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aoe-fstab")
}

/// Runs `aoe-fstab --file FILE ARGS...`.
pub fn run(file: &Path, args: &[&str]) -> Output {
    with_file(file).args(args).output().expect("run aoe-fstab")
}

/// Asserts the run's exit code, showing its stderr if it differs.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
}

/// Asserts that the run's stderr contains `text`, showing it if not.
#[track_caller]
pub fn assert_stderr_has(out: &Output, text: &str) {
    let err = stderr(out);
    assert!(err.contains(text), "no {text:?} in stderr:\n{err}");
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A temp dir holding `fstab` with `text` in it, and that file's path.
pub fn fstab(text: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "fstab", text);
    (dir, file)
}

/// The shared fstab corpus, read in place.
pub fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/fstab"
    ))
}

/// Writes `text` to a file in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, text).expect("write fstab");
    file
}

/// A test that cannot run here says so on stderr and returns; under
/// `CI=true` (root on Debian 12, every package installed) it fails instead.
#[track_caller]
pub fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot run under CI: {reason}"
    );
    eprintln!("SKIP: {reason}");
}

/// `sh -c SCRIPT sh ARGS...` in a private mount namespace (`unshare -m`), or
/// `None` (after [`skip`]) where there is none to be had.
pub fn in_mount_namespace(script: &str, args: &[&std::ffi::OsStr]) -> Option<Command> {
    let probe = Command::new("unshare").args(["-m", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skip("no private mount namespace (`unshare -m` needs root and util-linux)");
        return None;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", script, "sh"]).args(args);
    cmd.env("LC_ALL", "C");
    Some(cmd)
}

/// The files of the shared fstab corpus, sorted (SOURCES.md left out).
pub fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(corpus())
        .expect("corpus dir ../shared/corpus/fstab")
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "SOURCES.md"))
        .collect();
    files.sort();
    files
}
