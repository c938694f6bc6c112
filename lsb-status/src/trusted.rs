//! `lsb-status trusted`: whether only root or we could have set up a path an
//! init script is about to use as root (a lock directory, a mount point, a
//! settings file it sources). The rules are pidwait's, systemd's for
//! `PIDFile=` ([`pidwait::pathtrust`]), so that scripts need no walk of
//! their own.

use std::path::Path;

use pidwait::pathtrust;
use pidwait::pidfile;

/// A directory `dir` may be created in or used: every directory on the way
/// to it, and `dir` itself when it exists (then it must be a directory), is
/// root's or ours and writable by no one else unless sticky; no other
/// user's symlink is followed. A way that ends early (a name not there yet)
/// is checked up to that name. The error is why not, naming the component.
pub fn dir(dir: &Path) -> Result<(), String> {
    // An untrusted component is named by pathtrust itself.
    let shown = |e: pathtrust::Error| match e {
        pathtrust::Error::Io(e) => format!("{}: {e}", dir.display()),
        pathtrust::Error::Untrusted(why) => why,
    };
    match pathtrust::way_to(dir).map_err(shown)? {
        None => Ok(()),
        Some(_) => pathtrust::open_dir(dir).map(drop).map_err(shown),
    }
}

/// A file to read and believe: an existing regular file, on a way as for
/// [`dir`] (a symlink of root's or ours followed, as any on the way), owned
/// by root or us and writable by its owner only (what a pidfile must be),
/// with no other name: where hard links to others' files are allowed
/// (`fs.protected_hardlinks=0`), another user may link any file of root's
/// (a log with lines of theirs) where a script will source it.
pub fn file(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let shown = file.display();
    let fd = match pathtrust::way_to(file) {
        Ok(Some(fd)) => fd,
        Ok(None) => return Err(format!("{shown}: no such file")),
        Err(pathtrust::Error::Io(e)) => return Err(format!("{shown}: {e}")),
        Err(pathtrust::Error::Untrusted(why)) => return Err(why),
    };
    let meta = std::fs::File::from(fd)
        .metadata()
        .map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    pidfile::file_rules(file, &meta).map_err(|e| match e {
        pidfile::Error::Untrusted { reason, .. } => format!("{shown}: {reason}"),
        other => other.to_string(),
    })?;
    if meta.nlink() > 1 {
        return Err(format!(
            "{shown}: it has {} hard links (another user may have linked it there)",
            meta.nlink()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_directory_is_judged_up_to_its_first_missing_name() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        dir(&base.join("a/b/c")).unwrap();
        std::fs::create_dir(base.join("a")).unwrap();
        mode(&base.join("a"), 0o777);
        let why = dir(&base.join("a/b")).unwrap_err();
        assert!(
            why.ends_with("a is writable by anyone (mode 777) and has no sticky bit"),
            "{why}"
        );
        // Its end too, when it exists, and it must be a directory.
        let why = dir(&base.join("a")).unwrap_err();
        assert!(why.contains("writable by anyone"), "{why}");
        mode(&base.join("a"), 0o1777);
        dir(&base.join("a")).unwrap();
        std::fs::write(base.join("f"), "").unwrap();
        let why = dir(&base.join("f")).unwrap_err();
        assert!(why.ends_with("f is not a directory"), "{why}");
    }

    #[test]
    fn a_file_is_regular_and_writable_by_its_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("settings");
        assert_eq!(
            file(&f).unwrap_err(),
            format!("{}: no such file", f.display())
        );
        std::fs::write(&f, "").unwrap();
        mode(&f, 0o644);
        file(&f).unwrap();
        mode(&f, 0o664);
        assert_eq!(
            file(&f).unwrap_err(),
            format!("{}: it is group-writable (mode 664)", f.display())
        );
        // Our own link is followed; the file it leads to is judged.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(
            file(&link).unwrap_err(),
            format!("{}: it is group-writable (mode 664)", link.display())
        );
        mode(&f, 0o600);
        file(&link).unwrap();
        let why = file(tmp.path()).unwrap_err();
        assert!(why.ends_with("not a regular file"), "{why}");
        // A second name: either may be the one another user made.
        let other = tmp.path().join("other");
        std::fs::hard_link(&f, &other).unwrap();
        for path in [&f, &other] {
            assert_eq!(
                file(path).unwrap_err(),
                format!(
                    "{}: it has 2 hard links (another user may have linked it there)",
                    path.display()
                )
            );
        }
        std::fs::remove_file(&other).unwrap();
        file(&f).unwrap();
    }
}
