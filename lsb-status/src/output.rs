//! Writing units into `--output DIR`: into a directory that is the
//! caller's own, through a temporary file renamed over the target, so that
//! a symlink planted at `DIR/NAME.service` is replaced, never written
//! through, and a failed write leaves nothing behind.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// DIR must be a directory (not reached through a symlink) owned by the
/// caller or root, and not writable by others.
pub fn check_dir(dir: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(dir).with_context(|| {
        format!(
            "cannot use output directory {}",
            crate::escape(&dir.display().to_string())
        )
    })?;
    let shown = crate::escape(&dir.display().to_string());
    if meta.file_type().is_symlink() {
        bail!("output directory {shown} is a symlink: give the directory itself");
    }
    if !meta.is_dir() {
        bail!("output directory {shown} is not a directory");
    }
    let me = rustix_uid();
    if meta.uid() != me && meta.uid() != 0 {
        bail!(
            "output directory {shown} belongs to uid {}, not to you (uid {me}) or root",
            meta.uid()
        );
    }
    if meta.mode() & 0o002 != 0 && meta.mode() & 0o1000 == 0 {
        bail!("output directory {shown} is writable by everyone");
    }
    Ok(())
}

fn rustix_uid() -> u32 {
    // The owner of /proc/self is this process's real uid.
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// Writes DIR/NAME atomically (0644).
pub fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    let target = dir.join(name);
    let shown = crate::escape(&target.display().to_string());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write {shown}"))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {shown}"))?;
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .with_context(|| format!("cannot write {shown}"))?;
    tmp.persist(&target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {shown}"))?;
    Ok(())
}
