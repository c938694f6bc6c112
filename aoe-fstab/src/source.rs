//! What an entry's source names: a device node by path, a device by a tag
//! (`LABEL=`, `UUID=`, `PARTUUID=`, `PARTLABEL=`) that findfs(8) evaluates
//! as mount(8) would, or something else (a server's export, `tmpfs`).

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
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

/// How long findfs is given to evaluate a tag in `mounted` and `check`
/// (`mount` and `umount` give it their own time limit).
pub const EVALUATE_LIMIT: Duration = Duration::from_secs(30);

/// A device tag as written (`LABEL="my data"`), its value unquoted.
pub struct Tag<'a> {
    spec: &'a [u8],
    dir: &'static str,
    value: &'a [u8],
}

/// What `entry`'s source names; a tag with an empty value is an error
/// (anything else is findfs's to evaluate, as mount(8) does: `LABEL=a/b`
/// too).
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
    if value.is_empty() {
        return Err(format!(
            "{} names no device (a tag's value is never empty)",
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
/// evaluated by findfs. A tag findfs could not evaluate is an error: not
/// knowing is not "another device".
pub fn is_device_of(entry: &Entry, device: &Path, tags: &Resolver) -> Result<bool, String> {
    let named = match of(entry) {
        Ok(Source::Path(path)) => Some(path),
        Ok(Source::Tag(tag)) => tags
            .device(&tag)
            .map_err(|why| format!("cannot evaluate {}: {why}", tag.shown()))?,
        _ => None,
    };
    Ok(named.is_some_and(|named| {
        matches!(
            (std::fs::canonicalize(named), std::fs::canonicalize(device)),
            (Ok(a), Ok(b)) if a == b
        )
    }))
}

/// What findfs said of a tag: its device, none has it, or why it could not
/// tell.
type Evaluated = Result<Option<PathBuf>, String>;

/// Evaluates tags by findfs, each within `limit` and at most once per run
/// (the answer kept: one that hangs costs its limit once, not once per
/// look); findfs itself is looked up once.
pub struct Resolver {
    limit: Duration,
    findfs: OnceCell<Result<PathBuf, String>>,
    seen: RefCell<HashMap<Vec<u8>, Evaluated>>,
}

impl Resolver {
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            findfs: OnceCell::new(),
            seen: RefCell::default(),
        }
    }

    /// The device `tag` names (`Ok(None)`: no device has it), as first
    /// evaluated in this run.
    pub fn device(&self, tag: &Tag<'_>) -> Evaluated {
        if let Some(known) = self.seen.borrow().get(tag.spec) {
            return known.clone();
        }
        self.again(tag)
    }

    /// Evaluates `tag` anew (`--wait-devices` waiting for it to appear).
    pub fn again(&self, tag: &Tag<'_>) -> Evaluated {
        let findfs = self.findfs.get_or_init(|| command::find("findfs")).clone();
        let found = findfs.and_then(|findfs| tag.device(&findfs, self.limit));
        self.seen
            .borrow_mut()
            .insert(tag.spec.to_vec(), found.clone());
        found
    }
}

impl Tag<'_> {
    /// Where udev links the device: only a hint of when to look again (a
    /// value with spaces is linked under udev's encoding, and without udev
    /// there is no link at all). None for a value no link is named (`.`,
    /// `..`, one with a `/`: udev encodes it).
    pub fn link(&self) -> Option<PathBuf> {
        if matches!(self.value, b"." | b"..") || self.value.contains(&b'/') {
            return None;
        }
        Some(
            Path::new("/dev/disk")
                .join(self.dir)
                .join(OsStr::from_bytes(self.value)),
        )
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
    fn device(&self, findfs: &Path, limit: Duration) -> Result<Option<PathBuf>, String> {
        let argv = [
            OsString::from("findfs"),
            OsStr::from_bytes(self.spec).into(),
        ];
        match command::output(findfs, &argv, limit) {
            Ok(out) => match device_path(&out) {
                Some(path) => Ok(Some(path)),
                None => Err(format!("findfs gave no device path for {}", self.shown())),
            },
            Err(command::Failed { code: Some(1), .. }) => Ok(None),
            Err(failed) if failed.reason.starts_with("findfs") => Err(failed.reason),
            Err(failed) => Err(format!("findfs: {}", failed.reason)),
        }
    }
}

/// findfs's answer: one absolute path on one line, or nothing usable.
fn device_path(out: &[u8]) -> Option<PathBuf> {
    let line = out.strip_suffix(b"\n").unwrap_or(out);
    (line.starts_with(b"/") && !line.contains(&b'\n'))
        .then(|| PathBuf::from(OsStr::from_bytes(line)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fstab;

    #[test]
    fn findfs_answers_one_absolute_path() {
        assert_eq!(
            device_path(b"/dev/sda1\n"),
            Some(PathBuf::from("/dev/sda1"))
        );
        assert_eq!(device_path(b"/dev/sda1"), Some(PathBuf::from("/dev/sda1")));
        for bad in [
            &b"sda1\n"[..],
            b"/dev/sda1\n/dev/sdb1\n",
            b"",
            b"\n",
            b"relative",
        ] {
            assert_eq!(device_path(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn source(line: &str) -> Result<Option<PathBuf>, String> {
        let entry = fstab::parse(line.as_bytes()).entries.remove(0);
        of(&entry).map(|s| match s {
            Source::Path(p) => Some(p),
            Source::Tag(t) => t.link(),
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
    fn only_empty_tag_values_are_refused() {
        for line in ["UUID= /m ext4", "LABEL=\"\" /m ext4"] {
            let err = source(line).unwrap_err();
            assert!(err.contains("names no device"), "{line}: {err}");
        }
        assert_eq!(
            source("UUID= /m ext4").unwrap_err(),
            "UUID= names no device (a tag's value is never empty)"
        );
        // findfs and mount(8) evaluate these; no udev link is named so.
        for line in ["LABEL=.. /m ext4", "LABEL=. /m ext4", "LABEL=a/b /m ext4"] {
            assert_eq!(source(line), Ok(None), "{line}");
        }
    }
}
