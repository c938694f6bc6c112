//! Integration tests: run the real `aoe-fstab` binary.

mod cli;
mod findmnt;
mod mounting;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built binary, with a clean locale.
pub fn aoe_fstab() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aoe-fstab"));
    cmd.env("LC_ALL", "C");
    cmd
}

/// Runs `aoe-fstab --file FILE ARGS...`.
pub fn run(file: &Path, args: &[&str]) -> Output {
    aoe_fstab()
        .arg("--file")
        .arg(file)
        .args(args)
        .output()
        .expect("run aoe-fstab")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The shared fstab corpus, read in place.
pub fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/fstab"
    ))
}

/// Writes `text` to a file in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, text).expect("write fstab");
    file
}
