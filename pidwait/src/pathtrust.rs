//! Whether only root or we could have set up a path: systemd's rules for
//! `PIDFile=` (its "unsafe transition" checks), a little stricter. Used for
//! pidfiles here, and by other tools for the directories they write in as
//! root (`lsb-status lock`).
//!
//! The path is walked from `/` one name at a time through open descriptors,
//! so nothing can be swapped between a check and the use of what it
//! checked:
//! - every directory on the way, symlinks resolved, is owned by root or us,
//!   and writable by no one else (group or others) unless it has the sticky
//!   bit (as `/tmp`) — judged when a name is looked up in it; one that a
//!   `..` only leaves must be root's or ours (else its owner could move it
//!   and put a link in its place), its mode decides nothing;
//! - nothing owned by another user is reached from a directory that is not
//!   root's (systemd's "unsafe transition": that owner could have put it
//!   there);
//! - no symlink of another user's is followed, not even from root's sticky
//!   `/tmp` (the kernel's `protected_symlinks`, which does not apply since
//!   links are read here, not by the kernel): such a link may point
//!   anywhere, `/tmp/x` to `/run`;
//! - a file at the end ([`open_file`]) is never reached through a symlink.
//!
//! A refusal names the component and why.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, Stat};

/// At most this many symlinks are followed on a path.
const MAX_LINKS: usize = 40;

/// Why a path could not be used.
#[derive(Debug)]
pub enum Error {
    /// A component is missing, not a directory, or could not be opened.
    Io(io::Error),
    /// Someone other than root or us could have set it up: why.
    Untrusted(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Untrusted(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Self {
        Self::Io(e.into())
    }
}

/// Opens the file at the end of `path` with `flags` (never through a
/// symlink: that is [`Error::Untrusted`]), after checking every directory
/// on the way (see the module's rules). The file itself is not judged:
/// its owner and mode are the caller's to check.
pub fn open_file(path: &Path, flags: OFlags) -> Result<OwnedFd, Error> {
    walk(path, End::File(flags)).map(|fd| fd.expect("only a way may end early"))
}

/// Checks every directory from `/` down to `dir` itself (see the module's
/// rules), and returns `dir` opened with `O_PATH`.
pub fn open_dir(dir: &Path) -> Result<OwnedFd, Error> {
    walk(dir, End::Dir).map(|fd| fd.expect("only a way may end early"))
}

/// Checks the way to `dir`, a directory the caller may be about to create:
/// every directory on it up to the first name that does not exist yet (then
/// `None`), or up to `dir` itself, returned opened with `O_PATH`. What `dir`
/// itself is (its type, its mode: a group may share it) is the caller's to
/// judge.
pub fn way_to(dir: &Path) -> Result<Option<OwnedFd>, Error> {
    walk(dir, End::Way)
}

/// Makes `dir` and every missing directory on the way to it (`mode`, less
/// the umask), each with `mkdirat` in its parent's descriptor once that
/// parent has passed the rules, so that no link put in place meanwhile can
/// turn where a directory is made: what stands at a name once it is made
/// (ours, or a link raced in) is judged as any other. Then as [`way_to`]:
/// `dir` opened with `O_PATH`, what it is the caller's to judge.
pub fn create_dir_all(dir: &Path, mode: u32) -> Result<OwnedFd, Error> {
    walk(dir, End::Create(Mode::from_raw_mode(mode)))
        .map(|fd| fd.expect("only a way may end early"))
}

/// What a walk ends at.
#[derive(Clone, Copy)]
enum End {
    /// A file, opened with these flags.
    File(OFlags),
    /// A directory, held to the rules of one on the way.
    Dir,
    /// A directory that may not exist yet, its own mode not judged.
    Way,
    /// A directory made with this mode where missing, as a way otherwise.
    Create(Mode),
}

/// Walks `path` to its `end`; `None` only for a way that ends early.
fn walk(path: &Path, end: End) -> Result<Option<OwnedFd>, Error> {
    let me = rustix::process::geteuid().as_raw();
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().map_err(Error::Io)?.join(path)
    };
    // Names still to walk, the next one last.
    let mut todo: Vec<OsString> = Vec::new();
    let push = |todo: &mut Vec<OsString>, p: &Path| {
        for c in p.components().rev() {
            match c {
                Component::Normal(n) => todo.push(n.to_owned()),
                Component::ParentDir => todo.push("..".into()),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
    };
    push(&mut todo, &absolute);
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let root_st = rustix::fs::fstat(&root)?;
    // The directories walked so far, `/` first, each with its stat and path.
    let mut dirs: Vec<(OwnedFd, Stat, PathBuf)> = vec![(root, root_st, PathBuf::from("/"))];
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            if dirs.len() > 1 {
                // Where `..` leads is decided by where the directory it
                // leaves lies: one of another user's may be moved by them
                // (out of a sticky `/tmp`) and a link put in its place
                // before the path is used again. Its mode decides nothing.
                let (_, st, left) = dirs.pop().expect("more than / is there");
                owner_rules(&st, &left, me)?;
            }
            continue;
        }
        let (dir, dir_st, dir_path) = dirs.last().expect("/ is never popped");
        // A directory is judged when a name is looked up in it: the mode of
        // one only left by `..` decides nothing (whoever may write in it
        // cannot change where its `..` leads).
        dir_rules(dir_st, dir_path, me)?;
        let here = dir_path.join(&name);
        if let (End::File(flags), true) = (end, todo.is_empty()) {
            let fd = match rustix::fs::openat(dir, &name, flags | OFlags::NOFOLLOW, Mode::empty()) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::LOOP) => {
                    return Err(Error::Untrusted("it is a symlink".into()))
                }
                Err(e) => return Err(e.into()),
            };
            transition(dir_st, dir_path, &rustix::fs::fstat(&fd)?, &here)?;
            return Ok(Some(fd));
        }
        let Some(fd) = look_up(dir, &name, end)? else {
            return Ok(None);
        };
        let st = rustix::fs::fstat(&fd)?;
        transition(dir_st, dir_path, &st, &here)?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                link_rules(&st, &here, me)?;
                links += 1;
                if links > MAX_LINKS {
                    return Err(Error::Untrusted(format!(
                        "more than {MAX_LINKS} symlinks on its path"
                    )));
                }
                let target = rustix::fs::readlinkat(dir, &name, Vec::new())?;
                let target = PathBuf::from(OsString::from_vec(target.into_bytes()));
                if target.is_absolute() {
                    dirs.truncate(1);
                }
                push(&mut todo, &target);
            }
            FileType::Directory => dirs.push((fd, st, here)),
            // What a way ends at is the caller's to judge, its type too.
            _ if matches!(end, End::Way | End::Create(_)) && todo.is_empty() => {
                return Ok(Some(fd))
            }
            _ => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a directory", here.display()),
                )))
            }
        }
    }
    let (fd, st, path) = dirs.pop().expect("/ is never popped");
    match end {
        End::File(_) => Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        ))),
        End::Dir => dir_rules(&st, &path, me).map(|()| Some(fd)),
        End::Way | End::Create(_) => Ok(Some(fd)),
    }
}

/// `name` in `dir`, opened with `O_PATH` (a symlink itself, not followed);
/// missing, `None` for a way, made first for [`End::Create`] (in `dir`'s
/// own descriptor: whatever stands there then is what is judged).
fn look_up(dir: &OwnedFd, name: &OsString, end: End) -> Result<Option<OwnedFd>, Error> {
    let open = || {
        rustix::fs::openat(
            dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    match (open(), end) {
        (Ok(fd), _) => Ok(Some(fd)),
        (Err(rustix::io::Errno::NOENT), End::Way) => Ok(None),
        (Err(rustix::io::Errno::NOENT), End::Create(mode)) => {
            match rustix::fs::mkdirat(dir, name, mode) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(Some(open()?)),
                Err(e) => Err(e.into()),
            }
        }
        (Err(e), _) => Err(e.into()),
    }
}

/// A directory on the way: owned by root or us, and writable by no one else
/// unless sticky.
fn dir_rules(st: &Stat, here: &Path, me: u32) -> Result<(), Error> {
    owner_rules(st, here, me)?;
    let shown = here.display();
    let mode = st.st_mode & 0o7777;
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        let who = if mode & 0o002 == 0 {
            "its group"
        } else {
            "anyone"
        };
        return Err(Error::Untrusted(format!(
            "directory {shown} is writable by {who} (mode {mode:o}) and has no sticky bit"
        )));
    }
    Ok(())
}

/// A directory on the way, or one `..` leaves: owned by root or us.
fn owner_rules(st: &Stat, here: &Path, me: u32) -> Result<(), Error> {
    if st.st_uid == 0 || st.st_uid == me {
        return Ok(());
    }
    Err(Error::Untrusted(format!(
        "directory {} is owned by uid {}, neither root nor us (uid {me})",
        here.display(),
        st.st_uid
    )))
}

/// A symlink on the way: owned by root or us.
fn link_rules(st: &Stat, here: &Path, me: u32) -> Result<(), Error> {
    if st.st_uid == 0 || st.st_uid == me {
        return Ok(());
    }
    Err(Error::Untrusted(format!(
        "{} is a symlink owned by uid {}, neither root nor us (uid {me})",
        here.display(),
        st.st_uid
    )))
}

/// systemd's `unsafe_transition`: from a directory not owned by root, only
/// things of the same owner may be reached.
fn transition(dir: &Stat, dir_path: &Path, child: &Stat, here: &Path) -> Result<(), Error> {
    if dir.st_uid == 0 || dir.st_uid == child.st_uid {
        return Ok(());
    }
    Err(Error::Untrusted(format!(
        "{} is owned by uid {} but lies in {}, owned by uid {} (an unsafe transition)",
        here.display(),
        child.st_uid,
        dir_path.display(),
        dir.st_uid
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn untrusted(r: Result<OwnedFd, Error>) -> String {
        match r {
            Err(Error::Untrusted(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn directories_are_walked_to_their_end() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        std::fs::create_dir_all(base.join("a/b")).unwrap();
        let fd = open_dir(&base.join("a/b")).unwrap();
        let st = rustix::fs::fstat(&fd).unwrap();
        let want = std::fs::metadata(base.join("a/b")).unwrap();
        assert_eq!(st.st_ino, std::os::unix::fs::MetadataExt::ino(&want));
        open_dir(Path::new("/")).unwrap();
        // A link to a directory is followed, and checked where it leads.
        std::os::unix::fs::symlink("a/b", base.join("l")).unwrap();
        open_dir(&base.join("l")).unwrap();
        std::fs::set_permissions(base.join("a/b"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = untrusted(open_dir(&base.join("l")));
        assert!(
            why.ends_with("a/b is writable by anyone (mode 777) and has no sticky bit"),
            "{why}"
        );
        std::fs::set_permissions(base.join("a/b"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        open_dir(&base.join("l")).unwrap();
        std::fs::set_permissions(base.join("a"), std::fs::Permissions::from_mode(0o775)).unwrap();
        let why = untrusted(open_dir(&base.join("a/b")));
        assert!(why.contains("writable by its group (mode 775)"), "{why}");
        assert!(
            matches!(open_dir(&base.join("none")), Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound)
        );
        // A file at the end is found with open_file, not open_dir.
        std::fs::write(base.join("f"), "").unwrap();
        let err = open_dir(&base.join("f")).unwrap_err();
        assert!(err.to_string().ends_with("f is not a directory"), "{err}");
        open_file(&base.join("f"), OFlags::RDONLY | OFlags::CLOEXEC).unwrap();
        let err = open_file(Path::new("/"), OFlags::RDONLY).unwrap_err();
        assert_eq!(err.to_string(), "not a file name");
    }

    /// What the walk hands back is an `O_PATH` descriptor no child inherits,
    /// `/` itself included.
    #[test]
    fn descriptors_are_o_path_and_close_on_exec() {
        let tmp = tempfile::tempdir().unwrap();
        for dir in [Path::new("/"), tmp.path()] {
            let fd = open_dir(dir).unwrap();
            let flags = rustix::fs::fcntl_getfl(&fd).unwrap();
            assert!(flags.contains(OFlags::PATH), "{dir:?}: {flags:?}");
            let fd_flags = rustix::io::fcntl_getfd(&fd).unwrap();
            assert!(
                fd_flags.contains(rustix::io::FdFlags::CLOEXEC),
                "{dir:?}: {fd_flags:?}"
            );
        }
    }

    /// `..` at `/` stays at `/`, as the kernel has it; it never leaves the
    /// walk without a directory.
    #[test]
    fn dot_dot_above_the_root_is_the_root() {
        let ino = |fd: &OwnedFd| rustix::fs::fstat(fd).unwrap().st_ino;
        let root = open_dir(Path::new("/")).unwrap();
        assert_eq!(ino(&open_dir(Path::new("/..")).unwrap()), ino(&root));
        let tmp = tempfile::tempdir().unwrap();
        let up = Path::new("/../..").join(tmp.path().strip_prefix("/").unwrap());
        let want = rustix::fs::stat(tmp.path()).unwrap().st_ino;
        assert_eq!(ino(&open_dir(&up).unwrap()), want);
        // A link climbing above the root lands on it too.
        let climb = "../".repeat(tmp.path().components().count() + 2);
        std::os::unix::fs::symlink(&climb, tmp.path().join("up")).unwrap();
        assert_eq!(ino(&open_dir(&tmp.path().join("up")).unwrap()), ino(&root));
    }

    /// A directory only passed through by `..` is not judged: its writers
    /// cannot change where its `..` leads. One a name is looked up in is.
    #[test]
    fn a_directory_left_by_dot_dot_is_not_judged() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        std::fs::create_dir_all(base.join("open/sub")).unwrap();
        std::fs::create_dir(base.join("mine")).unwrap();
        std::fs::set_permissions(base.join("open"), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        open_dir(&base.join("open/../mine")).unwrap();
        let why = untrusted(open_dir(&base.join("open/sub/../../mine")));
        assert!(
            why.ends_with("open is writable by anyone (mode 777) and has no sticky bit"),
            "{why}"
        );
    }

    /// A directory `..` leaves must be root's or ours: in a sticky `/tmp`,
    /// another user may move theirs away and put a link in its place, so
    /// that `theirs/..` leads wherever they like once the path is used.
    #[test]
    fn a_directory_of_another_users_left_by_dot_dot_is_refused() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIP: chown to uid 65534 needs root");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI runs as root"
            );
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let sticky = tmp.path().join("sticky");
        std::fs::create_dir_all(sticky.join("theirs")).unwrap();
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
        std::os::unix::fs::chown(sticky.join("theirs"), Some(65534), Some(65534)).unwrap();
        let up = sticky.join("theirs/..");
        let shown = sticky.join("theirs");
        for why in [
            untrusted(open_dir(&up)),
            untrusted(way_to(&up.join("x")).map(Option::unwrap)),
            untrusted(open_file(&up.join("x"), OFlags::RDONLY)),
        ] {
            assert_eq!(
                why,
                format!(
                    "directory {} is owned by uid 65534, neither root nor us (uid 0)",
                    shown.display()
                )
            );
        }
        // Root's own, however open, is fine to leave.
        std::os::unix::fs::chown(sticky.join("theirs"), Some(0), Some(0)).unwrap();
        std::fs::set_permissions(
            sticky.join("theirs"),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap();
        open_dir(&up).unwrap();
    }

    /// Missing directories are made, each in its judged parent, with the
    /// mode asked (less the umask); another user's link where one would be
    /// made is judged, not followed, and nothing is made where it points.
    #[test]
    fn directories_are_made_in_judged_parents_only() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let fd = create_dir_all(&base.join("a/b/c"), 0o700).unwrap();
        let made = std::fs::metadata(base.join("a/b/c")).unwrap();
        assert_eq!(rustix::fs::fstat(&fd).unwrap().st_ino, made.ino());
        assert_eq!(made.mode() & 0o777, 0o700);
        assert_eq!(
            std::fs::metadata(base.join("a")).unwrap().mode() & 0o777,
            0o700
        );
        // Again: nothing to make, the same directory.
        create_dir_all(&base.join("a/b/c"), 0o700).unwrap();
        // Not in a directory anyone may write in.
        std::fs::create_dir(base.join("open")).unwrap();
        std::fs::set_permissions(base.join("open"), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        let why = match create_dir_all(&base.join("open/x"), 0o700) {
            Err(Error::Untrusted(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(why.contains("writable by anyone"), "{why}");
        assert!(!base.join("open/x").exists());
        if !rustix::process::geteuid().is_root() {
            return;
        }
        // Another user's link in a sticky directory, where `x` would be made.
        std::fs::create_dir(base.join("pub")).unwrap();
        std::fs::set_permissions(base.join("pub"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        std::fs::create_dir(base.join("victim")).unwrap();
        std::os::unix::fs::symlink(base.join("victim"), base.join("pub/x")).unwrap();
        std::os::unix::fs::lchown(base.join("pub/x"), Some(65534), Some(65534)).unwrap();
        let why = match create_dir_all(&base.join("pub/x/sub"), 0o700) {
            Err(Error::Untrusted(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(why.contains("is a symlink owned by uid 65534"), "{why}");
        assert!(!base.join("victim/sub").exists());
    }

    /// A way is checked up to its first missing name; its end's own mode is
    /// not judged (a group may share it), only the directories before it.
    #[test]
    fn a_way_ends_at_its_first_missing_name_and_does_not_judge_its_end() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        assert!(way_to(&base.join("a/b/c")).unwrap().is_none());
        std::fs::create_dir(base.join("shared")).unwrap();
        std::fs::set_permissions(base.join("shared"), std::fs::Permissions::from_mode(0o770))
            .unwrap();
        let fd = way_to(&base.join("shared")).unwrap().unwrap();
        assert!(rustix::fs::fcntl_getfl(&fd).unwrap().contains(OFlags::PATH));
        let why = untrusted(open_dir(&base.join("shared")));
        assert!(why.contains("writable by its group (mode 770)"), "{why}");
        // Below it, the same directory is on the way, and judged.
        let why = match way_to(&base.join("shared/new")) {
            Err(Error::Untrusted(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(why.contains("writable by its group (mode 770)"), "{why}");
        // Not a directory on the way is an error; at its end, the caller's.
        std::fs::write(base.join("f"), "").unwrap();
        assert!(matches!(way_to(&base.join("f/x")), Err(Error::Io(_))));
        assert!(way_to(&base.join("f")).unwrap().is_some());
    }

    /// A chain of exactly `MAX_LINKS` links is followed; one more is refused.
    #[test]
    fn at_most_max_links_symlinks_are_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        std::fs::create_dir(base.join("d")).unwrap();
        std::os::unix::fs::symlink("d", base.join("l1")).unwrap();
        for i in 2..=MAX_LINKS + 1 {
            std::os::unix::fs::symlink(format!("l{}", i - 1), base.join(format!("l{i}"))).unwrap();
        }
        open_dir(&base.join(format!("l{MAX_LINKS}"))).unwrap();
        let why = untrusted(open_dir(&base.join(format!("l{}", MAX_LINKS + 1))));
        assert_eq!(why, format!("more than {MAX_LINKS} symlinks on its path"));
    }

    /// The file at the end is never a symlink, whatever flags the caller
    /// passes: its own `O_NOFOLLOW` does not cancel ours.
    #[test]
    fn the_file_is_never_reached_through_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), "").unwrap();
        std::os::unix::fs::symlink("f", tmp.path().join("l")).unwrap();
        for flags in [OFlags::RDONLY, OFlags::RDONLY | OFlags::NOFOLLOW] {
            let why = untrusted(open_file(&tmp.path().join("l"), flags | OFlags::CLOEXEC));
            assert_eq!(why, "it is a symlink", "{flags:?}");
        }
    }
}
