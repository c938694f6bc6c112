//! The subcommands: what each does with the parsed file.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rustix::fs::{Mode, OFlags};
use serde::Serialize;

use crate::cli::{Cli, Command};
use crate::command;
use crate::devwait;
use crate::fstab::{self, Entry, Skip, Table};
use crate::mounts::{self, MountTable};
use crate::source::{self, Resolver, Source};
use cliutil::escape_bytes as shown;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let file = cli.file.as_path();
    // `check` reports bad lines as problems of its own.
    let table = load(file, cli.strict, !matches!(cli.command, Command::Check))?;
    match cli.command {
        Command::List { json } => {
            print_entries(&table.entries.iter().collect::<Vec<_>>(), json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mounted { json } => mounted(file, &table, json),
        Command::Mount {
            targets,
            mkdir,
            trust_mount_points,
            wait_devices,
            mount_timeout,
            dry_run,
        } => {
            let chosen = select(&table.entries, &targets, file)?;
            // As `mount -a`: without names, swap areas, the root file system
            // and `noauto` entries are left alone (`check` says so).
            let chosen = chosen
                .into_iter()
                .filter(|e| !targets.is_empty() || e.skipped_by_mount().is_none());
            let how = How {
                mkdir,
                check: !trust_mount_points,
                wait: wait_devices,
                limit: mount_timeout,
                dry_run,
            };
            Ok(code(mount(file, chosen, &how)?))
        }
        Command::Umount {
            targets,
            umount_timeout,
            dry_run,
        } => {
            let chosen = select(&table.entries, &targets, file)?;
            // A swap area is not a mount; the root file system stays.
            let chosen = chosen
                .into_iter()
                .rev()
                .filter(|e| !matches!(e.skipped_by_mount(), Some(Skip::Swap | Skip::Root)));
            Ok(code(umount(file, chosen, umount_timeout, dry_run)?))
        }
        Command::Check => Ok(code(check(file, &table)?)),
    }
}

/// Prints the entries mounted now; exit 1 if none is, 2 if whether one is
/// could not be told (findfs could not evaluate its tag): "none" would be
/// a guess.
fn mounted(file: &Path, table: &Table, json: bool) -> anyhow::Result<ExitCode> {
    let now = MountTable::read()?;
    let tags = Resolver::new(source::EVALUATE_LIMIT);
    let mut unknown = false;
    let mut mounted = Vec::new();
    for entry in &table.entries {
        match now.contains(entry, &tags) {
            Ok(true) => mounted.push(entry),
            Ok(false) => {}
            Err(why) => {
                warn(&format!(
                    "{}: cannot tell whether {} is mounted: {}",
                    at(file, entry),
                    shown(&entry.target),
                    shown(why.as_bytes())
                ));
                unknown = true;
            }
        }
    }
    print_entries(&mounted, json)?;
    if unknown {
        return Ok(ExitCode::from(cliutil::FATAL));
    }
    Ok(code(mounted.is_empty()))
}

/// `FILE:LINE`, where `entry` is written, for its messages.
fn at(file: &Path, entry: &Entry) -> String {
    format!("{}:{}", shown_path(file), entry.line)
}

fn code(failed: bool) -> ExitCode {
    ExitCode::from(if failed {
        cliutil::FAILURE
    } else {
        cliutil::SUCCESS
    })
}

/// The largest fstab file read: far beyond any real one (a line per file
/// system), small enough that a wrong `--file` cannot fill memory.
pub const MAX_FSTAB: u64 = 4 << 20;

/// Bad lines warned about one by one; the rest are counted (`check` lists
/// them all).
const MAX_WARNINGS: usize = 5;

fn load(file: &Path, strict: bool, report: bool) -> anyhow::Result<Table> {
    let name = shown_path(file);
    let cannot = || format!("cannot read {name}");
    // As libmount (`mnt_table_parse_fstab`), only a regular file: a FIFO
    // would block with no writer, and /dev/zero would never end. Checked on
    // the descriptor it is read from (opened without blocking), so nothing
    // can be swapped in between the check and the read.
    let data =
        cliutil::read_regular_limited(file, MAX_FSTAB, "an fstab file").with_context(cannot)?;
    let table = fstab::parse(&data);
    if let (true, Some(bad)) = (strict, table.bad.first()) {
        bail!("{name}:{}: {}", bad.line, bad.reason);
    }
    if report {
        for bad in table.bad.iter().take(MAX_WARNINGS) {
            warn(&format!(
                "{name}:{}: {}; line skipped",
                bad.line, bad.reason
            ));
        }
        if let Some(more) = table.bad.len().checked_sub(MAX_WARNINGS).filter(|&n| n > 0) {
            warn(&format!(
                "{name}: {more} more bad line(s) skipped (`aoe-fstab check` lists them all)"
            ));
        }
    }
    Ok(table)
}

/// A path from the command line or the file, for a message.
fn shown_path(path: &Path) -> Cow<'_, str> {
    shown(path.as_os_str().as_bytes())
}

fn warn(message: &str) {
    cliutil::warn("aoe-fstab", message);
}

fn path(value: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(value))
}

/// The entries named by mount point, in file order; all of them if none is
/// named. A name that matches nothing is a usage error.
fn select<'a>(
    entries: &'a [Entry],
    names: &[PathBuf],
    file: &Path,
) -> anyhow::Result<Vec<&'a Entry>> {
    if names.is_empty() {
        return Ok(entries.iter().collect());
    }
    let names: Vec<PathBuf> = names.iter().map(|n| mounts::trim_slashes(n)).collect();
    for name in &names {
        if !entries
            .iter()
            .any(|e| mounts::trim_slashes(&path(&e.target)) == *name)
        {
            bail!("no entry for {} in {}", shown_path(name), shown_path(file));
        }
    }
    Ok(entries
        .iter()
        .filter(|e| names.contains(&mounts::trim_slashes(&path(&e.target))))
        .collect())
}

fn print_line(text: &str) -> io::Result<()> {
    writeln!(cliutil::stdout(), "{text}")
}

/// How `mount` goes about it, from the command line.
struct How {
    /// Make missing mount points.
    mkdir: bool,
    /// Judge mount points (else `--trust-mount-points`).
    check: bool,
    /// `--wait-devices`.
    wait: Option<Duration>,
    /// `--mount-timeout`.
    limit: Duration,
    dry_run: bool,
}

/// Returns whether any entry failed.
fn mount<'a>(
    file: &Path,
    entries: impl Iterator<Item = &'a Entry>,
    how: &How,
) -> anyhow::Result<bool> {
    let How {
        mkdir,
        check,
        wait,
        limit: timeout,
        dry_run,
    } = *how;
    let mut now = MountTable::read()?;
    let tags = Resolver::new(timeout);
    let program = if dry_run {
        None
    } else {
        Some(command::find("mount").map_err(anyhow::Error::msg)?)
    };
    let deadline = wait.map(|d| (deadline(Instant::now(), d), d));
    let mut waiter = devwait::Waiter::default();
    let mut failed = false;
    for entry in entries {
        let target = path(&entry.target);
        let fail = |reason: &str| {
            warn(&format!(
                "{}: cannot mount {} on {}: {}",
                at(file, entry),
                shown(&entry.source),
                shown(&entry.target),
                shown(reason.as_bytes())
            ));
        };
        match now.contains(entry, &tags) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(why) => {
                fail(&why);
                failed = true;
                continue;
            }
        }
        // Swap and root only when named (else filtered out before):
        // swapon's job, and a file system mounted over / would hide the
        // whole system.
        // `//`, `/tmp/..` or a link to / name it too (mount -a would go on).
        // A tag that names no device, in --dry-run too.
        let refused = match entry.skipped_by_mount() {
            Some(Skip::Swap) => Some("a swap area: use swapon, not mount".into()),
            Some(Skip::Root) => Some("the root file system is never mounted".into()),
            _ if mounts::normalise(&target) == Path::new("/") => {
                Some("the root file system is never mounted".into())
            }
            _ => source::of(entry).err(),
        };
        if let Some(reason) = refused {
            fail(&reason);
            failed = true;
            continue;
        }
        let Some(program) = &program else {
            if mkdir && !target.is_dir() {
                print_line(&command::render(&command::mkdir_argv(&target)))?;
            }
            print_line(&command::render(&command::mount_argv(entry)))?;
            // What a real run would do: the same entry only once.
            now.insert(entry);
            continue;
        };
        let device = match device(entry, deadline, &mut waiter, &tags) {
            Ok(device) => device,
            Err(reason) => {
                fail(&reason);
                failed = true;
                continue;
            }
        };
        if mkdir && !target.is_dir() {
            if let Err(err) = pidwait::pathtrust::create_dir_all(&target, 0o755) {
                fail(&format!("cannot create the mount point: {err}"));
                failed = true;
                continue;
            }
        }
        match mount_one(program, entry, device.as_deref(), check, timeout) {
            Ok(()) => now.insert(entry),
            Err(reason) => {
                fail(&reason);
                failed = true;
            }
        }
    }
    Ok(failed)
}

/// How often a tag is evaluated again while `--wait-devices` waits for it
/// (at once when its udev link appears).
const RETRY: Duration = Duration::from_secs(1);

/// The device node `entry` is to be mounted from, if its source names one:
/// a path (waited for with `--wait-devices`: `wait`), or a tag evaluated by
/// findfs (by `tags`; with `--wait-devices`, again until it resolves or the
/// wait is over). A tag that names no device is an error.
fn device(
    entry: &Entry,
    wait: Option<(Instant, Duration)>,
    waiter: &mut devwait::Waiter,
    tags: &Resolver,
) -> Result<Option<PathBuf>, String> {
    let tag = match source::of(entry)? {
        Source::Other => return Ok(None),
        Source::Path(device) => {
            if let Some((deadline, wait)) = wait {
                if !waiter.wait_for(&device, deadline) {
                    let device = shown_path(&device);
                    return Err(format!("{device} did not appear within {wait:?}"));
                }
            }
            // Resolved as mount(8) would, had it not been told
            // --no-canonicalize; one that does not resolve is left to it.
            return Ok(Some(std::fs::canonicalize(&device).unwrap_or(device)));
        }
        Source::Tag(tag) => tag,
    };
    let cannot = |why: String| format!("cannot evaluate {}: {why}", tag.shown());
    let mut found = tags.device(&tag).map_err(cannot)?;
    loop {
        if let Some(device) = found {
            return Ok(Some(device));
        }
        let now = Instant::now();
        let Some((deadline, _)) = wait.filter(|(deadline, _)| now < *deadline) else {
            let within = wait
                .map(|(_, w)| format!(" within {w:?}"))
                .unwrap_or_default();
            return Err(format!("no device with {}{within}", tag.shown()));
        };
        let next = deadline.min(now + RETRY);
        // A link that is there already (findfs disagreeing) must not make
        // this a busy loop.
        if tag.link().is_none_or(|link| waiter.wait_for(&link, next)) {
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        found = tags.again(&tag).map_err(cannot)?;
    }
}

/// Mounts one entry from `device` (else its source as written), its mount
/// point judged right before (as each is reached: one on a file system
/// mounted just before is judged too) and handed to mount(8) held open, not
/// as a path to look up again.
fn mount_one(
    program: &Path,
    entry: &Entry,
    device: Option<&Path>,
    check: bool,
    limit: Duration,
) -> Result<(), String> {
    let Some(held) = mount_point(&path(&entry.target), check)? else {
        return command::run(program, &command::mount_argv(entry), limit);
    };
    let pinned = command::held_path(held.as_fd())
        .map_err(|e| format!("cannot hand the mount point to mount: {e}"))?;
    let argv = command::pinned_mount_argv(entry, device, &pinned);
    // mount(8) names the mount point as it was given it.
    let result = command::run(program, &argv, limit).map_err(|reason| {
        reason.replace(
            &*pinned.to_string_lossy(),
            &String::from_utf8_lossy(&entry.target),
        )
    });
    // Held open until mount(8) is done with it.
    drop(held);
    result
}

/// The mount point opened (`O_PATH`), to be handed to mount(8): judged by
/// pidwait's rules with `check` (a mount point only root or we could have
/// set up: the way to it, and the directory itself root's or ours, writable
/// by no one else unless sticky), else why not. A missing one is an error
/// then. Without `check` (`--trust-mount-points`) links are followed as
/// mount(8) follows them, and one that cannot be opened is left to mount(8)
/// to name, by path (`None`).
fn mount_point(target: &Path, check: bool) -> Result<Option<OwnedFd>, String> {
    use pidwait::pathtrust::{self, Error};
    if !check {
        let flags = OFlags::PATH | OFlags::CLOEXEC;
        return Ok(rustix::fs::open(target, flags, Mode::empty()).ok());
    }
    let refused = |why: &str| {
        format!("mount point refused: {why} (--trust-mount-points to mount there all the same)")
    };
    match pathtrust::open_dir(target) {
        Ok(fd) => Ok(Some(fd)),
        Err(Error::Untrusted(why)) => Err(refused(&why)),
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
            Err("mount point does not exist (--mkdir creates it)".into())
        }
        // A file, for a bind mount of a file: never reached through a link.
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotADirectory => {
            match pathtrust::open_file(target, OFlags::PATH | OFlags::CLOEXEC) {
                Ok(fd) => Ok(Some(fd)),
                Err(Error::Untrusted(why)) => Err(refused(&why)),
                Err(Error::Io(e)) => Err(format!("cannot open the mount point: {e}")),
            }
        }
        Err(Error::Io(e)) => Err(format!("cannot open the mount point: {e}")),
    }
}

/// `start + wait`, capped at a century so that a huge `--wait-devices`
/// (e.g. `584542046090y`) waits "for ever" instead of overflowing.
fn deadline(start: Instant, wait: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    start + wait.min(CENTURY)
}

/// Returns whether any entry failed.
fn umount<'a>(
    file: &Path,
    entries: impl Iterator<Item = &'a Entry>,
    limit: Duration,
    dry_run: bool,
) -> anyhow::Result<bool> {
    let mut now = MountTable::read()?;
    // findfs bounded as umount is: at shutdown nothing may take longer.
    let tags = Resolver::new(limit);
    let program = if dry_run {
        None
    } else {
        Some(command::find("umount").map_err(anyhow::Error::msg)?)
    };
    let mut failed = false;
    for entry in entries {
        let fail = |reason: &str| {
            warn(&format!(
                "{}: cannot unmount {}: {}",
                at(file, entry),
                shown(&entry.target),
                shown(reason.as_bytes())
            ));
        };
        // Only its own file system: another one mounted on the same point
        // is not ours to take away, nor one mounted on top of ours; and
        // never / (`//`, `/tmp/..`, a link to it), which the filter above
        // knows only as `/` and `root`. One that cannot be told apart
        // (findfs could not answer) fails: left mounted, not taken for
        // "not mounted".
        if mounts::normalise(&path(&entry.target)) == Path::new("/") {
            continue;
        }
        match now.contains(entry, &tags) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(why) => {
                fail(&why);
                failed = true;
                continue;
            }
        }
        let top = now
            .top(entry)
            .map(|top| (top, MountTable::is_own(entry, top, &tags)));
        if let Some((top, Ok(false) | Err(_))) = top {
            fail(&format!(
                "{} is mounted on top of {}",
                shown(top),
                shown(&entry.source)
            ));
            failed = true;
            continue;
        }
        let argv = command::umount_argv(entry);
        let Some(program) = &program else {
            print_line(&command::render(&argv))?;
            now.remove(entry);
            continue;
        };
        match command::run(program, &argv, limit) {
            Ok(()) => now.remove(entry),
            Err(reason) => {
                fail(&reason);
                failed = true;
            }
        }
    }
    Ok(failed)
}

/// Prints one line per problem on stdout, and on stderr a note for each
/// entry `mount` will leave alone; returns whether there was any problem.
fn check(file: &Path, table: &Table) -> anyhow::Result<bool> {
    let name = shown_path(file);
    let tags = Resolver::new(source::EVALUATE_LIMIT);
    let mut problems = Vec::new();
    for bad in &table.bad {
        // Already shown safely: the reason quotes the line through `shown`.
        problems.push((bad.line, bad.reason.clone()));
    }
    for entry in &table.entries {
        let target = path(&entry.target);
        let skip = entry.skipped_by_mount();
        if let Some(skip) = skip {
            warn(&format!(
                "{name}:{}: {}: {skip}",
                entry.line,
                shown(&entry.target)
            ));
        }
        if skip == Some(Skip::Swap) {
            // Its "mount point" is `none` or `swap`: nothing more to check.
            continue;
        }
        let mut problem = |what: String| {
            problems.push((entry.line, format!("{}: {what}", shown(&entry.target))));
        };
        if !target.is_absolute() {
            problem("mount point is not an absolute path".into());
        } else if !target.exists() {
            problem("mount point does not exist".into());
        } else if !target.is_dir() {
            problem("mount point is not a directory".into());
        }
        match source::of(entry) {
            Err(why) => problem(why),
            Ok(Source::Path(device)) if !device.exists() => {
                problem(format!("device {} does not exist", shown_path(&device)));
            }
            Ok(Source::Tag(tag)) => match tags.device(&tag) {
                Ok(Some(_)) => {}
                Ok(None) => problem(format!("no device with {}", tag.shown())),
                Err(why) => problem(format!("cannot evaluate {}: {why}", tag.shown())),
            },
            Ok(_) => {}
        }
        if !entry.has_option("_netdev") {
            problem("no _netdev option (the device needs the network)".into());
        }
    }
    problems.sort_by_key(|(line, _)| *line);
    let mut out = cliutil::stdout();
    for (line, what) in &problems {
        writeln!(out, "{name}:{line}: {what}")?;
    }
    Ok(!problems.is_empty())
}

#[derive(Serialize)]
struct Json<'a> {
    filesystems: Vec<JsonEntry<'a>>,
}

/// Named as `findmnt --json` names them, plus the line number. As in
/// findmnt, an empty or absent field is `null`.
#[derive(Serialize)]
struct JsonEntry<'a> {
    source: Option<Cow<'a, str>>,
    target: Option<Cow<'a, str>>,
    fstype: Option<Cow<'a, str>>,
    options: Option<Cow<'a, str>>,
    freq: i32,
    passno: i32,
    line: usize,
}

fn json_text(value: &[u8]) -> Option<Cow<'_, str>> {
    (!value.is_empty()).then(|| fstab::text(value))
}

fn print_entries(entries: &[&Entry], json: bool) -> anyhow::Result<()> {
    let mut out = cliutil::stdout();
    if json {
        let doc = Json {
            filesystems: entries
                .iter()
                .map(|e| JsonEntry {
                    source: json_text(&e.source),
                    target: json_text(&e.target),
                    fstype: json_text(&e.fstype),
                    options: e.options.as_deref().and_then(json_text),
                    freq: e.freq,
                    passno: e.passno,
                    line: e.line,
                })
                .collect(),
        };
        // Serialised first: a closed pipe must surface as an io::Error.
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    for e in entries {
        writeln!(
            out,
            "{} {} {} {} {} {}",
            fstab::mangle(&e.source),
            fstab::mangle(&e.target),
            fstab::mangle(&e.fstype),
            e.options
                .as_deref()
                .map_or(Cow::Borrowed("defaults"), |o| Cow::Owned(fstab::mangle(o))),
            e.freq,
            e.passno
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_waits_do_not_overflow() {
        let now = Instant::now();
        assert_eq!(
            deadline(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(deadline(now, Duration::MAX) > now + Duration::from_secs(1 << 31));
    }

    #[test]
    fn select_by_target() {
        let table = fstab::parse(b"a /m/one t\nb /m/two t\nc /m/one/ t\n");
        let names = [PathBuf::from("/m/one")];
        let chosen = select(&table.entries, &names, Path::new("f")).unwrap();
        assert_eq!(chosen.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 3]);
        let err = select(&table.entries, &[PathBuf::from("/x")], Path::new("f")).unwrap_err();
        assert_eq!(err.to_string(), "no entry for /x in f");
    }
}
