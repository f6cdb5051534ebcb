#!/usr/bin/env bash
# Runs redactd and its peers on the same input, each pinned to one core, and prints MB/s,
# peak memory and ratios. Usage:
#
#   benches/compare.sh [LINES] [RUNS]        # defaults: 1000000 lines, 3 runs (median)
#
# Needs ../shared/bench (the generator and peers). VRL is included when its bench binary
# exists at $VRL_BENCH (default /tmp/vrl-bench/release/vrl-bench); build it once with
#   CARGO_TARGET_DIR=/tmp/vrl-bench cargo build --release --locked \
#       --manifest-path ../shared/bench/vrl-bench/Cargo.toml
# Inputs are generated into $WORK (default /tmp/redactd-compare) and never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
RUNS=${2:-3}
SHARED=../shared/bench
WORK=${WORK:-/tmp/redactd-compare}
VRL_BENCH=${VRL_BENCH:-/tmp/vrl-bench/release/vrl-bench}
CORE=${CORE:-0}
mkdir -p "$WORK"

cargo build --release --quiet
BIN=$PWD/target/release/redactd
KEY="$WORK/key"
[ -f "$KEY" ] || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$KEY"; chmod 600 "$KEY"; }

PII="$WORK/access_pii_$LINES.log"
CLEAN="$WORK/prose_clean.txt"
[ -f "$PII" ] || python3 "$SHARED/gen_access.py" --lines "$LINES" > "$PII"
if [ ! -f "$CLEAN" ]; then
  # Text with no trigger at all: letters, spaces and punctuation, same size as the log.
  python3 - "$CLEAN" "$(stat -c %s "$PII")" <<'PY'
import sys
words = "the quick brown fox jumps over a lazy dog while our service keeps running smoothly and nothing happens".split()
out, size, i, line = open(sys.argv[1], "w"), int(sys.argv[2]), 0, []
written = 0
while written < size:
    line.append(words[i % len(words)]); i += 7
    if len(line) == 30:
        s = " ".join(line) + ".\n"; out.write(s); written += len(s); line = []
PY
fi
cat "$PII" "$CLEAN" > /dev/null   # into the page cache

# median_run NAME INPUT CMD...: runs CMD < INPUT > /dev/null RUNS times on one core,
# prints "NAME seconds MB/s peak_rss_kib".
median_run() {
  local name=$1 input=$2; shift 2
  local bytes; bytes=$(stat -c %s "$input")
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    local out
    out=$( { /usr/bin/time -f '%e %M' taskset -c "$CORE" "$@" < "$input" > /dev/null; } 2>&1 | tail -1)
    times+=("${out% *}")
    rss=${out#* }
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  awk -v n="$name" -v t="$median" -v b="$bytes" -v r="$rss" 'BEGIN { if (t < 0.01) t = 0.01; printf "%-28s %8.2f s %10.1f MB/s %8.1f MiB\n", n, t, b / t / 1e6, r / 1024 }'
}

RESULTS="$WORK/results.txt"
: > "$RESULTS"
echo "input: $PII ($(stat -c %s "$PII") bytes, $LINES lines), $RUNS runs each, median, pinned to core $CORE" | tee -a "$RESULTS"
{
  median_run "cat" "$PII" cat
  median_run "redactd filter" "$PII" "$BIN" filter --threads 1 --key-file "$KEY"
  median_run "redactd filter --format text" "$PII" "$BIN" filter --threads 1 --format text --key-file "$KEY"
  median_run "redactd (clean prose, text)" "$CLEAN" "$BIN" filter --threads 1 --format text --key-file "$KEY"
  if [ -x "$VRL_BENCH" ]; then median_run "vrl redact (6 regexes)" "$PII" "$VRL_BENCH" "$SHARED/patterns.txt"; fi
  median_run "sed -E (6 regexes)" "$PII" env LC_ALL=C sed -E -f "$SHARED/peers/redact.sed"
  median_run "perl -pe (6 regexes)" "$PII" perl -pe "$(cat "$SHARED/peers/redact.pe")"
} | tee -a "$RESULTS"

echo
echo "ratios (redactd filter throughput / peer throughput, higher is better):"
awk -F'  +' '!/^input:/ { name = $1; mbs[name] = $3 + 0 } /^redactd filter +[0-9]/ { r = $3 + 0 }
     END { for (n in mbs) if (n !~ /^redactd/) printf "  vs %-26s %6.2fx\n", n, r / mbs[n] }' "$RESULTS" | sort
