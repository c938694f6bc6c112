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
    std::fs::write(&leases, b"17301 99999999999999\n\xff\xfe junk\n").unwrap();
    let out = portfind(tmp.path(), &["--range", "17300-17301"]);
    assert_eq!(ports(&out), vec![17300], "the good lease still holds");
    assert_eq!(
        stderr(&out),
        format!(
            "portfind: dropping bad lease {} line 2: \"\u{fffd}\u{fffd} junk\": expected PORT UNIX_MS\n",
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
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: cannot run portfind as another user; skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    for dir in [tmp.path(), &shared] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
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
