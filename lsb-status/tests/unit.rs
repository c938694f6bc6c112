//! `lsb-status unit`: the command line, the corpus of real Debian init
//! scripts against their maintainers' units (and against what the real
//! systemd-sysv-generator writes), `systemd-analyze verify` on every unit,
//! and units that really start and stop what they control.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{assert_stderr_has, can_run, code, is_root, lsb_status, run, s, stderr, stdout};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/initd")
}

const GENERATOR: &str = "/lib/systemd/system-generators/systemd-sysv-generator";

/// The settings of a unit file: `Key` → values in order (continuation
/// lines joined, comments and section headers dropped).
fn settings(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut joined = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.starts_with('[') {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            joined.push_str(part);
            joined.push(' ');
            continue;
        }
        joined.push_str(line);
        if let Some((key, value)) = joined.split_once('=') {
            out.entry(key.trim().to_owned())
                .or_default()
                .push(value.trim().to_owned());
        }
        joined.clear();
    }
    out
}

/// The first word of an Exec line, its `-@:+!` prefixes cut.
fn program(exec: &str) -> String {
    let first = exec.split_whitespace().next().unwrap_or_default();
    first
        .trim_start_matches(['-', '@', ':', '+', '!'])
        .to_owned()
}

/// The fields that decide behaviour, each reduced to what it means:
/// Type by class (simple/exec/notify/idle all mean "the started process is
/// the daemon"), the program `ExecStart=` runs, `PIDFile=` (/var/run as
/// /run), the set of `EnvironmentFile=`s, `User=` (root = none), what
/// `ExecReload=` does
/// (a signal to the main process, or the program it runs), and whether the
/// unit is ordered after the network.
const FIELDS: [&str; 7] = [
    "Type",
    "ExecStart program",
    "PIDFile",
    "EnvironmentFile",
    "User",
    "ExecReload",
    "network ordering",
];

fn fields(text: &str) -> [String; 7] {
    let set = settings(text);
    let one = |key: &str| set.get(key).and_then(|v| v.last()).cloned();
    let none = || "-".to_owned();
    let kind = match one("Type").as_deref() {
        Some("forking") => "forking",
        Some("oneshot") => "oneshot",
        _ if one("ExecStart").is_none() => "-",
        _ => "foreground",
    };
    let pidfile = one("PIDFile").map_or_else(none, |p| match p.strip_prefix("/var/run/") {
        Some(rest) => format!("/run/{rest}"),
        None => p,
    });
    let mut env_files: Vec<String> = set
        .get("EnvironmentFile")
        .into_iter()
        .flatten()
        .map(|f| f.trim_start_matches('-').to_owned())
        .collect();
    env_files.sort();
    let user = one("User").filter(|u| u != "root").unwrap_or_else(none);
    let reloads = set.get("ExecReload").cloned().unwrap_or_default();
    let signal = reloads.iter().find_map(|r| {
        let words: Vec<&str> = r.split_whitespace().collect();
        match words[..] {
            [kill, sig, "$MAINPID"] if program(kill).ends_with("/kill") => {
                Some(format!("kill {}", sig.trim_start_matches('-')))
            }
            [kill, "-s", sig, "$MAINPID"] if program(kill).ends_with("/kill") => {
                Some(format!("kill {sig}"))
            }
            _ => None,
        }
    });
    let reload = signal
        .or_else(|| reloads.first().map(|r| program(r)))
        .unwrap_or_else(none);
    let after = set.get("After").map(|a| a.join(" ")).unwrap_or_default();
    let network = after
        .split_whitespace()
        .any(|t| t == "network.target" || t == "network-online.target");
    [
        kind.to_owned(),
        one("ExecStart").map_or_else(none, |e| program(&e)),
        pidfile,
        if env_files.is_empty() {
            none()
        } else {
            env_files.join(" ")
        },
        user,
        reload,
        if network { "after" } else { "-" }.to_owned(),
    ]
}

/// Runs the real generator on copies of `scripts`: NAME → unit text.
fn generator_units(scripts: &[PathBuf]) -> BTreeMap<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let init = tmp.path().join("init.d");
    for sub in ["init.d", "rc", "units", "normal", "early", "late"] {
        fs::create_dir(tmp.path().join(sub)).unwrap();
    }
    for script in scripts {
        let copy = init.join(script.file_name().unwrap());
        fs::copy(script, &copy).unwrap();
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Command::new(GENERATOR)
        .args(["normal", "early", "late"].map(|d| tmp.path().join(d)))
        .env("SYSTEMD_SYSVINIT_PATH", &init)
        .env("SYSTEMD_SYSVRCND_PATH", tmp.path().join("rc"))
        // No native unit may shadow a script.
        .env("SYSTEMD_UNIT_PATH", tmp.path().join("units"))
        .env("SYSTEMD_LOG_LEVEL", "err")
        .output()
        .unwrap();
    assert!(out.status.success(), "generator: {}", stderr(&out));
    let mut units = BTreeMap::new();
    for entry in fs::read_dir(tmp.path().join("late")).unwrap() {
        let path = entry.unwrap().path();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_file() {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            units.insert(name, fs::read_to_string(&path).unwrap());
        }
    }
    units
}

/// Verifies `unit` (file name `name`) with `systemd-analyze verify` in a
/// throw-away root: this machine's unit directory copied in, and a stub
/// executable at every path an Exec line runs (the corpus's programs are
/// not installed here). Any complaint at all counts as a failure: verify
/// only warns about some bad values (an unknown Type=) and still exits 0.
fn verify(root: &Path, name: &str, unit: &str) -> Result<(), String> {
    let units = root.join("usr/lib/systemd/system");
    if !units.exists() {
        fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
        let copied = Command::new("cp")
            .args(["-r", "/lib/systemd/system"])
            .arg(&units)
            .status()
            .unwrap();
        assert!(copied.success());
        fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    }
    let set = settings(unit);
    for key in ["ExecStart", "ExecStop", "ExecReload", "ExecStartPre"] {
        for exec in set.get(key).into_iter().flatten() {
            // As systemd reads it: quotes cut, `%%` unescaped (`$$` is
            // not, in the program's path).
            let path = program(exec).trim_matches('"').replace("%%", "%");
            if let Some(rel) = path.strip_prefix('/') {
                let stub = root.join(rel);
                fs::create_dir_all(stub.parent().unwrap()).unwrap();
                fs::write(&stub, "#!/bin/sh\n").unwrap();
                fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
    }
    let file = root.join("etc/systemd/system").join(name);
    fs::write(&file, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no", "--generators=no"])
        .arg(format!("--root={}", root.display()))
        .arg(&file)
        .output()
        .unwrap();
    let complaints = format!("{}{}", stdout(&out), stderr(&out));
    if out.status.success() && complaints.trim().is_empty() {
        Ok(())
    } else {
        Err(complaints)
    }
}

fn have_verify() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Fields (of 175) on which our units agree with the maintainers' today.
const AGREEMENT_FLOOR: usize = 129;
/// The same from the script alone (`--no-known-flags`).
const PLAIN_FLOOR: usize = 106;

/// Converts `scripts` with `lsb-status unit --output DIR` and `extra`
/// options: DIR.
fn our_units(scripts: &[PathBuf], extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = lsb_status();
    cmd.args(["unit", "--output", s(dir.path())])
        .args(extra)
        .args(scripts);
    let out = cmd.output().unwrap();
    // Fallbacks and guesses are warned about: exit 1, never 2.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    dir
}

/// The corpus comparison: a Markdown table and totals. When
/// `LSB_UNIT_REPORT` names a file, the report is written there (this is
/// what bench/lsb-unit.sh shows).
#[test]
fn corpus_agrees_with_the_maintainers_far_more_than_the_generator() {
    let corpus = corpus();
    let mut scripts: Vec<PathBuf> = fs::read_dir(corpus.join("scripts"))
        .expect("corpus ../shared/corpus/initd/scripts")
        .map(|e| e.unwrap().path())
        .collect();
    scripts.sort();
    assert_eq!(scripts.len(), 30);
    let ours = our_units(&scripts, &[]);
    let ours_dir = ours.path();
    // The script alone, without what the table knows of daemons.
    let plain = our_units(&scripts, &["--no-known-flags"]);
    let generator = if can_run(Path::new(GENERATOR).exists(), "no systemd-sysv-generator") {
        generator_units(&scripts)
    } else {
        BTreeMap::new()
    };
    let mut table = String::from("| script | fields agreeing: ours | generator | where ours differs (ours / maintainers') |\n|---|---|---|---|\n");
    let (mut ours_total, mut gen_total, mut compared) = (0, 0, 0);
    let mut per_field = [(0, 0); 7];
    let mut plain_total = 0;
    let mut plain_field = [0; 7];
    for script in &scripts {
        let name = script.file_name().unwrap().to_string_lossy().into_owned();
        let ours = fs::read_to_string(ours_dir.join(format!("{name}.service"))).unwrap();
        let Ok(theirs) = fs::read_to_string(corpus.join(format!("units/{name}.service"))) else {
            continue;
        };
        let (want, mine) = (fields(&theirs), fields(&ours));
        let bare =
            fields(&fs::read_to_string(plain.path().join(format!("{name}.service"))).unwrap());
        let gen = generator.get(&name).map(|g| fields(g));
        let mut ours_ok = 0;
        let mut gen_ok = 0;
        let mut differs = Vec::new();
        for i in 0..FIELDS.len() {
            compared += 1;
            if mine[i] == want[i] {
                ours_ok += 1;
                per_field[i].0 += 1;
            } else {
                differs.push(format!("{}: `{}` / `{}`", FIELDS[i], mine[i], want[i]));
            }
            if bare[i] == want[i] {
                plain_total += 1;
                plain_field[i] += 1;
            }
            if gen.as_ref().is_some_and(|g| g[i] == want[i]) {
                gen_ok += 1;
                per_field[i].1 += 1;
            }
        }
        ours_total += ours_ok;
        gen_total += gen_ok;
        // The scripts' own path reads as where they are installed.
        let here = corpus.join("scripts").canonicalize().unwrap();
        let _ = writeln!(
            table,
            "| {name} | {ours_ok}/7 | {gen_ok}/7 | {} |",
            differs
                .join("; ")
                .replace(&*here.to_string_lossy(), "/etc/init.d")
                .replace('|', "\\|")
        );
    }
    let pct = |n: usize| {
        f64::from(u32::try_from(n * 100).unwrap()) / f64::from(u32::try_from(compared).unwrap())
    };
    let mut report = table;
    report
        .push_str("\n| field | ours | ours, `--no-known-flags` | generator |\n|---|---|---|---|\n");
    let units = compared / FIELDS.len();
    for ((field, (o, g)), p) in FIELDS.iter().zip(per_field).zip(plain_field) {
        let _ = writeln!(
            report,
            "| {field} | {o}/{units} | {p}/{units} | {g}/{units} |"
        );
    }
    let _ = writeln!(
        report,
        "| **all** | **{ours_total}/{compared} ({:.0} %)** | **{plain_total}/{compared} ({:.0} %)** | **{gen_total}/{compared} ({:.0} %)** |",
        pct(ours_total),
        pct(plain_total),
        pct(gen_total)
    );
    if let Some(file) = std::env::var_os("LSB_UNIT_REPORT") {
        fs::write(file, &report).unwrap();
    }
    eprintln!("{report}");
    // What the reader reaches (129 of 175 fields, 74 %; 106 from the script
    // alone, --no-known-flags), measured again after every difference was
    // read against its script: a drop is a regression. The issue's goal,
    // 80 %, is not reached: the remaining differences are the maintainers'
    // own choices (dropped defaults files, other reloads, pid files kept in
    // the foreground, ordering) and the wrapper fallbacks; README sorts
    // all 46.
    assert!(
        ours_total >= AGREEMENT_FLOOR,
        "agreement {ours_total}/{compared} fell below {AGREEMENT_FLOOR}:\n{report}"
    );
    assert!(
        plain_total >= PLAIN_FLOOR,
        "agreement without the table {plain_total}/{compared} fell below {PLAIN_FLOOR}:\n{report}"
    );
    if !generator.is_empty() {
        assert!(
            ours_total >= gen_total + 20,
            "not clearly above the generator:\n{report}"
        );
    }
}

#[test]
fn every_unit_written_for_the_corpus_passes_systemd_analyze_verify() {
    if !can_run(have_verify(), "no systemd-analyze") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut native = 0;
    let project = ["aoe-init", "lsb-service"].map(project_script);
    let scripts = fs::read_dir(corpus().join("scripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .chain(project);
    for script in scripts {
        let out = run(&["unit", s(&script)]);
        assert!(code(&out) <= 1, "{}: {}", script.display(), stderr(&out));
        let unit = stdout(&out);
        native += usize::from(
            !unit
                .lines()
                .any(|l| l.starts_with("ExecStart=") && l.ends_with(" start")),
        );
        let name = format!("{}.service", script.file_name().unwrap().to_string_lossy());
        if let Err(why) = verify(root.path(), &name, &unit) {
            failures.push(format!("{name}: {why}\n{unit}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(native >= 19, "only {native} native units of 32");
}

/// Every setting the reader can write (process options, /run directory
/// mode and owner, stop timeout, signals) passes verify too.
#[test]
fn every_setting_the_reader_writes_passes_systemd_analyze_verify() {
    if !can_run(have_verify(), "no systemd-analyze") {
        return;
    }
    let script = CLEAN
        .replace(
            "  start) start-stop-daemon --start",
            "  start) mkdir -m 2775 /run/food; chown food:adm /run/food\n    \
             LANG=C.UTF-8 start-stop-daemon --start --chuid food --umask 007 --chdir /var/lib/food \
             --nicelevel -5 --iosched idle --procsched fifo:5 --chroot /srv/food \
             --background --output /var/log/food.log",
        )
        .replace(
            "--stop --pidfile /run/food.pid",
            "--stop --retry QUIT/5/TERM/5/KILL/5 --pidfile /run/food.pid",
        )
        .replace(
            "esac",
            "  reload) start-stop-daemon --stop --signal USR1 --pidfile /run/food.pid ;;\nesac",
        );
    let (_tmp, out) = convert("food", &script);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let unit = stdout(&out);
    for line in [
        "Type=exec",
        "Environment=\"LANG=C.UTF-8\"",
        "User=food",
        "UMask=0007",
        "WorkingDirectory=/var/lib/food",
        "Nice=-5",
        "IOSchedulingClass=idle",
        "CPUSchedulingPolicy=fifo",
        "CPUSchedulingPriority=5",
        "RootDirectory=/srv/food",
        "StandardOutput=append:/var/log/food.log",
        "RuntimeDirectory=food",
        "RuntimeDirectoryMode=2775",
        "ExecStartPre=+/bin/chown :adm /run/food",
        "KillSignal=SIGQUIT",
        "TimeoutStopSec=10",
        "ExecReload=/bin/kill -USR1 $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line} in\n{unit}");
    }
    let root = tempfile::tempdir().unwrap();
    assert_eq!(verify(root.path(), "food.service", &unit), Ok(()), "{unit}");
}

#[test]
fn a_network_server_that_provides_the_network_has_no_ordering_cycle() {
    if !can_run(have_verify(), "no systemd-analyze") {
        return;
    }
    // dnsmasq serves network clients (after network.target), but this
    // script provides $network (before it): both would be a cycle, which
    // verify reports ("Found ordering cycle").
    let script = CLEAN
        .replace(
            "# Provides:          food",
            "# Provides:          food $network",
        )
        .replace("# Required-Start:    $network\n", "")
        .replace("# Required-Stop:     $network\n", "")
        .replace("/usr/sbin/food", "/usr/sbin/dnsmasq");
    let (_tmp, out) = convert("food", &script);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let unit = stdout(&out);
    assert!(unit.contains("\nType=exec\n"), "{unit}");
    let root = tempfile::tempdir().unwrap();
    assert_eq!(verify(root.path(), "food.service", &unit), Ok(()), "{unit}");
}

#[test]
fn hostile_values_give_a_unit_verify_accepts_or_a_refusal_naming_the_script() {
    if !can_run(have_verify(), "no systemd-analyze") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let nasty = [
        "a\nExecStartPre=/bin/evil",
        r"a\",
        "%n%%",
        "$HOME",
        "'q'",
        "\"dq\"",
        ";",
        "-d",
        "[Unit]",
        "\r",
    ];
    for value in nasty {
        let quoted = format!("'{}'", value.replace('\'', r"'\''"));
        for (what, script) in [
            (
                "user",
                CLEAN.replace(
                    "--start --pidfile",
                    &format!("--start --chuid {quoted} --pidfile"),
                ),
            ),
            (
                "program",
                CLEAN.replace("/usr/sbin/food", &format!("/usr/sbin/x{quoted}")),
            ),
            (
                "pid file",
                CLEAN.replace("/run/food.pid", &format!("/run/x{quoted}")),
            ),
            (
                "description",
                CLEAN.replace(
                    "Short-Description: Food",
                    &format!("Short-Description: Food {}", value.replace('\n', " ")),
                ),
            ),
            (
                "argument",
                CLEAN.replace(
                    "--exec /usr/sbin/food",
                    &format!("--exec /usr/sbin/food -- {quoted}"),
                ),
            ),
        ] {
            let (_tmp, out) = convert("food", &script);
            if code(&out) == 2 {
                assert_stderr_has(&out, "/food: cannot write `");
                assert_eq!(stdout(&out), "", "{what} {value:?}");
                continue;
            }
            let unit = stdout(&out);
            assert_eq!(
                verify(root.path(), "food.service", &unit),
                Ok(()),
                "{what} {value:?}:\n{unit}"
            );
        }
    }
}

#[test]
fn verify_catches_what_it_should() {
    if !can_run(have_verify(), "no systemd-analyze") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let good = "[Service]\nType=forking\nPIDFile=/run/x.pid\nExecStart=/usr/sbin/x\n";
    assert_eq!(verify(root.path(), "x.service", good), Ok(()));
    for bad in [
        good.replace("forking", "forky"),
        good.replace("/usr/sbin/x", "/usr/sbin/x %z"),
        good.replace("PIDFile", "PidFile"),
    ] {
        assert!(verify(root.path(), "x.service", &bad).is_err(), "{bad}");
    }
}

/// A script in a temp dir, converted.
fn convert(name: &str, text: &str) -> (tempfile::TempDir, Output) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(name);
    fs::write(&file, text).unwrap();
    let out = run(&["unit", s(&file)]);
    (tmp, out)
}

const CLEAN: &str = "#!/bin/sh
### BEGIN INIT INFO
# Provides:          food
# Required-Start:    $network
# Required-Stop:     $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Food
### END INIT INFO
case \"$1\" in
  start) start-stop-daemon --start --pidfile /run/food.pid --exec /usr/sbin/food ;;
  stop) start-stop-daemon --stop --pidfile /run/food.pid ;;
esac
";

#[test]
fn exit_0_when_clean_1_with_warnings_2_when_unreadable() {
    let (tmp, out) = convert("food", CLEAN);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let unit = stdout(&out);
    let script = tmp.path().canonicalize().unwrap().join("food");
    assert!(
        unit.starts_with(&format!(
            "# food.service: written by lsb-status unit from {}\n[Unit]\nDescription=Food\n",
            script.display()
        )),
        "{unit}"
    );
    assert!(
        unit.contains("\nType=forking\nPIDFile=/run/food.pid\nExecStart=/usr/sbin/food\n"),
        "{unit}"
    );
    let (_tmp, out) = convert(
        "food",
        &CLEAN.replace("--pidfile /run/food.pid --exec", "--exec"),
    );
    assert_eq!(code(&out), 1);
    assert_stderr_has(
        &out,
        "food: warning: no pid file: systemd guesses the main process",
    );
    assert!(stdout(&out).contains("Type=forking\n"));
    let (_tmp, out) = convert(
        "food",
        &CLEAN.replace("--exec /usr/sbin/food", "--exec $(which food)"),
    );
    assert_eq!(code(&out), 1);
    assert_stderr_has(
        &out,
        "line 11: `$(which food)` runs a command: wrote the generator's wrapper unit (ExecStart=",
    );
    let out = run(&["unit", "/nonexistent/food"]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "lsb-status: cannot read /nonexistent/food: ");
    assert_eq!(code(&run(&["unit"])), 2);
}

#[test]
fn known_flags_can_be_left_out_and_a_users_own_given() {
    let tmp = tempfile::tempdir().unwrap();
    let cron = tmp.path().join("cron");
    fs::write(&cron, CLEAN.replace("/usr/sbin/food", "/usr/sbin/cron")).unwrap();
    let food = tmp.path().join("food");
    fs::write(&food, CLEAN).unwrap();
    let out = run(&["unit", s(&cron), s(&food)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let units = stdout(&out);
    assert!(units.contains("\nType=exec\n"), "{units}");
    assert!(units.contains("\nExecStart=/usr/sbin/cron -f\n"), "{units}");
    assert!(units.contains("\nExecStart=/usr/sbin/food\n"), "{units}");
    // The script alone.
    let out = run(&["unit", "--no-known-flags", s(&cron)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\nType=forking\nPIDFile=/run/food.pid\nExecStart=/usr/sbin/cron\n"),
        "{}",
        stdout(&out)
    );
    // A flag for a daemon the table does not know (repeatable).
    let out = run(&[
        "unit",
        "--foreground-flag",
        "food=--no-fork -q",
        "--foreground-flag",
        "other=-f",
        s(&food),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\nType=exec\n# `--no-fork -q` keeps food in the foreground (--foreground-flag)\nExecStart=/usr/sbin/food --no-fork -q\n"),
        "{}",
        stdout(&out)
    );
    for bad in ["food", "/usr/sbin/food=-f", "food=no"] {
        let out = run(&["unit", "--foreground-flag", bad, s(&food)]);
        assert_eq!(code(&out), 2, "{bad}");
        assert_stderr_has(&out, "lsb-status: --foreground-flag '");
        assert_eq!(stdout(&out), "");
    }
}

#[test]
fn an_unparsable_script_is_2_and_the_others_are_still_written() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("bad"), "echo \"unterminated\n").unwrap();
    fs::write(tmp.path().join("good"), CLEAN).unwrap();
    fs::write(tmp.path().join("bad name"), CLEAN).unwrap();
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let out = run(&[
        "unit",
        "-o",
        s(&out_dir),
        s(&tmp.path().join("bad")),
        s(&tmp.path().join("bad name")),
        s(&tmp.path().join("good")),
    ]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(
        &out,
        "/bad: line 1: cannot read as shell: unterminated \" quote",
    );
    assert_stderr_has(&out, "cannot name a unit after 'bad name'");
    assert!(out_dir.join("good.service").is_file());
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 1);
}

#[test]
fn several_units_on_stdout_are_separated() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a", "b.sh"] {
        fs::write(tmp.path().join(name), CLEAN).unwrap();
    }
    let out = run(&[
        "unit",
        s(&tmp.path().join("a")),
        s(&tmp.path().join("b.sh")),
    ]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.starts_with("# a.service: "));
    assert!(text.contains("\n\n# b.service: "), "{text}");
}

#[test]
fn output_replaces_a_planted_symlink_and_never_writes_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("food");
    fs::write(&script, CLEAN).unwrap();
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let victim = tmp.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, out_dir.join("food.service")).unwrap();
    let out = run(&["unit", "--output", s(&out_dir), s(&script)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    let written = out_dir.join("food.service");
    assert!(!fs::symlink_metadata(&written)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&written)
        .unwrap()
        .contains("ExecStart=/usr/sbin/food"));
    assert_eq!(
        fs::read_dir(&out_dir).unwrap().count(),
        1,
        "a temporary file was left"
    );
    // A directory reached through a symlink, or not a directory, is refused.
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&out_dir, &link).unwrap();
    let out = run(&["unit", "--output", s(&link), s(&script)]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "is a symlink");
    let out = run(&["unit", "--output", s(&victim), s(&script)]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "is not a directory");
}

#[test]
fn output_refuses_another_users_directory() {
    if !can_run(is_root(), "needs root to chown a directory to nobody") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("food");
    fs::write(&script, CLEAN).unwrap();
    let theirs = tmp.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(super::NOBODY), Some(super::NOBODY)).unwrap();
    let out = run(&["unit", "--output", s(&theirs), s(&script)]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "is owned by uid 65534, neither root nor us (uid 0)");
    assert_eq!(fs::read_dir(&theirs).unwrap().count(), 0);
}

/// Splits an `Exec` line as systemd does: double quotes group, `\` escapes,
/// `$$` and `%%` are literal; `$NAME` alone splits the variable's value at
/// blanks, `${NAME}` puts it in as it is. `env` is what Environment= and
/// `EnvironmentFile=` gave.
fn systemd_argv(line: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut raw: Vec<(String, bool)> = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let mut word = String::new();
        let quoted = c == '"';
        if quoted {
            chars.next();
        }
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted => break,
                ' ' if !quoted => break,
                '\\' => word.push(chars.next().unwrap_or('\\')),
                c => word.push(c),
            }
        }
        raw.push((word, quoted));
    }
    let mut argv = Vec::new();
    for (word, quoted) in raw {
        let word = word.replace("%%", "%");
        if let Some(name) = word.strip_prefix('$').filter(|n| {
            !quoted && !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }) {
            let value = env.get(name).cloned().unwrap_or_default();
            argv.extend(value.split_whitespace().map(str::to_owned));
            continue;
        }
        let mut out = String::new();
        let mut rest = word.as_str();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                out.push('$');
                rest = after;
            } else if let Some(inner) = rest.strip_prefix('{') {
                let end = inner.find('}').unwrap();
                out.push_str(env.get(&inner[..end]).map_or("", String::as_str));
                rest = &inner[end + 1..];
            } else {
                out.push('$');
            }
        }
        out.push_str(rest);
        argv.push(out);
    }
    argv
}

/// `KEY=VALUE` lines of an environment file, quotes taken off.
fn env_file(text: &str, env: &mut BTreeMap<String, String>) {
    for line in text.lines() {
        if let Some((key, value)) = line.trim().split_once('=') {
            if !key.starts_with('#') {
                let value = value.trim().trim_matches('"').trim_matches('\'');
                env.insert(key.trim().to_owned(), value.to_owned());
            }
        }
    }
}

/// systemd's part for one unit, in bash: start as the Type says, wait for
/// the main process (forking: the pid file names a live process; exec: the
/// started process), print `main=PID`, wait for a line on stdin, then stop:
/// `ExecStop` if there is one, then `KillSignal` to the main process, and wait
/// until it is gone (a zombie is gone). Waits are bounded (10 s). What
/// the unit's commands print goes to stderr, as to the journal.
const PLAYER: &str = r#"
set -u
type=$1 pidfile=$2 signal=$3 private_run=$4; shift 4
start=(); while [ "$1" != --stop-- ]; do start+=("$1"); shift; done; shift
stop=("$@")
if [ "$private_run" = yes ]; then mount -t tmpfs tmpfs /run || exit 9; fi
gone() { local s; s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0; [ "$s" = Z ]; }
until_true() { local i; for ((i = 0; i < 2000; i++)); do "$@" && return 0; sleep 0.005; done; return 1; }
live_pidfile() { [ -s "$pidfile" ] && ! gone "$(cat "$pidfile")"; }
main=
case $type in
  forking)
    "${start[@]}" >&2 || { echo "ExecStart failed: $?"; exit 10; }
    if [ -n "$pidfile" ]; then until_true live_pidfile || { echo "no pid file"; exit 11; }; main=$(cat "$pidfile"); fi ;;
  exec|simple) "${start[@]}" >&2 & main=$! ;;
  oneshot) "${start[@]}" >&2 || { echo "ExecStart failed: $?"; exit 10; } ;;
esac
echo "main=$main"
read -r _
for i in "${!stop[@]}"; do stop[i]=${stop[i]//\$MAINPID/$main}; done
if [ ${#stop[@]} -gt 0 ]; then "${stop[@]}" >&2 || { echo "ExecStop failed: $?"; exit 12; }; fi
if [ -n "$main" ]; then
  kill -s "$signal" "$main" 2>/dev/null
  until_true gone "$main" || { echo "main process $main still there"; exit 13; }
fi
echo stopped
"#;

/// A unit being played.
struct Played {
    child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    main: Option<u32>,
}

/// Starts `unit` as systemd would, with `env_files` standing in for the
/// unit's `EnvironmentFile=` paths and `extra` as a drop-in's `Environment=`.
fn play(
    unit: &str,
    env_files: &BTreeMap<&str, String>,
    extra: &[(&str, String)],
    private_run: bool,
) -> Played {
    use std::io::BufRead;
    let set = settings(unit);
    let one = |key: &str| {
        set.get(key)
            .and_then(|v| v.last())
            .cloned()
            .unwrap_or_default()
    };
    let mut env = BTreeMap::new();
    for line in set.get("Environment").into_iter().flatten() {
        env_file(line.trim_matches('"'), &mut env);
    }
    for file in set.get("EnvironmentFile").into_iter().flatten() {
        let path = file.trim_start_matches('-');
        if let Some(text) = env_files.get(path) {
            env_file(text, &mut env);
        }
    }
    for (key, value) in extra {
        env.insert((*key).to_owned(), value.clone());
    }
    let start = systemd_argv(&one("ExecStart"), &env);
    let stop = systemd_argv(&one("ExecStop"), &env);
    let signal = one("KillSignal");
    let signal = signal.strip_prefix("SIG").unwrap_or("TERM");
    let mut cmd = if private_run {
        let mut cmd = Command::new("unshare");
        cmd.args([
            "-m",
            "--propagation",
            "private",
            "bash",
            "-c",
            PLAYER,
            "player",
        ]);
        cmd
    } else {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", PLAYER, "player"]);
        cmd
    };
    cmd.arg(one("Type"))
        .arg(one("PIDFile"))
        .arg(signal)
        .arg(if private_run { "yes" } else { "no" })
        .args(&start)
        .arg("--stop--")
        .args(&stop)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(&env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let Some(main) = line.trim().strip_prefix("main=") else {
        use std::io::Read;
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("start failed: {line}\n{err}\n{unit}");
    };
    Played {
        child,
        stdout,
        main: main.parse().ok(),
    }
}

impl Played {
    /// Stops as systemd would; returns what the player said.
    fn stop(mut self) -> String {
        use std::io::{Read, Write};
        self.child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "stop failed ({status}): {rest}\n{err}");
        rest
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP GET to 127.0.0.1:PORT, its answer (or why there was none).
fn http_get(port: u16) -> Result<String, std::io::Error> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

fn unit_for(script: &Path) -> String {
    let out = run(&["unit", s(script)]);
    assert!(code(&out) <= 1, "{}", stderr(&out));
    stdout(&out)
}

/// The corpus's nginx script as a native unit (forking, `PIDFile=`, the
/// defaults file, KillSignal=SIGQUIT): started and stopped as systemd would,
/// the real nginx serves, then is gone with its workers. /run is private.
#[test]
fn the_corpus_nginx_unit_really_starts_and_stops_nginx() {
    if !can_run(
        Path::new("/usr/sbin/nginx").exists(),
        "no /usr/sbin/nginx (make test installs nginx-light)",
    ) || !can_run(is_root(), "needs root for a private /run")
    {
        return;
    }
    let unit = unit_for(&corpus().join("scripts/nginx"));
    assert!(
        unit.contains("Type=forking\nPIDFile=/run/nginx.pid\n"),
        "{unit}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().display();
    let port = free_port();
    let conf = tmp.path().join("nginx.conf");
    fs::write(
        &conf,
        format!(
            "pid /run/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n access_log off;\n \
             client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n \
             uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n \
             server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"from nginx\\n\"; }} }}\n}}\n"
        ),
    )
    .unwrap();
    let defaults = BTreeMap::from([(
        "/etc/default/nginx",
        format!("DAEMON_OPTS=\"-c {}\"\n", conf.display()),
    )]);
    let played = play(&unit, &defaults, &[], true);
    let main = played.main.expect("a main pid from the pid file");
    let exe = fs::read_link(format!("/proc/{main}/exe")).unwrap();
    assert_eq!(exe, Path::new("/usr/sbin/nginx"));
    let answer = http_get(port).unwrap();
    assert!(answer.ends_with("from nginx\n"), "{answer}");
    let workers: Vec<u32> = fs::read_to_string(format!("/proc/{main}/task/{main}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(!workers.is_empty(), "nginx has no workers");
    let said = played.stop();
    assert!(said.contains("stopped"), "{said}");
    assert!(http_get(port).is_err(), "nginx still answers");
    for pid in workers {
        let state = super::proc_state(pid);
        assert!(
            state.is_none() || state == Some('Z'),
            "worker {pid} still running"
        );
    }
}

/// A daemon the script lets fork (rsync, whose `--daemon` detaches),
/// converted with the table's flag: the started process itself is the
/// daemon (Type=exec), serves, and stops on systemd's signal.
#[test]
fn a_known_daemon_really_stays_in_the_foreground() {
    if !can_run(
        Path::new("/usr/bin/rsync").exists(),
        "no /usr/bin/rsync (make test installs rsync)",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("rsyncd-test");
    fs::write(
        &script,
        "#!/bin/sh
### BEGIN INIT INFO
# Provides:          rsyncd-test
# Default-Start:     2 3 4 5
### END INIT INFO
DAEMON=/usr/bin/rsync
PIDFILE=/run/rsyncd-test.pid
RSYNC_CONFIG=/etc/rsyncd.conf
[ -r /etc/default/rsyncd-test ] && . /etc/default/rsyncd-test
case \"$1\" in
  start) start-stop-daemon --start --quiet --pidfile $PIDFILE --exec $DAEMON -- --daemon --config \"$RSYNC_CONFIG\" ;;
  stop) start-stop-daemon --stop --quiet --pidfile $PIDFILE ;;
esac
",
    )
    .unwrap();
    let unit = unit_for(&script);
    assert!(
        unit.contains("Type=exec\n")
            && unit.contains(
                "\nExecStart=/usr/bin/rsync --no-detach --daemon --config ${RSYNC_CONFIG}\n"
            )
            && !unit.contains("PIDFile="),
        "{unit}"
    );
    let port = free_port();
    let d = tmp.path().display();
    let conf = tmp.path().join("rsyncd.conf");
    fs::write(
        &conf,
        format!(
            "port = {port}\naddress = 127.0.0.1\npid file = {d}/rsyncd.pid\nuse chroot = no\n\
             log file = {d}/rsyncd.log\n[m]\npath = {d}\n"
        ),
    )
    .unwrap();
    let defaults = BTreeMap::from([(
        "/etc/default/rsyncd-test",
        format!("RSYNC_CONFIG={}\n", conf.display()),
    )]);
    let played = play(&unit, &defaults, &[], false);
    let main = played.main.expect("the started process");
    // Wait (bounded) until it answers: rsync's greeting.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let greeting = loop {
        use std::io::Read;
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0; 64];
            let n = stream.read(&mut buf).unwrap_or(0);
            break String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rsync never listened on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(greeting.starts_with("@RSYNCD: "), "{greeting}");
    // The process systemd started is the daemon: no fork, its pid in the
    // daemon's own pid file.
    let exe = fs::read_link(format!("/proc/{main}/exe")).unwrap();
    assert_eq!(exe, Path::new("/usr/bin/rsync"));
    let written = fs::read_to_string(tmp.path().join("rsyncd.pid")).unwrap();
    assert_eq!(written.trim(), main.to_string());
    let said = played.stop();
    assert!(said.contains("stopped"), "{said}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "rsync still answers"
    );
}

fn project_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(name)
        .canonicalize()
        .unwrap()
}

fn standin(name: &str) -> String {
    project_script(&format!("tests/standins/{name}"))
        .display()
        .to_string()
}

fn built(tool: &str) -> bool {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    ["debug", "release"]
        .iter()
        .any(|p| target.join(p).join(tool).is_file())
}

/// scripts/aoe-init leaves nothing running (it loads a driver and mounts):
/// a oneshot that stays active, whose `ExecStart` mounts the fstab-aoe
/// entries and takes the lock, and whose `ExecStop` undoes both. The kernel
/// side is the scripts' tests' stand-ins (given as a drop-in would), the
/// mounts are real tmpfs mounts.
#[test]
fn the_project_aoe_init_unit_really_mounts_and_unmounts() {
    if !can_run(is_root(), "needs root to mount")
        || !can_run(
            built("aoe-fstab"),
            "aoe-fstab is not built (cargo build --workspace)",
        )
    {
        return;
    }
    let unit = unit_for(&project_script("aoe-init"));
    assert!(
        unit.contains("Type=oneshot\nRemainAfterExit=yes\n"),
        "{unit}"
    );
    let tmp = tempfile::Builder::new()
        .prefix("aoe-unit")
        .tempdir()
        .unwrap();
    let d = tmp.path().display().to_string();
    fs::create_dir_all(tmp.path().join("mnt/a")).unwrap();
    fs::write(
        tmp.path().join("fstab-aoe"),
        format!("{d}/etherd/e1.0  {d}/mnt/a  tmpfs  size=1m,_netdev  0 0\n"),
    )
    .unwrap();
    fs::write(tmp.path().join("default"), "AOE_IFLIST=\"eth0\"\n").unwrap();
    let drop_in = [
        ("MODPROBE", standin("aoe-modprobe.sh")),
        ("RMMOD", standin("aoe-rmmod.sh")),
        ("AOE_DISCOVER", standin("aoe-discover.sh")),
        ("AOE_STAT", standin("aoe-stat.sh")),
        ("AOE_VERSION", standin("aoe-version.sh")),
        ("ETHERD_DIR", format!("{d}/etherd")),
        ("PROC_MODULES", format!("{d}/modules")),
        ("FSTAB", format!("{d}/fstab-aoe")),
        ("DEFAULTS", format!("{d}/default")),
        ("LOCK_DIR", format!("{d}/lock")),
        ("AOE_LOG", format!("{d}/log")),
        ("AOE_DEVICES", "e1.0".to_owned()),
        ("DEVICE_TIMEOUT", "20s".to_owned()),
        ("MODULE_TIMEOUT", "20".to_owned()),
    ];
    let mounted = || {
        Command::new("mountpoint")
            .arg("-q")
            .arg(tmp.path().join("mnt/a"))
            .status()
            .unwrap()
            .success()
    };
    let played = play(&unit, &BTreeMap::new(), &drop_in, false);
    assert_eq!(played.main, None);
    let up = (mounted(), tmp.path().join("lock/aoe-init").exists());
    let said = played.stop();
    if mounted() {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(tmp.path().join("mnt/a"))
            .status();
    }
    assert_eq!(up, (true, true), "after ExecStart: mounted, locked");
    assert!(said.contains("stopped"), "{said}");
    assert!(!mounted(), "still mounted after ExecStop");
    assert!(!tmp.path().join("lock/aoe-init").exists());
}

/// scripts/lsb-service starts its daemon in the background itself (setsid
/// ... &): the generator's wrapper unit, whose `ExecStart` starts the real
/// daemon (it answers on its port) and whose `ExecStop` stops it.
#[test]
fn the_project_lsb_service_unit_really_starts_and_stops_its_daemon() {
    if !can_run(
        built("pidwait") && built("portwait"),
        "pidwait/portwait are not built (cargo build --workspace)",
    ) || !can_run(
        Command::new("python3").arg("-V").output().is_ok(),
        "no python3",
    ) {
        return;
    }
    let out = run(&["unit", s(&project_script("lsb-service"))]);
    assert_eq!(code(&out), 1);
    assert_stderr_has(
        &out,
        "in the background by itself: wrote the generator's wrapper unit",
    );
    let unit = stdout(&out);
    assert!(
        unit.contains("Type=forking\n") && unit.contains("RemainAfterExit=yes\n"),
        "{unit}"
    );
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let d = tmp.path().display().to_string();
    for sub in ["default", "run", "log", "lock"] {
        fs::create_dir(tmp.path().join(sub)).unwrap();
    }
    let port = free_port();
    fs::write(
        tmp.path().join("default/lsb-service"),
        format!(
            "DAEMON={}\nDAEMON_ARGS=\"--fork --port {port} --pidfile {d}/run/webd.pid\"\n\
             PIDFILE={d}/run/webd.pid\nLOGFILE={d}/log/webd.log\nLOCK_DIR={d}/lock\nPORT={port}\n",
            standin("lsb-daemon.py")
        ),
    )
    .unwrap();
    let drop_in = [("LSB_DEFAULTS_DIR", format!("{d}/default"))];
    let played = play(&unit, &BTreeMap::new(), &drop_in, false);
    let pid: u32 = fs::read_to_string(tmp.path().join("run/webd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let answer = http_get(port);
    let said = played.stop();
    assert!(
        answer.as_ref().is_ok_and(|a| a.ends_with("\r\n\r\nok\n")),
        "{answer:?}"
    );
    assert!(said.contains("stopped"), "{said}");
    assert!(http_get(port).is_err(), "the daemon still answers");
    let state = super::proc_state(pid);
    assert!(
        state.is_none() || state == Some('Z'),
        "daemon {pid} still running"
    );
}

/// `--output` on a full file system (a tiny tmpfs in a private mount
/// namespace): the real cause, no temporary file left, the old unit kept.
#[test]
fn output_on_a_full_disk_says_so_and_leaves_no_temporary_file() {
    if !can_run(is_root(), "needs root to mount a tmpfs") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("food");
    fs::write(&script, CLEAN).unwrap();
    let disk = tmp.path().join("disk");
    fs::create_dir(&disk).unwrap();
    let player = r#"
set -u
mount -t tmpfs -o size=8k,nr_inodes=16 tmpfs "$1" || exit 90
echo old >"$1/food.service"
head -c 1m /dev/zero >"$1/fill" 2>/dev/null
i=0
while : >"$1/f$i" 2>/dev/null; do i=$((i + 1)); done
"$2" unit --output "$1" "$3"; echo "code=$?"
cat "$1/food.service"
ls -A "$1" | grep -v '^f' || true
"#;
    let out = Command::new("unshare")
        .args([
            "-m",
            "--propagation",
            "private",
            "bash",
            "-c",
            player,
            "bash",
        ])
        .arg(&disk)
        .arg(env!("CARGO_BIN_EXE_lsb-status"))
        .arg(&script)
        .output()
        .unwrap();
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(text, "code=2\nold\n", "{err}");
    assert!(
        err.contains("cannot write ") && err.contains("No space left on device"),
        "{err}"
    );
}
