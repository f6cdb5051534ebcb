#!/usr/bin/env bash
# Every benchmark in one run, then one summary table. Usage:
#
#   benches/all.sh [LINES] [RUNS]     # defaults: 1000000 lines, 3 runs per peer (medians)
#
# 1. criterion benches of the hot paths (engine, pseudonyms, IPCrypt, GeoIP, user agents,
#    URIs, profiles): `cargo bench --bench engine`;
# 2. the filter against its peers (cat, VRL, sed, perl): benches/compare.sh;
# 3. the proxy against nginx with wrk: benches/proxy_compare.sh (needs wrk and nginx);
# 4. shipping records/s to the file sink and ClickHouse: benches/ship.sh.
# Full outputs go to $WORK (default /tmp/redactd-bench); machines here are noisy 2-core
# boxes: compare ratios and medians, not single absolute times.
set -uo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
RUNS=${2:-3}
WORK=${WORK:-/tmp/redactd-bench}
mkdir -p "$WORK"

cargo build --release --quiet
export REDACTD="$PWD/target/release/redactd"

echo "== criterion (cargo bench --bench engine)"
cargo bench --bench engine -- --warm-up-time 1 --measurement-time 3 2>&1 | tee "$WORK/criterion.txt" | grep -E "^redactd|time:" || true

echo "== filter versus peers (benches/compare.sh $LINES $RUNS)"
WORK="$WORK/compare" benches/compare.sh "$LINES" "$RUNS" 2>&1 | tee "$WORK/compare.txt"

echo "== proxy versus nginx (benches/proxy_compare.sh)"
if command -v wrk >/dev/null && command -v nginx >/dev/null; then
    benches/proxy_compare.sh 10s "$RUNS" 2>&1 | tee "$WORK/proxy.txt"
else
    echo "skipped: wrk and nginx are needed (apt-get install wrk nginx)" | tee "$WORK/proxy.txt"
fi

echo "== shipping (benches/ship.sh 200000)"
benches/ship.sh 200000 2>&1 | tee "$WORK/ship.txt"

echo
echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
printf '%-46s %s\n' "measure" "value"
median() { sort -g | awk '{a[NR]=$1} END { if (NR) print a[int((NR+1)/2)] }'; }
grep -E '^redactd filter +[0-9]' "$WORK/compare.txt" | awk '{printf "%-46s %s MB/s\n", "filter, one core (access log)", $(NF-3)}'
grep -E '^redactd \(clean prose' "$WORK/compare.txt" | awk '{printf "%-46s %s MB/s\n", "filter, text without triggers", $(NF-3)}'
grep -E '^  vs ' "$WORK/compare.txt" | grep -v "cat" | awk '{name=$0; sub(/^  vs /, "", name); sub(/ +[0-9.]+x$/, "", name); printf "%-46s %s\n", "filter / " name, $NF}'
rps=$(grep -E '^redactd / nginx' "$WORK/proxy.txt" | sed -E 's/.*req\/s x([0-9.]+).*/\1/' | median)
p99=$(grep -E '^redactd / nginx' "$WORK/proxy.txt" | sed -E 's/.*p99 x([0-9.]+).*/\1/' | median)
[ -n "$rps" ] && printf '%-46s x%s req/s, x%s p99 (median of rounds)\n' "proxy / nginx" "$rps" "$p99"
grep -E '^(file|clickhouse) ' "$WORK/ship.txt" | awk '{printf "%-46s %s\n", "shipping to " $1, $0}' | cut -c1-120
