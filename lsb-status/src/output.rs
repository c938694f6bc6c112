//! Writing units into `--output DIR`: into a directory that is the
//! caller's own, through a temporary file renamed over the target, so that
//! a symlink planted at `DIR/NAME.service` is replaced, never written
//! through, and a failed write leaves nothing behind.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// DIR must be a directory (named, not reached through a symlink) that
/// only root or we could have changed (see [`crate::lock::check_dir`]).
pub fn check_dir(dir: &Path) -> Result<()> {
    let shown = crate::escape(&dir.display().to_string());
    let meta = std::fs::symlink_metadata(dir)
        .with_context(|| format!("cannot use output directory {shown}"))?;
    if meta.file_type().is_symlink() {
        bail!("output directory {shown} is a symlink: give the directory itself");
    }
    if !meta.is_dir() {
        bail!("output directory {shown} is not a directory");
    }
    crate::lock::check_dir(dir)
        .map_err(|why| anyhow::anyhow!("refusing output directory {shown}: {why}"))
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
    // Through the open file, not its name.
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .with_context(|| format!("cannot write {shown}"))?;
    tmp.persist(&target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {shown}"))?;
    Ok(())
}
