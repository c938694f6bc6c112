//! What is mounted now, from `/proc/self/mounts` (same line format as fstab,
//! octal escapes included).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::fstab;

const PROC_MOUNTS: &str = "/proc/self/mounts";

/// The set of mount points in the current mount namespace.
#[derive(Debug, Default)]
pub struct MountTable {
    targets: HashSet<PathBuf>,
}

impl MountTable {
    pub fn read() -> anyhow::Result<Self> {
        // Bounded like every read: the kernel's table of a namespace with
        // the default mount-max (100000 mounts) stays well below this.
        let data = cliutil::read_limited(Path::new(PROC_MOUNTS), 64 << 20, "a mount table")
            .with_context(|| format!("reading {PROC_MOUNTS}"))?;
        Ok(Self::from_bytes(&data))
    }

    pub fn from_bytes(data: &[u8]) -> Self {
        let targets = fstab::parse(data)
            .entries
            .into_iter()
            .map(|e| PathBuf::from(OsStr::from_bytes(&e.target)))
            .collect();
        Self { targets }
    }

    /// Whether `target` (as written in an fstab) is a mount point now.
    pub fn contains(&self, target: &Path) -> bool {
        self.targets.contains(&normalise(target))
    }

    pub fn insert(&mut self, target: &Path) {
        self.targets.insert(normalise(target));
    }

    pub fn remove(&mut self, target: &Path) {
        self.targets.remove(&normalise(target));
    }
}

/// The path as the kernel reports it: symlinks resolved when it exists,
/// otherwise just without trailing slashes.
pub fn normalise(target: &Path) -> PathBuf {
    std::fs::canonicalize(target).unwrap_or_else(|_| trim_slashes(target))
}

/// `/a/b/` → `/a/b`; `/` stays `/`.
pub fn trim_slashes(path: &Path) -> PathBuf {
    let bytes = path.as_os_str().as_bytes();
    let end = bytes
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(1.min(bytes.len()), |i| i + 1);
    PathBuf::from(OsStr::from_bytes(&bytes[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escaped_targets() {
        let table = MountTable::from_bytes(
            b"tmpfs /nonexistent/with\\040space tmpfs rw 0 0\nproc /proc proc rw 0 0\n",
        );
        assert!(table.contains(Path::new("/nonexistent/with space")));
        assert!(table.contains(Path::new("/nonexistent/with space/")));
        assert!(!table.contains(Path::new("/nonexistent/with")));
    }

    #[test]
    fn trims_trailing_slashes() {
        assert_eq!(trim_slashes(Path::new("/a/b//")), Path::new("/a/b"));
        assert_eq!(trim_slashes(Path::new("/")), Path::new("/"));
        assert_eq!(trim_slashes(Path::new("rel")), Path::new("rel"));
    }

    #[test]
    fn proc_is_mounted_here() {
        let table = MountTable::read().unwrap();
        assert!(table.contains(Path::new("/proc")));
    }
}
