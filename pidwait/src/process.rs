//! What `/proc` says about a process: its state, process group, and the
//! identity checks (`--exe`, `--name`) that guard against a recycled pid.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A pid that may be signalled: always greater than 1.
///
/// There is no way to build a `Pid` for 0, 1 or a negative number, so code
/// holding one can never signal init, its own process group or "every
/// process" by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(i32);

impl Pid {
    /// `Some` for pids greater than 1, `None` otherwise.
    pub const fn new(raw: i32) -> Option<Self> {
        if raw > 1 {
            Some(Self(raw))
        } else {
            None
        }
    }

    /// The pid as the kernel knows it (always > 1).
    pub const fn get(self) -> i32 {
        self.0
    }

    /// The pid of the running program.
    pub fn this_process() -> Self {
        // Our own pid is 1 only when we run as init, where nothing here applies.
        Self(std::process::id() as i32)
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a process is alive, as far as waiting for it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// It exists and has not exited (running, sleeping, stopped, ...).
    Running,
    /// It has exited and waits to be reaped by its parent: it is dead, even
    /// though `kill(pid, 0)` still succeeds.
    Zombie,
    /// No process has this pid.
    Gone,
}

impl State {
    /// True unless the process has exited (zombie) or vanished.
    pub fn is_alive(self) -> bool {
        self == Self::Running
    }
}

/// The fields of `/proc/PID/stat` that we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The command name (`comm`), at most 15 bytes.
    pub comm: String,
    /// The one-letter state: `R`, `S`, `D`, `T`, `Z`, `X`, ...
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
    /// The process group id.
    pub pgrp: i32,
    /// The session id (0 if the field is missing).
    pub session: i32,
    /// The kernel's flags for the task (`PF_*`; 0 if the field is missing).
    pub flags: u64,
    /// When it started, in clock ticks after boot (`None` if missing).
    pub start_ticks: Option<u64>,
}

/// `PF_KTHREAD`: the task is a kernel thread.
const PF_KTHREAD: u64 = 0x0020_0000;

impl Stat {
    /// `Zombie` for `Z` and `X` (dead), `Running` for anything else.
    pub fn life(&self) -> State {
        if matches!(self.state, 'Z' | 'X' | 'x') {
            State::Zombie
        } else {
            State::Running
        }
    }

    /// True for a kernel thread: never a service, whatever a pidfile says
    /// (some, like nfsd's, even die on SIGKILL).
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parses the text of `/proc/PID/stat`. The command name may hold spaces and
/// parentheses, so it runs from the first `(` to the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let comm = text[open + 1..close].to_owned();
    // Fields from the 3rd (state) on: state ppid pgrp session tty_nr tpgid
    // flags ... starttime (the 22nd, index 19 here).
    let rest: Vec<&str> = text[close + 1..].split_ascii_whitespace().collect();
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    let pgrp = rest.get(2)?.parse().ok()?;
    Some(Stat {
        comm,
        state,
        ppid,
        pgrp,
        session: field(&rest, 3).unwrap_or(0),
        flags: field(&rest, 6).unwrap_or(0),
        start_ticks: field(&rest, 19),
    })
}

fn field<T: std::str::FromStr>(fields: &[&str], i: usize) -> Option<T> {
    fields.get(i).and_then(|f| f.parse().ok())
}

/// Reads `/proc/PID/stat`; `None` if there is no such process.
pub fn stat(pid: Pid) -> io::Result<Option<Stat>> {
    let path = format!("/proc/{pid}/stat");
    // Bytes, not a string: any user can give a process a name that is not
    // UTF-8, and that must not make its entry (or a scan of /proc) fail.
    match read_proc(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            parse_stat(&text).map(Some).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{path}: unexpected content {text:?}"),
                )
            })
        }
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The most [`read_proc`] reads: a `status` whose owner is in 65536
/// groups (the kernel's most) is ~460 KiB.
const PROC_LIMIT: usize = 1 << 20;

/// A small `/proc` file, whole: open, one read into room for 4 KiB (a stat
/// line is under 1 KiB), one more to see its end, close. `fs::read` would
/// ask for its size first (procfs says 0) and then read in steps from 32
/// bytes: twice the system calls, in scans of every process. Less than
/// [`PROC_LIMIT`] bytes: a file that fills it is an error, never a buffer
/// grown without end.
pub(crate) fn read_proc(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let mut file = fs::File::open(path.as_ref())?;
    let mut bytes = vec![0; 4096];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            if len >= PROC_LIMIT {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: longer than {PROC_LIMIT} bytes",
                        path.as_ref().display()
                    ),
                ));
            }
            bytes.resize(len * 2, 0);
        }
        // No EINTR: pidwait installs no signal handler (signals come
        // through a signalfd), so a read is never interrupted.
        match file.read(&mut bytes[len..])? {
            0 => break,
            n => len += n,
        }
    }
    bytes.truncate(len);
    Ok(bytes)
}

/// The state of a process, from `/proc/PID/stat`.
pub fn state(pid: Pid) -> io::Result<State> {
    match stat(pid)? {
        Some(stat) => life(pid, &stat),
        None => Ok(State::Gone),
    }
}

/// Whether process `pid`, whose stat is `stat`, has exited. Its stat
/// shows its main thread only: one that called `pthread_exit` shows a
/// zombie while the process's other threads run on, and the process is
/// alive until the last of them exits (as its pidfd tells).
fn life(pid: Pid, stat: &Stat) -> io::Result<State> {
    let main = stat.life();
    if main == State::Zombie && a_thread_runs(pid)? {
        return Ok(State::Running);
    }
    Ok(main)
}

/// True if a thread of process `pid` has not exited (read from
/// `/proc/PID/task`; false if the process is gone). A thread that exits
/// while the others are read is skipped.
fn a_thread_runs(pid: Pid) -> io::Result<bool> {
    let tasks = match fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(tasks) => tasks,
        Err(e) if is_gone(&e) => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(tasks.filter_map(Result::ok).any(|task| {
        read_proc(task.path().join("stat")).is_ok_and(|bytes| {
            parse_stat(&String::from_utf8_lossy(&bytes)).is_some_and(|s| s.life() == State::Running)
        })
    }))
}

/// The executable of a process, from `/proc/PID/exe`, without the
/// ` (deleted)` the kernel appends when the file was replaced or removed
/// (a package upgrade does that to running daemons). `None` if the process
/// is gone or a zombie (whose executable is no longer known).
pub fn exe(pid: Pid) -> io::Result<Option<PathBuf>> {
    match fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(path) => {
            let text = path.to_string_lossy();
            Ok(Some(match text.strip_suffix(" (deleted)") {
                Some(stripped) => PathBuf::from(stripped),
                None => path,
            }))
        }
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The process a thread id belongs to (`Tgid` in `/proc/PID/status`; equal
/// to `pid` for a process). `None` if there is no such thread.
pub fn thread_group(pid: Pid) -> io::Result<Option<i32>> {
    let path = format!("/proc/{pid}/status");
    let text = match read_proc(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    status_field(&text, "Tgid")
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: no Tgid line")))
}

/// The value of `key` in the text of a `/proc/.../status` file, trimmed.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        let value = l.strip_prefix(key)?.strip_prefix(':')?;
        Some(value.trim())
    })
}

/// How much later than a pidfile's last write a process must have started
/// to be taken for a newcomer that got a recycled pid. It covers the
/// coarse clock the kernel stamps `mtime` with (one scheduler tick: 10 ms
/// at the lowest `HZ`, 100) and the rounding of a start time down to a
/// clock tick, with room to spare: a pid reused within this window of the
/// write is still believed.
pub const STALE_MARGIN: Duration = Duration::from_millis(20);

/// The wall-clock time of `ticks` clock ticks after boot (a start time
/// from `/proc/PID/stat`).
///
/// Boot time is taken as `CLOCK_REALTIME - CLOCK_BOOTTIME` now, to the
/// microsecond, not as `/proc/stat`'s `btime` (whole seconds): start times
/// count on the boot-time clock, and the two clocks read together give the
/// offset exactly. A step of the wall clock since the pidfile was written
/// shifts the result by the step (see README, "Safety").
pub fn wall_clock_of(ticks: u64) -> SystemTime {
    use rustix::time::{clock_gettime, ClockId};
    let to_duration = |t: rustix::time::Timespec| {
        Duration::new(
            u64::try_from(t.tv_sec).unwrap_or(0),
            u32::try_from(t.tv_nsec).unwrap_or(0),
        )
    };
    let since_boot = to_duration(clock_gettime(ClockId::Boottime));
    let now = to_duration(clock_gettime(ClockId::Realtime));
    let hz = rustix::param::clock_ticks_per_second().max(1);
    let after_boot =
        Duration::from_secs(ticks / hz) + Duration::from_nanos((ticks % hz) * 1_000_000_000 / hz);
    SystemTime::UNIX_EPOCH + now.saturating_sub(since_boot) + after_boot
}

/// Why the process described by `stat` cannot be the one a pidfile last
/// written at `written` names, or that was recorded as started at
/// `started` ticks; `None` if it may be.
pub fn newcomer(
    pid: Pid,
    stat: &Stat,
    written: Option<SystemTime>,
    started: Option<u64>,
) -> Option<String> {
    let ticks = stat.start_ticks?;
    if let Some(want) = started {
        if ticks != want {
            return Some(format!(
                "pid {pid} started at tick {ticks} after boot, not at {want}: \
                 another process has its pid now"
            ));
        }
    }
    let written = written?;
    let late = wall_clock_of(ticks)
        .duration_since(written + STALE_MARGIN)
        .ok()?;
    Some(format!(
        "stale pidfile: pid {pid} started {} after the pidfile was last written, \
         so it is another process that got the same pid",
        humantime::format_duration(round_ms(late + STALE_MARGIN))
    ))
}

/// `1h 5s` or `250ms`: as exact as a start time is worth.
fn round_ms(d: Duration) -> Duration {
    if d >= Duration::from_secs(1) {
        Duration::from_secs(d.as_secs() + u64::from(d.subsec_millis() >= 500))
    } else {
        Duration::from_millis(d.as_millis().try_into().unwrap_or(u64::MAX))
    }
}

/// The length the kernel truncates a command name (`comm`) to.
pub const COMM_MAX: usize = 15;

/// What a process must be before it is signalled: `--exe` and `--name`, as
/// in start-stop-daemon. An empty `Identity` matches any process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    exe: Option<PathBuf>,
    name: Option<String>,
    /// When the pidfile naming the process was last written.
    written: Option<SystemTime>,
    /// The start time the process must have (`--started`).
    started: Option<u64>,
    /// `--trust-pidfile`: a pidfile's age is not held against a process.
    trust_age: bool,
}

/// The outcome of an identity check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The process is alive and is what was asked for.
    Yes,
    /// The process is gone or a zombie: there is nothing to compare.
    Gone,
    /// The process is alive but is something else; the text says what.
    No(String),
    /// A process is alive under this pid, but it started after the pidfile
    /// was written (or not at `--started`): a newcomer that got the pid of
    /// a dead one. It counts as dead and is never signalled.
    Stale(String),
}

impl Identity {
    /// An identity from `--exe` (resolved to its canonical path, as the
    /// kernel reports `/proc/PID/exe`) and `--name` (compared with the first
    /// 15 bytes, as the kernel truncates `comm`).
    pub fn new(exe: Option<&Path>, name: Option<&str>) -> io::Result<Self> {
        let exe = exe
            .map(|path| {
                let real = fs::canonicalize(path).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot resolve {}: {e}", path.display()))
                })?;
                // No process runs a directory: the check could never match.
                if real.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{} is a directory, not an executable file", path.display()),
                    ));
                }
                Ok(real)
            })
            .transpose()?;
        let name = name.map(|n| truncate_comm(n).to_owned());
        Ok(Self {
            exe,
            name,
            written: None,
            started: None,
            trust_age: false,
        })
    }

    /// The same identity for a process named by a pidfile last written at
    /// `written`: a process that started later is [`Match::Stale`].
    #[must_use]
    pub fn written_at(mut self, written: Option<SystemTime>) -> Self {
        self.written = written.filter(|_| !self.trust_age);
        self
    }

    /// The same identity, but a pidfile's age is never held against a
    /// process (`--trust-pidfile`: for a wall clock stepped since).
    #[must_use]
    pub fn trusting_age(mut self) -> Self {
        self.trust_age = true;
        self.written = None;
        self
    }

    /// The same identity for a process that must have started at `ticks`
    /// clock ticks after boot (`--started`); any other is [`Match::Stale`].
    #[must_use]
    pub fn started_at(mut self, ticks: Option<u64>) -> Self {
        self.started = ticks;
        self
    }

    /// Compares a live process with this identity.
    ///
    /// The answer is about whichever process has the pid now; to be sure it
    /// is the one you hold a pidfd for, check that the pidfd is still alive
    /// afterwards (a pid is not reused while its process exists).
    pub fn check(&self, pid: Pid) -> io::Result<Match> {
        let Some(stat) = stat(pid)? else {
            return Ok(Match::Gone);
        };
        if life(pid, &stat)? != State::Running {
            return Ok(Match::Gone);
        }
        if stat.is_kernel_thread() {
            return Ok(Match::No(format!(
                "pid {pid} is a kernel thread ({}), not a service",
                stat.comm
            )));
        }
        // /proc/TID exists for every thread, but only a process can be held
        // and signalled as a whole: a thread id is not what a pidfile means.
        if let Some(tgid) = thread_group(pid)? {
            if tgid != pid.get() {
                return Ok(Match::No(format!(
                    "pid {pid} is a thread of process {tgid}, not a process"
                )));
            }
        }
        if let Some(why) = newcomer(pid, &stat, self.written, self.started) {
            return Ok(Match::Stale(why));
        }
        if let Some(want) = &self.name {
            if stat.comm != *want {
                return Ok(Match::No(format!(
                    "pid {pid} is named '{}', not '{want}'",
                    stat.comm
                )));
            }
        }
        if let Some(want) = &self.exe {
            if let Some(other) = exe_match(pid, want, exe(pid)?, || Ok(state(pid)?.is_alive()))? {
                return Ok(other);
            }
        }
        Ok(Match::Yes)
    }
}

/// What `--exe` `want` says of process `pid`, whose executable link showed
/// `have`: `None` if it runs `want`. `alive` is asked only when it showed
/// none: a process that exited between the stat and this read is gone; one
/// alive without a file to show is something else. (A seam: only a race
/// reaches the first, so the unit tests call this directly.)
fn exe_match(
    pid: Pid,
    want: &Path,
    have: Option<PathBuf>,
    alive: impl FnOnce() -> io::Result<bool>,
) -> io::Result<Option<Match>> {
    Ok(match have {
        None if alive()? => Some(Match::No(format!(
            "pid {pid} shows no executable file, not {}",
            want.display()
        ))),
        None => Some(Match::Gone),
        Some(have) if have == *want => None,
        Some(have) => Some(Match::No(format!(
            "pid {pid} runs {}, not {}",
            have.display(),
            want.display()
        ))),
    })
}

/// Parses a pid given on a command line (`--pid` of portwait and logwait):
/// digits only, a process id greater than 1.
pub fn parse_pid(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .ok()
        .filter(|pid| *pid > 1 && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("invalid pid '{text}': expected a process id greater than 1"))
}

/// The first 15 bytes of a name (not splitting a character), as the kernel
/// stores a command name.
pub fn truncate_comm(name: &str) -> &str {
    if name.len() <= COMM_MAX {
        return name;
    }
    let mut end = COMM_MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Pids of the processes in a process group that have not exited, from a
/// scan of `/proc`.
pub fn group_members(pgrp: Pid) -> io::Result<Vec<Pid>> {
    let mut members = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse().ok())
            .and_then(Pid::new)
        else {
            continue;
        };
        if let Some(stat) = stat(pid)? {
            if stat.pgrp == pgrp.get() && life(pid, &stat)? == State::Running {
                members.push(pid);
            }
        }
    }
    Ok(members)
}

/// A process that vanished between two reads shows up as one of these.
fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3 /* ESRCH */)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn pids_at_most_one_do_not_exist() {
        for raw in [i32::MIN, -2, -1, 0, 1] {
            assert_eq!(Pid::new(raw), None, "{raw}");
        }
        assert_eq!(Pid::new(2).map(Pid::get), Some(2));
    }

    #[test]
    fn command_line_pids() {
        assert_eq!(parse_pid("1234"), Ok(1234));
        for bad in ["0", "1", "-5", "+5", "", "x", "99999999999", " 5"] {
            assert!(
                parse_pid(bad).unwrap_err().contains("greater than 1"),
                "{bad}"
            );
        }
    }

    #[test]
    fn stat_with_odd_command_names() {
        let s = parse_stat("42 (a) b (c)) S 7 42 42 0 -1").unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!((s.state, s.ppid, s.pgrp, s.flags), ('S', 7, 42, 0));
        assert_eq!((s.session, s.start_ticks), (42, None));
        let full = "7 (x y) S 1 7 7 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 1 0 123456 0";
        let s = parse_stat(full).unwrap();
        assert_eq!(
            (s.comm.as_str(), s.flags, s.start_ticks),
            ("x y", 4_194_560, Some(123_456))
        );
        let k = parse_stat("34 (kworker/R-writeback) I 2 0 0 0 -1 69238880 0").unwrap();
        assert!(k.is_kernel_thread());
        assert!(!parse_stat("9 (x) S 1 9 9 0 -1 4194560 0")
            .unwrap()
            .is_kernel_thread());
        assert_eq!(parse_stat("9 (x) Z 1 9").unwrap().life(), State::Zombie);
        assert_eq!(parse_stat("9 (x) T 1 9").unwrap().life(), State::Running);
        for bad in ["", "1 x S 1 1", "1 (x) S", "1 (x) S a 1", ")(", "1 (x)"] {
            assert_eq!(parse_stat(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_stat_text_never_panics(text in "\\PC{0,60}") {
            let _ = parse_stat(&text);
        }

        #[test]
        fn arbitrary_pid_text_never_panics(text in proptest::arbitrary::any::<String>()) {
            let _ = parse_pid(&text);
        }

        #[test]
        fn any_name_truncates_to_a_prefix_of_at_most_15_bytes(name in "\\PC{0,30}") {
            let short = truncate_comm(&name);
            proptest::prop_assert!(short.len() <= COMM_MAX && name.starts_with(short));
        }
    }

    #[test]
    fn start_times_and_the_stale_rule() {
        let me = Pid::this_process();
        let st = stat(me).unwrap().unwrap();
        let ticks = st.start_ticks.unwrap();
        let start = wall_clock_of(ticks);
        let now = SystemTime::now();
        assert!(start <= now, "started in the future: {start:?} > {now:?}");
        // The finer boot time agrees with /proc/stat's whole-second btime.
        let btime: u64 = fs::read_to_string("/proc/stat")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let boot = wall_clock_of(0)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        assert!(
            boot.as_secs().abs_diff(btime) <= 1,
            "{boot:?} vs btime {btime}"
        );
        // Written after we started, or within the margin before: ours.
        for written in [
            start + Duration::from_secs(1),
            start,
            start - STALE_MARGIN + Duration::from_millis(1),
        ] {
            assert_eq!(newcomer(me, &st, Some(written), None), None, "{written:?}");
        }
        // Written well before we started: we are not what it names.
        let why = newcomer(me, &st, Some(start - Duration::from_secs(90)), None).unwrap();
        assert!(
            why.starts_with(&format!("stale pidfile: pid {me} started 1m 30s after")),
            "{why}"
        );
        assert!(newcomer(me, &st, Some(start - STALE_MARGIN * 2), None).is_some());
        // --started: exactly our tick, or another process.
        assert_eq!(newcomer(me, &st, None, Some(ticks)), None);
        let why = newcomer(me, &st, None, Some(ticks + 1)).unwrap();
        assert!(why.contains("another process has its pid now"), "{why}");
        // Without a start time (an odd /proc): never called stale.
        let odd = Stat {
            start_ticks: None,
            ..st
        };
        assert_eq!(
            newcomer(me, &odd, Some(SystemTime::UNIX_EPOCH), Some(1)),
            None
        );
        // Through the identity check.
        let id = Identity::default().written_at(Some(start - Duration::from_secs(90)));
        assert!(matches!(id.check(me).unwrap(), Match::Stale(_)));
        assert_eq!(
            Identity::default().written_at(Some(now)).check(me).unwrap(),
            Match::Yes
        );
    }

    /// A start time converts to the wall-clock time the process started:
    /// between the clock read before it was spawned (less the tick a start
    /// time is rounded down by) and the one after.
    #[test]
    fn a_start_time_is_when_the_process_started() {
        let hz = rustix::param::clock_ticks_per_second();
        let tick = Duration::from_nanos(1_000_000_000 / hz);
        // Until one starts off a whole second, so that both parts count.
        for _ in 0..20 {
            let before = SystemTime::now();
            let mut child = Command::new("sleep")
                .arg("60")
                .stdin(Stdio::null())
                .spawn()
                .unwrap();
            let after = SystemTime::now();
            let pid = Pid::new(child.id() as i32).unwrap();
            let ticks = stat(pid).unwrap().unwrap().start_ticks.unwrap();
            child.kill().unwrap();
            child.wait().unwrap();
            let start = wall_clock_of(ticks);
            assert!(
                start + tick >= before && start <= after,
                "{start:?} is not between {before:?} and {after:?}"
            );
            if ticks % hz != 0 {
                return;
            }
        }
    }

    #[test]
    fn ages_are_rounded_to_what_a_start_time_is_worth() {
        let ms = Duration::from_millis;
        assert_eq!(round_ms(ms(250) + Duration::from_micros(700)), ms(250));
        assert_eq!(round_ms(ms(1499)), Duration::from_secs(1));
        assert_eq!(round_ms(ms(1500)), Duration::from_secs(2));
        assert_eq!(round_ms(ms(90_600)), Duration::from_secs(91));
    }

    /// Any user can name a process with bytes that are not UTF-8: its
    /// entry is still read (the name lossily), and a scan of `/proc` for a
    /// group does not fail on it.
    #[test]
    fn a_name_that_is_not_utf8_is_still_read() {
        use std::io::{BufRead, BufReader};
        use std::os::unix::process::CommandExt;
        let (stop, parked) = std::sync::mpsc::channel::<()>();
        let (tell, told) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            fs::write("/proc/thread-self/comm", b"a\xff\xfe").unwrap();
            let link = fs::read_link("/proc/thread-self").unwrap();
            let tid: i32 = link.file_name().unwrap().to_str().unwrap().parse().unwrap();
            tell.send(tid).unwrap();
            parked.recv()
        });
        let tid = Pid::new(told.recv().unwrap()).unwrap();
        let got = stat(tid).unwrap().expect("the thread is there");
        assert_eq!(got.comm, "a\u{fffd}\u{fffd}");
        assert_eq!(state(tid).unwrap(), State::Running);
        assert_eq!(thread_group(tid).unwrap(), Some(std::process::id() as i32));
        stop.send(()).unwrap();
        thread.join().unwrap().unwrap();
        // A whole process so named, leading a group of its own: the group
        // scan finds it.
        let mut child = Command::new("sh")
            .args(["-c", r"printf 'a\377' >/proc/$$/comm; echo named; read x"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "named\n");
        let pid = Pid::new(child.id() as i32).unwrap();
        assert_eq!(stat(pid).unwrap().unwrap().comm, "a\u{fffd}");
        assert_eq!(group_members(pid).unwrap(), vec![pid]);
        drop(child.stdin.take());
        child.wait().unwrap();
    }

    /// A group's members are exactly its live processes: a child leading
    /// a group of its own is all there is in it.
    #[test]
    fn group_members_are_the_group_only() {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = Pid::new(child.id() as i32).unwrap();
        let members = group_members(pid);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(members.unwrap(), [pid]);
        assert_eq!(group_members(pid).unwrap(), []);
    }

    #[test]
    fn comm_truncation() {
        assert_eq!(truncate_comm("short"), "short");
        assert_eq!(truncate_comm("exactly15chars_"), "exactly15chars_");
        assert_eq!(
            truncate_comm("a-much-longer-daemon-name"),
            "a-much-longer-d"
        );
        // 14 ASCII bytes then a 2-byte character: do not cut it in half.
        assert_eq!(truncate_comm("abcdefghijklmné"), "abcdefghijklmn");
    }

    #[test]
    fn a_file_longer_than_the_first_read_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long");
        let text: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        fs::write(&path, &text).unwrap();
        assert_eq!(read_proc(&path).unwrap(), text);
        assert_eq!(
            read_proc(dir.path().join("none")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        // Past PROC_LIMIT: an error naming the file, not a read without end.
        fs::write(&path, vec![b'x'; PROC_LIMIT + 1]).unwrap();
        let err = read_proc(&path).unwrap_err();
        assert!(err.to_string().contains("long: longer than"), "{err}");
        // A read that fails is an error, not retried (a directory: EISDIR).
        assert_eq!(read_proc(dir.path()).unwrap_err().raw_os_error(), Some(21));
    }

    #[test]
    fn our_own_process() {
        let me = Pid::this_process();
        assert_eq!(state(me).unwrap(), State::Running);
        let exe_path = std::env::current_exe().unwrap().canonicalize().unwrap();
        assert_eq!(exe(me).unwrap(), Some(exe_path.clone()));
        let id = Identity::new(Some(&exe_path), None).unwrap();
        assert_eq!(id.check(me).unwrap(), Match::Yes);
        let other = Identity::new(Some(Path::new("/bin/sh")), None).unwrap();
        assert!(matches!(other.check(me).unwrap(), Match::No(_)));
        let named = Identity::new(None, Some("not-our-name-at-all")).unwrap();
        assert!(matches!(named.check(me).unwrap(), Match::No(m) if m.contains("not-our-name-at")));
    }

    #[test]
    fn unreaped_child_is_a_zombie_and_reaped_one_is_gone() {
        let mut child = Command::new("true").stdin(Stdio::null()).spawn().unwrap();
        let pid = Pid::new(child.id() as i32).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while state(pid).unwrap() == State::Running {
            assert!(std::time::Instant::now() < deadline, "child never exited");
            std::thread::yield_now();
        }
        assert_eq!(state(pid).unwrap(), State::Zombie);
        assert_eq!(exe(pid).unwrap(), None);
        assert_eq!(Identity::default().check(pid).unwrap(), Match::Gone);
        child.wait().unwrap();
        assert_eq!(state(pid).unwrap(), State::Gone);
        // Gone is no error, wherever /proc is asked.
        assert_eq!(stat(pid).unwrap(), None);
        assert_eq!(exe(pid).unwrap(), None);
        assert_eq!(thread_group(pid).unwrap(), None);
        assert!(!a_thread_runs(pid).unwrap());
        assert_eq!(Identity::default().check(pid).unwrap(), Match::Gone);
    }

    /// A process whose main thread has called `pthread_exit` while another
    /// thread runs on (built with the C compiler); `None` after a SKIP
    /// where there is none (a failure under `CI=true`).
    fn main_thread_exited() -> Option<(Killed, tempfile::TempDir)> {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("main-exits");
        let cc = Command::new("cc")
            .args(["-pthread", "-x", "c", "-", "-o"])
            .arg(&bin)
            .stdin(Stdio::piped())
            .spawn();
        let built = cc.is_ok_and(|mut cc| {
            cc.stdin
                .take()
                .unwrap()
                .write_all(
                    b"#include <pthread.h>\n#include <unistd.h>\n\
                      static void *run(void *a) { for (;;) pause(); return a; }\n\
                      int main(void) { pthread_t t; \
                      if (pthread_create(&t, 0, run, 0)) return 1; pthread_exit(0); }\n",
                )
                .unwrap();
            cc.wait().is_ok_and(|s| s.success())
        });
        if !built {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "cannot run under CI=true: no C compiler (cc)"
            );
            eprintln!("SKIP: no C compiler (cc) to build a process whose main thread exits");
            return None;
        }
        let child = Killed(
            Command::new(&bin)
                .process_group(0)
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let pid = Pid::new(child.0.id() as i32).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while stat(pid).unwrap().unwrap().state != 'Z' {
            assert!(
                std::time::Instant::now() < deadline,
                "main thread never exited"
            );
            std::thread::yield_now();
        }
        Some((child, dir))
    }

    /// A child killed and reaped when dropped, whatever failed.
    struct Killed(std::process::Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Its stat shows a zombie, but the process lives until its last thread
    /// exits: it is neither gone to a wait nor a group scan, and is the
    /// process a pidfile names.
    #[test]
    fn a_process_whose_main_thread_exited_lives_on_in_its_threads() {
        let Some((mut child, _dir)) = main_thread_exited() else {
            return;
        };
        let pid = Pid::new(child.0.id() as i32).unwrap();
        assert_eq!(stat(pid).unwrap().unwrap().life(), State::Zombie);
        assert_eq!(state(pid).unwrap(), State::Running);
        assert_eq!(Identity::default().check(pid).unwrap(), Match::Yes);
        assert_eq!(group_members(pid).unwrap(), [pid]);
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        assert_eq!(state(pid).unwrap(), State::Gone);
    }

    #[test]
    fn missing_exe_is_an_error_naming_it() {
        let err = Identity::new(Some(Path::new("/no/such/daemon")), None).unwrap_err();
        assert!(err.to_string().contains("/no/such/daemon"), "{err}");
        let err = Identity::new(Some(Path::new("/tmp")), None).unwrap_err();
        assert!(err.to_string().contains("/tmp is a directory"), "{err}");
    }

    #[test]
    fn a_thread_is_not_a_process() {
        let me = Pid::this_process();
        assert_eq!(thread_group(me).unwrap(), Some(me.get()));
        let (stop, parked) = std::sync::mpsc::channel::<()>();
        let (tell, told) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            // "PID/task/TID": this thread's own id, alive until told to stop.
            let link = fs::read_link("/proc/thread-self").unwrap();
            tell.send(
                link.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .parse::<i32>()
                    .unwrap(),
            )
            .unwrap();
            parked.recv()
        });
        let tid = Pid::new(told.recv().unwrap()).unwrap();
        assert_ne!(tid, me);
        assert_eq!(thread_group(tid).unwrap(), Some(me.get()));
        let got = Identity::default().check(tid).unwrap();
        assert_eq!(
            got,
            Match::No(format!(
                "pid {tid} is a thread of process {me}, not a process"
            ))
        );
        stop.send(()).unwrap();
        thread.join().unwrap().unwrap();
    }

    /// A kernel thread is alive but is no service: with or without `--exe`
    /// it does not match (it used to be reported as gone, or to match).
    #[test]
    fn a_kernel_thread_never_matches() {
        // The lowest is kthreadd (pid 2 where the kernel's threads are
        // visible), which never exits; none are visible in some containers.
        let Some(kthread) = fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter_map(Pid::new)
            .filter(|&p| stat(p).ok().flatten().is_some_and(|s| s.is_kernel_thread()))
            .min()
        else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no kernel thread visible: cannot run under CI=true"
            );
            eprintln!("SKIP: no kernel thread visible (a pid namespace without kthreadd)");
            return;
        };
        for id in [
            Identity::default(),
            Identity::new(Some(Path::new("/bin/sh")), None).unwrap(),
        ] {
            match id.check(kthread).unwrap() {
                Match::No(why) => assert!(why.contains("kernel thread"), "{why}"),
                // It may have exited between the scan and the check.
                Match::Gone => assert_eq!(state(kthread).unwrap(), State::Gone),
                other => panic!("kernel thread {kthread} gave {other:?} for {id:?}"),
            }
        }
    }

    /// `--exe` against what `/proc/PID/exe` showed, the liveness asked only
    /// when it showed nothing (an exit racing the check, or a live process
    /// with no file, refused).
    #[test]
    fn exe_match_for_each_thing_the_link_may_show() {
        let pid = Pid::new(4321).unwrap();
        let want = Path::new("/usr/sbin/food");
        let not_asked = || -> io::Result<bool> { panic!("liveness asked for a shown file") };
        assert_eq!(
            exe_match(pid, want, Some(want.to_owned()), not_asked).unwrap(),
            None
        );
        assert_eq!(
            exe_match(pid, want, Some("/usr/bin/bard".into()), not_asked).unwrap(),
            Some(Match::No(
                "pid 4321 runs /usr/bin/bard, not /usr/sbin/food".into()
            ))
        );
        assert_eq!(
            exe_match(pid, want, None, || Ok(false)).unwrap(),
            Some(Match::Gone)
        );
        assert_eq!(
            exe_match(pid, want, None, || Ok(true)).unwrap(),
            Some(Match::No(
                "pid 4321 shows no executable file, not /usr/sbin/food".into()
            ))
        );
        let err = exe_match(pid, want, None, || Err(io::Error::other("no /proc"))).unwrap_err();
        assert_eq!(err.to_string(), "no /proc");
    }
}
