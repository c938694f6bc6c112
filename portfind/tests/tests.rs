//! Integration tests: run the real `portfind` binary.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn portfind(leases: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portfind"))
        .args(args)
        .env_clear()
        .env("PORTFIND_LEASE_DIR", leases)
        .output()
        .unwrap()
}

fn ports(out: &Output) -> Vec<u16> {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A test that cannot run here says so on stderr; CI provides every
/// condition (root, IPv6 loopback), so there a missing one fails the test.
fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot run under CI=true: {reason}"
    );
    eprintln!("SKIP: {reason}");
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The lease lines in `dir`, none if there is no file.
fn lease_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("leases"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

// Tests that need particular ports take them from 17000-18999: below the
// default range other tools' tests use and below Linux's ephemeral range
// (32768-60999), so parallel tests and outgoing connections leave them be.

#[test]
fn prints_one_free_port_and_leases_it() {
    let tmp = tempfile::tempdir().unwrap();
    let got = ports(&portfind(tmp.path(), &[]));
    assert_eq!(got.len(), 1);
    assert!((20000..=32767).contains(&got[0]), "{got:?}");
    let leases = std::fs::read_to_string(tmp.path().join("leases")).unwrap();
    assert!(leases.starts_with(&format!("{} ", got[0])), "{leases}");
    TcpListener::bind(("0.0.0.0", got[0])).expect("the port binds");
}

#[test]
fn count_gives_distinct_ports_in_the_range_outside_the_excluded() {
    let tmp = tempfile::tempdir().unwrap();
    let out = portfind(
        tmp.path(),
        &[
            "-n",
            "5",
            "--range",
            "17000-17099",
            "-x",
            "17000-17089",
            "--exclude",
            "17095",
        ],
    );
    let got = ports(&out);
    assert_eq!(got.len(), 5);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 5, "{got:?}");
    assert!(
        got.iter()
            .all(|p| (17090..=17099).contains(p) && *p != 17095),
        "{got:?}"
    );
}

#[test]
fn a_busy_port_is_never_handed_out() {
    let tmp = tempfile::tempdir().unwrap();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = portfind(tmp.path(), &["--range", &format!("{port}-{port}")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("portfind: found 0 of 1 free ports"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn udp_flag_checks_udp_too() {
    let tmp = tempfile::tempdir().unwrap();
    // Not a port-0 UDP port: that lies in the ephemeral range, where other
    // tests' outgoing TCP connections may hold the same number.
    let port = ports(&portfind(
        tmp.path(),
        &["--udp", "--range", "17500-17599", "--lease", "0"],
    ))[0];
    let _busy = std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap();
    let range = format!("{port}-{port}");
    let out = portfind(tmp.path(), &["--udp", "--range", &range]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = portfind(tmp.path(), &["--range", &range, "--lease", "0"]);
    assert_eq!(ports(&out), vec![port]);
}

#[test]
fn a_lease_holds_until_released() {
    let tmp = tempfile::tempdir().unwrap();
    let port = ports(&portfind(tmp.path(), &["--range", "17100-17199"]))[0].to_string();
    let only = format!("{port}-{port}");
    let out = portfind(tmp.path(), &["--range", &only]);
    assert_eq!(out.status.code(), Some(1), "leased port handed out again");
    assert!(stderr(&out).contains("1 leased"), "{}", stderr(&out));
    let out = portfind(tmp.path(), &["--release", &port]);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        ports(&portfind(tmp.path(), &["--range", &only])),
        vec![port.parse::<u16>().unwrap()]
    );
}

#[test]
fn an_expired_lease_frees_the_port() {
    let tmp = tempfile::tempdir().unwrap();
    let port = ports(&portfind(
        tmp.path(),
        &["--range", "17200-17299", "--lease", "0"],
    ))[0];
    let only = format!("{port}-{port}");
    assert_eq!(
        ports(&portfind(tmp.path(), &["--range", &only])),
        vec![port]
    );
}

#[test]
fn parallel_callers_never_get_the_same_port() {
    let tmp = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_portfind"))
                .args(["-n", "20", "--range", "18000-18999"])
                .env("PORTFIND_LEASE_DIR", tmp.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut all = Vec::new();
    for child in children {
        all.extend(ports(&child.wait_with_output().unwrap()));
    }
    assert_eq!(all.len(), 160);
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        160,
        "duplicates handed out"
    );
}

#[test]
fn bad_input_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, says) in [
        (&["--range", "0-10"][..], "invalid port '0'"),
        (&["--range", "70000-70001"], "invalid port '70000'"),
        (&["--range", "30-20"], "LOW <= HIGH"),
        (&["--exclude", "80,x"], "invalid port 'x'"),
        (&["-n", "0"], "0 is not in 1..=65535"),
        (&["--lease", "soon"], "expected e.g. 250ms"),
        (
            &["--address", "192.0.2.1"],
            "expected an address of this host",
        ),
    ] {
        let out = portfind(tmp.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_file_as_lease_dir_is_a_fatal_error() {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let out = portfind(tmp.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("portfind: lease directory"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_lists_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("Exit codes:") && help.contains("1  no free port"),
        "{help}"
    );
}

#[test]
fn a_closed_pipe_ends_it_quietly() {
    // stdout is a socket whose peer is already closed: the first write
    // fails with EPIPE, whatever the timing.
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(ours);
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .args(["-n", "3"])
        .env("PORTFIND_LEASE_DIR", tmp.path())
        .stdout(std::os::fd::OwnedFd::from(theirs))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    assert_eq!(
        lease_lines(tmp.path()),
        Vec::<String>::new(),
        "unprinted ports left leased"
    );
}

#[test]
fn a_huge_lease_is_refused_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let out = portfind(tmp.path(), &["--lease", "500000000000y"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("duration '500000000000y' is too long: expected at most 100 years"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_damaged_lease_file_is_repaired_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let leases = tmp.path().join("leases");
    let hour_on = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 3_600_000;
    let mut text = format!("17301 {hour_on}\n").into_bytes();
    text.extend_from_slice(b"\xff\xfe junk\n");
    std::fs::write(&leases, text).unwrap();
    let out = portfind(tmp.path(), &["--range", "17300-17301"]);
    assert_eq!(ports(&out), vec![17300], "the good lease still holds");
    assert_eq!(
        stderr(&out),
        format!(
            "portfind: dropping bad lease {} line 2: '\\xff\\xfe junk': expected PORT UNIX_MS\n",
            leases.display()
        )
    );
    let text = std::fs::read_to_string(&leases).unwrap();
    assert!(!text.contains("junk"), "{text}");
}

#[test]
fn empty_environment_variables_mean_unset() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .env_clear()
        .env("XDG_RUNTIME_DIR", tmp.path())
        .env("PORTFIND_LEASE_DIR", "")
        .env("PORTFIND_LEASE", "")
        .output()
        .unwrap();
    let got = ports(&out);
    let leases = std::fs::read_to_string(tmp.path().join("portfind/leases")).unwrap();
    assert!(leases.starts_with(&format!("{} ", got[0])), "{leases}");
}

#[test]
fn a_named_lease_dir_may_be_a_symlink_but_the_default_may_not() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert_eq!(ports(&portfind(&link, &[])).len(), 1);
    assert!(real.join("leases").exists());

    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::os::unix::fs::symlink(&real, run.join("portfind")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .env_clear()
        .env("XDG_RUNTIME_DIR", &run)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/run/portfind is a symlink: expected a directory of our own"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn users_sharing_a_lease_dir_can_all_lock_it() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !is_root() {
        return skip("not root: cannot run portfind as another user");
    }
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    // The way there is root's alone; the lease directory is open to all.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    // root takes a port first: .lock and leases are root's, mode 0644; and
    // a crashed root run left leases.new behind.
    let first = ports(&portfind(&shared, &["--range", "17400-17401"]));
    std::fs::write(shared.join("leases.new"), "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .args(["--range", "17400-17401", "--lease-dir"])
        .arg(&shared)
        .env_clear()
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let second = ports(&out);
    assert_eq!(second.len(), 1);
    assert_ne!(first, second, "the other user saw root's lease");
}

#[test]
fn a_reader_that_does_not_read_holds_up_no_one() {
    let tmp = tempfile::tempdir().unwrap();
    // 15000 ports are 90 kB, more than a pipe holds: this one blocks
    // writing, its stdout never read.
    let mut stuck = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .args(["-n", "15000", "--range", "40000-59999"])
        .env("PORTFIND_LEASE_DIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let leases = tmp.path().join("leases");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&leases).map_or(0, |t| t.lines().count()) < 15000 {
        assert!(stuck.try_wait().unwrap().is_none(), "it ended early");
        assert!(start.elapsed().as_secs() < 30, "no leases written");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let out = portfind(tmp.path(), &["--range", "17600-17699"]);
    assert_eq!(ports(&out).len(), 1);
    drop(stuck.stdout.take()); // EPIPE: it ends quietly
    let stuck = stuck.wait_with_output().unwrap();
    assert!(stuck.status.success(), "{}", stderr(&stuck));
}

/// A port of 17000-17999 that binds on `127.0.0.1`, `::1` and `0.0.0.0` now.
fn quiet_port(from: u16) -> u16 {
    (from..from + 100)
        .find(|p| {
            TcpListener::bind(("127.0.0.1", *p)).is_ok()
                && TcpListener::bind(("::1", *p)).is_ok()
                && TcpListener::bind(("0.0.0.0", *p)).is_ok()
        })
        .unwrap()
}

#[test]
fn a_port_busy_on_ipv6_only_is_not_free() {
    let Ok(v6) = TcpListener::bind("[::1]:0") else {
        return skip("no IPv6 loopback");
    };
    drop(v6);
    let tmp = tempfile::tempdir().unwrap();
    let port = quiet_port(17700);
    // IPv6 only: the IPv4 wildcard still binds, so only the IPv6 check sees it.
    let _busy = TcpListener::bind(("::1", port)).unwrap();
    let only = format!("{port}-{port}");
    let out = portfind(tmp.path(), &["--range", &only]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // --address 127.0.0.1 checks there alone, where the port is free.
    let out = portfind(tmp.path(), &["--range", &only, "--address", "127.0.0.1"]);
    assert_eq!(ports(&out), vec![port]);
}

#[test]
fn address_checks_the_given_address_only() {
    let tmp = tempfile::tempdir().unwrap();
    let port = quiet_port(17800);
    let _busy = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let only = format!("{port}-{port}");
    let out = portfind(
        tmp.path(),
        &["--range", &only, "-a", "127.0.0.1", "--lease", "0"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = portfind(
        tmp.path(),
        &["--range", &only, "-a", "127.0.0.2", "--lease", "0"],
    );
    assert_eq!(ports(&out), vec![port], "127.0.0.2 is another address");
    let out = portfind(
        tmp.path(),
        &["--range", &only, "-a", "127.0.0.2", "-a", "127.0.0.1"],
    );
    assert_eq!(out.status.code(), Some(1), "every address must be free");
}

#[test]
fn nothing_is_leased_after_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let port = quiet_port(17900);
    let _busy = TcpListener::bind(("0.0.0.0", port)).unwrap();
    // The range holds one free port, two are wanted.
    let range = format!("{}-{}", port, port + 1);
    let out = portfind(tmp.path(), &["-n", "2", "--range", &range]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(lease_lines(tmp.path()), Vec::<String>::new());
}

#[test]
fn the_lease_directory_is_created_with_its_parents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("builds/ci/.ports");
    let got = ports(&portfind(&dir, &[]));
    assert_eq!(lease_lines(&dir).len(), 1, "{got:?}");
    for created in ["builds", "builds/ci", "builds/ci/.ports"] {
        let mode = std::fs::metadata(tmp.path().join(created))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o7777,
            0o700,
            "{created}"
        );
    }
}

#[test]
fn the_default_lease_directory_is_tmp_portfind_uid() {
    use std::os::unix::process::CommandExt;
    if !is_root() {
        return skip("not root: cannot run portfind as uid 65534");
    }
    let dir = Path::new("/tmp/portfind-65534");
    let _ = std::fs::remove_dir_all(dir);
    let out = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .args(["--range", "17950-17999"])
        .env_clear()
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let got = ports(&out);
    let lines = lease_lines(dir);
    std::fs::remove_dir_all(dir).unwrap();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(&format!("{} ", got[0])), "{lines:?}");
}

#[test]
fn another_users_lease_directory_is_refused() {
    if !is_root() {
        return skip("not root: cannot give a directory to uid 65534");
    }
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tmp.path().join("portfind");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    // Named, and as the default under XDG_RUNTIME_DIR.
    let named = portfind(&theirs, &[]);
    let default = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .env_clear()
        .env("XDG_RUNTIME_DIR", tmp.path())
        .output()
        .unwrap();
    for out in [named, default] {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!(
                "portfind: lease directory {} belongs to uid 65534, not to us (uid 0) or root",
                theirs.display()
            )),
            "{}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        std::fs::read_dir(&theirs).unwrap().count(),
        0,
        "nothing written there"
    );
}

#[test]
fn a_way_to_the_lease_directory_another_user_controls_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        return skip("not root: cannot give a symlink to uid 65534");
    }
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    // A symlink another user planted (in /tmp, say), to a directory of root's.
    let link = tmp.path().join("ports");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    // A directory anyone may rename things in, on the way to a new one.
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    for (dir, why) in [
        (
            link.join("sub"),
            format!(
                ": {} is a symlink owned by uid 65534, neither root nor us",
                link.display()
            ),
        ),
        (
            link.clone(),
            format!(
                ": {} is a symlink owned by uid 65534, neither root nor us",
                link.display()
            ),
        ),
        (
            open.join("a/b"),
            format!(
                ": directory {} is writable by anyone (mode 777) and has no sticky bit",
                open.display()
            ),
        ),
    ] {
        let out = portfind(&dir, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!("portfind: lease directory {}{why}", dir.display())),
            "{}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        std::fs::read_dir(&victim).unwrap().count(),
        0,
        "nothing written there"
    );
    assert_eq!(
        std::fs::read_dir(&open).unwrap().count(),
        0,
        "nothing created there"
    );
    // Root's own link, to a directory of root's, is followed.
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
    assert_eq!(ports(&portfind(&link, &[])).len(), 1);
    assert!(victim.join("leases").exists());
}

#[test]
fn a_hard_link_as_a_lease_file_is_refused_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("leases");
    std::fs::create_dir(&dir).unwrap();
    let secret = tmp.path().join("shadow");
    std::fs::write(&secret, "root:$6$secret-hash:19000:0:99999:7:::\n").unwrap();
    for name in [".lock", "leases"] {
        std::fs::hard_link(&secret, dir.join(name)).unwrap();
        let out = portfind(&dir, &[]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "portfind: refusing {}: it has 2 hard links, and a lease file has one (remove it)\n",
                dir.join(name).display()
            )
        );
        assert!(out.stdout.is_empty());
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "root:$6$secret-hash:19000:0:99999:7:::\n"
    );
}

#[test]
fn symlinks_planted_in_the_lease_directory_are_never_followed() {
    for name in ["leases", ".lock", "leases.new"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ports");
        std::fs::create_dir(&dir).unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "20001 99999999999999\nprecious\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        let out = portfind(&dir, &["--range", "17000-17099"]);
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "20001 99999999999999\nprecious\n",
            "{name}: written through"
        );
        assert!(!stderr(&out).contains("precious"), "{name}: read through");
        if name == "leases.new" {
            // A leftover is removed, never written to.
            assert_eq!(ports(&out).len(), 1, "{name}");
            assert!(!dir.join(name).exists(), "{name}");
        } else {
            assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
            assert_eq!(
                stderr(&out),
                format!(
                    "portfind: refusing {}: it is a symlink, and portfind never follows one \
                     in its lease directory (remove it)\n",
                    dir.join(name).display()
                )
            );
            assert!(out.stdout.is_empty());
        }
    }
}

/// Runs portfind and fails the test if it has not ended within 20 s.
fn portfind_bounded(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .args(args)
        .env_clear()
        .env("PORTFIND_LEASE_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > 20 {
            child.kill().unwrap();
            panic!("portfind {args:?} still running after 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_fifo_device_or_directory_as_a_lease_file_is_refused_at_once() {
    let kinds: &[&str] = if is_root() {
        &["fifo", "dir", "device"]
    } else {
        skip("not root: cannot make a device node (FIFO and directory still checked)");
        &["fifo", "dir"]
    };
    for name in [".lock", "leases"] {
        for &kind in kinds {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join(name);
            if kind == "device" {
                // The same device as /dev/null: reads would end at once, but
                // a device is not a lease file all the same.
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &path,
                    rustix::fs::FileType::CharacterDevice,
                    rustix::fs::Mode::from_raw_mode(0o644),
                    rustix::fs::makedev(1, 3),
                )
                .unwrap();
            } else if kind == "fifo" {
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &path,
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o644),
                    0,
                )
                .unwrap();
            } else {
                std::fs::create_dir(&path).unwrap();
            }
            let out = portfind_bounded(tmp.path(), &[]);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{name} {kind}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).starts_with(&format!(
                    "portfind: refusing {}: not a regular file",
                    path.display()
                )),
                "{name} {kind}: {}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn an_oversized_lease_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let line = "17001 99999999999999\n";
    std::fs::write(
        tmp.path().join("leases"),
        line.repeat((5 << 20) / line.len()),
    )
    .unwrap();
    let out = portfind(tmp.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "portfind: lease file {} is larger than 4 MiB: not a lease file (remove it to start afresh)\n",
            tmp.path().join("leases").display()
        )
    );
}

#[test]
fn warnings_about_bad_lines_are_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let bad: Vec<String> = (1..=10).map(|i| format!("bad\x1b[31m {i}\n")).collect();
    let bad = bad.concat();
    std::fs::write(tmp.path().join("leases"), bad).unwrap();
    let out = portfind(tmp.path(), &["--range", "17000-17099"]);
    assert_eq!(ports(&out).len(), 1);
    let file = tmp.path().join("leases");
    let expected: Vec<String> = (1..=3)
        .map(|i| {
            format!(
                "portfind: dropping bad lease {} line {i}: 'bad\\x1b[31m {i}': expected PORT UNIX_MS\n",
                file.display()
            )
        })
        .collect();
    let expected = expected.concat();
    assert_eq!(
        stderr(&out),
        format!(
            "{expected}portfind: dropping 7 more bad leases of {}\n",
            file.display()
        )
    );
}

#[test]
fn a_lease_beyond_100_years_in_the_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let far = now_ms + 101 * 366 * 24 * 3600 * 1000;
    let near = now_ms + 99 * 365 * 24 * 3600 * 1000;
    std::fs::write(
        tmp.path().join("leases"),
        format!("17001 {far}\n17002 {near}\n"),
    )
    .unwrap();
    let out = portfind(tmp.path(), &["-n", "2", "--range", "17001-17003"]);
    let mut got = ports(&out);
    got.sort_unstable();
    assert_eq!(
        got,
        vec![17001, 17003],
        "the 99-year lease holds, the 101-year one not"
    );
    assert_eq!(
        stderr(&out),
        format!(
            "portfind: dropping bad lease {} line 1: port 17001 leased for more than 100 years: \
             expected at most 100 years, as --lease\n",
            tmp.path().join("leases").display()
        )
    );
}

#[test]
fn a_full_disk_is_named_and_leaves_no_temporary_file() {
    if !is_root() {
        return skip("not root: cannot mount a tmpfs in a mount namespace");
    }
    let tmp = tempfile::tempdir().unwrap();
    // One page of tmpfs, filled: writing the new lease list fails.
    let script = r#"set -eu
mount -t tmpfs -o size=4k tmpfs "$1"
head -c 4096 /dev/zero > "$1/filler"
rc=0
"$2" --lease-dir "$1" --range 17000-17099 || rc=$?
echo "left: $(ls -A "$1" | tr '\n' ' ')" >&2
exit "$rc"
"#;
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(tmp.path())
        .arg(env!("CARGO_BIN_EXE_portfind"))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "a port printed");
    assert_eq!(
        err,
        format!(
            "portfind: writing {}/leases.new: No space left on device (os error 28)\nleft: .lock filler \n",
            tmp.path().display()
        )
    );
}

#[test]
fn a_full_stdout_fails_and_leases_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .args(["-n", "3"])
        .env_clear()
        .env("PORTFIND_LEASE_DIR", tmp.path())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "portfind: cannot write to standard output: No space left on device (os error 28)\n"
    );
    assert_eq!(
        lease_lines(tmp.path()),
        Vec::<String>::new(),
        "unprinted ports left leased"
    );
}

#[test]
fn an_empty_xdg_runtime_dir_means_tmp_portfind_uid() {
    use std::os::unix::process::CommandExt;
    if !is_root() {
        return skip("not root: cannot run portfind as uid 65533");
    }
    // Not a relative `portfind` in the current directory.
    let cwd = tempfile::tempdir().unwrap();
    let dir = Path::new("/tmp/portfind-65533");
    let _ = std::fs::remove_dir_all(dir);
    let out = Command::new(env!("CARGO_BIN_EXE_portfind"))
        .args(["--range", "17900-17949"])
        .env_clear()
        .env("XDG_RUNTIME_DIR", "")
        .current_dir(cwd.path())
        .uid(65533)
        .gid(65533)
        .output()
        .unwrap();
    let lines = lease_lines(dir);
    let _ = std::fs::remove_dir_all(dir);
    let got = ports(&out);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(&format!("{} ", got[0])), "{lines:?}");
    assert!(!cwd.path().join("portfind").exists());
}

#[test]
fn three_bad_lines_are_each_named_and_none_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("leases");
    std::fs::write(&file, "bad 1\nbad 2\nbad 3\n").unwrap();
    let out = portfind(tmp.path(), &["--range", "17000-17099"]);
    assert_eq!(ports(&out).len(), 1);
    let expected: Vec<String> = (1..=3)
        .map(|i| {
            format!(
                "portfind: dropping bad lease {} line {i}: 'bad {i}': expected PORT UNIX_MS\n",
                file.display()
            )
        })
        .collect();
    assert_eq!(stderr(&out), expected.concat());
}

/// A directory anyone may write in (not sticky), in a fresh temporary one.
fn open_dir(tmp: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let open = tmp.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    open
}

#[test]
fn a_symlink_to_an_absolute_path_is_walked_from_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let open = open_dir(tmp.path());
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(open.join("leases"), &link).unwrap();
    let out = portfind(&link, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!(
            "portfind: lease directory {}: directory {} is writable by anyone",
            link.display(),
            open.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);
}

#[test]
fn dot_dot_leaves_the_directory_it_follows() {
    // Whoever may write in `open` cannot change where `open/..` leads.
    let tmp = tempfile::tempdir().unwrap();
    open_dir(tmp.path());
    let dir = tmp.path().join("open/../mine");
    assert_eq!(ports(&portfind(&dir, &[])).len(), 1);
    assert!(tmp.path().join("mine/leases").exists());
}

#[test]
fn a_way_that_cannot_be_read_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("file"), "").unwrap();
    let dir = tmp.path().join("file/leases");
    let out = portfind(&dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "portfind: lease directory {}: {} is not a directory\n",
            dir.display(),
            tmp.path().join("file").display()
        )
    );
}

#[test]
fn symlinks_on_the_way_are_followed_as_the_kernel_follows_them() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    // l0 -> l1 -> ... -> l40 -> real: l1 is 40 links from real, l0 41.
    for i in 0..=40 {
        let target = if i == 40 {
            "real".to_owned()
        } else {
            format!("l{}", i + 1)
        };
        std::os::unix::fs::symlink(target, tmp.path().join(format!("l{i}"))).unwrap();
    }
    assert_eq!(
        ports(&portfind_bounded(&tmp.path().join("l1"), &[])).len(),
        1
    );
    assert!(real.join("leases").exists());
    std::os::unix::fs::symlink("loop2", tmp.path().join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", tmp.path().join("loop2")).unwrap();
    for name in ["l0", "loop1"] {
        let dir = tmp.path().join(name);
        let out = portfind_bounded(&dir, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "portfind: lease directory {}: more than 40 symlinks on its path\n",
                dir.display()
            )
        );
    }
}

/// In a network namespace with IPv6 disabled by sysctl, `::` still binds (a
/// dual-stack socket: the family exists, the addresses do not), so portfind
/// checks both wildcards and hands out ports; `::1` is no address there.
/// Only a kernel without IPv6 (`ipv6.disable=1`) or a seccomp filter makes
/// `::` unbindable: check.rs's unit test covers that decision.
#[test]
fn a_network_namespace_with_ipv6_disabled_still_gets_ports() {
    if !is_root() {
        return skip("not root: cannot make a network namespace");
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new("unshare")
            .args(["-n", "sh", "-c"])
            .arg(
                "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
                 && ip link set lo up && exec \"$0\" \"$@\"",
            )
            .arg(env!("CARGO_BIN_EXE_portfind"))
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("PORTFIND_LEASE_DIR", tmp.path())
            .output()
            .unwrap()
    };
    assert_eq!(ports(&run(&["--range", "17000-17099"])).len(), 1);
    let out = run(&["--range", "17000-17099", "--address", "::1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .starts_with("portfind: cannot bind to address ::1: expected an address of this host"),
        "{}",
        stderr(&out)
    );
}
