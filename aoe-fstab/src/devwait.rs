//! Waiting for a device node (or any path) to appear: inotify on the nearest
//! existing parent directory, so the wait ends within milliseconds of the
//! node's creation without polling the file system in a loop.

use std::cell::OnceCell;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

/// A re-check every so often even without events: a safety net for file
/// systems that do not report changes through inotify. Events do the work.
const RECHECK: Duration = Duration::from_millis(250);

/// Waits for paths to appear. One inotify instance serves a whole run: the
/// kernel takes an RCU grace period (~10 ms) to close one that had watches,
/// so it is closed once, at exit, and its watches are removed as soon as a
/// wait ends (the kernel then frees them while we go on mounting).
#[derive(Default)]
pub struct Waiter {
    /// Set at the first wait; `None` if inotify is unavailable (then a 5 ms
    /// poll does the job).
    inotify: OnceCell<Option<Inotify>>,
    watches: Vec<WatchDescriptor>,
}

impl Waiter {
    /// Waits until `path` exists or `deadline` passes; true if it exists.
    pub fn wait_for(&mut self, path: &Path, deadline: Instant) -> bool {
        if path.exists() {
            return true;
        }
        let found = self.watch_until(path, deadline);
        if let Some(Some(inotify)) = self.inotify.get() {
            for wd in self.watches.drain(..) {
                let _ = inotify.rm_watch(wd);
            }
        }
        found
    }

    fn watch_until(&mut self, path: &Path, deadline: Instant) -> bool {
        let inotify = self
            .inotify
            .get_or_init(|| Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok())
            .as_ref();
        let mask = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF;
        loop {
            // Watch the deepest directory that exists now; as parents appear
            // the watch moves down towards the node.
            let dir = existing_ancestor(path);
            if let (Some(inotify), Some(dir)) = (inotify, dir) {
                if let Ok(wd) = inotify.add_watch(dir, mask) {
                    if !self.watches.contains(&wd) {
                        self.watches.push(wd);
                    }
                }
            }
            if path.exists() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // A parent created before the watch was added sends no event: watch it.
            if existing_ancestor(path) != dir {
                continue;
            }
            let step = left.min(RECHECK);
            match inotify {
                Some(inotify) => {
                    let ms = u16::try_from(step.as_millis().max(1)).unwrap_or(u16::MAX);
                    let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
                    if let Ok(n) = poll(&mut fds, PollTimeout::from(ms)) {
                        if n > 0 {
                            let _ = inotify.read_events();
                        }
                    }
                }
                None => std::thread::sleep(step.min(Duration::from_millis(5))),
            }
        }
    }
}

fn existing_ancestor(path: &Path) -> Option<&Path> {
    path.ancestors().skip(1).find(|dir| dir.is_dir())
}

/// Whether process `pid` has an inotify watch on `dir` (from
/// `/proc/PID/fdinfo`): lets tests act once a waiter is really waiting.
#[doc(hidden)]
pub fn watched(pid: &str, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(ino) = dir.metadata().map(|m| m.ino()) else {
        return false;
    };
    let needle = format!(" ino:{ino:x} ");
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_to_string(fd.path()).is_ok_and(|info| {
            info.lines()
                .any(|l| l.starts_with("inotify wd:") && l.contains(&needle))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_path_returns_at_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Waiter::default().wait_for(dir.path(), Instant::now()));
    }

    #[test]
    fn missing_path_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        assert!(!Waiter::default().wait_for(
            &dir.path().join("never"),
            start + Duration::from_millis(100)
        ));
        assert!(start.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn sees_a_node_created_under_a_new_directory() {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("etherd/e1.0");
        let maker = {
            let node = node.clone();
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                // Create the node once the waiter is watching for it.
                let end = Instant::now() + Duration::from_secs(10);
                while !watched("self", &dir) && Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::fs::create_dir(node.parent().unwrap()).unwrap();
                std::fs::write(&node, "").unwrap();
            })
        };
        let mut waiter = Waiter::default();
        assert!(waiter.wait_for(&node, Instant::now() + Duration::from_secs(10)));
        assert!(
            waiter.watches.is_empty(),
            "watches are removed after a wait"
        );
        maker.join().unwrap();
    }
}
