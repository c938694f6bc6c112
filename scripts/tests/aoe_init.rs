//! scripts/aoe-init end to end: stand-ins for the kernel side only (module
//! load, discovery, aoe-stat), real `aoe-fstab`, real `lsb-status` and real
//! tmpfs mounts for the fstab-aoe entries (tests run as root).

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use stackutils_scripts::{bin_dir, path_with_tools, script, script_cmd, standin, tool, wait_until};

/// A fake ATA-over-Ethernet host in a temp dir: `/dev/etherd`,
/// `/proc/modules`, the lock dir, `/etc/fstab-aoe` with two tmpfs entries
/// (one with a space in its mount point) whose sources are nodes the fake
/// driver creates.
struct Rig {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Rig {
    fn new() -> Self {
        assert!(
            tool("aoe-fstab").is_file(),
            "aoe-fstab is not built: run `cargo build --workspace` first"
        );
        let dir = tempfile::Builder::new()
            .prefix("aoe-init-test")
            .tempdir()
            .unwrap();
        let d = dir.path().display().to_string();
        std::fs::create_dir_all(dir.path().join("mnt/a")).unwrap();
        std::fs::create_dir_all(dir.path().join("mnt/b b")).unwrap();
        std::fs::write(
            dir.path().join("fstab-aoe"),
            format!(
                "# AoE file systems\n\
                 {d}/etherd/e1.0  {d}/mnt/a        tmpfs  size=1m,_netdev  0 0\n\
                 {d}/etherd/e1.1  {d}/mnt/b\\040b  tmpfs  size=1m,_netdev  0 0\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("default"), "AOE_IFLIST=\"eth1 eth0\"\n").unwrap();
        let sh = |name: &str| standin(name).display().to_string();
        let env = vec![
            ("MODPROBE", sh("aoe-modprobe.sh")),
            ("RMMOD", sh("aoe-rmmod.sh")),
            ("AOE_DISCOVER", sh("aoe-discover.sh")),
            ("AOE_STAT", sh("aoe-stat.sh")),
            ("AOE_VERSION", sh("aoe-version.sh")),
            ("ETHERD_DIR", format!("{d}/etherd")),
            ("PROC_MODULES", format!("{d}/modules")),
            ("FSTAB", format!("{d}/fstab-aoe")),
            ("DEFAULTS", format!("{d}/default")),
            ("LOCK_DIR", format!("{d}/lock")),
            ("AOE_LOG", format!("{d}/log")),
            ("AOE_DEVICES", "e1.0 e1.1".into()),
            // The fake driver's discover node appears after modprobe returns,
            // so every start goes through the wait.
            ("AOE_DISCOVER_DELAY", "0.2".into()),
            ("MODULE_TIMEOUT", "20".into()),
            ("DEVICE_TIMEOUT", "20s".into()),
            // This build's tools, not a stale target/release.
            ("STACKUTILS_BIN", bin_dir().display().to_string()),
        ];
        Self { dir, env }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn set(&mut self, key: &'static str, value: &str) {
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = script_cmd("aoe-init");
        cmd.args(args).env("LC_ALL", "C").env_remove("TERM");
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    /// Runs the script with a bound: it must end within a minute.
    fn run(&self, action: &str) -> Output {
        self.run_to(action, Stdio::piped(), Stdio::piped())
    }

    /// [`Rig::run`] with stdout and stderr sent where the caller says.
    fn run_to(&self, action: &str, stdout: Stdio, stderr: Stdio) -> Output {
        let mut child = self
            .cmd(&[action])
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        let done = wait_until(Duration::from_secs(60), || {
            child.try_wait().unwrap().is_some()
        });
        if !done {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            done,
            "aoe-init {action} did not finish: {}",
            text(&out.stderr)
        );
        out
    }

    fn mounted(&self, rel: &str) -> bool {
        Command::new("mountpoint")
            .arg("-q")
            .arg(self.path(rel))
            .status()
            .unwrap()
            .success()
    }

    fn locked(&self) -> bool {
        self.path("lock/aoe-init").exists()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    fn driver_loaded(&self) -> bool {
        std::fs::read_to_string(self.path("modules")).is_ok_and(|m| m.starts_with("aoe "))
    }

    /// Mount points at or below the rig, deepest first. The kernel escapes
    /// only space, tab, newline and backslash: bytes, not text.
    fn mounts(&self) -> Vec<PathBuf> {
        let table = std::fs::read("/proc/self/mounts").unwrap();
        let mut found: Vec<PathBuf> = table
            .split(|&b| b == b'\n')
            .filter_map(|line| line.split(|&b| b == b' ').nth(1))
            .map(|t| PathBuf::from(std::ffi::OsString::from_vec(unescape(t))))
            .filter(|t| t.starts_with(self.dir.path()))
            .collect();
        found.sort_by_key(|t| std::cmp::Reverse(t.as_os_str().len()));
        found
    }

    fn umount(&self, rel: &str) {
        let status = Command::new("umount").arg(self.path(rel)).status().unwrap();
        assert!(status.success());
    }

    /// Puts a findfs running `body` (sh) first on PATH, and mounts `mnt/a`
    /// from `LABEL=aoe-init-x` (which a working findfs names `etherd/e1.0`).
    /// `$CALLER` in `body`: how aoe-fstab was run (its command line).
    fn fake_findfs(&mut self, body: &str) {
        let d = self.dir.path().display().to_string();
        std::fs::write(
            self.path("fstab-aoe"),
            format!(
                "LABEL=aoe-init-x {d}/mnt/a        tmpfs  size=1m,_netdev  0 0\n\
                 {d}/etherd/e1.1  {d}/mnt/b\\040b  tmpfs  size=1m,_netdev  0 0\n"
            ),
        )
        .unwrap();
        self.first_on_path(
            "findfs",
            &format!(
                "#!/bin/sh\nCALLER=$(tr '\\0' ' ' < /proc/$PPID/cmdline)\n{body}\necho {d}/etherd/e1.0\n"
            ),
        );
    }

    /// Puts `script` first on PATH as NAME (installed, so that no
    /// descriptor of ours open for writing it leaks into a child: ETXTBSY).
    fn first_on_path(&mut self, name: &str, script: &str) {
        let bin = self.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let text = self.path(&format!("{name}.sh"));
        std::fs::write(&text, script).unwrap();
        let status = Command::new("install")
            .args(["-m", "755"])
            .arg(&text)
            .arg(bin.join(name))
            .status()
            .unwrap();
        assert!(status.success());
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        self.set("PATH", &path);
    }
}

impl Drop for Rig {
    /// Whatever happened, leave nothing mounted.
    fn drop(&mut self) {
        for target in self.mounts() {
            let _ = Command::new("umount").arg("-l").arg(&target).status();
        }
    }
}

/// Decodes the `\NNN` escapes of /proc/self/mounts (not always UTF-8).
fn unescape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn show(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    )
}

#[test]
fn start_status_stop() {
    let rig = Rig::new();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    for step in [
        "Loading the aoe driver:",
        "Discovering AoE targets:",
        "Mounting AoE file systems:",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(step))
            .unwrap_or_default();
        assert!(line.ends_with("[  OK  ]"), "{step}: {stdout}");
    }
    assert!(
        rig.mounted("mnt/a") && rig.mounted("mnt/b b"),
        "{}",
        show(&out)
    );
    assert!(rig.locked());
    // The interfaces come from the defaults file, quoted for the kernel.
    assert!(
        rig.log()
            .contains("modprobe aoe aoe_iflist=\"eth1 eth0\"\n"),
        "{}",
        rig.log()
    );

    let out = rig.run("status");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("aoe-init is running\n"), "{stdout}");
    assert!(stdout.contains("running aoe driver: 85"), "{stdout}");
    assert!(stdout.contains("e1.1"), "aoe-stat output: {stdout}");
    assert!(
        stdout.contains("/mnt/b\\040b tmpfs"),
        "mounted entries: {stdout}"
    );

    // start again: nothing new to do, still success.
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));

    let out = rig.run("stop");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounts().is_empty(), "left mounted: {:?}", rig.mounts());
    assert!(!rig.driver_loaded(), "driver still loaded");
    assert!(!rig.path("etherd").exists());
    assert!(!rig.locked());

    let out = rig.run("status");
    assert_eq!(code(&out), Some(3), "{}", show(&out));
    assert!(
        text(&out.stdout).starts_with("aoe-init is not running\n"),
        "{}",
        show(&out)
    );
}

#[test]
fn stop_when_not_running_succeeds() {
    let rig = Rig::new();
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(
        !rig.log().contains("rmmod"),
        "nothing to unload: {}",
        rig.log()
    );
}

#[test]
fn status_reports_a_missing_mount_or_driver_as_dead_with_lock() {
    let rig = Rig::new();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));

    rig.umount("mnt/b b");
    let out = rig.run("status");
    assert_eq!(code(&out), Some(2), "{}", show(&out));
    assert!(
        text(&out.stdout)
            .starts_with("aoe-init is dead but lock file exists (1 file system(s) not mounted)\n"),
        "{}",
        show(&out)
    );

    rig.umount("mnt/a");
    let rmmod = Command::new("bash")
        .arg(standin("aoe-rmmod.sh"))
        .arg("aoe")
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .status()
        .unwrap();
    assert!(rmmod.success());
    let out = rig.run("status");
    assert_eq!(code(&out), Some(2), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("the aoe driver is not loaded"),
        "{}",
        show(&out)
    );
}

#[test]
fn status_is_unknown_without_the_fstab_file() {
    let mut rig = Rig::new();
    let missing = rig.path("no-such-fstab").display().to_string();
    rig.set("FSTAB", &missing);
    let out = rig.run("status");
    assert_eq!(code(&out), Some(4), "{}", show(&out));
    assert!(
        text(&out.stdout).starts_with(&format!(
            "aoe-init status is unknown: cannot read {missing}: No such file"
        )),
        "{}",
        show(&out)
    );
    // And start says it is not configured (LSB 6).
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(&format!("cannot read {missing}")),
        "{}",
        show(&out)
    );
}

#[test]
fn stop_without_the_fstab_file_unloads_nothing_it_cannot_unmount() {
    let rig = Rig::new();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let fstab = rig.path("fstab-aoe");
    let saved = rig.path("fstab-aoe.saved");
    std::fs::rename(&fstab, &saved).unwrap();
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).starts_with(&format!(
            "aoe-init: cannot tell what to unmount ({}: no such file",
            fstab.display()
        )),
        "{}",
        show(&out)
    );
    assert!(text(&out.stderr).ends_with(": keeping the driver and the lock\n"));
    assert!(rig.mounted("mnt/a") && rig.mounted("mnt/b b"));
    assert!(rig.driver_loaded() && rig.locked(), "{}", rig.log());
    // With the file back, stop does it all.
    std::fs::rename(&saved, &fstab).unwrap();
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounts().is_empty() && !rig.driver_loaded() && !rig.locked());
    // Not running, no file: nothing to stop.
    std::fs::rename(&fstab, &saved).unwrap();
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
}

/// `aoe-fstab mounted` that cannot tell (findfs failing on a `LABEL=`
/// entry, whose mount point holds a device) is not "none mounted": stop
/// keeps the driver and the lock, and what is mounted stays.
#[test]
fn stop_when_findfs_cannot_answer_keeps_the_driver_and_the_lock() {
    let mut rig = Rig::new();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let d = rig.dir.path().display().to_string();
    std::fs::write(
        rig.path("fstab-aoe"),
        format!(
            "LABEL=aoe-init-x {d}/mnt/a        tmpfs  size=1m,_netdev  0 0\n\
             {d}/etherd/e1.1  {d}/mnt/b\\040b  tmpfs  size=1m,_netdev  0 0\n"
        ),
    )
    .unwrap();
    rig.first_on_path(
        "findfs",
        "#!/bin/sh\necho 'findfs: broken here' >&2\nexit 2\n",
    );
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        format!(
            "aoe-init: cannot tell what to unmount ({d}/fstab-aoe:1: cannot tell whether {d}/mnt/a \
             is mounted: cannot evaluate LABEL=aoe-init-x: findfs: broken here): keeping the driver and the lock\n"
        )
    );
    assert!(rig.mounted("mnt/a") && rig.mounted("mnt/b b"));
    assert!(rig.driver_loaded() && rig.locked(), "{}", rig.log());
    assert!(!rig.log().contains("rmmod"), "{}", rig.log());
}

/// A failed start whose undo cannot tell what it mounted (`mounted` exits
/// 2: findfs failing on a `LABEL=` entry) keeps the driver and the lock
/// rather than unloading the driver under a mounted file system.
#[test]
fn an_undo_that_cannot_tell_what_was_mounted_keeps_the_driver_and_the_lock() {
    let mut rig = Rig::new();
    let d = rig.dir.path().display().to_string();
    std::fs::write(
        rig.path("fstab-aoe"),
        format!(
            "{d}/etherd/e1.0  {d}/mnt/a  tmpfs  size=1m,_netdev  0 0\n\
             LABEL=aoe-init-x {d}/mnt/a  tmpfs  size=1m,_netdev  0 0\n"
        ),
    )
    .unwrap();
    // Fails once mnt/a holds a file system (the start's first mount), so
    // that the checks before the start (--dry-run) pass.
    rig.first_on_path(
        "findfs",
        "#!/bin/sh\n\
         mountpoint -q \"$AOE_MNT\" || exit 1\n\
         echo 'findfs: broken here' >&2\nexit 2\n",
    );
    rig.set("AOE_MNT", &format!("{d}/mnt/a"));
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "aoe-fstab: {d}/fstab-aoe:2: cannot mount LABEL=aoe-init-x on {d}/mnt/a: \
             cannot evaluate LABEL=aoe-init-x: findfs: broken here\n"
        )),
        "{}",
        show(&out)
    );
    assert!(
        err.contains(
            "aoe-init: cannot tell what this start mounted: keeping the driver and the lock\n"
        ),
        "{}",
        show(&out)
    );
    assert!(rig.mounted("mnt/a"));
    assert!(rig.driver_loaded() && rig.locked(), "{}", rig.log());
    assert!(!rig.log().contains("rmmod"), "{}", rig.log());
}

#[test]
fn reload_mounts_what_is_missing() {
    let rig = Rig::new();
    let out = rig.run("reload");
    assert_eq!(code(&out), Some(7), "not running yet: {}", show(&out));
    assert!(
        text(&out.stderr).contains("aoe-init is not running"),
        "{}",
        show(&out)
    );

    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    rig.umount("mnt/a");
    let out = rig.run("reload");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounted("mnt/a") && rig.mounted("mnt/b b"));
    assert_eq!(
        rig.log().matches("aoe-discover").count(),
        2,
        "{}",
        rig.log()
    );
    assert_eq!(
        rig.log().matches("modprobe").count(),
        1,
        "driver was loaded: {}",
        rig.log()
    );

    rig.umount("mnt/b b");
    let out = rig.run("force-reload");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounted("mnt/b b"));
}

#[test]
fn force_reload_starts_a_stopped_service() {
    let rig = Rig::new();
    let out = rig.run("force-reload");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounted("mnt/a") && rig.locked());
}

#[test]
fn restart_unmounts_unloads_and_starts_again() {
    let rig = Rig::new();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let out = rig.run("restart");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    let unmount = stdout
        .find("Unmounting AoE file systems:")
        .expect("unmounts");
    let mount = stdout.find("Mounting AoE file systems:").expect("mounts");
    assert!(unmount < mount, "{stdout}");
    assert!(rig.mounted("mnt/a") && rig.mounted("mnt/b b") && rig.locked());
    let log = rig.log();
    assert_eq!(log.matches("modprobe").count(), 2, "{log}");
    assert_eq!(log.matches("rmmod").count(), 1, "{log}");
}

/// LSB's try-restart: nothing when stopped (0, nothing loaded or
/// mounted); a restart when running.
#[test]
fn try_restart_restarts_only_a_running_service() {
    let rig = Rig::new();
    let out = rig.run("try-restart");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.log().is_empty(), "ran {}", rig.log());
    assert!(!rig.locked() && !rig.driver_loaded() && !rig.mounted("mnt/a"));
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let out = rig.run("try-restart");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounted("mnt/a") && rig.mounted("mnt/b b") && rig.locked());
    let log = rig.log();
    assert_eq!(log.matches("modprobe").count(), 2, "{log}");
    assert_eq!(log.matches("rmmod").count(), 1, "{log}");
}

#[test]
fn a_driver_that_never_comes_up_fails_in_bounded_time() {
    let mut rig = Rig::new();
    rig.set("AOE_DISCOVER_DELAY", "never");
    rig.set("MODULE_TIMEOUT", "0.3");
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    let etherd = rig.path("etherd").display().to_string();
    assert!(
        text(&out.stderr).contains(&format!(
            "aoe-init: {etherd}/discover did not appear within 0.3s: is the aoe driver working?"
        )),
        "{}",
        show(&out)
    );
    assert!(!rig.locked(), "no lock without a driver");
    assert!(rig.mounts().is_empty());
    assert!(!rig.log().contains("aoe-discover"), "{}", rig.log());
}

#[test]
fn a_start_that_fails_half_way_is_undone() {
    let mut rig = Rig::new();
    rig.set("AOE_DEVICES", "e1.0");
    rig.set("DEVICE_TIMEOUT", "300ms");
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Mounting AoE"))
        .unwrap_or_default();
    assert!(line.ends_with("[FAILED]"), "{stdout}");
    assert!(
        text(&out.stderr).contains("e1.1 did not appear within 300ms"),
        "{}",
        show(&out)
    );
    // e1.0 was mounted, then unmounted; the driver this start loaded is
    // unloaded and its lock dropped: nothing left behind.
    assert!(
        text(&out.stderr).contains("aoe-init: start failed: undoing it"),
        "{}",
        show(&out)
    );
    assert!(rig.mounts().is_empty(), "left mounted: {:?}", rig.mounts());
    assert!(!rig.driver_loaded(), "driver left loaded: {}", rig.log());
    assert!(!rig.locked());
    let out = rig.run("status");
    assert_eq!(code(&out), Some(3), "{}", show(&out));
}

/// `MOUNT_TIMEOUT` reaches `aoe-fstab mount`: a mount that never ends (a
/// `mount` first on PATH that sleeps for e1.1) fails the start within it,
/// is killed, and the start is undone.
#[test]
fn a_mount_that_never_ends_fails_the_start_after_mount_timeout() {
    let mut rig = Rig::new();
    let bin = rig.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let real = ["/usr/bin/mount", "/bin/mount"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("util-linux mount");
    std::fs::write(
        rig.path("mount.sh"),
        format!(
            "#!/bin/sh\n\
             for arg; do\n\
               case $arg in */etherd/e1.1) echo $$ >\"$AOE_HUNG\"; exec sleep 1000 ;; esac\n\
             done\n\
             exec {real} \"$@\"\n"
        ),
    )
    .unwrap();
    // Installed by another process: no descriptor of ours open for writing
    // it can leak into a child forked meanwhile (ETXTBSY).
    let status = Command::new("install")
        .args(["-m", "755"])
        .arg(rig.path("mount.sh"))
        .arg(bin.join("mount"))
        .status()
        .unwrap();
    assert!(status.success());
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    rig.set("PATH", &path);
    rig.set("AOE_HUNG", &rig.path("hung").display().to_string());
    rig.set("MOUNT_TIMEOUT", "300ms");
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    let d = rig.dir.path().display();
    assert!(
        text(&out.stderr).contains(&format!(
            "aoe-fstab: {d}/fstab-aoe:3: cannot mount {d}/etherd/e1.1 on {d}/mnt/b b: mount did not finish within 300ms\n"
        )),
        "{}",
        show(&out)
    );
    assert!(
        text(&out.stderr).contains("aoe-init: start failed: undoing it"),
        "{}",
        show(&out)
    );
    assert!(rig.mounts().is_empty(), "left mounted: {:?}", rig.mounts());
    assert!(!rig.driver_loaded() && !rig.locked(), "{}", rig.log());
    let pid = std::fs::read_to_string(rig.path("hung")).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap_or_default();
    assert_ne!(
        cmdline, b"sleep\x001000\x00",
        "the hung mount {pid} still runs"
    );
}

#[test]
fn a_failed_start_is_undone_with_a_full_tmp_and_odd_mount_points() {
    let mut rig = Rig::new();
    // A mount point with a backslash and a byte that is not UTF-8.
    let odd = rig.dir.path().join(OsStr::from_bytes(b"mnt/c\\d\xe9"));
    std::fs::create_dir(&odd).unwrap();
    let mut fstab = std::fs::OpenOptions::new()
        .append(true)
        .open(rig.path("fstab-aoe"))
        .unwrap();
    let d = rig.dir.path().display().to_string();
    std::io::Write::write_all(
        &mut fstab,
        format!("{d}/etherd/e1.2 {d}/mnt/c\\134d\\351 tmpfs size=1m,_netdev 0 0\n").as_bytes(),
    )
    .unwrap();
    // TMPDIR on a file system with no inode left: no temporary file.
    let full = rig.path("full");
    std::fs::create_dir(&full).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,nr_inodes=2", "aoe-init-test"])
        .arg(&full)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(full.join("a"), "").unwrap();
    let err = std::fs::write(full.join("b"), "").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(28), "{err}");
    rig.set("TMPDIR", &full.display().to_string());
    // e1.0 and the odd one are mounted, e1.1 never appears.
    rig.set("AOE_DEVICES", "e1.0 e1.2");
    rig.set("DEVICE_TIMEOUT", "300ms");
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("aoe-init: start failed: undoing it\n"),
        "{}",
        show(&out)
    );
    assert!(
        !text(&out.stderr).contains("could not undo"),
        "{}",
        show(&out)
    );
    assert_eq!(rig.mounts(), [full], "left mounted");
    assert!(!rig.driver_loaded() && !rig.locked(), "{}", rig.log());
}

#[test]
fn a_busy_file_system_keeps_the_driver_and_the_lock() {
    let rig = Rig::new();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let busy = std::fs::File::create(rig.path("mnt/a/open")).unwrap();
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("cannot unmount"),
        "{}",
        show(&out)
    );
    assert!(rig.mounted("mnt/a") && !rig.mounted("mnt/b b"));
    assert!(rig.driver_loaded() && rig.locked(), "{}", rig.log());
    assert!(!rig.log().contains("rmmod"), "{}", rig.log());
    drop(busy);
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounts().is_empty() && !rig.driver_loaded() && !rig.locked());
}

#[test]
fn a_failed_start_of_a_running_service_undoes_nothing() {
    let rig = Rig::new();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    // b's mount point goes away: mounting what is missing fails.
    rig.umount("mnt/b b");
    std::fs::remove_dir(rig.path("mnt/b b")).unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert!(!text(&out.stderr).contains("undoing"), "{}", show(&out));
    assert!(rig.mounted("mnt/a") && rig.driver_loaded() && rig.locked());
    assert!(!rig.log().contains("rmmod"), "{}", rig.log());
}

#[test]
fn a_failed_discovery_unloads_the_driver_it_loaded_only() {
    let mut rig = Rig::new();
    rig.set("AOE_DISCOVER", "false");
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    let log = rig.log();
    assert!(
        log.contains("modprobe aoe") && log.contains("rmmod aoe"),
        "{log}"
    );
    assert!(!rig.driver_loaded() && !rig.locked() && rig.mounts().is_empty());

    // A driver loaded before (by someone else) is left loaded, and a file
    // system mounted before stays mounted.
    let modprobe = Command::new("bash")
        .arg(standin("aoe-modprobe.sh"))
        .arg("aoe")
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .status()
        .unwrap();
    assert!(modprobe.success());
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "mine"])
        .arg(rig.path("mnt/a"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert_eq!(rig.log().matches("rmmod").count(), 1, "{}", rig.log());
    assert!(rig.driver_loaded() && !rig.locked());
    assert!(rig.mounted("mnt/a"), "mounted before the start: kept");
}

#[test]
fn an_unwritable_lock_directory_is_found_before_the_driver_is_loaded() {
    let mut rig = Rig::new();
    // Root may write anywhere but on a read-only file system.
    std::fs::create_dir(rig.path("ro")).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=1m", "aoe-init-test"])
        .arg(rig.path("ro"))
        .status()
        .unwrap();
    assert!(status.success());
    let lock_dir = rig.path("ro/subsys").display().to_string();
    rig.set("LOCK_DIR", &lock_dir);
    for action in ["start", "restart", "force-reload"] {
        let out = rig.run(action);
        assert_eq!(code(&out), Some(4), "{action}: {}", show(&out));
        assert!(
            text(&out.stderr)
                .starts_with(&format!("aoe-init: cannot write the lock in {lock_dir} (")),
            "{action}: {}",
            show(&out)
        );
        assert!(rig.log().is_empty(), "{action}: ran {}", rig.log());
        assert!(!rig.driver_loaded() && rig.mounts().len() == 1);
    }
}

#[test]
fn a_full_lock_file_system_is_named_before_the_driver_is_loaded() {
    let rig = Rig::new();
    let lock = rig.path("lock");
    std::fs::create_dir(&lock).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,nr_inodes=2", "aoe-init-test"])
        .arg(&lock)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(lock.join("other"), "").unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(&format!(
            "cannot create lock file {}/aoe-init: No space left on device",
            lock.display()
        )),
        "{}",
        show(&out)
    );
    assert!(rig.log().is_empty(), "ran {}", rig.log());
    assert!(!rig.driver_loaded() && rig.mounts() == [lock]);
}

#[test]
fn a_lock_directory_others_control_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let rig = Rig::new();
    let lock = rig.path("lock");
    std::fs::create_dir(&lock).unwrap();
    let d = lock.display();
    // Another user's directory.
    std::os::unix::fs::chown(&lock, Some(65534), None).unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        format!("aoe-init: directory {d} is owned by uid 65534, neither root nor us (uid 0): refusing to keep the lock in {d}\n")
    );
    // Root's, but anyone may write to it (no sticky bit).
    std::os::unix::fs::chown(&lock, Some(0), None).unwrap();
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        format!("aoe-init: directory {d} is writable by anyone (mode 777) and has no sticky bit: refusing to keep the lock in {d}\n")
    );
    assert!(rig.log().is_empty(), "ran {}", rig.log());
    // With the sticky bit (as /run/lock), others cannot replace root's files.
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.locked());
}

/// Runs `args` as uid 65534 (nobody), as another local user would.
fn as_nobody(args: &[&std::ffi::OsStr]) {
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
}

#[test]
fn a_lock_directory_another_user_points_elsewhere_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mut rig = Rig::new();
    // As Debian's /run/lock: sticky, anyone may create names in it, and
    // the lock directory does not exist yet.
    let perm = |mode| std::fs::Permissions::from_mode(mode);
    std::fs::set_permissions(rig.path(""), perm(0o755)).unwrap();
    let run = rig.path("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, perm(0o1777)).unwrap();
    let lock_dir = run.join("subsys");
    rig.set("LOCK_DIR", &lock_dir.display().to_string());
    // Root's file that stop would remove through the link.
    let victim = rig.path("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("aoe-init"), "precious").unwrap();
    as_nobody(&[
        "ln".as_ref(),
        "-s".as_ref(),
        victim.as_os_str(),
        lock_dir.as_os_str(),
    ]);
    let l = lock_dir.display();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        format!("aoe-init: {l} is a symlink owned by uid 65534, neither root nor us (uid 0): refusing to keep the lock in {l}\n")
    );
    assert!(rig.log().is_empty(), "ran {}", rig.log());

    // Swapped in while running: stop unmounts and unloads, but removes
    // nothing through the link.
    std::fs::remove_file(&lock_dir).unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    std::fs::remove_dir_all(&lock_dir).unwrap();
    as_nobody(&[
        "ln".as_ref(),
        "-s".as_ref(),
        victim.as_os_str(),
        lock_dir.as_os_str(),
    ]);
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(&format!(": not removing {l}/aoe-init")),
        "{}",
        show(&out)
    );
    assert!(rig.mounts().is_empty() && !rig.driver_loaded());
    assert_eq!(
        std::fs::read_to_string(victim.join("aoe-init")).unwrap(),
        "precious"
    );

    // A directory of another user's higher up: they could swap what is below.
    std::fs::remove_file(&lock_dir).unwrap();
    let theirs = run.join("theirs");
    as_nobody(&["mkdir".as_ref(), theirs.as_os_str()]);
    rig.set("LOCK_DIR", &theirs.join("subsys").display().to_string());
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert!(
        text(&out.stderr).starts_with(&format!(
            "aoe-init: directory {} is owned by uid 65534",
            theirs.display()
        )),
        "{}",
        show(&out)
    );
    // Root's own link to a sticky directory (as /var/lock -> /run/lock) is fine.
    std::os::unix::fs::symlink(&run, rig.path("var-lock")).unwrap();
    rig.set(
        "LOCK_DIR",
        &rig.path("var-lock/subsys").display().to_string(),
    );
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(lock_dir.join("aoe-init").is_file());
}

/// /etc/default/aoe-init runs as root: read only when no one else could
/// have written it or pointed it elsewhere, and never waited on.
#[test]
fn a_defaults_file_others_control_is_not_read() {
    use std::os::unix::fs::PermissionsExt;
    let mut rig = Rig::new();
    let perm = |mode| std::fs::Permissions::from_mode(mode);
    std::fs::set_permissions(rig.path(""), perm(0o755)).unwrap();
    let defaults = rig.path("default");
    let ran = rig.path("default.ran");
    std::fs::write(&defaults, format!("touch '{}'\n", ran.display())).unwrap();
    let refused = |rig: &Rig, why: &str, file: &Path| {
        for (action, expected) in [("start", 6), ("status", 4)] {
            let out = rig.run(action);
            assert_eq!(code(&out), Some(expected), "{action}: {}", show(&out));
            assert_eq!(
                text(&out.stderr),
                format!("aoe-init: {why}: not reading {}\n", file.display()),
                "{action}"
            );
        }
        assert!(!ran.exists(), "it was run");
        assert!(rig.log().is_empty(), "ran {}", rig.log());
    };
    let d = defaults.display();
    std::fs::set_permissions(&defaults, perm(0o666)).unwrap();
    refused(
        &rig,
        &format!("{d}: it is world-writable (mode 666)"),
        &defaults,
    );
    std::fs::set_permissions(&defaults, perm(0o644)).unwrap();
    std::os::unix::fs::chown(&defaults, Some(65534), None).unwrap();
    refused(
        &rig,
        &format!("{d}: it is owned by uid 65534, neither root nor us (uid 0)"),
        &defaults,
    );
    std::os::unix::fs::chown(&defaults, Some(0), None).unwrap();
    // Another user's link in a sticky directory, to root's file.
    let public = rig.path("public");
    std::fs::create_dir(&public).unwrap();
    std::fs::set_permissions(&public, perm(0o1777)).unwrap();
    let link = public.join("default");
    as_nobody(&[
        "ln".as_ref(),
        "-s".as_ref(),
        defaults.as_os_str(),
        link.as_os_str(),
    ]);
    rig.set("DEFAULTS", &link.display().to_string());
    let l = link.display();
    refused(
        &rig,
        &format!("{l} is a symlink owned by uid 65534, neither root nor us (uid 0)"),
        &link,
    );
    // A FIFO is refused, not waited on.
    let fifo = rig.path("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    rig.set("DEFAULTS", &fifo.display().to_string());
    refused(
        &rig,
        &format!("{}: not a regular file", fifo.display()),
        &fifo,
    );
    // A second name (another user's hard link where they may not write
    // the file, if fs.protected_hardlinks allows it): refused.
    let second = rig.path("default.2");
    std::fs::hard_link(&defaults, &second).unwrap();
    rig.set("DEFAULTS", &second.display().to_string());
    refused(
        &rig,
        &format!(
            "{}: it has 2 hard links (another user may have linked it there)",
            second.display()
        ),
        &second,
    );
    std::fs::remove_file(&second).unwrap();
    // A setting that reads as an option is a path: `--help` does not pass.
    let option = rig.path("--help");
    std::fs::write(&option, format!("touch '{}'\n", ran.display())).unwrap();
    std::fs::set_permissions(&option, perm(0o666)).unwrap();
    rig.set("DEFAULTS", "--help");
    let out = rig
        .cmd(&["status"])
        .current_dir(rig.path(""))
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(4), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        "aoe-init: --help: it is world-writable (mode 666): not reading --help\n"
    );
    assert!(!ran.exists(), "it was run");
    // Root's own file, through root's own link: read.
    let root_link = rig.path("root-link");
    std::os::unix::fs::symlink(&defaults, &root_link).unwrap();
    rig.set("DEFAULTS", &root_link.display().to_string());
    let out = rig.run("status");
    assert_eq!(code(&out), Some(3), "{}", show(&out));
    assert!(ran.exists(), "not read");
}

/// What the fstab file lists is mounted and unmounted as root: a file
/// others could write is not acted on.
#[test]
fn an_fstab_file_others_control_is_not_acted_on() {
    use std::os::unix::fs::PermissionsExt;
    let rig = Rig::new();
    let fstab = rig.path("fstab-aoe");
    let f = fstab.display();
    let mode = |m| std::fs::set_permissions(&fstab, std::fs::Permissions::from_mode(m)).unwrap();
    mode(0o666);
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        format!("aoe-init: {f}: it is world-writable (mode 666): not mounting what {f} lists\n")
    );
    std::os::unix::fs::chown(&fstab, Some(65534), None).unwrap();
    mode(0o644);
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert!(
        text(&out.stderr).starts_with(&format!(
            "aoe-init: {f}: it is owned by uid 65534, neither root nor us (uid 0): "
        )),
        "{}",
        show(&out)
    );
    assert!(rig.log().is_empty(), "ran {}", rig.log());
    std::os::unix::fs::chown(&fstab, Some(0), None).unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    // Made writable while running: stop unmounts nothing it lists, and so
    // keeps the driver and the lock.
    mode(0o620);
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        format!("aoe-init: cannot tell what to unmount ({f}: it is group-writable (mode 620)): keeping the driver and the lock\n")
    );
    assert!(rig.mounted("mnt/a") && rig.driver_loaded() && rig.locked());
    mode(0o644);
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounts().is_empty() && !rig.driver_loaded() && !rig.locked());
}

/// mount follows links in a mount point: one another user planted (or a
/// directory of theirs) would choose where the file system lands.
#[test]
fn a_mount_point_others_control_is_not_mounted_on() {
    use std::os::unix::fs::PermissionsExt;
    let rig = Rig::new();
    let perm = |mode| std::fs::Permissions::from_mode(mode);
    std::fs::set_permissions(rig.path(""), perm(0o755)).unwrap();
    let public = rig.path("public");
    std::fs::create_dir(&public).unwrap();
    std::fs::set_permissions(&public, perm(0o1777)).unwrap();
    let victim = rig.path("victim");
    std::fs::create_dir(&victim).unwrap();
    let point = public.join("m");
    as_nobody(&[
        "ln".as_ref(),
        "-s".as_ref(),
        victim.as_os_str(),
        point.as_os_str(),
    ]);
    let d = rig.dir.path().display();
    let mut fstab = std::fs::OpenOptions::new()
        .append(true)
        .open(rig.path("fstab-aoe"))
        .unwrap();
    std::io::Write::write_all(
        &mut fstab,
        format!("{d}/etherd/e1.0 {d}/public/m tmpfs size=1m,_netdev 0 0\nUUID=x none swap sw\n")
            .as_bytes(),
    )
    .unwrap();
    let p = point.display();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        format!("aoe-init: {p} is a symlink owned by uid 65534, neither root nor us (uid 0): not mounting on {p}\n")
    );
    assert!(rig.log().is_empty(), "ran {}", rig.log());
    assert!(rig.mounts().is_empty());
    // A directory of theirs there: the same.
    std::fs::remove_file(&point).unwrap();
    as_nobody(&["mkdir".as_ref(), point.as_os_str()]);
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert!(
        text(&out.stderr).starts_with(&format!("aoe-init: directory {p} is owned by uid 65534")),
        "{}",
        show(&out)
    );
    // Root's own mount point in the same sticky directory: mounted.
    std::fs::remove_dir(&point).unwrap();
    std::fs::create_dir(&point).unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounted("public/m") && rig.mounted("mnt/a"));
}

#[test]
fn the_lock_is_never_written_through_a_link() {
    let rig = Rig::new();
    std::fs::create_dir(rig.path("lock")).unwrap();
    let victim = rig.path("victim");
    std::os::unix::fs::symlink(&victim, rig.path("lock/aoe-init")).unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("refusing to write the lock through it"),
        "{}",
        show(&out)
    );
    assert!(!victim.exists(), "the link was followed");
    assert!(rig.log().is_empty(), "ran {}", rig.log());
    // Nor into a FIFO (which would block the write) or anything else.
    std::fs::remove_file(rig.path("lock/aoe-init")).unwrap();
    let made = Command::new("mkfifo")
        .arg(rig.path("lock/aoe-init"))
        .status()
        .unwrap();
    assert!(made.success());
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("is not a regular file (a link?): refusing to write the lock"),
        "{}",
        show(&out)
    );
    assert!(rig.log().is_empty(), "ran {}", rig.log());
}

#[test]
fn status_is_unknown_when_the_fstab_file_cannot_be_read() {
    let mut rig = Rig::new();
    // A FIFO must not hang status; a directory is no fstab either.
    let fifo = rig.path("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for (file, why) in [
        (&fifo, "a FIFO, not a regular file: not an fstab file"),
        (
            &rig.path("mnt"),
            "a directory, not a regular file: not an fstab file",
        ),
    ] {
        rig.set("FSTAB", &file.display().to_string());
        let out = rig.run("status");
        assert_eq!(code(&out), Some(4), "{}", show(&out));
        assert_eq!(
            text(&out.stdout),
            format!(
                "aoe-init status is unknown: cannot read {}: {why}\n",
                file.display()
            )
        );
    }
    // Another user, who may not read it.
    let fstab = rig.path("fstab-aoe").display().to_string();
    rig.set("FSTAB", &fstab);
    std::fs::set_permissions(&fstab, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "bash",
    ])
    .arg(script("aoe-init"))
    .arg("status")
    .env("PATH", path_with_tools())
    .env("LC_ALL", "C");
    for (key, value) in &rig.env {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), Some(4), "{}", show(&out));
    assert!(
        text(&out.stdout).starts_with(&format!(
            "aoe-init status is unknown: cannot read {fstab}: Permission denied"
        )),
        "{}",
        show(&out)
    );
}

#[test]
fn bad_settings_are_refused_before_anything_runs() {
    for (key, value, message) in [
        (
            "DEVICE_TIMEOUT",
            "soon",
            "aoe-init: DEVICE_TIMEOUT='soon' is not usable: invalid value 'soon'",
        ),
        (
            "MOUNT_TIMEOUT",
            "soon",
            "aoe-init: MOUNT_TIMEOUT='soon' is not usable: invalid value 'soon'",
        ),
        // Zero would kill every mount at once.
        (
            "MOUNT_TIMEOUT",
            "0",
            "aoe-init: MOUNT_TIMEOUT='0' is not usable: invalid value '0' for '--mount-timeout",
        ),
        // aoe-fstab's message quotes the value: which setting is refused is
        // not guessed from its text.
        (
            "DEVICE_TIMEOUT",
            "soon'--mount-timeout x",
            "aoe-init: DEVICE_TIMEOUT='soon'--mount-timeout x' is not usable: invalid value",
        ),
        // A quote would pass `evil=1` to the module as a parameter of its own.
        (
            "AOE_IFLIST",
            "eth0\" evil=1 \"x",
            "aoe-init: AOE_IFLIST must list interface names",
        ),
        (
            "AOE_IFLIST",
            "*",
            "aoe-init: AOE_IFLIST must list interface names",
        ),
        // Too big for bash's arithmetic: it used to wrap and fail at once.
        (
            "MODULE_TIMEOUT",
            "99999999999999999999",
            "aoe-init: MODULE_TIMEOUT must be seconds",
        ),
    ] {
        let mut rig = Rig::new();
        if key == "AOE_IFLIST" {
            // It comes from /etc/default/aoe-init, which is sourced last.
            let line = format!("AOE_IFLIST='{}'\n", value.replace('\'', r"'\''"));
            std::fs::write(rig.path("default"), line).unwrap();
        } else {
            rig.set(key, value);
        }
        let out = rig.run("start");
        assert_eq!(code(&out), Some(6), "{key}={value}: {}", show(&out));
        assert!(
            text(&out.stderr).starts_with(message),
            "{key}={value}: {}",
            show(&out)
        );
        assert!(rig.log().is_empty(), "{key}={value}: ran {}", rig.log());
        assert!(!rig.locked() && !rig.driver_loaded());
    }
}

#[test]
fn control_characters_in_settings_are_escaped_in_messages() {
    let rig = Rig::new();
    std::fs::write(rig.path("default"), "AOE_IFLIST=$'eth0\\e[2J\\nx'\n").unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        "aoe-init: AOE_IFLIST must list interface names (e.g. \"eth0 eth1\"), got 'eth0\\x1b[2J\\x0ax'\n"
    );
    // 8-bit CSI as a byte and as a character, a byte that is not UTF-8, a
    // bidi override: escaped as aoe-fstab escapes them, in any locale;
    // other text (é) is kept.
    std::fs::write(
        rig.path("default"),
        "AOE_IFLIST=$'a\\x9bb\\xc2\\x9bc\\xffd\\xe2\\x80\\xaee\\xc3\\xa9'\n",
    )
    .unwrap();
    for locale in ["C", "C.UTF-8"] {
        let out = rig.cmd(&["start"]).env("LC_ALL", locale).output().unwrap();
        assert_eq!(code(&out), Some(6), "{}", show(&out));
        assert_eq!(
            text(&out.stderr),
            "aoe-init: AOE_IFLIST must list interface names (e.g. \"eth0 eth1\"), got 'a\\x9bb\\u{9b}c\\xffd\\u{202e}e\u{e9}'\n",
            "{locale}"
        );
    }
}

#[test]
fn status_runs_the_real_aoetools() {
    let mut rig = Rig::new();
    if !Path::new("/usr/sbin/aoe-version").exists() {
        // CI installs aoetools (make test): there, a missing one fails.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "aoetools is not installed"
        );
        eprintln!("SKIP: aoetools is not installed (apt-get install aoetools)");
        return;
    }
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    // Debian's aoetools: aoe-version works without the driver, aoe-stat
    // fails; neither may change the LSB code.
    rig.set("AOE_VERSION", "aoe-version");
    rig.set("AOE_STAT", "aoe-stat");
    let path = format!("{}:/usr/sbin:/sbin", path_with_tools());
    rig.set("PATH", &path);
    let out = rig.run("status");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("aoetools:"), "aoetools installed? {stdout}");
    assert!(stdout.contains("/mnt/b\\040b tmpfs"), "{stdout}");
}

#[test]
fn restart_with_a_bad_setting_leaves_the_service_running() {
    let mut rig = Rig::new();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    rig.set("DEVICE_TIMEOUT", "soon");
    let out = rig.run("restart");
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    assert!(rig.mounted("mnt/a") && rig.mounted("mnt/b b") && rig.locked());
    assert!(!rig.log().contains("rmmod"), "stopped: {}", rig.log());
}

/// At shutdown a bad `MOUNT_TIMEOUT` must not leave everything mounted:
/// `stop` says so, naming the setting and its value, and unmounts within
/// the default (2m) all the same.
#[test]
fn stop_with_a_bad_mount_timeout_still_unmounts() {
    for value in ["soon", "0"] {
        let mut rig = Rig::new();
        let out = rig.run("start");
        assert_eq!(code(&out), Some(0), "{}", show(&out));
        rig.set("MOUNT_TIMEOUT", value);
        let out = rig.run("stop");
        assert_eq!(code(&out), Some(0), "{value}: {}", show(&out));
        assert!(
            text(&out.stderr).starts_with(&format!(
                "aoe-init: MOUNT_TIMEOUT='{value}' is not usable (invalid value '{value}' for '--umount-timeout"
            )) && text(&out.stderr).contains("unmounting with the default, 2m\n"),
            "{value}: {}",
            show(&out)
        );
        assert!(
            rig.mounts().is_empty(),
            "{value}: left mounted: {:?}",
            rig.mounts()
        );
        assert!(
            !rig.driver_loaded() && !rig.locked(),
            "{value}: {}",
            rig.log()
        );
    }
}

#[test]
fn missing_aoetools_is_not_installed_before_anything_runs() {
    let mut rig = Rig::new();
    let gone = rig.path("no-aoe-discover").display().to_string();
    rig.set("AOE_DISCOVER", &gone);
    for action in ["start", "reload", "force-reload", "restart"] {
        let out = rig.run(action);
        assert_eq!(code(&out), Some(5), "{action}: {}", show(&out));
        assert!(
            text(&out.stderr).starts_with(&format!("aoe-init: {gone} not found")),
            "{action}: {}",
            show(&out)
        );
    }
    assert!(rig.log().is_empty(), "ran {}", rig.log());
    assert!(!rig.locked() && !rig.driver_loaded());
    // Stopping needs neither.
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
}

#[test]
fn interfaces_may_be_separated_by_commas() {
    let rig = Rig::new();
    std::fs::write(rig.path("default"), "AOE_IFLIST=eth0,br-lan.100\n").unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(
        rig.log()
            .contains("modprobe aoe aoe_iflist=\"eth0,br-lan.100\"\n"),
        "{}",
        rig.log()
    );
}

/// A pipe whose reader is already gone: every write meets it closed.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

#[test]
fn a_closed_pipe_keeps_the_exit_code() {
    let mut rig = Rig::new();
    // `status | head -1`: the code is the answer, whoever stops reading.
    let out = rig.run_to("status", closed_pipe(), Stdio::piped());
    assert_eq!(code(&out), Some(3), "{}", show(&out));
    assert_eq!(text(&out.stderr), "");
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let out = rig.run_to("status", closed_pipe(), Stdio::piped());
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stderr), "");
    // With SIGPIPE ignored (as systemd runs services), the same, quietly.
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg("trap '' PIPE; exec bash \"$0\" status")
        .arg(script("aoe-init"))
        .env("LC_ALL", "C")
        .stdout(closed_pipe())
        .stderr(Stdio::piped());
    for (key, value) in &rig.env {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stderr), "");
    // Messages too: `start 2>&1 | head -1` with a bad setting is still 6.
    rig.set("MODULE_TIMEOUT", "soon");
    let out = rig.run_to("start", closed_pipe(), closed_pipe());
    assert_eq!(code(&out), Some(6), "{}", show(&out));
    // A full disk is named, and the code stays what status decided.
    rig.set("MODULE_TIMEOUT", "20");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = rig.run_to("status", full.into(), Stdio::piped());
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("aoe-init: cannot write to stdout: No space left on device\n"),
        "{}",
        show(&out)
    );
}

#[test]
fn bad_usage_exits_2() {
    let rig = Rig::new();
    for args in [&["frobnicate"][..], &[], &["start", "extra"]] {
        let out = rig.cmd(args).output().unwrap();
        assert_eq!(code(&out), Some(2), "{args:?}: {}", show(&out));
        assert!(
            text(&out.stderr).contains(
                "Usage: aoe-init {start|stop|restart|try-restart|force-reload|reload|status}"
            ),
            "{}",
            show(&out)
        );
        assert_eq!(text(&out.stdout), "");
    }
    assert!(rig.log().is_empty(), "nothing was run: {}", rig.log());
}

#[test]
fn lsb_header_is_clean() {
    let out = Command::new(tool("lsb-status"))
        .arg("header")
        .arg(script("aoe-init"))
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stderr), "", "warnings: {}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Provides:          aoe-init"), "{stdout}");
    assert!(stdout.contains("chkconfig:"), "{stdout}");
}

#[test]
fn script_is_shellcheck_clean() {
    let out = Command::new("shellcheck")
        .arg(script("aoe-init"))
        .args(
            [
                "aoe-modprobe.sh",
                "aoe-rmmod.sh",
                "aoe-discover.sh",
                "aoe-stat.sh",
                "aoe-version.sh",
            ]
            .map(standin),
        )
        .output()
        .expect("shellcheck is installed");
    assert!(out.status.success(), "{}", show(&out));
    assert!(Path::new(&script("aoe-init")).is_file());
}

/// Our own tools are found first, before the settings file is judged (by
/// lsb-status) or read: one missing is "not installed" (5), for `status`
/// "unknown" (4), whatever the settings file holds, and nothing runs.
#[test]
fn a_missing_lsb_status_is_not_installed_and_status_unknown() {
    let mut rig = Rig::new();
    // The script alone (no clone's target/ beside it), a bin directory
    // with aoe-fstab only, and a PATH without ours.
    let sbin = rig.path("sbin");
    let bin = rig.path("bin");
    std::fs::create_dir_all(&sbin).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(script("aoe-init"), sbin.join("aoe-init")).unwrap();
    std::os::unix::fs::symlink(tool("aoe-fstab"), bin.join("aoe-fstab")).unwrap();
    rig.set("STACKUTILS_BIN", &bin.display().to_string());
    let ran = rig.path("default.ran");
    std::fs::write(rig.path("default"), format!("touch '{}'\n", ran.display())).unwrap();
    for (action, expected) in [("status", 4), ("start", 5), ("stop", 5)] {
        let out = Command::new("bash")
            .arg(sbin.join("aoe-init"))
            .arg(action)
            .env_clear()
            .envs(rig.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert_eq!(code(&out), Some(expected), "{action}: {}", show(&out));
        assert_eq!(
            text(&out.stderr),
            "aoe-init: lsb-status not found (STACKUTILS_BIN, PREFIX/lib/stackutils/bin, PATH)\n",
            "{action}"
        );
    }
    assert!(!ran.exists(), "the settings file was read");
    assert!(rig.log().is_empty(), "ran {}", rig.log());
}

/// A start whose `mounted` cannot tell what is mounted (findfs failing
/// once) starts nothing: its undo would unmount what it could not see
/// mounted before (the admin's file system on mnt/a).
#[test]
fn a_start_that_cannot_tell_what_is_mounted_starts_nothing() {
    let mut rig = Rig::new();
    let d = rig.dir.path().display().to_string();
    rig.fake_findfs(&format!(
        "case $CALLER in *' mounted'*) [ -e {d}/failed ] || {{ : > {d}/failed; \
         echo 'findfs: transient' >&2; exit 2; }};; esac"
    ));
    std::fs::create_dir(rig.path("etherd")).unwrap();
    std::fs::write(rig.path("etherd/e1.0"), "").unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs"])
        .arg(rig.path("etherd/e1.0"))
        .arg(rig.path("mnt/a"))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(rig.path("mnt/a/file"), "the admin's").unwrap();
    // e1.1 never appears: a start that went on would fail and be undone.
    rig.set("AOE_DEVICES", "e1.0");
    rig.set("DEVICE_TIMEOUT", "1s");
    // A bad line, whose warning comes first, is not taken for the reason.
    let mut fstab = std::fs::read_to_string(rig.path("fstab-aoe")).unwrap();
    fstab.push_str("garbage\n");
    std::fs::write(rig.path("fstab-aoe"), fstab).unwrap();
    let out = rig.run("start");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    assert_eq!(
        text(&out.stderr),
        format!(
            "aoe-init: cannot tell what is mounted: {d}/fstab-aoe:1: cannot tell whether {d}/mnt/a \
             is mounted: cannot evaluate LABEL=aoe-init-x: findfs: transient\n"
        )
    );
    assert!(rig.path("mnt/a/file").exists(), "{}", show(&out));
    assert!(rig.log().is_empty(), "ran {}", rig.log());
    assert!(!rig.locked() && !rig.driver_loaded());
}

/// findfs failing on a running service: status keeps what it could tell
/// and says why the rest is unknown; start and reload fail (1) as the mount
/// does, never blaming `DEVICE_TIMEOUT` (6).
#[test]
fn findfs_failing_on_a_running_service() {
    let mut rig = Rig::new();
    let d = rig.dir.path().display().to_string();
    rig.fake_findfs(&format!(
        "[ -e {d}/fail ] && {{ echo 'findfs: broken here' >&2; exit 2; }}"
    ));
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    assert!(rig.mounted("mnt/a") && rig.mounted("mnt/b b"));
    std::fs::write(rig.path("fail"), "").unwrap();
    let why = format!(
        "{d}/fstab-aoe:1: cannot tell whether {d}/mnt/a is mounted: \
         cannot evaluate LABEL=aoe-init-x: findfs: broken here"
    );
    let out = rig.run("status");
    assert_eq!(code(&out), Some(4), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("aoe-init status is unknown: {why}\n")),
        "{}",
        show(&out)
    );
    assert!(
        stdout.ends_with(&format!(
            "Mounted AoE file systems:\n  {d}/etherd/e1.1 {d}/mnt/b\\040b tmpfs size=1m,_netdev 0 0\n  \
             unknown: {why}\n"
        )),
        "{}",
        show(&out)
    );
    for action in ["start", "reload"] {
        let out = rig.run(action);
        assert_eq!(code(&out), Some(1), "{action}: {}", show(&out));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "aoe-fstab: {d}/fstab-aoe:1: cannot mount LABEL=aoe-init-x on {d}/mnt/a: \
                 cannot evaluate LABEL=aoe-init-x: findfs: broken here\n"
            )) && !err.contains("DEVICE_TIMEOUT"),
            "{action}: {}",
            show(&out)
        );
    }
    assert!(rig.mounted("mnt/a") && rig.locked() && rig.driver_loaded());
}

/// A umount dry run that fails for an entry (findfs slower than
/// `MOUNT_TIMEOUT`) does not make stop call `MOUNT_TIMEOUT` unusable and
/// unmount with the default: only aoe-fstab's usage error (2) refuses it.
#[test]
fn a_slow_findfs_is_not_a_refused_mount_timeout() {
    let mut rig = Rig::new();
    rig.fake_findfs("case $CALLER in *' umount'*) sleep 5;; esac");
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    rig.set("MOUNT_TIMEOUT", "1s");
    let out = rig.run("stop");
    assert_eq!(code(&out), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        !err.contains("not usable") && err.contains("findfs did not finish within 1s"),
        "{}",
        show(&out)
    );
    assert!(rig.mounted("mnt/a") && rig.locked() && rig.driver_loaded());
}

/// status evaluates no tag with mount's long limit: a findfs that hangs in
/// its dry run costs 10s (the old code waited 2m there).
#[test]
fn status_with_a_hung_findfs_is_bounded() {
    let mut rig = Rig::new();
    let d = rig.dir.path().display().to_string();
    rig.fake_findfs(&format!(
        "case $CALLER in *' mount --dry-run'*) [ -e {d}/hang ] && exec sleep 1000;; esac"
    ));
    let out = rig.run("start");
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    std::fs::write(rig.path("hang"), "").unwrap();
    let out = rig.run("status");
    assert_eq!(code(&out), Some(4), "{}", show(&out));
    assert!(
        text(&out.stdout).starts_with(&format!(
            "aoe-init status is unknown: {d}/fstab-aoe:1: cannot mount LABEL=aoe-init-x on {d}/mnt/a: \
             cannot evaluate LABEL=aoe-init-x: findfs did not finish within 10s\n"
        )),
        "{}",
        show(&out)
    );
}
