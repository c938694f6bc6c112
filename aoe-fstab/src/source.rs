//! What an entry's source names: a device node by path, a device by a tag
//! (`LABEL=`, `UUID=`, `PARTUUID=`, `PARTLABEL=`) that findfs(8) evaluates
//! as mount(8) would, or something else (a server's export, `tmpfs`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cliutil::escape_bytes as shown;

use crate::command;
use crate::fstab::Entry;

pub enum Source<'a> {
    /// An absolute path (not `//server/share`).
    Path(PathBuf),
    Tag(Tag<'a>),
    Other,
}

/// A device tag as written (`LABEL="my data"`), its value unquoted.
/// How long findfs is given to evaluate a tag outside of `mount` (which
/// gives it `--mount-timeout`).
pub const EVALUATE_LIMIT: Duration = Duration::from_secs(30);

pub struct Tag<'a> {
    spec: &'a [u8],
    dir: &'static str,
    value: &'a [u8],
}

/// What `entry`'s source names; a tag whose value cannot name a device
/// (empty, `.`, `..` or holding a `/`: as a udev link name, these would
/// name /dev/disk itself or a path beyond it) is an error.
pub fn of(entry: &Entry) -> Result<Source<'_>, String> {
    let source = entry.source.as_slice();
    if source.starts_with(b"/") && !source.starts_with(b"//") {
        return Ok(Source::Path(PathBuf::from(OsStr::from_bytes(source))));
    }
    let Some(eq) = source.iter().position(|&b| b == b'=') else {
        return Ok(Source::Other);
    };
    let dir = match &source[..eq] {
        b"UUID" => "by-uuid",
        b"LABEL" => "by-label",
        b"PARTUUID" => "by-partuuid",
        b"PARTLABEL" => "by-partlabel",
        _ => return Ok(Source::Other),
    };
    let value = &source[eq + 1..];
    let value = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value);
    if matches!(value, b"" | b"." | b"..") || value.contains(&b'/') {
        return Err(format!(
            "{} names no device (a tag's value is never empty, `.` or `..`, nor holds a `/`)",
            shown(source)
        ));
    }
    Ok(Source::Tag(Tag {
        spec: source,
        dir,
        value,
    }))
}

/// Whether `device` (a path, as the mount table shows it) is the device
/// `entry`'s source names: the same node once links are resolved, a tag
/// evaluated by findfs.
pub fn is_device_of(entry: &Entry, device: &Path) -> bool {
    let named = match of(entry) {
        Ok(Source::Path(path)) => Some(path),
        Ok(Source::Tag(tag)) => tag.device(EVALUATE_LIMIT).ok().flatten(),
        _ => None,
    };
    named.is_some_and(|named| {
        matches!(
            (std::fs::canonicalize(named), std::fs::canonicalize(device)),
            (Ok(a), Ok(b)) if a == b
        )
    })
}

impl Tag<'_> {
    /// Where udev links the device: only a hint of when to look again (a
    /// value with spaces is linked under udev's encoding, and without udev
    /// there is no link at all).
    pub fn link(&self) -> PathBuf {
        Path::new("/dev/disk")
            .join(self.dir)
            .join(OsStr::from_bytes(self.value))
    }

    /// The tag as written, for messages.
    pub fn shown(&self) -> String {
        shown(self.spec).into_owned()
    }

    /// The device the tag names, evaluated by util-linux's findfs(8) as
    /// mount(8) evaluates it (libblkid: udev links first, else probing; of
    /// several devices with the label, the same one), within `limit`:
    /// probing reads devices, and one that never answers must not hang us.
    /// `Ok(None)` if no device has it.
    pub fn device(&self, limit: Duration) -> Result<Option<PathBuf>, String> {
        let findfs = command::find("findfs").map_err(|e| format!("{e:#}"))?;
        let argv = [
            OsString::from("findfs"),
            OsStr::from_bytes(self.spec).into(),
        ];
        match command::output(&findfs, &argv, limit) {
            Ok(out) => {
                let line = out.strip_suffix(b"\n").unwrap_or(&out);
                if line.starts_with(b"/") && !line.contains(&b'\n') {
                    Ok(Some(PathBuf::from(OsStr::from_bytes(line))))
                } else {
                    Err(format!("findfs gave no device path for {}", self.shown()))
                }
            }
            Err(command::Failed { code: Some(1), .. }) => Ok(None),
            Err(failed) => Err(failed.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fstab;

    fn source(line: &str) -> Result<Option<PathBuf>, String> {
        let entry = fstab::parse(line.as_bytes()).entries.remove(0);
        of(&entry).map(|s| match s {
            Source::Path(p) => Some(p),
            Source::Tag(t) => Some(t.link()),
            Source::Other => None,
        })
    }

    #[test]
    fn sources() {
        let dev = |l: &str| source(l).unwrap();
        assert_eq!(
            dev("/dev/etherd/e1.0 /m ext4"),
            Some("/dev/etherd/e1.0".into())
        );
        assert_eq!(
            dev("UUID=\"ab-12\" /m ext4"),
            Some("/dev/disk/by-uuid/ab-12".into())
        );
        assert_eq!(
            dev("LABEL=data /m ext4"),
            Some("/dev/disk/by-label/data".into())
        );
        assert_eq!(
            dev("PARTUUID=4f3a-01 /m ext4"),
            Some("/dev/disk/by-partuuid/4f3a-01".into())
        );
        assert_eq!(
            dev("PARTLABEL=aoe /m ext4"),
            Some("/dev/disk/by-partlabel/aoe".into())
        );
        assert_eq!(dev("//srv/share /m cifs"), None);
        assert_eq!(dev("srv:/export /m nfs"), None);
        assert_eq!(dev("tmpfs /m tmpfs"), None);
        assert_eq!(dev("OTHER=x /m tmpfs"), None);
    }

    #[test]
    fn tag_values_naming_dev_disk_itself_are_refused() {
        for line in [
            "LABEL=.. /m ext4",
            "LABEL=. /m ext4",
            "UUID=\"..\" /m ext4",
            "LABEL=a/b /m ext4",
            "PARTLABEL=../../sda /m ext4",
            "UUID= /m ext4",
            "LABEL=\"\" /m ext4",
        ] {
            let err = source(line).unwrap_err();
            assert!(err.contains("names no device"), "{line}: {err}");
        }
        assert_eq!(
            source("LABEL=.. /m ext4").unwrap_err(),
            "LABEL=.. names no device (a tag's value is never empty, `.` or `..`, nor holds a `/`)"
        );
    }
}
