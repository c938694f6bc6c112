//! pidwait as a user who may not look into another user's `/proc/PID`
//! (`/proc` mounted `hidepid=1`, in a mount namespace of the test's own):
//! a live process it cannot read is an error, never taken for gone.

use std::process::{Command, Stdio};

use crate::support::{can_run, parts, root, running, Proc};

#[test]
fn a_process_whose_proc_entry_is_refused_is_not_gone() {
    if !root() {
        return;
    }
    let target = Proc::sleeper();
    let script = "mount -t proc -o hidepid=1 proc /proc || exit 99; \
        exec setpriv --reuid 65534 --regid 65534 --clear-groups \"$0\" --exit --timeout 10s --pid \"$1\"";
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .arg(env!("CARGO_BIN_EXE_pidwait"))
        .arg(target.pid().to_string())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let (code, out, err) = parts(&out);
    if !can_run(code != Some(99), "cannot mount a hidepid=1 /proc here") {
        return;
    }
    assert_eq!((code, out.as_str()), (Some(2), ""), "{err}");
    assert_eq!(
        err,
        format!(
            "pidwait: checking pid {}: Operation not permitted (os error 1)\n",
            target.pid()
        )
    );
    assert!(running(target.pid()));
}
