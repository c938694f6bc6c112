//! `scripts/start-stack.sh` end to end: real stand-in servers (python3 HTTPS
//! API, plain HTTP storage/proxy/git servers), real nginx, real TLS, real
//! signals. Each test has its own state directory; every stack is stopped
//! by a guard, so a failing test leaves nothing running.

use std::collections::BTreeMap;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use stackutils_scripts::{alive, corpus, path_with_tools, script, standin, tool, wait_until};
use tempfile::TempDir;

const PYTHON: &str = "/usr/bin/python3";
/// What a run of the script may take before the test calls it hung. Far
/// above what any action needs; the waits the script does are bounded by
/// `STACK_TIMEOUT` (10s by default).
const HUNG: Duration = Duration::from_secs(90);
/// Ports of each service, by port-file name.
const PORT_FILES: [&str; 7] = [
    "api",
    "keep0",
    "keep1",
    "keepproxy",
    "arv-git-httpd",
    "keepproxy-ssl",
    "arv-git-httpd-ssl",
];
const SERVICES: [&str; 6] = [
    "api",
    "keep0",
    "keep1",
    "keepproxy",
    "arv-git-httpd",
    "nginx",
];

/// One lease directory for all these tests, so they never get each other's ports.
fn lease_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("start-stack-leases");
        fs::create_dir_all(&dir).expect("lease dir");
        dir
    })
}

fn portfind(args: &[&str]) -> Vec<u16> {
    let out = Command::new(tool("portfind"))
        .args(args)
        .env("PORTFIND_LEASE_DIR", lease_dir())
        .output()
        .expect("run portfind");
    assert!(out.status.success(), "portfind: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| l.parse().expect("portfind prints ports"))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The result of one run of the script.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected success; stderr:\n{}",
            self.stderr
        );
        self
    }

    fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(want),
            "expected exit {want}; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs a command to its end, killing it if it hangs past `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Run {
    let dir = TempDir::new().expect("tempdir");
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child: Child = cmd
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).expect("stdout file"))
        .stderr(fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("spawn");
    let mut status = None;
    let done = wait_until(limit, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !done {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{cmd:?} still running after {limit:?}; stderr:\n{}",
            fs::read_to_string(&err).unwrap_or_default()
        );
    }
    Run {
        code: status.and_then(|s| s.code()),
        stdout: fs::read_to_string(&out).expect("stdout"),
        stderr: fs::read_to_string(&err).expect("stderr"),
    }
}

/// A test stack: its state directory and environment. Dropping it runs
/// `stop-all`, then kills whatever its pidfiles still name.
struct Stack {
    dir: TempDir,
    env: BTreeMap<String, String>,
}

impl Stack {
    fn new() -> Self {
        let dir = TempDir::new().expect("tempdir");
        let api = format!(
            "{PYTHON} {} --fixtures {}",
            standin("stack-api.py").display(),
            corpus("arvados").display()
        );
        let service =
            |role: &str| format!("{PYTHON} {} {role}", standin("stack-service.py").display());
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("PATH", path_with_tools()),
            (
                "STACK_TMPDIR",
                dir.path().join("state").display().to_string(),
            ),
            ("PORTFIND_LEASE_DIR", lease_dir().display().to_string()),
            ("STACK_FIXTURES", corpus("arvados").display().to_string()),
            (
                "STACK_NGINX_TEMPLATE",
                corpus("arvados/nginx-2015.conf").display().to_string(),
            ),
            ("ARVADOS_API_SERVER_CMD", api),
            ("KEEPSTORE_CMD", service("keepstore")),
            ("KEEPPROXY_CMD", service("keepproxy")),
            ("ARV_GIT_HTTPD_CMD", service("arv-git-httpd")),
        ] {
            env.insert(k.to_owned(), v);
        }
        Stack { dir, env }
    }

    fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.insert(key.to_owned(), value.into());
        self
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(script("start-stack.sh")).args(args);
        for var in [
            "ARVADOS_TEST_API_HOST",
            "ARVADOS_TEST_PROXY_SERVICES",
            "ARVADOS_API_HOST",
            "ARVADOS_API_TOKEN",
            "ARVADOS_API_HOST_INSECURE",
            "ARVADOS_FIXTURES",
            "STACK_PORT_RANGE",
            "STACK_GIT_TARBALL",
            "STACK_TIMEOUT",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(&self.env);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        run_bounded(self.command(args), HUNG)
    }

    /// A file of the state directory, if it exists.
    fn read(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.state().join(name))
            .ok()
            .map(|s| s.trim().to_owned())
    }

    fn pid(&self, service: &str) -> Option<u32> {
        self.read(&format!("{service}.pid"))
            .map(|s| s.parse().expect("numeric pidfile"))
    }

    fn port(&self, name: &str) -> Option<u16> {
        self.read(&format!("{name}.port"))
            .map(|s| s.parse().expect("numeric port file"))
    }

    fn ports(&self) -> Vec<u16> {
        PORT_FILES.iter().filter_map(|n| self.port(n)).collect()
    }

    fn pids(&self) -> Vec<u32> {
        SERVICES.iter().filter_map(|s| self.pid(s)).collect()
    }

    /// curl against the stack, trusting its certificate; returns the body.
    fn curl(&self, args: &[&str]) -> String {
        let out = Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--fail",
                "--max-time",
                "10",
                "--cacert",
            ])
            .arg(self.state().join("self-signed.pem"))
            .args(args)
            .output()
            .expect("curl");
        assert!(out.status.success(), "curl {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// An API call as admin.
    fn api_get(&self, path: &str) -> String {
        let url = format!(
            "https://0.0.0.0:{}{path}",
            self.port("api").expect("api port")
        );
        let auth = format!("Authorization: OAuth2 {}", fixture_token("admin"));
        self.curl(&["-H", &auth, &url])
    }

    /// Live processes whose command line names the state directory: every
    /// service's does (pidfile, volume, repo root or nginx prefix).
    fn processes(&self) -> Vec<u32> {
        let needle = self.state().display().to_string();
        fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
                    && alive(*pid)
            })
            .collect()
    }

    /// Asserts that nothing of the stack runs, listens or has a pidfile.
    fn assert_gone(&self, pids: &[u32], ports: &[u16]) {
        assert!(
            wait_until(Duration::from_secs(5), || self.processes().is_empty()),
            "still running: {:?}",
            self.processes()
        );
        for pid in pids {
            assert!(
                wait_until(Duration::from_secs(5), || !alive(*pid)),
                "pid {pid} still alive"
            );
        }
        for port in ports {
            assert!(!listening(*port), "port {port} still listens");
        }
        let left: Vec<_> = fs::read_dir(self.state())
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| {
                        let ext = Path::new(n).extension().and_then(|e| e.to_str());
                        matches!(ext, Some("pid" | "port" | "launched")) || n.contains("-volume.")
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.state().exists() {
            let _ = run_bounded(self.command(&["stop-all"]), HUNG);
            for pid in self.pids() {
                if pid > 1 && alive(pid) {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
            }
        }
    }
}

fn fixture_token(name: &str) -> String {
    let out = Command::new(tool("fixture-token"))
        .args(["--fixtures"])
        .arg(corpus("arvados"))
        .arg(name)
        .output()
        .expect("fixture-token");
    assert!(out.status.success(), "fixture-token {name}");
    text(&out.stdout).trim().to_owned()
}

/// Whether anything listens on this local port (no listener: refused).
fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).is_ok()
}

/// A script that stands in for a service and fails: prints a reason and exits.
fn failing_service(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .expect("chmod");
    path.display().to_string()
}

/// Makes the git server a shell script that ignores TERM and then runs
/// `body`, where `GIT_STANDIN` stands for the git stand-in with the script's
/// arguments; stops get one second of TERM before KILL.
fn stubborn_git(stack: &mut Stack, body: &str) {
    let standin = format!(
        "{PYTHON} {} arv-git-httpd \"$@\"",
        standin("stack-service.py").display()
    );
    let script = failing_service(
        stack.dir.path(),
        "stubborn-git",
        &format!("trap '' TERM\n{}", body.replace("GIT_STANDIN", &standin)),
    );
    stack
        .set("ARV_GIT_HTTPD_CMD", script)
        .set("STACK_STOP_RETRY", "TERM/1/KILL/5");
}

/// A tar of git fixture repositories, as the original unpacked.
fn git_tarball(dir: &Path) -> PathBuf {
    let src = dir.join("gitsrc/test");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    let tarball = dir.join("test.git.tar");
    assert!(Command::new("tar")
        .arg("-cf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir.join("gitsrc"))
        .arg("test")
        .status()
        .unwrap()
        .success());
    tarball
}

/// The certificate names the addresses clients use, in subjectAltName.
fn assert_certificate_names(pem: &Path) {
    let san = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(pem)
        .output()
        .unwrap();
    let san = text(&san.stdout);
    for name in [
        "IP Address:127.0.0.1",
        "DNS:localhost",
        "IP Address:0.0.0.0",
    ] {
        assert!(san.contains(name), "{san}");
    }
}

#[test]
fn start_all_serves_every_role_and_stop_all_leaves_nothing() {
    let mut stack = Stack::new();
    let tarball = git_tarball(stack.dir.path());
    stack.set("STACK_GIT_TARBALL", tarball.display().to_string());

    let run = stack.run(&["start-all"]);
    run.ok();
    let api_port = stack.port("api").expect("api.port");
    assert_eq!(run.stdout, format!("0.0.0.0:{api_port}\n"));

    // Status: one line per service, all up.
    let status = stack.run(&["status"]);
    status.ok();
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert_eq!(lines.len(), SERVICES.len(), "{}", status.stdout);
    for (line, name) in lines.iter().zip(SERVICES) {
        assert!(line.starts_with(name) && line.ends_with(" up"), "{line}");
        let pid = stack.pid(name).unwrap();
        assert!(line.contains(&format!("pid {pid} ")), "{line}");
    }

    assert_certificate_names(&stack.state().join("self-signed.pem"));

    // The database was reset once, and the storage servers are registered.
    let log = stack.read("api.log").unwrap();
    assert_eq!(log.matches("database reset").count(), 1, "{log}");
    let services = stack.api_get("/arvados/v1/keep_services");
    for name in ["keep0", "keep1", "keepproxy"] {
        let port = stack.port(name).unwrap();
        assert!(
            services.contains(&format!("\"service_port\": {port}")),
            "{name}: {services}"
        );
    }
    assert!(
        services.contains("zzzzz-bi6l4-keepdisk0000000"),
        "{services}"
    );
    assert!(
        services.contains("zzzzz-bi6l4-keepdisk0000001"),
        "{services}"
    );
    let disks = stack.api_get("/arvados/v1/keep_disks");
    assert_eq!(disks.matches("keep_service_uuid").count(), 2, "{disks}");

    // A block stored in keep0 lands in its volume.
    let keep0 = stack.port("keep0").unwrap();
    let locator = stack.curl(&[
        "-X",
        "PUT",
        "--data-binary",
        "foo",
        &format!("http://127.0.0.1:{keep0}/acbd18db4cc2f85cedef654fccc4a4d8"),
    ]);
    assert_eq!(locator.trim(), "acbd18db4cc2f85cedef654fccc4a4d8+3");
    let volume = stack.read("keep0.volume").unwrap();
    assert!(Path::new(&volume)
        .join("acbd18db4cc2f85cedef654fccc4a4d8")
        .is_file());

    // nginx terminates TLS in front of the proxy and the git server.
    let kp_ssl = stack.port("keepproxy-ssl").unwrap();
    assert_eq!(
        stack.curl(&[&format!("https://127.0.0.1:{kp_ssl}/")]),
        "keepproxy stand-in\n"
    );
    let git_ssl = stack.port("arv-git-httpd-ssl").unwrap();
    assert_eq!(
        stack.curl(&[&format!("https://localhost:{git_ssl}/HEAD")]),
        "ref: refs/heads/main\n"
    );

    let (pids, ports) = (stack.pids(), stack.ports());
    assert_eq!((pids.len(), ports.len()), (6, 7));
    // The check assert_gone makes sees the running stack.
    let running = stack.processes();
    assert!(
        pids.iter().all(|p| running.contains(p)),
        "{running:?} vs {pids:?}"
    );
    stack.run(&["stop-all"]).ok();
    stack.assert_gone(&pids, &ports);
    assert!(!Path::new(&volume).exists(), "volume {volume} left behind");

    // Everything down now: status says so, and exits 1, with nothing on stderr.
    let status = stack.run(&["status"]);
    status.code(1);
    assert!(status.stderr.is_empty(), "{}", status.stderr);
    assert_eq!(
        status.stdout.matches(" down\n").count(),
        6,
        "{}",
        status.stdout
    );
}

#[test]
fn start_with_auth_prints_export_lines_that_eval() {
    let stack = Stack::new();
    let run = stack.run(&["start", "--auth", "active"]);
    run.ok();
    let port = stack.port("api").unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{}\necho \"$ARVADOS_API_TOKEN $ARVADOS_API_HOST $ARVADOS_API_HOST_INSECURE\"",
            run.stdout
        ))
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("{} 0.0.0.0:{port} true\n", fixture_token("active"))
    );
}

#[test]
fn auth_with_an_unknown_fixture_is_a_usage_error_before_anything_starts() {
    let stack = Stack::new();
    let run = stack.run(&["start", "--auth", "no_such_user"]);
    run.code(2);
    assert!(run.stderr.contains("no_such_user"), "{}", run.stderr);
    assert!(stack.pid("api").is_none());
}

#[test]
fn start_twice_reuses_the_server_and_resets_it() {
    let stack = Stack::new();
    let first = stack.run(&["start"]);
    first.ok();
    let pid = stack.pid("api").unwrap();
    let second = stack.run(&["start"]);
    second.ok();
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(stack.pid("api"), Some(pid));
    let log = stack.read("api.log").unwrap();
    assert_eq!(log.matches("database reset").count(), 2, "{log}");
}

#[test]
fn a_service_that_dies_during_start_fails_at_once_and_leaves_nothing_running() {
    let mut stack = Stack::new();
    let crash = failing_service(
        stack.dir.path(),
        "crashing-keepstore",
        "echo 'keepstore: volume is corrupt' >&2\nexit 3",
    );
    // A long timeout: only noticing the death ends the wait in time.
    stack
        .set("KEEPSTORE_CMD", crash)
        .set("STACK_TIMEOUT", "120s");
    let run = run_bounded(stack.command(&["start-all"]), Duration::from_secs(60));
    run.code(1);
    assert!(
        run.stderr.contains("keep0 failed to start"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("keepstore: volume is corrupt"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // The API server this run started is stopped again.
    stack.assert_gone(&[], &[]);
    stack.run(&["status"]).code(1);
}

#[test]
fn a_server_that_writes_its_pidfile_then_exits_fails_the_start() {
    let mut stack = Stack::new();
    let api = format!(
        "{} --fail-after-pidfile",
        stack.env["ARVADOS_API_SERVER_CMD"]
    );
    stack
        .set("ARVADOS_API_SERVER_CMD", api)
        .set("STACK_TIMEOUT", "120s");
    let run = run_bounded(stack.command(&["start"]), Duration::from_secs(60));
    run.code(1);
    assert!(run.stderr.contains("api failed to start"), "{}", run.stderr);
    assert!(run.stderr.contains("failing on purpose"), "{}", run.stderr);
    stack.assert_gone(&[], &[]);
}

#[test]
fn a_server_that_never_listens_times_out_and_is_stopped() {
    let mut stack = Stack::new();
    let marker = stack.dir.path().join("sleeper.pid");
    let sleeper = failing_service(
        stack.dir.path(),
        "silent-git",
        &format!("echo $$ > {}\nexec sleep 300", marker.display()),
    );
    stack
        .set("ARV_GIT_HTTPD_CMD", sleeper)
        .set("STACK_TIMEOUT", "1s");
    let run = stack.run(&["start_arv-git-httpd"]);
    run.code(1);
    assert!(
        run.stderr.contains("arv-git-httpd failed to start"),
        "{}",
        run.stderr
    );
    let pid: u32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    stack.assert_gone(&[pid], &[]);
}

#[test]
fn stale_pidfile_after_kill_9_start_and_stop_recover() {
    let stack = Stack::new();
    stack.run(&["start"]).ok();
    let old = stack.pid("api").unwrap();
    assert!(Command::new("kill")
        .args(["-KILL", &old.to_string()])
        .status()
        .unwrap()
        .success());
    assert!(wait_until(Duration::from_secs(10), || !alive(old)));

    // start notices the dead server and starts a new one.
    stack.run(&["start"]).ok();
    let new = stack.pid("api").unwrap();
    assert_ne!(new, old);
    assert!(alive(new));
    stack.run(&["status"]); // prints; api is up, the rest are down

    // stop after another kill -9: succeeds, and cleans the pidfile up.
    Command::new("kill")
        .args(["-KILL", &new.to_string()])
        .status()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || !alive(new)));
    let stop = stack.run(&["stop"]);
    stop.ok();
    stack.assert_gone(&[old, new], &[]);
}

#[test]
fn a_stranger_on_a_stale_port_is_left_alone_and_a_new_port_is_picked() {
    let stack = Stack::new();
    stack.run(&["start"]).ok();
    let (pid, port) = (stack.pid("api").unwrap(), stack.port("api").unwrap());
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || !alive(pid)));
    // The freed port is taken by someone else.
    let stranger = TcpListener::bind(("0.0.0.0", port)).expect("bind the freed port");

    stack.run(&["stop"]).ok();
    stack.run(&["start"]).ok();
    assert_ne!(stack.port("api"), Some(port));
    // The stranger still has its port.
    assert!(listening(port));
    drop(stranger);
}

#[test]
fn a_port_taken_by_a_stranger_is_not_used() {
    let mut stack = Stack::new();
    // A window of eleven free ports, one of them held by a stranger: the
    // seven ports of the stack must come from the other ten.
    let free = |p: u16| TcpListener::bind(("0.0.0.0", p)).is_ok();
    let base = (0..50)
        .map(|_| portfind(&["--range", "20000-32000"])[0])
        .find(|b| (*b..b + 11).all(free))
        .expect("a window of 11 free ports");
    let window: Vec<u16> = (base..base + 11).collect();
    let taken = base + 5;
    let stranger = TcpListener::bind(("0.0.0.0", taken)).expect("stranger binds");
    stack.set("STACK_PORT_RANGE", format!("{}-{}", base, base + 10));
    stack.run(&["start-all"]).ok();
    let ports = stack.ports();
    assert_eq!(ports.len(), 7);
    assert!(!ports.contains(&taken), "{ports:?}");
    assert!(ports.iter().all(|p| window.contains(p)), "{ports:?}");
    stack.run(&["status"]).ok();
    assert!(stranger.local_addr().is_ok() && listening(taken));
}

#[test]
fn each_start_and_stop_action_on_its_own() {
    let stack = Stack::new();
    stack.run(&["start"]).ok();
    for (start, stop, names) in [
        ("start_keep", "stop_keep", &["keep0", "keep1"][..]),
        ("start_keep_proxy", "stop_keep_proxy", &["keepproxy"][..]),
        (
            "start_arv-git-httpd",
            "stop_arv-git-httpd",
            &["arv-git-httpd"][..],
        ),
        ("start_nginx", "stop_nginx", &["nginx"][..]),
    ] {
        let run = stack.run(&[start]);
        run.ok();
        assert!(run.stdout.is_empty(), "{start}: {}", run.stdout);
        let pids: Vec<u32> = names.iter().map(|n| stack.pid(n).expect(n)).collect();
        assert!(pids.iter().all(|p| alive(*p)), "{start}");
        let ports = stack.ports();
        stack.run(&[stop]).ok();
        // Stopping again is fine.
        stack.run(&[stop]).ok();
        for name in names {
            assert!(stack.pid(name).is_none(), "{stop} left {name}.pid");
        }
        for pid in &pids {
            assert!(!alive(*pid), "{stop}: pid {pid}");
        }
        // Only the API server's port is left.
        for port in ports.iter().filter(|p| Some(**p) != stack.port("api")) {
            assert!(!listening(*port), "{stop}: port {port}");
        }
    }
    let pid = stack.pid("api").unwrap();
    stack.run(&["stop"]).ok();
    stack.assert_gone(&[pid], &[]);
}

#[test]
fn nginx_alone_gets_port_9_for_missing_upstreams() {
    let stack = Stack::new();
    stack.run(&["start_nginx"]).ok();
    let conf = stack.read("nginx.conf").unwrap();
    assert!(conf.contains("server localhost:9;"), "{conf}");
    assert!(!conf.contains("{{"), "{conf}");
    let pid = stack.pid("nginx").unwrap();
    stack.run(&["stop_nginx"]).ok();
    stack.assert_gone(&[pid], &[]);
}

#[test]
fn a_template_variable_without_a_value_is_an_error_naming_it() {
    let mut stack = Stack::new();
    let template = stack.dir.path().join("nginx.conf.in");
    fs::write(
        &template,
        "daemon off;\nevents {}\nhttp {\n  server { listen {{NOSUCHPORT}}; }\n}\n",
    )
    .unwrap();
    stack.set("STACK_NGINX_TEMPLATE", template.display().to_string());
    let run = stack.run(&["start_nginx"]);
    run.code(2);
    assert!(
        run.stderr.contains(&format!(
            "{}:4: no value for {{{{NOSUCHPORT}}}}",
            template.display()
        )),
        "{}",
        run.stderr
    );
    stack.assert_gone(&[], &[]);
}

#[test]
fn a_garbled_port_file_is_named() {
    let stack = Stack::new();
    fs::create_dir_all(stack.state()).unwrap();
    fs::write(stack.state().join("keepproxy.port"), "80x\n").unwrap();
    let run = stack.run(&["start_nginx"]);
    run.code(2);
    assert!(
        run.stderr
            .contains("keepproxy.port: expected a port number"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("'80x'"), "{}", run.stderr);
}

#[test]
fn proxy_services_of_a_parent_are_not_started_or_stopped() {
    let mut stack = Stack::new();
    stack.set("ARVADOS_TEST_PROXY_SERVICES", "1");
    stack.run(&["start"]).ok();
    for action in [
        "start_keep_proxy",
        "start_arv-git-httpd",
        "start_nginx",
        "stop_keep_proxy",
        "stop_arv-git-httpd",
        "stop_nginx",
    ] {
        stack.run(&[action]).ok();
    }
    for name in ["keepproxy", "arv-git-httpd", "nginx"] {
        assert!(stack.pid(name).is_none(), "{name} started");
    }
    let status = stack.run(&["status"]);
    assert!(status.stdout.contains(" external\n"), "{}", status.stdout);
}

#[test]
fn a_parent_api_server_is_only_reset_never_started_or_stopped() {
    let parent = Stack::new();
    let host = parent.run(&["start"]);
    host.ok();
    let host = host.stdout.trim().to_owned();
    let parent_pid = parent.pid("api").unwrap();

    let mut child = Stack::new();
    child.set("ARVADOS_TEST_API_HOST", host.clone());
    let run = child.run(&["start"]);
    run.ok();
    assert_eq!(run.stdout.trim(), host);
    assert!(child.pid("api").is_none());
    let log = parent.read("api.log").unwrap();
    assert_eq!(log.matches("database reset").count(), 2, "{log}");
    child.run(&["stop"]).ok();
    assert!(alive(parent_pid));
}

#[test]
fn registration_needs_the_api_server() {
    let stack = Stack::new();
    let run = stack.run(&["start_keep"]);
    run.code(1);
    assert!(
        run.stderr.contains("API server is not running"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_that_ignores_term_is_killed_on_schedule() {
    let mut stack = Stack::new();
    stubborn_git(&mut stack, "exec GIT_STANDIN");
    stack.run(&["start_arv-git-httpd"]).ok();
    let pid = stack.pid("arv-git-httpd").unwrap();
    let port = stack.port("arv-git-httpd").unwrap();
    stack.run(&["stop_arv-git-httpd"]).ok();
    stack.assert_gone(&[pid], &[port]);
}

#[test]
fn status_names_the_service_that_is_down() {
    let stack = Stack::new();
    stack.run(&["start-all"]).ok();
    let keep1 = stack.pid("keep1").unwrap();
    Command::new("kill")
        .args(["-KILL", &keep1.to_string()])
        .status()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || !alive(keep1)));
    let status = stack.run(&["status"]);
    status.code(1);
    for line in status.stdout.lines() {
        let want = if line.starts_with("keep1 ") {
            " down"
        } else {
            " up"
        };
        assert!(line.ends_with(want), "{line}");
    }
    // stop-all still stops the rest and clears keep1's stale pidfile.
    let (pids, ports) = (stack.pids(), stack.ports());
    stack.run(&["stop-all"]).ok();
    stack.assert_gone(&pids, &ports);
}

#[test]
fn stop_all_with_nothing_running_succeeds() {
    let stack = Stack::new();
    stack.run(&["stop-all"]).ok();
    stack.run(&["stop-all"]).ok();
}

#[test]
fn usage_errors_exit_2_and_list_the_actions() {
    let stack = Stack::new();
    let run = stack.run(&["frobnicate"]);
    run.code(2);
    for action in [
        "start_arv-git-httpd",
        "stop_nginx",
        "start-all",
        "stop-all",
        "status",
    ] {
        assert!(run.stderr.contains(action), "{}", run.stderr);
    }
    stack.run(&[]).code(2);
    stack.run(&["status", "--auth", "admin"]).code(2);
    stack.run(&["start", "--bogus"]).code(2);
    let help = stack.run(&["--help"]);
    help.ok();
    assert!(
        help.stdout.starts_with("usage: start-stack.sh ACTION"),
        "{}",
        help.stdout
    );
    assert!(help.stdout.contains("Exit codes:"), "{}", help.stdout);
}

#[test]
fn missing_tools_are_named() {
    let mut stack = Stack::new();
    let bin = stack.dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    for name in ["pidwait", "portwait", "fixture-token", "db-reset"] {
        std::os::unix::fs::symlink(tool(name), bin.join(name)).unwrap();
    }
    stack.set("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    let run = stack.run(&["start"]);
    run.code(2);
    assert!(
        run.stderr.contains("'portfind' is not on PATH"),
        "{}",
        run.stderr
    );

    // procps' pidwait (in /usr/bin) must not be mistaken for ours.
    fs::remove_file(bin.join("pidwait")).unwrap();
    std::os::unix::fs::symlink(tool("portfind"), bin.join("portfind")).unwrap();
    let run = stack.run(&["start"]);
    run.code(2);
    assert!(
        run.stderr.contains("not stackutils' pidwait"),
        "{}",
        run.stderr
    );
}

#[test]
fn parallel_runs_on_one_state_dir_take_turns() {
    let stack = Stack::new();
    let other = stack.command(&["start"]);
    let other = std::thread::spawn(move || run_bounded(other, HUNG));
    stack.run(&["start"]).ok();
    other.join().expect("other run").ok();
    // One server, reset twice.
    let log = stack.read("api.log").unwrap();
    assert_eq!(log.matches("Accessible via").count(), 1, "{log}");
    assert_eq!(log.matches("database reset").count(), 2, "{log}");
}

#[test]
fn starting_storage_again_replaces_its_registrations() {
    let stack = Stack::new();
    stack.run(&["start"]).ok();
    for action in [
        "start_keep",
        "start_keep_proxy",
        "start_keep",
        "start_keep_proxy",
    ] {
        stack.run(&[action]).ok();
    }
    let services = stack.api_get("/arvados/v1/keep_services");
    assert_eq!(
        services.matches("\"service_type\": \"disk\"").count(),
        2,
        "{services}"
    );
    assert_eq!(
        services.matches("\"service_type\": \"proxy\"").count(),
        1,
        "{services}"
    );
    for name in ["keep0", "keep1", "keepproxy"] {
        let port = stack.port(name).unwrap();
        assert!(
            services.contains(&format!("\"service_port\": {port}")),
            "{name}: {services}"
        );
    }
    let disks = stack.api_get("/arvados/v1/keep_disks");
    assert_eq!(disks.matches("keep_service_uuid").count(), 2, "{disks}");
}

#[test]
fn a_running_server_that_refuses_the_reset_is_replaced() {
    let mut stack = Stack::new();
    stack.run(&["start"]).ok();
    let old = stack.pid("api").unwrap();
    // New fixtures with another admin token: the running server refuses it.
    let fixtures = stack.dir.path().join("fixtures");
    fs::create_dir_all(&fixtures).unwrap();
    fs::write(
        fixtures.join("api_client_authorizations.yml"),
        "admin:\n  api_token: 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcd\n",
    )
    .unwrap();
    let api = format!(
        "{PYTHON} {} --fixtures {}",
        standin("stack-api.py").display(),
        fixtures.display()
    );
    stack
        .set("STACK_FIXTURES", fixtures.display().to_string())
        .set("ARVADOS_API_SERVER_CMD", api);
    let run = stack.run(&["start"]);
    run.ok();
    assert!(
        run.stderr.contains("restarting the API server"),
        "{}",
        run.stderr
    );
    let new = stack.pid("api").unwrap();
    assert_ne!(new, old);
    assert!(!alive(old));
    assert_eq!(
        run.stdout,
        format!("0.0.0.0:{}\n", stack.port("api").unwrap())
    );
}

#[test]
fn stop_all_stops_the_rest_when_one_pidfile_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let stack = Stack::new();
    stack.run(&["start-all"]).ok();
    let (pids, ports) = (stack.pids(), stack.ports());
    let proxy = stack.pid("keepproxy").unwrap();
    // A world-writable pidfile cannot be trusted: pidwait refuses to act on it.
    let pidfile = stack.state().join("keepproxy.pid");
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o666)).unwrap();
    let run = stack.run(&["stop-all"]);
    run.code(1);
    assert!(
        run.stderr.contains("could not stop keepproxy"),
        "{}",
        run.stderr
    );
    assert!(alive(proxy));
    for pid in pids.iter().filter(|p| **p != proxy) {
        assert!(!alive(*pid), "pid {pid} still alive");
    }
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o644)).unwrap();
    stack.run(&["stop-all"]).ok();
    stack.assert_gone(&pids, &ports);
}

#[test]
fn a_pidfile_whose_pid_now_names_another_process_is_not_signalled() {
    let stack = Stack::new();
    stack.run(&["start"]).ok();
    let api = stack.pid("api").unwrap();
    Command::new("kill")
        .args(["-KILL", &api.to_string()])
        .status()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || !alive(api)));
    // As if the pid had been handed to an unrelated program since.
    let stranger = Command::new("sleep").arg("300").spawn().unwrap();
    let stranger = stackutils_scripts::Reaper(stranger);
    fs::write(
        stack.state().join("api.pid"),
        format!("{}\n", stranger.0.id()),
    )
    .unwrap();
    let run = stack.run(&["stop"]);
    run.ok();
    assert!(
        run.stderr.contains("is another process now"),
        "{}",
        run.stderr
    );
    assert!(alive(stranger.0.id()), "the stranger was signalled");
    assert!(stack.pid("api").is_none());
}

#[test]
fn bad_settings_are_exit_2_before_anything_starts() {
    for (var, value) in [
        ("STACK_TIMEOUT", "ten"),
        ("STACK_TIMEOUT", "-1"),
        ("STACK_STOP_RETRY", "TERM/soon"),
        ("STACK_PORT_RANGE", "70000-80000"),
        ("STACK_PORT_RANGE", "300-200"),
        ("STACK_PORT_RANGE", "20000"),
        ("STACK_GIT_TARBALL", "/nonexistent/test.git.tar"),
        ("STACK_NGINX_TEMPLATE", "/nonexistent/nginx.conf"),
        ("STACK_FIXTURES", "/nonexistent"),
    ] {
        let mut stack = Stack::new();
        stack.set(var, value);
        let run = stack.run(&["start-all"]);
        run.code(2);
        assert!(
            run.stderr.starts_with(&format!("start-stack: {var}")) && run.stderr.contains(value),
            "{var}={value}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        // Nothing was started: no pidfile, no log, no process.
        let made: Vec<_> = fs::read_dir(stack.state())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert!(made.is_empty(), "{var}={value}: {made:?}");
        stack.assert_gone(&[], &[]);
    }
    // A stop with a bad schedule is refused before it signals anything.
    let mut stack = Stack::new();
    stack.run(&["start"]).ok();
    let pid = stack.pid("api").unwrap();
    stack.set("STACK_STOP_RETRY", "KILL");
    stack.run(&["stop"]).code(2);
    assert!(alive(pid));
}

/// The pids whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split(' ').nth(2).map(str::to_owned))
                    == Some(pgid.to_string())
            }) && alive(*pid)
        })
        .collect()
}

#[test]
fn workers_left_by_a_killed_nginx_master_are_stopped() {
    let stack = Stack::new();
    stack.run(&["start_nginx"]).ok();
    let master = stack.pid("nginx").unwrap();
    let ports = [
        stack.port("keepproxy-ssl").unwrap(),
        stack.port("arv-git-httpd-ssl").unwrap(),
    ];
    // The master listens before it forks its workers.
    assert!(
        wait_until(Duration::from_secs(10), || group_members(master).len() > 1),
        "nginx has no workers"
    );
    let workers: Vec<u32> = group_members(master)
        .into_iter()
        .filter(|p| *p != master)
        .collect();
    let workers = Workers(workers);
    assert!(Command::new("kill")
        .args(["-KILL", &master.to_string()])
        .status()
        .unwrap()
        .success());
    assert!(wait_until(Duration::from_secs(10), || !alive(master)));
    // The workers still listen: status says nginx is down all the same.
    assert!(ports.iter().all(|p| listening(*p)));
    stack.run(&["status"]).code(1);

    stack.run(&["stop_nginx"]).ok();
    stack.assert_gone(&workers.0, &ports);
}

/// Kills these pids (a failed test's orphaned nginx workers) when dropped.
struct Workers(Vec<u32>);

impl Drop for Workers {
    fn drop(&mut self) {
        for pid in self.0.iter().filter(|p| **p > 1 && alive(**p)) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

#[test]
fn a_stop_that_escalates_to_kill_leaves_no_worker_behind() {
    let mut stack = Stack::new();
    // A master that ignores TERM forks a worker that keeps the port open.
    stubborn_git(&mut stack, "GIT_STANDIN &\nwait");
    stack.run(&["start_arv-git-httpd"]).ok();
    let leader = stack.pid("arv-git-httpd").unwrap();
    let port = stack.port("arv-git-httpd").unwrap();
    let members = Workers(group_members(leader));
    assert!(members.0.len() >= 2, "{:?}", members.0);
    stack.run(&["stop_arv-git-httpd"]).ok();
    stack.assert_gone(&members.0, &[port]);
}

#[test]
fn a_death_among_the_services_started_side_by_side_stops_them_all() {
    let mut stack = Stack::new();
    let crash = failing_service(
        stack.dir.path(),
        "crashing-git",
        "echo 'arv-git-httpd: no repositories' >&2\nexit 3",
    );
    stack
        .set("ARV_GIT_HTTPD_CMD", crash)
        .set("STACK_TIMEOUT", "120s");
    let run = run_bounded(stack.command(&["start-all"]), Duration::from_secs(60));
    run.code(1);
    assert!(
        run.stderr.contains("arv-git-httpd failed to start")
            && run.stderr.contains("arv-git-httpd: no repositories"),
        "{}",
        run.stderr
    );
    // The proxy and nginx, launched beside it, are stopped with the rest.
    assert!(
        run.stderr.contains("keepproxy arv-git-httpd nginx"),
        "{}",
        run.stderr
    );
    stack.assert_gone(&[], &[]);
}
