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

use stackutils_scripts::{
    alive, as_nobody, can_run, is_root, script, script_cmd, standin, tool, wait_until,
};

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

/// Started by a caller that ignores SIGTERM (so lsb-service and its pidwait
/// inherit that), a daemon that dies at start still ends the start at once:
/// the pid file wait is stopped by KILL, which cannot be ignored, not left
/// to run out its `START_TIMEOUT`.
#[test]
fn a_crash_at_start_ends_the_start_with_term_ignored() {
    let svc = Service::new(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--crash --pidfile {{dir}}/run/webd.pid\"\nSTART_TIMEOUT=600s\n",
        standin("lsb-daemon.py").display()
    ));
    let cmd = svc.command("start");
    // A hang is cut by KILL after 120 s (far below START_TIMEOUT): code 137.
    let mut wrapped = Command::new("timeout");
    wrapped
        .args([
            "-s",
            "KILL",
            "120",
            "bash",
            "-c",
            "trap '' TERM; exec \"$@\"",
            "bash",
        ])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    let out = wrapped.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("exited during start"), "{err}");
    // Its pid file wait ended with it (killed and reaped before the start
    // returned), not left running out START_TIMEOUT.
    let pidfile = svc.pidfile();
    let waiting: Vec<String> = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c).contains(pidfile.to_str().unwrap())
                    && c.starts_with(b"/")
                    && String::from_utf8_lossy(&c).contains("pidwait")
            })
        })
        .map(|pid| {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            pid.to_string()
        })
        .collect();
    assert!(
        waiting.is_empty(),
        "pidwait left waiting for {}: {waiting:?}",
        pidfile.display()
    );
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
    // The tools themselves missing (a copy of the script outside the clone,
    // procps' pidwait first on PATH): not installed either.
    let copy = svc.dir().join("init.d/webd");
    fs::create_dir_all(copy.parent().unwrap()).unwrap();
    fs::copy(script("lsb-service"), &copy).unwrap();
    let mut cmd = svc.command("start");
    cmd.env("PATH", "/usr/bin:/bin")
        .env_remove("STACKUTILS_BIN");
    cmd.env("DAEMON", standin("lsb-daemon.py"));
    let out = Command::new("bash")
        .arg(&copy)
        .arg("start")
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env_remove("STACKUTILS_BIN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'lsb-status' not found"),
        "{out:?}"
    );
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

/// The layout `make install` and the Debian package use: the script in
/// PREFIX/share/stackutils, the tools (our pidwait too) in the private
/// PREFIX/lib/stackutils/bin, and an rc link to the script.
fn installed(root: &Path) -> PathBuf {
    let share = root.join("usr/share/stackutils");
    let lib = root.join("usr/lib/stackutils/bin");
    fs::create_dir_all(&share).unwrap();
    fs::create_dir_all(&lib).unwrap();
    fs::copy(script("lsb-service"), share.join("lsb-service")).unwrap();
    for t in ["lsb-status", "pidwait", "portwait"] {
        std::os::unix::fs::symlink(tool(t), lib.join(t)).unwrap();
    }
    share.join("lsb-service")
}

#[test]
fn installed_behind_an_rc_link_it_finds_its_tools_and_its_name() {
    // /etc/rc2.d/S85webd -> the installed script: the name is webd, the
    // tools come from PREFIX/lib/stackutils/bin although procps' pidwait is
    // first on PATH.
    let mut svc = Service::forking();
    let installed = installed(svc.dir());
    let rc = svc.dir().join("rc2.d");
    fs::create_dir(&rc).unwrap();
    for link in ["S85webd", "K15webd"] {
        std::os::unix::fs::symlink(&installed, rc.join(link)).unwrap();
    }
    let run = |svc: &mut Service, link: &str, action: &str| {
        let mut cmd = svc.command(action);
        let envs: Vec<_> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
            .collect();
        cmd = Command::new("bash");
        cmd.arg(rc.join(link))
            .arg(action)
            .envs(envs)
            .env_remove("NAME")
            .env_remove("STACKUTILS_BIN")
            .env("PATH", "/usr/bin:/bin");
        let out = Run(cmd.output().unwrap());
        if let Some(pid) = svc.pid() {
            svc.seen.push(pid);
        }
        out
    };
    assert_eq!(
        run(&mut svc, "S85webd", "status").expect(3).stdout(),
        "webd is not running\n"
    );
    run(&mut svc, "S85webd", "start").expect(0);
    let pid = svc.pid().expect("webd's pidfile");
    assert_eq!(
        run(&mut svc, "K15webd", "status").expect(0).stdout(),
        format!("webd (pid {pid}) is running\n")
    );
    run(&mut svc, "K15webd", "stop").expect(0);
    assert!(gone(pid));
}

#[test]
fn stop_retry_in_the_dash_number_form() {
    // STOP_RETRY=-9/5: start-stop-daemon's form, SIGKILL then 5 s.
    let mut svc = Service::new(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--fork --ignore-term --pidfile {{dir}}/run/webd.pid\"\nSTOP_RETRY=-9/5\n",
        standin("lsb-daemon.py").display()
    ));
    svc.run("start").expect(0);
    let pid = svc.pid().unwrap();
    svc.run("stop").expect(0);
    assert!(!alive(pid), "stop returned with the daemon alive");
    svc.run("status").expect(3);
}

#[test]
fn a_make_pidfile_daemon_that_forks_anyway_leaves_nothing_behind() {
    // MAKE_PIDFILE=yes, but the program forks a worker into its session and
    // exits: the start fails, and the worker goes with it.
    let mut svc = Service::new("DAEMON={dir}/bin/forker\nMAKE_PIDFILE=yes\nSTART_TIMEOUT=30s\n");
    fs::create_dir(svc.dir().join("bin")).unwrap();
    let marker = svc.dir().join("worker.pid");
    let forker = svc.dir().join("bin/forker");
    fs::write(
        &forker,
        format!(
            "#!/bin/sh\nsleep 300 &\necho $! > {}.tmp && mv {0}.tmp {0}\nexit 0\n",
            marker.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&forker, fs::Permissions::from_mode(0o755)).unwrap();
    let out = svc.run("start").expect(1);
    assert!(
        out.stderr().contains("exited during start"),
        "{}",
        out.stderr()
    );
    let worker: u32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    let _reap = KillOnDrop(worker);
    assert!(
        gone(worker),
        "the worker {worker} of the failed start still runs"
    );
    // status and stop tell the truth: nothing runs, nothing is left.
    svc.run("status").expect(3);
    svc.run("stop").expect(0);
    assert!(!svc.pidfile().exists());
    assert!(!svc.pidfile().with_extension("pid.new").exists());
}

/// Kills a pid when dropped (a failed test's stray process).
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 > 1 && alive(self.0) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
}

#[test]
fn a_stale_pidfile_never_gets_a_newcomer_killed() {
    // The daemon died long ago; its pid now belongs to a process that
    // started after the pidfile was written. No EXE to compare (a script).
    let mut svc = Service::new(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--fork --pidfile {{dir}}/run/webd.pid\"\n",
        standin("lsb-daemon.py").display()
    ));
    let newcomer = Command::new("sleep").arg("300").spawn().unwrap();
    let newcomer = stackutils_scripts::Reaper(newcomer);
    fs::write(svc.pidfile(), format!("{}\n", newcomer.0.id())).unwrap();
    let past = std::time::SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(svc.pidfile())
        .unwrap()
        .set_modified(past)
        .unwrap();
    svc.run("status").expect(1);
    svc.run("stop").expect(0);
    assert!(alive(newcomer.0.id()), "the newcomer was signalled");
    assert!(!svc.pidfile().exists(), "the stale pidfile is left");
}

#[test]
fn the_log_file_is_never_written_through_a_planted_link() {
    if !can_run(is_root(), "needs root to act as another user (setpriv)") {
        return;
    }
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    // 1. A log directory of another user, who planted the link.
    let mut svc = Service::forking();
    let logdir = svc.dir().join("log");
    fs::set_permissions(&logdir, fs::Permissions::from_mode(0o777)).unwrap();
    as_nobody(&format!(
        "ln -s {} {}/webd.log",
        victim.display(),
        logdir.display()
    ));
    let out = svc.run("start").expect(1);
    assert!(
        out.stderr().contains(&logdir.display().to_string()),
        "{}",
        out.stderr()
    );
    // 2. The same directory given back to root, the link still there.
    Command::new("chown")
        .arg("-h")
        .arg("0:0")
        .arg(&logdir)
        .status()
        .unwrap();
    fs::set_permissions(&logdir, fs::Permissions::from_mode(0o755)).unwrap();
    let out = svc.run("start").expect(1);
    assert!(out.stderr().contains("symbolic link"), "{}", out.stderr());
    // 3. A directory owned by another user, not writable by us or others.
    fs::remove_file(logdir.join("webd.log")).unwrap();
    Command::new("chown")
        .arg("65534:65534")
        .arg(&logdir)
        .status()
        .unwrap();
    let out = svc.run("start").expect(1);
    assert!(
        out.stderr().contains("is owned by uid 65534"),
        "{}",
        out.stderr()
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        svc.pid().is_none() && !svc.listening(),
        "a daemon was started"
    );
    // 4. A log directory of ours under one another user owns (who could swap it).
    let other = svc.dir().join("other");
    fs::create_dir_all(other.join("log")).unwrap();
    Command::new("chown")
        .arg("65534")
        .arg(&other)
        .status()
        .unwrap();
    svc.configure(&format!(
        "DAEMON={}\nDAEMON_ARGS=\"--fork --port {{port}} --pidfile {{dir}}/run/webd.pid\"\n\
         LOGFILE={}/log/webd.log\n",
        standin("lsb-daemon.py").display(),
        other.display()
    ));
    let out = svc.run("start").expect(1);
    assert!(
        out.stderr().contains(&format!(
            "directory {} is owned by uid 65534",
            other.display()
        )),
        "{}",
        out.stderr()
    );
    assert!(
        svc.pid().is_none() && !svc.listening(),
        "a daemon was started"
    );
    svc.run("status").expect(3);
}

#[test]
fn a_full_disk_is_named_and_leaves_no_temporary_file() {
    if !can_run(
        is_root(),
        "needs root for a tmpfs in a mount namespace (unshare -m)",
    ) {
        return;
    }
    let svc = Service::new("DAEMON=/bin/sleep\nDAEMON_ARGS=300\nMAKE_PIDFILE=yes\nEXE=\n");
    let run = svc.dir().join("run");
    // The run directory a full 8 KiB tmpfs, in a mount namespace of its own.
    let inner = format!(
        "mount -t tmpfs -o size=8k,mode=755 tmpfs {run} && \
         (dd if=/dev/zero of={run}/fill bs=1k 2>/dev/null || true) && \
         {{ bash {script} start; echo \"rc=$?\"; ls -A {run}; }}",
        run = run.display(),
        script = script("lsb-service").display()
    );
    let mut cmd = svc.command("start");
    let envs: Vec<_> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
        .collect();
    cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &inner])
        .envs(envs);
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(stdout.contains("rc=1"), "{stdout}\n{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    // Only the filler is left: no pidfile, no temporary file.
    assert_eq!(stdout.lines().last(), Some("fill"), "{stdout}");
    // And no sleep of ours runs.
    let ours = |pid: &u32| {
        fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == b"/bin/sleep\x00300\x00")
            && alive(*pid)
    };
    assert!(
        wait_until(LIMIT, || !procs().iter().any(ours)),
        "the daemon of the failed start still runs"
    );
}

fn procs() -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

#[test]
fn ready_url_waits_for_an_answer_and_a_wrong_one_fails_the_start() {
    // python3 -m http.server answers 200 on / and 404 elsewhere.
    let server = "DAEMON=/usr/bin/python3\n\
         DAEMON_ARGS=\"-m http.server --bind 127.0.0.1 {port}\"\n\
         MAKE_PIDFILE=yes\nPORT={port}\nSTART_TIMEOUT=2s\n";
    let mut svc = Service::new(&format!("{server}READY_URL=http://127.0.0.1:{{port}}/\n"));
    svc.run("start").expect(0);
    let pid = svc.pid().unwrap();
    svc.run("status").expect(0);
    svc.run("stop").expect(0);
    assert!(gone(pid));

    svc.configure(&format!(
        "{server}READY_URL=http://127.0.0.1:{{port}}/no/such/page\n"
    ));
    let out = svc.run("start").expect(1);
    assert!(
        out.stderr()
            .contains("/no/such/page did not answer as wanted")
            && out.stderr().contains("404"),
        "{}",
        out.stderr()
    );
    assert!(
        svc.seen.iter().all(|p| gone(*p)),
        "the daemon was left running"
    );
    assert!(!svc.listening());
    svc.run("status").expect(3);

    svc.configure(&format!("{server}READY_URL=ftp://127.0.0.1/\n"));
    svc.run("start").expect(6);
}

#[test]
fn ready_log_waits_for_a_new_line_and_a_missing_one_fails_the_start() {
    let daemon = standin("lsb-daemon.py");
    let config = |ready: &str| {
        format!(
            "DAEMON={}\nDAEMON_ARGS=\"--fork --port {{port}} --pidfile {{dir}}/run/webd.pid\"\n\
             START_TIMEOUT=2s\nREADY_LOG={ready}\n",
            daemon.display()
        )
    };
    let mut svc = Service::new(&config("\"listening on 127.0.0.1\""));
    svc.run("start").expect(0);
    assert!(svc.log().contains("listening on 127.0.0.1"));
    // A restart waits for a line of its own: the old one does not count.
    svc.run("restart").expect(0);
    assert_eq!(
        svc.log().matches("listening on 127.0.0.1").count(),
        2,
        "{}",
        svc.log()
    );
    let pid = svc.pid().unwrap();
    svc.run("stop").expect(0);
    assert!(gone(pid));

    svc.configure(&config("\"ready to serve\""));
    let out = svc.run("start").expect(1);
    assert!(
        out.stderr().contains("no line with 'ready to serve'"),
        "{}",
        out.stderr()
    );
    assert!(!svc.listening(), "the daemon was left running");
    svc.run("status").expect(3);
}
