//! `scripts/start-stack.sh` end to end: real stand-in servers (python3 HTTPS
//! API, plain HTTP storage/proxy/git servers), real nginx, real TLS, real
//! signals. Each test has its own state directory; every stack is stopped
//! by a guard, so a failing test leaves nothing running.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

use stackutils_scripts::{
    alive, as_nobody, bin_dir, can_run, corpus, is_root, path_with_tools, script, standin, tool,
    wait_until,
};
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

    /// Its stderr says `text`.
    fn says(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "{}", self.stderr);
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
    /// The state directory (`STACK_TMPDIR`, or where the script finds it).
    state: PathBuf,
    /// The script run: the clone's, or an installed copy.
    script: PathBuf,
    /// The directory it runs in.
    cwd: Option<PathBuf>,
}

/// The Arvados nginx template, listening on loopback only (the original
/// listens on every address): the tests' servers are never reachable from
/// outside.
fn loopback_template(dir: &Path) -> PathBuf {
    let text = fs::read_to_string(corpus("arvados/nginx-2015.conf")).expect("nginx template");
    assert!(text.contains("listen *:"), "{text}");
    let path = dir.join("nginx.conf.in");
    fs::write(&path, text.replace("listen *:", "listen 127.0.0.1:")).unwrap();
    path
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
            ("STACKUTILS_BIN", bin_dir().display().to_string()),
            (
                "STACK_TMPDIR",
                dir.path().join("state").display().to_string(),
            ),
            ("PORTFIND_LEASE_DIR", lease_dir().display().to_string()),
            ("STACK_FIXTURES", corpus("arvados").display().to_string()),
            (
                "STACK_NGINX_TEMPLATE",
                loopback_template(dir.path()).display().to_string(),
            ),
            ("ARVADOS_API_SERVER_CMD", api),
            ("KEEPSTORE_CMD", service("keepstore")),
            ("KEEPPROXY_CMD", service("keepproxy")),
            ("ARV_GIT_HTTPD_CMD", service("arv-git-httpd")),
        ] {
            env.insert(k.to_owned(), v);
        }
        let state = dir.path().join("state");
        Stack {
            dir,
            env,
            state,
            script: script("start-stack.sh"),
            cwd: None,
        }
    }

    /// A lease directory of this stack's own; returns a reader of its
    /// lease list (empty while there is none).
    fn own_leases(&mut self) -> impl Fn() -> String {
        let dir = self.dir.path().join("leases");
        self.set("PORTFIND_LEASE_DIR", dir.display().to_string());
        move || fs::read_to_string(dir.join("leases")).unwrap_or_default()
    }

    fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.insert(key.to_owned(), value.into());
        self
    }

    fn state(&self) -> PathBuf {
        self.state.clone()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(&self.script).args(args);
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        for var in [
            "ARVADOS_DIR",
            "STACKUTILS_BIN",
            "STACK_TMPDIR",
            "STACK_FIXTURES",
            "STACK_NGINX_TEMPLATE",
            "ARVADOS_TEST_API_HOST",
            "ARVADOS_TEST_PROXY_SERVICES",
            "ARVADOS_API_HOST",
            "ARVADOS_API_TOKEN",
            "ARVADOS_API_HOST_INSECURE",
            "ARVADOS_FIXTURES",
            "STACK_PORT_RANGE",
            "STACK_GIT_TARBALL",
            "STACK_TIMEOUT",
            "PORTFIND_LEASE",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(&self.env);
        cmd
    }

    /// Runs the script; no run may end in its catch-all ERR trap (a command
    /// failing where no check expects it).
    fn run(&self, args: &[&str]) -> Run {
        let run = run_bounded(self.command(args), HUNG);
        assert!(
            !run.stderr.contains("failed at line"),
            "{args:?}: an unexpected failure: {}",
            run.stderr
        );
        run
    }

    /// The exit code of the script run with `args` into a pipe whose reader
    /// has gone, as `rc=N`.
    fn rc_into_a_closed_pipe(&self, args: &str) -> Run {
        let mut shell = Command::new("bash");
        shell
            .args([
                "-c",
                &format!("bash \"$0\" {args} | true; echo \"rc=${{PIPESTATUS[0]}}\""),
            ])
            .arg(&self.script)
            .envs(self.env.iter());
        run_bounded(shell, HUNG)
    }

    /// A FIFO made at `name` in the state directory (made too).
    fn fifo(&self, name: &str) -> PathBuf {
        fs::create_dir_all(self.state()).unwrap();
        let path = self.state().join(name);
        assert!(Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap()
            .success());
        path
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

    /// Asserts that nothing of the stack runs, listens or has a pidfile:
    /// no process whose command line names the state directory, none of
    /// `pids` and none in their sessions (each service leads its own, so
    /// nginx's workers are in its master's), no listener on `ports`.
    fn assert_gone(&self, pids: &[u32], ports: &[u16]) {
        assert!(
            wait_until(Duration::from_secs(5), || self.processes().is_empty()),
            "still running: {:?}",
            self.processes()
        );
        assert!(
            wait_until(Duration::from_secs(5), || in_sessions(pids).is_empty()),
            "still running in the services' sessions: {:?}",
            in_sessions(pids)
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
            let pids = SERVICES
                .iter()
                .filter_map(|s| self.read(&format!("{s}.pid"))?.parse::<u32>().ok());
            for pid in pids {
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

/// The live processes whose session is one of `sids`.
fn in_sessions(sids: &[u32]) -> Vec<u32> {
    fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split(' ').nth(3)?.parse::<u32>().ok())
                    .is_some_and(|sid| sids.contains(&sid))
            }) && alive(*pid)
        })
        .collect()
}

/// Whether this listener, held by the test, still takes connections: the
/// port is still the test's, not closed or taken over.
fn still_ours(listener: &TcpListener) -> bool {
    let port = listener.local_addr().expect("local_addr").port();
    let Ok(_client) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))
    else {
        return false;
    };
    listener.set_nonblocking(true).expect("nonblocking");
    let accepted = wait_until(Duration::from_secs(5), || listener.accept().is_ok());
    listener.set_nonblocking(false).expect("blocking");
    accepted
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

/// The git stand-in as a shell command line, given the script's arguments.
fn git_standin() -> String {
    format!(
        "{PYTHON} {} arv-git-httpd \"$@\"",
        standin("stack-service.py").display()
    )
}

/// Makes the git server a shell script that ignores TERM and then runs
/// `body`, where `GIT_STANDIN` stands for the git stand-in with the script's
/// arguments; stops get one second of TERM before KILL.
fn stubborn_git(stack: &mut Stack, body: &str) {
    let standin = git_standin();
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

    // status --json gives the same facts.
    let json = stack.run(&["status", "--json"]);
    json.ok();
    assert_eq!(parse_status(&json.stdout), running_status(&stack));

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

    // Everything down now: status says so, and exits 1, with nothing on
    // stderr; no pid and no port for what does not run.
    let status = stack.run(&["status"]);
    status.code(1);
    assert!(status.stderr.is_empty(), "{}", status.stderr);
    assert_eq!(
        status.stdout.matches(" down\n").count(),
        6,
        "{}",
        status.stdout
    );
    for line in status.stdout.lines() {
        assert!(
            line.contains(" pid - ") && line.contains(" port - "),
            "{line}"
        );
    }
    let json = stack.run(&["status", "--json"]);
    json.code(1);
    let mut want = String::from("False\n");
    for name in SERVICES {
        writeln!(want, "{name} None  down").unwrap();
    }
    assert_eq!(parse_status(&json.stdout), want);
}

/// What `parse_status` gives for a stack that is all up.
fn running_status(stack: &Stack) -> String {
    let mut want = String::from("True\n");
    for (name, ports) in [
        ("api", "api"),
        ("keep0", "keep0"),
        ("keep1", "keep1"),
        ("keepproxy", "keepproxy"),
        ("arv-git-httpd", "arv-git-httpd"),
        ("nginx", "keepproxy-ssl,arv-git-httpd-ssl"),
    ] {
        let ports: Vec<String> = ports
            .split(',')
            .map(|p| stack.port(p).unwrap().to_string())
            .collect();
        let pid = stack.pid(name).unwrap();
        writeln!(want, "{name} {pid} {} up", ports.join(",")).unwrap();
    }
    want
}

/// `status --json` read by python3's json module, one line per service:
/// `name pid ports state`, after a first line with `all_up`.
fn parse_status(json: &str) -> String {
    read_json(
        json,
        "d = json.load(sys.stdin)\n\
         print(d['all_up'])\n\
         for s in d['services']:\n\
         \x20   print(s['name'], s['pid'], ','.join(map(str, s['ports'])), s['state'])",
    )
}

/// What python3 prints running `script` (with `json` and `sys` imported)
/// on `json` as its stdin; it must succeed (the JSON is valid).
fn read_json(json: &str, script: &str) -> String {
    let mut child = Command::new(PYTHON)
        .args(["-c", &format!("import json, sys\n{script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), json.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{json}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `status --json` names the state directory as valid JSON whatever its
/// name holds: quotes, backslashes, every control character.
#[test]
fn status_json_escapes_the_state_directory() {
    let mut stack = Stack::new();
    let odd = stack.dir.path().join("a\"b\\c\td\ne\u{1}f\u{7f}g");
    std::fs::create_dir(&odd).unwrap();
    stack.set("STACK_TMPDIR", odd.display().to_string());
    let json = stack.run(&["status", "--json"]);
    json.code(1);
    assert_eq!(
        read_json(
            &json.stdout,
            "sys.stdout.write(json.load(sys.stdin)['state_dir'])"
        ),
        odd.display().to_string()
    );
}

/// A state directory whose name is not UTF-8 (a path need not be) still
/// gives valid JSON, in the C locale as in a UTF-8 one: each stray byte as
/// U+FFFD, UTF-8 kept, controls escaped.
#[test]
fn status_json_is_utf8_whatever_the_state_directory_name() {
    use std::os::unix::ffi::OsStrExt;
    let stack = Stack::new();
    let name = b"a\xffb\xc3\xa9c\x01d\xed\xa0\x80e\xe2\x82";
    let odd = stack.dir.path().join(std::ffi::OsStr::from_bytes(name));
    std::fs::create_dir(&odd).unwrap();
    for locale in ["C", "C.UTF-8"] {
        let mut cmd = stack.command(&["status", "--json"]);
        cmd.env("STACK_TMPDIR", &odd).env("LC_ALL", locale);
        let json = run_bounded(cmd, HUNG);
        json.code(1);
        let got = read_json(
            &json.stdout,
            "print(ascii(json.load(sys.stdin)['state_dir']))",
        );
        let want = format!(
            "'{}/a\\ufffdb\\xe9c\\x01d\\ufffd\\ufffd\\ufffde\\ufffd\\ufffd'",
            stack.dir.path().display()
        );
        assert_eq!(got.trim(), want, "{locale}");
    }
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
    run.says("keep0 failed to start");
    run.says("keepstore: volume is corrupt");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // The API server this run started is stopped again.
    stack.assert_gone(&[], &[]);
    stack.run(&["status"]).code(1);
}

/// An arv-git-httpd that never listens, within `STACK_TIMEOUT` = `timeout`;
/// the file its pid is written to.
fn silent_git(stack: &mut Stack, timeout: &str) -> PathBuf {
    let marker = stack.dir.path().join("sleeper.pid");
    let sleeper = failing_service(
        stack.dir.path(),
        "silent-git",
        &format!("echo $$ > {}\nexec sleep 300", marker.display()),
    );
    stack
        .set("ARV_GIT_HTTPD_CMD", sleeper)
        .set("STACK_TIMEOUT", timeout);
    marker
}

#[test]
fn a_start_stopped_by_a_signal_stops_what_it_started() {
    let mut stack = Stack::new();
    let marker = silent_git(&mut stack, "120s");
    // In a process group of its own, signalled as a CI runner's timeout or ^C
    // signals the whole group (the services run in sessions of their own).
    let mut cmd = stack.command(&["start_arv-git-httpd"]);
    cmd.process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || fs::read_to_string(&marker)
            .is_ok_and(|s| s.ends_with('\n'))),
        "the git server never started"
    );
    let pid: u32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    assert!(Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("stopping what this run started: arv-git-httpd"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    stack.assert_gone(&[pid], &[]);
}

#[test]
fn a_volume_file_naming_anything_but_a_volume_it_made_is_not_removed() {
    let stack = Stack::new();
    let state = stack.state();
    let made = state.join("keep0-volume.1");
    let precious = state.join("precious");
    fs::create_dir_all(&made).unwrap();
    fs::create_dir_all(&precious).unwrap();
    fs::write(precious.join("block"), "data\n").unwrap();
    // Under the name of a volume it made, a way out of it.
    fs::write(
        state.join("keep0.volume"),
        format!("{}/../precious\n", made.display()),
    )
    .unwrap();
    let run = stack.run(&["stop_keep"]);
    run.ok();
    assert!(run.stderr.contains("not removing"), "{}", run.stderr);
    assert_eq!(
        fs::read_to_string(precious.join("block")).unwrap(),
        "data\n"
    );
    assert!(!state.join("keep0.volume").exists());
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
    let marker = silent_git(&mut stack, "1s");
    let run = stack.run(&["start_arv-git-httpd"]);
    run.code(1);
    run.says("arv-git-httpd failed to start");
    let pid: u32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    stack.assert_gone(&[pid], &[]);
}

/// A process that left the git server's process group (a session of its
/// own) and kept its port: the stop fails once `STACK_TIMEOUT` is up, naming
/// the port, and keeps the port file; once that process is gone, a stop ends.
#[test]
fn a_port_kept_by_a_process_outside_the_group_fails_the_stop() {
    let mut stack = Stack::new();
    let marker = stack.dir.path().join("escaped.pid");
    let git = git_standin();
    let script = failing_service(
        stack.dir.path(),
        "escaping-git",
        &format!("setsid {git} &\necho $! > {}\nwait", marker.display()),
    );
    stack
        .set("ARV_GIT_HTTPD_CMD", script)
        .set("STACK_TIMEOUT", "1s");
    stack.run(&["start_arv-git-httpd"]).ok();
    let port = stack.port("arv-git-httpd").unwrap();
    let escaped: u32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    let run = stack.run(&["stop_arv-git-httpd"]);
    let _ = Command::new("kill")
        .args(["-KILL", &escaped.to_string()])
        .status();
    run.code(1);
    run.says(&format!(
        "arv-git-httpd stopped, but port {port} still listens"
    ));
    assert_eq!(stack.port("arv-git-httpd"), Some(port), "{}", run.stderr);
    assert!(wait_until(Duration::from_secs(5), || !alive(escaped)));
    stack.run(&["stop_arv-git-httpd"]).ok();
    stack.assert_gone(&[escaped], &[port]);
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
    // status: the API server up with its new pid, the rest down.
    let status = stack.run(&["status"]);
    status.code(1);
    let api = status.stdout.lines().next().unwrap_or_default();
    assert!(
        api.starts_with("api ") && api.ends_with(" up"),
        "{}",
        status.stdout
    );
    assert!(api.contains(&format!("pid {new} ")), "{api}");
    assert_eq!(
        status.stdout.matches(" down\n").count(),
        5,
        "{}",
        status.stdout
    );

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
    let stranger = TcpListener::bind(("127.0.0.1", port)).expect("bind the freed port");

    stack.run(&["stop"]).ok();
    stack.run(&["start"]).ok();
    assert_ne!(stack.port("api"), Some(port));
    // The stranger still has its port and takes connections on it.
    assert!(still_ours(&stranger));
}

#[test]
fn a_port_taken_by_a_stranger_is_not_used() {
    let mut stack = Stack::new();
    // A window of eleven free ports, one of them held by a stranger: the
    // seven ports of the stack must come from the other ten.
    let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
    let base = (0..50)
        .map(|_| portfind(&["--range", "20000-32000"])[0])
        .find(|b| (*b..b + 11).all(free))
        .expect("a window of 11 free ports");
    let window: Vec<u16> = (base..base + 11).collect();
    let taken = base + 5;
    let stranger = TcpListener::bind(("127.0.0.1", taken)).expect("stranger binds");
    stack.set("STACK_PORT_RANGE", format!("{}-{}", base, base + 10));
    stack.run(&["start-all"]).ok();
    let ports = stack.ports();
    assert_eq!(ports.len(), 7);
    assert!(!ports.contains(&taken), "{ports:?}");
    assert!(ports.iter().all(|p| window.contains(p)), "{ports:?}");
    stack.run(&["status"]).ok();
    assert!(still_ours(&stranger), "the stranger lost port {taken}");
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
    run.says(&format!(
        "{}:4: no value for {{{{NOSUCHPORT}}}}",
        template.display()
    ));
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
    // Found before anything starts, also when it is one nginx reads last.
    fs::remove_file(stack.state().join("keepproxy.port")).unwrap();
    fs::write(stack.state().join("arv-git-httpd-ssl.port"), "x\n").unwrap();
    let run = stack.run(&["start-all"]);
    run.code(2);
    run.says("arv-git-httpd-ssl.port: expected a port number");
    assert!(!run.stderr.contains("stopping what"), "{}", run.stderr);
    assert_eq!(stack.pid("api"), None, "something started");
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
    // The parent's services are external; only the storage servers are down.
    let status = stack.run(&["status"]);
    status.code(1);
    for line in status.stdout.lines() {
        let want = match line.split(' ').next() {
            Some("api") => " up",
            Some("keep0" | "keep1") => " down",
            _ => " external",
        };
        assert!(line.ends_with(want), "{}", status.stdout);
    }
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
    run.says("API server is not running");
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

/// `stop_arv-git-httpd` of a git server that ignores TERM, with KILL only
/// after 120 s, in a process group of its own, once its pidwait runs; then
/// the schedule is short again (for later stops, the drop's too). The stop,
/// and the server's pid and port.
fn a_long_stop_under_way(stack: &mut Stack) -> (Child, u32, u16) {
    let pid = stack.pid("arv-git-httpd").unwrap();
    let port = stack.port("arv-git-httpd").unwrap();
    stack.set("STACK_STOP_RETRY", "TERM/120/KILL/5");
    let mut cmd = stack.command(&["stop_arv-git-httpd"]);
    cmd.process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    stack.set("STACK_STOP_RETRY", "TERM/1/KILL/5");
    let stopping = || {
        stack.processes().iter().any(|p| {
            fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--kill"))
        })
    };
    assert!(
        wait_until(Duration::from_secs(30), stopping),
        "no stop began"
    );
    (child, pid, port)
}

/// `kill -SIGNAL -- -PGID`.
fn kill_group(signal: &str, pgid: u32) {
    assert!(Command::new("kill")
        .args([signal, "--", &format!("-{pgid}")])
        .status()
        .unwrap()
        .success());
}

#[test]
fn an_interrupted_stop_names_what_still_runs() {
    let mut stack = Stack::new();
    stubborn_git(&mut stack, "exec GIT_STANDIN");
    // The API server runs too, but this stop is not for it.
    stack.run(&["start"]).ok();
    stack.run(&["start_arv-git-httpd"]).ok();
    // ^C (INT to the stop's process group) before the KILL.
    let (child, pid, port) = a_long_stop_under_way(&mut stack);
    kill_group("-INT", child.id());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.ends_with("start-stack: interrupted; still running: arv-git-httpd\n"),
        "{stderr}"
    );
    assert!(alive(pid));
    stack.run(&["stop-all"]).ok();
    stack.assert_gone(&[pid], &[port]);
}

#[test]
fn a_stops_pidwaits_do_not_hold_the_lock() {
    let mut stack = Stack::new();
    stubborn_git(&mut stack, "exec GIT_STANDIN");
    stack.run(&["start_arv-git-httpd"]).ok();
    // Its pidwait would outlive the script cut short (a TERM to it alone, a
    // KILL): neither it nor its shell may hold the lock, or no run could go
    // on.
    let (child, pid, port) = a_long_stop_under_way(&mut stack);
    let script = child.id();
    let lock = stack.state().join(".lock");
    let holders: Vec<u32> = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            fs::read_dir(format!("/proc/{p}/fd")).is_ok_and(|fds| {
                fds.flatten()
                    .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l == lock))
            })
        })
        .collect();
    kill_group("-KILL", script);
    let out = child.wait_with_output().unwrap();
    assert_eq!(holders, [script], "{}", text(&out.stderr));
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
    // No state directory: nothing of ours can run, and none is made for a stop.
    for action in ["stop-all", "stop", "stop_nginx"] {
        stack.run(&[action]).ok();
        assert!(
            !stack.state().exists(),
            "{action} made {}",
            stack.state().display()
        );
    }
    // A dangling link where it goes is no missing directory: exit 2, nothing
    // made where it points.
    let target = stack.dir.path().join("elsewhere");
    std::os::unix::fs::symlink(&target, stack.state()).unwrap();
    let run = stack.run(&["stop-all"]);
    run.code(2);
    assert!(run.stderr.contains("is not a directory"), "{}", run.stderr);
    assert!(!target.exists());
    std::fs::remove_file(stack.state()).unwrap();
    std::fs::create_dir(stack.state()).unwrap();
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
    // Two actions in one word are not an action (it once passed, did nothing, exit 0).
    let run = stack.run(&["stop start"]);
    run.code(2);
    run.says("unknown action 'stop start'");
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
    run.says("restarting the API server");
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
    let stack = Stack::new();
    stack.run(&["start-all"]).ok();
    let (pids, ports) = (stack.pids(), stack.ports());
    let proxy = stack.pid("keepproxy").unwrap();
    // A world-writable pidfile cannot be trusted: pidwait refuses to act on it.
    let pidfile = stack.state().join("keepproxy.pid");
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o666)).unwrap();
    let run = stack.run(&["stop-all"]);
    run.code(1);
    run.says("could not stop keepproxy");
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
    // The pidfile was written before the stranger started: a stale one.
    let pidfile = stack.state().join("api.pid");
    fs::write(&pidfile, format!("{}\n", stranger.0.id())).unwrap();
    let past = std::time::SystemTime::now() - Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(&pidfile)
        .unwrap()
        .set_modified(past)
        .unwrap();
    stack.run(&["status"]).code(1);
    let run = stack.run(&["stop"]);
    run.ok();
    assert!(
        run.stderr.contains("stale pidfile") && run.stderr.contains("not signalling"),
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
        ("PORTFIND_LEASE", "an hour"),
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
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
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
    let status = stack.run(&["status"]);
    status.code(1);
    assert!(
        status.stdout.lines().any(|l| l.starts_with("nginx ") && l.ends_with(" pid -        port -            down")),
        "{}",
        status.stdout
    );

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
    // nginx, launched beside it, and the proxy are stopped with the rest.
    assert!(
        run.stderr.contains("stopping what this run started: ")
            && ["keep0", "keep1", "api", "keepproxy", "nginx"]
                .iter()
                .all(|s| run.stderr.contains(&format!(" {s}"))),
        "{}",
        run.stderr
    );
    stack.assert_gone(&[], &[]);
}

/// An installed copy: the script in PREFIX/share/stackutils, linked as
/// PREFIX/bin/start-stack, the tools in PREFIX/lib/stackutils/bin (links
/// to the built ones); returns PREFIX.
fn install(root: &Path, tools: &[&str]) -> PathBuf {
    let prefix = root.join("usr");
    let share = prefix.join("share/stackutils");
    let lib = prefix.join("lib/stackutils/bin");
    for d in [&share, &lib, &prefix.join("bin")] {
        fs::create_dir_all(d).unwrap();
    }
    fs::copy(script("start-stack.sh"), share.join("start-stack.sh")).unwrap();
    std::os::unix::fs::symlink(
        "../share/stackutils/start-stack.sh",
        prefix.join("bin/start-stack"),
    )
    .unwrap();
    for t in tools {
        std::os::unix::fs::symlink(tool(t), lib.join(t)).unwrap();
    }
    prefix
}

const TOOLS: [&str; 6] = [
    "portfind",
    "portwait",
    "pidwait",
    "fixture-token",
    "db-reset",
    "httpwait",
];

/// A minimal Arvados source tree: fixtures and the nginx template where
/// `run_test_server.py` found them.
fn arvados_tree(dir: &Path) -> PathBuf {
    let tree = dir.join("arvados");
    let fixtures = tree.join("services/api/test/fixtures");
    fs::create_dir_all(&fixtures).unwrap();
    fs::create_dir_all(tree.join("sdk/python/tests")).unwrap();
    fs::copy(
        corpus("arvados/api_client_authorizations.yml"),
        fixtures.join("api_client_authorizations.yml"),
    )
    .unwrap();
    fs::copy(
        loopback_template(dir),
        tree.join("sdk/python/tests/nginx.conf"),
    )
    .unwrap();
    tree
}

#[test]
fn installed_it_finds_its_tools_and_the_data_of_an_arvados_tree() {
    let mut stack = Stack::new();
    let prefix = install(stack.dir.path(), &TOOLS);
    let work = stack.dir.path().join("work");
    fs::create_dir(&work).unwrap();
    // Run as PREFIX/bin/start-stack from a work directory, procps' pidwait
    // (when installed) first on PATH, nothing of ours on it.
    stack.script = prefix.join("bin/start-stack");
    stack.cwd = Some(work.clone());
    stack.set("PATH", "/usr/bin:/bin");
    // The API stand-in reads its admin token with fixture-token.
    let api = format!(
        "env PATH={}:/usr/bin:/bin {}",
        bin_dir().display(),
        stack.env["ARVADOS_API_SERVER_CMD"]
    );
    stack.set("ARVADOS_API_SERVER_CMD", api);
    for var in [
        "STACKUTILS_BIN",
        "STACK_TMPDIR",
        "STACK_FIXTURES",
        "STACK_NGINX_TEMPLATE",
    ] {
        stack.env.remove(var);
    }
    // status looks in ./tmp and creates nothing, here or under PREFIX.
    let status = stack.run(&["status"]);
    status.code(1);
    assert_eq!(
        status.stdout.matches(" down\n").count(),
        6,
        "{}",
        status.stdout
    );
    assert!(!work.join("tmp").exists(), "status created ./tmp");
    let made: Vec<_> = fs::read_dir(prefix.join("share/stackutils"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(made, ["start-stack.sh"]);
    // Without ARVADOS_DIR or STACK_FIXTURES: no fixtures, said so, exit 2.
    let run = stack.run(&["start"]);
    run.code(2);
    assert!(run.stderr.contains("ARVADOS_DIR"), "{}", run.stderr);

    // ARVADOS_DIR gives the fixtures, the template and tmp/ for the state.
    let tree = arvados_tree(stack.dir.path());
    stack.set("ARVADOS_DIR", tree.display().to_string());
    stack.state = tree.join("tmp");
    stack.run(&["start-all"]).ok();
    assert!(stack.pid("nginx").is_some() && stack.pid("api").is_some());
    stack.run(&["status"]).ok();
    let (pids, ports) = (stack.pids(), stack.ports());
    stack.run(&["stop-all"]).ok();
    stack.assert_gone(&pids, &ports);
    assert!(!work.join("tmp").exists() && !prefix.join("share/tmp").exists());

    // STACK_* still win over ARVADOS_DIR.
    let own = stack.dir.path().join("own-state");
    stack.set("STACK_TMPDIR", own.display().to_string());
    stack.state = own.clone();
    stack.run(&["start"]).ok();
    assert!(stack.pid("api").is_some());
    stack.run(&["stop"]).ok();
    for (var, name) in [
        ("STACK_FIXTURES", "api_client_authorizations.yml"),
        ("STACK_NGINX_TEMPLATE", "nginx template"),
    ] {
        let mut other = Stack::new();
        other.env.clone_from(&stack.env);
        other.script.clone_from(&stack.script);
        other.set(var, "/nonexistent");
        let run = other.run(&["start-all"]);
        run.code(2);
        assert!(
            run.stderr.contains(var) && run.stderr.contains("/nonexistent"),
            "{name}: {}",
            run.stderr
        );
    }
}

#[test]
fn installed_without_a_tool_names_it_and_passes_over_procps_pidwait() {
    let mut stack = Stack::new();
    let prefix = install(
        stack.dir.path(),
        &[
            "portwait",
            "fixture-token",
            "db-reset",
            "pidwait",
            "httpwait",
        ],
    );
    stack.script = prefix.join("bin/start-stack");
    stack.set("PATH", "/usr/bin:/bin");
    stack.env.remove("STACKUTILS_BIN");
    let run = stack.run(&["start"]);
    run.code(2);
    run.says("'portfind' not found");
    assert!(stack.pid("api").is_none());

    // Our pidwait missing: procps' /usr/bin/pidwait is not taken for it.
    if !can_run(
        Path::new("/usr/bin/pidwait").exists(),
        "procps' pidwait is not installed (Debian: procps)",
    ) {
        return;
    }
    fs::remove_file(prefix.join("lib/stackutils/bin/pidwait")).unwrap();
    let run = stack.run(&["status"]);
    run.code(2);
    assert!(
        run.stderr.contains("'pidwait' not found") && run.stderr.contains("procps"),
        "{}",
        run.stderr
    );
    // stackutils-pidwait on PATH (the Debian package's name for ours) is.
    let bin = stack.dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(tool("pidwait"), bin.join("stackutils-pidwait")).unwrap();
    stack.set("PATH", format!("/usr/bin:/bin:{}", bin.display()));
    stack.run(&["status"]).code(1);
}

#[test]
fn from_a_clone_stop_works_with_procps_pidwait_first_on_path() {
    if !can_run(
        Path::new("/usr/bin/pidwait").exists(),
        "procps' pidwait is not installed (Debian: procps)",
    ) {
        return;
    }
    let mut stack = Stack::new();
    stack.run(&["start"]).ok();
    let pid = stack.pid("api").unwrap();
    // The clone's own target/ tools are used, not procps' pidwait.
    stack.set("PATH", "/usr/bin:/bin");
    stack.env.remove("STACKUTILS_BIN");
    stack.run(&["stop"]).ok();
    stack.assert_gone(&[pid], &[]);
}

#[test]
fn eval_of_a_failed_start_fails_under_set_e() {
    let mut stack = Stack::new();
    let crash = failing_service(stack.dir.path(), "crashing-keepstore", "exit 3");
    stack.set("KEEPSTORE_CMD", crash);
    // The pattern the README shows first: eval of the command's output.
    let mut shell = Command::new("bash");
    shell
        .args([
            "-c",
            "set -e; eval \"$(bash \"$0\" start-all --auth active)\"; echo REACHED",
        ])
        .arg(&stack.script)
        .envs(stack.env.iter());
    let out = run_bounded(shell, HUNG);
    assert_ne!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stdout.contains("REACHED"), "{}", out.stdout);
    assert!(
        out.stderr.contains("keep0 failed to start"),
        "{}",
        out.stderr
    );
    // What the script printed for eval: only a line that fails.
    let run = stack.run(&["start-all", "--auth", "active"]);
    run.code(1);
    assert_eq!(run.stdout, "false\n");
    stack.assert_gone(&[], &[]);
    // So does a failure found before anything starts.
    stack.set("STACK_TIMEOUT", "bogus");
    let run = stack.run(&["start", "--auth", "active"]);
    run.code(2);
    assert_eq!(run.stdout, "false\n");
}

#[test]
fn a_state_directory_of_another_user_or_open_to_others_is_refused() {
    if !can_run(is_root(), "needs root to act as another user (setpriv)") {
        return;
    }
    let mut stack = Stack::new();
    let victim = stack.dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    // A world-writable parent (as /tmp is) where another user made the
    // state directory first and planted links in it.
    let parent = stack.dir.path().join("shared");
    fs::create_dir(&parent).unwrap();
    fs::set_permissions(&parent, fs::Permissions::from_mode(0o1777)).unwrap();
    fs::set_permissions(stack.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let theirs = parent.join("state");
    as_nobody(&format!(
        "mkdir {d} && for f in .lock api.log api.pid api.port self-signed.pem; do ln -s {v} {d}/$f; done",
        d = theirs.display(),
        v = victim.display()
    ));
    stack.set("STACK_TMPDIR", theirs.display().to_string());
    stack.state = theirs.clone();
    for action in ["start", "status", "stop-all"] {
        let run = stack.run(&[action]);
        run.code(2);
        assert!(
            run.stderr.contains(&format!(
                "the state directory {} does not belong to this user",
                theirs.display()
            )),
            "{action}: {}",
            run.stderr
        );
    }
    // A directory of ours that others can write to.
    let open = stack.dir.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    stack.set("STACK_TMPDIR", open.display().to_string());
    let run = stack.run(&["start"]);
    run.code(2);
    run.says(&format!(
        "refusing the state directory {d}: directory {d} is writable by anyone (mode 777)",
        d = open.display()
    ));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        fs::read_dir(&open).unwrap().next().is_none(),
        "wrote into {}",
        open.display()
    );
    // A shared (sticky) one of ours: others could still plant files there.
    fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
    let run = stack.run(&["start"]);
    run.code(2);
    assert!(run.stderr.contains("has the sticky bit"), "{}", run.stderr);
    assert!(fs::read_dir(&open).unwrap().next().is_none());
    // A directory of ours under one that another user owns, or that others
    // may write to without the sticky bit: they could swap it for a link.
    let theirs = stack.dir.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    let ours = theirs.join("state");
    fs::create_dir(&ours).unwrap();
    for (owner, mode, refused) in [
        ("65534", 0o755, true),
        ("0", 0o777, true),
        ("0", 0o1777, false),
    ] {
        Command::new("chown")
            .arg(owner)
            .arg(&theirs)
            .status()
            .unwrap();
        fs::set_permissions(&theirs, fs::Permissions::from_mode(mode)).unwrap();
        stack.set("STACK_TMPDIR", ours.display().to_string());
        let run = stack.run(&["status"]);
        if refused {
            run.code(2);
            assert!(
                run.stderr.contains(&format!(
                    "refusing the state directory {}: directory {} is ",
                    ours.display(),
                    theirs.display()
                )),
                "{owner} {mode:o}: {}",
                run.stderr
            );
        } else {
            run.code(1);
        }
    }
}

#[test]
fn links_planted_in_the_state_directory_are_never_followed() {
    if !can_run(is_root(), "needs root to act as another user (setpriv)") {
        return;
    }
    let victim_dir = TempDir::new().unwrap();
    let victim = victim_dir.path().join("victim");
    for name in [
        ".lock",
        "api.log",
        "api.pid",
        "api.port",
        "self-signed.pem",
        "self-signed.key",
        "nginx.conf",
    ] {
        let mut stack = Stack::new();
        fs::write(&victim, "precious\n").unwrap();
        let state = stack.state();
        // Planted by another user while the directory was open to all,
        // then the directory made ours alone again.
        fs::create_dir(&state).unwrap();
        fs::set_permissions(stack.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o1777)).unwrap();
        as_nobody(&format!(
            "ln -s {} {}/{name}",
            victim.display(),
            state.display()
        ));
        fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
        // nginx.conf is written last in start-all: refused before anything starts all the same.
        let action = if name == "nginx.conf" {
            "start-all"
        } else {
            "start"
        };
        let run = stack.run(&[action]);
        run.code(2);
        assert!(
            run.stderr
                .contains(&format!("{}/{name} is a symbolic link", state.display())),
            "{name}: {}",
            run.stderr
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n", "{name}");
        assert!(
            stack.processes().is_empty(),
            "{name}: {:?}",
            stack.processes()
        );
        if name == "nginx.conf" {
            assert!(
                !state.join("api.log").exists() && !run.stderr.contains("stopping what"),
                "start-all began before refusing: {}",
                run.stderr
            );
        }
        stack.set("STACK_TIMEOUT", "2s");
    }
}

#[test]
fn a_fifo_in_the_state_directory_is_refused_not_read() {
    let stack = Stack::new();
    let fifo = stack.fifo("api.port");
    // A port file is read only while its service runs: start one.
    let pidfile = stack.state().join("api.pid");
    let holder = Command::new("sleep").arg("300").spawn().unwrap();
    let holder = stackutils_scripts::Reaper(holder);
    fs::write(&pidfile, format!("{}\n", holder.0.id())).unwrap();
    let run = run_bounded(stack.command(&["status"]), Duration::from_secs(30));
    run.code(2)
        .says(&format!("{} is not a regular file", fifo.display()));
    fs::remove_file(&pidfile).unwrap();
}

/// openssl failing after it printed the key (whole, or cut off) is named
/// with what it said, never with the key; nothing is written.
#[test]
fn a_failed_certificate_never_shows_its_key() {
    for (name, printed) in [
        (
            "whole",
            "-----BEGIN PRIVATE KEY-----\nSECRETKEYBODY\n-----END PRIVATE KEY-----\n",
        ),
        ("cut", "-----BEGIN PRIVATE KEY-----\nSECRETKEYBODY\n"),
    ] {
        let mut stack = Stack::new();
        let bin = stack.dir.path().join(format!("openssl-{name}"));
        fs::create_dir(&bin).unwrap();
        failing_service(
            &bin,
            "openssl",
            &format!("printf '%s' '{printed}'; echo 'req: no can do' >&2; exit 1"),
        );
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        stack.set("PATH", path);
        let run = stack.run(&["start"]);
        run.code(1)
            .says("openssl could not make a certificate")
            .says("req: no can do")
            .says("<private key>");
        assert!(
            !run.stderr.contains("SECRETKEYBODY"),
            "{name}: {}",
            run.stderr
        );
        assert!(
            stack.read("self-signed.key").is_none(),
            "{name}: a key was written"
        );
        stack.assert_gone(&[], &[]);
    }
}

/// Anything but a directory where one of the state's goes (nginx's prefix)
/// is exit 2 naming it, before nginx starts.
#[test]
fn a_special_file_where_a_state_directory_goes_is_refused() {
    let stack = Stack::new();
    let fifo = stack.fifo("nginx");
    let run = stack.run(&["start_nginx"]);
    run.code(2)
        .says(&format!("{} is not a directory", fifo.display()));
    stack.assert_gone(&[], &[]);
}

/// A failed start whose reader is gone (a CI job's TERM to its group kills
/// the shell reading `$(start-stack.sh start-all --auth NAME)`) still stops
/// what it started: its `false` for eval comes last and cannot kill it.
#[test]
fn a_failed_start_whose_reader_is_gone_still_stops_everything() {
    let mut stack = Stack::new();
    let crash = failing_service(stack.dir.path(), "crashing-keepstore", "exit 3");
    stack.set("KEEPSTORE_CMD", crash);
    let out = stack.rc_into_a_closed_pipe("start-all --auth active");
    assert_eq!(out.stdout, "rc=1\n", "{}", out.stderr);
    assert!(
        out.stderr.contains("stopping what this run started"),
        "{}",
        out.stderr
    );
    stack.assert_gone(&[], &[]);
}

/// A closed stdout changes no exit code: status says "not all up" (1), a
/// start that worked is 0 (its host unread), never SIGPIPE's 141.
#[test]
fn a_closed_stdout_changes_no_exit_code() {
    let stack = Stack::new();
    let out = stack.rc_into_a_closed_pipe("status");
    assert_eq!(out.stdout, "rc=1\n", "{}", out.stderr);
    let out = stack.rc_into_a_closed_pipe("start");
    assert_eq!(out.stdout, "rc=0\n", "{}", out.stderr);
    assert!(
        stack.pid("api").is_some_and(alive),
        "the API server is not running"
    );
    let out = stack.rc_into_a_closed_pipe("status --json");
    assert_eq!(out.stdout, "rc=1\n", "{}", out.stderr);
    stack.run(&["stop"]).code(0);
}

/// A service killed with -9 leaves a stale pidfile: stop-all says so and
/// succeeds, without a stray "failed at line" from inside its stop.
#[test]
fn a_stale_pidfile_on_stop_is_a_note_not_a_failure() {
    let stack = Stack::new();
    stack.run(&["start-all"]).code(0);
    let keep1 = stack.pid("keep1").expect("keep1's pidfile");
    assert!(Command::new("kill")
        .args(["-KILL", &keep1.to_string()])
        .status()
        .unwrap()
        .success());
    assert!(wait_until(HUNG, || !alive(keep1)), "keep1 survived kill -9");
    let run = stack.run(&["stop-all"]);
    run.code(0);
    stack.assert_gone(&[keep1], &[]);
}

#[test]
fn a_full_disk_is_named_and_leaves_no_temporary_file() {
    if !can_run(
        is_root(),
        "needs root for a tmpfs in a mount namespace (unshare -m)",
    ) {
        return;
    }
    let stack = Stack::new();
    let state = stack.state();
    fs::create_dir_all(&state).unwrap();
    // The state directory a full 16 KiB tmpfs, in a mount namespace of its own.
    let inner = format!(
        "mount -t tmpfs -o size=16k,mode=755 tmpfs {s} && \
         (dd if=/dev/zero of={s}/fill bs=1k 2>/dev/null || true) && \
         {{ bash {script} \"$@\"; echo \"rc=$?\"; ls -A {s}; }}",
        s = state.display(),
        script = script("start-stack.sh").display()
    );
    for action in ["start", "start_arv-git-httpd"] {
        let mut unshare = Command::new("unshare");
        unshare
            .args([
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &inner,
                "sh",
                action,
            ])
            .envs(stack.env.iter());
        let run = run_bounded(unshare, HUNG);
        assert!(
            run.stdout.contains("rc=1\n"),
            "{action}: {}\n{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stderr.contains("No space left on device"),
            "{action}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("no free port"),
            "{action}: {}",
            run.stderr
        );
        // Only the filler and the lock: no half-written certificate, port or pid file.
        let left: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| !l.starts_with("rc="))
            .collect();
        let allowed = [
            ".lock",
            "fill",
            "openssl.log",
            "api.log",
            "arv-git-httpd.log",
            "git",
        ];
        assert!(
            left.iter().all(|f| allowed.contains(f)),
            "{action}: {left:?}"
        );
    }
    stack.assert_gone(&[], &[]);
}

#[test]
fn an_api_reply_that_echoes_the_token_shows_it_masked() {
    let mut stack = Stack::new();
    let api = format!(
        "{} --echo-headers-on-error",
        stack.env["ARVADOS_API_SERVER_CMD"]
    );
    stack.set("ARVADOS_API_SERVER_CMD", api);
    stack.run(&["start"]).ok();
    let run = stack.run(&["start_keep"]);
    run.code(1);
    let admin = fixture_token("admin");
    run.says("API call to https://");
    run.says("Authorization: <secret>");
    assert!(
        !run.stderr.contains(&admin),
        "the token in a message: {}",
        run.stderr
    );
}

#[test]
fn status_tells_listening_from_answering_and_nginx_waits_for_its_upstreams() {
    let mut stack = Stack::new();
    // A git server that listens but never answers: it closes each connection.
    let mute = failing_service(
        stack.dir.path(),
        "mute-git",
        &format!(
            "port=${{2#-address=:}}\nexec {PYTHON} -c '\n\
             import socket, sys\n\
             s = socket.create_server((\"127.0.0.1\", int(sys.argv[1])))\n\
             while True:\n    s.accept()[0].close()\n' \"$port\""
        ),
    );
    stack
        .set("ARV_GIT_HTTPD_CMD", mute)
        .set("STACK_TIMEOUT", "2s");
    stack.run(&["start_arv-git-httpd"]).ok();
    let status = stack.run(&["status"]);
    status.code(1);
    let git = status
        .stdout
        .lines()
        .find(|l| l.starts_with("arv-git-httpd "))
        .unwrap_or_default();
    let port = stack.port("arv-git-httpd").unwrap();
    assert!(
        git.ends_with(" listening") && git.contains(&format!(" port {port} ")),
        "{}",
        status.stdout
    );
    let json = stack.run(&["status", "--json"]);
    assert!(
        parse_status(&json.stdout).contains(&format!(
            "arv-git-httpd {} {port} listening\n",
            stack.pid("arv-git-httpd").unwrap()
        )),
        "{}",
        json.stdout
    );
    // nginx in front of it starts, listens, but never answers through: a
    // failed start, stopped again.
    let run = stack.run(&["start_nginx"]);
    run.code(1);
    assert!(
        run.stderr
            .contains("nginx failed to start: not answering through to its upstreams"),
        "{}",
        run.stderr
    );
    assert!(stack.pid("nginx").is_none());
}

#[test]
fn the_scripts_read_nothing_in_proc() {
    // Process identity, groups and start times are pidwait's: no script of
    // these reads /proc itself (/proc/0/none is a pidfile that cannot exist,
    // given to pidwait to check a setting).
    for name in ["start-stack.sh", "lsb-service", "demo.sh"] {
        let text = fs::read_to_string(script(name)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with('#') {
                continue;
            }
            let code = code.split(" # ").next().unwrap_or(code);
            assert!(
                !code.replace("/proc/0/none", "").contains("/proc"),
                "{name}:{}: {line}",
                n + 1
            );
        }
    }
}

#[test]
fn a_long_listing_of_old_registrations_is_read_whole_and_all_go() {
    let stack = Stack::new();
    stack.run(&["start"]).ok();
    // Old registrations whose listing runs past 64 KiB (httpwait's default
    // --body-limit): each one must still be found and deleted.
    let url = format!(
        "https://0.0.0.0:{}/arvados/v1/keep_services",
        stack.port("api").expect("api port")
    );
    let auth = format!("Authorization: OAuth2 {}", fixture_token("admin"));
    for n in 0..8 {
        let host = format!("old{n}-{}", "h".repeat(10_000));
        let svc = format!(
            r#"{{"keep_service":{{"service_host":"{host}","service_port":9,"service_type":"disk"}}}}"#
        );
        let args = [
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
        ];
        stack.curl(&[&args[..], &["--data-binary", &svc, &url]].concat());
    }
    assert!(stack.api_get("/arvados/v1/keep_services").len() > 80_000);
    stack.run(&["start_keep"]).ok();
    let services = stack.api_get("/arvados/v1/keep_services");
    assert!(
        !services.contains("old"),
        "an old registration left: {}",
        &services[..200]
    );
    assert_eq!(
        services.matches("\"service_type\": \"disk\"").count(),
        2,
        "{services}"
    );
}

#[test]
fn no_secret_in_any_command_line_during_start_all_and_stop_all() {
    let mut stack = Stack::new();
    // Every call of a tool logged with its arguments, then made.
    let wrap = stack.dir.path().join("wrap");
    let log = stack.dir.path().join("calls.log");
    fs::create_dir(&wrap).unwrap();
    for t in TOOLS {
        let path = wrap.join(t);
        let real = bin_dir().join(t);
        fs::write(
            &path,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$0 $*\" >>'{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    stack.set("STACKUTILS_BIN", wrap.display().to_string());
    let token = fixture_token("admin");
    let mut seen = String::new();
    for action in ["start-all", "stop-all"] {
        // The command line of every process of the run (its process group,
        // and the services, each in a session of its own but naming the
        // state directory), looked at again and again while it runs.
        let mut child = stack
            .command(&[action])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (group, state) = (child.id().to_string(), stack.state().display().to_string());
        let mut looks = 0;
        while child.try_wait().unwrap().is_none() {
            for e in fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
                let (Ok(c), Ok(stat)) = (
                    fs::read(e.path().join("cmdline")),
                    fs::read_to_string(e.path().join("stat")),
                ) else {
                    continue;
                };
                let c = String::from_utf8_lossy(&c).replace('\0', " ");
                // pgid: the third field after the command's closing parenthesis.
                let pgid = stat
                    .rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().nth(2));
                if (pgid == Some(group.as_str()) || c.contains(&state)) && c.contains(&token) {
                    writeln!(seen, "{}", c.chars().take(300).collect::<String>()).unwrap();
                }
            }
            looks += 1;
        }
        assert_eq!(child.wait().unwrap().code(), Some(0), "{action}");
        assert!(looks > 0);
    }
    assert!(seen.is_empty(), "the admin token in a command line: {seen}");
    let calls = fs::read_to_string(&log).unwrap();
    // The API calls were made through the wrappers, so argv was seen whole.
    assert!(calls.contains("httpwait --once"), "{calls}");
    assert!(!calls.contains(&token), "the admin token in argv: {calls}");
}

#[test]
fn a_failure_inside_a_single_start_action_stops_it_where_it_happened() {
    let stack = Stack::new();
    // A log file that cannot be truncated even by root (immutable): the
    // launch fails at its first step, which must be where the run stops,
    // not at a wait that later blames the service.
    fs::create_dir(stack.state()).unwrap();
    let log = stack.state().join("arv-git-httpd.log");
    fs::write(&log, "").unwrap();
    let immutable = Command::new("chattr").arg("+i").arg(&log).status();
    if !can_run(
        immutable.is_ok_and(|s| s.success()),
        "chattr +i does not work here",
    ) {
        return;
    }
    // The catch-all ERR trap is what is tested here: not through run().
    let run = run_bounded(stack.command(&["start_arv-git-httpd"]), HUNG);
    let _ = Command::new("chattr").arg("-i").arg(&log).status();
    run.code(1);
    run.says("failed at line");
    run.says(&format!("{}: Operation not permitted", log.display()));
    assert!(!run.stderr.contains("not listening"), "{}", run.stderr);
    run.says("stopping what this run started: arv-git-httpd");
    stack.assert_gone(&[], &[]);
}

/// Makes the storage servers shell scripts that create their pidfile empty
/// (as a daemon does before it writes its pid), record their pid beside the
/// state directory and never listen; returns the files they record it in.
fn storage_with_empty_pidfiles(stack: &mut Stack) -> [PathBuf; 2] {
    let dir = stack.dir.path().to_owned();
    let script = failing_service(
        &dir,
        "empty-pidfile-keepstore",
        &format!(
            "for a; do case $a in -pid=*) p=${{a#-pid=}}; : > \"$p\"; \
             echo $$ > {}/\"${{p##*/}}.started\";; esac; done\nexec sleep 300",
            dir.display()
        ),
    );
    stack
        .set("KEEPSTORE_CMD", script)
        .set("STACK_TIMEOUT", "1s");
    ["keep0", "keep1"].map(|k| dir.join(format!("{k}.pid.started")))
}

/// The pids the stand-ins recorded (waiting for each to be written).
fn recorded_pids(markers: &[PathBuf]) -> Vec<u32> {
    markers
        .iter()
        .map(|m| {
            assert!(
                wait_until(Duration::from_secs(10), || fs::read_to_string(m)
                    .is_ok_and(|s| s.ends_with('\n'))),
                "{} never written",
                m.display()
            );
            fs::read_to_string(m).unwrap().trim().parse().unwrap()
        })
        .collect()
}

/// A failed start stops what it launched even when the pidfile is no help
/// (empty: pidwait refuses it): the pid it launched is known.
#[test]
fn a_failed_start_stops_a_service_whose_pidfile_is_refused() {
    let mut stack = Stack::new();
    let markers = storage_with_empty_pidfiles(&mut stack);
    let run = stack.run(&["start-all"]);
    // Whichever wait fails first (the storage servers never listen), the
    // rollback finds their pidfiles empty.
    run.code(1);
    run.says("keep0: stopped by the pid this run started; by its pidfile: pidwait: ");
    run.says("keep1: stopped by the pid this run started; by its pidfile: pidwait: ");
    assert!(!run.stderr.contains("could not stop"), "{}", run.stderr);
    let pids = recorded_pids(&markers);
    stack.assert_gone(&pids, &[]);
}

/// The ports a failed start-all handed out go back to portfind at once,
/// those of the services it stopped again too, not only the unused ones.
#[test]
fn a_failed_start_releases_every_port_it_leased() {
    let mut stack = Stack::new();
    let held = stack.own_leases();
    let crash = failing_service(stack.dir.path(), "crashing-keepstore", "exit 3");
    stack.set("KEEPSTORE_CMD", crash);
    stack
        .run(&["start-all"])
        .code(1)
        .says("keep0 failed to start");
    // Released by a portfind run in the background: waited for.
    assert!(
        wait_until(Duration::from_secs(10), || held().trim().is_empty()),
        "still leased after the failed start:\n{}",
        held()
    );
    stack.assert_gone(&[], &[]);
}

/// A second signal while a failed start stops what it started (^C twice; a
/// runner's TERM after its INT, to the whole process group) does not cut the
/// stop short: a server slow to die is still stopped, and the exit code is
/// the failure's.
#[test]
fn a_second_signal_does_not_cut_the_stop_of_a_failed_start_short() {
    let mut stack = Stack::new();
    let marker = stack.dir.path().join("slow-git.pid");
    stubborn_git(
        &mut stack,
        &format!("echo $$ > {}\nexec sleep 300", marker.display()),
    );
    stack
        .set("STACK_TIMEOUT", "1s")
        .set("STACK_STOP_RETRY", "TERM/3/KILL/5");
    let err = stack.dir.path().join("stderr");
    let mut cmd = stack.command(&["start_arv-git-httpd"]);
    cmd.process_group(0)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    let said = |text: &str| fs::read_to_string(&err).unwrap_or_default().contains(text);
    assert!(
        wait_until(HUNG, || said("stopping what this run started")),
        "{}",
        fs::read_to_string(&err).unwrap_or_default()
    );
    let pid: u32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    // The stop sends TERM (ignored) and waits 3 s before KILL: signalled
    // meanwhile, once pidwait runs (its command line names the pidfile).
    let stopping = || {
        stack.processes().iter().any(|p| {
            fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--kill"))
        })
    };
    assert!(wait_until(Duration::from_secs(10), stopping));
    for sig in ["-TERM", "-INT"] {
        assert!(Command::new("kill")
            .args([sig, "--", &format!("-{}", child.id())])
            .status()
            .unwrap()
            .success());
    }
    let mut status = None;
    assert!(wait_until(HUNG, || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    let stderr = fs::read_to_string(&err).unwrap();
    assert_eq!(status.unwrap().code(), Some(1), "{stderr}");
    // Neither the stop nor the pidwait doing it was interrupted.
    assert!(
        !stderr.contains("could not stop") && !stderr.contains("interrupted"),
        "{stderr}"
    );
    stack.assert_gone(&[pid], &[]);
}

/// A garbled port file found by a stop is exit 2 before anything is
/// stopped (the stops run side by side: none may have begun).
#[test]
fn a_garbled_port_file_stops_nothing() {
    let stack = Stack::new();
    stack.run(&["start-all"]).ok();
    let pids = stack.pids();
    fs::write(stack.state().join("keep1.port"), "80x\n").unwrap();
    let run = stack.run(&["stop-all"]);
    run.code(2).says("keep1.port: expected a port number");
    for pid in &pids {
        assert!(alive(*pid), "pid {pid} stopped: {}", run.stderr);
    }
    assert_eq!(stack.pids(), pids, "a pidfile removed");
    fs::write(
        stack.state().join("keep1.port"),
        format!("{}\n", portfind(&["-n", "1"])[0]),
    )
    .unwrap();
    stack.run(&["stop-all"]).ok();
    stack.assert_gone(&pids, &[]);
}

/// start-all leases its ports first, beside the lock's wait: stopped by a
/// signal while it waits for another run's lock (the answer not read yet),
/// it starts nothing and gives every port back.
#[test]
fn a_start_all_signalled_while_waiting_for_the_lock_gives_its_ports_back() {
    let mut stack = Stack::new();
    let leased = stack.own_leases();
    fs::create_dir_all(stack.state()).unwrap();
    fs::set_permissions(stack.state(), fs::Permissions::from_mode(0o700)).unwrap();
    let lock = stack.state().join(".lock");
    // -o: the lock is flock's own, gone when it is killed.
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    let held = || {
        !Command::new("flock")
            .args(["-n"])
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap()
            .success()
    };
    assert!(wait_until(Duration::from_secs(10), held));
    let mut cmd = stack.command(&["start-all"]);
    cmd.process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Signalled once portfind printed its ports and exited (signalled
    // itself, it would give back those it had not printed).
    let printed = || {
        leased().lines().count() == 7
            && !group_members(child.id()).iter().any(|p| {
                fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("portfind"))
            })
    };
    let got = wait_until(Duration::from_secs(10), printed);
    // Leased for an hour, not portfind's 2 minutes: a slow API server
    // must not outlive the leases of the ports written for the others.
    let ends: Vec<u64> = leased()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(got, "never leased 7 ports: {}", leased());
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    assert_eq!(ends.len(), 7, "{}", leased());
    for end in ends {
        let left = u128::from(end).saturating_sub(now_ms);
        assert!(left > 50 * 60 * 1000, "a lease of {left} ms");
    }
    assert!(
        wait_until(Duration::from_secs(10), || leased().trim().is_empty()),
        "still leased: {}",
        leased()
    );
    assert!(
        !text(&out.stderr).contains("stopping what"),
        "{}",
        text(&out.stderr)
    );
    stack.assert_gone(&[], &[]);
}
