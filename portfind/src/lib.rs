//! portfind: print free TCP ports, leased so that parallel callers never
//! receive the same one. See README.md.

pub mod check;
pub mod cli;
pub mod lease;
pub mod ports;

use std::io::Write;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use cliutil::Exit;

use crate::check::Checker;
use crate::cli::Cli;
use crate::lease::Leases;

/// Runs `portfind` with parsed arguments.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    let own = cli.lease_dir.is_none();
    let dir = cli.lease_dir.clone().unwrap_or_else(lease::default_dir);
    let now = SystemTime::now();
    let mut store = Leases::lock(&dir, own, now)?;
    if !cli.release.is_empty() {
        for port in &cli.release {
            store.release(*port);
        }
        store.save()?;
        return Ok(ExitCode::SUCCESS);
    }
    let checker = Checker::new(&cli.address, cli.udp)?;
    let leased = store.ports();
    // One flag a port: thousands of leases must not cost a scan per candidate.
    let mut taken = vec![false; 65536];
    for port in leased
        .iter()
        .copied()
        .chain(cli.exclude.iter().flatten().flat_map(|r| r.iter()))
    {
        taken[usize::from(port)] = true;
    }
    let mut candidates: Vec<u16> = cli
        .range
        .iter()
        .filter(|p| !taken[usize::from(*p)])
        .collect();
    let want = usize::from(cli.count);
    let ports = pick(&mut candidates, want, |p| checker.is_free(p));
    if ports.len() < want {
        return Err(Exit::failure(format!(
            "found {} of {want} free ports in {} ({} leased by other portfind runs; see --exclude, --range)",
            ports.len(),
            cli.range,
            leased.iter().filter(|p| cli.range.contains(**p)).count(),
        )));
    }
    let end = now + cli.lease;
    for port in &ports {
        store.grant(*port, end);
    }
    store.save()?;
    // Let go of the lock before printing: a reader that is slow to read
    // (or never reads) must not hold up every other portfind.
    drop(store);
    let (printed, failed) = print(&ports);
    if printed < ports.len() {
        // The reader has gone, or stdout is full: the ports it never got
        // are nobody's.
        let mut store = Leases::lock(&dir, own, SystemTime::now())?;
        for port in &ports[printed..] {
            store.release(*port);
        }
        store.save()?;
    }
    match failed {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Prints the ports, one a line; returns how many reached the reader (all
/// unless it closed the pipe) and the error that stopped the rest, if any.
fn print(ports: &[u16]) -> (usize, Option<std::io::Error>) {
    let mut out = cliutil::stdout();
    for (i, port) in ports.iter().enumerate() {
        // Line-buffered: each line is written (or found unwritable) here.
        if let Err(err) = writeln!(out, "{port}").and_then(|()| out.flush()) {
            return (i, Some(err));
        }
        if cliutil::stdout_closed() {
            return (i, None);
        }
    }
    (ports.len(), None)
}

/// Picks up to `want` candidates at random that pass `free`, testing each
/// at most once (a partial Fisher-Yates shuffle: no retries on a port
/// already found busy, and a small range is searched exhaustively).
pub fn pick(candidates: &mut [u16], want: usize, mut free: impl FnMut(u16) -> bool) -> Vec<u16> {
    let mut found = Vec::with_capacity(want);
    for i in 0..candidates.len() {
        if found.len() == want {
            break;
        }
        candidates.swap(i, fastrand::usize(i..candidates.len()));
        if free(candidates[i]) {
            found.push(candidates[i]);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_distinct_free_ports() {
        let mut candidates: Vec<u16> = (100..200).collect();
        let found = pick(&mut candidates, 10, |p| p % 2 == 0);
        assert_eq!(found.len(), 10);
        assert!(found.iter().all(|p| p % 2 == 0 && (100..200).contains(p)));
        let mut sorted = found.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
    }

    #[test]
    fn tests_each_port_once_and_stops_when_exhausted() {
        let mut candidates: Vec<u16> = (1..=20).collect();
        let mut tried = Vec::new();
        let found = pick(&mut candidates, 5, |p| {
            tried.push(p);
            p == 7
        });
        assert_eq!(found, vec![7]);
        tried.sort_unstable();
        assert_eq!(tried, (1..=20).collect::<Vec<_>>());
    }
}
