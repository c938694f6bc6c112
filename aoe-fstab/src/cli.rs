//! The command line of `aoe-fstab`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (`mounted`: at least one entry is mounted)
  1  an entry could not be mounted or unmounted, `check` found a problem,
     or (`mounted`) no entry is mounted
  2  usage or fatal error: unreadable or not a regular file, a bad line
     with --strict, a named TARGET not in the file, mount/umount not found;
     (`mounted`) whether an entry is mounted could not be told";

const LIST_CODES: &str = "\
Exit codes:
  0  the entries are printed
  2  usage or fatal error: unreadable or not a regular file, a bad line
     with --strict";

const MOUNTED_CODES: &str = "\
Exit codes:
  0  at least one entry is mounted (those are printed)
  1  no entry is mounted
  2  usage or fatal error: unreadable or not a regular file, a bad line
     with --strict; or whether an entry is mounted could not be told
     (findfs could not evaluate its tag within 30s): those it could tell
     are printed, never \"none mounted\"";

const MOUNT_CODES: &str = "\
Exit codes:
  0  every chosen entry is mounted (or was already); with --dry-run, the
     commands are printed
  1  an entry could not be mounted (its device did not appear in time, no
     device has its LABEL=/UUID= tag or findfs could not evaluate it, its
     mount point is missing or could not be made or is refused, mount
     failed or did not finish within --mount-timeout, or a named entry is
     a swap area or the root file system); the rest still are
  2  usage or fatal error: unreadable or not a regular file, a bad line
     with --strict, a named TARGET not in the file, mount not found";

const UMOUNT_CODES: &str = "\
Exit codes:
  0  every chosen entry is unmounted (or was not mounted); with --dry-run,
     the commands are printed
  1  an entry could not be unmounted (e.g. busy, umount did not finish
     within --umount-timeout, or findfs could not evaluate its tag); the
     rest still are
  2  usage or fatal error: unreadable or not a regular file, a bad line
     with --strict, a named TARGET not in the file, umount not found";

const CHECK_CODES: &str = "\
Exit codes:
  0  no problem found
  1  problems found (one line each on stdout)
  2  usage or fatal error: unreadable or not a regular file, a bad line
     with --strict";

/// A time limit: a duration above zero (zero would kill every mount at
/// once).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match cliutil::parse_duration(text)? {
        Duration::ZERO => Err(format!(
            "a time limit of '{}' would stop every command at once: expected e.g. 10s, 2m",
            text.trim()
        )),
        limit => Ok(limit),
    }
}

/// Mount, unmount, list and check the entries of an fstab-format file such as
/// /etc/fstab-aoe.
///
/// Lines are read as util-linux reads /etc/fstab: fields split on spaces and
/// tabs, `#` comments, `\NNN` octal escapes (`\040` is a space), options,
/// dump and pass optional. A bad line is reported as `FILE:LINE` and skipped.
/// The system `mount` and `umount` are run with plain arguments, never
/// through a shell.
#[derive(Debug, Parser)]
#[command(name = "aoe-fstab", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The fstab-format file to read.
    #[arg(
        long,
        short,
        global = true,
        value_name = "FILE",
        default_value = "/etc/fstab-aoe"
    )]
    pub file: PathBuf,

    /// Treat a bad line as a fatal error (exit 2) instead of skipping it.
    #[arg(long, global = true)]
    pub strict: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the file's entries, one a line in fstab format (or as JSON).
    #[command(after_help = LIST_CODES)]
    List {
        /// Print JSON like `findmnt --json`: {"filesystems": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// Print the file's entries that are mounted now; exit 1 if none is
    /// (2 if that cannot be told: findfs failed on a tag).
    #[command(after_help = MOUNTED_CODES)]
    Mounted {
        /// Print JSON like `findmnt --json`: {"filesystems": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// Mount the file's entries in file order, skipping what is mounted.
    ///
    /// Entries are chosen as `mount -a` chooses them: swap areas, the root
    /// file system and `noauto` entries are left alone (`noauto` ones are
    /// mounted when named). A failure is reported and the rest are still
    /// mounted.
    #[command(after_help = MOUNT_CODES)]
    Mount {
        /// Mount only these entries (by mount point), `noauto` ones included.
        #[arg(value_name = "TARGET")]
        targets: Vec<PathBuf>,

        /// Create missing mount points (like `mkdir -p`, each directory in
        /// its checked parent). Without it a missing mount point is an
        /// error.
        #[arg(long)]
        mkdir: bool,

        /// Mount on a mount point whoever could have set it up. By default
        /// every directory and link on its way must be root's or ours, no
        /// directory writable by others unless sticky, and the mount point
        /// itself root's or ours and writable by no one else (pidwait's
        /// rules for pid files): mount follows links, so another user's
        /// link or directory there would choose where a file system lands.
        /// Either way mount is given the directory opened here
        /// (/proc/PID/fd/N of aoe-fstab's, which mount does not inherit), so
        /// nothing swapped in after it was opened is followed; with this option one that cannot be opened (missing)
        /// is left to mount, by path.
        #[arg(long)]
        trust_mount_points: bool,

        /// Wait up to DURATION in all for device nodes to appear before
        /// mounting them (250ms, 10s, 2m; a bare number is seconds).
        #[arg(long, value_name = "DURATION", value_parser = cliutil::parse_duration)]
        wait_devices: Option<Duration>,

        /// Give up on a mount that has not finished within DURATION (250ms,
        /// 10s, 2m; a bare number is seconds; not 0): mount's process
        /// group (mount, a mount.TYPE helper; not a process that left it
        /// with setsid) is sent SIGTERM, then SIGKILL, the entry fails and the next one is
        /// mounted. A mount stuck in the kernel (a device that never
        /// answers) may outlive the kill; it is not waited for. The same
        /// limit bounds findfs evaluating a LABEL=, UUID=, PARTUUID= or
        /// PARTLABEL= source (as mount would: udev links, else probing).
        #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_timeout)]
        mount_timeout: Duration,

        /// Print the commands on stdout, one a line, quoted for any POSIX
        /// sh (dash too), and run nothing. A real run gives mount the
        /// mount point as the directory it checked, held open, and a tag
        /// source as the device findfs names (`-n --no-canonicalize ...
        /// DEVICE /proc/PID/fd/N`); shown here are the fields as written.
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    /// Unmount the file's entries in reverse order, skipping what is not
    /// mounted (and swap areas and the root file system).
    #[command(after_help = UMOUNT_CODES)]
    Umount {
        /// Unmount only these entries (by mount point).
        #[arg(value_name = "TARGET")]
        targets: Vec<PathBuf>,

        /// Give up on an unmount that has not finished within DURATION
        /// (as --mount-timeout of `mount`); findfs, evaluating a tag to
        /// tell whether its entry is mounted, is bounded by it too.
        #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_timeout)]
        umount_timeout: Duration,

        /// Print the commands on stdout, one a line, quoted for any POSIX
        /// sh (dash too), and run nothing.
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    /// Validate the file: bad lines, mount points that are missing or not
    /// directories, devices that do not exist, entries without `_netdev`.
    ///
    /// Prints one line per problem on stdout (`FILE:LINE: TARGET: problem`),
    /// and on stderr a note for each entry `mount` will leave alone.
    #[command(after_help = CHECK_CODES)]
    Check,
}
