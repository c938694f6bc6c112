//! Real mounts: tmpfs entries under a per-test temp dir (tests run as root).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{assert_exit, assert_stderr_has, run, stderr, stdout, with_file, write};

/// A temp dir whose mounts are lazily unmounted when the test ends, even
/// when it fails.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("aoe-fstab-test")
                .tempdir()
                .unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `fstab` in the dir with `text` in it; returns its path.
    fn fstab(&self, text: &str) -> PathBuf {
        write(self.path(), "fstab", text)
    }

    /// Mount points at or below the dir, deepest first.
    fn mounts(&self) -> Vec<PathBuf> {
        let table = std::fs::read("/proc/self/mounts").unwrap();
        let mut found: Vec<PathBuf> = aoe_fstab::fstab::parse(&table)
            .entries
            .into_iter()
            .map(|e| PathBuf::from(String::from_utf8(e.target).unwrap()))
            .filter(|t| t.starts_with(self.path()))
            .collect();
        found.sort_by_key(|t| std::cmp::Reverse(t.as_os_str().len()));
        found
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for target in self.mounts() {
            let _ = Command::new("umount").arg("-l").arg(&target).status();
        }
    }
}

/// Independent of our parser: util-linux's `mountpoint`.
fn is_mount_point(path: &Path) -> bool {
    Command::new("mountpoint")
        .arg("-q")
        .arg(path)
        .status()
        .unwrap()
        .success()
}

fn fs_type(path: &Path) -> String {
    let out = Command::new("findmnt")
        .args(["-n", "-o", "FSTYPE", "--mountpoint"])
        .arg(path)
        .output()
        .unwrap();
    stdout(&out).trim().to_owned()
}

fn mount_count(path: &Path) -> usize {
    let out = Command::new("findmnt")
        .args(["-n", "-o", "TARGET", "--mountpoint"])
        .arg(path)
        .output()
        .unwrap();
    stdout(&out).lines().count()
}

#[test]
fn mounts_in_order_skips_noauto_and_unmounts() {
    let s = Scratch::new();
    let d = s.path().display();
    let file = write(
        s.path(),
        "fstab-aoe",
        format!(
            "# AoE shares\n\
             aoe-a {d}/a tmpfs size=1m,_netdev 0 0\n\
             aoe-b {d}/with\\040space tmpfs size=1m,_netdev 0 0\n\
             aoe-c {d}/c tmpfs size=1m,noauto\n"
        ),
    );
    let out = run(&file, &["mount", "--mkdir"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "");
    assert!(is_mount_point(&s.join("a")));
    assert_eq!(fs_type(&s.join("a")), "tmpfs");
    assert!(is_mount_point(&s.join("with space")));
    assert!(!is_mount_point(&s.join("c")), "noauto must not be mounted");

    let out = run(&file, &["mounted"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!(
            "aoe-a {d}/a tmpfs size=1m,_netdev 0 0\naoe-b {d}/with\\040space tmpfs size=1m,_netdev 0 0\n"
        )
    );

    let out = run(&file, &["mounted", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets: Vec<&str> = doc["filesystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|fs| fs["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, [format!("{d}/a"), format!("{d}/with space")]);

    // Named, a noauto entry is mounted.
    assert_exit(&run(&file, &["mount", "--mkdir", &format!("{d}/c/")]), 0);
    assert!(is_mount_point(&s.join("c")));

    let out = run(&file, &["umount", "--dry-run"]);
    assert_eq!(
        stdout(&out),
        format!("umount -- {d}/c\numount -- '{d}/with space'\numount -- {d}/a\n")
    );
    assert_exit(&run(&file, &["umount"]), 0);
    assert!(s.mounts().is_empty(), "left mounted: {:?}", s.mounts());

    let out = run(&file, &["mounted"]);
    assert_exit(&out, 1);
    assert_eq!(stdout(&out), "");
    // Nothing mounted: nothing to do.
    assert_exit(&run(&file, &["umount"]), 0);
}

fn mount_tmpfs(source: &str, target: &Path) {
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", source])
        .arg(target)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The sources mounted on `path`, bottom first (util-linux's view).
fn sources_on(path: &Path) -> Vec<String> {
    let out = Command::new("findmnt")
        .args(["-n", "-o", "SOURCE", "--mountpoint"])
        .arg(path)
        .output()
        .unwrap();
    stdout(&out).lines().map(str::to_owned).collect()
}

#[test]
fn already_mounted_entries_are_skipped() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("a")).unwrap();
    std::fs::create_dir(s.join("b")).unwrap();
    mount_tmpfs("x", &s.join("a"));
    // b twice: what this run mounted counts as mounted too.
    let file = s.fstab(&format!(
        "x {d}/a tmpfs size=1m 0 0\ny {d}/b tmpfs size=1m 0 0\ny {d}/b/ tmpfs size=1m\n"
    ));
    let out = run(&file, &["mount", "--dry-run"]);
    assert_eq!(
        stdout(&out),
        format!("mount -t tmpfs -o size=1m -- y {d}/b\n"),
        "what a real run does: b once"
    );
    assert_exit(&run(&file, &["mount"]), 0);
    assert_eq!(mount_count(&s.join("a")), 1, "mounted twice");
    assert_eq!(mount_count(&s.join("b")), 1, "mounted twice");
}

/// As `mount -a`: an entry is mounted when its own source is on its mount
/// point, not when anything is. And what is not ours is never unmounted.
#[test]
fn another_file_system_on_the_mount_point_is_not_the_entry() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("m")).unwrap();
    mount_tmpfs("foreign", &s.join("m"));
    let file = s.fstab(&format!("aoe {d}/m tmpfs size=1m,_netdev\n"));
    assert_exit(&run(&file, &["mounted"]), 1);
    // Not ours: umount leaves it alone.
    let out = run(&file, &["umount"]);
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "");
    assert_eq!(sources_on(&s.join("m")), ["foreign"]);
    // mount puts the entry on top, as mount -a does.
    assert_exit(&run(&file, &["mount"]), 0);
    assert_eq!(sources_on(&s.join("m")), ["foreign", "aoe"]);
    assert_exit(&run(&file, &["mounted"]), 0);
    // Another one on top of ours: umount would take that one; refused.
    mount_tmpfs("on-top", &s.join("m"));
    let out = run(&file, &["umount"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {}:1: cannot unmount {d}/m: on-top is mounted on top of aoe\n",
            file.display()
        )
    );
    assert_eq!(sources_on(&s.join("m")), ["foreign", "aoe", "on-top"]);
    let status = Command::new("umount").arg(s.join("m")).status().unwrap();
    assert!(status.success());
    assert_exit(&run(&file, &["umount"]), 0);
    assert_eq!(sources_on(&s.join("m")), ["foreign"], "only ours went");
}

#[test]
fn a_failing_entry_does_not_stop_the_rest() {
    let s = Scratch::new();
    let d = s.path().display();
    for dir in ["a", "b", "d"] {
        std::fs::create_dir(s.join(dir)).unwrap();
    }
    let file = s.fstab(&format!(
        "one {d}/a tmpfs size=1m\n\
         two {d}/b nosuchfs-aoe rw\n\
         three {d}/c tmpfs size=1m\n\
         four {d}/d tmpfs size=1m\n"
    ));
    let out = run(&file, &["mount"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with(&format!(
            "aoe-fstab: {}:2: cannot mount two on {d}/b: ",
            file.display()
        )),
        "{err}"
    );
    // mount's own reason follows, whatever words it uses.
    assert!(
        lines[0].len()
            > format!(
                "aoe-fstab: {}:2: cannot mount two on {d}/b: ",
                file.display()
            )
            .len()
                + 5,
        "{err}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "aoe-fstab: {}:3: cannot mount three on {d}/c: ",
            file.display()
        )),
        "{err}"
    );
    assert!(is_mount_point(&s.join("a")));
    assert!(!is_mount_point(&s.join("b")));
    assert!(!s.join("c").exists(), "no --mkdir, no mount point");
    assert!(is_mount_point(&s.join("d")));
}

#[test]
fn nested_entries_unmount_in_reverse_order() {
    let s = Scratch::new();
    let d = s.path().display();
    let file = s.fstab(&format!(
        "outer {d}/x tmpfs size=1m\ninner {d}/x/inner tmpfs size=1m\n"
    ));
    assert_exit(&run(&file, &["mount", "--mkdir"]), 0);
    assert!(
        is_mount_point(&s.join("x/inner")),
        "inner is mounted on top of outer"
    );
    // Unmounting the outer first would fail: target is busy.
    assert_exit(&run(&file, &["umount"]), 0);
    assert!(s.mounts().is_empty(), "left mounted: {:?}", s.mounts());
}

#[test]
fn dry_run_prints_commands_and_changes_nothing() {
    let s = Scratch::new();
    let d = s.path().display();
    let file = s.fstab(&format!(
        "src {d}/new\\040dir tmpfs size=1m,_netdev\nsrc2 {d}/n2 tmpfs\n"
    ));
    let out = run(&file, &["mount", "--mkdir", "--dry-run"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!(
            "mkdir -p -- '{d}/new dir'\n\
             mount -t tmpfs -o size=1m,_netdev -- src '{d}/new dir'\n\
             mkdir -p -- {d}/n2\n\
             mount -t tmpfs -- src2 {d}/n2\n"
        )
    );
    assert!(!s.join("new dir").exists());
    assert!(s.mounts().is_empty());
}

#[test]
fn fields_never_reach_a_shell() {
    let s = Scratch::new();
    let d = s.path().display();
    let marker = s.join("pwned");
    let file = s.fstab(&format!(
        "$(touch\\040{d}/pwned) {d}/m`touch\\040pwned`;x tmpfs size=1m\n"
    ));
    assert_exit(&run(&file, &["mount", "--mkdir"]), 0);
    let literal = s.join("m`touch pwned`;x");
    assert!(
        is_mount_point(&literal),
        "{} not mounted",
        literal.display()
    );
    assert!(!marker.exists(), "a field was run as a command");
}

#[test]
fn waits_for_a_device_node_to_appear() {
    let s = Scratch::new();
    let d = s.path().display();
    let node = s.join("etherd/e7.1");
    let file = s.fstab(&format!("{d}/etherd/e7.1 {d}/m tmpfs size=1m,_netdev\n"));
    let child = with_file(&file)
        .args(["mount", "--mkdir", "--wait-devices", "20s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The node (and its directory) appear once aoe-fstab is watching.
    let pid = child.id().to_string();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !aoe_fstab::devwait::watched(&pid, s.path()) {
        assert!(
            std::time::Instant::now() < end,
            "aoe-fstab never watched {d}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    std::fs::create_dir(s.join("etherd")).unwrap();
    std::fs::write(&node, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    assert!(is_mount_point(&s.join("m")));
}

#[test]
fn a_device_that_never_appears_fails_in_bounded_time() {
    let s = Scratch::new();
    let d = s.path().display();
    let file = s.fstab(&format!(
        "{d}/etherd/e9.9 {d}/m tmpfs size=1m\ntmpfs {d}/other tmpfs size=1m\n"
    ));
    let out = run(&file, &["mount", "--mkdir", "--wait-devices", "200ms"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        format!("aoe-fstab: {}:1: cannot mount {d}/etherd/e9.9 on {d}/m: {d}/etherd/e9.9 did not appear within 200ms\n", file.display())
    );
    assert!(!is_mount_point(&s.join("m")));
    assert!(
        is_mount_point(&s.join("other")),
        "the rest is still mounted"
    );
}

#[test]
fn a_busy_entry_fails_to_unmount_and_the_rest_still_are() {
    let s = Scratch::new();
    let d = s.path().display();
    let file = s.fstab(&format!(
        "one {d}/a tmpfs size=1m\ntwo {d}/b tmpfs size=1m\nthree {d}/c tmpfs size=1m\n"
    ));
    assert_exit(&run(&file, &["mount", "--mkdir"]), 0);
    // An open file keeps b busy.
    let busy = std::fs::File::create(s.join("b/open")).unwrap();
    let out = run(&file, &["umount"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "aoe-fstab: {}:2: cannot unmount {d}/b: ",
            file.display()
        )) && err.lines().count() == 1,
        "{err}"
    );
    assert!(err.contains("busy"), "umount's reason: {err}");
    assert!(is_mount_point(&s.join("b")));
    assert!(!is_mount_point(&s.join("a")) && !is_mount_point(&s.join("c")));
    drop(busy);
    assert_exit(&run(&file, &["umount"]), 0);
    assert!(s.mounts().is_empty(), "left mounted: {:?}", s.mounts());
}

#[test]
fn umount_targets_unmounts_only_those() {
    let s = Scratch::new();
    let d = s.path().display();
    let file = s.fstab(&format!(
        "one {d}/a tmpfs size=1m\ntwo {d}/b tmpfs size=1m\nthree {d}/c tmpfs size=1m\n"
    ));
    assert_exit(&run(&file, &["mount", "--mkdir"]), 0);
    let out = run(
        &file,
        &["umount", "--dry-run", &format!("{d}/c/"), &format!("{d}/a")],
    );
    assert_eq!(
        stdout(&out),
        format!("umount -- {d}/c\numount -- {d}/a\n"),
        "reverse file order"
    );
    let out = run(&file, &["umount", &format!("{d}/c/"), &format!("{d}/a")]);
    assert_exit(&out, 0);
    assert!(!is_mount_point(&s.join("a")) && !is_mount_point(&s.join("c")));
    assert!(is_mount_point(&s.join("b")), "not named, still mounted");
    let out = run(&file, &["umount", &format!("{d}/nope")]);
    assert_exit(&out, 2);
    assert!(is_mount_point(&s.join("b")));
}

#[test]
fn mount_points_behind_symlinks() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("real")).unwrap();
    std::os::unix::fs::symlink(s.join("real"), s.join("link")).unwrap();
    let file = s.fstab(&format!("src {d}/link tmpfs size=1m\n"));
    assert_exit(&run(&file, &["mount"]), 0);
    // The kernel reports the real path; we still know the entry is mounted.
    assert!(is_mount_point(&s.join("real")));
    let out = run(&file, &["mounted"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("src {d}/link tmpfs size=1m 0 0\n"));
    // Not mounted twice, and unmounted through the link.
    assert_eq!(run(&file, &["mount", "--dry-run"]).stdout, b"");
    assert_exit(&run(&file, &["mount"]), 0);
    assert_eq!(mount_count(&s.join("real")), 1, "mounted twice");
    assert_eq!(
        stdout(&run(&file, &["umount", "--dry-run"])),
        format!("umount -- {d}/link\n")
    );
    assert_exit(&run(&file, &["umount"]), 0);
    assert!(s.mounts().is_empty(), "left mounted: {:?}", s.mounts());
    assert_exit(&run(&file, &["mounted"]), 1);
}

#[test]
fn mounts_reason_is_shown_with_control_characters_escaped() {
    let s = Scratch::new();
    let d = s.path().display();
    // An unknown type: mount fails and names the mount point in its reason
    // (the path, not the /proc/PID/fd/N it was given).
    std::fs::create_dir(s.join("gone\x1b[2J")).unwrap();
    let file = s.fstab(&format!("src {d}/gone\\033[2J nosuchfs-aoe size=1m\n"));
    let out = run(&file, &["mount"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "aoe-fstab: {}:1: cannot mount src on {d}/gone\\x1b[2J: ",
            file.display()
        )),
        "{err}"
    );
    assert!(!err.contains('\x1b'), "{err:?}");
    assert!(
        err.matches("\\x1b").count() >= 2,
        "mount's reason names it too: {err}"
    );
}

/// PARTUUID= and PARTLABEL= sources are evaluated as mount(8) evaluates
/// them (findfs: udev's /dev/disk links first): checked by `check`, waited
/// for by `--wait-devices`, and mounted through them. In a
/// mount namespace whose /dev is a directory of the test's, where udev's
/// links can be made (the host's /dev is left alone).
#[test]
fn partuuid_and_partlabel_sources_are_their_dev_disk_links() {
    let s = Scratch::new();
    let d = s.path().display();
    let dev = s.join("dev");
    std::fs::create_dir_all(dev.join("disk/by-partuuid")).unwrap();
    // mount(8) resolves a tag to a block device: a copy of a loop node.
    for node in ["null", "loop0"] {
        let status = Command::new("cp")
            .args(["-a", &format!("/dev/{node}")])
            .arg(dev.join(node))
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::os::unix::fs::symlink("../../loop0", dev.join("disk/by-partuuid/4f3a-01")).unwrap();
    let file = s.fstab(&format!(
        "PARTUUID=4f3a-01 {d}/p tmpfs size=1m,_netdev\n\
         PARTLABEL=aoe-data {d}/l tmpfs size=1m,_netdev\n"
    ));
    let aoe = env!("CARGO_BIN_EXE_aoe-fstab");
    let script = r#"
        mount --bind "$1" /dev || exit 9
        "$2" --file "$3" check; echo "check=$?"
        "$2" --file "$3" mount --mkdir --wait-devices 20s & echo $! >"$4"
        wait $!; echo "mount=$?"
        findmnt -n -o SOURCE,TARGET --target "$5/p"
        findmnt -n -o SOURCE,TARGET --target "$5/l"
    "#;
    let pidfile = s.join("pid");
    let Some(mut cmd) = crate::in_mount_namespace(
        script,
        &[
            dev.as_os_str(),
            aoe.as_ref(),
            file.as_os_str(),
            pidfile.as_os_str(),
            s.path().as_os_str(),
        ],
    ) else {
        return;
    };
    let child = crate::spawn_piped(&mut cmd);
    // The label's link appears once aoe-fstab waits for it (watching /dev/disk).
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
        if !pid.trim().is_empty() && aoe_fstab::devwait::watched(pid.trim(), &dev.join("disk")) {
            break;
        }
        assert!(std::time::Instant::now() < end, "aoe-fstab never waited");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    std::fs::create_dir(dev.join("disk/by-partlabel")).unwrap();
    std::os::unix::fs::symlink("../../loop0", dev.join("disk/by-partlabel/aoe-data")).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    let f = file.display();
    assert_eq!(
        text,
        format!(
            "{f}:1: {d}/p: mount point does not exist\n\
             {f}:2: {d}/l: mount point does not exist\n\
             {f}:2: {d}/l: no device with PARTLABEL=aoe-data\n\
             check=1\n\
             mount=0\n\
             /dev/loop0 {d}/p\n\
             /dev/loop0 {d}/l\n"
        ),
        "{}",
        stderr(&out)
    );
}

/// mount(8) follows links in a mount point: one another user could have
/// set up (their link in a sticky directory, their directory, a directory
/// anyone may write in) is refused by default, judged right before the
/// mount; `--trust-mount-points` mounts there all the same.
#[test]
fn mount_points_another_user_controls_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let d = s.path().display();
    let perm = std::fs::Permissions::from_mode;
    std::fs::set_permissions(s.path(), perm(0o755)).unwrap();
    std::fs::create_dir(s.join("pub")).unwrap();
    std::fs::set_permissions(s.join("pub"), perm(0o1777)).unwrap();
    std::fs::create_dir(s.join("victim")).unwrap();
    std::os::unix::fs::symlink(s.join("victim"), s.join("pub/m")).unwrap();
    std::os::unix::fs::lchown(s.join("pub/m"), Some(65534), Some(65534)).unwrap();
    std::fs::create_dir(s.join("theirs")).unwrap();
    std::os::unix::fs::chown(s.join("theirs"), Some(65534), Some(65534)).unwrap();
    std::fs::create_dir(s.join("open")).unwrap();
    std::fs::set_permissions(s.join("open"), perm(0o777)).unwrap();
    for (point, why) in [
        (
            "pub/m",
            format!("{d}/pub/m is a symlink owned by uid 65534"),
        ),
        (
            "theirs",
            format!("directory {d}/theirs is owned by uid 65534"),
        ),
        ("open", format!("directory {d}/open is writable by anyone")),
    ] {
        let file = s.fstab(&format!("src {d}/{point} tmpfs size=1m\n"));
        let out = run(&file, &["mount"]);
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains(&format!("mount point refused: {why}")),
            "{point}: {}",
            stderr(&out)
        );
        assert!(s.mounts().is_empty(), "{point}: mounted {:?}", s.mounts());
    }
    // --mkdir makes nothing in a directory anyone may write in.
    let file = s.fstab(&format!("src {d}/open/new tmpfs size=1m\n"));
    assert_exit(&run(&file, &["mount", "--mkdir"]), 1);
    assert!(!s.join("open/new").exists());
    // The option loosens the check.
    let file = s.fstab(&format!("src {d}/pub/m tmpfs size=1m\n"));
    assert_exit(&run(&file, &["mount", "--trust-mount-points"]), 0);
    assert!(is_mount_point(&s.join("victim")));
    assert_exit(&run(&file, &["umount"]), 0);
}

/// The system mount(8) that a wrapper hands on to.
fn real_mount() -> &'static str {
    ["/usr/bin/mount", "/bin/mount"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("util-linux mount")
}

/// A [`wrapper`] `mount` that runs the shell lines `before`, then the real
/// mount(8) with its arguments.
fn mount_first(s: &Scratch, before: &str) -> PathBuf {
    let script = format!("#!/bin/sh\n{before}exec {} \"$@\"\n", real_mount());
    wrapper(s, "mount", &script)
}

/// A directory holding a `mount` (or other) wrapper script, for the front
/// of PATH. Installed by `install`, so that no descriptor of ours open for
/// writing it can leak into a child forked meanwhile (ETXTBSY).
fn wrapper(s: &Scratch, name: &str, script: &str) -> PathBuf {
    let bin = s.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let text = write(s.path(), &format!("{name}.sh"), script);
    let status = Command::new("install")
        .args(["-m", "755"])
        .arg(&text)
        .arg(bin.join(name))
        .status()
        .unwrap();
    assert!(status.success());
    bin
}

/// `aoe-fstab --file FILE ARGS...` with `bin` first on PATH and `SCRATCH`
/// naming the test's dir.
fn run_with_path(s: &Scratch, bin: &Path, file: &Path, args: &[&str]) -> std::process::Output {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.to_owned()];
    paths.extend(std::env::split_paths(&path));
    with_file(file)
        .args(args)
        .env("PATH", std::env::join_paths(paths).unwrap())
        .env("SCRATCH", s.path())
        .env("BLKID_FILE", "/dev/null")
        .output()
        .unwrap()
}

/// The time-of-check/time-of-use race, won by the attacker every time: a
/// `mount` that swaps the checked mount point for a link to another
/// directory before the real mount(8) runs. The file system still lands on
/// the directory that was checked (held open and handed over as
/// /proc/PID/fd/N), never where the link points; with
/// --trust-mount-points too (the directory is held open all the same).
#[test]
fn a_mount_point_swapped_for_a_link_after_the_check_is_not_followed() {
    for args in [&["mount"][..], &["mount", "--trust-mount-points"]] {
        let s = Scratch::new();
        let d = s.path().display();
        std::fs::create_dir(s.join("m")).unwrap();
        std::fs::create_dir(s.join("victim")).unwrap();
        let bin = mount_first(
            &s,
            "mv \"$SCRATCH/m\" \"$SCRATCH/m.moved\" || exit 99\n\
             ln -s \"$SCRATCH/victim\" \"$SCRATCH/m\" || exit 99\n",
        );
        let file = s.fstab(&format!("swapped-aoe {d}/m tmpfs size=1m\n"));
        let out = run_with_path(&s, &bin, &file, args);
        assert!(
            std::fs::symlink_metadata(s.join("m"))
                .unwrap()
                .file_type()
                .is_symlink(),
            "{args:?}: the wrapper swapped nothing"
        );
        assert!(
            !is_mount_point(&s.join("victim")),
            "{args:?}: mounted through the link"
        );
        assert_exit(&out, 0);
        assert!(is_mount_point(&s.join("m.moved")), "{args:?}");
        assert_eq!(sources_on(&s.join("m.moved")), ["swapped-aoe"], "{args:?}");
    }
}

/// Pinned mounts look like any other: the kernel records the real path,
/// libmount writes no utab line under /proc/PID/fd/N, and `mounted` and
/// `umount` find them.
#[test]
fn pinned_mounts_are_recorded_under_their_real_path() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("p")).unwrap();
    let file = s.fstab(&format!(
        "pinned-aoe-{} {d}/p tmpfs size=1m,_netdev\n",
        std::process::id()
    ));
    assert_exit(&run(&file, &["mount"]), 0);
    let table = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("pinned-aoe-{} ", std::process::id())))
        .expect("in /proc/self/mounts");
    assert!(
        line.starts_with(&format!("pinned-aoe-{} {d}/p tmpfs ", std::process::id())),
        "{line}"
    );
    let utab = std::fs::read_to_string("/run/mount/utab").unwrap_or_default();
    assert!(!utab.contains("TARGET=/proc/"), "{utab}");
    let out = run(&file, &["mounted"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!(
            "pinned-aoe-{} {d}/p tmpfs size=1m,_netdev 0 0\n",
            std::process::id()
        )
    );
    assert_exit(&run(&file, &["umount"]), 0);
    assert!(s.mounts().is_empty(), "left mounted: {:?}", s.mounts());
}

/// A missing mount point is our own error, not mount's: it could be made,
/// as a link to anywhere, between a check and the mount.
#[test]
fn a_missing_mount_point_without_mkdir_is_a_clear_error() {
    let s = Scratch::new();
    let d = s.path().display();
    let file = s.fstab(&format!("src {d}/missing tmpfs size=1m\n"));
    let out = run(&file, &["mount"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {}:1: cannot mount src on {d}/missing: mount point does not exist (--mkdir creates it)\n",
            file.display()
        )
    );
    assert!(!s.join("missing").exists());
    assert!(s.mounts().is_empty());
}

/// Whether a process with this pid runs `cmdline` (NUL-separated).
fn runs(pid: &str, cmdline: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == cmdline)
}

/// A `mount` that never exits (TERM ignored, as a process stuck in the
/// kernel would not die of it) is given up on after --mount-timeout and
/// killed; the next entry is still mounted, and nothing is left running.
#[test]
fn a_mount_that_never_finishes_is_given_up_and_killed() {
    let s = Scratch::new();
    let d = s.path().display();
    for dir in ["a", "b"] {
        std::fs::create_dir(s.join(dir)).unwrap();
    }
    let bin = mount_first(
        &s,
        "for arg; do\n\
         if [ \"$arg\" = hang-aoe ]; then\n\
         echo $$ >\"$SCRATCH/hung\"\n\
         trap '' TERM\n\
         exec sleep 1000\n\
         fi\n\
         done\n",
    );
    let file = s.fstab(&format!(
        "hang-aoe {d}/a tmpfs size=1m\n\
         two {d}/b tmpfs size=1m\n"
    ));
    let out = run_with_path(&s, &bin, &file, &["mount", "--mount-timeout", "300ms"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {}:1: cannot mount hang-aoe on {d}/a: mount did not finish within 300ms\n",
            file.display()
        )
    );
    assert!(!is_mount_point(&s.join("a")));
    assert!(is_mount_point(&s.join("b")));
    let pid = std::fs::read_to_string(s.join("hung")).unwrap();
    assert!(
        !runs(pid.trim(), b"sleep\x001000\x00"),
        "the hung mount {pid} is still running"
    );
}

/// The same for umount, with --umount-timeout.
#[test]
fn an_umount_that_never_finishes_is_given_up_and_killed() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("a")).unwrap();
    let file = s.fstab(&format!("src {d}/a tmpfs size=1m\n"));
    assert_exit(&run(&file, &["mount"]), 0);
    let bin = wrapper(
        &s,
        "umount",
        "#!/bin/sh\necho $$ >\"$SCRATCH/hung\"\nexec sleep 1000\n",
    );
    let out = run_with_path(&s, &bin, &file, &["umount", "--umount-timeout", "300ms"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {}:1: cannot unmount {d}/a: umount did not finish within 300ms\n",
            file.display()
        )
    );
    assert!(is_mount_point(&s.join("a")));
    let pid = std::fs::read_to_string(s.join("hung")).unwrap();
    assert!(!runs(pid.trim(), b"sleep\x001000\x00"), "{pid} still runs");
}

/// A `mount` that writes 64 MiB on stderr before failing: aoe-fstab keeps
/// the start of it only (run within a 40 MiB address space, which holding
/// it all would exceed), reads the rest so that the writer never blocks,
/// and reports the first line.
#[test]
fn a_flood_on_mounts_stderr_is_bounded_and_its_first_line_reported() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("a")).unwrap();
    let bin = wrapper(
        &s,
        "mount",
        "#!/bin/sh\n\
         echo 'mount: first line of a flood' >&2\n\
         yes 'more of it, and more of it, and more of it' | head -c 64M >&2\n\
         exit 32\n",
    );
    let file = s.fstab(&format!("src {d}/a tmpfs size=1m\n"));
    let aoe = env!("CARGO_BIN_EXE_aoe-fstab");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-c", "ulimit -v 40960 && exec \"$@\"", "sh", aoe, "--file"])
        .arg(&file)
        .arg("mount")
        .env("PATH", path)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {}:1: cannot mount src on {d}/a: first line of a flood\n",
            file.display()
        )
    );
}

/// A loop device over an image file, detached when dropped.
struct Loop(String);

impl Loop {
    /// `mkfs.ext4 ARGS` on a fresh image in `s`, attached; `None` (after
    /// `skip`) where mkfs.ext4 or loop devices are missing.
    fn ext4(s: &Scratch, args: &[&str]) -> Option<Self> {
        let image = s.join("ext4.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(8 << 20)
            .unwrap();
        let mkfs = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .args(args)
            .arg(&image)
            .output();
        if !mkfs.as_ref().is_ok_and(|o| o.status.success()) {
            crate::skip(&format!("mkfs.ext4 (e2fsprogs) does not work: {mkfs:?}"));
            return None;
        }
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&image)
            .output()
            .unwrap();
        if !out.status.success() {
            crate::skip(&format!("no loop device: {}", stderr(&out)));
            return None;
        }
        Some(Self(stdout(&out).trim().to_owned()))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

/// A `LABEL=`/`UUID=` source is evaluated as mount(8) evaluates it
/// (libblkid, through findfs), not only through udev's /dev/disk links: in a
/// mount namespace whose /dev holds the loop device and no /dev/disk at all
/// (no udev: a container, a minimal system), an ext4 file system is mounted
/// by its label (with a space, `\040` in the file) and by its UUID, is
/// `mounted`, and is unmounted.
#[test]
fn label_and_uuid_sources_mount_without_udev_links() {
    let s = Scratch::new();
    let d = s.path().display();
    let label = format!("aoe lab {}", std::process::id() % 100_000);
    let uuid = "3f1c2a9e-5b7d-4e21-9a0b-aoe000000001".replace("aoe", "0ae");
    let Some(dev) = Loop::ext4(&s, &["-L", &label, "-U", &uuid]) else {
        return;
    };
    let devdir = s.join("dev");
    std::fs::create_dir(&devdir).unwrap();
    for node in ["/dev/null", dev.0.as_str()] {
        let status = Command::new("cp")
            .args(["-a", node])
            .arg(&devdir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let file = s.fstab(&format!(
        "LABEL={} {d}/bylabel ext4 _netdev 0 0\n\
         UUID={uuid} {d}/byuuid ext4 _netdev 0 0\n",
        label.replace(' ', "\\040")
    ));
    let aoe = env!("CARGO_BIN_EXE_aoe-fstab");
    // No cache of the host's to answer from: what is found is probed.
    let script = r#"
        mount --bind "$1" /dev || exit 9
        test -e /dev/disk && exit 9
        export BLKID_FILE=/dev/null
        "$2" --file "$3" mount --mkdir; echo "mount=$?"
        findmnt -n -o SOURCE,TARGET --mountpoint "$4/bylabel"
        findmnt -n -o SOURCE,TARGET --mountpoint "$4/byuuid"
        "$2" --file "$3" mounted >/dev/null; echo "mounted=$?"
        "$2" --file "$3" umount; echo "umount=$?"
        findmnt -n -o SOURCE,TARGET --mountpoint "$4/bylabel"
        findmnt -n -o SOURCE,TARGET --mountpoint "$4/byuuid"
        "$2" --file "$3" mounted; echo "mounted=$?"
    "#;
    let Some(mut cmd) = crate::in_mount_namespace(
        script,
        &[
            devdir.as_os_str(),
            aoe.as_ref(),
            file.as_os_str(),
            s.path().as_os_str(),
        ],
    ) else {
        return;
    };
    let out = cmd.output().unwrap();
    assert_eq!(
        stdout(&out),
        format!(
            "mount=0\n\
             {dev} {d}/bylabel\n\
             {dev} {d}/byuuid\n\
             mounted=0\n\
             umount=0\n\
             mounted=1\n",
            dev = dev.0
        ),
        "{}",
        stderr(&out)
    );
}

/// A tag with an empty value is refused before anything evaluates it, and
/// a tag no device has is a clear error naming `FILE:LINE`; the next entry
/// is mounted all the same.
#[test]
fn tags_that_name_no_device_are_clear_errors() {
    let s = Scratch::new();
    let d = s.path().display();
    for dir in ["a", "b", "c", "e"] {
        std::fs::create_dir(s.join(dir)).unwrap();
    }
    let none = format!("aoe-none-{}", std::process::id());
    let file = s.fstab(&format!(
        "LABEL= {d}/a tmpfs _netdev\n\
         UUID=\"\" {d}/b tmpfs _netdev\n\
         LABEL={none}/.. {d}/c tmpfs _netdev\n\
         tmpfs {d}/e tmpfs _netdev\n"
    ));
    let f = file.display();
    let out = run(&file, &["mount"]);
    assert_exit(&out, 1);
    let why = "names no device (a tag's value is never empty)";
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {f}:1: cannot mount LABEL= on {d}/a: LABEL= {why}\n\
             aoe-fstab: {f}:2: cannot mount UUID=\"\" on {d}/b: UUID=\"\" {why}\n\
             aoe-fstab: {f}:3: cannot mount LABEL={none}/.. on {d}/c: no device with LABEL={none}/..\n"
        )
    );
    assert_eq!(s.mounts(), [s.join("e")]);
    // What a real run would do: refused in --dry-run too.
    let out = run(&file, &["umount"]);
    assert_exit(&out, 0);
    let out = run(&file, &["mount", "--dry-run"]);
    assert_exit(&out, 1);
    assert_eq!(
        stdout(&out),
        format!("mount -t tmpfs -o _netdev -- LABEL={none}/.. {d}/c\nmount -t tmpfs -o _netdev -- tmpfs {d}/e\n")
    );
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {f}:1: cannot mount LABEL= on {d}/a: LABEL= {why}\n\
             aoe-fstab: {f}:2: cannot mount UUID=\"\" on {d}/b: UUID=\"\" {why}\n"
        )
    );
    let out = run(&file, &["check"]);
    assert_exit(&out, 1);
    assert_eq!(
        stdout(&out),
        format!(
            "{f}:1: {d}/a: LABEL= {why}\n\
             {f}:2: {d}/b: UUID=\"\" {why}\n\
             {f}:3: {d}/c: no device with LABEL={none}/..\n"
        )
    );
}

/// A label holding `/` (or `.`, `..`) is findfs's and mount(8)'s to
/// evaluate (`mount LABEL=a/b` works): mounted, seen mounted, unmounted.
#[test]
fn labels_with_slashes_and_dots_are_evaluated() {
    let s = Scratch::new();
    let d = s.path().display();
    let label = format!("a/{}/..", std::process::id() % 10000);
    let Some(dev) = Loop::ext4(&s, &["-L", &label]) else {
        return;
    };
    let file = s.fstab(&format!("LABEL={label} {d}/m ext4 _netdev 0 0\n"));
    let out = run_uncached(&file, &["mount", "--mkdir"]);
    assert_exit(&out, 0);
    assert_eq!(sources_on(&s.join("m")), std::slice::from_ref(&dev.0));
    assert_exit(&run_uncached(&file, &["check"]), 0);
    let out = run_uncached(&file, &["mounted"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("LABEL={label} {d}/m ext4 _netdev 0 0\n")
    );
    assert_exit(&run_uncached(&file, &["umount"]), 0);
    assert!(!is_mount_point(&s.join("m")));
}

/// An ext4 file system with a fresh label, mounted on `{s}/m` from
/// `LABEL=...` in `{s}/fstab`: its device, its fstab.
fn mounted_by_label(s: &Scratch, label: &str) -> Option<(Loop, PathBuf)> {
    let dev = Loop::ext4(s, &["-L", label])?;
    let d = s.path().display();
    let file = s.fstab(&format!("LABEL={label} {d}/m ext4 _netdev 0 0\n"));
    assert_exit(&run_uncached(&file, &["mount", "--mkdir"]), 0);
    assert!(is_mount_point(&s.join("m")));
    Some((dev, file))
}

/// `aoe-fstab --file FILE ARGS...` with exactly `path` as PATH.
fn run_with_only_path(path: &str, file: &Path, args: &[&str]) -> std::process::Output {
    with_file(file)
        .args(args)
        .env("PATH", path)
        .env("BLKID_FILE", "/dev/null")
        .output()
        .unwrap()
}

/// `aoe-fstab --file FILE ARGS...` with no blkid cache: findfs probes the
/// devices (a cache probed in the last 200 s, by a test running
/// meanwhile, would not know a fresh loop device).
fn run_uncached(file: &Path, args: &[&str]) -> std::process::Output {
    with_file(file)
        .args(args)
        .env("BLKID_FILE", "/dev/null")
        .output()
        .unwrap()
}

/// cron's PATH (/usr/bin:/bin) has no findfs: it is found in /sbin or
/// /usr/sbin, as mount(8) is; `mounted` and `umount` see the mount.
#[test]
fn findfs_is_found_outside_a_path_without_sbin() {
    let s = Scratch::new();
    let label = format!("aoe-p-{}", std::process::id());
    let Some((_dev, file)) = mounted_by_label(&s, &label) else {
        return;
    };
    let out = run_with_only_path("/usr/bin:/bin", &file, &["mounted"]);
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "");
    let out = run_with_only_path("/usr/bin:/bin", &file, &["umount"]);
    assert_exit(&out, 0);
    assert!(!is_mount_point(&s.join("m")), "{}", stderr(&out));
}

/// findfs that cannot answer (fails, or hangs) is an error for the entry,
/// never "not mounted": `mounted` exits 2 (not 1, "none mounted"),
/// `umount` exits 1 and leaves it mounted, each naming `FILE:LINE`, the tag
/// and findfs's reason; `umount --umount-timeout` bounds findfs too.
#[test]
fn findfs_that_cannot_answer_is_an_error_not_unmounted() {
    let s = Scratch::new();
    let label = format!("aoe-ff-{}", std::process::id());
    let Some((_dev, file)) = mounted_by_label(&s, &label) else {
        return;
    };
    let d = s.path().display();
    let f = file.display();
    let label = format!("LABEL={label}");
    let bin = wrapper(
        &s,
        "findfs",
        "#!/bin/sh\necho 'findfs: broken here' >&2\nexit 2\n",
    );
    let out = run_with_path(&s, &bin, &file, &["mounted"]);
    assert_exit(&out, 2);
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {f}:1: cannot tell whether {d}/m is mounted: cannot evaluate {label}: findfs: broken here\n"
        )
    );
    let out = run_with_path(&s, &bin, &file, &["umount"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        format!("aoe-fstab: {f}:1: cannot unmount {d}/m: cannot evaluate {label}: findfs: broken here\n")
    );
    assert!(is_mount_point(&s.join("m")));
    // `mount` does not take it for unmounted either (and mount it twice).
    let out = run_with_path(&s, &bin, &file, &["mount"]);
    assert_exit(&out, 1);
    assert_stderr_has(&out, &format!("aoe-fstab: {f}:1: cannot mount {label} on {d}/m: cannot evaluate {label}: findfs: broken here"));
    assert_eq!(sources_on(&s.join("m")).len(), 1);
    // One that never answers is given up within --umount-timeout.
    let bin = wrapper(&s, "findfs", "#!/bin/sh\nexec sleep 1000\n");
    let out = run_with_path(&s, &bin, &file, &["umount", "--umount-timeout", "300ms"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        format!("aoe-fstab: {f}:1: cannot unmount {d}/m: cannot evaluate {label}: findfs did not finish within 300ms\n")
    );
    assert!(is_mount_point(&s.join("m")));
}

/// Each tag is evaluated once a run: an entry whose mount point holds
/// another device (so the tag is evaluated to tell them apart) is mounted
/// with the device found then.
#[test]
fn each_tag_is_evaluated_once_a_run() {
    let s = Scratch::new();
    let label = format!("aoe-once-{}", std::process::id());
    let Some(dev) = Loop::ext4(&s, &["-L", &label]) else {
        return;
    };
    let d = s.path().display();
    std::fs::create_dir(s.join("m")).unwrap();
    mount_tmpfs("/aoe-other", &s.join("m"));
    let file = s.fstab(&format!("LABEL={label} {d}/m ext4 _netdev 0 0\n"));
    let bin = wrapper(
        &s,
        "findfs",
        "#!/bin/sh\necho \"$1\" >>\"$SCRATCH/calls\"\nPATH=/usr/sbin:/sbin:$PATH exec findfs \"$@\"\n",
    );
    let out = run_with_path(&s, &bin, &file, &["mount"]);
    assert_exit(&out, 0);
    assert_eq!(
        sources_on(&s.join("m")),
        ["/aoe-other".to_owned(), dev.0.clone()]
    );
    let calls = std::fs::read_to_string(s.join("calls")).unwrap();
    assert_eq!(calls, format!("LABEL={label}\n"));
}

/// A mount(8) that fails (exit 1) before its time is up has its process
/// group killed too: a child it left behind must not mount later.
#[test]
fn a_failed_mount_leaves_nothing_of_it_running() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("a")).unwrap();
    let bin = wrapper(
        &s,
        "mount",
        &format!(
            "#!/bin/sh\n\
             sh -c 'echo $$ >\"$SCRATCH/bg.tmp\"; mv \"$SCRATCH/bg.tmp\" \"$SCRATCH/bg\"\n\
                    sleep 30; touch \"$SCRATCH/acted\"; exec {} \"$@\"' sh \"$@\" </dev/null >/dev/null 2>&1 &\n\
             while ! [ -e \"$SCRATCH/bg\" ]; do sleep 0.01; done\n\
             echo 'mount: failed on purpose' >&2\n\
             exit 1\n",
            real_mount()
        ),
    );
    let file = s.fstab(&format!("late-aoe {d}/a tmpfs size=1m\n"));
    let out = run_with_path(&s, &bin, &file, &["mount"]);
    assert_exit(&out, 1);
    let pid = std::fs::read_to_string(s.join("bg")).expect("the child started");
    let pid = pid.trim();
    // SIGKILL was sent before aoe-fstab exited; its end is waited for.
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alive(pid) && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let left = alive(pid);
    if left {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
    assert!(!left, "mount's child {pid} outlived the failed entry");
    assert!(!s.join("acted").exists());
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {}:1: cannot mount late-aoe on {d}/a: failed on purpose\n",
            file.display()
        )
    );
    assert!(!is_mount_point(&s.join("a")));
}

/// A mount(8) that succeeds keeps what it started (a FUSE daemon, say):
/// only a failed or timed-out one has its process group killed.
#[test]
fn a_successful_mount_keeps_what_it_started() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("a")).unwrap();
    let bin = mount_first(
        &s,
        "sh -c 'echo $$ >\"$SCRATCH/bg.tmp\"; mv \"$SCRATCH/bg.tmp\" \"$SCRATCH/bg\"; exec sleep 30' \
         </dev/null >/dev/null 2>&1 &\n\
         while ! [ -e \"$SCRATCH/bg\" ]; do sleep 0.01; done\n",
    );
    let file = s.fstab(&format!("daemon-aoe {d}/a tmpfs size=1m\n"));
    let out = run_with_path(&s, &bin, &file, &["mount"]);
    let pid = std::fs::read_to_string(s.join("bg")).expect("the child started");
    let pid = pid.trim();
    let kept = alive(pid);
    let _ = Command::new("kill").args(["-KILL", pid]).status();
    assert_exit(&out, 0);
    assert!(is_mount_point(&s.join("a")));
    assert!(kept, "the successful mount's child {pid} was killed");
}

/// A mount(8) that exits while a process it started still holds its
/// stderr open (its stdout, our stderr, to /dev/null: the test's own pipe
/// must not be held): aoe-fstab goes on at once, never waiting for that process
/// to close the pipe (a successful mount's process group is left alone, so
/// the process is still there when aoe-fstab is done).
#[test]
fn a_pipe_held_by_what_mount_left_is_not_waited_for() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("a")).unwrap();
    let bin = mount_first(
        &s,
        "sh -c 'echo $$ >\"$SCRATCH/bg.tmp\"; mv \"$SCRATCH/bg.tmp\" \"$SCRATCH/bg\"; exec sleep 60 >/dev/null' &\n\
         while ! [ -e \"$SCRATCH/bg\" ]; do sleep 0.01; done\n",
    );
    let file = s.fstab(&format!("held-aoe {d}/a tmpfs size=1m\n"));
    let out = run_with_path(&s, &bin, &file, &["mount", "--mount-timeout", "2m"]);
    let pid = std::fs::read_to_string(s.join("bg")).expect("the child started");
    let pid = pid.trim();
    // Had aoe-fstab waited for the pipe to close, the sleep would be over.
    let waited = !alive(pid);
    let _ = Command::new("kill").args(["-KILL", pid]).status();
    assert_exit(&out, 0);
    assert!(
        !waited,
        "aoe-fstab waited for {pid} to close mount's stderr"
    );
    assert!(is_mount_point(&s.join("a")));
}

/// Whether process `pid` is there and not a zombie (its parent reaps it).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(") ").map(|(_, rest)| rest.as_bytes()[0]);
        !matches!(state, Some(b'Z' | b'X'))
    })
}

/// A mount that times out is stopped with all it forked (a mount.TYPE
/// helper, a child of that): the whole process group is killed, so nothing
/// of it can finish the mount after the entry was reported failed.
#[test]
fn a_timed_out_mount_leaves_nothing_of_it_running() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("a")).unwrap();
    // A child that outlives its parent, TERM ignored, and would mount late.
    let bin = wrapper(
        &s,
        "mount",
        &format!(
            "#!/bin/sh\n\
             sh -c 'trap \"\" TERM; echo $$ >\"$SCRATCH/bg.tmp\"; mv \"$SCRATCH/bg.tmp\" \"$SCRATCH/bg\"\n\
                    sleep 30; touch \"$SCRATCH/acted\"; exec {} \"$@\"' sh \"$@\" &\n\
             while ! [ -e \"$SCRATCH/bg\" ]; do sleep 0.01; done\n\
             exec sleep 1000\n",
            real_mount()
        ),
    );
    let file = s.fstab(&format!("late-aoe {d}/a tmpfs size=1m\n"));
    let out = run_with_path(&s, &bin, &file, &["mount", "--mount-timeout", "1s"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        format!(
            "aoe-fstab: {}:1: cannot mount late-aoe on {d}/a: mount did not finish within 1s\n",
            file.display()
        )
    );
    let pid = std::fs::read_to_string(s.join("bg")).expect("the child started");
    let pid = pid.trim();
    let left = alive(pid);
    if left {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
    assert!(!left, "mount's child {pid} outlived the entry");
    assert!(!s.join("acted").exists());
    assert!(!is_mount_point(&s.join("a")));
}

/// mount(8) gets the mount point as /proc/PID/fd/N of aoe-fstab's, not as
/// an inherited descriptor: nothing it runs (a helper, a daemon that one
/// starts) holds the mount point open.
#[test]
fn mount_inherits_no_descriptor_of_the_mount_point() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("m")).unwrap();
    let bin = mount_first(
        &s,
        "ls -l /proc/$$/fd >\"$SCRATCH/fds\" 2>&1\n\
         printf '%s\\n' \"$@\" >\"$SCRATCH/args\"\n",
    );
    let file = s.fstab(&format!("fd-aoe {d}/m tmpfs size=1m\n"));
    let out = run_with_path(&s, &bin, &file, &["mount"]);
    assert_exit(&out, 0);
    assert_eq!(sources_on(&s.join("m")), ["fd-aoe"]);
    let fds = std::fs::read_to_string(s.join("fds")).unwrap();
    assert!(fds.contains(" 2 -> "), "no listing: {fds}");
    assert!(!fds.contains(&format!("{d}/m")), "inherited: {fds}");
    let args = std::fs::read_to_string(s.join("args")).unwrap();
    let target = args.lines().last().unwrap();
    assert!(
        target.starts_with("/proc/") && target.contains("/fd/") && !target.contains("self"),
        "{args}"
    );
}

/// mount, umount and findfs run as root: an empty or relative PATH entry
/// names the current directory, never searched, so what another user
/// planted there is not run (the real ones, from /sbin and PATH, are).
#[test]
fn relative_path_entries_are_never_searched() {
    let s = Scratch::new();
    let d = s.path().display();
    std::fs::create_dir(s.join("m")).unwrap();
    let file = s.fstab(&format!(
        "LABEL=aoe-planted-{} {d}/l tmpfs size=1m,noauto 0 0\n\
         aoe-planted {d}/m tmpfs size=1m 0 0\n",
        std::process::id()
    ));
    for program in ["findfs", "mount", "umount"] {
        let planted = s.join(program);
        std::fs::write(
            &planted,
            format!("#!/bin/sh\ntouch {d}/ran-{program}\nexit 0\n"),
        )
        .unwrap();
        std::fs::set_permissions(
            &planted,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    for path in [":/usr/bin:/bin", ".:/usr/bin:/bin", "/usr/bin:/bin:"] {
        let run_in = |args: &[&str]| {
            with_file(&file)
                .current_dir(s.path())
                .env("PATH", path)
                .args(args)
                .output()
                .unwrap()
        };
        // The real findfs (in /sbin): no device has the label.
        let out = run_in(&["mounted"]);
        assert_exit(&out, 1);
        let out = run_in(&["mount"]);
        assert_exit(&out, 0);
        assert!(is_mount_point(&s.join("m")), "PATH={path}");
        let out = run_in(&["umount", &format!("{d}/m")]);
        assert_exit(&out, 0);
        assert!(!is_mount_point(&s.join("m")), "PATH={path}");
        for program in ["findfs", "mount", "umount"] {
            assert!(
                !s.join(&format!("ran-{program}")).exists(),
                "PATH={path}: the planted {program} ran"
            );
        }
    }
}
