//! `scripts/demo.sh`, what `make demo` runs: it must explain itself (each step
//! says what it shows and how long it took), print its environment once so a
//! pasted command works, show each standalone tool once, and leave nothing
//! running.

use std::process::Command;

use stackutils_scripts::{bin_dir, can_run, script};

#[test]
fn the_demo_explains_each_step_and_shows_each_tool_once() {
    let nginx = ["/usr/sbin/nginx", "/sbin/nginx"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if !can_run(nginx, "nginx is not installed (nginx-light)") {
        return;
    }
    let out = Command::new("bash")
        .arg(script("demo.sh"))
        .env("TARGET_DIR", bin_dir())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");

    // The environment, printed once, before the first step.
    let first_step = stdout.find("== 1. ").expect("numbered steps");
    for var in [
        "STACK_TMPDIR",
        "STACKUTILS_BIN",
        "PORTFIND_LEASE_DIR",
        "PATH",
    ] {
        let line = format!("  export {var}=");
        assert_eq!(
            stdout.matches(&line).count(),
            1,
            "{var} printed once:\n{stdout}"
        );
        assert!(
            stdout.find(&line).unwrap() < first_step,
            "{var} before the steps"
        );
    }

    // Every step: a numbered heading, a line saying what it shows, and its time.
    let steps = stdout.matches("\n== ").count();
    assert!(steps >= 10, "{steps} steps:\n{stdout}");
    for n in 1..=steps {
        let heading = stdout
            .find(&format!("\n== {n}. "))
            .unwrap_or_else(|| panic!("step {n} heading:\n{stdout}"));
        let explained = stdout[heading + 1..].lines().nth(1).unwrap_or("");
        assert!(
            explained.len() > 20,
            "step {n} says what it shows: {explained:?}"
        );
        assert!(
            stdout.contains(&format!("(step {n} took ")),
            "step {n} says how long it took:\n{stdout}"
        );
    }

    // Each standalone tool once, as a command that can be pasted.
    for t in [
        "portfind",
        "httpwait",
        "logwait",
        "pidwait",
        "lsb-status",
        "aoe-fstab",
    ] {
        let shown = stdout
            .lines()
            .filter(|l| l.starts_with(&format!("$ {t} ")))
            .count();
        assert_eq!(shown, 1, "`$ {t}` shown once:\n{stdout}");
    }
    assert!(stdout.trim_end().ends_with("all stopped."), "{stdout}");
}
