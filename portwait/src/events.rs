//! Kernel events that say when to look: the tracepoint
//! `sock:inet_sock_set_state`, which fires on every TCP state change,
//! including a socket starting to listen (CLOSE to LISTEN) and a listener
//! closing (LISTEN to CLOSE). It is opened with `perf_event_open` on every
//! online CPU, filtered in the kernel to the ports waited for and to
//! changes into or out of LISTEN, each with a one-page ring buffer (without
//! one, `poll` on a perf descriptor reports a hang-up at once).
//!
//! An event is only a hint to look: what is decided is still decided by
//! the socket table (an event fires before the listener is in the table
//! the lookups read, may come from another network namespace or address,
//! and one on a CPU brought online later is missed). Opening needs the
//! tracepoint (tracefs mounted) and the right to trace every CPU (root or
//! `CAP_PERFMON`); [`Events::open`]'s error says what was missing, and the
//! caller polls instead.
//!
//! Closing the last descriptor of a tracepoint's perf events waits for
//! the kernel's RCU grace periods (`tracepoint_synchronize_unregister`:
//! 43 ms here), which would come between seeing the listener and our exit.
//! So a detached process of ours (forked twice, so that it is no child of
//! a command we exec) holds copies of the descriptors until we have closed
//! ours and exited or exec'd, and pays that wait instead; see
//! [`release_elsewhere`]. Only where [`release_in_a_holder`] was called:
//! a fork copies every descriptor of the process, and in one with other
//! threads (a test harness) the copy would keep another thread's socket
//! open for a moment after it closed it.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;

/// Where tracefs is mounted (systemd mounts the first; the second is its
/// place under debugfs).
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
const TRACEPOINT: &str = "events/sock/inet_sock_set_state/id";
/// More CPUs than this: polling (a descriptor and two pages each).
pub const MAX_CPUS: usize = 1024;
/// More ports than this are not named in the filter (it must fit the
/// kernel's one page): every listen or close of a listener wakes us.
const MAX_FILTER_PORTS: usize = 100;
/// `TCP_LISTEN` in the tracepoint's `oldstate` and `newstate`.
const TCP_LISTEN: u32 = 10;

const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `PERF_ATTR_SIZE_VER0`: the attribute fields up to `config1`.
const PERF_ATTR_SIZE_VER0: u32 = 64;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IOW('$', 6, char *)` as x86, Arm and RISC-V encode it (the pointer's
/// size in bits 16-29: 0x40082406 on 64 bits); where ioctls are encoded
/// otherwise (PowerPC, MIPS, SPARC) the kernel refuses it, and we poll.
const PERF_EVENT_IOC_SET_FILTER: libc::Ioctl =
    (0x4000_2406 | (std::mem::size_of::<*const u8>() << 16)) as libc::Ioctl;
/// `_IO('$', 0)`.
const PERF_EVENT_IOC_ENABLE: libc::Ioctl = 0x2400;
/// Offsets of `data_head` and `data_tail` in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;

/// `struct perf_event_attr` up to `config1` (`PERF_ATTR_SIZE_VER0`), as
/// laid out in `linux/perf_event.h`.
#[repr(C)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// The bitfield word; bit 0 is `disabled`.
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

// The layout of linux/perf_event.h, checked where it is built.
const _: () = {
    assert!(std::mem::size_of::<PerfEventAttr>() == PERF_ATTR_SIZE_VER0 as usize);
    assert!(std::mem::offset_of!(PerfEventAttr, flags) == 40);
    assert!(std::mem::offset_of!(PerfEventAttr, wakeup_events) == 48);
    assert!(std::mem::offset_of!(PerfEventAttr, config1) == 56);
};

/// The tracepoint, open and enabled on every online CPU.
pub struct Events {
    rings: Vec<Ring>,
}

/// Whether [`Events`] are released by a holder process.
static HOLDER: AtomicBool = AtomicBool::new(false);

/// From now on, [`Events`] are released by a holder process, not waited
/// for. Only for a process with one thread (portwait's own).
pub fn release_in_a_holder() {
    HOLDER.store(true, Ordering::Relaxed);
}

impl Drop for Events {
    fn drop(&mut self) {
        let fds: Vec<RawFd> = self.rings.iter().map(|r| r.fd.as_raw_fd()).collect();
        // Holds the released copies until this end closes (an error: we
        // close them ourselves, waiting).
        let held = HOLDER
            .load(Ordering::Relaxed)
            .then(|| release_elsewhere(&fds).ok());
        self.rings.clear();
        drop(held);
    }
}

/// What ended a [`Events::sleep`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Woke {
    /// One of the events came (drained).
    pub event: bool,
    /// The pidfd became readable: its process exited.
    pub owner: bool,
}

impl Events {
    /// Opens the tracepoint on every online CPU, filtered to listeners of
    /// `ports` starting or ending, and enables it. The error says why not.
    pub fn open(ports: &[u16]) -> Result<Events> {
        let id = tracepoint_id()?;
        let online = cliutil::read_limited(
            Path::new("/sys/devices/system/cpu/online"),
            4096,
            "a CPU list",
        )
        .context("reading /sys/devices/system/cpu/online")?;
        let cpus = parse_cpus(&String::from_utf8_lossy(&online)).with_context(|| {
            format!(
                "/sys/devices/system/cpu/online: expected at most {MAX_CPUS} CPUs as a list like 0-3,5, got {:?}",
                String::from_utf8_lossy(&online).trim()
            )
        })?;
        let filter = CString::new(filter(ports)).context("a filter with a NUL")?;
        let attr = PerfEventAttr {
            kind: PERF_TYPE_TRACEPOINT,
            size: PERF_ATTR_SIZE_VER0,
            config: id,
            sample_period: 1,
            sample_type: 0,
            read_format: 0,
            // disabled: enabled only once the filter is set.
            flags: 1,
            wakeup_events: 1,
            bp_type: 0,
            config1: 0,
        };
        let mut rings = Vec::with_capacity(cpus.len());
        for cpu in cpus {
            let fd = perf_event_open(&attr, cpu)
                .with_context(|| format!("perf_event_open on CPU {cpu}"))?;
            ioctl(&fd, PERF_EVENT_IOC_SET_FILTER, filter.as_ptr() as usize)
                .with_context(|| format!("setting the filter {filter:?}"))?;
            let ring = Ring::map(fd).context("mapping a ring buffer")?;
            rings.push(ring);
        }
        for ring in &rings {
            ioctl(&ring.fd, PERF_EVENT_IOC_ENABLE, 0).context("enabling the tracepoint")?;
        }
        Ok(Events { rings })
    }

    /// On how many CPUs the tracepoint is open.
    pub fn cpus(&self) -> usize {
        self.rings.len()
    }

    /// Sleeps for at most `time`, until an event comes or `pidfd` (the
    /// owner's) becomes readable. An error (a descriptor hung up) means
    /// the events are no longer to be waited on.
    pub fn sleep(&self, pidfd: Option<&OwnedFd>, time: Duration) -> Result<Woke> {
        let timeout = Timespec::try_from(time)?;
        let mut fds: Vec<PollFd> = pidfd
            .into_iter()
            .map(|fd| PollFd::new(fd, PollFlags::IN))
            .chain(self.rings.iter().map(|r| PollFd::new(&r.fd, PollFlags::IN)))
            .collect();
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(io::Error::from(e).into()),
        }
        let owner = pidfd.is_some() && !fds[0].revents().is_empty();
        let skip = usize::from(pidfd.is_some());
        let mut event = false;
        for fd in &fds[skip..] {
            let got = fd.revents();
            if got.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                bail!("a tracepoint descriptor reported {got:?}");
            }
            event |= got.contains(PollFlags::IN);
        }
        // Every ring, woken or not: a full one would wake us no more.
        for ring in &self.rings {
            ring.drain();
        }
        Ok(Woke { event, owner })
    }
}

/// The tracepoint's id, from the first tracefs that has it.
fn tracepoint_id() -> Result<u64> {
    let mut failed = Vec::new();
    for dir in TRACEFS {
        let path = Path::new(dir).join(TRACEPOINT);
        // Only root mounts tracefs, but whatever is there is read as any
        // input is: a FIFO would block the open, a huge file the read.
        let read = cliutil::read_regular_limited(&path, 32, "a tracepoint id");
        match read {
            Ok(text) => {
                return parse_id(&text).with_context(|| {
                    format!(
                        "{}: expected a tracepoint id, got {:?}",
                        path.display(),
                        String::from_utf8_lossy(&text)
                    )
                })
            }
            Err(e) => failed.push(format!("{}: {e}", path.display())),
        }
    }
    bail!(
        "no tracepoint sock:inet_sock_set_state (is tracefs mounted, and readable?): {}",
        failed.join("; ")
    )
}

/// A tracepoint id file's number.
fn parse_id(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A kernel CPU list (`0-3,5,8-9`, a newline at the end): the CPUs, or
/// None if it is malformed or names more than [`MAX_CPUS`].
fn parse_cpus(text: &str) -> Option<Vec<i32>> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut cpus = Vec::new();
    for part in text.split(',') {
        let number = |s: &str| -> Option<i32> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(part)?, number(part)?),
        };
        if last < first || (last - first) as usize >= MAX_CPUS - cpus.len().min(MAX_CPUS) {
            return None;
        }
        cpus.extend(first..=last);
    }
    Some(cpus)
}

/// The kernel filter: a listener on one of `ports` starting or ending.
/// (`sport` is in host order.)
fn filter(ports: &[u16]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    let listen = format!("(newstate == {TCP_LISTEN} || oldstate == {TCP_LISTEN})");
    if ports.is_empty() || ports.len() > MAX_FILTER_PORTS {
        return listen;
    }
    let ports: Vec<String> = ports.iter().map(|p| format!("sport == {p}")).collect();
    format!("({}) && {listen}", ports.join(" || "))
}

/// One CPU's event and its ring buffer: a control page and one data page.
struct Ring {
    fd: OwnedFd,
    map: *mut libc::c_void,
    len: usize,
}

impl Ring {
    /// Lets the ring take events again: everything written is read.
    fn drain(&self) {
        let (head, tail) = self.positions();
        tail.store(head.load(Ordering::Acquire), Ordering::Release);
    }
}

/// Forks a grandchild that keeps `fds` (and closes every other
/// descriptor, its working directory too) until the returned pipe end is
/// closed, then exits, releasing them. Our own copies then close at once,
/// not being the last. Returns once the holder has let go of everything
/// else: a caller reading our output to its end, or unmounting our working
/// directory, as soon as we exit is never kept waiting by it.
fn release_elsewhere(fds: &[RawFd]) -> io::Result<OwnedFd> {
    // Orphans go to the nearest child reaper: were that us (PID 1 of a
    // container, a subreaper), the holder would be our child, and our
    // CMD's once we exec it.
    let reaper = rustix::process::child_subreaper().map_or(true, |r| r.is_some());
    if reaper || rustix::process::getpid().is_init() {
        return Err(io::Error::other(
            "we reap orphans: a holder would be our child",
        ));
    }
    let (read, write) = io::pipe()?;
    // The holder closes its copy of `ready_w` with the rest: reading
    // `ready` to its end waits for that (and for the intermediate child).
    let (ready, ready_w) = io::pipe()?;
    let mut keep: Vec<RawFd> = fds.to_vec();
    keep.push(read.as_raw_fd());
    // Worked out before the fork: the child may not allocate.
    fork_holder(read.as_raw_fd(), &gaps(keep))?;
    drop(ready_w);
    drop(read);
    let mut byte = [0u8];
    loop {
        match rustix::io::read(&ready, &mut byte) {
            Ok(_) => break,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(write.into())
}

/// The descriptor ranges (first, last) to close to keep only `keep`.
fn gaps(mut keep: Vec<RawFd>) -> Vec<(u32, u32)> {
    keep.sort_unstable();
    keep.dedup();
    let mut gaps = Vec::with_capacity(keep.len() + 1);
    let mut from: u32 = 0;
    for fd in keep {
        let fd = fd as u32;
        if fd > from {
            gaps.push((from, fd - 1));
        }
        from = fd + 1;
    }
    gaps.push((from, u32::MAX));
    gaps
}

/// The fork of [`release_elsewhere`]: a child that forks the holder and
/// exits at once (reaped here), so the holder is nobody's child but init's
/// (or a subreaper's). The holder leaves our working directory for `/`,
/// closes `gaps`, reads `pipe` until its writer is gone, and exits. Where
/// it cannot close them (`close_range` is Linux 5.9) it exits at once: it
/// would keep our output, and its own pipe's writer, open for ever.
#[allow(unsafe_code)]
fn fork_holder(pipe: RawFd, gaps: &[(u32, u32)]) -> io::Result<()> {
    // SAFETY: the children make only async-signal-safe calls (fork, chdir,
    // close_range, read, _exit) on memory prepared before the fork, which
    // is sound even with other threads about (see `release_in_a_holder`
    // for why we fork only without them).
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(io::Error::last_os_error());
    }
    if child == 0 {
        // SAFETY: see above.
        unsafe {
            if libc::fork() == 0 {
                libc::chdir(c"/".as_ptr());
                for &(first, last) in gaps {
                    if libc::syscall(libc::SYS_close_range, first, last, 0) != 0 {
                        libc::_exit(0);
                    }
                }
                let mut byte = 0u8;
                while libc::read(pipe, std::ptr::from_mut(&mut byte).cast(), 1) == -1
                    && *libc::__errno_location() == libc::EINTR
                {}
                libc::_exit(0);
            }
            libc::_exit(0);
        }
    }
    // Reaped (unless SIGCHLD is ignored, and the kernel reaped it: ECHILD).
    let pid = rustix::process::Pid::from_raw(child).expect("fork returned a positive pid");
    let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
    Ok(())
}

#[allow(unsafe_code)]
fn perf_event_open(attr: &PerfEventAttr, cpu: i32) -> io::Result<OwnedFd> {
    // SAFETY: the kernel reads `size` (64) bytes of `attr`, a live
    // `repr(C)` struct of exactly that size; pid -1 with a CPU means every
    // process on that CPU; group fd -1 is none.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            std::ptr::from_ref(attr),
            -1 as libc::pid_t,
            cpu,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A perf ioctl with an integer argument (or a pointer, as an integer).
#[allow(unsafe_code)]
fn ioctl(fd: &OwnedFd, request: libc::Ioctl, arg: usize) -> io::Result<()> {
    // SAFETY: ENABLE reads no memory; SET_FILTER reads a NUL-terminated
    // string at `arg`, which the caller keeps alive for the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request, arg) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[allow(unsafe_code)]
impl Ring {
    fn map(fd: OwnedFd) -> io::Result<Ring> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page).map_err(|_| io::Error::last_os_error())?;
        let len = 2 * page;
        // SAFETY: a new shared mapping chosen by the kernel, of the perf
        // descriptor (which stays open while mapped); nothing is aliased.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_fd().as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Ring { fd, map, len })
    }

    /// `data_head`, which the kernel advances, and `data_tail`, which we do.
    // The casts are aligned: the map is page-aligned, the offsets 8-byte.
    #[allow(clippy::cast_ptr_alignment)]
    fn positions(&self) -> (&AtomicU64, &AtomicU64) {
        // SAFETY: both lie in the mapped control page (at least 4 KiB,
        // mapped until drop), 8-byte aligned; the kernel accesses them
        // atomically too, as `perf_event_mmap_page` prescribes.
        unsafe {
            (
                &*self.map.cast::<u8>().add(DATA_HEAD).cast::<AtomicU64>(),
                &*self.map.cast::<u8>().add(DATA_TAIL).cast::<AtomicU64>(),
            )
        }
    }
}

#[allow(unsafe_code)]
impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: our own mapping of `len` bytes, no longer used after this.
        unsafe {
            libc::munmap(self.map, self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracepoint_ids_are_numbers() {
        assert_eq!(parse_id(b"2287\n"), Some(2287));
        assert_eq!(parse_id(b"7"), Some(7));
        for bad in [
            &b""[..],
            b"\n",
            b"-1\n",
            b" 12\n",
            b"12\n\n",
            b"x",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cpu_lists_are_read_as_the_kernel_writes_them() {
        assert_eq!(parse_cpus("0\n"), Some(vec![0]));
        assert_eq!(parse_cpus("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpus("0-2,5,8-9\n"), Some(vec![0, 1, 2, 5, 8, 9]));
        for bad in ["", "\n", "1-0", "a", "0,,1", "0-", "-1", "0 - 1", "0-1\n\n"] {
            assert_eq!(parse_cpus(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn too_many_cpus_are_refused() {
        assert_eq!(parse_cpus("0-1023").map(|c| c.len()), Some(MAX_CPUS));
        assert_eq!(parse_cpus("0-1024"), None);
        assert_eq!(parse_cpus("0-1022,2000,3000"), None);
        assert_eq!(parse_cpus("0-2147483647"), None);
    }

    #[test]
    fn the_holder_closes_every_descriptor_but_those_it_keeps() {
        assert_eq!(gaps(vec![5, 3, 4]), [(0, 2), (6, u32::MAX)]);
        assert_eq!(gaps(vec![0, 7, 9, 7]), [(1, 6), (8, 8), (10, u32::MAX)]);
    }

    /// Runs in a test process of its own, with this test alone (the
    /// harness's other threads would have their sockets copied by the fork).
    #[test]
    fn the_holder_keeps_only_what_it_is_given_and_leaves_our_directory() {
        const ALONE: &str = "PORTWAIT_TEST_HOLDER_ALONE";
        const NAME: &str =
            "events::tests::the_holder_keeps_only_what_it_is_given_and_leaves_our_directory";
        if std::env::var_os(ALONE).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([NAME, "--exact", "--test-threads=1", "--nocapture"])
                .env(ALONE, "1")
                .output()
                .unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{said}");
            assert!(said.contains("1 passed"), "{said}");
            return;
        }
        let link = |path: String| std::fs::read_link(path).unwrap_or_default();
        // Stands in for a perf descriptor.
        let kept = std::fs::File::open("/dev/null").unwrap();
        let release = release_elsewhere(&[kept.as_raw_fd()]).unwrap();
        let pipe = link(format!("/proc/self/fd/{}", release.as_raw_fd()));
        // The holder: the one other process with the pipe open.
        let me = std::process::id().to_string();
        let holder = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()) && *pid != me)
            .find(|pid| {
                std::fs::read_dir(format!("/proc/{pid}/fd"))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == pipe))
            })
            .expect("a holder with the pipe open");
        // Already: nothing but the pipe and what it keeps (not our output),
        // and not our working directory (or it could not be unmounted).
        let mut held: Vec<_> = std::fs::read_dir(format!("/proc/{holder}/fd"))
            .unwrap()
            .flatten()
            .map(|fd| link(fd.path().to_string_lossy().into_owned()))
            .collect();
        held.sort();
        assert_eq!(held, [std::path::PathBuf::from("/dev/null"), pipe]);
        assert_eq!(link(format!("/proc/{holder}/cwd")), Path::new("/"));
        let status = std::fs::read_to_string(format!("/proc/{holder}/stat")).unwrap();
        let ppid = status
            .rsplit(") ")
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap();
        assert_ne!(ppid, me, "the holder is not our child");
        // Released: it exits (and is reaped by init, or a zombie of it).
        drop(release);
        let start = std::time::Instant::now();
        while std::fs::read_to_string(format!("/proc/{holder}/stat"))
            .is_ok_and(|s| !s.rsplit(") ").next().unwrap().starts_with('Z'))
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the holder stayed"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// `linux/perf_event.h`'s values, as `gcc` prints them on x86-64.
    #[test]
    #[cfg(target_pointer_width = "64")]
    // `Ioctl` is `c_ulong` with glibc, `c_int` with musl.
    #[allow(clippy::unnecessary_cast)]
    fn the_ioctls_are_the_kernels() {
        assert_eq!(PERF_EVENT_IOC_SET_FILTER as u64, 0x4008_2406);
        assert_eq!(PERF_EVENT_IOC_ENABLE as u64, 0x2400);
    }

    #[test]
    fn the_filter_names_each_port_once() {
        assert_eq!(
            filter(&[8080]),
            "(sport == 8080) && (newstate == 10 || oldstate == 10)"
        );
        assert_eq!(
            filter(&[9001, 80, 9001]),
            "(sport == 80 || sport == 9001) && (newstate == 10 || oldstate == 10)"
        );
        let many: Vec<u16> = (1..=200).collect();
        assert_eq!(filter(&many), "(newstate == 10 || oldstate == 10)");
    }
}
