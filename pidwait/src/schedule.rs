//! Signal names and `--retry` schedules, in start-stop-daemon's syntax:
//! `TERM/10/KILL/5` sends TERM, waits up to 10 s, sends KILL, waits up to
//! 5 s. A lone timeout `5` means `SIGNAL/5/KILL/5` with `--signal`'s
//! signal. `forever` repeats the rest of the schedule until the process is
//! gone. Timeouts are durations (`500ms`, `10s`, a bare number is seconds);
//! a signal is a name (`TERM`, `SIGTERM`) or `-NUMBER`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::Signal;

/// Parses a signal: `TERM`, `SIGTERM`, `term`, `15` or `-15`.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let bare = text.strip_prefix('-').unwrap_or(text);
    let found = if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit()) {
        bare.parse::<i32>()
            .ok()
            .and_then(|n| Signal::try_from(n).ok())
    } else {
        let upper = bare.to_ascii_uppercase();
        let name = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        Signal::from_str(&name).ok()
    };
    found.ok_or_else(|| {
        format!("unknown signal '{text}': expected a name like TERM, KILL, HUP or a number like 15")
    })
}

/// A signal's short name: `TERM` for `SIGTERM`.
pub fn signal_name(signal: Signal) -> &'static str {
    let name = signal.as_str();
    name.strip_prefix("SIG").unwrap_or(name)
}

/// One item of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send this signal.
    Signal(Signal),
    /// Wait this long for the process to go.
    Wait(Duration),
    /// Repeat the steps after this one until the process is gone.
    Forever,
}

/// A checked list of steps: never empty, at most one `forever` with a wait
/// after it, and ending in a wait (so the last signal has time to work).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(Vec<Step>);

impl Schedule {
    /// Send `signal`, then wait up to `timeout`.
    pub fn once(signal: Signal, timeout: Duration) -> Self {
        Self(vec![Step::Signal(signal), Step::Wait(timeout)])
    }

    /// Parses a `--retry` value; `signal` is the one a lone timeout uses.
    pub fn parse(text: &str, signal: Signal) -> Result<Self, String> {
        let bad = |why: &str| {
            format!("invalid retry schedule '{text}': {why} (expected e.g. TERM/10/KILL/5 or 5)")
        };
        let items: Vec<&str> = text.split('/').collect();
        if let [single] = items[..] {
            let timeout = parse_timeout(single).map_err(|e| bad(&e))?;
            return Ok(Self(vec![
                Step::Signal(signal),
                Step::Wait(timeout),
                Step::Signal(Signal::SIGKILL),
                Step::Wait(timeout),
            ]));
        }
        let mut steps = Vec::with_capacity(items.len());
        for item in items {
            let step = if item == "forever" {
                Step::Forever
            } else if item.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                Step::Wait(parse_timeout(item).map_err(|e| bad(&e))?)
            } else if item.is_empty() {
                return Err(bad("empty item"));
            } else {
                Step::Signal(parse_signal(item).map_err(|e| bad(&e))?)
            };
            steps.push(step);
        }
        let forevers: Vec<usize> = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == Step::Forever)
            .map(|(i, _)| i)
            .collect();
        if forevers.len() > 1 {
            return Err(bad("'forever' may appear only once"));
        }
        if let Some(&at) = forevers.first() {
            if !steps[at..].iter().any(|s| matches!(s, Step::Wait(_))) {
                return Err(bad("'forever' must be followed by a timeout"));
            }
        }
        match steps.last() {
            Some(Step::Wait(_) | Step::Forever) => {}
            _ => {
                return Err(bad(
                    "it ends with a signal; add a timeout to wait for its effect",
                ))
            }
        }
        Ok(Self(steps))
    }

    /// The steps in order, `forever` included.
    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    /// Where to go after the last step: the index after `forever`, if any.
    pub fn repeat_from(&self) -> Option<usize> {
        self.0
            .iter()
            .position(|s| *s == Step::Forever)
            .map(|i| i + 1)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            match step {
                Step::Signal(s) => f.write_str(signal_name(*s))?,
                Step::Wait(d) => write!(f, "{}", humantime_like(*d))?,
                Step::Forever => f.write_str("forever")?,
            }
        }
        Ok(())
    }
}

/// `10s`, `500ms`, `1.5s`: short and exact enough for messages.
fn humantime_like(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    cliutil::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(n: u64) -> Step {
        Step::Wait(Duration::from_secs(n))
    }

    #[test]
    fn signals() {
        for text in ["TERM", "SIGTERM", "term", "15", "-15", "-TERM"] {
            assert_eq!(parse_signal(text), Ok(Signal::SIGTERM), "{text}");
        }
        assert_eq!(parse_signal("KILL"), Ok(Signal::SIGKILL));
        assert_eq!(signal_name(Signal::SIGHUP), "HUP");
        for bad in ["", "-", "FOO", "0", "99999", "SIG", "1.5"] {
            let err = parse_signal(bad).unwrap_err();
            assert!(err.contains("expected a name like TERM"), "{bad}: {err}");
        }
    }

    #[test]
    fn full_schedule() {
        let s = Schedule::parse("TERM/10/KILL/5", Signal::SIGTERM).unwrap();
        let want = [
            Step::Signal(Signal::SIGTERM),
            secs(10),
            Step::Signal(Signal::SIGKILL),
            secs(5),
        ];
        assert_eq!(s.steps(), want);
        assert_eq!(s.repeat_from(), None);
        assert_eq!(s.to_string(), "TERM/10s/KILL/5s");
    }

    #[test]
    fn lone_timeout_uses_the_given_signal_then_kill() {
        let s = Schedule::parse("5", Signal::SIGHUP).unwrap();
        assert_eq!(s.to_string(), "HUP/5s/KILL/5s");
        let s = Schedule::parse("250ms", Signal::SIGTERM).unwrap();
        assert_eq!(s.to_string(), "TERM/250ms/KILL/250ms");
    }

    #[test]
    fn forever_repeats_the_rest() {
        let s = Schedule::parse("TERM/1/forever/KILL/2", Signal::SIGTERM).unwrap();
        assert_eq!(s.repeat_from(), Some(3));
        assert_eq!(s.to_string(), "TERM/1s/forever/KILL/2s");
        let s = Schedule::parse("-9/500ms/HUP/1.5", Signal::SIGTERM).unwrap();
        assert_eq!(s.to_string(), "KILL/500ms/HUP/1.500s");
    }

    #[test]
    fn bad_schedules_say_what_is_expected() {
        for bad in [
            "",
            "TERM",
            "TERM/",
            "TERM//5",
            "TERM/5/KILL",
            "FOO/5",
            "TERM/5x",
            "TERM/-5s",
            "TERM/5/forever",
            "forever/TERM/5/forever/5",
            "x",
        ] {
            let err = Schedule::parse(bad, Signal::SIGTERM).unwrap_err();
            assert!(err.contains("expected e.g. TERM/10/KILL/5"), "{bad}: {err}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = Schedule::parse(&text, Signal::SIGTERM);
            let _ = parse_signal(&text);
        }

        #[test]
        fn parsed_schedules_end_in_a_wait(text in "(TERM|KILL|HUP|-9|[0-9]{1,2}|forever)(/(TERM|KILL|HUP|-9|[0-9]{1,2}|forever)){0,5}") {
            if let Ok(s) = Schedule::parse(&text, Signal::SIGTERM) {
                prop_assert!(matches!(s.steps().last(), Some(Step::Wait(_) | Step::Forever)));
            }
        }
    }
}
