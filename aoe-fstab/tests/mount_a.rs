//! Entries chosen as `mount -a` chooses them: on every corpus fstab, what
//! `mount -a --fake -v -T FILE` ignores is what `aoe-fstab check` says
//! `mount` skips, and the rest is what `aoe-fstab mount --dry-run` would
//! mount or finds mounted already.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::{corpus_files, in_mount_namespace, run, stderr};

/// A target as our messages show it (control characters escaped).
fn shown(target: &[u8]) -> String {
    cliutil::escape_bytes(target).into_owned()
}

/// (ignored, attempted) targets of `mount -a --fake -v`. Run in a private
/// mount namespace with its own /run: even with --fake, mount records
/// userspace options in /run/mount/utab.
fn mount_a(file: &Path) -> Option<(Vec<String>, Vec<String>)> {
    let script =
        "mount -t tmpfs -o size=1m aoe-fstab-test /run && exec mount -a --fake -v -T \"$1\"";
    let out = in_mount_namespace(script, &[file.as_os_str()])?
        .output()
        .unwrap();
    let (mut ignored, mut attempted) = (Vec::new(), Vec::new());
    // `TARGET<padding>: STATUS` for each entry it looked at...
    for line in out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let at = line
            .windows(2)
            .rposition(|w| w == b": ")
            .unwrap_or_else(|| panic!("{}: {}", file.display(), shown(line)));
        let mut target = &line[..at];
        while let Some(t) = target.strip_suffix(b" ") {
            target = t;
        }
        match &line[at + 2..] {
            b"ignored" => ignored.push(shown(target)),
            _ => attempted.push(shown(target)),
        }
    }
    // ... and `mount: TARGET: reason` for each it failed to mount (here:
    // tags that name no device), besides parse errors that name the file.
    let file_name = format!("mount: {}: ", file.display());
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        if line.starts_with(&file_name) {
            continue;
        }
        let rest = line
            .strip_prefix("mount: ")
            .unwrap_or_else(|| panic!("{line}"));
        let (target, _) = rest.split_once(": ").unwrap_or_else(|| panic!("{line}"));
        attempted.push(target.to_owned());
    }
    ignored.sort();
    attempted.sort();
    Some((ignored, attempted))
}

/// (skipped, attempted) targets of ours: `check`'s notes, and `mount
/// --dry-run`'s commands (their last word, read back by dash) plus the
/// entries found mounted already.
fn ours(file: &Path) -> (Vec<String>, Vec<String>) {
    let check = run(file, &["check"]);
    let prefix = format!("aoe-fstab: {}:", file.display());
    let mut skipped: Vec<String> = stderr(&check)
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| {
            let (_line, rest) = l.split_once(": ")?;
            Some(rest[..rest.find(": mount skips it")?].to_owned())
        })
        .collect();

    let dry = run(file, &["mount", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let mut attempted = Vec::new();
    for line in String::from_utf8(dry.stdout).unwrap().lines() {
        let out = Command::new("dash")
            .arg("-c")
            .arg(format!("printf '%s\\0' {line}"))
            .output()
            .expect("dash is installed");
        let words: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
        attempted.push(shown(words[words.len() - 2]));
    }
    let mounted = run(file, &["mounted", "--json"]);
    if !mounted.stdout.is_empty() {
        let doc: Value = serde_json::from_slice(&mounted.stdout).unwrap();
        for fs in doc["filesystems"].as_array().unwrap() {
            let target = shown(fs["target"].as_str().unwrap().as_bytes());
            if !skipped.contains(&target) {
                attempted.push(target);
            }
        }
    }
    skipped.sort();
    attempted.sort();
    (skipped, attempted)
}

#[test]
fn chooses_what_mount_a_chooses_on_the_corpus() {
    let files = corpus_files();
    assert!(files.len() >= 6, "corpus files: {files:?}");
    let mut ignored_somewhere = 0;
    for file in files {
        let Some((ignored, attempted)) = mount_a(&file) else {
            return;
        };
        ignored_somewhere += ignored.len();
        let (skipped, ours_attempted) = ours(&file);
        assert_eq!(skipped, ignored, "{}: skipped entries", file.display());
        assert_eq!(
            ours_attempted,
            attempted,
            "{}: entries mounted or already mounted",
            file.display()
        );
    }
    // The corpus has swap, root and noauto entries: the test compares something.
    assert!(ignored_somewhere >= 10, "{ignored_somewhere}");
}
