#!/usr/bin/env bash
# Summarises `make mutants` (cargo-mutants, one output directory per file
# under target/mutants/) as Markdown on stdout: caught, missed, timed-out and
# unviable mutants per file, then every miss with why it is harmless (an
# equivalent mutant) or UNEXPLAINED. Without results there (a fresh checkout,
# `make bench`), prints the summary last kept in bench/results/mutants.md.
# Usage: bench/mutants.sh [RESULTS_DIR]    (default: target/mutants)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/mutants}

# Why a mutant no test catches changes nothing, keyed by "file: mutation"
# (no line or column, so a note survives edits elsewhere in the file).
pt=pidwait/src/pathtrust.rs pf=pidwait/src/pidfile.rs pr=pidwait/src/process.rs
declare -A why=(
  ["$pt: replace | with ^ in walk"]="equivalent: the OFlags are distinct bits, so a ^ b is a | b."
  ["$pt: replace | with ^ in look_up"]="equivalent: the OFlags are distinct bits, so a ^ b is a | b."
  ["$pf: replace | with ^ in read_flags"]="equivalent: RDONLY is 0 and the other OFlags distinct bits, so a ^ b is a | b."
  ["$pf: replace > with >= in parse_pid"]="equivalent: ten digits with no leading zero are at least 10^9, over any pid_max (at most 2^22): both give \"over pid_max\"."
  ["$pf: replace > with >= in pid_max"]="equivalent: the kernel refuses a pid_max under 301 (PID_MAX_MIN), so the value read is never 1."
  ["$pf: delete - in lease"]="equivalent: F_SETSIG on an open descriptor with a valid signal (SIGURG) cannot fail, so its -1 branch is never taken."
  ["$pr: replace -= with /= in truncate_comm"]="caught by the timeout: end stays 15 on a name cut inside a character, and the loop never ends."
  ["$pt: replace += with *= in walk"]="caught by the timeout where it was not failed: the link count stays 0, so a symlink loop is walked for ever."
  ["$pf: replace | with & in read_flags"]="where timed out: caught by the timeout, O_NONBLOCK is lost and the FIFO test blocks on open."
  ["$pf: replace match guard !late with true in load_with"]="detected by the timeout: a half line still written to is read again for ever, never given up on."
  ["$pf: replace && with || in parse"]="where timed out: detected, a complete line is taken for a half-written one and read_settled waits out its settle time (60 s in that run's test, 30 s since)."
  ["portwait/src/owner.rs: replace Owner::pidfd -> Option<&OwnedFd> with None"]="equivalent in outcome: the wait then sleeps its whole interval instead of waking when the owner exits; same result, later."
  ["portwait/src/owner.rs: delete ! in Owner::exited"]="not equivalent only where no test should pin the answer: with gone false, the /proc arm runs only when pidfd_open failed for another reason than ESRCH: no pidfds (before Linux 5.3), out of descriptors, or --pid naming a thread (EINVAL), which portwait follows through /proc today where pidwait refuses a thread id (reported, left alone). For an owner gone when held, gone || x is true with or without the !. (|| with && is caught: owner_reuse::an_owner_gone_at_the_start_is_not_looked_up_again_by_pid.)"
  ["portwait/src/owner.rs: replace * with / in wait_for_pidfile"]="equivalent in outcome: the pause between reads of a missing pidfile halves towards zero instead of doubling to MAX_PAUSE; the pidfile is read more often (more CPU until it is written or the deadline), with the same answers."
  ["pidwait/src/stop.rs: replace + with - in Targets::widen_to_group"]="equivalent in outcome: the first scan of the group for members comes at the first look instead of after 50 ms or once the leader is gone: one /proc scan more, the same members held and waited for."
  ["pidwait/src/stop.rs: replace + with - in Targets::rescan"]="equivalent in outcome: /proc is scanned at every look instead of every 50 ms while members are held (as before this was made cheaper): more CPU, the same members."
  ["pidwait/src/stop.rs: replace && with || in Targets::prune"]="equivalent: without a group, rescan returns at once; with one, the condition is the same."
  ["pidwait/src/interrupt.rs: replace | with ^ in Interrupts::block"]="equivalent: the SfdFlags are distinct bits, so a ^ b is a | b."
  ["aoe-fstab/src/command.rs: replace exited_zero -> bool with false"]="caught since this run by a_successful_mount_keeps_what_it_started (added after it)."
  ["aoe-fstab/src/command.rs: replace | with & in exited_zero"]="caught since this run by a_successful_mount_keeps_what_it_started (added after it): no flags, so waitid fails and a successful mount's group would be killed."
  ["aoe-fstab/src/command.rs: replace match guard e.kind() == io::ErrorKind::Interrupted with true in read_some"]="gone since this run: the unreachable EINTR arm was removed (no signal handler is installed)."
  ["aoe-fstab/src/command.rs: replace match guard e.kind() == io::ErrorKind::Interrupted with false in read_some"]="gone since this run: the unreachable EINTR arm was removed (no signal handler is installed)."
  ["aoe-fstab/src/command.rs: replace == with != in read_some"]="gone since this run: the unreachable EINTR arm was removed (no signal handler is installed)."
  ["aoe-fstab/src/command.rs: replace || with && in drain_ready"]="caught since this run by a_pipe_held_by_what_mount_left_is_not_waited_for (added after it): the read blocks until what mount left closes the pipe."
  ["aoe-fstab/src/command.rs: replace > with >= in read_some"]="equivalent in outcome: end of file is not noticed, so the loop polls the hung-up pipe again at once until the child's exit is seen (CPU for that while, the same result)."
  ["aoe-fstab/src/command.rs: replace drain_ready -> io::Result<()> with Ok(())"]="a gap no test forces: draining after the exit matters only when the exit is seen before the pipe's last data (poll reports both; the pipe is read first); the message would then be 'mount failed (exit status N)'."
  ["aoe-fstab/src/command.rs: replace / with % in drain_ready"]="a gap no test forces: no draining after the exit (see drain_ready -> Ok(()))."
  ["aoe-fstab/src/command.rs: replace / with * in drain_ready"]="equivalent: more rounds allowed; each round stops at the first empty poll or end of file."
  ["aoe-fstab/src/command.rs: replace * with + in drain_ready"]="equivalent in outcome: 10 rounds of 8 KiB instead of 16 still cover the 64 KiB kept."
  ["aoe-fstab/src/command.rs: delete ! in drain_ready"]="equivalent in outcome for a first line under 8 KiB (only the first line is shown): draining stops after one read instead of at the first empty poll."
  ["aoe-fstab/src/command.rs: replace | with ^ in exited_zero"]="equivalent: the WaitPidFlags are distinct bits, so a ^ b is a | b."
  ["aoe-fstab/src/command.rs: replace && with || in held_path"]="equivalent: the kernel's /proc/self link is always a non-empty run of digits, where either test alone holds."
  ["$pr: replace * with + in read_proc"]="equivalent in outcome: the buffer grows by 2 bytes instead of doubling once a file fills the first 4 KiB (no /proc file pidwait reads does); the same bytes, in more reads."
  ["$pr: replace < with <= in parse_stat"]="equivalent: the last ')' and the first '(' are different characters, so their positions are never equal."
  ["$pr: replace match guard is_gone(&e) with true in a_thread_runs"]="equivalent: it is read only once /proc/PID/stat of the same pid was read and said zombie; /proc/PID/task is readable whenever stat is (same hidepid rule, no ptrace check), so the one error left is the process vanishing meanwhile, which is_gone already takes for gone."
  ["$pr: replace match guard is_gone(&e) with true in thread_group"]="equivalent: it is read only once /proc/PID/stat of the same pid was read; /proc/PID/status is readable whenever stat is (both world-readable, no ptrace check, behind the same hidepid rule), so the one error left is the process vanishing meanwhile, which is_gone already takes for gone."
  ["$pr: replace match guard is_gone(&e) with true in a_thread_runs"]="equivalent: /proc/PID/task is read only once /proc/PID/stat of the same pid was, and is readable whenever stat is (the same hidepid rule, no ptrace check), so the one error left is the process vanishing meanwhile, which is_gone already takes for gone."
  ["$pr: replace < with <= in parse_stat"]="equivalent: the first ( and the last ) are different bytes, so they are never at the same index."
  ["portfind/src/lease.rs: replace | with ^ in Leases::lock"]="equivalent: the OFlags are distinct bits (RDONLY is 0), and none of them is already in the value, so a ^ b is a | b."
  ["portfind/src/lease.rs: replace | with ^ in Leases::save"]="equivalent: the OFlags are distinct bits (RDONLY is 0), and none of them is already in the value, so a ^ b is a | b."
  ["portfind/src/lease.rs: replace | with ^ in open_regular"]="equivalent: the OFlags are distinct bits (RDONLY is 0), and none of them is already in the value, so a ^ b is a | b."
  ["portfind/src/lease.rs: replace | with & in Leases::lock"]="equivalent: & binds tighter, so DIRECTORY & RDONLY (no bits) loses only O_DIRECTORY on the open of \".\" through the judged descriptor, and \".\" through a descriptor that is no directory fails with ENOTDIR all the same (tested: lease::tests::a_file_as_the_default_directory_is_not_called_a_symlink)."
  ["portfind/src/lease.rs: replace | with & in Leases::save"]="equivalent: & binds tighter, so only NOFOLLOW & CLOEXEC (no bits) is lost for leases.new: O_CREAT | O_EXCL already refuses any symlink, dangling or not, and the descriptor is closed before save returns: portfind runs no program, and only a library caller forking from another thread in that moment could pass it on. (The same mutant on the lock and directory descriptors is caught: lease::tests::descriptors_are_not_inherited.)"
  ["portfind/src/lease.rs: replace > with >= in take_lock"]="equivalent: the time waited, in nanoseconds, is never exactly the timeout (LOCK_TIMEOUT, 10 s; none in the unit test, and any wait is more); giving up at it or just after is the same. (== is detected: lease::tests::a_lock_held_too_long_is_given_up_on then waits for ever.)"
  ["db-reset/src/x509.rs: replace | with ^ in element"]="equivalent: n << 8 has its low 8 bits clear, so (n << 8) ^ byte is (n << 8) | byte."
  ["portwait/src/diag.rs: replace << with >> in exact_request"]="equivalent: the kernel ignores idiag_states in a request for one socket (it looks the socket up by address and port); that it listens is checked in the answer (parse_one), as tests::the_kernels_lookup_finds_the_listener_a_connection_would_reach shows with a connection on the port."
  ["portwait/src/diag.rs: replace < with <= in parse_one"]="equivalent: an answer of a bare 16-byte header holds neither a socket nor an error code, and is an error either way. (== is caught: tests::short_or_truncated_answers_to_a_lookup_are_errors.)"
  ["portwait/src/diag.rs: replace | with ^ in request"]="equivalent: NLM_F_REQUEST (0x1) and NLM_F_DUMP (0x300) are distinct bits, so a ^ b is a | b."
  ["portwait/src/diag.rs: replace | with ^ in compat_request"]="equivalent: NLM_F_REQUEST (0x1) and NLM_F_DUMP (0x300) are distinct bits, so a ^ b is a | b."
)

shopt -s nullglob
outs=("$dir"/*/mutants.out)
if [ ${#outs[@]} -eq 0 ]; then
  if [ -f bench/results/mutants.md ]; then
    echo "bench/mutants.sh: no results under $dir: keeping bench/results/mutants.md" >&2
    cat bench/results/mutants.md
    exit 0
  fi
  echo "bench/mutants.sh: no results under $dir: run make mutants" >&2
  exit 1
fi

# "outcome<TAB>file: mutation<TAB>when run<TAB>line:col" for every mutant.
all=$(for o in "${outs[@]}"; do
  when=$(date -u -r "$o/outcomes.json" '+%Y-%m-%d %H:%M' 2>/dev/null || echo "unfinished")
  for kind in caught missed timeout unviable; do
    [ -f "$o/$kind.txt" ] || continue
    sed -E "s/^([^:]+):([0-9]+:[0-9]+): (.*)$/$kind\t\1: \3\t$when\t\2/" "$o/$kind.txt"
  done
done | LC_ALL=C sort -t $'\t' -k2)

echo "## Mutation tests (cargo-mutants)"
echo
echo "Made by \`make mutants\` (\`bench/mutants.sh\`): each file mutated on its own and tested by its"
echo "package's tests. Missed: no test failed. Timeout: the tests hung (the mutant is detected)."
echo "Unviable: the mutant does not build (not counted). Detected = (caught + timeouts) / viable."
echo
echo "| File | Mutants | Caught | Missed | Timeouts | Unviable | Detected | Run (UTC) |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
awk -F'\t' '
  NF < 2 { next }
  { f = $2; sub(/: .*/, "", f); if (!(f in seen)) { seen[f] = 1; order[++n] = f }
    count[f, $1]++; when[f] = $3 }
  END { for (i = 1; i <= n; i++) { f = order[i]
    c = count[f, "caught"] + 0; m = count[f, "missed"] + 0; t = count[f, "timeout"] + 0
    u = count[f, "unviable"] + 0; v = c + m + t
    pct = v > 0 ? int(100 * (c + t) / v) " %" : "-"
    printf "| `%s` | %d | %d | %d | %d | %d | %s | %s |\n", f, v + u, c, m, t, u, pct, when[f] } }
' <<<"$all"

# Files `make mutants` covers that have no results here.
listed=$(sed -n '/^MUTANTS_FILES ?=/,/[^\\]$/p' Makefile | sed 's/^MUTANTS_FILES ?=//; s/\\$//' | tr -s ' \t' '\n')
unrun=$(for f in $listed; do grep -qF $'\t'"$f: " <<<"$all" || printf '%s ' "\`$f\`"; done)
if [ -n "$unrun" ]; then
  echo
  echo "Not run yet: $unrun"
fi

misses=$(awk -F'\t' '$1 == "missed" || $1 == "timeout"' <<<"$all")
unexplained=0
if [ -n "$misses" ]; then
  echo
  echo "Missed and timed-out mutants:"
  echo
  while IFS=$'\t' read -r kind name _ at; do
    note=${why[$name]:-}
    if [ -z "$note" ] && [ "$kind" = timeout ]; then
      note="detected: the tests hung."
    elif [ -z "$note" ]; then
      note="UNEXPLAINED"
      unexplained=$((unexplained + 1))
    fi
    echo "- $kind: \`${name/: /:$at: }\`: $note"
  done <<<"$misses"
fi

c=$(grep -c '^caught' <<<"$all" || true)
m=$(grep -c '^missed' <<<"$all" || true)
t=$(grep -c '^timeout' <<<"$all" || true)
v=$((c + m + t))
echo
echo "Detected $((c + t)) of $v viable mutants ($((v > 0 ? 100 * (c + t) / v : 0)) %): $c caught, $t timed out; $m missed, $unexplained of them unexplained."
