//! Trying every URL until it answers as wanted, each in its own thread so a
//! slow one does not delay noticing the others.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::probe::{Failure, Probe};

/// Pauses after a refused connection: nobody listens yet, and asking again
/// costs a fraction of a millisecond, so look often.
const REFUSED_FIRST: Duration = Duration::from_millis(1);
const REFUSED_MAX: Duration = Duration::from_millis(10);
/// The first pause after any other failure (doubling up to `--interval`).
const OTHER_FIRST: Duration = Duration::from_millis(10);

pub struct Plan {
    pub probe: Probe,
    /// The whole wait ends then.
    pub deadline: Instant,
    pub try_timeout: Duration,
    pub interval: Duration,
    pub once: bool,
    pub verbose: bool,
}

/// Waits for every URL; returns the ones never ready with their last
/// failure, in the order given.
pub fn wait(plan: Plan, urls: &[String]) -> Vec<(String, Failure)> {
    let plan = Arc::new(plan);
    let threads: Vec<_> = urls
        .iter()
        .map(|url| {
            let (plan, url) = (plan.clone(), url.clone());
            thread::spawn(move || one(&plan, &url).map(|f| (url, f)))
        })
        .collect();
    threads
        .into_iter()
        .filter_map(|t| t.join().expect("a probe thread panicked"))
        .collect()
}

/// Tries `url` until it is ready (`None`) or the time is up (its last failure).
fn one(plan: &Plan, url: &str) -> Option<Failure> {
    let mut refused_pause = REFUSED_FIRST;
    let mut other_pause = OTHER_FIRST.min(plan.interval);
    let mut last: Option<Failure> = None;
    loop {
        let left = plan.deadline.saturating_duration_since(Instant::now());
        // Even with no time left a URL gets one try (as --timeout 0 means
        // "look once"), but never a try longer than what is left.
        let timeout = plan.try_timeout.min(left.max(Duration::from_millis(100)));
        let failure = match plan.probe.try_once(url, timeout) {
            Ok(()) => return None,
            Err(failure) => failure,
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
        last = Some(failure);
        let left = plan.deadline.saturating_duration_since(Instant::now());
        if plan.once || left.is_zero() {
            return last;
        }
        thread::sleep(pause.min(left));
    }
}
