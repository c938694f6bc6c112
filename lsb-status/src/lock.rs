//! Lock files (`/var/lock/subsys/NAME`): the init script's note that it
//! started a service. Taking one creates its directory; dropping a lock that
//! is not there is not an error (a stop of a service that never started must
//! still succeed).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use cliutil::Exit;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// The lock file of `name` in `dir`, after checking that `name` is one plain
/// file name (no `/`, not `.` or `..`, not empty).
pub fn path(dir: &Path, name: &str) -> Result<PathBuf> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        bail!("invalid service name '{name}': expected a plain file name (no '/', not empty)");
    }
    Ok(dir.join(name))
}

/// Creates the lock file (and its directory); an existing lock is kept.
///
/// The directory must be one only root or we could have changed (see
/// [`check_dir`]); the file is created with `O_EXCL`, so a symlink planted
/// at its name is never followed, and an existing lock must be a regular
/// file.
pub fn lock(dir: &Path, name: &str) -> Result<()> {
    let file = path(dir, name)?;
    let shown = |p: &Path| crate::escape(&p.display().to_string());
    // Each missing directory is made in its parent once that parent has
    // passed the rules (no link raced in can turn where); the last one is
    // judged below, and the file made in it through its descriptor.
    pidwait::pathtrust::create_dir_all(dir, 0o755).map_err(|e| match e {
        pidwait::pathtrust::Error::Io(e) => {
            Exit::failure(format!("cannot create lock directory {}: {e}", shown(dir)))
        }
        e @ pidwait::pathtrust::Error::Untrusted(_) => refused(dir, &shown_error(dir, e)),
    })?;
    let at = pidwait::pathtrust::open_dir(dir).map_err(|e| refused(dir, &shown_error(dir, e)))?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat(&at, name, flags, Mode::from_raw_mode(0o644)) {
        Ok(_) => Ok(()),
        Err(Errno::EXIST) => {
            let st = rustix::fs::statat(&at, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| {
                Exit::failure(format!("cannot check lock file {}: {e}", shown(&file)))
            })?;
            match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile => Ok(()),
                FileType::Symlink => Err(Exit::failure(format!(
                    "lock file {} is a symbolic link: not following it",
                    shown(&file)
                ))),
                _ => Err(Exit::failure(format!(
                    "lock file {} is not a regular file",
                    shown(&file)
                ))),
            }
        }
        Err(e) => Err(Exit::failure(format!(
            "cannot create lock file {}: {}",
            shown(&file),
            io::Error::from(e)
        ))),
    }
}

fn refused(dir: &Path, why: &str) -> anyhow::Error {
    Exit::failure(format!(
        "refusing lock directory {}: {why}",
        crate::escape(&dir.display().to_string())
    ))
}

/// Whether only root or we could have changed `dir`: pidwait's path rules
/// ([`pidwait::pathtrust`], systemd's `PIDFile=` checks), the same a pid
/// file must pass: `dir` and every directory above it, symlinks resolved,
/// owned by root or us and writable by no one else unless it has the
/// sticky bit (`/run/lock`, `/tmp`); no symlink of another user's on the
/// way; nothing of another user's reached from a directory not root's. The
/// error says which component and why.
pub fn check_dir(dir: &Path) -> Result<(), String> {
    pidwait::pathtrust::open_dir(dir)
        .map(drop)
        .map_err(|e| shown_error(dir, e))
}

/// Why pathtrust refused `dir`, escaped.
fn shown_error(dir: &Path, e: pidwait::pathtrust::Error) -> String {
    match e {
        pidwait::pathtrust::Error::Io(e) => crate::escape(&format!("{}: {e}", dir.display())),
        pidwait::pathtrust::Error::Untrusted(why) => crate::escape(&why),
    }
}

/// Removes the lock file; one that is not there (or a missing directory) is
/// fine.
pub fn unlock(dir: &Path, name: &str) -> Result<()> {
    let file = path(dir, name)?;
    match fs::remove_file(&file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Exit::failure(format!(
            "cannot remove lock file {}: {e}",
            file.display()
        ))),
    }
}

/// Whether the lock file exists. An error means we cannot tell.
pub fn is_locked(dir: &Path, name: &str) -> Result<bool> {
    let file = path(dir, name)?;
    file.try_exists()
        .map_err(|e| anyhow::anyhow!("cannot check lock file {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_creates_the_directory_and_unlock_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("lock/subsys");
        assert!(!is_locked(&dir, "foo").unwrap());
        lock(&dir, "foo").unwrap();
        assert!(dir.join("foo").is_file());
        assert!(is_locked(&dir, "foo").unwrap());
        lock(&dir, "foo").unwrap();
        unlock(&dir, "foo").unwrap();
        assert!(!is_locked(&dir, "foo").unwrap());
        unlock(&dir, "foo").unwrap();
        unlock(&tmp.path().join("nowhere"), "foo").unwrap();
    }

    #[test]
    fn names_must_be_plain_file_names() {
        let dir = Path::new("/var/lock/subsys");
        for bad in ["", ".", "..", "a/b", "../etc/passwd", "a\0b"] {
            let err = path(dir, bad).unwrap_err().to_string();
            assert!(err.contains("expected a plain file name"), "{bad:?}: {err}");
        }
        assert_eq!(path(dir, "foo.d").unwrap(), dir.join("foo.d"));
    }

    #[test]
    fn failures_exit_1_and_name_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain");
        fs::write(&file, "").unwrap();
        // A lock directory that is a file cannot hold a lock.
        let err = lock(&file, "foo").unwrap_err();
        assert_eq!(err.downcast_ref::<Exit>().unwrap().code, cliutil::FAILURE);
        assert!(err.to_string().contains(&*file.to_string_lossy()), "{err}");
    }
}
