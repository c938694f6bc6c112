//! What the integration test binaries share.
// Each binary uses only some of it.
#![allow(dead_code)]

use std::process::{Command, Stdio};

pub mod sockets;

/// A test that cannot run here says so and returns; under CI=true, where
/// CI provides what it needs (root, IPv6 loopback, iptables, unshare, ip,
/// python3), it fails.
pub fn skip(reason: &str) {
    assert!(
        std::env::var_os("CI").is_none_or(|v| v != "true"),
        "cannot run under CI=true: {reason}"
    );
    eprintln!("SKIP: {reason}");
}

/// Whether `tool` runs here (`tool VERSION_FLAG`).
pub fn have(tool: &str, version_flag: &str) -> bool {
    Command::new(tool)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
