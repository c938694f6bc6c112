#!/usr/bin/env bash
# Benchmarks fixture-token against the original's way of reading a token
# (PyYAML safe_load of the whole fixture file) on the real Arvados fixture.
# Prints a Markdown section on stdout. Usage: bench/fixture-token.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/release/fixture-token
fixtures=../shared/corpus/arvados
python=/usr/bin/python3
[ -x "$bin" ] || { echo "fixture-token.sh: build first: cargo build --release -p fixture-token" >&2; exit 2; }
"$python" -c 'import yaml' 2>/dev/null || { echo "fixture-token.sh: needs python3-yaml" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The same lookup as run_test_server.py's auth_token('admin').
lookup='import sys, yaml
text = open(sys.argv[1]).read()
at = text.find("# Test Helper trims the rest of the file")
text = text if at < 0 else text[:at]
print(yaml.safe_load(text)[sys.argv[2]]["api_token"])'
file=$fixtures/api_client_authorizations.yml

# Both must print the same token before timing means anything.
ours=$("$bin" --file "$file" admin)
theirs=$("$python" -c "$lookup" "$file" admin)
[ "$ours" = "$theirs" ] || { echo "fixture-token.sh: outputs differ: $ours vs $theirs" >&2; exit 1; }

hyperfine --shell=none --warmup 10 --runs 200 --style none \
  --export-json "$tmp/t.json" --export-markdown "$tmp/t.md" \
  -n "fixture-token --file api_client_authorizations.yml admin" "$bin --file $file admin" \
  -n "python3 -c 'import yaml; safe_load...' (PyYAML $("$python" -c 'import yaml; print(yaml.__version__)'))" \
  "$python -c '$lookup' $file admin" >/dev/null

ratio=$("$python" -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"]
print("%.0f %.0f %.0f %.2f %.1f" % (r[1]["median"] / r[0]["median"], r[1]["mean"] / r[0]["mean"],
    min(r[1]["times"]) / min(r[0]["times"]), r[0]["median"] * 1e3, r[1]["median"] * 1e3))' "$tmp/t.json")
read -r ratio mean_ratio min_ratio ours_ms theirs_ms <<<"$ratio"

# Pathological input: 64 KB of nested flow brackets, refused at the depth
# limit by fixture-token; PyYAML (the approach replaced) recurses until
# Python's recursion limit. Both fail: the point is how soon.
deep=$tmp/deep.yml
{ printf 'a: '; head -c 65536 /dev/zero | tr '\0' '['; } > "$deep"
if "$bin" --file "$deep" a 2>/dev/null; then
  echo "fixture-token.sh: 64 KB of brackets was accepted" >&2; exit 1
fi
hyperfine --shell=none --ignore-failure --warmup 2 --runs 10 --style none \
  --export-json "$tmp/d.json" --export-markdown "$tmp/d.md" \
  -n "fixture-token on 64 KB of [[[[… (refused)" "$bin --file $deep a" \
  -n "PyYAML safe_load on the same (RecursionError)" \
  "$python -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' $deep" >/dev/null
deep_ratio=$("$python" -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"]
print("%.0f %.1f %.0f" % (r[1]["median"] / r[0]["median"], r[0]["median"] * 1e3, r[1]["median"] * 1e3))' "$tmp/d.json")
read -r deep_ratio deep_ours_ms deep_theirs_ms <<<"$deep_ratio"

echo "## fixture-token"
echo
echo "Reading the \`admin\` token from the real Arvados fixture (323 lines, 48 entries)."
echo
cat "$tmp/t.md"
echo
echo "Deep nesting, 64 KB of \`[\` (the reader before yaml-rust2 took 7 s on it):"
echo
cat "$tmp/d.md"
echo
echo "Refusing it: ${deep_ours_ms} ms against PyYAML's ${deep_theirs_ms} ms (${deep_ratio}x)."
echo
echo "Method: \`bench/fixture-token.sh\`, hyperfine without a shell, 10 warm-up runs, 200"
echo "timed runs each (10 for the nesting), release build; both commands are first checked to"
echo "print the same token. The Python side is Debian's python3 with python3-yaml, doing what"
echo "run_test_server.py's \`auth_token()\` did (cut at the trim marker, \`safe_load\`, index)."
echo "Load average when measured: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores — a"
echo "millisecond process loses proportionally more to a busy scheduler than a 40 ms one."
echo
echo "Median: ${ours_ms} ms against ${theirs_ms} ms: fixture-token is **${ratio}x** faster (${mean_ratio}x by the means, ${min_ratio}x by the fastest runs; target: at least 20x)."
