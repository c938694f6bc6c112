//! `lsb-status unit`: a native systemd unit from an LSB init script.
//!
//! The floor is what systemd-sysv-generator did with the header (ordering,
//! description, aliases, reload, install targets). Beyond it, the script's
//! body is read for the daemon itself: the program `start-stop-daemon`,
//! RHEL's `daemon` or LSB's `start_daemon` runs, its arguments, pid file,
//! user, defaults file, runtime directory and reload signal. A body too
//! clever to read falls back to the generator's wrapper unit, with the
//! reason as a warning.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::expand::{needs_arguments, plain, split_words, Env, Mode, Piece, Value};
use crate::foreground::{self, Flags};
use crate::header::{self, Header};
use crate::shell::{self, Command, ParseError};

/// A unit written for one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// `NAME.service`.
    pub file_name: String,
    pub text: String,
    /// What a person should look at (the fallback's reason among them).
    pub warnings: Vec<String>,
    /// The daemon itself (true) or a unit running the script (false).
    pub native: bool,
}

/// Why no unit can be written at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Name(String),
    Parse(ParseError),
    /// A unit line whose value ends in a backslash.
    Value(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Name(name) => write!(
                f,
                "cannot name a unit after '{name}': expected letters, digits and `:_.-@` only"
            ),
            Error::Parse(e) => write!(f, "line {}: cannot read as shell: {}", e.line, e.message),
            Error::Value(line) => write!(
                f,
                "cannot write `{line}`: a value ending in `\\` would join the next line to it in systemd"
            ),
        }
    }
}

/// The unit name for a script file name: `.sh` cut, as the generator did.
pub fn unit_name(file_name: &str) -> Result<String, Error> {
    let base = file_name.strip_suffix(".sh").unwrap_or(file_name);
    let ok = !base.is_empty()
        && base.len() <= 200
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.-@".contains(&b));
    if ok {
        Ok(format!("{base}.service"))
    } else {
        Err(Error::Name(crate::escape(file_name)))
    }
}

/// Reads a file a script sources: its bytes, or why not.
pub type Reader<'r> = &'r dyn Fn(&str) -> Result<Vec<u8>, String>;

/// A shell library larger than this is no init script's helper.
const MAX_SOURCED: u64 = 1 << 20;

/// A file a script sources, read from this machine (where the script will
/// run): a regular file, at most [`MAX_SOURCED`] bytes.
pub fn read_sourced(path: &str) -> Result<Vec<u8>, String> {
    cliutil::read_regular_limited(std::path::Path::new(path), MAX_SOURCED, "a shell file")
        .map_err(|e| e.to_string())
}

/// Converts a script. `path` is where the script is installed (the
/// wrapper's `ExecStart=`, `SourcePath=`), `file_name` its file name.
/// Files the script sources (other than defaults files) are read from
/// this machine.
pub fn convert(path: &str, file_name: &str, bytes: &[u8]) -> Result<Converted, Error> {
    convert_with(path, file_name, bytes, &read_sourced)
}

/// What the reader knows beyond the script: the foreground flags of
/// well-known daemons (the built-in table, unless turned off) and the
/// user's own (`--foreground-flag`, first).
#[derive(Debug, Clone)]
pub struct Knowledge {
    pub table: bool,
    pub user: Vec<(String, Flags)>,
}

impl Default for Knowledge {
    fn default() -> Knowledge {
        Knowledge {
            table: true,
            user: Vec::new(),
        }
    }
}

impl Knowledge {
    /// The flags that keep `program` (an absolute path) in the foreground,
    /// if known: the table's only for a program where the system installs
    /// it (a `/tmp/sshd` may be another program).
    fn flags(&self, program: &str) -> Option<Flags> {
        let name = program.rsplit('/').next().unwrap_or_default();
        let table = (self.table && foreground::in_system_dir(program))
            .then(|| foreground::known(name))
            .flatten();
        match self.user.iter().find(|(p, _)| p == name) {
            Some((_, own)) => Some(Flags {
                serves: table.is_some_and(|t| t.serves),
                ..own.clone()
            }),
            None => table,
        }
    }
}

/// [`convert`], with `read` reading the files the script sources.
pub fn convert_with(
    path: &str,
    file_name: &str,
    bytes: &[u8],
    read: Reader<'_>,
) -> Result<Converted, Error> {
    convert_knowing(path, file_name, bytes, read, &Knowledge::default())
}

/// [`convert_with`], knowing what `knowledge` says of daemons.
pub fn convert_knowing(
    path: &str,
    file_name: &str,
    bytes: &[u8],
    read: Reader<'_>,
    knowledge: &Knowledge,
) -> Result<Converted, Error> {
    let unit = unit_name(file_name)?;
    let own = unit.trim_end_matches(".service").to_owned();
    let text = String::from_utf8_lossy(bytes);
    let header = header::parse(bytes);
    let commands = shell::commands(&text).map_err(Error::Parse)?;
    let floor = Floor::new(&header, &own, &text);
    let mut warnings = floor.warnings.clone();
    let mut findings = Findings::default();
    let body = Body::read(
        &commands,
        &mut warnings,
        read,
        path,
        knowledge,
        &mut findings,
    );
    let (service, native) = match body {
        Ok(lines) => (lines, true),
        Err(Reading::Subsystem { reload }) => (subsystem(path, floor.reload || reload), true),
        Err(Reading::TooClever(why)) => {
            warnings.push(format!(
                "{why}: wrote the generator's wrapper unit (ExecStart={} start)",
                crate::escape(path)
            ));
            let pidfile = header_pidfile(&text).or(findings.wrapper_pidfile.take());
            (wrapper(path, floor.reload, pidfile), false)
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {unit}: written by lsb-status unit from {}",
        crate::escape(path)
    );
    out.push_str("[Unit]\n");
    if let Some(description) = &floor.description {
        // A `\` at the end would take the next line into the description.
        let description = description.trim_end_matches('\\').trim_end();
        let _ = writeln!(out, "Description={}", unit_value(description));
    }
    let _ = writeln!(out, "SourcePath={}", unit_value(path));
    let mut floor = floor;
    let networked = floor
        .after
        .iter()
        .any(|t| t == "network.target" || t == "network-online.target");
    // A script ordered before network.target (Provides: $network) helps
    // bring the network up: after it too would be an ordering cycle.
    let network_part = floor
        .before
        .iter()
        .any(|t| t == "network.target" || t == "network-pre.target");
    if findings.network_server && !networked && !network_part {
        // A network server stops before the network goes down.
        floor.after.push("network.target".to_owned());
    }
    for (key, list) in [
        ("After", &floor.after),
        ("Before", &floor.before),
        ("Wants", &floor.wants),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "{key}={}", list.join(" "));
        }
    }
    out.push_str("\n[Service]\n");
    for line in &service {
        let _ = writeln!(out, "{line}");
    }
    if !floor.wanted_by.is_empty() || !floor.aliases.is_empty() {
        out.push_str("\n[Install]\n");
        if !floor.wanted_by.is_empty() {
            let _ = writeln!(out, "WantedBy={}", floor.wanted_by.join(" "));
        }
        if !floor.aliases.is_empty() {
            let _ = writeln!(out, "Alias={}", floor.aliases.join(" "));
        }
    }
    // A value ending in an unpaired `\` (a pid file, a directory) would
    // take the next setting into it: no such unit is written.
    if let Some(line) = out.lines().find(|l| !l.starts_with('#') && joins_next(l)) {
        return Err(Error::Value(crate::escape(line)));
    }
    let mut seen = BTreeSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    Ok(Converted {
        file_name: unit,
        text: out,
        warnings,
        native,
    })
}

/// What the generator took from the header.
#[derive(Debug, Default)]
struct Floor {
    description: Option<String>,
    after: Vec<String>,
    before: Vec<String>,
    wants: Vec<String>,
    wanted_by: Vec<String>,
    aliases: Vec<String>,
    /// The usage line offers `reload`.
    reload: bool,
    warnings: Vec<String>,
}

impl Floor {
    fn new(header: &Header, own: &str, text: &str) -> Floor {
        let mut floor = Floor {
            reload: usage_has_reload(text),
            ..Floor::default()
        };
        let lsb = header.lsb.as_ref();
        let field = |key: &str| lsb.and_then(|l| l.get(key)).map(|f| f.value.clone());
        floor.description = field("Short-Description")
            .or_else(|| header.description.clone())
            .or_else(|| field("Description"))
            .filter(|d| !d.is_empty());
        let words = |key: &str| lsb.and_then(|l| l.words(key)).unwrap_or_default();
        for key in [
            "Required-Start",
            "Should-Start",
            "X-Start-Before",
            "X-Start-After",
        ] {
            for word in words(key) {
                let Some(target) = facility(&word, own) else {
                    continue;
                };
                if key == "X-Start-Before" {
                    push(&mut floor.before, &target);
                } else {
                    if target == "network-online.target" {
                        push(&mut floor.wants, &target);
                    }
                    push(&mut floor.after, &target);
                }
            }
        }
        for word in words("Provides") {
            match facility(&word, own) {
                Some(target) if target.ends_with(".target") => {
                    push(&mut floor.before, &target);
                    push(&mut floor.wants, &target);
                    // What provides $network comes before network.target
                    // too, as the generator wrote.
                    if target == "network-online.target" {
                        push(&mut floor.before, "network.target");
                        push(&mut floor.wants, "network.target");
                    }
                }
                Some(alias) => push(&mut floor.aliases, &alias),
                None => {}
            }
        }
        let levels: Vec<char> = match (
            lsb.and_then(|l| l.words("Default-Start")),
            &header.chkconfig,
        ) {
            (Some(words), _) => words
                .iter()
                .filter(|w| w.len() == 1)
                .filter_map(|w| w.chars().next())
                .collect(),
            (None, Some(chk)) => chk.levels.chars().collect(),
            (None, None) => Vec::new(),
        };
        if levels.iter().any(|l| matches!(l, '2'..='4')) {
            push(&mut floor.wanted_by, "multi-user.target");
        } else if levels.contains(&'5') {
            push(&mut floor.wanted_by, "graphical.target");
        } else if levels.contains(&'1') {
            push(&mut floor.wanted_by, "rescue.target");
        }
        if levels.iter().any(|l| l.eq_ignore_ascii_case(&'S')) {
            push(&mut floor.wanted_by, "sysinit.target");
            floor.warnings.push(
                "Default-Start has S (early boot): check that the unit's default dependencies \
                 allow it to start that early (DefaultDependencies=no?)"
                    .to_owned(),
            );
        }
        floor
    }
}

fn push(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|i| i == item) {
        list.push(item.to_owned());
    }
}

/// The generator's facility table: `$network` → network-online.target,
/// ...; `$local_fs` and `$syslog` need nothing under systemd; other
/// `$names` are targets, plain names services (the script's own dropped).
fn facility(word: &str, own: &str) -> Option<String> {
    let known = match word.trim_start_matches('$') {
        "local_fs" | "syslog" | "all" => return None,
        "network" => "network-online.target",
        "named" => "nss-lookup.target",
        "portmap" => "rpcbind.target",
        "remote_fs" => "remote-fs.target",
        "time" => "time-sync.target",
        _ => "",
    };
    if !known.is_empty() {
        return Some(known.to_owned());
    }
    let name = word.trim_start_matches('$');
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.-@".contains(&b));
    if !valid {
        return None;
    }
    if word.starts_with('$') {
        Some(format!("{name}.target"))
    } else if name.trim_end_matches(".sh") == own {
        None
    } else {
        Some(format!("{}.service", name.trim_end_matches(".sh")))
    }
}

/// The generator's test: a usage line offering `reload`.
fn usage_has_reload(text: &str) -> bool {
    let mut continuing = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        let lower = t.to_ascii_lowercase();
        if continuing || lower.contains("usage") {
            if [
                "{reload|",
                "{reload}",
                "{reload\"",
                "|reload|",
                "|reload}",
                "|reload\"",
            ]
            .iter()
            .any(|p| lower.contains(p))
            {
                return true;
            }
            continuing = t.ends_with('\\');
        }
    }
    false
}

/// The Red Hat `# pidfile:` header line.
fn header_pidfile(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix('#')?.trim_start();
        let value = rest
            .get(..8)
            .filter(|k| k.eq_ignore_ascii_case("pidfile:"))
            .map(|_| rest[8..].trim())?;
        value.starts_with('/').then(|| value.to_owned())
    })
}

enum Reading {
    /// Nothing is left running: a oneshot that runs the script.
    /// (`reload`: the script has a reload its usage line does not show.)
    Subsystem {
        reload: bool,
    },
    TooClever(String),
}

/// How the script starts its daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Launch {
    line: usize,
    program: String,
    args: Vec<Vec<Piece>>,
    pidfile: Option<Result<String, String>>,
    user: Option<String>,
    group: Option<String>,
    /// The script puts the program in the background itself: it does not
    /// daemonize.
    foreground: bool,
    make_pidfile: bool,
    /// Settings from start-stop-daemon's process options (`--umask`,
    /// `--chdir`, `--nicelevel`, ...).
    settings: Vec<String>,
    /// Options that could not be mapped.
    notes: Vec<String>,
}

struct Body<'a, 'w> {
    commands: &'a [Command],
    warnings: &'w mut Vec<String>,
    env: Env,
    /// Each function's commands (indices into `commands`).
    functions: HashMap<String, Vec<usize>>,
    /// Sources Debian's /lib/init/init-d-script, which does the work.
    init_d_script: bool,
    /// Defaults files sourced for the script by init-d-script.
    implied_env_files: Vec<String>,
    /// Reads the other files the script sources.
    read: Reader<'w>,
    /// Where the script is installed.
    path: &'w str,
    knowledge: &'w Knowledge,
    /// The pid files the launchers read so far give (line, absolute path).
    launch_pidfiles: Vec<(usize, String)>,
    /// The daemon is known to serve network clients.
    network_server: bool,
}

/// `word` is a cluster of short options that may hold `flag` (`-d` in
/// `-dv`, `-w` in `-gw30`): its letters before any value.
fn in_cluster(word: &str, flag: &str) -> bool {
    let Some(rest) = word.strip_prefix('-').filter(|r| !r.starts_with('-')) else {
        return false;
    };
    let letters: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
    word.len() > 2 && flag.len() == 2 && !flag.starts_with("--") && letters.contains(&flag[1..])
}

/// `word` gives the option `flag`: as it is, with a value (`--wait-sync=5`,
/// `-w5`), or maybe in a cluster (`-gw`).
fn gives(word: &str, flag: &str) -> bool {
    let valued = if flag.starts_with("--") {
        word.strip_prefix(flag).is_some_and(|v| v.starts_with('='))
    } else {
        word.starts_with(flag) && !word.starts_with("--")
    };
    word == flag || valued || in_cluster(word, flag)
}

/// A user or group name `User=`/`Group=` take as written: a number, or a
/// letter or `_` then letters, digits, `_.-` (31 at most).
fn owner_name(name: &str) -> bool {
    let numeric = !name.is_empty() && name.len() <= 10 && name.bytes().all(|b| b.is_ascii_digit());
    let named = name.len() <= 31
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    numeric || named
}

/// systemd joins a line that ends in an unpaired `\` with the next one.
fn joins_next(line: &str) -> bool {
    let mut escaped = false;
    for c in line.chars() {
        escaped = !escaped && c == '\\';
    }
    escaped
}

/// `words` hold `run` (not empty) as consecutive words.
fn contains_run(words: &[String], run: &[String]) -> bool {
    !run.is_empty() && words.windows(run.len()).any(|w| w == run)
}

/// What reading the body found besides the [Service] lines.
#[derive(Debug, Default)]
struct Findings {
    /// For the wrapper unit: the daemon's pid file, known for sure.
    wrapper_pidfile: Option<String>,
    /// The daemon serves network clients (After=network.target).
    network_server: bool,
}

/// Debian's framework: the script sets `DAEMON`, `DAEMON_ARGS`, `PIDFILE`, ...
/// and this file starts and stops it with start-stop-daemon.
const INIT_D_SCRIPT: &str = "/lib/init/init-d-script";

const STARTERS: [&str; 3] = ["start-stop-daemon", "daemon", "start_daemon"];

impl<'a> Body<'a, '_> {
    fn read(
        commands: &'a [Command],
        warnings: &mut Vec<String>,
        read: Reader<'_>,
        path: &str,
        knowledge: &Knowledge,
        findings: &mut Findings,
    ) -> Result<Vec<String>, Reading> {
        let mut body = Body {
            launch_pidfiles: Vec::new(),
            network_server: false,
            read,
            path,
            knowledge,
            commands,
            warnings,
            env: Env::default(),
            functions: {
                let mut map: HashMap<String, Vec<usize>> = HashMap::new();
                for (i, c) in commands.iter().enumerate() {
                    if let Some(f) = &c.function {
                        map.entry(f.clone()).or_default().push(i);
                    }
                }
                map
            },
            init_d_script: false,
            implied_env_files: Vec::new(),
        };
        body.top_level();
        if body.init_d_script {
            body.init_d_script_defaults();
        }
        body.start_functions();
        let result = body.service();
        if result.is_err() {
            findings.wrapper_pidfile = body.sole_pidfile();
        }
        findings.network_server = body.network_server;
        result
    }

    /// The pid file of the script's one launcher (not in a loop, not in a
    /// function started more than once), when it is known as written and
    /// the stop action stops by it too (so the daemon surely writes it):
    /// the wrapper unit can tell systemd which process is the daemon.
    fn sole_pidfile(&mut self) -> Option<String> {
        let start = self.action("start");
        let launchers: Vec<&&Command> = start
            .iter()
            .filter(|c| {
                let words = &c.words;
                let at = words
                    .iter()
                    .take_while(|w| assignments(std::slice::from_ref(w)).len() == 1)
                    .count();
                let tool = words
                    .get(at)
                    .map(|w| w.rsplit('/').next().unwrap_or_default());
                match tool {
                    Some("start-stop-daemon") => words.iter().any(|w| w == "--start" || w == "-S"),
                    Some(t) => STARTERS.contains(&t),
                    None => false,
                }
            })
            .collect();
        let [one] = launchers[..] else {
            return None;
        };
        let called_once = one
            .function
            .as_ref()
            .is_none_or(|f| start.iter().filter(|c| c.words[0] == *f).count() <= 1);
        if one.in_loop || !called_once {
            return None;
        }
        let pidfile = self
            .launch_pidfiles
            .iter()
            .find(|(line, _)| *line == one.line)
            .map(|(_, p)| p.clone())?;
        let stop = self.action("stop");
        let stops_by_it = stop.iter().any(|c| {
            c.words
                .iter()
                .any(|w| self.literal(w).is_ok_and(|v| v == pidfile))
        });
        stops_by_it.then_some(pidfile)
    }

    /// Follows the top level: assignments and sourced defaults files.
    fn top_level(&mut self) {
        for (index, command) in self.commands.iter().enumerate() {
            let assignments = assignments(&command.words);
            if command.function.is_some() {
                for (name, _) in assignments {
                    self.env.function_vars.insert(name.to_owned());
                }
                continue;
            }
            if !assignments.is_empty() {
                let before = index.checked_sub(1).map(|i| &self.commands[i]);
                self.assign(command, &assignments, before);
                continue;
            }
            if command.words[0] == ":" {
                // `: ${X:=default}` assigns X as `X=${X:=default}` does.
                for word in &command.words[1..] {
                    let inner = word.trim_matches('"');
                    let name = inner
                        .strip_prefix("${")
                        .and_then(|r| r.split_once('='))
                        .map(|(n, _)| n.trim_end_matches(':'))
                        .filter(|n| {
                            !n.is_empty()
                                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        });
                    if let Some(name) = name {
                        let name = name.to_owned();
                        self.assign(command, &[(name.as_str(), inner)], None);
                    }
                }
                continue;
            }
            if command
                .words
                .windows(2)
                .any(|w| w[0] == "." && w[1] == INIT_D_SCRIPT)
            {
                self.init_d_script = true;
                continue;
            }
            if self.defaults_file(command).is_some() {
                self.env.source_defaults();
            } else if let Some(file) = self.library_file(command) {
                self.follow(command, &file);
            }
        }
    }

    /// A shell file the script sources for its settings (`DAEMON=` in a
    /// package's shared file): absolute, known here, neither a defaults
    /// file nor a function library (`/lib/lsb/init-functions`,
    /// init-d-script).
    fn library_file(&mut self, command: &Command) -> Option<String> {
        let [dot, file, ..] = &command.words[..] else {
            return None;
        };
        if dot != "." && dot != "source" {
            return None;
        }
        let path = plain(&self.env.expand(file, Mode::Literal).ok()?)?;
        // The libraries whose launchers this reader knows itself (LSB's,
        // Debian's init-d-script and rcS `vars.sh`, Red Hat's, SUSE's):
        // functions and boot settings, nothing a daemon takes.
        let library = path.starts_with("/lib/lsb/")
            || path.starts_with("/lib/init/")
            || [
                "/etc/init.d/functions",
                "/etc/rc.d/init.d/functions",
                "/etc/rc.status",
            ]
            .contains(&path.as_str())
            || path.starts_with("/etc/default/")
            || path.starts_with("/etc/sysconfig/");
        (path.starts_with('/') && !library).then_some(path)
    }

    /// Takes the assignments of a sourced file as if written here (its
    /// own `.` commands are not followed).
    fn follow(&mut self, command: &Command, file: &str) {
        let read = (self.read)(file).and_then(|bytes| {
            shell::commands(&String::from_utf8_lossy(&bytes))
                .map_err(|e| format!("line {}: cannot read as shell: {}", e.line, e.message))
        });
        let commands = match read {
            Ok(commands) => commands,
            Err(why) => {
                self.warnings.push(format!(
                    "line {}: sources {}, which cannot be read here ({}): what it sets is not known",
                    command.line,
                    crate::escape(file),
                    crate::escape(&why)
                ));
                return;
            }
        };
        for (index, inner) in commands.iter().enumerate() {
            let assignments = assignments(&inner.words);
            if inner.function.is_some() {
                for (name, _) in assignments {
                    self.env.function_vars.insert(name.to_owned());
                }
            } else if !assignments.is_empty() {
                let before = index.checked_sub(1).map(|i| &commands[i]);
                self.assign(inner, &assignments, before);
            } else if let Some(path) = self.defaults_file(inner) {
                // The shared file reads the defaults file for the script.
                self.env.source_defaults();
                if !self.implied_env_files.contains(&path) {
                    self.implied_env_files.push(path);
                }
            }
        }
    }

    /// An assignment command; `before` is the command that ran just before
    /// it (for `[ -z "$X" ] && X=default`).
    fn assign(
        &mut self,
        command: &Command,
        assignments: &[(&str, &str)],
        before: Option<&Command>,
    ) {
        for &(name, value) in assignments {
            let defaulted = before.is_some_and(|b| {
                command.conditional && b.line == command.line && tests_empty(&b.words, name)
            });
            if command.in_loop {
                self.env.forget(name, &format!("${name} is set in a loop"));
            } else if command.conditional && needs_arguments(value) {
                // Only when the script gets more than the action:
                // systemd never gives more.
            } else if defaulted {
                // `[ -z "$X" ] && X=value` is `X=${X:-value}`.
                let word = format!("\"${{{name}:-{}}}\"", value.trim_matches('"'));
                self.env.assign(name, &word);
            } else if command.conditional && self.env.has_value(name) {
                self.env.forget(
                    name,
                    &format!(
                        "${name} is changed under a condition (line {})",
                        command.line
                    ),
                );
            } else {
                self.env.assign(name, value);
            }
        }
    }

    /// Assignments in the functions the start action calls (`set_options()
    /// { ARGS=...; }`), in the order they are written.
    fn start_functions(&mut self) {
        let start = self.action("start");
        let mut previous: Option<&Command> = None;
        for command in start {
            if command.function.is_some() && self.defaults_file(command).is_some() {
                // `do_start() { . /etc/default/foo; ...; }`
                self.env.source_defaults();
            }
            if command.function.is_some() && !command.in_loop {
                let assignments = assignments(&command.words);
                if !assignments.is_empty() {
                    for (name, _) in &assignments {
                        self.env.function_vars.remove(*name);
                    }
                    self.assign(command, &assignments, previous);
                }
            }
            previous = Some(command);
        }
    }

    /// What init-d-script fills in: NAME from DAEMON, PIDFILE from NAME,
    /// then /etc/default/NAME sourced.
    fn init_d_script_defaults(&mut self) {
        if !self.env.has_value("NAME") {
            if let Ok(daemon) = self.literal("$DAEMON") {
                let name = daemon.rsplit('/').next().unwrap_or_default().to_owned();
                self.env.assign("NAME", &format!("'{name}'"));
            }
        }
        if self.literal("$PIDFILE").is_ok_and(|p| p.is_empty()) {
            self.env.assign("PIDFILE", "/var/run/${NAME}.pid");
        } else if self.literal("$PIDFILE").is_ok_and(|p| p == "none") {
            self.env.assign("PIDFILE", "''");
        }
        if let Ok(name) = self.literal("$NAME") {
            self.implied_env_files.push(format!("/etc/default/{name}"));
            self.env.source_defaults();
        }
    }

    /// The defaults file a `.`/`source` command reads, if it is one.
    fn defaults_file(&mut self, command: &Command) -> Option<String> {
        let [dot, file, ..] = &command.words[..] else {
            return None;
        };
        if dot != "." && dot != "source" {
            return None;
        }
        let path = plain(&self.env.expand(file, Mode::Literal).ok()?)?;
        let name = path
            .strip_prefix("/etc/default/")
            .or_else(|| path.strip_prefix("/etc/sysconfig/"))?;
        let config = !name.is_empty() && !name.contains('/') && !["rcS", "locale"].contains(&name);
        config.then_some(path)
    }

    /// The commands an action runs: its case arm's, and those of the
    /// functions they call. Without a case on actions, all of them.
    fn action(&self, action: &str) -> Vec<&'a Command> {
        let unquote = |p: &str| p.trim_matches(|c| c == '"' || c == '\'').to_owned();
        let has_arms = self.commands.iter().any(|c| {
            c.arms
                .iter()
                .any(|arm| arm.iter().any(|p| unquote(p) == "start"))
        });
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let roots: Vec<&Command> = if self.init_d_script && !has_arms {
            self.init_d_steps(action)
                .iter()
                .filter_map(|f| self.functions.get(f))
                .flatten()
                .map(|&i| &self.commands[i])
                .collect()
        } else if has_arms {
            self.commands
                .iter()
                .filter(|c| {
                    c.arms
                        .iter()
                        .any(|arm| arm.iter().any(|p| unquote(p) == action))
                })
                .collect()
        } else if action == "start" {
            self.commands.iter().collect()
        } else {
            Vec::new()
        };
        let mut queue = roots;
        let mut next = 0;
        while let Some(&command) = queue.get(next) {
            next += 1;
            out.push(command);
            let mut first = command.words[0].clone();
            if first == "call" && self.init_d_script && command.words.len() > 1 {
                // init-d-script's `call X`: X_override when the script has it.
                first = self.init_d_pick(&command.words[1]).unwrap_or_default();
            }
            if let Some(body) = self.functions.get(&first) {
                if seen.insert(first.clone()) {
                    queue.extend(body.iter().map(|&i| &self.commands[i]));
                }
            }
        }
        out.sort_by_key(|c| c.line);
        out.dedup_by_key(|c| (c.line, c.words.clone()));
        out
    }

    /// `X_override` or `X`, whichever the script defines (init-d-script's
    /// `call`).
    fn init_d_pick(&self, name: &str) -> Option<String> {
        [format!("{name}_override"), name.to_owned()]
            .into_iter()
            .find(|f| self.functions.contains_key(f))
    }

    /// The script's functions init-d-script runs for an action:
    /// `do_start_override` or `do_start` replace the library's whole
    /// action; else its steps `do_start_prepare`, `do_start_cmd`,
    /// `do_start_cleanup`, each the script's own (`_override` first) where
    /// it has one. (`do_reload` is called directly.)
    fn init_d_steps(&self, action: &str) -> Vec<String> {
        let whole = format!("do_{action}");
        if action == "reload" && self.functions.contains_key(&whole) {
            return vec![whole];
        }
        if let Some(own) = self.init_d_pick(&whole) {
            return vec![own];
        }
        ["prepare", "cmd", "cleanup"]
            .iter()
            .filter_map(|step| self.init_d_pick(&format!("{whole}_{step}")))
            .collect()
    }

    /// init-d-script offers reload when the script gives one.
    fn init_d_reload(&mut self) -> bool {
        self.init_d_script
            && (self.functions.contains_key("do_reload")
                || self.init_d_pick("do_reload_cmd").is_some()
                || self.literal("$RELOAD_SIGNAL").is_ok_and(|s| !s.is_empty()))
    }

    /// The library's own command does the action: the script replaces
    /// neither the action nor its `_cmd` step.
    fn init_d_default(&self, action: &str) -> bool {
        self.init_d_script
            && self.init_d_pick(&format!("do_{action}")).is_none()
            && self.init_d_pick(&format!("do_{action}_cmd")).is_none()
    }

    fn service(&mut self) -> Result<Vec<String>, Reading> {
        let start = self.action("start");
        let mut launches: Vec<Launch> = Vec::new();
        for command in &start {
            let launch = self.launch(command).map_err(|e| match (e, &command.function) {
                (Reading::TooClever(why), Some(function)) => {
                    // A launcher in a function the start action calls from
                    // several places: one daemon per call (IPv4 and IPv6).
                    let calls = start.iter().filter(|c| c.words[0] == *function).count();
                    if calls > 1 {
                        Reading::TooClever(format!(
                            "line {}: {function}() starts a program and the start action calls it {calls} times (one daemon per call?)",
                            command.line
                        ))
                    } else {
                        Reading::TooClever(why)
                    }
                }
                (e, _) => e,
            })?;
            let Some(launch) = launch else {
                continue;
            };
            if command.in_loop {
                return Err(Reading::TooClever(format!(
                    "line {}: starts {} in a loop (one daemon per instance)",
                    command.line, launch.program
                )));
            }
            if !launches.iter().any(|l| l.program == launch.program) {
                launches.push(launch);
            }
        }
        if launches.is_empty() && self.init_d_default("start") {
            let words: Vec<String> = [
                "start-stop-daemon",
                "--start",
                "--quiet",
                "${PIDFILE:+--pidfile}",
                "\"$PIDFILE\"",
                "--exec",
                "\"$DAEMON\"",
                "$START_ARGS",
                "--",
                "$DAEMON_ARGS",
            ]
            .iter()
            .map(|w| (*w).to_owned())
            .collect();
            let command = Command {
                words,
                line: 0,
                function: None,
                arms: Vec::new(),
                in_loop: false,
                background: false,
                conditional: false,
            };
            if let Some(launch) = self.launch(&command)? {
                launches.push(launch);
            }
        }
        let launch = match &launches[..] {
            [] => return Err(self.no_launcher(&start)),
            [one] => one.clone(),
            more => {
                let names: Vec<&str> = more.iter().map(|l| l.program.as_str()).collect();
                return Err(Reading::TooClever(format!(
                    "starts several programs ({})",
                    names.join(", ")
                )));
            }
        };
        Ok(self.lines(&launch))
    }

    /// Why a start action with no launcher this reader knows is what it
    /// is: a daemon started some other way (the wrapper), or a subsystem.
    fn no_launcher(&mut self, start: &[&Command]) -> Reading {
        let detaches =
            |c: &&&Command| ["setsid", "nohup", "daemonize"].contains(&c.words[0].as_str());
        if let Some(c) = start
            .iter()
            .find(detaches)
            .or_else(|| start.iter().find(|c| c.background))
        {
            return Reading::TooClever(format!(
                "line {}: starts `{}` in the background by itself",
                c.line,
                crate::escape(&c.words.join(" "))
            ));
        }
        // A stop that kills processes: something was left running.
        let kills = self.action("stop").iter().any(|c| {
            let w = c.words[0].rsplit('/').next().unwrap_or_default();
            ["kill", "pkill", "killall"].contains(&w)
        });
        let manages = kills
            || self.commands.iter().any(|c| {
                let w = c.words[0].as_str();
                STARTERS.contains(&w) || ["killproc", "pidofproc", "status_of_proc"].contains(&w)
            });
        if manages {
            return Reading::TooClever(
                "its start action runs no start-stop-daemon, daemon or start_daemon this reader can follow"
                    .to_owned(),
            );
        }
        Reading::Subsystem {
            reload: self.init_d_reload(),
        }
    }

    /// A command that starts the daemon, read.
    #[allow(clippy::too_many_lines)] // one arm per launcher, side by side
    fn launch(&mut self, command: &Command) -> Result<Option<Launch>, Reading> {
        // `LANG=C daemon ...`: assignments for the launcher and the daemon.
        let prefix = command
            .words
            .iter()
            .take_while(|w| assignments(std::slice::from_ref(w)).len() == 1)
            .count();
        let words = &command.words[prefix..];
        let Some(first) = words.first() else {
            return Ok(None);
        };
        let tool = first.rsplit('/').next().unwrap_or_default();
        let too_clever = |why: String| {
            Reading::TooClever(if command.line == 0 {
                format!("init-d-script's start: {why}")
            } else {
                format!("line {}: {why}", command.line)
            })
        };
        let mut launch = Launch {
            line: command.line,
            ..Launch::default()
        };
        let mut exec = None;
        let mut startas = None;
        let args: &[String];
        match tool {
            "start-stop-daemon" => {
                let expanded = self.option_words(&words[1..]);
                let opts = options(&expanded, SSD_VALUES);
                let has = |names: &[&str]| opts.iter().any(|(k, _)| names.contains(&k.as_str()));
                if !has(&["--start", "-S"])
                    || has(&["--test", "-t", "--stop", "-K", "--status", "-T"])
                {
                    return Ok(None);
                }
                for (key, value) in &opts {
                    match key.as_str() {
                        "--exec" | "-x" => exec.clone_from(value),
                        "--startas" | "-a" => startas.clone_from(value),
                        "--pidfile" | "-p" => {
                            launch.pidfile = value.clone().map(|v| self.literal(&v));
                        }
                        "--chuid" | "-c" => {
                            let owner = self
                                .literal(value.as_deref().unwrap_or_default())
                                .map_err(&too_clever)?;
                            let (user, group) = owner
                                .split_once(':')
                                .map_or((owner.as_str(), None), |(u, g)| (u, Some(g)));
                            if let Some(bad) = [Some(user), group]
                                .into_iter()
                                .flatten()
                                .find(|n| !owner_name(n))
                            {
                                return Err(too_clever(format!(
                                    "--chuid `{}`: `{}` is not a user or group name systemd takes",
                                    crate::escape(&owner),
                                    crate::escape(bad)
                                )));
                            }
                            launch.user = Some(user.to_owned());
                            if let Some(group) = group {
                                launch.group = Some(group.to_owned());
                            }
                        }
                        "--background" | "-b" => launch.foreground = true,
                        "--make-pidfile" | "-m" => launch.make_pidfile = true,
                        "--umask" | "-k" | "--chdir" | "-d" | "--nicelevel" | "-N" | "--chroot"
                        | "-r" | "--group" | "-g" | "--iosched" | "-I" | "--procsched" | "-P"
                        | "--output" | "-O" => {
                            let raw = value.clone().unwrap_or_default();
                            let mapped = self
                                .literal(&raw)
                                .and_then(|v| ssd_setting(key, &v).map(|s| (v, s)));
                            match mapped {
                                Ok((v, _)) if matches!(key.as_str(), "--group" | "-g") => {
                                    launch.group = launch.group.take().or(Some(v));
                                }
                                Ok((_, settings)) => launch.settings.extend(settings),
                                Err(why) => launch.notes.push(format!(
                                    "start-stop-daemon {key} `{}` left out: {why}",
                                    crate::escape(&raw)
                                )),
                            }
                        }
                        _ => {}
                    }
                }
                args = words
                    .iter()
                    .position(|w| w == "--")
                    .map_or(&[], |i| &words[i + 1..]);
                // (init-d-script's own `$START_ARGS` is the script's to set.)
                let own = command.line == 0;
                for (key, _) in opts
                    .iter()
                    .filter(|(k, v)| !own && k.starts_with('$') && v.is_none())
                {
                    launch.notes.push(format!(
                        "`{}` among start-stop-daemon's options is known only at run time: \
                         left out, check what it adds (a nice level from the defaults file?)",
                        crate::escape(key)
                    ));
                }
                if words.iter().all(|w| w != "--")
                    && opts.iter().any(|(k, v)| k.starts_with('$') && v.is_none())
                {
                    return Err(too_clever(
                        "options for start-stop-daemon come from a variable known only at run time"
                            .to_owned(),
                    ));
                }
            }
            "daemon" => {
                // RHEL: daemon [--user U] [--pidfile F] [--check N] [+/-nice] PROGRAM ARGS
                let mut i = 1;
                while i < words.len() {
                    let w = &words[i];
                    let (key, inline) = w
                        .split_once('=')
                        .map_or((w.as_str(), None), |(k, v)| (k, Some(v.to_owned())));
                    if ["--user", "--pidfile", "--check"].contains(&key) {
                        let value = inline.or_else(|| {
                            i += 1;
                            words.get(i).cloned()
                        });
                        let value = value.map(|v| self.literal(&v));
                        match key {
                            "--user" => {
                                let user =
                                    value.unwrap_or(Err(String::new())).map_err(&too_clever)?;
                                if !owner_name(&user) {
                                    return Err(too_clever(format!(
                                        "daemon --user `{}` is not a user name systemd takes",
                                        crate::escape(&user)
                                    )));
                                }
                                launch.user = Some(user);
                            }
                            "--pidfile" => launch.pidfile = value,
                            _ => {}
                        }
                    } else {
                        let nice = (w.starts_with('+') || w.starts_with('-'))
                            && w.len() > 1
                            && w[1..].bytes().all(|b| b.is_ascii_digit());
                        let option = w.starts_with("--") || w.starts_with('+') || nice;
                        if nice {
                            // RHEL's `daemon +5 prog`: a nice level.
                            match ssd_setting("--nicelevel", w.trim_start_matches('+')) {
                                Ok(settings) => launch.settings.extend(settings),
                                Err(why) => launch
                                    .notes
                                    .push(format!("daemon's nice level `{w}` left out: {why}")),
                            }
                        }
                        if !option && !self.option_variable(w, words.len() - i) {
                            break;
                        }
                    }
                    i += 1;
                }
                if i >= words.len() {
                    return Ok(None);
                }
                exec = Some(words[i].clone());
                args = &words[i + 1..];
            }
            "start_daemon" => {
                let mut i = 1;
                while i < words.len()
                    && (words[i].starts_with('-')
                        || self.option_variable(&words[i], words.len() - i))
                {
                    match words[i].as_str() {
                        "-p" => {
                            launch.pidfile = words.get(i + 1).map(|v| self.literal(v));
                            i += 1;
                        }
                        "-n" => {
                            let raw = words.get(i + 1).cloned().unwrap_or_default();
                            let mapped = self
                                .literal(&raw)
                                .and_then(|v| ssd_setting("--nicelevel", &v));
                            match mapped {
                                Ok(settings) => launch.settings.extend(settings),
                                Err(why) => launch.notes.push(format!(
                                    "start_daemon -n `{}` left out: {why}",
                                    crate::escape(&raw)
                                )),
                            }
                            i += 1;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                if i >= words.len() {
                    return Ok(None);
                }
                exec = Some(words[i].clone());
                args = &words[i + 1..];
            }
            _ => return Ok(None),
        }
        if let Some(Ok(pidfile)) = &launch.pidfile {
            if pidfile.starts_with('/') && !command.in_loop {
                self.launch_pidfiles.push((command.line, pidfile.clone()));
            }
        }
        let Some(program) = startas.or(exec) else {
            return Err(too_clever(format!("`{tool}` without a program")));
        };
        let raw = program;
        let program = self.literal(&raw).map_err(&too_clever)?;
        if program.is_empty() {
            return Err(too_clever(format!(
                "the program `{}` is empty here (set by a file the script sources?)",
                crate::escape(&raw)
            )));
        }
        // systemd refuses an executable whose name holds quotes, a
        // backslash or a control character ("special characters"), and
        // takes a `$$` in it as two dollars.
        let special = |c: char| c.is_whitespace() || c.is_control() || "\"'\\$".contains(c);
        let too_long = program.len() > 4095 || program.split('/').any(|p| p.len() > 255);
        if !program.starts_with('/') || program.contains(special) || too_long {
            return Err(too_clever(format!(
                "the program `{}` is not an absolute path without blanks, quotes, `\\` or `$`",
                crate::escape(&program)
            )));
        }
        launch.program = program;
        for word in &command.words[..prefix] {
            let (name, value) = word.split_once('=').unwrap_or_default();
            let fixed = self
                .env
                .expand(value, Mode::Runtime)
                .is_ok_and(|v| plain(&v).is_some());
            match self.literal(value) {
                Ok(v) => {
                    if !fixed {
                        launch.notes.push(format!(
                            "the daemon's environment `{}` is `{}` here, but the defaults file may change it: check",
                            crate::escape(word),
                            crate::escape(&v)
                        ));
                    }
                    launch.settings.push(format!(
                        "Environment={}",
                        quote(&format!("{name}={}", v.replace('%', "%%")))
                    ));
                }
                Err(why) => launch.notes.push(format!(
                    "the daemon's environment `{}` left out: {why}",
                    crate::escape(word)
                )),
            }
        }
        let mut values: Vec<Value> = Vec::new();
        for arg in args {
            values.push(self.env.expand(arg, Mode::Runtime).map_err(&too_clever)?);
        }
        launch.args = split_words(&values);
        Ok(Some(launch))
    }

    /// start-stop-daemon's words before `--`, with `$VARS` that hold
    /// options (`$START_ARGS`, `$NICE_PARM`) expanded when the script sets
    /// them; kept as written when only run time knows.
    fn option_words(&mut self, words: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let mut in_args = false;
        let mut value_next = false;
        for word in words {
            in_args |= word == "--";
            let expandable =
                !in_args && !value_next && word.starts_with('$') && !word.starts_with("$(");
            value_next = SSD_VALUES.contains(&word.as_str());
            match self
                .env
                .expand(word, Mode::Literal)
                .ok()
                .as_ref()
                .and_then(plain)
            {
                Some(text) if expandable => {
                    out.extend(text.split_whitespace().map(str::to_owned));
                }
                _ => out.push(word.clone()),
            }
        }
        out
    }

    /// A `$VAR` before the program of `daemon`/`start_daemon` that only the
    /// defaults file sets (`$NICENESS`): options, skipped with a warning.
    fn option_variable(&mut self, word: &str, left: usize) -> bool {
        let name = word
            .trim_start_matches('$')
            .trim_start_matches('{')
            .trim_end_matches('}');
        let plain_var = word.starts_with('$')
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain_var || left < 2 {
            return false;
        }
        if let Ok(text) = self.literal(word) {
            return text.is_empty() || text.starts_with('-');
        }
        self.warnings.push(format!(
            "`{word}` before the program is left out: options from the defaults file (a nice level?) are not applied"
        ));
        true
    }

    fn literal(&mut self, word: &str) -> Result<String, String> {
        let value = self.env.expand(word, Mode::Literal)?;
        plain(&value).ok_or_else(|| format!("`{word}` is known only at run time"))
    }

    /// The [Service] lines for the daemon.
    fn lines(&mut self, launch: &Launch) -> Vec<String> {
        let mut lines = Vec::new();
        if self.stops_nothing(launch) {
            // A one-off command (it writes a mark, loads rules), not a daemon.
            let mut lines = vec!["Type=oneshot".to_owned(), "RemainAfterExit=yes".to_owned()];
            lines.extend(self.environment_lines(launch));
            lines.push(format!("ExecStart={}", exec_line(launch)));
            return lines;
        }
        let mut launch = launch.clone();
        self.network_server = self.serves_network(&launch);
        let known = self.run_in_foreground(&mut launch);
        let launch = &launch;
        let forking = !launch.foreground;
        lines.push(format!("Type={}", if forking { "forking" } else { "exec" }));
        let mut notes: Vec<String> = Vec::new();
        if forking {
            match &launch.pidfile {
                Some(Ok(pidfile)) if pidfile.starts_with('/') => {
                    let pidfile = pidfile
                        .strip_prefix("/var/run/")
                        .map_or(pidfile.clone(), |rest| format!("/run/{rest}"));
                    lines.push(format!("PIDFile={}", unit_value(&pidfile)));
                }
                Some(Ok(other)) => notes.push(format!(
                    "pid file `{}` is not absolute: no PIDFile=, systemd guesses the main process",
                    crate::escape(other)
                )),
                Some(Err(why)) => notes.push(format!(
                    "pid file not known ({why}): no PIDFile=, systemd guesses the main process"
                )),
                None => notes.push("no pid file: systemd guesses the main process".to_owned()),
            }
        }
        lines.extend(self.environment_lines(launch));
        for (key, value) in [("User", &launch.user), ("Group", &launch.group)] {
            if let Some(value) = value.as_deref().filter(|v| !["root", "0", ""].contains(v)) {
                lines.push(format!("{key}={}", unit_value(value)));
            }
        }
        lines.extend(launch.settings.iter().cloned());
        self.warnings.extend(launch.notes.iter().cloned());
        let dirs = self.runtime_dirs();
        lines.extend(self.runtime_lines(&dirs, launch));
        if let Some((flags, dropped)) = &known {
            let name = launch.program.rsplit('/').next().unwrap_or_default();
            let mut what = String::new();
            if !flags.add.is_empty() {
                let _ = write!(
                    what,
                    "`{}` keeps {name} in the foreground",
                    flags.add.join(" ")
                );
            }
            if !dropped.is_empty() {
                let sep = if what.is_empty() { "" } else { ", " };
                let _ = write!(
                    what,
                    "{sep}the script's `{}` (daemonize) dropped",
                    dropped.join(" ")
                );
            }
            lines.push(format!("# {} ({})", crate::escape(&what), flags.from));
        }
        lines.push(format!("ExecStart={}", exec_line(launch)));
        let (signal, timeout) = self.stop_schedule();
        if let Some(signal) = signal {
            lines.push(format!("KillSignal=SIG{signal}"));
        }
        if let Some(seconds) = timeout {
            lines.push(format!("TimeoutStopSec={seconds}"));
        }
        let mode_reload = known
            .as_ref()
            .and_then(|(f, _)| f.reload)
            .filter(|_| !self.action("reload").is_empty());
        if let Some(signal) = mode_reload {
            // The daemon's own reload in the mode the unit runs it in
            // (haproxy -Ws: USR2 to the master), not the script's.
            lines.push(format!("ExecReload=/bin/kill -{signal} $MAINPID"));
        } else if let Some(reload) = self.reload(Some(&launch.program)) {
            lines.push(format!("ExecReload={reload}"));
        }
        self.warnings.extend(notes);
        lines
    }

    /// The program is known to serve network clients (as the daemon: with
    /// the argument its entry requires, `rsync --daemon`).
    fn serves_network(&self, launch: &Launch) -> bool {
        let Some(flags) = self.knowledge.flags(&launch.program) else {
            return false;
        };
        flags.serves
            && (flags.requires.is_empty()
                || launch.args.iter().any(
                    |w| matches!(&w[..], [Piece::Text(t)] if flags.requires.contains(&t.as_str())),
                ))
    }

    /// A daemon the script lets fork, run in the foreground with its own
    /// flag when one is known for it: the flag added, the script's own
    /// daemonize flags dropped. Returns the flags and what was dropped.
    fn run_in_foreground(&mut self, launch: &mut Launch) -> Option<(Flags, Vec<String>)> {
        if launch.foreground {
            return None;
        }
        let name = launch
            .program
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let Some(flags) = self.knowledge.flags(&launch.program) else {
            if self.knowledge.table && foreground::known(&name).is_some() {
                self.warnings.push(format!(
                    "line {}: `{}` is not where the system installs {name} (/usr/sbin, /usr/bin, /sbin, /bin, /usr/local/sbin, /usr/local/bin): it may be another program, so the table of known daemons was not used (Type=forking); if it is {name}, say how it stays in the foreground with --foreground-flag {name}=FLAGS",
                    launch.line,
                    crate::escape(&launch.program)
                ));
            }
            return None;
        };
        let literal = |word: &Vec<Piece>| -> Option<String> {
            word.iter()
                .map(|p| match p {
                    Piece::Text(t) => Some(t.as_str()),
                    _ => None,
                })
                .collect::<Option<String>>()
        };
        let words: Vec<String> = launch.args.iter().filter_map(literal).collect();
        let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
        if !flags.requires.is_empty() && !has(flags.requires) {
            return None;
        }
        // `-dv` may hold a daemonize flag `-d`, `--daemon=yes` give it a
        // value: not known, not changed.
        for word in &words {
            let unsure = |d: &&str| {
                in_cluster(word, d)
                    || d.starts_with("--")
                        && word.strip_prefix(*d).is_some_and(|v| v.starts_with('='))
            };
            if flags.drop.iter().any(unsure) && !flags.add.contains(word) {
                self.warnings.push(format!(
                    "line {}: cannot tell whether `{}` asks {name} to daemonize: kept the script's reading (Type=forking)",
                    launch.line,
                    crate::escape(word)
                ));
                return None;
            }
        }
        // An option the flag cannot go with (`ntpd -n` and `-w`), or the
        // flag's own option with another value (`--daemonize yes`): the
        // daemon would fail to start, or fork under a unit that expects it
        // not to.
        let given = contains_run(&words, &flags.add);
        let against = words.iter().find(|w| {
            flags.conflicts.iter().any(|c| gives(w, c))
                || flags.add.first().is_some_and(|f| {
                    // Option names as the program matches them: tor's and
                    // redis's any case, tor's with or without dashes.
                    let key = |o: &str| o.trim_start_matches('-').to_ascii_lowercase();
                    let same = if flags.add.len() > 1 {
                        key(w) == key(f)
                    } else {
                        w.eq_ignore_ascii_case(f)
                    };
                    f.starts_with("--")
                        && (!given && same
                            || w.strip_prefix(f.as_str())
                                .is_some_and(|v| v.starts_with('=')))
                })
        });
        if let Some(word) = against {
            self.warnings.push(format!(
                "line {}: `{}` cannot go with `{}`, which keeps {name} in the foreground: kept the script's reading (Type=forking)",
                launch.line,
                crate::escape(word),
                crate::escape(&flags.add.join(" "))
            ));
            return None;
        }
        let dropped: Vec<String> = words
            .iter()
            .filter(|w| flags.drop.contains(&w.as_str()))
            .cloned()
            .collect();
        if flags.add.is_empty() && dropped.is_empty() {
            // It daemonizes some way not on its command line here.
            return None;
        }
        launch
            .args
            .retain(|w| literal(w).is_none_or(|t| !flags.drop.contains(&t.as_str())));
        if !given {
            let added = flags.add.iter().map(|w| vec![Piece::Text(w.clone())]);
            if flags.at_end {
                launch.args.extend(added);
            } else {
                launch.args.splice(0..0, added);
            }
        }
        launch.foreground = true;
        Some((flags, dropped))
    }

    /// `Environment=` defaults and `EnvironmentFile=` lines for what the
    /// command line takes from the defaults file.
    fn environment_lines(&mut self, launch: &Launch) -> Vec<String> {
        let mut out = Vec::new();
        let mut env_files = self.implied_env_files.clone();
        for command in self.commands {
            if let Some(path) = self.defaults_file(command) {
                if !env_files.contains(&path) {
                    env_files.push(path);
                }
            }
        }
        let used: BTreeSet<&str> = launch
            .args
            .iter()
            .flatten()
            .filter_map(|p| match p {
                Piece::Split(n) | Piece::Whole(n) => Some(n.as_str()),
                Piece::Text(_) => None,
            })
            .collect();
        for (name, value) in &self.env.defaults {
            if used.contains(name.as_str()) {
                out.push(format!(
                    "Environment={}",
                    quote(&format!("{name}={}", value.replace('%', "%%")))
                ));
            }
        }
        if used.is_empty() && !env_files.is_empty() {
            // Nothing the daemon is given comes from it: it only steers the
            // script (ENABLED=, START=), which the unit replaces.
            self.warnings.push(format!(
                "{} sets nothing the daemon's command line uses: left out (check that it only steered the script)",
                env_files.join(", ")
            ));
            env_files.clear();
        }
        for file in &env_files {
            out.push(format!("EnvironmentFile=-{}", unit_value(file)));
        }
        out
    }

    /// The stop action exists and stops no process: what start runs is a
    /// one-off command.
    fn stops_nothing(&mut self, launch: &Launch) -> bool {
        let stop = self.action("stop");
        if stop.is_empty() {
            return false;
        }
        !stop.iter().any(|c| {
            let tool = c.words[0].rsplit('/').next().unwrap_or_default();
            let stops = match tool {
                "start-stop-daemon" => c.words.iter().any(|w| w == "--stop" || w == "-K"),
                "killproc" | "kill" | "pkill" | "killall" | "stop_daemon" => true,
                _ => false,
            };
            stops || self.literal(&c.words[0]).is_ok_and(|p| p == launch.program)
        })
    }

    /// `/run/NAME` directories the start action (or the top level)
    /// creates, with the mode and owner the script gives them (`mkdir -m`,
    /// `install -d -o -g -m`, `chown`, `chmod` on the same path).
    fn runtime_dirs(&mut self) -> Vec<RunDir> {
        let mut dirs: Vec<RunDir> = Vec::new();
        let mut commands: Vec<&Command> = self
            .action("start")
            .into_iter()
            .chain(
                self.commands
                    .iter()
                    .filter(|c| c.function.is_none() && c.arms.is_empty()),
            )
            .collect();
        commands.sort_by_key(|c| c.line);
        commands.dedup_by_key(|c| (c.line, c.words.clone()));
        for command in commands {
            let tool = command.words[0].as_str();
            let creates =
                tool == "mkdir" || (tool == "install" && command.words.iter().any(|w| w == "-d"));
            if !creates && tool != "chown" && tool != "chmod" {
                continue;
            }
            let (opts, operands) = split_options(&command.words[1..], &["-o", "-g", "-m"]);
            let mut owner = None;
            let mut group = None;
            let mut mode = None;
            for (key, value) in opts {
                match (key.as_str(), value) {
                    ("-o" | "--owner", Some(v)) if tool == "install" => owner = Some(v),
                    ("-g" | "--group", Some(v)) if tool == "install" => group = Some(v),
                    ("-m" | "--mode", Some(v)) if creates => mode = Some(v),
                    _ => {}
                }
            }
            let mut operands = operands.into_iter();
            match tool {
                "chown" => {
                    let Some(spec) = operands.next() else {
                        continue;
                    };
                    let (u, g) = spec.split_once(':').map_or((spec.clone(), None), |(u, g)| {
                        (u.to_owned(), Some(g.to_owned()))
                    });
                    owner = Some(u);
                    group = g;
                }
                "chmod" => mode = operands.next(),
                _ => {}
            }
            for word in operands {
                let Ok(path) = self.literal(&word) else {
                    continue;
                };
                let Some(rest) = run_subdir(&path) else {
                    continue;
                };
                let index = match dirs.iter().position(|d| d.name == rest) {
                    Some(i) => i,
                    None if creates => {
                        dirs.push(RunDir {
                            name: rest,
                            ..RunDir::default()
                        });
                        dirs.len() - 1
                    }
                    None => continue,
                };
                let dir = &mut dirs[index];
                if let Some(mode) = &mode {
                    dir.mode = Some(self.literal(mode));
                }
                if let Some(owner) = owner.as_ref().filter(|o| !o.is_empty()) {
                    dir.owner = Some(self.literal(owner));
                }
                if let Some(group) = &group {
                    dir.group = Some(self.literal(group));
                }
            }
        }
        // A parent in the list covers its children.
        let all: Vec<String> = dirs.iter().map(|d| d.name.clone()).collect();
        dirs.retain(|d| !all.iter().any(|p| d.name.starts_with(&format!("{p}/"))));
        dirs
    }

    /// `RuntimeDirectory=` lines: systemd makes each directory (and removes
    /// it on stop) as the unit's user, mode 0755; another mode the script
    /// sets becomes `RuntimeDirectoryMode=`, another owner a `chown` before
    /// the start.
    fn runtime_lines(&mut self, dirs: &[RunDir], launch: &Launch) -> Vec<String> {
        let mut lines = Vec::new();
        let mut modes = BTreeSet::new();
        for dir in dirs {
            lines.push(format!("RuntimeDirectory={}", unit_value(&dir.name)));
            match &dir.mode {
                None => {
                    modes.insert("0755".to_owned());
                }
                Some(Ok(mode)) if octal_mode(mode).is_some() => {
                    modes.insert(octal_mode(mode).unwrap_or_default());
                }
                Some(Ok(mode)) => self.warnings.push(format!(
                    "/run/{}: mode `{}` is not octal: RuntimeDirectoryMode= left at 0755",
                    crate::escape(&dir.name),
                    crate::escape(mode)
                )),
                Some(Err(why)) => self.warnings.push(format!(
                    "/run/{}: mode not known ({why}): RuntimeDirectoryMode= left at 0755",
                    crate::escape(&dir.name)
                )),
            }
        }
        match modes.len() {
            0 => {}
            1 => {
                let mode = modes.pop_first().unwrap_or_default();
                if mode != "0755" {
                    lines.push(format!("RuntimeDirectoryMode={mode}"));
                }
            }
            _ => self.warnings.push(format!(
                "the script gives its /run directories different modes ({}): \
                 RuntimeDirectoryMode= left at 0755",
                modes.into_iter().collect::<Vec<_>>().join(", ")
            )),
        }
        let user = launch
            .user
            .clone()
            .filter(|u| !["root", "0", ""].contains(&u.as_str()));
        for dir in dirs {
            let known =
                |value: &Option<Result<String, String>>, what: &str, w: &mut Vec<String>| {
                    match value {
                        Some(Ok(v)) if !v.is_empty() => Some(v.clone()),
                        Some(Err(why)) => {
                            w.push(format!(
                                "/run/{}: {what} not known ({why}): left to the unit's user",
                                crate::escape(&dir.name)
                            ));
                            None
                        }
                        _ => None,
                    }
                };
            let owner = known(&dir.owner, "owner", self.warnings);
            let group = known(&dir.group, "group", self.warnings);
            let unit_user = user.clone().unwrap_or_else(|| "root".to_owned());
            let owner = owner.filter(|o| *o != unit_user && !(unit_user == "root" && o == "0"));
            let group = group.filter(|g| {
                Some(g) != launch.group.as_ref()
                    && !(user.is_none() && launch.group.is_none() && (g == "root" || g == "0"))
                    && !(launch.group.is_none() && Some(g) == user.as_ref())
            });
            // `chown U:` is U and U's login group.
            let login_group = matches!(&dir.group, Some(Ok(g)) if g.is_empty());
            let spec = match (owner, group) {
                (None, None) => continue,
                (Some(o), None) if login_group => format!("{o}:"),
                (Some(o), None) => o,
                (None, Some(g)) => format!(":{g}"),
                (Some(o), Some(g)) => format!("{o}:{g}"),
            };
            let valid = spec
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
            if !valid {
                self.warnings.push(format!(
                    "/run/{}: owner `{}` is not a user name: left to the unit's user",
                    crate::escape(&dir.name),
                    crate::escape(&spec)
                ));
                continue;
            }
            // `+`: with User= set, only full privileges may chown.
            lines.push(format!(
                "ExecStartPre={}/bin/chown {spec} {}",
                if user.is_some() { "+" } else { "" },
                exec_word(&[Piece::Text(format!("/run/{}", dir.name))])
            ));
        }
        lines
    }

    /// The signal the reload action sends, as `/bin/kill -SIG $MAINPID`,
    /// or nothing when reload does nothing or restarts.
    fn reload(&mut self, launch_program: Option<&String>) -> Option<String> {
        let commands = self.action("reload");
        if commands.is_empty() {
            let signal = self.literal("$RELOAD_SIGNAL").ok();
            return signal
                .filter(|_| self.init_d_script)
                .and_then(|s| signal_name(&s))
                .map(|s| format!("/bin/kill -{s} $MAINPID"));
        }
        let mut restarts = false;
        for command in &commands {
            restarts |= self.launch(command).is_ok_and(|l| l.is_some());
        }
        if restarts {
            // Stop and start again: no reload to map (reload-or-restart).
            return None;
        }
        if let Some(signal) = commands.iter().find_map(|c| signal_sent(&c.words)) {
            return Some(format!("/bin/kill -{signal} $MAINPID"));
        }
        // Something else (`$DAEMON reload`, a control program): the
        // script's own reload, as the generator ran it.
        let quiet = [
            "echo", "printf", "true", ":", "return", "exit", "[", "test", "sleep", "local", "set",
            "shift", "cat", "rm",
        ];
        let acts = commands.iter().any(|c| {
            let w = c.words[0].as_str();
            !quiet.contains(&w)
                && !w.starts_with("log_")
                && !self.functions.contains_key(w)
                && assignments(&c.words).is_empty()
        });
        if !acts {
            return None;
        }
        let program = launch_program.filter(|p| {
            commands
                .iter()
                .any(|c| self.literal(&c.words[0]).is_ok_and(|w| w == **p))
        });
        if let Some(program) = program {
            // A new process may replace the main one (haproxy -sf): under
            // systemd the old one's exit would end the service.
            self.warnings.push(format!(
                "reload runs {} itself (a new process in place of the running one?): \
                 no ExecReload=, `systemctl reload-or-restart` restarts",
                crate::escape(program)
            ));
            return None;
        }
        Some(format!(
            "{} reload",
            exec_word(&[Piece::Text(self.path.to_owned())])
        ))
    }

    /// What the stop action's start-stop-daemon does: its first signal,
    /// when not TERM, and how long it waits before SIGKILL (`--retry 30`,
    /// `--retry TERM/30/KILL/5`), which is `TimeoutStopSec=` (systemd
    /// sends SIGKILL when that runs out, as the script did).
    fn stop_schedule(&mut self) -> (Option<String>, Option<u64>) {
        if self.init_d_default("stop") {
            // init-d-script's stop: --retry=TERM/0/CONT/30/KILL/5.
            return (None, kill_after("TERM/0/CONT/30/KILL/5"));
        }
        let commands = self.action("stop");
        for command in commands {
            let words = &command.words;
            if words[0] == "killproc" {
                // Red Hat's `killproc -d N`: TERM, N seconds, then KILL.
                let delay = words
                    .iter()
                    .position(|w| w == "-d")
                    .and_then(|i| words.get(i + 1))
                    .and_then(|d| self.literal(d).ok())
                    .and_then(|d| d.parse::<u64>().ok());
                return (None, delay);
            }
            if words[0].rsplit('/').next() != Some("start-stop-daemon") {
                continue;
            }
            let opts = options(&words[1..], SSD_VALUES);
            if !opts.iter().any(|(k, _)| k == "--stop" || k == "-K") {
                continue;
            }
            let mut signal = None;
            let mut timeout = None;
            for (key, value) in &opts {
                let Some(value) = value else { continue };
                let Ok(value) = self.literal(value) else {
                    continue;
                };
                match key.as_str() {
                    "--signal" | "-s" => signal = signal_name(&value),
                    "--retry" | "-R" => {
                        if let Ok(seconds) = value.parse::<u64>() {
                            timeout = Some(seconds);
                            continue;
                        }
                        let first = value.split('/').next().unwrap_or_default();
                        signal = signal.or_else(|| signal_name(first));
                        timeout = kill_after(&value);
                    }
                    _ => {}
                }
            }
            return (signal.filter(|s| s != "TERM"), timeout);
        }
        (None, None)
    }
}

/// The unit settings for one of start-stop-daemon's process options.
fn ssd_setting(key: &str, value: &str) -> Result<Vec<String>, String> {
    let path = |setting: &str| {
        if value.starts_with('/') && !value.contains(char::is_whitespace) {
            Ok(vec![format!("{setting}={}", unit_value(value))])
        } else {
            Err("expected an absolute path without blanks".to_owned())
        }
    };
    let number = |text: &str, range: std::ops::RangeInclusive<i32>| {
        text.parse::<i32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                format!(
                    "expected a number from {} to {}",
                    range.start(),
                    range.end()
                )
            })
    };
    match key {
        "--umask" | "-k" => {
            let ok =
                (1..=4).contains(&value.len()) && value.bytes().all(|b| (b'0'..=b'7').contains(&b));
            if ok {
                Ok(vec![format!("UMask={value:0>4}")])
            } else {
                Err("expected an octal mask".to_owned())
            }
        }
        "--chdir" | "-d" => path("WorkingDirectory"),
        "--chroot" | "-r" => path("RootDirectory"),
        "--output" | "-O" => path("StandardOutput")
            .map(|_| vec![format!("StandardOutput=append:{}", unit_value(value))]),
        // From init (nice 0), the increment is the level.
        "--nicelevel" | "-N" => number(value, -20..=19).map(|n| vec![format!("Nice={n}")]),
        "--group" | "-g" => owner_name(value)
            .then(Vec::new)
            .ok_or_else(|| "expected a group name".to_owned()),
        "--iosched" | "-I" => {
            let (class, priority) = value
                .split_once(':')
                .map_or((value, None), |(c, p)| (c, Some(p)));
            let class = match class {
                "idle" => "idle",
                "best-effort" => "best-effort",
                "real-time" => "realtime",
                _ => return Err("expected idle, best-effort or real-time".to_owned()),
            };
            let mut out = vec![format!("IOSchedulingClass={class}")];
            if let Some(p) = priority {
                out.push(format!("IOSchedulingPriority={}", number(p, 0..=7)?));
            }
            Ok(out)
        }
        "--procsched" | "-P" => {
            let (policy, priority) = value
                .split_once(':')
                .map_or((value, None), |(c, p)| (c, Some(p)));
            if !["other", "fifo", "rr"].contains(&policy) {
                return Err("expected other, fifo or rr".to_owned());
            }
            let mut out = vec![format!("CPUSchedulingPolicy={policy}")];
            if let Some(p) = priority {
                let range = if policy == "other" { 0..=0 } else { 1..=99 };
                out.push(format!("CPUSchedulingPriority={}", number(p, range)?));
            }
            Ok(out)
        }
        _ => Ok(Vec::new()),
    }
}

/// A directory under /run a script makes.
#[derive(Debug, Default)]
struct RunDir {
    /// Relative to /run.
    name: String,
    mode: Option<Result<String, String>>,
    owner: Option<Result<String, String>>,
    group: Option<Result<String, String>>,
}

/// `/run/X/Y` or `/var/run/X/Y` → `X/Y`.
fn run_subdir(path: &str) -> Option<String> {
    let rest = path
        .strip_prefix("/run/")
        .or_else(|| path.strip_prefix("/var/run/"))?
        .trim_end_matches('/');
    let ok = !rest.is_empty()
        && rest
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    ok.then(|| rest.to_owned())
}

/// An octal file mode as systemd writes it (`755` → `0755`).
fn octal_mode(text: &str) -> Option<String> {
    let ok = (3..=4).contains(&text.len()) && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    ok.then(|| format!("{text:0>4}"))
}

/// Seconds a `--retry` schedule (`SIG/N/SIG/N/KILL/N`) waits before it
/// sends KILL; none when it never does (`forever`, no KILL).
fn kill_after(schedule: &str) -> Option<u64> {
    let mut total: u64 = 0;
    for item in schedule.split('/') {
        if let Ok(n) = item.parse::<u64>() {
            total = total.checked_add(n)?;
        } else if signal_name(item).as_deref() == Some("KILL") {
            return (total > 0).then_some(total);
        } else if signal_name(item).is_none() {
            return None;
        }
    }
    None
}

/// Options (`-x V`, `--x=V`, `-x`) and operands of a coreutils-style
/// command; `with_value` are the short options that take a value.
fn split_options(
    words: &[String],
    with_value: &[&str],
) -> (Vec<(String, Option<String>)>, Vec<String>) {
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        if word == "--" {
            operands.extend(words[i + 1..].iter().cloned());
            break;
        }
        if let Some((key, value)) = word.split_once('=').filter(|(k, _)| k.starts_with("--")) {
            opts.push((key.to_owned(), Some(value.to_owned())));
        } else if with_value.contains(&word.as_str()) {
            opts.push((word.clone(), words.get(i + 1).cloned()));
            i += 1;
        } else if let Some(short) = with_value
            .iter()
            .find(|o| word.len() > 2 && word.starts_with(*o) && !word.starts_with("--"))
        {
            opts.push(((*short).to_owned(), Some(word[2..].to_owned())));
        } else if word.starts_with('-') && word.len() > 1 {
            opts.push((word.clone(), None));
        } else {
            operands.push(word.clone());
        }
        i += 1;
    }
    (opts, operands)
}

/// A script that leaves nothing running (mounts, modules, firewall rules):
/// a oneshot that stays active, running the script's start and stop.
fn subsystem(path: &str, reload: bool) -> Vec<String> {
    let script = exec_word(&[Piece::Text(path.to_owned())]);
    let mut lines = vec![
        "Type=oneshot".to_owned(),
        "RemainAfterExit=yes".to_owned(),
        "SuccessExitStatus=5 6".to_owned(),
        format!("ExecStart={script} start"),
        format!("ExecStop={script} stop"),
    ];
    if reload {
        lines.push(format!("ExecReload={script} reload"));
    }
    lines
}

/// The generator's wrapper unit, line for line (systemd 252).
fn wrapper(path: &str, reload: bool, pidfile: Option<String>) -> Vec<String> {
    let script = exec_word(&[Piece::Text(path.to_owned())]);
    let mut lines = vec![
        "Type=forking".to_owned(),
        "Restart=no".to_owned(),
        "TimeoutSec=5min".to_owned(),
        "IgnoreSIGPIPE=no".to_owned(),
        "KillMode=process".to_owned(),
        "GuessMainPID=no".to_owned(),
        format!(
            "RemainAfterExit={}",
            if pidfile.is_some() { "no" } else { "yes" }
        ),
        "SuccessExitStatus=5 6".to_owned(),
    ];
    if let Some(pidfile) = pidfile {
        lines.push(format!("PIDFile={}", unit_value(&pidfile)));
    }
    lines.push(format!("ExecStart={script} start"));
    lines.push(format!("ExecStop={script} stop"));
    if reload {
        lines.push(format!("ExecReload={script} reload"));
    }
    lines
}

/// `NAME=value` words that make up an assignment command (`export` and
/// `readonly` too); empty when the command runs something.
fn assignments(words: &[String]) -> Vec<(&str, &str)> {
    let words = match words.first().map(String::as_str) {
        Some("export" | "readonly" | "local" | "declare" | "typeset") => &words[1..],
        _ => words,
    };
    let mut out = Vec::new();
    for word in words {
        let Some((name, value)) = word.split_once('=') else {
            if words.len() > out.len() && !out.is_empty() {
                // `VAR=x cmd`: the assignment is for cmd only.
                return Vec::new();
            }
            continue;
        };
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Vec::new();
        }
        out.push((name, value));
    }
    out
}

/// `[ -z "$NAME" ]` or `test -z "$NAME"`.
fn tests_empty(words: &[String], name: &str) -> bool {
    let quoted = [format!("\"${name}\""), format!("\"${{{name}}}\"")];
    match words {
        [open, z, var, close] => open == "[" && z == "-z" && quoted.contains(var) && close == "]",
        [test, z, var] => test == "test" && z == "-z" && quoted.contains(var),
        _ => false,
    }
}

/// start-stop-daemon's options that take a value.
const SSD_VALUES: &[&str] = &[
    "--exec",
    "-x",
    "--startas",
    "-a",
    "--pidfile",
    "-p",
    "--name",
    "-n",
    "--chuid",
    "-c",
    "--user",
    "-u",
    "--group",
    "-g",
    "--chdir",
    "-d",
    "--chroot",
    "-r",
    "--umask",
    "-k",
    "--nicelevel",
    "-N",
    "--procsched",
    "-P",
    "--iosched",
    "-I",
    "--retry",
    "-R",
    "--signal",
    "-s",
    "--ppid",
    "--pid",
    "--output",
    "-O",
    "--notify-timeout",
];

/// Options before `--`: `(name, value)`, `--opt=value` split.
fn options(words: &[String], with_value: &[&str]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        if word == "--" {
            break;
        }
        if let Some((key, value)) = word.split_once('=').filter(|(k, _)| k.starts_with("--")) {
            out.push((key.to_owned(), Some(value.to_owned())));
        } else if with_value.contains(&word.as_str()) {
            out.push((word.clone(), words.get(i + 1).cloned()));
            i += 1;
        } else {
            out.push((word.clone(), None));
        }
        i += 1;
    }
    out
}

/// The signal a reload command sends: start-stop-daemon `--stop --signal`,
/// `killproc ... -HUP`, `kill -HUP`/`kill -s HUP`, `pkill -HUP`.
fn signal_sent(words: &[String]) -> Option<String> {
    let tool = words[0].rsplit('/').next()?;
    match tool {
        "start-stop-daemon" => {
            let opts = options(&words[1..], SSD_VALUES);
            let stop = opts.iter().any(|(k, _)| k == "--stop" || k == "-K");
            let value = opts
                .iter()
                .find(|(k, _)| k == "--signal" || k == "-s")
                .and_then(|(_, v)| v.clone())?;
            stop.then(|| signal_name(&value)).flatten()
        }
        "killproc" => {
            let last = words.last()?;
            (words.len() > 2)
                .then(|| signal_name(last.trim_start_matches('-')))
                .flatten()
        }
        "kill" | "pkill" | "killall" => {
            let first = words.get(1)?;
            if first == "-s" {
                signal_name(words.get(2)?)
            } else {
                first.strip_prefix('-').and_then(signal_name)
            }
        }
        _ => None,
    }
}

/// `HUP`, `SIGHUP`, `1` → `HUP`.
fn signal_name(text: &str) -> Option<String> {
    const NAMES: [(&str, &str); 10] = [
        ("1", "HUP"),
        ("2", "INT"),
        ("3", "QUIT"),
        ("9", "KILL"),
        ("10", "USR1"),
        ("12", "USR2"),
        ("15", "TERM"),
        ("14", "ALRM"),
        ("18", "CONT"),
        ("28", "WINCH"),
    ];
    let text = text.trim_start_matches('-');
    let text = text.strip_prefix("SIG").unwrap_or(text);
    if let Some((_, name)) = NAMES.iter().find(|(n, _)| *n == text) {
        return Some((*name).to_owned());
    }
    NAMES
        .iter()
        .find(|(_, name)| *name == text)
        .map(|(_, name)| (*name).to_owned())
}

/// A value for a unit setting: specifiers escaped (`%` → `%%`), control
/// characters escaped.
fn unit_value(text: &str) -> String {
    crate::escape(text).replace('%', "%%")
}

/// One word of an `Exec` line, quoted for systemd when needed.
fn exec_word(pieces: &[Piece]) -> String {
    if let [Piece::Split(name)] = pieces {
        return format!("${name}");
    }
    let mut text = String::new();
    let mut needs_quotes = pieces.is_empty();
    for piece in pieces {
        match piece {
            Piece::Text(t) => {
                needs_quotes |=
                    t.is_empty() || t.contains(|c: char| c.is_whitespace() || "\"'\\;".contains(c));
                for c in t.chars() {
                    match c {
                        '"' | '\\' => {
                            text.push('\\');
                            text.push(c);
                        }
                        '$' => text.push_str("$$"),
                        '%' => text.push_str("%%"),
                        '\n' => text.push_str("\\n"),
                        '\t' => text.push_str("\\t"),
                        c if c.is_control() => {
                            let _ = write!(text, "\\x{:02x}", c as u32);
                        }
                        c => text.push(c),
                    }
                }
            }
            Piece::Split(n) | Piece::Whole(n) => {
                let _ = write!(text, "${{{n}}}");
            }
        }
    }
    if needs_quotes {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// The program and its arguments, as an `Exec` line.
fn exec_line(launch: &Launch) -> String {
    let mut exec = exec_word(&[Piece::Text(launch.program.clone())]);
    for arg in &launch.args {
        exec.push(' ');
        exec.push_str(&exec_word(arg));
    }
    exec
}

/// `"..."` for a whole setting value (Environment=).
fn quote(text: &str) -> String {
    let escaped: String = crate::escape(text)
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "#!/bin/sh
### BEGIN INIT INFO
# Provides:          foo foo-alias $foo-facility
# Required-Start:    $local_fs $remote_fs $network $named $portmap $time $syslog bar
# Required-Stop:     $remote_fs
# Should-Start:      baz.sh
# X-Start-Before:    qux
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Foo 100% daemon
### END INIT INFO
";

    fn unit(body: &str) -> Converted {
        convert("/etc/init.d/foo", "foo", format!("{HEAD}{body}").as_bytes()).unwrap()
    }

    /// The value(s) of a setting, in order.
    fn get(c: &Converted, key: &str) -> Vec<String> {
        c.text
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
            .collect()
    }

    const SSD: &str = "NAME=foo
DAEMON=/usr/sbin/food
PIDFILE=/run/$NAME.pid
case \"$1\" in
  start) start-stop-daemon --start --quiet --pidfile $PIDFILE --exec $DAEMON -- -c /etc/foo.conf ;;
  stop) start-stop-daemon --stop --quiet --pidfile $PIDFILE ;;
  *) echo \"Usage: $0 {start|stop}\" ;;
esac
";

    #[test]
    fn the_header_maps_as_the_generator_did() {
        let c = unit(SSD);
        assert_eq!(get(&c, "Description"), ["Foo 100%% daemon"]);
        assert_eq!(
            get(&c, "After"),
            ["remote-fs.target network-online.target nss-lookup.target rpcbind.target time-sync.target bar.service baz.service"]
        );
        assert_eq!(get(&c, "Before"), ["qux.service foo-facility.target"]);
        assert_eq!(
            get(&c, "Wants"),
            ["network-online.target foo-facility.target"]
        );
        assert_eq!(get(&c, "WantedBy"), ["multi-user.target"]);
        assert_eq!(get(&c, "Alias"), ["foo-alias.service"]);
        assert_eq!(get(&c, "SourcePath"), ["/etc/init.d/foo"]);
        assert!(c.native && c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn providing_network_comes_before_both_network_targets() {
        let c = convert(
            "/x/net",
            "net",
            b"### BEGIN INIT INFO\n# Provides: net $network\n### END INIT INFO\n",
        )
        .unwrap();
        assert_eq!(get(&c, "Before"), ["network-online.target network.target"]);
        assert_eq!(get(&c, "Wants"), ["network-online.target network.target"]);
        assert!(get(&c, "Alias").is_empty());
    }

    #[test]
    fn runlevels_pick_the_target() {
        let only = |levels: &str| {
            let text =
                format!("### BEGIN INIT INFO\n# Default-Start: {levels}\n### END INIT INFO\n");
            let c = convert("/x/foo", "foo", text.as_bytes()).unwrap();
            (get(&c, "WantedBy"), c.warnings.len())
        };
        assert_eq!(only("2 3 4 5"), (vec!["multi-user.target".to_owned()], 0));
        assert_eq!(only("5"), (vec!["graphical.target".to_owned()], 0));
        assert_eq!(only("1"), (vec!["rescue.target".to_owned()], 0));
        assert_eq!(only("S"), (vec!["sysinit.target".to_owned()], 1));
        assert_eq!(only(""), (vec![], 0));
    }

    #[test]
    fn a_self_daemonizing_program_is_forking_with_its_pid_file() {
        let c = unit(SSD);
        assert_eq!(get(&c, "Type"), ["forking"]);
        assert_eq!(get(&c, "PIDFile"), ["/run/foo.pid"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food -c /etc/foo.conf"]);
        assert!(get(&c, "ExecReload").is_empty());
        assert!(get(&c, "KillSignal").is_empty());
    }

    #[test]
    fn var_run_becomes_run() {
        let c = unit(&SSD.replace("PIDFILE=/run/", "PIDFILE=/var/run/"));
        assert_eq!(get(&c, "PIDFile"), ["/run/foo.pid"]);
    }

    #[test]
    fn a_program_the_script_backgrounds_is_exec_without_pid_file() {
        let c = unit(&SSD.replace("--start --quiet", "--start --background --make-pidfile"));
        assert_eq!(get(&c, "Type"), ["exec"]);
        assert!(get(&c, "PIDFile").is_empty());
        let c = unit(&SSD.replace("--start --quiet", "-S -b -m"));
        assert_eq!(get(&c, "Type"), ["exec"]);
    }

    #[test]
    fn chuid_gives_user_and_group_but_root_is_left_out() {
        let c = unit(&SSD.replace("--start --quiet", "--start --chuid foo:bar"));
        assert_eq!(
            (get(&c, "User"), get(&c, "Group")),
            (vec!["foo".to_owned()], vec!["bar".to_owned()])
        );
        let c = unit(&SSD.replace("--start --quiet", "--start -c foo"));
        assert_eq!(
            (get(&c, "User"), get(&c, "Group")),
            (vec!["foo".to_owned()], vec![])
        );
        let c = unit(&SSD.replace("--start --quiet", "--start --chuid 0:0"));
        assert!(get(&c, "User").is_empty() && get(&c, "Group").is_empty());
    }

    #[test]
    fn the_defaults_file_becomes_environment_file() {
        let script = SSD.replace(
            "PIDFILE=/run/$NAME.pid\n",
            "PIDFILE=/run/$NAME.pid\nDAEMON_ARGS=\"-v\"\n[ -r /etc/default/$NAME ] && . /etc/default/$NAME\n[ -r /etc/default/rcS ] && . /etc/default/rcS\nOPTS=\"-q $EXTRA\"\n",
        )
        .replace("-c /etc/foo.conf", "$DAEMON_ARGS $OPTS \"$QUOTED\" --x=$EXTRA");
        let c = unit(&script);
        assert_eq!(get(&c, "EnvironmentFile"), ["-/etc/default/foo"]);
        // Set before the file was read: the file may override it.
        assert_eq!(get(&c, "Environment"), ["\"DAEMON_ARGS=-v\""]);
        assert_eq!(
            get(&c, "ExecStart"),
            ["/usr/sbin/food $DAEMON_ARGS -q $EXTRA ${QUOTED} --x=${EXTRA}"]
        );
        // The program and the pid file are spelt out all the same.
        assert_eq!(get(&c, "PIDFile"), ["/run/foo.pid"]);
        let c = unit(
            &SSD.replace("NAME=foo\n", "NAME=foo\n. /etc/sysconfig/foo\n")
                .replace("-c /etc/foo.conf", "$OPTIONS"),
        );
        assert_eq!(get(&c, "EnvironmentFile"), ["-/etc/sysconfig/foo"]);
        // A defaults file nothing on the command line comes from (ENABLED=)
        // is left out, with a warning.
        let c = unit(&SSD.replace("NAME=foo\n", "NAME=foo\n. /etc/default/foo\n"));
        assert!(get(&c, "EnvironmentFile").is_empty());
        assert!(c.warnings[0].contains("sets nothing the daemon's command line uses"));
    }

    #[test]
    fn reload_sends_the_scripts_signal() {
        for (reload, want) in [
            (
                "start-stop-daemon --stop --signal HUP --pidfile $PIDFILE",
                "HUP",
            ),
            (
                "start-stop-daemon --stop --signal 1 --pidfile $PIDFILE",
                "HUP",
            ),
            ("start-stop-daemon -K -s USR2 -p $PIDFILE", "USR2"),
            ("killproc -p $PIDFILE $DAEMON -USR1", "USR1"),
            ("kill -HUP $(cat $PIDFILE)", "HUP"),
            ("kill -s SIGQUIT `cat $PIDFILE`", "QUIT"),
        ] {
            let script = SSD.replace("  *)", &format!("  reload) {reload} ;;\n  *)"));
            let c = unit(&script);
            assert_eq!(
                get(&c, "ExecReload"),
                [format!("/bin/kill -{want} $MAINPID")],
                "{reload}"
            );
        }
    }

    #[test]
    fn a_reload_that_runs_a_command_runs_the_scripts_reload() {
        let c = unit(&SSD.replace(
            "  *)",
            "  reload) log_daemon_msg x; /usr/bin/foo-client reload; log_end_msg $? ;;\n  *)",
        ));
        assert_eq!(get(&c, "ExecReload"), ["/etc/init.d/foo reload"]);
        // The daemon's own program again: maybe a new process, so none.
        let c = unit(&SSD.replace("  *)", "  reload) $DAEMON -sf $(cat $PIDFILE) ;;\n  *)"));
        assert!(get(&c, "ExecReload").is_empty());
        assert!(
            c.warnings
                .iter()
                .any(|w| w.starts_with("reload runs /usr/sbin/food itself")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn a_reload_that_restarts_or_does_nothing_maps_to_none() {
        let restart = SSD.replace(
            "  *)",
            "  reload) start-stop-daemon --stop --signal INT -p $PIDFILE; start-stop-daemon --start -p $PIDFILE --exec $DAEMON ;;\n  *)",
        );
        assert!(get(&unit(&restart), "ExecReload").is_empty());
        let nothing = SSD.replace("  *)", "  reload) echo nothing to do ;;\n  *)");
        assert!(get(&unit(&nothing), "ExecReload").is_empty());
    }

    #[test]
    fn the_stop_signal_becomes_kill_signal() {
        let c = unit(&SSD.replace("--stop --quiet", "--stop --retry QUIT/5/TERM/5/KILL/5"));
        assert_eq!(get(&c, "KillSignal"), ["SIGQUIT"]);
        let c = unit(&SSD.replace("--stop --quiet", "--stop --signal 3"));
        assert_eq!(get(&c, "KillSignal"), ["SIGQUIT"]);
        let c = unit(&SSD.replace("--stop --quiet", "--stop --retry TERM/30/KILL/5"));
        assert!(get(&c, "KillSignal").is_empty());
    }

    #[test]
    fn run_directories_the_script_makes_become_runtime_directory() {
        let c = unit(&SSD.replace(
            "  start) ",
            "  start) [ -d /run/foo ] || mkdir -m 0755 /run/foo; install -d -o foo -g foo /var/run/foo/sub /run/other /var/lib/foo\n",
        ));
        assert_eq!(get(&c, "RuntimeDirectory"), ["foo", "other"]);
    }

    #[test]
    fn the_stop_schedule_becomes_timeout_stop_sec() {
        for (stop, signal, timeout) in [
            ("--stop --retry 30", None, Some("30")),
            ("--stop --retry=TERM/30/KILL/5", None, Some("30")),
            ("-K -R QUIT/5/TERM/5/KILL/5", Some("SIGQUIT"), Some("10")),
            ("--stop --retry forever/TERM/1", None, None),
            ("--stop --retry TERM/30", None, None),
            ("--stop --quiet", None, None),
        ] {
            let c = unit(&SSD.replace("--stop --quiet", stop));
            let want = |v: Option<&str>| v.map(str::to_owned).into_iter().collect::<Vec<_>>();
            assert_eq!(get(&c, "KillSignal"), want(signal), "{stop}");
            assert_eq!(get(&c, "TimeoutStopSec"), want(timeout), "{stop}");
        }
    }

    #[test]
    fn run_directories_keep_the_mode_and_owner_the_script_gives_them() {
        let start = |prep: &str| unit(&SSD.replace("  start) ", &format!("  start) {prep}\n")));
        let c = start("RUNDIR=/run/foo; [ -d \"$RUNDIR\" ] || mkdir \"$RUNDIR\"; chown foo:foo \"$RUNDIR\"; chmod 2775 \"$RUNDIR\"");
        assert_eq!(get(&c, "RuntimeDirectory"), ["foo"]);
        assert_eq!(get(&c, "RuntimeDirectoryMode"), ["2775"]);
        assert_eq!(get(&c, "ExecStartPre"), ["/bin/chown foo:foo /run/foo"]);
        let c = start("owner=www-data; install -d -o $owner -g $owner -m 0750 /run/foo");
        assert_eq!(get(&c, "RuntimeDirectoryMode"), ["0750"]);
        assert_eq!(
            get(&c, "ExecStartPre"),
            ["/bin/chown www-data:www-data /run/foo"]
        );
        let c = start("mkdir /run/foo; chown www-data: /run/foo");
        assert_eq!(get(&c, "ExecStartPre"), ["/bin/chown www-data: /run/foo"]);
        let c = start("mkdir -m755 /run/foo; chown nagios /var/run/foo");
        assert!(get(&c, "RuntimeDirectoryMode").is_empty());
        assert_eq!(get(&c, "ExecStartPre"), ["/bin/chown nagios /run/foo"]);
        // The unit's own user owns RuntimeDirectory= already.
        let c = unit(
            &SSD.replace(
                "  start) ",
                "  start) mkdir -p /run/foo; chown foo:bar /run/foo\n",
            )
            .replace("--start --quiet", "--start --chuid foo:bar"),
        );
        assert!(get(&c, "ExecStartPre").is_empty(), "{}", c.text);
        // Another owner while User= is set: only full privileges chown.
        let c = unit(
            &SSD.replace(
                "  start) ",
                "  start) mkdir -p /run/foo; chown root:adm /run/foo\n",
            )
            .replace("--start --quiet", "--start --chuid foo"),
        );
        assert_eq!(get(&c, "ExecStartPre"), ["+/bin/chown root:adm /run/foo"]);
        // Not known, not a name, not octal: left as systemd makes it, said.
        let c = start("mkdir /run/foo; chown \"$(id -un)\" /run/foo; chmod u+w /run/foo");
        assert!(get(&c, "ExecStartPre").is_empty() && get(&c, "RuntimeDirectoryMode").is_empty());
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("/run/foo: owner not known")),
            "{:?}",
            c.warnings
        );
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("mode `u+w` is not octal")),
            "{:?}",
            c.warnings
        );
        let c = start("mkdir -m 0700 /run/a; mkdir /run/b");
        assert!(get(&c, "RuntimeDirectoryMode").is_empty());
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("different modes (0700, 0755)")),
            "{:?}",
            c.warnings
        );
        // chown on a directory the script does not make under /run: nothing.
        let c = start("chown foo /run/foo");
        assert!(get(&c, "RuntimeDirectory").is_empty() && get(&c, "ExecStartPre").is_empty());
    }

    #[test]
    fn a_sourced_shell_file_is_followed_for_its_settings() {
        let script = format!(
            "{HEAD}if [ -r /usr/share/foo/common ]; then . /usr/share/foo/common; else exit 0; fi\n\
             . /lib/lsb/init-functions\n. /lib/init/vars.sh\n\
             case $1 in start) start-stop-daemon --start --pidfile $PIDFILE --exec $DAEMON -- $ARGS ;; \
             stop) start-stop-daemon --stop --pidfile $PIDFILE ;; esac\n"
        );
        let asked = std::cell::RefCell::new(Vec::new());
        let files = |path: &str| {
            asked.borrow_mut().push(path.to_owned());
            match path {
                "/usr/share/foo/common" => Ok(b"DAEMON=/usr/sbin/food\nPIDFILE=/run/foo/foo.pid\nARGS=\"-q\"\nhelper() { X=1; }\n[ -r /etc/default/foo ] && . /etc/default/foo\n".to_vec()),
                _ => Err("No such file or directory".to_owned()),
            }
        };
        let c = convert_with("/etc/init.d/foo", "foo", script.as_bytes(), &files).unwrap();
        assert!(c.native, "{:?}", c.warnings);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food $ARGS"]);
        assert_eq!(get(&c, "Environment"), ["\"ARGS=-q\""]);
        assert_eq!(get(&c, "EnvironmentFile"), ["-/etc/default/foo"]);
        assert_eq!(get(&c, "PIDFile"), ["/run/foo/foo.pid"]);
        // The LSB and Debian libraries are not read.
        assert_eq!(*asked.borrow(), ["/usr/share/foo/common"]);
        let none = |_: &str| Err("No such file or directory".to_owned());
        let c = convert_with("/etc/init.d/foo", "foo", script.as_bytes(), &none).unwrap();
        assert!(!c.native);
        assert!(
            c.warnings[0].starts_with("line 12: sources /usr/share/foo/common, which cannot be read here (No such file or directory)"),
            "{:?}",
            c.warnings
        );
        let broken = |_: &str| Ok(b"A=\"open\n".to_vec());
        let c = convert_with("/etc/init.d/foo", "foo", script.as_bytes(), &broken).unwrap();
        assert!(
            c.warnings[0].contains("(line 1: cannot read as shell: unterminated"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn start_stop_daemon_process_options_become_settings() {
        let c = unit(&SSD.replace(
            "--start --quiet",
            "--start --umask 007 --chdir /var/lib/foo -N 5 --chroot /srv/jail -g adm --iosched best-effort:2 --procsched rr:10 -b --output /var/log/foo.log",
        ));
        for (key, value) in [
            ("UMask", "0007"),
            ("WorkingDirectory", "/var/lib/foo"),
            ("Nice", "5"),
            ("RootDirectory", "/srv/jail"),
            ("Group", "adm"),
            ("IOSchedulingClass", "best-effort"),
            ("IOSchedulingPriority", "2"),
            ("CPUSchedulingPolicy", "rr"),
            ("CPUSchedulingPriority", "10"),
            ("StandardOutput", "append:/var/log/foo.log"),
        ] {
            assert_eq!(get(&c, key), [value], "{key}\n{}", c.text);
        }
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = unit(&SSD.replace(
            "NAME=foo\n",
            "NAME=foo\n. /etc/default/foo\nif [ -n \"$NICE\" ]; then NICE_PARM=\"--nicelevel $NICE\"; fi\n",
        )
        .replace("--start --quiet", "--start $NICE_PARM"));
        assert!(c.native);
        assert!(
            c.warnings.iter().any(|w| w.starts_with(
                "`$NICE_PARM` among start-stop-daemon's options is known only at run time"
            )),
            "{:?}",
            c.warnings
        );
        let c = unit(&SSD.replace("--start --quiet", "--start --group adm --chuid foo"));
        assert_eq!(
            (get(&c, "User"), get(&c, "Group")),
            (vec!["foo".to_owned()], vec!["adm".to_owned()])
        );
        // --chuid's group wins over --group.
        let c = unit(&SSD.replace("--start --quiet", "--start -c foo:bar --group adm"));
        assert_eq!(get(&c, "Group"), ["bar"]);
        for (option, why) in [
            (
                "--umask 0999",
                "--umask `0999` left out: expected an octal mask",
            ),
            ("--chdir var/lib", "expected an absolute path"),
            ("--nicelevel 40", "expected a number from -20 to 19"),
            ("--iosched fast", "expected idle, best-effort or real-time"),
            ("--procsched fifo:0", "expected a number from 1 to 99"),
            ("--nicelevel $(nice)", "`$(nice)` runs a command"),
        ] {
            let c = unit(&SSD.replace("--start --quiet", &format!("--start {option}")));
            assert!(
                c.warnings.iter().any(|w| w.contains(why)),
                "{option}: {:?}",
                c.warnings
            );
        }
    }

    #[test]
    fn if_on_the_argument_and_colon_defaults() {
        let c = unit(
            "DAEMON=/usr/sbin/food\n: ${PORT:=8080} \"${SIZE=1M}\"\n. /etc/default/foo\n\
             if [ \"$1\" = start ]; then\n  start-stop-daemon --start --exec $DAEMON -- -p $PORT -s $SIZE\n\
             elif [ \"x$1\" = xstop ]; then\n  start-stop-daemon --stop --retry 20 --exec $DAEMON\n\
             elif [ \"$1\" = reload ]; then\n  start-stop-daemon --stop --signal USR1 --exec $DAEMON\n\
             else\n  echo \"Usage: $0 {start|stop|reload}\"\nfi\n",
        );
        assert!(c.native, "{:?}", c.warnings);
        assert_eq!(get(&c, "Environment"), ["\"PORT=8080\"", "\"SIZE=1M\""]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food -p $PORT -s $SIZE"]);
        assert_eq!(get(&c, "TimeoutStopSec"), ["20"]);
        assert_eq!(get(&c, "ExecReload"), ["/bin/kill -USR1 $MAINPID"]);
    }

    #[test]
    fn assignments_before_the_launcher_are_the_daemons_environment() {
        let c = unit(&SSD.replace(
            "  start) start-stop-daemon",
            "  start) LANG=C TZ=\"$ZONE\" start-stop-daemon",
        ));
        assert!(c.native, "{:?}", c.warnings);
        assert_eq!(get(&c, "Environment"), ["\"LANG=C\"", "\"TZ=\""]);
        let c = unit(
            &SSD.replace("NAME=foo\n", "NAME=foo\n. /etc/default/foo\nL=${L-C}\n")
                .replace(
                    "  start) start-stop-daemon",
                    "  start) LANG=$L start-stop-daemon",
                ),
        );
        assert_eq!(get(&c, "Environment"), ["\"LANG=C\""]);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("`LANG=$L` is `C` here, but the defaults file may change it")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn rhel_daemon_and_killproc() {
        let script = "prog=food
. /etc/rc.d/init.d/functions
exec=/usr/sbin/$prog
pidfile=${PIDFILE-/var/run/food.pid}
. /etc/sysconfig/$prog
start() {
    LANG=C daemon --pidfile=$pidfile --user=food $exec $OPTIONS
}
stop() {
    killproc -p $pidfile -d 20 $exec
}
reload() {
    killproc -p $pidfile $exec -HUP
}
case \"$1\" in
    start) start ;;
    stop) stop ;;
    reload) reload ;;
esac
";
        let c = unit(script);
        assert_eq!(get(&c, "Type"), ["forking"]);
        assert_eq!(get(&c, "PIDFile"), ["/run/food.pid"]);
        assert_eq!(get(&c, "User"), ["food"]);
        assert_eq!(get(&c, "EnvironmentFile"), ["-/etc/sysconfig/food"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food $OPTIONS"]);
        assert_eq!(get(&c, "ExecReload"), ["/bin/kill -HUP $MAINPID"]);
        assert_eq!(get(&c, "Environment"), ["\"LANG=C\""]);
        assert_eq!(get(&c, "TimeoutStopSec"), ["20"]);
        // Red Hat's function library is not read (nor missed).
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn nice_levels_of_daemon_and_start_daemon() {
        let c =
            unit("case $1 in start) daemon +5 --pidfile /run/food.pid /usr/sbin/food ;; esac\n");
        assert_eq!(get(&c, "Nice"), ["5"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food"]);
        let c = unit("case $1 in start) daemon -3 /usr/sbin/food ;; esac\n");
        assert_eq!(get(&c, "Nice"), ["-3"]);
        let c =
            unit("case $1 in start) start_daemon -n 10 -p /run/food.pid /usr/sbin/food ;; esac\n");
        assert_eq!(get(&c, "Nice"), ["10"]);
        assert_eq!(get(&c, "PIDFile"), ["/run/food.pid"]);
        let c = unit("case $1 in start) start_daemon -n 99 /usr/sbin/food ;; esac\n");
        assert!(get(&c, "Nice").is_empty());
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("start_daemon -n `99` left out")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn lsb_start_daemon() {
        let c = unit("case $1 in start) start_daemon -p /run/food.pid /usr/sbin/food -x ;; esac\n");
        assert_eq!(get(&c, "Type"), ["forking"]);
        assert_eq!(get(&c, "PIDFile"), ["/run/food.pid"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food -x"]);
    }

    #[test]
    fn debian_init_d_script() {
        let c = unit(
            "DAEMON=/usr/sbin/food\nDAEMON_ARGS=\"-f\"\nRELOAD_SIGNAL=USR1\nset \"$0\" \"$@\"; INIT_D_SCRIPT_SOURCED=true . /lib/init/init-d-script\n",
        );
        assert!(c.native, "{:?}", c.warnings);
        assert_eq!(get(&c, "PIDFile"), ["/run/food.pid"]);
        assert_eq!(get(&c, "EnvironmentFile"), ["-/etc/default/food"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food $DAEMON_ARGS"]);
        assert_eq!(get(&c, "Environment"), ["\"DAEMON_ARGS=-f\""]);
        assert_eq!(get(&c, "ExecReload"), ["/bin/kill -USR1 $MAINPID"]);
    }

    #[test]
    fn init_d_script_steps_the_script_overrides() {
        const LIB: &str = "set \"$0\" \"$@\"; INIT_D_SCRIPT_SOURCED=true . /lib/init/init-d-script\nDAEMON=/usr/sbin/food\n";
        // The library's own start and stop: its stop schedule too.
        let c = unit(LIB);
        assert_eq!(get(&c, "Type"), ["forking"]);
        assert_eq!(get(&c, "TimeoutStopSec"), ["30"]);
        // do_start_cmd replaced by a one-off command (procps' sysctl): the
        // library's start-stop-daemon is not used; a oneshot running the
        // script, with the reload it defines.
        let c = unit(&format!(
            "{LIB}PIDFILE=none\ndo_start_cmd() {{\n  $DAEMON -q --system\n}}\ndo_reload() {{ call do_start_cmd; }}\ndo_stop() {{ return 0; }}\n"
        ));
        assert!(c.native, "{:?}", c.warnings);
        assert_eq!(get(&c, "Type"), ["oneshot"]);
        assert_eq!(get(&c, "ExecStart"), ["/etc/init.d/foo start"]);
        assert_eq!(get(&c, "ExecReload"), ["/etc/init.d/foo reload"]);
        // do_start_cmd_override with its own start-stop-daemon is the start.
        let c = unit(&format!(
            "{LIB}do_start_cmd_override() {{\n  start-stop-daemon --start --background --exec $DAEMON -- -f\n}}\n"
        ));
        assert_eq!(get(&c, "Type"), ["exec"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food -f"]);
        // A stop that stops nothing: the program is a one-off command.
        let c = unit(&format!("{LIB}do_stop() {{ return 0; }}\n"));
        assert_eq!(get(&c, "Type"), ["oneshot"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food $DAEMON_ARGS"]);
    }

    #[test]
    fn a_conditional_change_is_not_guessed_but_a_fallback_value_is_taken() {
        let c = unit(&SSD.replace(
            "PIDFILE=/run/$NAME.pid",
            "PIDFILE=$(awk '/pid/' /etc/foo.conf)\n[ -n \"$PIDFILE\" ] || PIDFILE=/run/foo.pid",
        ));
        assert_eq!(get(&c, "PIDFile"), ["/run/foo.pid"]);
        let c = unit(&SSD.replace(
            "NAME=foo\n",
            "NAME=foo\nOPTS=-a\nif [ -f /x ]; then OPTS=\"$OPTS -b\"; fi\nif [ -n \"$2\" ]; then OPTS=\"$OPTS $2\"; fi\n",
        ).replace("-c /etc/foo.conf", "$OPTS"));
        assert!(!c.native);
        assert!(
            c.warnings[0].contains("$OPTS is changed under a condition (line 14)"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn a_program_the_stop_action_never_stops_is_a_oneshot() {
        let c = unit(&SSD.replace(
            "  stop) start-stop-daemon --stop --quiet --pidfile $PIDFILE ;;",
            "  stop) ;;",
        ));
        assert_eq!(get(&c, "Type"), ["oneshot"]);
        assert_eq!(get(&c, "RemainAfterExit"), ["yes"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food -c /etc/foo.conf"]);
        assert!(get(&c, "PIDFile").is_empty());
    }

    #[test]
    fn a_defaults_file_sourced_in_the_start_function() {
        let c = unit(
            "DAEMON=/usr/sbin/food\ndo_start() {\n  [ -r /etc/default/food ] && . /etc/default/food\n  \
             start-stop-daemon --start --pidfile /run/food.pid --exec $DAEMON -- $FOOD_OPTS\n}\n\
             case \"$1\" in start) do_start ;; stop) start-stop-daemon --stop --pidfile /run/food.pid ;; esac\n",
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(get(&c, "EnvironmentFile"), ["-/etc/default/food"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food $FOOD_OPTS"]);
    }

    #[test]
    fn defaults_set_in_the_functions_start_calls() {
        let c = unit(&SSD.replace(
            "NAME=foo\n",
            "NAME=foo\n. /etc/default/foo\nprepare() {\n  [ -z \"$OPTS\" ] && OPTS=\"-x 1\"\n  ARGS=\"$OPTS -y\"\n}\n",
        )
        .replace("  start) ", "  start) prepare; ")
        .replace("-c /etc/foo.conf", "$ARGS"));
        assert!(c.native, "{:?}", c.warnings);
        assert_eq!(get(&c, "Environment"), ["\"OPTS=-x 1\""]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/food $OPTS -y"]);
    }

    #[test]
    fn quoting_for_systemd() {
        let c = unit(&SSD.replace(
            "-c /etc/foo.conf",
            "-g 'daemon on; pid %p;' \"a\\\"b\" '$HOME' ''",
        ));
        assert_eq!(
            get(&c, "ExecStart"),
            [r#"/usr/sbin/food -g "daemon on; pid %%p;" "a\"b" $$HOME """#]
        );
    }

    #[test]
    fn environment_defaults_are_quoted_for_systemd() {
        let c = unit(
            &SSD.replace(
                "NAME=foo\n",
                "NAME=foo\nARGS='-x a\\b \"c\" 50%'\n. /etc/default/foo\n",
            )
            .replace("-c /etc/foo.conf", "$ARGS"),
        );
        assert_eq!(get(&c, "Environment"), [r#""ARGS=-x a\\b \"c\" 50%%""#]);
    }

    #[test]
    fn a_script_that_leaves_nothing_running_is_a_oneshot() {
        let c = unit("case \"$1\" in start) modprobe foo; mount -a -O _netdev ;; stop) umount -a -O _netdev ;; esac\necho \"Usage: foo {start|stop|reload}\"\n");
        assert!(c.native && c.warnings.is_empty());
        assert_eq!(get(&c, "Type"), ["oneshot"]);
        assert_eq!(get(&c, "RemainAfterExit"), ["yes"]);
        assert_eq!(get(&c, "ExecStart"), ["/etc/init.d/foo start"]);
        assert_eq!(get(&c, "ExecStop"), ["/etc/init.d/foo stop"]);
        assert_eq!(get(&c, "ExecReload"), ["/etc/init.d/foo reload"]);
    }

    /// Each fallback: the generator's wrapper, and the reason.
    #[test]
    fn too_clever_bodies_fall_back_to_the_wrapper() {
        for (body, why) in [
            ("for c in /etc/foo/*.conf; do start-stop-daemon --start --exec /usr/sbin/food -- $c; done\n", "in a loop"),
            ("start-stop-daemon --start --exec /usr/sbin/a\nstart-stop-daemon --start --exec /usr/sbin/b\n", "several programs (/usr/sbin/a, /usr/sbin/b)"),
            ("case $1 in start) setsid /usr/sbin/food & ;; esac\n", "in the background by itself"),
            ("case $1 in start) $DAEMON start ;; stop) killproc food ;; esac\n", "runs no start-stop-daemon"),
            ("start-stop-daemon --start --exec food\n", "not an absolute path"),
            ("start-stop-daemon --start --exec '/usr/sbin/my food'\n", "`/usr/sbin/my food` is not an absolute path without blanks"),
            ("case $1 in start) su - app -c '/opt/app/server &' ;; stop) pkill -u app server ;; esac\n", "runs no start-stop-daemon"),
            ("start-stop-daemon --start --exec $DAEMON\n", "is empty here"),
            ("D=$(which food)\nstart-stop-daemon --start --exec $D\n", "runs a command"),
            ("f() { A=$1; }\nstart-stop-daemon --start --exec /usr/sbin/food -- $A\n", "`$1` needs the script's arguments"),
            (". /etc/default/foo\nstart-stop-daemon --start --exec $DAEMON\n", "set only by the defaults file"),
            ("start-stop-daemon --start --exec /usr/sbin/food -- ${X##*/}\n", "transforms $X"),
            ("run() { start-stop-daemon --start --exec /usr/sbin/food -- \"$1\"; }\ncase $1 in start) run -4; run -6 ;; esac\n", "line 12: run() starts a program and the start action calls it 2 times (one daemon per call?)"),
        ] {
            let c = unit(&format!("{body}echo \"Usage: foo {{start|stop|reload}}\"\n"));
            assert!(!c.native, "{body}");
            assert!(c.warnings.iter().any(|w| w.contains(why) && w.contains("wrapper unit")), "{body}: {:?}", c.warnings);
            for line in ["Type=forking", "RemainAfterExit=yes", "KillMode=process", "GuessMainPID=no", "SuccessExitStatus=5 6", "ExecStart=/etc/init.d/foo start", "ExecStop=/etc/init.d/foo stop", "ExecReload=/etc/init.d/foo reload"] {
                assert!(c.text.lines().any(|l| l == line), "{body}: no {line} in\n{}", c.text);
            }
        }
    }

    #[test]
    fn the_wrapper_keeps_a_redhat_pidfile_line() {
        let c = convert(
            "/x/foo",
            "foo",
            b"# pidfile: /var/run/foo.pid\ncase $1 in start) $D ;; stop) killproc foo ;; esac\n",
        )
        .unwrap();
        assert_eq!(get(&c, "PIDFile"), ["/var/run/foo.pid"]);
        assert_eq!(get(&c, "RemainAfterExit"), ["no"]);
    }

    /// A script that lets PROGRAM fork, with ARGS; reload sends HUP.
    fn forking(program: &str, args: &str) -> String {
        format!(
            "PIDFILE=/run/d.pid
case \"$1\" in
  start) start-stop-daemon --start --quiet --pidfile $PIDFILE --exec {program} -- {args} ;;
  stop) start-stop-daemon --stop --quiet --pidfile $PIDFILE ;;
  reload) start-stop-daemon --stop --signal HUP --quiet --pidfile $PIDFILE ;;
esac
"
        )
    }

    fn knowing(body: &str, knowledge: &Knowledge) -> Converted {
        let none = |_: &str| Err("not here".to_owned());
        convert_knowing(
            "/etc/init.d/foo",
            "foo",
            format!("{HEAD}{body}").as_bytes(),
            &none,
            knowledge,
        )
        .unwrap()
    }

    #[test]
    fn a_known_daemon_runs_in_the_foreground_with_its_own_flag() {
        let c = unit(&forking("/usr/sbin/sshd", "-o X=1"));
        assert_eq!(get(&c, "Type"), ["exec"]);
        assert!(get(&c, "PIDFile").is_empty(), "{}", c.text);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/sshd -D -o X=1"]);
        assert_eq!(get(&c, "ExecReload"), ["/bin/kill -HUP $MAINPID"]);
        assert!(
            c.text.contains(
                "# `-D` keeps sshd in the foreground (lsb-status's table of known daemons)\n"
            ),
            "{}",
            c.text
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        // Without the table: the script's own reading.
        let plain = Knowledge {
            table: false,
            user: Vec::new(),
        };
        let c = knowing(&forking("/usr/sbin/sshd", "-o X=1"), &plain);
        assert_eq!(get(&c, "Type"), ["forking"]);
        assert_eq!(get(&c, "PIDFile"), ["/run/d.pid"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/sshd -o X=1"]);
        // A program the table does not know stays as the script runs it.
        let c = unit(&forking("/usr/sbin/food", "-o X=1"));
        assert_eq!(get(&c, "Type"), ["forking"]);
        assert_eq!(get(&c, "PIDFile"), ["/run/d.pid"]);
    }

    #[test]
    fn the_scripts_daemonize_flag_is_dropped_and_the_modes_reload_kept() {
        let c = unit(&forking(
            "/usr/sbin/haproxy",
            "-f /etc/h.cfg -D -p $PIDFILE",
        ));
        assert_eq!(get(&c, "Type"), ["exec"]);
        assert_eq!(
            get(&c, "ExecStart"),
            ["/usr/sbin/haproxy -Ws -f /etc/h.cfg -p /run/d.pid"]
        );
        // haproxy -Ws reloads on USR2, whatever the script did.
        assert_eq!(get(&c, "ExecReload"), ["/bin/kill -USR2 $MAINPID"]);
        assert!(
            c.text.contains("the script's `-D` (daemonize) dropped"),
            "{}",
            c.text
        );
        // Only dropping: memcached is in the foreground without its -d.
        let c = unit(&forking("/usr/bin/memcached", "-d -m 64"));
        assert_eq!(get(&c, "ExecStart"), ["/usr/bin/memcached -m 64"]);
        assert_eq!(get(&c, "Type"), ["exec"]);
        // No -d to drop: it daemonizes some other way; left as it is.
        let c = unit(&forking("/usr/bin/memcached", "$OPTS -m 64"));
        assert_eq!(get(&c, "Type"), ["forking"]);
        // `--daemon=yes` (smbd would get --foreground too): not guessed.
        let c = unit(&forking("/usr/sbin/smbd", "--daemon=yes"));
        assert_eq!(get(&c, "Type"), ["forking"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/smbd --daemon=yes"]);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("`--daemon=yes` asks smbd to daemonize")),
            "{:?}",
            c.warnings
        );
        // `-dp 11211`: -d among others, not guessed either.
        let c = unit(&forking("/usr/bin/memcached", "-dp 11211"));
        assert_eq!(get(&c, "Type"), ["forking"]);
        // `-dv` may hold -d: not guessed, said.
        let c = unit(&forking("/usr/bin/memcached", "-dv"));
        assert_eq!(get(&c, "Type"), ["forking"]);
        assert_eq!(get(&c, "ExecStart"), ["/usr/bin/memcached -dv"]);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("`-dv` asks memcached to daemonize")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn flags_go_where_the_program_takes_them_and_only_for_its_daemon_mode() {
        // redis-server takes its configuration file first.
        let c = unit(&forking("/usr/bin/redis-server", "/etc/redis/redis.conf"));
        assert_eq!(
            get(&c, "ExecStart"),
            ["/usr/bin/redis-server /etc/redis/redis.conf --daemonize no"]
        );
        // rsync is a daemon only with --daemon.
        let c = unit(&forking("/usr/bin/rsync", "--daemon --config /etc/r.conf"));
        assert_eq!(
            get(&c, "ExecStart"),
            ["/usr/bin/rsync --no-detach --daemon --config /etc/r.conf"]
        );
        let c = unit(&forking("/usr/bin/rsync", "-a /x /y"));
        assert_eq!(get(&c, "Type"), ["forking"]);
        // The flag already there is not written twice.
        let c = unit(&forking("/usr/sbin/cron", "-f -l"));
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/cron -f -l"]);
        assert_eq!(get(&c, "Type"), ["exec"]);
    }

    #[test]
    fn a_users_foreground_flag_for_a_daemon_the_table_does_not_know() {
        let (program, flags) = foreground::parse_user("food=--no-fork").unwrap();
        let own = Knowledge {
            table: true,
            user: vec![(program, flags)],
        };
        let c = knowing(&forking("/usr/sbin/food", "-c /etc/food.conf"), &own);
        assert_eq!(get(&c, "Type"), ["exec"]);
        assert!(get(&c, "PIDFile").is_empty());
        assert_eq!(
            get(&c, "ExecStart"),
            ["/usr/sbin/food --no-fork -c /etc/food.conf"]
        );
        assert!(c.text.contains("(--foreground-flag)"), "{}", c.text);
        // It replaces the table's entry, even with the table off.
        let (program, flags) = foreground::parse_user("sshd=-D -e").unwrap();
        let own = Knowledge {
            table: false,
            user: vec![(program, flags)],
        };
        let c = knowing(&forking("/usr/sbin/sshd", ""), &own);
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/sshd -D -e"]);
    }

    #[test]
    fn a_known_network_server_is_ordered_after_the_network() {
        let head = "### BEGIN INIT INFO\n# Provides: foo\n# Required-Start: $remote_fs\n# Default-Start: 2 3 4 5\n### END INIT INFO\n";
        let after = |program: &str, args: &str| {
            let text = format!("{head}{}", forking(program, args));
            get(
                &convert("/etc/init.d/foo", "foo", text.as_bytes()).unwrap(),
                "After",
            )
        };
        assert_eq!(
            after("/usr/sbin/sshd", ""),
            ["remote-fs.target network.target"]
        );
        // Even when the script runs it in the foreground already.
        let text = format!(
            "{head}case $1 in start) start-stop-daemon --start --background --exec /usr/bin/rsync -- --daemon --no-detach ;; esac\n"
        );
        let c = convert("/etc/init.d/foo", "foo", text.as_bytes()).unwrap();
        assert_eq!(get(&c, "After"), ["remote-fs.target network.target"]);
        // Not a server (cron), not a daemon (rsync without --daemon), not known.
        assert_eq!(after("/usr/sbin/cron", ""), ["remote-fs.target"]);
        assert_eq!(after("/usr/bin/rsync", "-a /x /y"), ["remote-fs.target"]);
        assert_eq!(after("/usr/sbin/food", ""), ["remote-fs.target"]);
        // The header's own network ordering is kept as it is.
        let c = unit(&forking("/usr/sbin/sshd", ""));
        assert_eq!(get(&c, "After").len(), 1);
        assert!(
            !get(&c, "After")[0].contains(" network.target"),
            "{}",
            c.text
        );
    }

    #[test]
    fn a_network_server_that_helps_bring_the_network_up_is_not_also_after_it() {
        // Provides: $network orders it before network.target: after it too
        // would be an ordering cycle systemd breaks by dropping a job.
        let head = "### BEGIN INIT INFO\n# Provides: foo $network\n# Default-Start: 2 3 4 5\n### END INIT INFO\n";
        let text = format!("{head}{}", forking("/usr/sbin/dnsmasq", ""));
        let c = convert("/etc/init.d/foo", "foo", text.as_bytes()).unwrap();
        assert_eq!(get(&c, "Type"), ["exec"]);
        assert!(get(&c, "After").is_empty(), "{}", c.text);
        assert_eq!(get(&c, "Before"), ["network-online.target network.target"]);
        // Before network-online.target only (X-Start-Before: $network): no
        // cycle, and it still stops before the network goes down.
        let head = "### BEGIN INIT INFO\n# Provides: foo\n# X-Start-Before: $network\n# Default-Start: 2 3 4 5\n### END INIT INFO\n";
        let text = format!("{head}{}", forking("/usr/sbin/dnsmasq", ""));
        let c = convert("/etc/init.d/foo", "foo", text.as_bytes()).unwrap();
        assert_eq!(get(&c, "After"), ["network.target"]);
    }

    #[test]
    fn the_flags_own_option_with_another_value_or_one_it_cannot_go_with_keeps_the_scripts_reading()
    {
        for (program, args, word) in [
            // The script asks for the opposite: adding ours after it (or
            // taking it for ours) would leave a forking daemon under Type=exec.
            (
                "/usr/bin/redis-server",
                "/etc/redis.conf --daemonize yes",
                "--daemonize",
            ),
            ("/usr/bin/tor", "--runasdaemon 1", "--runasdaemon"),
            ("/usr/bin/tor", "RunAsDaemon 1", "RunAsDaemon"),
            ("/usr/sbin/clamd", "--foreground=no", "--foreground=no"),
            // ntpd(8): -n "must not appear in combination with" wait-sync.
            ("/usr/sbin/ntpd", "-g -w 30", "-w"),
            ("/usr/sbin/ntpd", "-g --wait-sync=30", "--wait-sync=30"),
            ("/usr/sbin/ntpd", "-gw30", "-gw30"),
            // varnishd(1): "Only one of -F or -d can be specified".
            ("/usr/sbin/varnishd", "-d -a :80", "-d"),
        ] {
            let c = unit(&forking(program, args));
            assert_eq!(get(&c, "Type"), ["forking"], "{program} {args}");
            assert_eq!(get(&c, "ExecStart"), [format!("{program} {args}")]);
            assert!(
                c.warnings
                    .iter()
                    .any(|w| w.contains(&format!("`{word}` cannot go with"))),
                "{program} {args}: {:?}",
                c.warnings
            );
        }
        // The flag as the table has it, given by the script: kept, not doubled.
        for (program, args) in [
            ("/usr/bin/redis-server", "/etc/redis.conf --daemonize no"),
            ("/usr/bin/tor", "--RunAsDaemon 0 -f /etc/tor/torrc"),
            ("/usr/sbin/ntpd", "-n -g"),
        ] {
            let c = unit(&forking(program, args));
            assert_eq!(get(&c, "Type"), ["exec"], "{program} {args}");
            assert_eq!(get(&c, "ExecStart"), [format!("{program} {args}")]);
        }
        // Another option that merely starts like it is no conflict.
        let c = unit(&forking("/usr/sbin/ntpd", "-g -N"));
        assert_eq!(get(&c, "ExecStart"), ["/usr/sbin/ntpd -n -g -N"]);
    }

    #[test]
    fn a_table_name_outside_the_systems_command_directories_may_be_another_program() {
        for program in [
            "/tmp/sshd",
            "/opt/acme/bin/memcached",
            "/usr/sbin/../../tmp/sshd",
        ] {
            let c = unit(&forking(program, "-d"));
            assert_eq!(get(&c, "Type"), ["forking"], "{program}");
            assert_eq!(get(&c, "ExecStart"), [format!("{program} -d")]);
            assert!(
                c.warnings
                    .iter()
                    .any(|w| w.contains("is not where the system installs")),
                "{program}: {:?}",
                c.warnings
            );
        }
        let c = unit(&forking("/usr/local/sbin/sshd", ""));
        assert_eq!(get(&c, "ExecStart"), ["/usr/local/sbin/sshd -D"]);
        // The user's own flag says which program it is.
        let (program, flags) = foreground::parse_user("sshd=-D").unwrap();
        let own = Knowledge {
            table: true,
            user: vec![(program, flags)],
        };
        let c = knowing(&forking("/tmp/sshd", ""), &own);
        assert_eq!(get(&c, "ExecStart"), ["/tmp/sshd -D"]);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        // Without the table nothing is said about it.
        let plain = Knowledge {
            table: false,
            user: Vec::new(),
        };
        assert!(knowing(&forking("/tmp/sshd", ""), &plain)
            .warnings
            .is_empty());
    }

    #[test]
    fn a_value_ending_in_a_backslash_never_takes_the_next_line_into_it() {
        // systemd joins a line ending in `\` with the next: `User=a\` took
        // `ExecStart=` into the user name, `Description=x \` SourcePath=.
        let none = |_: &str| Err("not here".to_owned());
        let head = "### BEGIN INIT INFO\n# Provides: foo\n# Short-Description: Foo \\\n### END INIT INFO\n";
        let text = format!("{head}{}", forking("/usr/sbin/food", ""));
        let c = convert_with("/etc/init.d/foo", "foo", text.as_bytes(), &none).unwrap();
        assert_eq!(get(&c, "Description"), ["Foo"]);
        assert_eq!(get(&c, "SourcePath"), ["/etc/init.d/foo"]);
        let c = unit(&SSD.replace("--start --quiet", r"--start --chuid 'a\'"));
        assert!(!c.native, "{}", c.text);
        assert!(get(&c, "User").is_empty(), "{}", c.text);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains(r"--chuid `a\`: `a\` is not a user or group name")),
            "{:?}",
            c.warnings
        );
        for owner in [
            "'a\nExecStartPre=/bin/evil'",
            "food:'x y'",
            "'-d'",
            "'%n'",
            "'1a'",
        ] {
            let c = unit(&SSD.replace("--start --quiet", &format!("--start --chuid {owner}")));
            assert!(!c.native, "{owner}: {}", c.text);
            assert!(get(&c, "User").is_empty(), "{owner}: {}", c.text);
        }
        for owner in ["food", "_food", "food.bar", "food-1:adm", "105"] {
            let c = unit(&SSD.replace("--start --quiet", &format!("--start --chuid {owner}")));
            assert!(c.native, "{owner}: {:?}", c.warnings);
        }
        // Names systemd refuses as an executable ("special characters").
        for program in [
            r"'/usr/sbin/a\'",
            r#"'/usr/sbin/"q"'"#,
            "\"/usr/sbin/'q'\"",
            "'/usr/sbin/a$b'",
        ] {
            let c = unit(&SSD.replace("DAEMON=/usr/sbin/food", &format!("DAEMON={program}")));
            assert!(!c.native, "{program}: {}", c.text);
            assert!(
                c.warnings
                    .iter()
                    .any(|w| w.contains("without blanks, quotes, `\\` or `$`")),
                "{program}: {:?}",
                c.warnings
            );
        }
        // What has no other way out is refused, naming the line.
        let err = convert_with(
            "/etc/init.d/foo",
            "foo",
            format!(
                "{HEAD}{}",
                forking("/usr/sbin/food", "").replace("/run/d.pid", r"'/run/d\'")
            )
            .as_bytes(),
            &none,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r"cannot write `PIDFile=/run/d\`: a value ending in `\` would join the next line to it in systemd"
        );
        assert!(
            joins_next(r"a\") && joins_next(r"a\\\") && !joins_next(r"a\\") && !joins_next("a")
        );
    }

    #[test]
    fn the_wrapper_names_the_pid_file_the_script_starts_and_stops_by() {
        let script = |start: &str, stop: &str| {
            unit(&format!(
                "PIDFILE=/var/run/food.pid
OPTS=-a
if [ -f /x ]; then OPTS=\"$OPTS -b\"; fi
case \"$1\" in
  start) {start} ;;
  stop) {stop} ;;
esac
"
            ))
        };
        let start = "start-stop-daemon --start --pidfile $PIDFILE --exec /usr/sbin/food -- $OPTS";
        let c = script(start, "start-stop-daemon --stop --pidfile $PIDFILE");
        assert!(!c.native);
        assert_eq!(get(&c, "PIDFile"), ["/var/run/food.pid"]);
        assert_eq!(get(&c, "RemainAfterExit"), ["no"]);
        // Stopped some other way: the daemon may not write it.
        let c = script(start, "killall food");
        assert!(get(&c, "PIDFile").is_empty(), "{}", c.text);
        assert_eq!(get(&c, "RemainAfterExit"), ["yes"]);
        // Two launchers: which one is the daemon is not known.
        let two = format!("{start}; start-stop-daemon --start --exec /usr/sbin/other");
        let c = script(&two, "start-stop-daemon --stop --pidfile $PIDFILE");
        assert!(get(&c, "PIDFile").is_empty(), "{}", c.text);
    }

    #[test]
    fn names_and_unparsable_scripts_are_errors() {
        assert_eq!(unit_name("foo.sh").unwrap(), "foo.service");
        assert!(matches!(unit_name("a b"), Err(Error::Name(_))));
        assert!(matches!(unit_name(""), Err(Error::Name(_))));
        let err = convert("/x/foo", "foo", b"echo \"open\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: cannot read as shell: unterminated \" quote (or nested more than 64 deep)"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_script_converts_without_panic(text in "[ -~\n]{0,400}") {
            let _ = convert("/x/foo", "foo", text.as_bytes());
        }
    }
}
