//! Runs the real xtask and checks the man pages and completions it writes.

use std::fs;
use std::path::Path;
use std::process::Command;

const PAGES: [&str; 9] = [
    "portfind",
    "portwait",
    "stackutils-pidwait",
    "fixture-token",
    "db-reset",
    "lsb-status",
    "aoe-fstab",
    "httpwait",
    "logwait",
];

fn generate(what: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([what, dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xtask {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The text of section `name` of a page, up to the next `.SH`.
fn section<'a>(page: &'a str, name: &str) -> Option<&'a str> {
    let start = page
        .find(&format!(".SH {name}\n"))
        .or_else(|| page.find(&format!(".SH \"{name}\"\n")))?;
    let body = &page[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    Some(&body[..body.find("\n.SH ").map_or(body.len(), |e| e + 1)])
}

#[test]
fn every_tool_has_a_page_with_the_sections_a_reader_expects() {
    let dir = generate("man");
    for page in PAGES {
        let text = read(dir.path(), &format!("{page}.1"));
        // EXAMPLES come from the tool's README (a tool may not have one yet).
        let dir_name = if page == "stackutils-pidwait" {
            "pidwait"
        } else {
            page
        };
        let readme = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(dir_name)
            .join("README.md");
        let mut sections = vec![
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXIT STATUS",
            "SEE ALSO",
        ];
        if readme.exists() {
            sections.push("EXAMPLES");
        }
        for s in sections {
            assert!(
                section(&text, s).is_some_and(|b| !b.trim().is_empty()),
                "{page}.1 has no {s} section"
            );
        }
    }
    // procps owns pidwait.1.
    assert!(!dir.path().join("pidwait.1").exists());
    assert!(dir.path().join("lsb-status-run.1").exists());
    assert!(dir.path().join("aoe-fstab-mount.1").exists());
}

#[test]
fn synopsis_shows_option_values_and_the_trailing_command() {
    let dir = generate("man");
    let portwait = read(dir.path(), "portwait.1");
    let synopsis = section(&portwait, "SYNOPSIS").unwrap();
    assert!(
        synopsis.contains(r"[\fB\-t\fR|\fB\-\-timeout\fR \fIDURATION\fR]"),
        "{synopsis}"
    );
    assert!(synopsis.contains(r"\fITARGET\fR..."), "{synopsis}");
    assert!(
        synopsis.contains(r"[\fB\-\-\fR \fICMD\fR...]"),
        "{synopsis}"
    );
    let pidwait = read(dir.path(), "stackutils-pidwait.1");
    let synopsis = section(&pidwait, "SYNOPSIS").unwrap();
    assert!(
        synopsis.starts_with(r"\fBstackutils\-pidwait\fR (\fIFILE\fR | \fB\-\-pid\fR \fIPID\fR"),
        "{synopsis}"
    );
}

#[test]
fn targets_table_is_its_own_section_not_exit_status() {
    let dir = generate("man");
    let page = read(dir.path(), "portwait.1");
    let targets = section(&page, "TARGETS").expect("a TARGETS section");
    assert!(targets.contains("HOST:PORT"));
    let exit = section(&page, "EXIT STATUS").unwrap();
    assert!(!exit.contains("HOST:PORT"), "{exit}");
    assert!(exit.contains("0  every target is listening"), "{exit}");
}

#[test]
fn examples_are_the_readmes() {
    let dir = generate("man");
    let page = read(dir.path(), "portwait.1");
    let examples = section(&page, "EXAMPLES").unwrap();
    assert!(
        examples.contains(r"portwait \-t 1m db.example.org:5432"),
        "{examples}"
    );
    let page = read(dir.path(), "fixture-token.1");
    assert!(section(&page, "EXAMPLES")
        .unwrap()
        .contains(r"$ fixture\-token admin"));
}

#[test]
fn environment_lists_the_variables_each_tool_reads() {
    let dir = generate("man");
    for (page, vars) in [
        ("portfind", &["PORTFIND_LEASE_DIR", "PORTFIND_LEASE"][..]),
        ("fixture-token", &["ARVADOS_FIXTURES"][..]),
        (
            "db-reset",
            &[
                "ARVADOS_API_HOST",
                "ARVADOS_API_TOKEN",
                "ARVADOS_API_HOST_INSECURE",
            ][..],
        ),
    ] {
        let text = read(dir.path(), &format!("{page}.1"));
        let env =
            section(&text, "ENVIRONMENT").unwrap_or_else(|| panic!("{page}.1 has no ENVIRONMENT"));
        for var in vars {
            assert!(env.contains(var), "{page}.1 ENVIRONMENT lacks {var}");
        }
    }
}

#[test]
fn pidwait_see_also_explains_procps_pidwait() {
    let dir = generate("man");
    let page = read(dir.path(), "stackutils-pidwait.1");
    let see = section(&page, "SEE ALSO").unwrap();
    assert!(see.contains(r"\fBpidwait\fR(1)"));
    assert!(see.contains("procps"), "{see}");
    assert!(see.contains(r"stackutils\-pidwait"), "{see}");
}

#[test]
fn pages_render_without_warnings() {
    if Command::new("groff").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "groff is missing (Debian groff-base)"
        );
        eprintln!("SKIP: groff not installed");
        return;
    }
    let dir = generate("man");
    for entry in fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let out = Command::new("groff")
            .args(["-k", "-man", "-ww", "-z", "-Tutf8"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn completions_for_every_tool_and_stackutils_pidwait() {
    let dir = generate("completions");
    let names = [
        "portfind",
        "portwait",
        "pidwait",
        "stackutils-pidwait",
        "fixture-token",
        "db-reset",
        "lsb-status",
        "aoe-fstab",
        "httpwait",
        "logwait",
    ];
    for name in names {
        for file in [
            format!("{name}.bash"),
            format!("_{name}"),
            format!("{name}.fish"),
        ] {
            let text = read(dir.path(), &file);
            assert!(text.contains("help"), "{file} does not complete --help");
        }
        // bash loads it and registers the completion for that command name.
        let file = dir.path().join(format!("{name}.bash"));
        let out = Command::new("bash")
            .arg("-c")
            .arg(r#"source "$1" && complete -p "$2""#)
            .args(["bash", file.to_str().unwrap(), name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(read(dir.path(), "portwait.bash").contains("--timeout"));
    assert!(read(dir.path(), "_stackutils-pidwait").contains("#compdef stackutils-pidwait"));
}

/// The workspace's conventions hold for xtask too: a usage error is one
/// `xtask: ` line and exit 2, nothing on stdout; the directory it prints
/// (data) going to a closed pipe changes nothing (no panic, exit 0).
#[test]
fn usage_errors_and_a_closed_pipe_follow_the_conventions() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("man")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "xtask: usage: xtask man|completions DIR\n"
    );
    assert!(out.stdout.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["completions", dir.path().to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("portwait.bash").exists());
}
