//! Well-known daemons' own flags to stay in the foreground (and which of
//! them serve network clients).
//!
//! An init script lets a daemon fork (`Type=forking` + `PIDFile=`), but a
//! person writing its unit runs it in the foreground, where systemd knows
//! the process without a pid file. Keyed by the program's file name (never
//! by package or script). Each entry was read in the program's manual page
//! as Debian 12 ships it (the package, then the page; redis-server's page
//! names no options, its flag is the one Debian's own unit passes); a flag
//! that could not be confirmed there is not in the table. Left out on
//! purpose: nginx
//! (`-g 'daemon off;'`: a later `-g` from the defaults file replaces it, and
//! nginx would fork under a unit that expects it not to), nscd (two
//! programs of that name with different flags), collectd (its page says its
//! systemd support needs it to fork), bluetoothd and munin-node (no flag
//! confirmed), exim4 (`-bdf` is not in its Debian page).

/// How one program stays in the foreground.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    /// Words to add (each one argument).
    pub add: Vec<String>,
    /// After the script's arguments (the program takes a config file first)
    /// rather than before them.
    pub at_end: bool,
    /// The script's own words asking it to daemonize: dropped.
    pub drop: &'static [&'static str],
    /// Only when one of these is among the arguments (`rsync --daemon`):
    /// without it the program is no daemon.
    pub requires: &'static [&'static str],
    /// Options the flag cannot go with (`ntpd -n` and `-w`): when the
    /// script gives one, the daemon is left as the script runs it.
    pub conflicts: &'static [&'static str],
    /// The reload signal in this mode, when it replaces the script's reload.
    pub reload: Option<&'static str>,
    /// A server for network clients: ordered after `network.target`, so
    /// that at shutdown it stops (closing its clients' connections) before
    /// the network goes down (systemd.special(7)).
    pub serves: bool,
    /// Where the flags come from, for the unit's comment.
    pub from: &'static str,
}

/// (program, words to add, at end, words to drop, required words, reload,
/// serves network clients: what the DESCRIPTION of its page says it is,
/// a server that clients reach over the network).
type Entry = (
    &'static str,
    &'static [&'static str],
    bool,
    &'static [&'static str],
    &'static [&'static str],
    Option<&'static str>,
    bool,
);

const TABLE: &[Entry] = &[
    // acpid(8): "-f, --foreground: keeps acpid in the foreground by not forking".
    ("acpid", &["--foreground"], false, &[], &[], None, false),
    // atd(8): "-f Run atd in the foreground."
    ("atd", &["-f"], false, &[], &[], None, false),
    // avahi-daemon(8): "-D | --daemonize: Daemonize after startup." (else foreground)
    (
        "avahi-daemon",
        &[],
        false,
        &["-D", "--daemonize"],
        &[],
        None,
        false,
    ),
    // chronyd(8): "-n: the program will not detach itself from the terminal."
    ("chronyd", &["-n"], false, &[], &[], None, true),
    // clamd(8): "-F, --foreground: Run in foreground; do not daemonize."
    ("clamd", &["--foreground"], false, &[], &[], None, false),
    // cron(8) (Debian's): "-f Stay in foreground mode, don't daemonize."
    ("cron", &["-f"], false, &[], &[], None, false),
    // cupsd(8): "-f Run cupsd in the foreground".
    ("cupsd", &["-f"], false, &[], &[], None, true),
    // dbus-daemon(1): "--nofork: Force the message bus not to fork ... even if
    // the configuration file specifies that it should."
    (
        "dbus-daemon",
        &["--nofork"],
        false,
        &["--fork"],
        &[],
        None,
        false,
    ),
    // dhcpd(8): "-f Force dhcpd to run as a foreground process".
    ("dhcpd", &["-f"], false, &[], &[], None, true),
    // dnsmasq(8): "-k, --keep-in-foreground: Do not go into the background".
    (
        "dnsmasq",
        &["--keep-in-foreground"],
        false,
        &[],
        &[],
        None,
        true,
    ),
    // dovecot(1): "-F Run dovecot in foreground, do not daemonize."
    ("dovecot", &["-F"], false, &[], &[], None, true),
    // dropbear(8): "-F Don't fork into background."
    ("dropbear", &["-F"], false, &[], &[], None, true),
    // freshclam(1): "-F, --foreground: Don't fork into background (for use in
    // daemon mode)"; without -d it is a one-off update.
    (
        "freshclam",
        &["--foreground"],
        false,
        &[],
        &["-d", "--daemon"],
        None,
        false,
    ),
    // gpsd(8): "-N, --foreground: Don't daemonize; run in foreground."
    ("gpsd", &["-N"], false, &[], &[], None, false),
    // haproxy(1): "-D Start in daemon mode."; "-Ws: master-worker mode with
    // systemd notify support ... forces foreground"; "SIGUSR2: In
    // master-worker mode, reloads the configuration".
    ("haproxy", &["-Ws"], false, &["-D"], &[], Some("USR2"), true),
    // hostapd(8): "-B Run daemon in the background." (else foreground)
    ("hostapd", &[], false, &["-B"], &[], None, false),
    // in.tftpd(8): "--foreground, -L: Similar to --listen but do not detach";
    // without --listen it is started by inetd.
    (
        "in.tftpd",
        &["--foreground"],
        false,
        &[],
        &["--listen", "-l"],
        None,
        true,
    ),
    // inetd(8) (openbsd-inetd): "-i Makes the program not daemonize itself."
    ("inetd", &["-i"], false, &[], &[], None, true),
    // irqbalance(1): "-f, --foreground: run in the foreground".
    (
        "irqbalance",
        &["--foreground"],
        false,
        &[],
        &[],
        None,
        false,
    ),
    // keepalived(8): "-n, --dont-fork: ... run in the foreground."
    ("keepalived", &["--dont-fork"], false, &[], &[], None, true),
    // lighttpd(8): "-D Do not daemonize (go into background)."
    ("lighttpd", &["-D"], false, &[], &[], None, true),
    // memcached(1): "-d, --daemon: Run memcached as a daemon." (else foreground)
    (
        "memcached",
        &[],
        false,
        &["-d", "--daemon"],
        &[],
        None,
        true,
    ),
    // monit(1): "-I Do not run in background (needed to run from init)".
    ("monit", &["-I"], false, &[], &[], None, false),
    // mosquitto(8): "-d, --daemon: Run mosquitto in the background".
    (
        "mosquitto",
        &[],
        false,
        &["-d", "--daemon"],
        &[],
        None,
        true,
    ),
    // named(8): "-f This option runs the server in the foreground".
    ("named", &["-f"], false, &[], &[], None, true),
    // NetworkManager(8): "--no-daemon | -n: Do not daemonize."
    (
        "NetworkManager",
        &["--no-daemon"],
        false,
        &[],
        &[],
        None,
        false,
    ),
    // nmbd(8): "-F|--foreground: ... the main nmbd process to not daemonize";
    // "-D|--daemon: ... operate as a daemon".
    (
        "nmbd",
        &["--foreground"],
        false,
        &["-D", "--daemon"],
        &[],
        None,
        true,
    ),
    // nrpe(8): "-d = Run as a standalone daemon"; "-f = Don't fork() for
    // systemd, launchd, etc."
    ("nrpe", &["-f"], false, &["-d"], &[], None, true),
    // nsd(8): "-d Do not fork, stay in the foreground."
    ("nsd", &["-d"], false, &[], &[], None, true),
    // nslcd(8): "-n, --nofork: Do not fork or daemonise".
    ("nslcd", &["--nofork"], false, &[], &[], None, false),
    // ntpd(8) (ntp and ntpsec alike): "-n, --nofork: Do not fork."
    ("ntpd", &["-n"], false, &[], &[], None, true),
    // opendkim(8): "-f ... suppresses that behaviour so that it runs in the
    // foreground."
    ("opendkim", &["-f"], false, &[], &[], None, false),
    // postgrey(8): "-d, --daemonize: run in the background" (else foreground).
    (
        "postgrey",
        &[],
        false,
        &["-d", "--daemonize"],
        &[],
        None,
        true,
    ),
    // privoxy(8): "--no-daemon: Don't become a daemon"; options come before
    // the configuration file.
    ("privoxy", &["--no-daemon"], false, &[], &[], None, true),
    // proftpd(8): "-n,--nodaemon: ... does not background the process".
    ("proftpd", &["--nodaemon"], false, &[], &[], None, true),
    // redis-server(1) in Debian names only "redis-server configfile"; the
    // options after it (which override the file, whose Debian copy sets
    // `daemonize yes`) are in `redis-server --help` and in Debian's own
    // redis-server.service: "redis-server /etc/redis/redis.conf
    // --supervised systemd --daemonize no".
    (
        "redis-server",
        &["--daemonize", "no"],
        true,
        &[],
        &[],
        None,
        true,
    ),
    // rpcbind(8): "-f Do not fork and become a background process."
    ("rpcbind", &["-f"], false, &[], &[], None, true),
    // rsync(1), daemon options: "--no-detach do not detach from the parent".
    (
        "rsync",
        &["--no-detach"],
        false,
        &[],
        &["--daemon"],
        None,
        true,
    ),
    // rsyslogd(8): "-n Avoid auto-backgrounding."
    ("rsyslogd", &["-n"], false, &[], &[], None, false),
    // smartd(8): "-n, --no-fork: Do not fork into background".
    ("smartd", &["-n"], false, &[], &[], None, false),
    // smbd(8): "-F|--foreground: ... the main smbd process to not daemonize";
    // "-D|--daemon: ... operate as a daemon".
    (
        "smbd",
        &["--foreground"],
        false,
        &["-D", "--daemon"],
        &[],
        None,
        true,
    ),
    // snmpd(8): "-f Do not fork() from the calling shell."
    ("snmpd", &["-f"], false, &[], &[], None, true),
    // snmptrapd(8): "-f Do not fork() from the calling shell."
    ("snmptrapd", &["-f"], false, &[], &[], None, true),
    // spamd(8p): "-d, --daemonize: Detach from starting process and run in
    // background" (else foreground).
    ("spamd", &[], false, &["-d", "--daemonize"], &[], None, true),
    // squid(8): "--foreground: Parent process does not exit until its
    // children have finished." (not -N, "No daemon mode", which also runs
    // no worker kids: a config with `workers 4` would run one process).
    ("squid", &["--foreground"], false, &[], &[], None, true),
    // sshd(8): "-D When this option is specified, sshd will not detach and
    // does not become a daemon."
    ("sshd", &["-D"], false, &[], &[], None, true),
    // sssd(8): "-i,--interactive: Run in the foreground, don't become a
    // daemon."; "-D,--daemon: Become a daemon after starting up."
    (
        "sssd",
        &["--interactive"],
        false,
        &["-D", "--daemon"],
        &[],
        None,
        false,
    ),
    // supervisord(1): "-n, --nodaemon: Run supervisord in the foreground."
    ("supervisord", &["-n"], false, &[], &[], None, false),
    // tor(1): "RunAsDaemon 0|1: If 1, Tor forks and daemonizes"; any option
    // may be given on the command line as `--Option value`.
    ("tor", &["--RunAsDaemon", "0"], true, &[], &[], None, true),
    // ulogd(8): "-d, --daemon: fork ulogd into background" (else foreground).
    ("ulogd", &[], false, &["-d", "--daemon"], &[], None, false),
    // unbound(8): "-d Debug flag: do not fork into the background, but stay
    // attached to the console."
    ("unbound", &["-d"], false, &[], &[], None, true),
    // varnishd(1): "-F Do not fork, run in the foreground."
    ("varnishd", &["-F"], false, &[], &[], None, true),
    // varnishncsa(1): "-D Daemonize." (else foreground)
    ("varnishncsa", &[], false, &["-D"], &[], None, false),
    // wpa_supplicant(8): "-B Run daemon in the background." (else foreground)
    ("wpa_supplicant", &[], false, &["-B"], &[], None, false),
    // xinetd(8): "-dontfork: Tells xinetd to stay in the foreground".
    ("xinetd", &["-dontfork"], false, &[], &[], None, true),
    // zabbix_agentd(8): "-f, --foreground: Run Zabbix agent in foreground."
    (
        "zabbix_agentd",
        &["--foreground"],
        false,
        &[],
        &[],
        None,
        true,
    ),
];

/// Options a table entry's flag cannot go with, per its page.
const CONFLICTS: &[(&str, &[&str])] = &[
    // ntpd(8): "-n, --nofork ... must not appear in combination with any of
    // the following options: wait-sync" (`-w`, `--wait-sync`).
    ("ntpd", &["-w", "--wait-sync"]),
    // varnishd(1): "Only one of -F or -d can be specified, and -F cannot be
    // used together with -C."
    ("varnishd", &["-d", "-C"]),
];

/// Where distributions install the programs the table names: a program of
/// the same file name elsewhere (`/tmp/sshd`, `/opt/acme/bin/cron`) may be
/// another program, whose flags mean something else.
const SYSTEM_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
];

/// `program` (an absolute path) is in one of the system's command
/// directories, where the table's names mean the table's programs.
pub fn in_system_dir(program: &str) -> bool {
    program
        .rsplit_once('/')
        .is_some_and(|(dir, _)| SYSTEM_DIRS.contains(&dir))
}

/// The table's flags for a program (its file name).
pub fn known(program: &str) -> Option<Flags> {
    let name = program.rsplit('/').next().unwrap_or_default();
    TABLE
        .iter()
        .find(|e| e.0 == name)
        .map(|&(_, add, at_end, drop, requires, reload, serves)| Flags {
            add: add.iter().map(|w| (*w).to_owned()).collect(),
            at_end,
            drop,
            requires,
            conflicts: CONFLICTS.iter().find(|c| c.0 == name).map_or(&[], |c| c.1),
            reload,
            serves,
            from: "lsb-status's table of known daemons",
        })
}

/// A user's own `PROGRAM=FLAGS` (`--foreground-flag`), FLAGS split at
/// blanks, added before the script's arguments.
///
/// # Errors
/// What is wrong with `spec`, for a usage error.
pub fn parse_user(spec: &str) -> Result<(String, Flags), String> {
    let (program, flags) = spec.split_once('=').ok_or_else(|| {
        format!(
            "--foreground-flag '{}': expected PROGRAM=FLAGS (e.g. food=--no-fork)",
            crate::escape(spec)
        )
    })?;
    let words: Vec<String> = flags.split_whitespace().map(str::to_owned).collect();
    let valid_name =
        !program.is_empty() && !program.contains('/') && !program.contains(char::is_whitespace);
    if !valid_name || words.first().is_none_or(|w| !w.starts_with('-')) {
        return Err(format!(
            "--foreground-flag '{}': expected PROGRAM=FLAGS, PROGRAM a file name (no `/`) and FLAGS starting with `-`",
            crate::escape(spec)
        ));
    }
    Ok((
        program.to_owned(),
        Flags {
            add: words,
            at_end: false,
            drop: &[],
            requires: &[],
            conflicts: &[],
            reload: None,
            serves: false,
            from: "--foreground-flag",
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_keyed_by_file_name_and_sorted_without_duplicates() {
        for pair in TABLE.windows(2) {
            assert!(
                pair[0].0.to_lowercase() < pair[1].0.to_lowercase(),
                "{} {}",
                pair[0].0,
                pair[1].0
            );
        }
        for e in TABLE {
            assert!(!e.0.contains('/'));
            // Every entry does something: adds a flag or drops one.
            assert!(!e.1.is_empty() || !e.3.is_empty(), "{}", e.0);
        }
        assert_eq!(known("/usr/sbin/sshd").unwrap().add, ["-D"]);
        assert!(known("/usr/sbin/nginx").is_none());
        assert!(known("sshd.sh").is_none());
    }

    #[test]
    fn squid_keeps_its_master_and_workers_in_the_foreground() {
        // -N would run no worker kids at all.
        assert_eq!(known("/usr/sbin/squid").unwrap().add, ["--foreground"]);
    }

    #[test]
    fn conflicts_name_table_entries_and_the_system_dirs_are_exact() {
        for c in CONFLICTS {
            assert_eq!(known(c.0).unwrap().conflicts, c.1);
        }
        assert!(known("sshd").unwrap().conflicts.is_empty());
        for yes in ["/usr/sbin/sshd", "/sbin/rpcbind", "/usr/local/bin/tor"] {
            assert!(in_system_dir(yes), "{yes}");
        }
        for no in [
            "/tmp/sshd",
            "/usr/sbin/x/sshd",
            "/usr//sbin/sshd",
            "sshd",
            "/sshd",
        ] {
            assert!(!in_system_dir(no), "{no}");
        }
    }

    #[test]
    fn a_user_flag_is_program_equals_flags() {
        let (p, f) = parse_user("food=--no-fork --quiet").unwrap();
        assert_eq!(p, "food");
        assert_eq!(f.add, ["--no-fork", "--quiet"]);
        for bad in ["food", "=-f", "/usr/sbin/food=-f", "food=", "food=no"] {
            assert!(parse_user(bad).is_err(), "{bad}");
        }
    }
}
