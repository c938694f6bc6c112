//! The process whose death ends the wait (`--pid`, `--pidfile`): held
//! through pidwait's pidfd handle, its pidfile read with pidwait's reader,
//! trust checks and stale-pidfile rule.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use pidwait::dirwatch::DirWatch;
use pidwait::pidfd::Handle;
use pidwait::pidfile::{self, Trust};
use pidwait::Pid;

/// Where the owner stands.
pub enum Owner {
    /// No --pid or --pidfile.
    None,
    /// The pidfile is not written yet (or `stale`: it names a process
    /// started after it was written); its directory is watched once it
    /// exists (a server may create it as it starts).
    Awaited {
        path: PathBuf,
        watch: Option<DirWatch>,
        stale: Option<String>,
    },
    /// The process, held by pidfd where the kernel has them.
    Held(Handle),
    /// It has exited (or never ran).
    Exited(i32),
}

impl Owner {
    pub fn from_pid(pid: i32) -> Result<Self> {
        let pid = Pid::new(pid).ok_or_else(|| anyhow!("invalid pid {pid}"))?;
        Ok(
            match Handle::open(pid).context("holding the --pid process")? {
                Some(handle) => Self::Held(handle),
                None => Self::Exited(pid.get()),
            },
        )
    }

    /// The owner named by a pidfile; one not written yet is waited for
    /// (see [`Owner::refresh`]).
    pub fn from_pidfile(path: &Path) -> Result<Self> {
        let mut owner = Self::Awaited {
            path: path.to_owned(),
            watch: None,
            stale: None,
        };
        owner.refresh()?;
        Ok(owner)
    }

    /// Reads an awaited pidfile again (after a notification); holds the
    /// process it names once it is complete.
    pub fn refresh(&mut self) -> Result<()> {
        let Self::Awaited { path, watch, stale } = self else {
            return Ok(());
        };
        match watch {
            Some(watch) => watch.drain().context("reading change notifications")?,
            None => *watch = watch_parent(path)?,
        }
        let content = match pidfile::read_content(path, Trust::Checked) {
            Ok(content) => content,
            Err(pidfile::Error::Missing { .. }) => return Ok(()),
            // The error names the file; Display already includes any cause.
            Err(e) => bail!("{e}"),
        };
        let pids = match pidfile::parse(&content.bytes, pidfile::pid_max(), content.closed) {
            Ok(pids) => pids,
            // Empty, or a line its writer is still writing: wait for more.
            Err(pidfile::Problem::Incomplete) => return Ok(()),
            Err(problem) => bail!("{}", problem.in_file(path, &content.bytes)),
        };
        let [pid] = pids[..] else {
            bail!(
                "pidfile {}:1: lists {} pids: expected one process id",
                path.display(),
                pids.len()
            );
        };
        // pidwait's stale rule: a process started after the pidfile was
        // last written is not the one it names (its pid was reused). Wait
        // for the server to write its own, as for a missing pidfile.
        if let Ok(Some(stat)) = pidwait::process::stat(pid) {
            *stale = pidwait::process::newcomer(pid, &stat, Some(content.written), None);
            if stale.is_some() {
                return Ok(());
            }
        }
        *self = match Handle::open(pid).context("holding the pidfile's process")? {
            Some(handle) => Self::Held(handle),
            None => Self::Exited(pid.get()),
        };
        Ok(())
    }

    /// The descriptor to poll, if any: the pidfd (readable on exit) or the
    /// pidfile's directory watch.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Self::Held(handle) => handle.fd(),
            Self::Awaited { watch, .. } => watch.as_ref().map(DirWatch::fd),
            Self::None | Self::Exited(_) => None,
        }
    }

    /// The pid of an owner that has exited.
    pub fn exited(&mut self) -> Result<Option<i32>> {
        if let Self::Held(handle) = self {
            if handle.has_exited()? {
                *self = Self::Exited(handle.pid().get());
            }
        }
        Ok(match self {
            Self::Exited(pid) => Some(*pid),
            _ => None,
        })
    }

    /// Why the pidfile still names no process, to say when the time runs
    /// out.
    pub fn awaited(&self) -> Option<String> {
        match self {
            Self::Awaited {
                path,
                stale: Some(why),
                ..
            } => Some(format!("pidfile {}: {why}", path.display())),
            Self::Awaited { path, .. } => {
                Some(format!("pidfile {} was never written", path.display()))
            }
            _ => None,
        }
    }
}

/// A watch on the pidfile's directory; None while it does not exist (the
/// caller's regular re-check looks for it).
fn watch_parent(path: &Path) -> Result<Option<DirWatch>> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match DirWatch::new(dir) {
        Ok(watch) => Ok(Some(watch)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot watch directory {}", dir.display())),
    }
}
