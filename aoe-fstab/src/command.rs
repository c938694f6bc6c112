//! The `mount`/`umount` command lines: built as argv (never a shell string),
//! shown shell-quoted for `--dry-run`, and run within a time limit with
//! their error captured up to a bound.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use pidwait::pidfd::{self, Handle};
use pidwait::{Pid, Signal};
use rustix::event::{PollFd, PollFlags};

use crate::fstab::Entry;

/// `mount -t TYPE [-o OPTIONS] -- SOURCE TARGET`. The `--` keeps a source
/// starting with `-` from being read as an option.
pub fn mount_argv(entry: &Entry) -> Vec<OsString> {
    let mut argv = vec![OsString::from("mount"), "-t".into(), bytes(&entry.fstype)];
    if let Some(options) = &entry.options {
        argv.push("-o".into());
        argv.push(bytes(options));
    }
    argv.extend(["--".into(), bytes(&entry.source), bytes(&entry.target)]);
    argv
}

/// What a real run gives mount(8): as [`mount_argv`], with the mount point
/// `pinned` (`/proc/PID/fd/N`, see [`held_path`]) in place of the path,
/// `--no-canonicalize` so that libmount hands it to the kernel as it is
/// (the kernel resolves it to what is held open, and records the real
/// path), and `-n`: libmount would record userspace options (`_netdev`) in
/// /run/mount/utab under `/proc/PID/fd/N`, a line that matches no mount
/// and is never removed. `--no-canonicalize` also stops mount(8) from
/// evaluating a `LABEL=`/`UUID=`/`PARTUUID=`/`PARTLABEL=` tag and from
/// resolving links in a source path: `device` is that done here (a tag by
/// findfs(8), libblkid's own evaluation, as mount(8) does it).
pub fn pinned_mount_argv(entry: &Entry, device: Option<&Path>, pinned: &Path) -> Vec<OsString> {
    let mut argv = mount_argv(entry);
    let n = argv.len();
    argv[n - 1] = pinned.into();
    if let Some(device) = device {
        argv[n - 2] = device.into();
    }
    argv.splice(1..1, ["-n".into(), "--no-canonicalize".into()]);
    argv
}

/// `umount -- TARGET`.
pub fn umount_argv(entry: &Entry) -> Vec<OsString> {
    vec!["umount".into(), "--".into(), bytes(&entry.target)]
}

/// `mkdir -p -- TARGET`, what `--mkdir` does (shown by `--dry-run`).
pub fn mkdir_argv(target: &Path) -> Vec<OsString> {
    vec!["mkdir".into(), "-p".into(), "--".into(), target.into()]
}

fn bytes(value: &[u8]) -> OsString {
    OsStr::from_bytes(value).to_owned()
}

/// The command as a POSIX shell (dash included) needs it typed, on one
/// line. Printable text is single-quoted where needed; an argument holding a
/// control character or bytes that are not UTF-8 is produced by `printf`
/// with `\NNN` escapes, so that `sh` gives back exactly the same bytes and
/// the line itself stays printable.
pub fn render(argv: &[OsString]) -> String {
    argv.iter()
        .map(|arg| {
            arg.to_str()
                .filter(|text| matches!(cliutil::escape_controls(text), Cow::Borrowed(_)))
                .map_or_else(|| printf_quote(arg.as_bytes()), cliutil::shell_quote)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `"$(printf 'FORMAT')"`: a command substitution that prints the value.
/// It drops trailing newlines, so those follow as a quoted literal (the
/// only case where the command spans lines; exactness comes first).
fn printf_quote(value: &[u8]) -> String {
    let body_len = value.len() - value.iter().rev().take_while(|&&b| b == b'\n').count();
    let (body, newlines) = value.split_at(body_len);
    let mut out = String::new();
    if !body.is_empty() {
        out.push_str("\"$(printf '");
        for (i, &b) in body.iter().enumerate() {
            // Plain ASCII stays readable; everything else is an escape, so
            // the line is printable whatever the value holds. A leading `-`
            // would read as an option of printf.
            let plain = (b.is_ascii_graphic() || b == b' ') && !b"\\%'".contains(&b);
            if plain && !(i == 0 && b == b'-') {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "\\{b:03o}");
            }
        }
        out.push_str("')\"");
    }
    if !newlines.is_empty() {
        out.push('\'');
        out.push_str(&"\n".repeat(newlines.len()));
        out.push('\'');
    }
    out
}

/// Where `find` looks after PATH: where util-linux puts findfs (as
/// mount(8) does; cron's `PATH=/usr/bin:/bin` has neither).
const SYSTEM_DIRS: [&str; 2] = ["/sbin", "/usr/sbin"];

/// Finds `program` (mount, umount, findfs) once, before it is run: in
/// PATH's absolute entries, then in [`SYSTEM_DIRS`]. An empty or relative
/// entry (`.`, `::`) names whatever directory we run in, where anyone may
/// have planted a program for root to run: skipped.
pub fn find(program: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .chain(SYSTEM_DIRS.iter().map(PathBuf::from));
    let cannot =
        || format!("cannot find `{program}` on PATH (absolute entries), in /sbin or /usr/sbin");
    // Entries split on `:` hold none: joining them cannot fail.
    let dirs = std::env::join_paths(dirs).map_err(|_| cannot())?;
    which::which_in(program, Some(dirs), "/").map_err(|_| cannot())
}

/// `/proc/PID/fd/N` for a descriptor of ours, PID as the /proc mounted here
/// numbers us (it may belong to another pid namespace than ours): a child
/// given this path reaches the very file held open, whatever now stands at
/// the path it was opened by, for as long as we hold it, without
/// inheriting the descriptor (it stays close-on-exec, so no mount helper or
/// daemon it starts keeps it).
pub fn held_path(fd: BorrowedFd<'_>) -> io::Result<PathBuf> {
    let me = std::fs::read_link("/proc/self")?;
    let pid = me
        .to_str()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| io::Error::other("/proc/self does not name a process"))?;
    Ok(PathBuf::from(format!("/proc/{pid}/fd/{}", fd.as_raw_fd())))
}

/// The child's stderr kept, at most: its first line is all that is shown.
/// The rest is read and dropped, so that a child writing more never blocks
/// on a full pipe, and memory stays bounded whatever it writes.
pub const MAX_STDERR: usize = 64 << 10;

/// How long a child is given to exit after SIGTERM, and again after
/// SIGKILL, once its time is up.
const GRACE: Duration = Duration::from_secs(2);

/// Why a command failed: its exit code if it exited (`None`: killed, timed
/// out or never run), and the reason to show.
#[derive(Debug)]
pub struct Failed {
    pub code: Option<i32>,
    pub reason: String,
}

/// Runs `argv` with `program` as argv\[0]'s executable, for at most
/// `limit`; its stdout goes to our stderr (stdout carries data only). See
/// [`output`]; the reason is all that is returned.
pub fn run(program: &Path, argv: &[OsString], limit: Duration) -> Result<(), String> {
    spawn(program, argv, limit, false)
        .map(drop)
        .map_err(|f| f.reason)
}

/// Runs `argv` as [`run`] does, and returns its stdout (up to
/// [`MAX_STDERR`]).
pub fn output(program: &Path, argv: &[OsString], limit: Duration) -> Result<Vec<u8>, Failed> {
    spawn(program, argv, limit, true)
}

/// The child runs in a process group of its own. Its stderr is captured (up
/// to [`MAX_STDERR`]) and its first line returned as the reason when it
/// fails. Once `limit` has passed, the whole group is sent SIGTERM, then
/// SIGKILL (a mount helper it forked, or anything that one forked, must not
/// finish the mount after the entry was reported failed); after a failed
/// exit before the limit, SIGKILL at once (a success leaves the group be: a
/// FUSE daemon serves the mount it made). On a timeout the child is
/// not waited for beyond that: one stuck in the kernel (an NFS or `AoE`
/// device that never answers) may not die at all.
fn spawn(
    program: &Path,
    argv: &[OsString],
    limit: Duration,
    capture: bool,
) -> Result<Vec<u8>, Failed> {
    let other = |reason: String| Failed { code: None, reason };
    let stdout = if capture {
        Stdio::piped()
    } else {
        io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_or_else(|_| Stdio::null(), Stdio::from)
    };
    let name = argv[0].to_string_lossy();
    let mut child = Command::new(program)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| other(format!("cannot run {}: {e}", program.display())))?;
    let mut pipes = Vec::with_capacity(2);
    pipes.push(Pipe::new(child.stderr.take().expect("stderr is piped")));
    if let Some(out) = child.stdout.take() {
        pipes.push(Pipe::new(out));
    }
    // Our own unreaped child: its pid cannot be reused while it is held,
    // nor its process group's id (the same number).
    let handle = match i32::try_from(child.id()).ok().and_then(Pid::new) {
        Some(pid) => Handle::open(pid),
        None => Err(io::Error::other("pid out of range")),
    };
    let watched = handle.and_then(|handle| {
        let handle = handle.ok_or_else(|| io::Error::other("it vanished"))?;
        Ok((watch(&handle, &mut pipes, limit)?, handle))
    });
    match watched {
        Ok((true, _)) => {
            // Exited, not yet reaped (its group's id still ours). After a
            // failure, what it started must not finish the mount later;
            // after a success it stays (a FUSE daemon serves the mount).
            if !exited_zero(&child) {
                kill_group(&child, Signal::SIGKILL);
            }
            match child.wait() {
                Ok(status) if status.success() => {
                    Ok(pipes.pop().map(|p| p.kept).unwrap_or_default())
                }
                Ok(status) => Err(Failed {
                    code: status.code(),
                    reason: reason(&pipes[0].kept, &name, status),
                }),
                Err(e) => Err(other(format!("cannot wait for {name}: {e}"))),
            }
        }
        Ok((false, handle)) => {
            let mut why = format!(
                "{name} did not finish within {}",
                humantime::format_duration(limit)
            );
            if !stop(&mut child, &handle) {
                let _ = write!(
                    why,
                    " (pid {} killed, but still stuck in the kernel; not waited for)",
                    child.id()
                );
            }
            Err(other(why))
        }
        Err(e) => {
            // Never left running unwatched (SIGKILL, not waited for).
            kill_group(&child, Signal::SIGKILL);
            Err(other(format!("cannot watch {name}: {e}")))
        }
    }
}

/// A pipe from the child, and what was kept of it.
struct Pipe {
    file: std::fs::File,
    kept: Vec<u8>,
    open: bool,
}

impl Pipe {
    fn new(end: impl Into<OwnedFd>) -> Self {
        Self {
            file: end.into().into(),
            kept: Vec::new(),
            open: true,
        }
    }
}

/// Whether the child (exited, unreaped) exited with status 0; it is left
/// unreaped.
fn exited_zero(child: &Child) -> bool {
    use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    i32::try_from(child.id()).is_ok_and(|pid| {
        matches!(
            waitid(Id::Pid(nix::unistd::Pid::from_raw(pid)), flags),
            Ok(WaitStatus::Exited(_, 0))
        )
    })
}

/// Reads the child's pipes until it exits (true; it is left unreaped) or
/// `limit` passes (false).
fn watch(handle: &Handle, pipes: &mut [Pipe], limit: Duration) -> io::Result<bool> {
    let deadline = Instant::now().checked_add(limit);
    loop {
        if handle.has_exited()? {
            // What it wrote just before exiting, without waiting for a
            // process it left behind that still holds a pipe.
            for pipe in pipes.iter_mut().filter(|p| p.open) {
                drain_ready(pipe)?;
            }
            return Ok(true);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(false);
        }
        // Without a pidfd (Linux before 5.3) an exit is seen by looking.
        let look = Duration::from_millis(50);
        let pause = match handle.fd() {
            Some(_) => left,
            None => Some(left.map_or(look, |l| l.min(look))),
        };
        let open: Vec<usize> = (0..pipes.len()).filter(|&i| pipes[i].open).collect();
        let mut fds: Vec<PollFd<'_>> = open
            .iter()
            .map(|&i| PollFd::new(&pipes[i].file, PollFlags::IN))
            .collect();
        if let Some(fd) = handle.fd() {
            fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
        }
        pidfd::poll(&mut fds, pause)?;
        let ready: Vec<usize> = open
            .iter()
            .zip(&fds)
            .filter(|(_, fd)| !fd.revents().is_empty())
            .map(|(&i, _)| i)
            .collect();
        drop(fds);
        for i in ready {
            pipes[i].open = read_some(&mut pipes[i])?;
        }
    }
}

/// One read (the caller knows it will not block); false at end of file.
fn read_some(pipe: &mut Pipe) -> io::Result<bool> {
    let mut buf = [0; 8192];
    // No EINTR: aoe-fstab installs no signal handler, so a read is never
    // interrupted (a stopped and continued one is restarted).
    let n = pipe.file.read(&mut buf)?;
    let room = MAX_STDERR.saturating_sub(pipe.kept.len());
    pipe.kept.extend_from_slice(&buf[..n.min(room)]);
    Ok(n > 0)
}

/// Reads what is in the pipe now, a bounded number of times.
fn drain_ready(pipe: &mut Pipe) -> io::Result<()> {
    for _ in 0..(2 * MAX_STDERR / 8192) {
        let mut fds = [PollFd::new(&pipe.file, PollFlags::IN)];
        if pidfd::poll(&mut fds, Some(Duration::ZERO))? == 0 || !read_some(pipe)? {
            break;
        }
    }
    Ok(())
}

/// Signals the child's whole process group. Only while the child is
/// unreaped: then no other process can have its id.
fn kill_group(child: &Child, signal: Signal) {
    if let Ok(pgid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), signal);
    }
}

/// SIGTERM, then SIGKILL, to the child's process group, each with [`GRACE`]
/// for the child to exit; then, the child exited but not yet reaped (its
/// id still taken), SIGKILL once more for anything of the group still
/// there, and the child is reaped. False if it is still there (stuck in
/// the kernel).
fn stop(child: &mut Child, handle: &Handle) -> bool {
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        kill_group(child, signal);
        if handle.wait(Some(GRACE)).unwrap_or(false) {
            kill_group(child, Signal::SIGKILL);
            return child.wait().is_ok();
        }
    }
    false
}

/// The child's first message line (the next ones are hints such as "dmesg(1)
/// may have more information") without its `mount: ` prefix, or its status.
fn reason(stderr: &[u8], name: &str, status: ExitStatus) -> String {
    let text = String::from_utf8_lossy(stderr);
    let message = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| {
            line.strip_prefix(&format!("{name}: "))
                .unwrap_or(line)
                .to_owned()
        });
    message.unwrap_or_else(|| format!("{name} failed ({status})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fstab;

    fn entry(line: &str) -> Entry {
        fstab::parse(line.as_bytes()).entries.remove(0)
    }

    #[test]
    fn argv_is_exact() {
        let e = entry(r"/dev/etherd/e1.0 /mnt/a\040b ext4 rw,_netdev 0 0");
        assert_eq!(
            render(&mount_argv(&e)),
            "mount -t ext4 -o rw,_netdev -- /dev/etherd/e1.0 '/mnt/a b'"
        );
        assert_eq!(render(&umount_argv(&e)), "umount -- '/mnt/a b'");
        let e = entry("tmpfs /t tmpfs");
        assert_eq!(render(&mount_argv(&e)), "mount -t tmpfs -- tmpfs /t");
    }

    #[test]
    fn pinned_argv_names_the_held_mount_point() {
        let e = entry(r"UUID=ab /mnt/a\040b ext4 rw,_netdev 0 0");
        let pinned = Path::new("/proc/42/fd/7");
        assert_eq!(
            render(&pinned_mount_argv(&e, None, pinned)),
            "mount -n --no-canonicalize -t ext4 -o rw,_netdev -- UUID=ab /proc/42/fd/7"
        );
        let e = entry("tmpfs /t tmpfs");
        assert_eq!(
            render(&pinned_mount_argv(
                &e,
                Some(Path::new("/dev/loop0")),
                pinned
            )),
            "mount -n --no-canonicalize -t tmpfs -- /dev/loop0 /proc/42/fd/7"
        );
    }

    #[test]
    fn a_held_path_names_our_descriptor() {
        let dir = std::fs::File::open("/").unwrap();
        let path = held_path(dir.as_fd()).unwrap();
        assert_eq!(std::fs::read_link(&path).unwrap(), Path::new("/"));
        // A child reaches it by path, without inheriting the descriptor.
        let out = Command::new("readlink").arg(&path).output().unwrap();
        assert_eq!(out.stdout, b"/\n");
    }

    #[test]
    fn hostile_fields_stay_single_arguments() {
        let e = entry(r"$(touch\040/tmp/x) /t;rm\040-rf\040/ tmpfs -o\040remount");
        let argv = mount_argv(&e);
        assert_eq!(argv.len(), 8);
        assert_eq!(argv[4], "-o remount");
        assert_eq!(argv[6], "$(touch /tmp/x)");
        assert_eq!(
            render(&argv),
            "mount -t tmpfs -o '-o remount' -- '$(touch /tmp/x)' '/t;rm -rf /'"
        );
    }

    /// The words `sh -c` gets from a rendered line, by running it through
    /// `printf '%s\0'`.
    fn words_in(shell: &str, line: &str) -> Vec<Vec<u8>> {
        let out = Command::new(shell)
            .arg("-c")
            .arg(format!("printf '%s\\0' {line}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {line}");
        let mut words: Vec<Vec<u8>> = out.stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        words.pop();
        words
    }

    #[test]
    fn raw_bytes_render_so_that_dash_gives_them_back() {
        let e = entry("src\\040\\377'\\134 /mnt/\\351t\\303\\251 tmpfs a\\012b\\011");
        let argv = mount_argv(&e);
        let line = render(&argv);
        assert_eq!(
            line,
            r#"mount -t tmpfs -o "$(printf 'a\012b\011')" -- "$(printf 'src \377\047\134')" "$(printf '/mnt/\351t\303\251')""#
        );
        // Every POSIX shell turns the printed words back into the same bytes.
        for shell in ["dash", "bash", "sh"] {
            let words = words_in(shell, &line);
            assert_eq!(words[4], b"a\nb\t");
            assert_eq!(words[6], b"src \xff'\\");
            assert_eq!(words[7], b"/mnt/\xe9t\xc3\xa9");
        }
    }

    #[test]
    fn odd_values_render_exactly() {
        for value in [
            &b"-o\x1b[2J"[..],
            b"%s%n\\x",
            b"tail\n\n",
            b"\n",
            b"\x01'\"$`\\",
            b"\xc2\x9b\x7f",
        ] {
            let argv = vec![OsString::from("echo"), OsStr::from_bytes(value).to_owned()];
            let line = render(&argv);
            assert!(
                !line.chars().any(|c| c.is_control() && c != '\n'),
                "{line:?}"
            );
            assert_eq!(
                words_in("dash", &line),
                [b"echo".to_vec(), value.to_vec()],
                "{line:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_render_so_that_dash_gives_them_back(
            value in proptest::collection::vec(1u8.., 1..24),
        ) {
            let argv = vec![OsString::from("x"), OsStr::from_bytes(&value).to_owned()];
            let line = render(&argv);
            proptest::prop_assert_eq!(&words_in("dash", &line)[1], &value, "{:?}", line);
        }
    }

    #[test]
    fn reason_strips_the_tool_prefix() {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::ExitStatus::from_raw(32 << 8);
        assert_eq!(
            reason(
                b"mount: /x: unknown filesystem type 'nope'.\n",
                "mount",
                status
            ),
            "/x: unknown filesystem type 'nope'."
        );
        assert!(reason(b"", "mount", status).starts_with("mount failed ("));
    }
}
