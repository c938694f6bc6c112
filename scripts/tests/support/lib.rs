//! Helpers for the scripts' tests: where the built tools and the scripts are,
//! and a child-process guard that never leaves a process behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The directory holding the built tools: the one this test binary was built
/// into (`target/<profile>/`), so the tests use the same profile's tools.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/scripts-<hash>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf();
    for tool in ["portfind", "portwait", "pidwait", "lsb-status", "httpwait"] {
        assert!(
            dir.join(tool).is_file(),
            "{} is not built: run `cargo build --workspace` first (make test does)",
            dir.join(tool).display()
        );
    }
    dir
}

/// The path of a built tool.
pub fn tool(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// The path of a script under `scripts/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// The path of a stand-in program under `scripts/tests/standins/`.
pub fn standin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/standins")
        .join(name)
}

/// The shared corpus beside the repository (`../shared/corpus/...`).
pub fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(rel)
}

/// A PATH with the built tools first, so scripts find ours (not procps' pidwait).
pub fn path_with_tools() -> String {
    let old = std::env::var("PATH").unwrap_or_default();
    format!("{}:{old}", bin_dir().display())
}

/// A command for a script, with the tools first on PATH and named by
/// `STACKUTILS_BIN`, so the script uses this profile's tools.
pub fn script_cmd(name: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(script(name))
        .env("PATH", path_with_tools())
        .env("STACKUTILS_BIN", bin_dir());
    cmd
}

/// Whether a test that needs `what` can run: if not, it says `SKIP: reason`
/// on stderr and the caller returns, except under `CI=true`, where CI
/// provides every condition and a missing one fails the test.
pub fn can_run(ok: bool, reason: &str) -> bool {
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but this test cannot run: {reason}"
        );
        eprintln!("SKIP: {reason}");
    }
    ok
}

/// Whether this process runs as root (the attacks from another uid, the
/// mount and pid namespaces need it).
pub fn is_root() -> bool {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("/proc/self")) == 0
}

/// Runs `sh -c SCRIPT` as uid/gid 65534 (nobody), as another local user
/// would act; panics when it fails.
pub fn as_nobody(script: &str) {
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .output()
        .expect("setpriv");
    assert!(
        out.status.success(),
        "as nobody: {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills and reaps a child when dropped, so a failing test leaves nothing running.
pub struct Reaper(pub Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `cond` to hold, polling every few milliseconds, for at most `limit`.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a process with this pid exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    })
}
