//! `scripts/lsb-service` against real daemons: a forking stand-in
//! (`standins/lsb-daemon.py`) and `python3 -m http.server`, through every
//! action, checking each exit code against the LSB tables.

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use stackutils_scripts::{alive, script_cmd, standin, tool, wait_until};

const LIMIT: Duration = Duration::from_secs(15);

/// One service under test: its own defaults, run, log and lock directories
/// in a temp dir, and a free port. Dropping it kills whatever it started.
struct Service {
    tmp: tempfile::TempDir,
    name: String,
    port: u16,
    seen: Vec<u32>,
}

impl Service {
    /// A service with these lines in its /etc/default file; `{dir}` and
    /// `{port}` are filled in.
    fn new(config: &str) -> Service {
        let tmp = tempfile::tempdir().unwrap();
        // Readable by all, for the test that runs the script as nobody.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let port = free_port();
        let svc = Service {
            tmp,
            name: "webd".into(),
            port,
            seen: Vec::new(),
        };
        for sub in ["default", "run", "log", "lock"] {
            fs::create_dir(svc.dir().join(sub)).unwrap();
        }
        svc.configure(config);
        svc
    }

    /// The forking stand-in that writes its own pid file and listens.
    fn forking() -> Service {
        Service::new(&format!(
            "DAEMON={daemon}\n\
             DAEMON_ARGS=\"--fork --port {{port}} --pidfile {{dir}}/run/webd.pid\"\n\
             PORT={{port}}\n",
            daemon = standin("lsb-daemon.py").display()
        ))
    }

    fn configure(&self, config: &str) {
        let text = format!(
            "PIDFILE={{dir}}/run/webd.pid\nLOGFILE={{dir}}/log/webd.log\nLOCK_DIR={{dir}}/lock\n{config}"
        )
        .replace("{dir}", self.dir().to_str().unwrap())
        .replace("{port}", &self.port.to_string());
        fs::write(self.dir().join("default").join(&self.name), text).unwrap();
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn pidfile(&self) -> PathBuf {
        self.dir().join("run/webd.pid")
    }

    fn lockfile(&self) -> PathBuf {
        self.dir().join("lock/webd")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir().join("log/webd.log")).unwrap_or_default()
    }

    fn command(&self, action: &str) -> Command {
        let mut cmd = script_cmd("lsb-service");
        cmd.env("NAME", &self.name)
            .env("LSB_DEFAULTS_DIR", self.dir().join("default"))
            .env_remove("NO_COLOR")
            .env("TERM", "dumb");
        for var in [
            "DAEMON",
            "DAEMON_ARGS",
            "PIDFILE",
            "PORT",
            "EXE",
            "MAKE_PIDFILE",
        ] {
            cmd.env_remove(var);
        }
        if !action.is_empty() {
            cmd.arg(action);
        }
        cmd
    }

    /// Runs an action; remembers the daemon's pid for the clean-up.
    fn run(&mut self, action: &str) -> Run {
        let out = self.command(action).output().unwrap();
        if let Some(pid) = self.pid() {
            if !self.seen.contains(&pid) {
                self.seen.push(pid);
            }
        }
        Run(out)
    }

    fn pid(&self) -> Option<u32> {
        fs::read_to_string(self.pidfile()).ok()?.trim().parse().ok()
    }

    fn listening(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        for pid in self.seen.iter().copied().chain(self.pid()) {
            // Only our own daemons: their command line names our temp dir
            // or port.
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            let ours = cmdline.contains(self.dir().to_str().unwrap())
                || cmdline.contains(&self.port.to_string());
            if pid > 1 && ours {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// A port nobody else is handed out (portfind leases it).
fn free_port() -> u16 {
    let out = Command::new(tool("portfind"))
        .output()
        .expect("run portfind");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0.status.code().expect("exited normally")
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts the exit code, showing all output when it is wrong.
    fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

fn gone(pid: u32) -> bool {
    wait_until(LIMIT, || !alive(pid))
}

#[test]
fn every_action_on_a_forking_daemon() {
    let mut svc = Service::forking();
    // Status of a service never started: 3, and stop succeeds anyway.
    assert_eq!(
        svc.run("status").expect(3).stdout(),
        "webd is not running\n"
    );
    assert!(svc.run("stop").expect(0).stdout().contains("not running"));

    let out = svc.run("start").expect(0);
    assert!(
        out.stdout().starts_with("Starting webd: "),
        "{}",
        out.stdout()
    );
    assert!(out.stdout().ends_with("[  OK  ]\n"));
    let first = svc.pid().expect("pid file written");
    assert!(alive(first) && svc.listening());
    assert!(svc.lockfile().exists());
    let out = svc.run("status").expect(0);
    assert_eq!(out.stdout(), format!("webd (pid {first}) is running\n"));

    // Start twice: success, same daemon.
    let out = svc.run("start").expect(0);
    assert!(out.stdout().contains("already running"), "{}", out.stdout());
    assert_eq!(svc.pid(), Some(first));

    // No RELOAD_SIGNAL: reload is unimplemented (3), force-reload restarts.
    let out = svc.run("reload").expect(3);
    assert!(out.stderr().contains("not supported"), "{}", out.stderr());
    assert_eq!(svc.pid(), Some(first));
    svc.run("force-reload").expect(0);
    let second = svc.pid().unwrap();
    assert_ne!(second, first);
    assert!(gone(first));

    svc.run("try-restart").expect(0);
    let third = svc.pid().unwrap();
    assert!(third != second && gone(second) && svc.listening());

    svc.run("restart").expect(0);
    let fourth = svc.pid().unwrap();
    assert!(fourth != third && gone(third));

    let out = svc.run("stop").expect(0);
    assert!(out.stdout().starts_with("Stopping webd: ") && out.stdout().ends_with("[  OK  ]\n"));
    assert!(!alive(fourth), "stop returns once the daemon is gone");
    assert!(!svc.pidfile().exists() && !svc.lockfile().exists());
    assert!(!svc.listening());

    // Stop twice: success. Stopped: try-restart succeeds and starts nothing;
    // reload and force-reload say "not running" (7).
    svc.run("stop").expect(0);
    svc.run("try-restart").expect(0);
    assert!(svc.pid().is_none());
    svc.run("force-reload").expect(7);
    svc.configure(&format!(
        "DAEMON={}\nRELOAD_SIGNAL=HUP\n",
        standin("lsb-daemon.py").display()
    ));
    svc.run("reload").expect(7);
    svc.run("status").expect(3);

    // Restart of a stopped service starts it.
    svc.configure(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--fork --pidfile {{dir}}/run/webd.pid\"\n",
        standin("lsb-daemon.py").display()
    ));
    svc.run("restart").expect(0);
    let pid = svc.pid().unwrap();
    assert!(alive(pid));
    svc.run("stop").expect(0);
    assert!(gone(pid));
}

#[test]
fn reload_sends_the_signal() {
    let mut svc = Service::new(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--fork --pidfile {{dir}}/run/webd.pid\"\nRELOAD_SIGNAL=HUP\n",
        standin("lsb-daemon.py").display()
    ));
    svc.run("start").expect(0);
    let pid = svc.pid().unwrap();
    let out = svc.run("reload").expect(0);
    assert!(out.stdout().starts_with("Reloading webd: ") && out.stdout().ends_with("[  OK  ]\n"));
    assert!(
        wait_until(LIMIT, || svc.log().contains("reloaded")),
        "{}",
        svc.log()
    );
    // force-reload reloads too when the daemon can: same process.
    svc.run("force-reload").expect(0);
    assert!(wait_until(LIMIT, || svc.log().matches("reloaded").count() == 2));
    assert_eq!(svc.pid(), Some(pid));
    svc.run("stop").expect(0);
    assert!(gone(pid));
}

#[test]
fn a_foreground_daemon_with_make_pidfile() {
    // python3 -m http.server writes no pid file: the script writes `$!`.
    // DAEMON is a binary, so the status also checks /proc/PID/exe.
    let mut svc = Service::new(
        "DAEMON=/usr/bin/python3\n\
         DAEMON_ARGS=\"-m http.server --bind 127.0.0.1 {port}\"\n\
         MAKE_PIDFILE=yes\nPORT={port}\n",
    );
    svc.run("start").expect(0);
    let pid = svc.pid().unwrap();
    assert!(svc.listening());
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.to_string_lossy().contains("python3"), "{exe:?}");
    svc.run("status").expect(0);
    svc.run("stop").expect(0);
    assert!(gone(pid));
    assert!(!svc.pidfile().exists());
}

#[test]
fn status_after_kill_9_is_1_and_start_recovers() {
    let mut svc = Service::forking();
    svc.run("start").expect(0);
    let pid = svc.pid().unwrap();
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(gone(pid));
    let out = svc.run("status").expect(1);
    assert_eq!(out.stdout(), "webd is dead but pid file exists\n");
    // Start cleans up the stale pid file and lock and starts afresh.
    svc.run("start").expect(0);
    let again = svc.pid().unwrap();
    assert!(again != pid && alive(again));
    svc.run("stop").expect(0);
}

#[test]
fn a_reused_pid_is_not_the_daemon() {
    // EXE names the interpreter: a live pid running something else (this
    // test's `sleep`) is a dead daemon whose pid was reused.
    let mut svc = Service::new(&format!(
        "DAEMON={}\nEXE=/usr/bin/python3\n",
        standin("lsb-daemon.py").display()
    ));
    let mut sleeper = Command::new("sleep").arg("300").spawn().unwrap();
    fs::write(svc.pidfile(), format!("{}\n", sleeper.id())).unwrap();
    let out = svc.run("status").expect(1);
    assert_eq!(out.stdout(), "webd is dead but pid file exists\n");
    // Stop must not kill the stranger, and clears the stale pid file.
    svc.run("stop").expect(0);
    assert!(alive(sleeper.id()));
    assert!(!svc.pidfile().exists());
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
fn a_stale_lock_is_2_and_stop_clears_it() {
    let mut svc = Service::forking();
    fs::write(svc.lockfile(), "").unwrap();
    let out = svc.run("status").expect(2);
    assert_eq!(out.stdout(), "webd is dead but lock file exists\n");
    svc.run("stop").expect(0);
    assert!(!svc.lockfile().exists());
    svc.run("status").expect(3);
    fs::write(svc.lockfile(), "").unwrap();
    svc.run("start").expect(0);
    svc.run("status").expect(0);
    svc.run("stop").expect(0);
}

#[test]
fn stop_kills_a_daemon_that_ignores_term() {
    let mut svc = Service::new(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--fork --ignore-term --pidfile {{dir}}/run/webd.pid\"\nSTOP_RETRY=TERM/1/KILL/5\n",
        standin("lsb-daemon.py").display()
    ));
    svc.run("start").expect(0);
    let pid = svc.pid().unwrap();
    svc.run("stop").expect(0);
    assert!(!alive(pid));
    svc.run("status").expect(3);
}

#[test]
fn a_daemon_that_crashes_at_start_fails_with_its_log() {
    // Before it forks: the launcher itself exits 1.
    let mut svc = Service::new(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--crash --pidfile {{dir}}/run/webd.pid\"\nSTART_TIMEOUT=30s\n",
        standin("lsb-daemon.py").display()
    ));
    let out = svc.run("start").expect(1);
    assert!(out.stdout().ends_with("[FAILED]\n"), "{}", out.stdout());
    assert!(
        out.stderr().contains("exited during start"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("fatal: cannot read /nonexistent"),
        "{}",
        out.stderr()
    );
    assert!(!svc.lockfile().exists());
    svc.run("status").expect(3);

    // After it forked and wrote its pid file: caught by START_GRACE.
    svc.configure(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--fork --crash-after-listen --pidfile {{dir}}/run/webd.pid\"\nSTART_GRACE=5s\n",
        standin("lsb-daemon.py").display()
    ));
    let out = svc.run("start").expect(1);
    assert!(
        out.stderr().contains("lost the database"),
        "{}",
        out.stderr()
    );
    assert!(!svc.lockfile().exists());

    // Dies before listening on PORT: portwait notices at once.
    svc.configure(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--crash\"\nMAKE_PIDFILE=yes\nPORT={{port}}\n",
        standin("lsb-daemon.py").display()
    ));
    let out = svc.run("start").expect(1);
    assert!(
        out.stderr().contains("fatal: cannot read"),
        "{}",
        out.stderr()
    );
    assert!(!svc.pidfile().exists());
}

#[test]
fn a_daemon_that_never_gets_ready_is_stopped() {
    // Runs, but never writes its pid file: start times out and kills it.
    let mut svc = Service::new(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--port {{port}}\"\nSTART_TIMEOUT=500ms\n",
        standin("lsb-daemon.py").display()
    ));
    let out = svc.run("start").expect(1);
    assert!(
        out.stderr().contains("no live process in"),
        "{}",
        out.stderr()
    );
    assert!(
        wait_until(LIMIT, || !svc.listening()),
        "the half-started daemon was left running"
    );
}

#[test]
fn usage_errors_exit_2() {
    let mut svc = Service::forking();
    for action in ["", "bogus", "START"] {
        let out = svc.run(action).expect(2);
        assert!(
            out.stderr().starts_with("Usage: lsb-service {start|stop|"),
            "{}",
            out.stderr()
        );
    }
    let out = svc.command("start").arg("extra").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_missing_daemon_is_5() {
    let mut svc = Service::new("DAEMON=/nonexistent/webd\n");
    for action in ["start", "restart", "try-restart", "reload", "force-reload"] {
        let out = svc.run(action).expect(5);
        assert!(
            out.stderr().contains("/nonexistent/webd is not installed"),
            "{}",
            out.stderr()
        );
    }
    // Nothing to stop is still a successful stop; status is plain "not running".
    svc.run("stop").expect(0);
    svc.run("status").expect(3);
    // The tools themselves missing: not installed either.
    let out = svc
        .command("start")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
}

#[test]
fn bad_configuration_is_6() {
    let daemon = standin("lsb-daemon.py");
    let daemon = daemon.display();
    let mut svc = Service::new("");
    for (config, why) in [
        ("", "DAEMON is not set"),
        (
            &*format!("DAEMON={daemon}\nMAKE_PIDFILE=maybe\n"),
            "MAKE_PIDFILE='maybe'",
        ),
        (&*format!("DAEMON={daemon}\nPORT=http\n"), "PORT='http'"),
        (
            &*format!("DAEMON={daemon}\nRELOAD_SIGNAL=SIGBOGUS\n"),
            "RELOAD_SIGNAL",
        ),
        ("DAEMON=relative/webd\n", "absolute paths"),
        (
            &*format!("DAEMON={daemon}\nPORT=99999\n"),
            "PORT from 1 to 65535",
        ),
        (&*format!("DAEMON={daemon}\nPORT=host:0\n"), "PORT='host:0'"),
        (
            &*format!("DAEMON={daemon}\nLOG_LINES=99999999999999999999\n"),
            "LOG_LINES",
        ),
        // Checked before anything starts: a bad schedule would otherwise
        // leave a daemon that stop cannot stop.
        (
            &*format!("DAEMON={daemon}\nSTART_TIMEOUT=soon\n"),
            "START_TIMEOUT='soon'",
        ),
        (
            &*format!("DAEMON={daemon}\nSTART_GRACE=10parsecs\n"),
            "START_GRACE='10parsecs'",
        ),
        (
            &*format!("DAEMON={daemon}\nSTOP_RETRY=TERM/10/KILL\n"),
            "STOP_RETRY='TERM/10/KILL'",
        ),
        (&*format!("DAEMON={daemon}\nif then\n"), "cannot read"),
    ] {
        svc.configure(config);
        let out = svc.run("start").expect(6);
        assert!(out.stderr().contains(why), "{config:?}: {}", out.stderr());
        // Status has no "not configured": its table says 4, unknown.
        svc.run("status").expect(4);
        assert!(svc.log().is_empty(), "{config:?} started something");
    }
    for name in ["..", "."] {
        let out = svc.command("start").env("NAME", name).output().unwrap();
        assert_eq!(out.status.code(), Some(6), "{name}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("must be a plain name"));
    }
}

#[test]
fn stop_works_after_the_program_was_removed() {
    // A binary daemon (so EXE is checked) that is uninstalled while running.
    let mut svc = Service::new("DAEMON={dir}/bin/webd\nDAEMON_ARGS=300\nMAKE_PIDFILE=yes\n");
    fs::create_dir(svc.dir().join("bin")).unwrap();
    let program = svc.dir().join("bin/webd");
    // cp, not fs::copy: a test thread forking meanwhile would hold the file
    // open for writing and the exec would fail with "text file busy".
    let copied = Command::new("cp")
        .arg("/bin/sleep")
        .arg(&program)
        .status()
        .unwrap();
    assert!(copied.success());
    svc.run("start").expect(0);
    let pid = svc.pid().unwrap();
    fs::remove_file(&program).unwrap();
    let out = svc.run("status").expect(0);
    assert_eq!(out.stdout(), format!("webd (pid {pid}) is running\n"));
    svc.run("stop").expect(0);
    assert!(gone(pid));
    svc.run("status").expect(3);
}

#[test]
fn insufficient_privilege_is_4() {
    let mut svc = Service::forking();
    // Root may write anywhere: ask as nobody. Others lose write access.
    let as_user = |cmd: &mut Command| {
        if is_root() {
            cmd.uid(65534).gid(65534);
        } else {
            fs::set_permissions(svc.dir().join("lock"), fs::Permissions::from_mode(0o555)).unwrap();
        }
    };
    let mut start = svc.command("start");
    as_user(&mut start);
    let out = start.output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("insufficient privilege"));
    // Reading the status needs no privilege.
    let mut status = svc.command("status");
    as_user(&mut status);
    assert_eq!(status.output().unwrap().status.code(), Some(3));
    svc.run("status").expect(3);
}

fn is_root() -> bool {
    std::os::unix::fs::MetadataExt::uid(&fs::metadata("/proc/self").unwrap()) == 0
}
