//! Trying every URL until it answers as wanted, each in its own thread so a
//! slow one does not delay noticing the others.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use db_reset::http::{Listeners, FULL_EVERY};

use crate::probe::{Failure, Probe};

/// Pauses after a refused connection: nobody listens yet, and looking
/// whether someone does now costs microseconds (one question to the
/// kernel for a local address, a bare connect for another), so look often.
const REFUSED_FIRST: Duration = Duration::from_millis(1);
const REFUSED_MAX: Duration = Duration::from_millis(5);
/// The first pause after any other failure (doubling up to `--interval`).
const OTHER_FIRST: Duration = Duration::from_millis(10);
/// What a try gets at least, so that --timeout 0 still looks once.
const MIN_TRY: Duration = Duration::from_millis(100);

pub struct Plan {
    pub probe: Probe,
    /// The whole wait ends then.
    pub deadline: Instant,
    pub try_timeout: Duration,
    pub interval: Duration,
    pub once: bool,
    pub verbose: bool,
}

/// How long a try that starts now may take: --try-timeout, but not past
/// the deadline, and at least [`MIN_TRY`].
pub fn try_limit(deadline: Instant, try_timeout: Duration) -> Duration {
    try_timeout.min(
        deadline
            .saturating_duration_since(Instant::now())
            .max(MIN_TRY),
    )
}

/// Waits for every URL (each with its request body, if any); returns the
/// kept bodies of all if all were ready, else the ones never ready with
/// their last failure; both in the order given.
pub fn wait(
    plan: Plan,
    targets: &[(String, Option<String>)],
) -> Result<Vec<Vec<u8>>, Vec<(String, Failure)>> {
    let plan = Arc::new(plan);
    let threads: Vec<_> = targets
        .iter()
        .map(|(url, data)| {
            let (plan, url, data) = (plan.clone(), url.clone(), data.clone());
            thread::spawn(move || one(&plan, &url, data.as_deref()).map_err(|f| (url, f)))
        })
        .collect();
    let (bodies, failed): (Vec<_>, Vec<_>) = threads
        .into_iter()
        .map(|t| t.join().expect("a probe thread panicked"))
        .partition(Result::is_ok);
    if failed.is_empty() {
        Ok(bodies.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(failed.into_iter().filter_map(Result::err).collect())
    }
}

/// Tries `url` until it is ready (its kept body) or the time is up (its
/// last failure).
fn one(plan: &Plan, url: &str, data: Option<&str>) -> Result<Vec<u8>, Failure> {
    let mut listeners = Listeners::new(url);
    let mut refused_pause = REFUSED_FIRST;
    let mut other_pause = OTHER_FIRST.min(plan.interval);
    let mut last: Option<Failure> = None;
    let mut next_full = Instant::now();
    loop {
        let timeout = try_limit(plan.deadline, plan.try_timeout);
        // While refused, a cheap look tells whether anyone listens yet; the
        // whole request goes as soon as someone does.
        let failure = match last.clone().filter(Failure::refused) {
            Some(refused)
                if Instant::now() < next_full
                    && listeners.as_mut().is_some_and(|l| l.none(timeout)) =>
            {
                refused
            }
            _ => {
                next_full = Instant::now() + FULL_EVERY;
                match plan.probe.try_once(url, data, timeout) {
                    Ok(body) => return Ok(body),
                    Err(failure) => failure,
                }
            }
        };
        if plan.verbose && last.as_ref() != Some(&failure) {
            cliutil::warn("httpwait", format_args!("{url}: {failure}"));
        }
        let pause = if failure.refused() {
            let p = refused_pause;
            refused_pause = (refused_pause * 2).min(REFUSED_MAX.min(plan.interval));
            p
        } else {
            let p = other_pause;
            other_pause = (other_pause * 2).min(plan.interval);
            p
        };
        let left = plan.deadline.saturating_duration_since(Instant::now());
        if plan.once || left.is_zero() {
            return Err(failure);
        }
        last = Some(failure);
        thread::sleep(pause.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tries_end_by_the_deadline() {
        let now = Instant::now();
        let second = Duration::from_secs(1);
        assert_eq!(try_limit(now + 10 * second, second), second);
        assert!(try_limit(now + 2 * MIN_TRY, second) <= 2 * MIN_TRY);
        assert_eq!(try_limit(now, second), MIN_TRY);
    }
}
