//! What is mounted now, from `/proc/self/mounts` (same line format as fstab,
//! octal escapes included).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::fstab::{self, Entry};
use crate::source::Resolver;

const PROC_MOUNTS: &str = "/proc/self/mounts";

/// What is mounted where in the current mount namespace: for each mount
/// point, the sources mounted on it in mount order (the last is on top).
#[derive(Debug, Default)]
pub struct MountTable {
    targets: HashMap<PathBuf, Vec<Vec<u8>>>,
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
        let mut table = Self::default();
        for e in fstab::parse(data).entries {
            table.push(&path(&e.target), e.source);
        }
        table
    }

    /// Whether `entry` is mounted now: its own source on its mount point,
    /// as `mount -a` decides (libmount's `mnt_table_is_fs_mounted`), not
    /// just anything on that mount point. An error if a tag that could name
    /// what is mounted there could not be evaluated.
    pub fn contains(&self, entry: &Entry, tags: &Resolver) -> Result<bool, String> {
        let mut unknown = None;
        for source in self.sources(&entry.target) {
            match Self::is_own(entry, source, tags) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(why) => unknown = Some(why),
            }
        }
        unknown.map_or(Ok(false), Err)
    }

    /// Whether `mounted` (on `entry`'s mount point) is `entry`'s own mount.
    /// A bind mount shows its file system's device, not the directory it
    /// binds: anything on its mount point is taken for it.
    pub fn is_own(entry: &Entry, mounted: &[u8], tags: &Resolver) -> Result<bool, String> {
        if entry.has_option("bind") || entry.has_option("rbind") {
            return Ok(true);
        }
        same_source(entry, mounted, tags)
    }

    /// The source on top of `entry`'s mount point, if anything is mounted
    /// there: what `umount TARGET` would unmount.
    pub fn top(&self, entry: &Entry) -> Option<&[u8]> {
        self.sources(&entry.target).last().map(Vec::as_slice)
    }

    /// Records `entry` as mounted (on top).
    pub fn insert(&mut self, entry: &Entry) {
        self.push(&path(&entry.target), entry.source.clone());
    }

    /// Records the top mount on `entry`'s mount point as gone.
    pub fn remove(&mut self, entry: &Entry) {
        if let Some(sources) = self.targets.get_mut(&normalise(&path(&entry.target))) {
            sources.pop();
        }
    }

    fn push(&mut self, target: &Path, source: Vec<u8>) {
        self.targets
            .entry(normalise(target))
            .or_default()
            .push(source);
    }

    fn sources(&self, target: &[u8]) -> &[Vec<u8>] {
        self.targets
            .get(&normalise(&path(target)))
            .map_or(&[], Vec::as_slice)
    }
}

fn path(value: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(value))
}

/// Whether `mounted` (a source in the mount table) is `entry`'s source:
/// the same words (`tmpfs`, `server:/export`), or the same device once
/// links are resolved (`/dev/disk/by-uuid/...`, `UUID=`/`LABEL=` tags, as
/// the kernel shows `/dev/sdb1`).
pub fn same_source(entry: &Entry, mounted: &[u8], tags: &Resolver) -> Result<bool, String> {
    if entry.source == mounted {
        return Ok(true);
    }
    if !mounted.starts_with(b"/") {
        return Ok(false);
    }
    crate::source::is_device_of(entry, &path(mounted), tags)
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

    fn entry(line: &str) -> Entry {
        fstab::parse(line.as_bytes()).entries.remove(0)
    }

    fn tags() -> Resolver {
        Resolver::new(crate::source::EVALUATE_LIMIT)
    }

    #[test]
    fn decodes_escaped_targets() {
        let table = MountTable::from_bytes(
            b"tmpfs /nonexistent/with\\040space tmpfs rw 0 0\nproc /proc proc rw 0 0\n",
        );
        assert!(table
            .contains(&entry(r"tmpfs /nonexistent/with\040space t"), &tags())
            .unwrap());
        assert!(table
            .contains(&entry(r"tmpfs /nonexistent/with\040space/ t"), &tags())
            .unwrap());
        assert!(!table
            .contains(&entry("tmpfs /nonexistent/with t"), &tags())
            .unwrap());
    }

    #[test]
    fn another_source_on_the_mount_point_is_not_the_entry() {
        let table = MountTable::from_bytes(
            b"mine /nonexistent/m tmpfs rw 0 0\nforeign /nonexistent/m tmpfs rw 0 0\n",
        );
        let mine = entry("mine /nonexistent/m tmpfs");
        assert!(table.contains(&mine, &tags()).unwrap());
        assert!(!table
            .contains(&entry("aoe /nonexistent/m tmpfs"), &tags())
            .unwrap());
        // What umount would take off is the one on top.
        assert_eq!(table.top(&mine), Some(&b"foreign"[..]));
        assert_eq!(table.top(&entry("x /nonexistent/other t")), None);
        // A bind mount shows the device, not the directory: its point decides.
        let bind = entry("/srv/data /nonexistent/m none bind");
        assert!(table.contains(&bind, &tags()).unwrap());
        assert!(MountTable::is_own(&bind, b"/dev/vda", &tags()).unwrap());
    }

    #[test]
    fn a_device_is_the_same_through_its_links() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("sdb1");
        std::fs::write(&dev, "").unwrap();
        let link = dir.path().join("by-uuid");
        std::os::unix::fs::symlink(&dev, &link).unwrap();
        let e = entry(&format!("{} /m ext4", link.display()));
        assert!(same_source(&e, dev.as_os_str().as_bytes(), &tags()).unwrap());
        assert!(!same_source(&e, b"/dev/null", &tags()).unwrap());
        assert!(!same_source(&e, b"sdb1", &tags()).unwrap());
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
        assert!(table.contains(&entry("proc /proc proc"), &tags()).unwrap());
    }
}
