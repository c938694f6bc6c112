//! The command line of `lsb-status`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  status       0 running, 1 dead but pid file exists, 2 dead but lock file
               exists, 3 not running, 4 unknown (also bad usage of status)
  lock, unlock 0 done, 1 failed (e.g. no permission), 2 usage or fatal error
  run          the command's own code; 126 cannot execute, 127 not found,
               128+N killed by signal N; 2 usage or fatal error
  ok, failed, passed, warning
               0 printed, 2 usage or fatal error
  header       0 clean or warnings only, 1 errors (with --strict: warnings
               too), 2 usage or fatal error, or an unreadable file
  unit         0 units written, 1 written but with warnings a person should
               read, 2 usage or fatal error, or an unreadable or unparsable
               script (the others are still written)";

const STATUS_CODES: &str = "\
The state is decided in this order:
  pid file names a live process (not a zombie; with --exe, running PATH)
                                              0  NAME (pid N) is running
  pid file exists, its process is dead        1  NAME is dead but pid file exists
  no pid file, lock file DIR/NAME exists      2  NAME is dead but lock file exists
  neither                                     3  NAME is not running
  pid file unreadable, not a valid pid, or    4  NAME status is unknown
  one another user could have written (see --trust-pidfile)
Without --pidfile the service is lock-only (a subsystem with no process,
e.g. mounts): lock file present => 0 `NAME is running`, absent => 3.

Exit codes (LSB):
  0  running
  1  dead but the pid file exists
  2  dead but the lock file exists
  3  not running
  4  unknown; also a usage error of this subcommand, so that it is never
     mistaken for 2";

const RUN_CODES: &str = "\
The line ends with `[  OK  ]` (CMD exited 0) or `[FAILED]`, the bracket at
column 60. On a terminal whose TERM is not `dumb` the cursor is moved there
with an escape (so output of CMD on the line does not matter); otherwise the
message is padded with spaces. Colour as --color says.

Exit codes:
  N    CMD's own exit code
  126  CMD could not be executed
  127  CMD was not found
  128+N  CMD was killed by signal N
  2    usage or fatal error";

const MARK_CODES: &str = "\
The mark is at column 60, as with `run`; colour as --color says.

Exit codes:
  0  printed (also for `failed`: the script decides its own code)
  2  usage or fatal error";

const HEADER_CODES: &str = "\
Problems go to stderr as `lsb-status: FILE:LINE: error|warning: ...`.
Errors: no `### END INIT INFO` (insserv refuses the script), a line in the
block that is not a comment, runlevels outside 0-6/S, a runlevel in both
Default-Start and Default-Stop, a `# chkconfig:` line chkconfig rejects.
Warnings: no INIT INFO block, missing keywords (Provides, Required-Start,
Required-Stop, Default-Start, Default-Stop: what insserv asks for), unknown
keywords, unknown $facilities, duplicate keywords, malformed lines,
chkconfig runlevels that differ from Default-Start.

Exit codes:
  0  clean, or warnings only (without --strict)
  1  errors found (with --strict: warnings too)
  2  usage or fatal error, or a file that cannot be read";

const UNIT_CODES: &str = "\
Each unit goes to stdout (one after another, each opened by a `# NAME.service`
comment line), or with --output DIR to DIR/NAME.service, NAME being the
script's file name. What could not be mapped, and why a script fell back to
the wrapper unit (`ExecStart=SCRIPT start`), goes to stderr as
`lsb-status: SCRIPT: warning: ...`.

Exit codes:
  0  every unit written, nothing to warn about
  1  every unit written, with warnings a person should read
  2  usage or fatal error, or a script that cannot be read or parsed, or
     a value no unit line can hold (a path ending in `\\`); the other
     scripts' units are still written";

/// LSB init-script helpers: status codes from a pid file and a lock file,
/// lock files, `[  OK  ]`/`[FAILED]` lines, and a linter for the
/// `### BEGIN INIT INFO` block.
#[derive(Debug, Parser)]
#[command(name = "lsb-status", version = concat!(env!("CARGO_PKG_VERSION"), " (stackutils)"), about, after_help = EXIT_CODES)]
pub struct Cli {
    /// When to colour `[  OK  ]`/`[FAILED]`: auto = stdout is a terminal,
    /// `TERM` is set and not `dumb`, and `NO_COLOR` is unset or empty.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true, value_name = "WHEN")]
    pub color: Color,

    #[command(subcommand)]
    pub command: Command,
}

/// The `--color` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a service's state and exit with its LSB status code (0-4).
    #[command(after_help = STATUS_CODES)]
    Status(StatusArgs),

    /// Create the lock file DIR/NAME (and DIR when missing).
    #[command(
        after_help = "Exit codes:\n  0  the lock file exists\n  1  it could not be created (e.g. no permission)\n  2  usage or fatal error"
    )]
    Lock(LockArgs),

    /// Remove the lock file DIR/NAME; a lock that is not there is fine.
    #[command(
        after_help = "Exit codes:\n  0  the lock file is gone (or never was)\n  1  it could not be removed (e.g. no permission)\n  2  usage or fatal error"
    )]
    Unlock(LockArgs),

    /// Print MESSAGE, run CMD, end the line with `[  OK  ]` or `[FAILED]`,
    /// exit with CMD's code (like RHEL's `action`).
    #[command(after_help = RUN_CODES)]
    Run(RunArgs),

    /// Print MESSAGE (if given), then `[  OK  ]`.
    #[command(after_help = MARK_CODES)]
    Ok(MarkArgs),

    /// Print MESSAGE (if given), then `[FAILED]`; exits 0 all the same.
    #[command(after_help = MARK_CODES)]
    Failed(MarkArgs),

    /// Print MESSAGE (if given), then `[PASSED]`.
    #[command(after_help = MARK_CODES)]
    Passed(MarkArgs),

    /// Print MESSAGE (if given), then `[WARNING]`.
    #[command(after_help = MARK_CODES)]
    Warning(MarkArgs),

    /// Parse and lint the LSB `### BEGIN INIT INFO` block and the
    /// `# chkconfig:`/`# description:` lines of init scripts.
    #[command(after_help = HEADER_CODES)]
    Header(HeaderArgs),

    /// Check that only root or we could have set up each PATH.
    ///
    /// systemd's rules for `PIDFile=`: every directory and symlink on the
    /// way root's or ours, no directory writable by others unless sticky,
    /// one that `..` leaves root's or ours. A directory may
    /// not exist yet (its way is checked up to the first missing name); a
    /// --file must exist, be a regular file with one name (a symlink of
    /// root's or ours to it is followed), root's or ours and writable by its
    /// owner only. Why not goes to stderr.
    #[command(
        after_help = "Exit codes:\n  0  every PATH is safe to use as described\n  1  one is not, or cannot be examined (the first one's reason on stderr)\n  2  usage or fatal error"
    )]
    Trusted(TrustedArgs),

    /// Write a native systemd unit for each init script: the daemon itself
    /// (its type, pid file, user, defaults file and reload signal read from
    /// the script's body; a well-known daemon run in the foreground with
    /// its own flag), or the generator's wrapper unit when the body is too
    /// clever to read.
    #[command(after_help = UNIT_CODES)]
    Unit(UnitArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The daemon's pid file. Without it the service is lock-only.
    #[arg(long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,

    /// The service name, for the message and the lock file [default: the
    /// pid file's name without `.pid`].
    #[arg(long, value_name = "NAME", required_unless_present = "pidfile")]
    pub name: Option<String>,

    /// Where lock files live.
    #[arg(long, value_name = "DIR", default_value = "/var/lock/subsys")]
    pub lock_dir: PathBuf,

    /// The program the daemon runs: a live pid running anything else is a
    /// reused pid, and counts as dead.
    #[arg(long, value_name = "PATH")]
    pub exe: Option<PathBuf>,

    /// Believe the pid file whoever could have written it. By default a pid
    /// file that someone other than root or us could have written or
    /// replaced (a symlink, a directory on its path owned or writable by
    /// another user, a group- or world-writable file) gives status 4.
    #[arg(long)]
    pub trust_pidfile: bool,

    /// Print nothing; only the exit code tells.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The service name: the lock file is DIR/NAME.
    pub name: String,

    /// Where lock files live.
    #[arg(long, value_name = "DIR", default_value = "/var/lock/subsys")]
    pub lock_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrustedArgs {
    /// Each PATH is a file to read, not a directory.
    #[arg(long)]
    pub file: bool,

    /// Paths to check.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What is being done, e.g. "Starting foo: ".
    pub message: String,

    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MarkArgs {
    /// Text to print before the mark, on the same line.
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct HeaderArgs {
    /// Init scripts to read.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Print the parsed headers as a JSON array (one object a file).
    #[arg(long)]
    pub json: bool,

    /// Treat warnings as errors for the exit code.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct UnitArgs {
    /// Init scripts to convert.
    #[arg(required = true, value_name = "SCRIPT")]
    pub scripts: Vec<PathBuf>,

    /// Write DIR/NAME.service instead of printing (replaced atomically;
    /// never written through a symlink).
    #[arg(long, short, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Run PROGRAM (the daemon's file name) in the foreground with FLAGS
    /// when a script lets it fork, e.g. `food=--no-fork`: `Type=exec`, no
    /// pid file, FLAGS (split at blanks) before the script's arguments.
    /// For a daemon the built-in table does not know, or instead of its
    /// entry, in any directory (the table's entries apply only in /usr/sbin,
    /// /usr/bin, /sbin, /bin, /usr/local/sbin and /usr/local/bin).
    /// Repeatable.
    #[arg(long, value_name = "PROGRAM=FLAGS")]
    pub foreground_flag: Vec<String>,

    /// Leave out the built-in table of well-known daemons' own foreground
    /// flags (`sshd -D`, `cron -f`, ...): a daemon the script lets fork
    /// stays `Type=forking` with its pid file, as the script runs it.
    #[arg(long)]
    pub no_known_flags: bool,
}
