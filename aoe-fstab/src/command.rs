//! The `mount`/`umount` command lines: built as argv (never a shell string),
//! shown shell-quoted for `--dry-run`, and run with their error captured.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::fstab::Entry;

/// `mount -t TYPE [-o OPTIONS] -- SOURCE TARGET`. The `--` keeps a source
/// starting with `-` from being read as an option.
pub fn mount_argv(entry: &Entry) -> Vec<OsString> {
    let mut argv = vec![OsString::from("mount"), "-t".into(), bytes(&entry.fstype)];
    if let Some(options) = &entry.options {
        argv.push("-o".into());
        argv.push(bytes(options));
    }
    argv.extend(["--".into(), bytes(&entry.source), bytes(&entry.target)]);
    argv
}

/// `umount -- TARGET`.
pub fn umount_argv(entry: &Entry) -> Vec<OsString> {
    vec!["umount".into(), "--".into(), bytes(&entry.target)]
}

/// `mkdir -p -- TARGET`, what `--mkdir` does (shown by `--dry-run`).
pub fn mkdir_argv(target: &Path) -> Vec<OsString> {
    vec!["mkdir".into(), "-p".into(), "--".into(), target.into()]
}

fn bytes(value: &[u8]) -> OsString {
    OsStr::from_bytes(value).to_owned()
}

/// The command as a shell would need it typed, on one line.
pub fn render(argv: &[OsString]) -> String {
    argv.iter()
        .map(|arg| {
            arg.to_str()
                .filter(|text| !text.bytes().any(|b| b.is_ascii_control()))
                .map_or_else(|| ansi_c_quote(arg.as_bytes()), cliutil::shell_quote)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bytes that are not UTF-8 cannot be typed in single quotes, and a newline
/// there would split the command over lines: write them as `$'\NNN'` (bash,
/// zsh, ksh, busybox, dash >= 0.5.12), so that the printed command names
/// exactly the same file.
fn ansi_c_quote(value: &[u8]) -> String {
    let mut out = String::from("$'");
    for &b in value {
        if (b.is_ascii_graphic() || b == b' ') && b != b'\'' && b != b'\\' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "\\{b:03o}");
        }
    }
    out.push('\'');
    out
}

/// Finds a program on PATH once, before anything is run.
pub fn find(program: &str) -> anyhow::Result<PathBuf> {
    which::which(program).with_context(|| format!("cannot find `{program}` on PATH"))
}

/// Runs `argv` with `program` as argv\[0]'s executable. The child's stdout
/// goes to our stderr (stdout carries data only); its stderr is captured
/// and returned as the reason when it fails.
pub fn run(program: &Path, argv: &[OsString]) -> Result<(), String> {
    let stdout = io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| Stdio::null(), Stdio::from);
    let output = Command::new(program)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(reason(
        &output.stderr,
        &argv[0].to_string_lossy(),
        output.status,
    ))
}

/// The child's first message line (the next ones are hints such as "dmesg(1)
/// may have more information") without its `mount: ` prefix, or its status.
fn reason(stderr: &[u8], name: &str, status: std::process::ExitStatus) -> String {
    let text = String::from_utf8_lossy(stderr);
    let message = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| {
            line.strip_prefix(&format!("{name}: "))
                .unwrap_or(line)
                .to_owned()
        });
    message.unwrap_or_else(|| format!("{name} failed ({status})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fstab;

    fn entry(line: &str) -> Entry {
        fstab::parse(line.as_bytes()).entries.remove(0)
    }

    #[test]
    fn argv_is_exact() {
        let e = entry(r"/dev/etherd/e1.0 /mnt/a\040b ext4 rw,_netdev 0 0");
        assert_eq!(
            render(&mount_argv(&e)),
            "mount -t ext4 -o rw,_netdev -- /dev/etherd/e1.0 '/mnt/a b'"
        );
        assert_eq!(render(&umount_argv(&e)), "umount -- '/mnt/a b'");
        let e = entry("tmpfs /t tmpfs");
        assert_eq!(render(&mount_argv(&e)), "mount -t tmpfs -- tmpfs /t");
    }

    #[test]
    fn hostile_fields_stay_single_arguments() {
        let e = entry(r"$(touch\040/tmp/x) /t;rm\040-rf\040/ tmpfs -o\040remount");
        let argv = mount_argv(&e);
        assert_eq!(argv.len(), 8);
        assert_eq!(argv[4], "-o remount");
        assert_eq!(argv[6], "$(touch /tmp/x)");
        assert_eq!(
            render(&argv),
            "mount -t tmpfs -o '-o remount' -- '$(touch /tmp/x)' '/t;rm -rf /'"
        );
    }

    #[test]
    fn raw_bytes_render_so_that_bash_gives_them_back() {
        let e = entry("src\\040\\377'\\134 /mnt/\\351t\\303\\251 tmpfs a\\012b\\011");
        let argv = mount_argv(&e);
        let line = render(&argv);
        assert_eq!(
            line,
            r"mount -t tmpfs -o $'a\012b\011' -- $'src \377\047\134' $'/mnt/\351t\303\251'"
        );
        // The shell turns the printed words back into the very same bytes.
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("printf '%s\\0' {line}"))
            .output()
            .unwrap();
        let words: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
        assert_eq!(words[4], b"a\nb\t");
        assert_eq!(words[6], b"src \xff'\\");
        assert_eq!(words[7], b"/mnt/\xe9t\xc3\xa9");
    }

    #[test]
    fn reason_strips_the_tool_prefix() {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::ExitStatus::from_raw(32 << 8);
        assert_eq!(
            reason(
                b"mount: /x: unknown filesystem type 'nope'.\n",
                "mount",
                status
            ),
            "/x: unknown filesystem type 'nope'."
        );
        assert!(reason(b"", "mount", status).starts_with("mount failed ("));
    }
}
