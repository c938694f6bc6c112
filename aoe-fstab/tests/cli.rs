//! The command-line contract: output formats, bad input, exit codes.

use crate::{
    aoe_fstab, assert_exit, assert_stderr_has, fstab, run, spawn_piped, stderr, stdout, with_file,
    write,
};

#[test]
fn list_prints_fstab_lines_with_escapes_and_defaults() {
    let (_dir, file) =
        fstab("# comment\n/dev/etherd/e1.0 /mnt/a\\040b ext4 rw,_netdev 1 2\r\ntmpfs /t tmpfs\n");
    let out = run(&file, &["list"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        "/dev/etherd/e1.0 /mnt/a\\040b ext4 rw,_netdev 1 2\ntmpfs /t tmpfs defaults 0 0\n"
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn list_json_has_line_numbers_and_null_options() {
    let (_dir, file) = fstab("\n\ntmpfs /t\\011x tmpfs\n");
    let out = run(&file, &["list", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fs = &doc["filesystems"][0];
    assert_eq!(fs["target"], "/t\tx");
    assert_eq!(fs["options"], serde_json::Value::Null);
    assert_eq!(fs["line"], 3);
}

#[test]
fn bad_lines_are_reported_and_skipped() {
    let (_dir, file) = fstab("bug\ntmpfs /t tmpfs rw 0 0\na /b c d zero 0\n");
    let out = run(&file, &["list"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "tmpfs /t tmpfs rw 0 0\n");
    let name = file.display();
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {name}:1: expected at least 3 fields (source, target, type), found 1; line skipped\n\
             aoe-fstab: {name}:3: dump field 'zero' is not a number; line skipped\n"
        )
    );
}

#[test]
fn strict_makes_a_bad_line_fatal() {
    let (_dir, file) = fstab("tmpfs /t tmpfs rw 0 0\na /b c d 1 two\n");
    let out = run(&file, &["--strict", "list"]);
    assert_exit(&out, 2);
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {}:2: pass field 'two' is not a number\n",
            file.display()
        )
    );
}

#[test]
fn missing_file_is_fatal_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nope");
    let out = run(&file, &["list"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("aoe-fstab: cannot read {}: ", file.display())),
        "{err}"
    );
}

#[test]
fn unknown_target_is_a_usage_error() {
    let (_dir, file) = fstab("tmpfs /t tmpfs rw 0 0\n");
    let out = run(&file, &["mount", "--dry-run", "/elsewhere"]);
    assert_exit(&out, 2);
    assert_eq!(
        stderr(&out),
        format!("aoe-fstab: no entry for /elsewhere in {}\n", file.display())
    );
}

#[test]
fn bad_duration_is_a_usage_error() {
    for args in [
        ["mount", "--wait-devices", "soon"],
        ["mount", "--mount-timeout", "soon"],
        ["umount", "--umount-timeout", "soon"],
    ] {
        let out = aoe_fstab().args(args).output().unwrap();
        assert_exit(&out, 2);
        assert_stderr_has(&out, "invalid duration 'soon'");
        assert_stderr_has(&out, "expected e.g. 250ms");
    }
}

/// A time limit of zero would kill every mount at once: refused.
#[test]
fn a_zero_time_limit_is_a_usage_error() {
    for args in [
        ["mount", "--mount-timeout", "0"],
        ["mount", "--mount-timeout", "0ms"],
        ["umount", "--umount-timeout", "0s"],
    ] {
        let out = aoe_fstab().args(args).output().unwrap();
        assert_exit(&out, 2);
        assert_stderr_has(
            &out,
            &format!("invalid value '{}' for '{} <DURATION>'", args[2], args[1]),
        );
        assert_stderr_has(&out, "would stop every command at once");
    }
}

#[test]
fn help_lists_exit_codes() {
    let out = aoe_fstab().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    // The table, not just its title (the README repeats it).
    for row in [
        "Exit codes:\n  0  success",
        "\n  1  an entry could not be mounted or unmounted, `check` found a problem",
        "\n  2  usage or fatal error: unreadable or not a regular file",
    ] {
        assert!(help.contains(row), "{row:?} in {help}");
    }
    for sub in ["list", "mounted", "mount", "umount", "check"] {
        assert!(help.contains(&format!("  {sub} ")), "{sub} in {help}");
        let out = aoe_fstab().args([sub, "--help"]).output().unwrap();
        assert!(stdout(&out).contains("Exit codes:"), "{sub} --help");
    }
}

#[test]
fn check_reports_one_line_per_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::create_dir(dir.path().join("ok")).unwrap();
    std::fs::write(dir.path().join("dev"), "").unwrap();
    std::fs::write(dir.path().join("afile"), "").unwrap();
    let file = write(
        dir.path(),
        "fstab",
        format!(
            "{d}/dev {d}/ok ext4 _netdev 0 0\n\
             {d}/gone {d}/missing ext4 _netdev\n\
             oops\n\
             {d}/dev {d}/afile ext4 rw\n\
             tmpfs relative tmpfs _netdev\n"
        ),
    );
    let out = run(&file, &["check"]);
    assert_exit(&out, 1);
    let f = file.display();
    assert_eq!(
        stdout(&out),
        format!(
            "{f}:2: {d}/missing: mount point does not exist\n\
             {f}:2: {d}/missing: device {d}/gone does not exist\n\
             {f}:3: expected at least 3 fields (source, target, type), found 1\n\
             {f}:4: {d}/afile: mount point is not a directory\n\
             {f}:4: {d}/afile: no _netdev option (the device needs the network)\n\
             {f}:5: relative: mount point is not an absolute path\n"
        )
    );
    assert_eq!(stderr(&out), "");

    let good = write(
        dir.path(),
        "good",
        format!("{d}/dev {d}/ok ext4 _netdev 0 0\n"),
    );
    let out = run(&good, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
}

#[test]
fn closed_stdout_exits_quietly() {
    let (_dir, file) = fstab("tmpfs /t tmpfs rw 0 0\n".repeat(20_000));
    let mut child = spawn_piped(with_file(&file).arg("list"));
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "");
}

#[test]
fn mount_not_on_path_is_fatal_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let file = write(dir.path(), "fstab", format!("tmpfs {d}/m tmpfs size=1m\n"));
    let out = with_file(&file)
        .env("PATH", dir.path())
        .args(["mount", "--mkdir"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(
        stderr(&out).starts_with("aoe-fstab: cannot find `mount` on PATH"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("m").exists(), "nothing was done");
    let out = with_file(&file)
        .env("PATH", dir.path())
        .arg("umount")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(
        stderr(&out).starts_with("aoe-fstab: cannot find `umount` on PATH"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_fifo_or_device_is_refused_not_read_for_ever() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // Checked on the descriptor read from (opened without blocking): a
    // check by name before a blocking open would leave a window to swap a
    // FIFO in, and with that check alone the FIFO blocks this test.
    for (file, what) in [
        (fifo.as_path(), "a FIFO"),
        (std::path::Path::new("/dev/zero"), "a character device"),
        (dir.path(), "a directory"),
    ] {
        // Bounded: before the fix this blocked on the FIFO (no writer) and
        // filled memory from /dev/zero.
        let mut child = spawn_piped(with_file(file).arg("list"));
        let end = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", file.display());
        assert_eq!(
            stderr(&out),
            format!(
                "aoe-fstab: cannot read {}: {what}, not a regular file: not an fstab file\n",
                file.display()
            )
        );
    }
}

#[test]
fn a_huge_wait_is_a_usage_error_not_an_overflow() {
    let (_dir, file) = fstab("/dev/etherd/e1.0 /t ext4 _netdev\n");
    for wait in ["584542046090y", "18446744073709551615s"] {
        let out = run(&file, &["mount", "--dry-run", "--wait-devices", wait]);
        assert_eq!(out.status.code(), Some(2), "{wait}: {}", stderr(&out));
        assert_stderr_has(&out, "at most 100 years");
    }
    let out = run(&file, &["mount", "--dry-run", "--wait-devices", "99y"]);
    assert_exit(&out, 0);
}

#[test]
fn dry_run_names_non_utf8_paths_exactly() {
    let (_dir, file) = fstab(b"src /mnt/caf\\351 tmpfs\nsrc2 /mnt/caf\xc3\xa9 tmpfs\n");
    let out = run(&file, &["mount", "--dry-run"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        "mount -t tmpfs -- src \"$(printf '/mnt/caf\\351')\"\nmount -t tmpfs -- src2 '/mnt/café'\n"
    );
}

#[test]
fn list_output_reads_back_as_the_same_entries() {
    let (dir, file) =
        fstab(b"\\000 /b c\nx \\000y z \\000 3\nsrc /a\\040b\\011\\134\xff t opt,x=\\042 -1 +2\n");
    let listed = run(&file, &["list"]);
    assert_exit(&listed, 0);
    let again = write(dir.path(), "again", &listed.stdout);
    let json = |f: &std::path::Path| {
        let out = run(f, &["list", "--json"]);
        assert_eq!(stderr(&out), "");
        let mut doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for fs in doc["filesystems"].as_array_mut().unwrap() {
            fs.as_object_mut().unwrap().remove("line");
        }
        doc
    };
    let first = json(&file);
    assert_eq!(first["filesystems"].as_array().unwrap().len(), 3);
    // Absent options print as `defaults`; everything else reads back as is.
    let mut expected = first.clone();
    expected["filesystems"][0]["options"] = "defaults".into();
    assert_eq!(json(&again), expected, "{}", stdout(&listed));
}

#[test]
fn mount_leaves_swap_root_and_noauto_alone_as_mount_a_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let file = write(
        dir.path(),
        "fstab",
        format!(
            "UUID=1f2a none swap sw 0 0\n\
             /dev/vg/root / ext4 defaults 1 1\n\
             x {d}/na tmpfs size=1m,noauto\n\
             y {d}/a tmpfs size=1m\n\
             /swapfile swap swap defaults\n"
        ),
    );
    // Before: `mount -t swap` was attempted (exit 1 for real).
    let out = run(&file, &["mount", "--dry-run"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("mount -t tmpfs -o size=1m -- y {d}/a\n")
    );
    assert_eq!(stderr(&out), "");
    // Named, noauto is mounted and swap is refused (swapon's job).
    let out = run(&file, &["mount", "--dry-run", &format!("{d}/na"), "none"]);
    assert_exit(&out, 1);
    assert_eq!(
        stdout(&out),
        format!("mount -t tmpfs -o size=1m,noauto -- x {d}/na\n")
    );
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {}:1: cannot mount UUID=1f2a on none: a swap area: use swapon, not mount\n",
            file.display()
        )
    );
    // umount leaves the root file system (always mounted) alone too.
    let out = run(&file, &["umount", "--dry-run"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "");
    // And check says what mount leaves alone, without calling it a problem.
    let out = run(&file, &["check"]);
    let f = file.display();
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {f}:1: none: mount skips it: a swap area (swapon's job), as for `mount -a`\n\
             aoe-fstab: {f}:2: /: mount skips it: the root file system, as for `mount -a`\n\
             aoe-fstab: {f}:3: {d}/na: mount skips it unless it is named: noauto\n\
             aoe-fstab: {f}:5: swap: mount skips it: a swap area (swapon's job), as for `mount -a`\n"
        )
    );
    assert!(!stdout(&out).contains(":1:"), "{}", stdout(&out));
    assert!(!stdout(&out).contains(":5:"), "{}", stdout(&out));
}

#[test]
fn the_root_file_system_is_never_mounted_or_unmounted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // `/`, `root`, and mount points that resolve to / (`..`s, a link).
    std::os::unix::fs::symlink("/", dir.path().join("to-root")).unwrap();
    let up = "/..".repeat(dir.path().components().count() - 1);
    let root_fs = write(
        dir.path(),
        "root-tmpfs",
        format!(
            "tmpfs / tmpfs size=1m\nx root tmpfs size=1m\n\
             y {d}{up} tmpfs size=1m\nz {d}/to-root tmpfs\n"
        ),
    );
    // Not named, what resolves to / is refused too (mount -a would try).
    let out = run(&root_fs, &["mount", "--dry-run"]);
    assert_exit(&out, 1);
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out)
            .matches("the root file system is never mounted")
            .count(),
        2,
        "{}",
        stderr(&out)
    );
    // Named, the same: nothing over /.
    for name in ["/", "root"] {
        let out = run(&root_fs, &["mount", "--dry-run", name]);
        assert_exit(&out, 1);
        assert_eq!(stdout(&out), "", "{name}");
        assert!(
            stderr(&out).ends_with(": the root file system is never mounted\n"),
            "{name}: {}",
            stderr(&out)
        );
    }
    // Even as it is mounted here (its own source on /): only the rule keeps it.
    let table = std::fs::read("/proc/self/mounts").unwrap();
    let root = aoe_fstab::fstab::parse(&table)
        .entries
        .into_iter()
        .rfind(|e| e.target == b"/")
        .expect("/ is mounted");
    let root_file = write(
        dir.path(),
        "root",
        format!(
            "{src} / {fs} defaults\n{src} {d}/to-root {fs} defaults\n{src} // {fs}\n",
            src = aoe_fstab::fstab::mangle(&root.source),
            fs = aoe_fstab::fstab::mangle(&root.fstype)
        ),
    );
    assert_exit(&run(&root_file, &["mounted"]), 0);
    let link = format!("{d}/to-root");
    for args in [
        &["umount", "--dry-run"][..],
        &["umount", "--dry-run", "/"],
        &["umount", "--dry-run", "//", &link],
    ] {
        let out = run(&root_file, args);
        assert_exit(&out, 0);
        assert_eq!(stdout(&out), "", "{args:?}");
    }
}

/// The words `dash` makes of a line: `printf '%s\0' LINE`.
fn dash_words(line: &str) -> Vec<Vec<u8>> {
    let out = std::process::Command::new("dash")
        .arg("-c")
        .arg(format!("printf '%s\\0' {line}"))
        .output()
        .expect("dash is installed");
    assert!(out.status.success(), "{line}");
    let mut words: Vec<Vec<u8>> = out.stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
    words.pop();
    words
}

#[test]
fn dry_run_prints_posix_sh_that_dash_reads_back_exactly() {
    // ESC, a newline, a tab, a byte that is not UTF-8, quotes and a dash.
    let (_dir, file) = fstab(
        b"-src\\033[2J /mnt/new\\012line tmpfs size=1m,x-a='\\011'\n\
          src2 /mnt/caf\\351\\134 tmpfs\n",
    );
    let out = run(&file, &["mount", "--dry-run"]);
    assert_exit(&out, 0);
    let text = String::from_utf8(out.stdout).expect("printable output");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "one line a command: {text:?}");
    let syntax = std::process::Command::new("sh")
        .args(["-n", "-c", &text])
        .status()
        .unwrap();
    assert!(syntax.success(), "sh -n: {text}");
    let words = |l: &[&[u8]]| l.iter().map(|w| w.to_vec()).collect::<Vec<_>>();
    assert_eq!(
        dash_words(lines[0]),
        words(&[
            b"mount",
            b"-t",
            b"tmpfs",
            b"-o",
            b"size=1m,x-a='\t'",
            b"--",
            b"-src\x1b[2J",
            b"/mnt/new\nline"
        ])
    );
    assert_eq!(
        dash_words(lines[1]),
        words(&[b"mount", b"-t", b"tmpfs", b"--", b"src2", b"/mnt/caf\xe9\\"])
    );
}

#[test]
fn control_characters_from_input_are_escaped_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let file = write(
        dir.path(),
        "fstab",
        "a /b c d 1\x1b[31m 0\n\
         e\\033]0;x\\007 /m\\012fake\\033[2J tmpfs _netdev\n",
    );
    let f = file.display();
    let out = run(&file, &["list"]);
    assert_eq!(
        stderr(&out),
        format!("aoe-fstab: {f}:1: dump field '1\\x1b[31m' is not a number; line skipped\n")
    );
    let out = run(&file, &["check"]);
    assert_exit(&out, 1);
    assert_eq!(
        stdout(&out),
        format!(
            "{f}:1: dump field '1\\x1b[31m' is not a number\n\
             {f}:2: /m\\nfake\\x1b[2J: mount point does not exist\n"
        )
    );
    // list prints fstab lines: control characters as `\NNN`, as written.
    let out = run(&file, &["list"]);
    assert_eq!(
        stdout(&out),
        "e\\033]0;x\\007 /m\\012fake\\033[2J tmpfs _netdev 0 0\n"
    );
    let out = run(&file, &["mount", "--dry-run", "/x\x1b[2J\ny"]);
    assert_exit(&out, 2);
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {f}:1: dump field '1\\x1b[31m' is not a number; line skipped\n\
             aoe-fstab: no entry for /x\\x1b[2J\\ny in {f}\n"
        )
    );
    let missing = dir.path().join("gone\x1b[2J");
    let out = run(&missing, &["list"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).starts_with(&format!("aoe-fstab: cannot read {d}/gone\\x1b[2J: ")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_huge_file_is_refused_with_its_limit() {
    let (_dir, file) = fstab(vec![b'#'; (4 << 20) + 1]);
    let out = run(&file, &["list"]);
    assert_exit(&out, 2);
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: cannot read {}: more than 4 MiB: not an fstab file\n",
            file.display()
        )
    );
    // The limit itself is fine.
    let (_dir, file) = fstab(vec![b'#'; 4 << 20]);
    assert_exit(&run(&file, &["list"]), 0);
}

#[test]
fn bad_line_warnings_stop_after_five() {
    let (_dir, file) = fstab("bad\n".repeat(12) + "tmpfs /t tmpfs\n");
    let out = run(&file, &["list"]);
    assert_exit(&out, 0);
    let f = file.display();
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 6, "{err}");
    assert_eq!(
        lines[4],
        format!("aoe-fstab: {f}:5: expected at least 3 fields (source, target, type), found 1; line skipped")
    );
    assert_eq!(
        lines[5],
        format!("aoe-fstab: {f}: 7 more bad line(s) skipped (`aoe-fstab check` lists them all)")
    );
    // check lists every one.
    let out = run(&file, &["check"]);
    assert_eq!(
        stdout(&out).matches("expected at least 3 fields").count(),
        12
    );
}

#[test]
fn a_closed_pipe_keeps_checks_verdict() {
    let dir = tempfile::tempdir().unwrap();
    // Enough problems to overflow the pipe: the write meets a closed reader.
    let file = write(dir.path(), "fstab", "bad\n".repeat(20_000));
    let mut child = spawn_piped(with_file(&file).arg("check"));
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 1);
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_symlink_to_a_regular_file_is_read() {
    let (dir, file) = fstab("tmpfs /t tmpfs rw 0 0\n");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let out = run(&link, &["list"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "tmpfs /t tmpfs rw 0 0\n");
}
