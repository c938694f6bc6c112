//! The LSB status of a service, from its pid file, its process and its lock
//! file, with the one-line message the distributions print.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use pidwait::pidfile::{self, Trust};
use pidwait::process::{self, Identity, Match, Pid};

use crate::lock;

/// What the pid file says about the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Process {
    /// No pid file given: a lock-only service.
    NotTracked,
    /// The pid file does not exist.
    NoPidfile,
    /// These pids are alive (and run `--exe`, when given).
    Alive(Vec<Pid>),
    /// The pid file exists but names no live process; the text says why.
    Dead(String),
    /// The pid file cannot be read or holds no valid pid.
    Unknown(String),
}

/// An LSB status, with what the message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Running(Vec<Pid>),
    /// Lock-only service whose lock file exists.
    Locked,
    DeadPidfile(String),
    DeadLocked,
    NotRunning,
    Unknown(String),
}

impl Status {
    /// The LSB status code (0-4).
    pub fn code(&self) -> u8 {
        match self {
            Status::Running(_) | Status::Locked => 0,
            Status::DeadPidfile(_) => 1,
            Status::DeadLocked => 2,
            Status::NotRunning => 3,
            Status::Unknown(_) => 4,
        }
    }

    /// The line for stdout, as Red Hat and Debian word it.
    pub fn message(&self, name: &str) -> String {
        match self {
            Status::Running(pids) => {
                let pids: Vec<String> = pids.iter().map(ToString::to_string).collect();
                format!("{name} (pid {}) is running", pids.join(" "))
            }
            Status::Locked => format!("{name} is running"),
            Status::DeadPidfile(_) => format!("{name} is dead but pid file exists"),
            Status::DeadLocked => format!("{name} is dead but lock file exists"),
            Status::NotRunning => format!("{name} is not running"),
            Status::Unknown(_) => format!("{name} status is unknown"),
        }
    }

    /// Why, for stderr, when the message alone does not say.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Status::DeadPidfile(why) | Status::Unknown(why) => Some(why),
            _ => None,
        }
    }
}

/// Combines what the pid file and the lock file say. The pid file decides
/// when it exists; the lock file only when it does not.
pub fn decide(process: Process, locked: impl FnOnce() -> anyhow::Result<bool>) -> Status {
    match process {
        Process::Alive(pids) => Status::Running(pids),
        Process::Dead(why) => Status::DeadPidfile(why),
        Process::Unknown(why) => Status::Unknown(why),
        Process::NoPidfile | Process::NotTracked => {
            let tracked = process == Process::NoPidfile;
            match locked() {
                Ok(true) if tracked => Status::DeadLocked,
                Ok(true) => Status::Locked,
                Ok(false) => Status::NotRunning,
                Err(e) => Status::Unknown(format!("{e:#}")),
            }
        }
    }
}

/// Reads the pid file and looks at its processes.
///
/// A pid file is believed as pidwait believes it before a signal, since
/// an init script acts on the answer (a planted "running" skips a start):
/// with [`Trust::Checked`], one that someone other than root or us could
/// have written (pidwait's whole-path rules) is [`Process::Unknown`],
/// status 4, saying which component was refused; and a process that
/// started after the pid file was last written is not the one it names.
pub fn probe(pidfile: Option<&Path>, exe: Option<&Path>, trust: Trust) -> Process {
    let Some(path) = pidfile else {
        return Process::NotTracked;
    };
    let pidwait::pidfile::Pidfile { pids, written } =
        match pidfile::load(path, trust, pidfile::SETTLE) {
            Ok(read) => read,
            Err(pidfile::Error::Missing { .. }) => return Process::NoPidfile,
            Err(e @ pidfile::Error::Untrusted { .. }) => {
                return Process::Unknown(format!("{e}; pass --trust-pidfile to believe it anyway"))
            }
            Err(e) => return Process::Unknown(e.to_string()),
        };
    let guard = match Guard::new(exe, written) {
        Ok(guard) => guard,
        Err(e) => return Process::Unknown(format!("--exe: {e}")),
    };
    let mut alive = Vec::new();
    let mut why = Vec::new();
    for pid in pids {
        match guard.check(pid) {
            Ok(Match::Yes) => alive.push(pid),
            Ok(Match::Gone) => why.push(format!("pid {pid} is not running")),
            Ok(Match::No(other)) => why.push(format!("{other} (its pid was reused)")),
            Ok(Match::Stale(stale)) => why.push(stale),
            Err(e) => return Process::Unknown(format!("cannot inspect pid {pid}: {e}")),
        }
    }
    if alive.is_empty() {
        Process::Dead(format!("{}: {}", path.display(), why.join("; ")))
    } else {
        Process::Alive(alive)
    }
}

/// What `--exe` asks of a process.
enum Guard {
    /// The program exists: pidwait's check, symlinks resolved.
    Found(Identity),
    /// The program is gone from disk (uninstalled, or replaced by a rename)
    /// while its daemon may still run: the kernel then names the process's
    /// executable by the path it had, which is compared as written.
    Deleted(PathBuf, SystemTime),
}

impl Guard {
    /// `written`: when the pid file was last written (pidwait's stale rule).
    fn new(exe: Option<&Path>, written: SystemTime) -> std::io::Result<Guard> {
        match exe {
            Some(path) if path.is_absolute() && !path.exists() => {
                Ok(Guard::Deleted(resolve_parent(path), written))
            }
            _ => Identity::new(exe, None).map(|id| Guard::Found(id.written_at(Some(written)))),
        }
    }

    fn check(&self, pid: Pid) -> std::io::Result<Match> {
        let (want, written) = match self {
            Guard::Found(identity) => return identity.check(pid),
            Guard::Deleted(want, written) => (want, *written),
        };
        let Some(stat) = process::stat(pid)?.filter(|s| s.life().is_alive()) else {
            return Ok(Match::Gone);
        };
        if let Some(why) = process::newcomer(pid, &stat, Some(written), None) {
            return Ok(Match::Stale(why));
        }
        Ok(match process::exe(pid)? {
            None => Match::Gone,
            Some(have) if have == *want => Match::Yes,
            Some(have) => Match::No(format!(
                "pid {pid} runs {}, not {}",
                have.display(),
                want.display()
            )),
        })
    }
}

/// `path` with its directory's symlinks resolved (`/bin/foo` is
/// `/usr/bin/foo` on a merged /usr), as far as the directory exists.
fn resolve_parent(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(file)) => {
            std::fs::canonicalize(dir).map_or_else(|_| path.to_owned(), |dir| dir.join(file))
        }
        _ => path.to_owned(),
    }
}

/// The full check: pid file, process, then lock file `lock_dir/name`.
pub fn status(
    pidfile: Option<&Path>,
    exe: Option<&Path>,
    trust: Trust,
    lock_dir: &Path,
    name: &str,
) -> Status {
    decide(probe(pidfile, exe, trust), || {
        lock::is_locked(lock_dir, name)
    })
}

/// The service name when `--name` is not given: the pid file's name without
/// a `.pid` ending.
pub fn default_name(pidfile: &Path) -> Option<String> {
    let file = pidfile.file_name()?.to_str()?;
    let name = file.strip_suffix(".pid").unwrap_or(file);
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pid(n: i32) -> Pid {
        Pid::new(n).unwrap()
    }

    #[test]
    fn the_pid_file_decides_when_it_exists() {
        let unreachable = || -> anyhow::Result<bool> { panic!("lock consulted") };
        assert_eq!(decide(Process::Alive(vec![pid(42)]), unreachable).code(), 0);
        assert_eq!(decide(Process::Dead("x".into()), unreachable).code(), 1);
        assert_eq!(decide(Process::Unknown("x".into()), unreachable).code(), 4);
    }

    #[test]
    fn the_lock_decides_without_a_pid_file() {
        assert_eq!(decide(Process::NoPidfile, || Ok(true)), Status::DeadLocked);
        assert_eq!(decide(Process::NoPidfile, || Ok(false)), Status::NotRunning);
        assert_eq!(decide(Process::NotTracked, || Ok(true)), Status::Locked);
        assert_eq!(
            decide(Process::NotTracked, || Ok(false)),
            Status::NotRunning
        );
        let unknown = decide(Process::NoPidfile, || Err(anyhow::anyhow!("EACCES")));
        assert_eq!(unknown.code(), 4);
        assert_eq!(unknown.detail(), Some("EACCES"));
    }

    #[test]
    fn messages_read_like_the_distributions() {
        let msg = |s: Status| s.message("foo");
        assert_eq!(
            msg(Status::Running(vec![pid(42)])),
            "foo (pid 42) is running"
        );
        assert_eq!(
            msg(Status::Running(vec![pid(42), pid(43)])),
            "foo (pid 42 43) is running"
        );
        assert_eq!(msg(Status::Locked), "foo is running");
        assert_eq!(
            msg(Status::DeadPidfile(String::new())),
            "foo is dead but pid file exists"
        );
        assert_eq!(msg(Status::DeadLocked), "foo is dead but lock file exists");
        assert_eq!(msg(Status::NotRunning), "foo is not running");
        assert_eq!(msg(Status::Unknown(String::new())), "foo status is unknown");
    }

    #[test]
    fn names_come_from_the_pid_file() {
        assert_eq!(
            default_name(Path::new("/run/nginx.pid")).as_deref(),
            Some("nginx")
        );
        assert_eq!(default_name(Path::new("/run/foo")).as_deref(), Some("foo"));
        assert_eq!(default_name(Path::new("/run/.pid")), None);
        assert_eq!(default_name(Path::new("/")), None);
    }

    #[test]
    fn removed_programs_are_named_through_their_real_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let want = real.canonicalize().unwrap().join("gone");
        assert_eq!(resolve_parent(&tmp.path().join("link/gone")), want);
        let nowhere = Path::new("/nonexistent/dir/gone");
        assert_eq!(resolve_parent(nowhere), nowhere);
        let now = SystemTime::now();
        assert!(matches!(
            Guard::new(Some(nowhere), now).unwrap(),
            Guard::Deleted(p, _) if p == nowhere
        ));
        // Relative or present: pidwait's check, which resolves or refuses.
        assert!(Guard::new(Some(Path::new("no/such/program")), now).is_err());
        assert!(matches!(
            Guard::new(Some(Path::new("/bin/sh")), now).unwrap(),
            Guard::Found(_)
        ));
    }

    #[test]
    fn probing_this_process() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("me.pid");
        assert_eq!(probe(Some(&file), None, Trust::Checked), Process::NoPidfile);
        std::fs::write(&file, format!("{}\n", std::process::id())).unwrap();
        assert!(matches!(
            probe(Some(&file), None, Trust::Checked),
            Process::Alive(_)
        ));
        let me = std::env::current_exe().unwrap();
        assert!(matches!(
            probe(Some(&file), Some(&me), Trust::Checked),
            Process::Alive(_)
        ));
        let other = probe(Some(&file), Some(Path::new("/bin/sh")), Trust::Checked);
        assert!(
            matches!(&other, Process::Dead(why) if why.contains("reused")),
            "{other:?}"
        );
        // Written an hour before a process started: not its pid file.
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        std::fs::write(&file, format!("{}\n", child.id())).unwrap();
        assert!(matches!(
            probe(Some(&file), None, Trust::Checked),
            Process::Alive(_)
        ));
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        let set = std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(hour_ago);
        set.unwrap();
        for exe in [
            None,
            Some(Path::new("/usr/bin/sleep")),
            Some(Path::new("/gone/sleep")),
        ] {
            let stale = probe(Some(&file), exe, Trust::Checked);
            assert!(
                matches!(&stale, Process::Dead(why) if why.contains("stale pidfile")),
                "{exe:?}: {stale:?}"
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::write(&file, "garbage\n").unwrap();
        assert!(matches!(
            probe(Some(&file), None, Trust::Checked),
            Process::Unknown(_)
        ));
        assert_eq!(probe(None, None, Trust::Checked), Process::NotTracked);
        // One anyone could have written: unknown, unless trusted anyway.
        std::fs::write(&file, format!("{}\n", std::process::id())).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .unwrap();
        let refused = probe(Some(&file), None, Trust::Checked);
        assert!(
            matches!(&refused, Process::Unknown(why) if why.contains("world-writable") && why.contains("--trust-pidfile")),
            "{refused:?}"
        );
        assert!(matches!(
            probe(Some(&file), None, Trust::Any),
            Process::Alive(_)
        ));
    }
}
