//! The `mount`/`umount` command lines: built as argv (never a shell string),
//! shown shell-quoted for `--dry-run`, and run with their error captured.

use std::borrow::Cow;
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

/// The command as a POSIX shell (dash included) needs it typed, on one
/// line. Printable text is single-quoted where needed; an argument holding a
/// control character or bytes that are not UTF-8 is produced by `printf`
/// with `\NNN` escapes, so that `sh` gives back exactly the same bytes and
/// the line itself stays printable.
pub fn render(argv: &[OsString]) -> String {
    argv.iter()
        .map(|arg| {
            arg.to_str()
                .filter(|text| matches!(cliutil::escape_controls(text), Cow::Borrowed(_)))
                .map_or_else(|| printf_quote(arg.as_bytes()), cliutil::shell_quote)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `"$(printf 'FORMAT')"`: a command substitution that prints the value.
/// It drops trailing newlines, so those follow as a quoted literal (the
/// only case where the command spans lines; exactness comes first).
fn printf_quote(value: &[u8]) -> String {
    let body_len = value.len() - value.iter().rev().take_while(|&&b| b == b'\n').count();
    let (body, newlines) = value.split_at(body_len);
    let mut out = String::new();
    if !body.is_empty() {
        out.push_str("\"$(printf '");
        for (i, &b) in body.iter().enumerate() {
            // Plain ASCII stays readable; everything else is an escape, so
            // the line is printable whatever the value holds. A leading `-`
            // would read as an option of printf.
            let plain = (b.is_ascii_graphic() || b == b' ') && !b"\\%'".contains(&b);
            if plain && !(i == 0 && b == b'-') {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "\\{b:03o}");
            }
        }
        out.push_str("')\"");
    }
    if !newlines.is_empty() {
        out.push('\'');
        out.push_str(&"\n".repeat(newlines.len()));
        out.push('\'');
    }
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

    /// The words `sh -c` gets from a rendered line, by running it through
    /// `printf '%s\0'`.
    fn words_in(shell: &str, line: &str) -> Vec<Vec<u8>> {
        let out = Command::new(shell)
            .arg("-c")
            .arg(format!("printf '%s\\0' {line}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {line}");
        let mut words: Vec<Vec<u8>> = out.stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        words.pop();
        words
    }

    #[test]
    fn raw_bytes_render_so_that_dash_gives_them_back() {
        let e = entry("src\\040\\377'\\134 /mnt/\\351t\\303\\251 tmpfs a\\012b\\011");
        let argv = mount_argv(&e);
        let line = render(&argv);
        assert_eq!(
            line,
            r#"mount -t tmpfs -o "$(printf 'a\012b\011')" -- "$(printf 'src \377\047\134')" "$(printf '/mnt/\351t\303\251')""#
        );
        // Every POSIX shell turns the printed words back into the same bytes.
        for shell in ["dash", "bash", "sh"] {
            let words = words_in(shell, &line);
            assert_eq!(words[4], b"a\nb\t");
            assert_eq!(words[6], b"src \xff'\\");
            assert_eq!(words[7], b"/mnt/\xe9t\xc3\xa9");
        }
    }

    #[test]
    fn odd_values_render_exactly() {
        for value in [
            &b"-o\x1b[2J"[..],
            b"%s%n\\x",
            b"tail\n\n",
            b"\n",
            b"\x01'\"$`\\",
            b"\xc2\x9b\x7f",
        ] {
            let argv = vec![OsString::from("echo"), OsStr::from_bytes(value).to_owned()];
            let line = render(&argv);
            assert!(
                !line.chars().any(|c| c.is_control() && c != '\n'),
                "{line:?}"
            );
            assert_eq!(
                words_in("dash", &line),
                [b"echo".to_vec(), value.to_vec()],
                "{line:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_render_so_that_dash_gives_them_back(
            value in proptest::collection::vec(1u8.., 1..24),
        ) {
            let argv = vec![OsString::from("x"), OsStr::from_bytes(&value).to_owned()];
            let line = render(&argv);
            proptest::prop_assert_eq!(&words_in("dash", &line)[1], &value, "{:?}", line);
        }
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
