//! Lock files (`/var/lock/subsys/NAME`): the init script's note that it
//! started a service. Taking one creates its directory; dropping a lock that
//! is not there is not an error (a stop of a service that never started must
//! still succeed).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use cliutil::Exit;

/// The lock file of `name` in `dir`, after checking that `name` is one plain
/// file name (no `/`, not `.` or `..`, not empty).
pub fn path(dir: &Path, name: &str) -> Result<PathBuf> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        bail!("invalid service name '{name}': expected a plain file name (no '/', not empty)");
    }
    Ok(dir.join(name))
}

/// Creates the lock file (and its directory); an existing lock is kept.
pub fn lock(dir: &Path, name: &str) -> Result<()> {
    let file = path(dir, name)?;
    fs::create_dir_all(dir).map_err(|e| {
        Exit::failure(format!(
            "cannot create lock directory {}: {e}",
            dir.display()
        ))
    })?;
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .map_err(|e| Exit::failure(format!("cannot create lock file {}: {e}", file.display())))?;
    Ok(())
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
