#!/usr/bin/env bash
# Load comparison on loopback, in one run: wrk against
#   (a) the upstream directly      nginx, 1 worker, 127.0.0.1:18081, fixed small body
#   (b) nginx as reverse proxy     1 worker, 127.0.0.1:18080, combined access log on
#   (c) redactd proxy              1 worker thread, 127.0.0.1:18082, --profile security,
#                                  records (minimised JSON lines) to /dev/null
# and prints req/s, p50 and p99 for each, and redactd's ratio to nginx.
#
#   benches/proxy_compare.sh [DURATION] [ROUNDS]     # defaults: 10s, 1 round
#
# Needs wrk and nginx (Debian: apt-get install -y wrk nginx) and ../shared/bench/nginx (or
# $BENCH_NGINX). Builds redactd in release unless $REDACTD points at a binary. Everything
# runs on 127.0.0.1 and is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
ROUNDS=${2:-1}
CONNS=${CONNS:-50}
NGINX_CONF=${BENCH_NGINX:-../shared/bench/nginx}
WORK=$(mktemp -d /tmp/redactd-proxy-bench.XXXXXX)

for tool in wrk nginx; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install -y wrk nginx)" >&2; exit 2; }
done
if [ -z "${REDACTD:-}" ]; then
    cargo build --release --quiet --bin redactd
    REDACTD=${CARGO_TARGET_DIR:-$PWD/target}/release/redactd
fi

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on $1" >&2
    exit 1
}

# Another server on these ports would be measured in place of ours: refuse instead.
for port in 18080 18081 18082; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is already in use on 127.0.0.1: stop what listens there first" >&2
        exit 2
    fi
done

mkdir -p "$WORK/nginx/run/tmp"
cp "$NGINX_CONF/upstream.conf" "$NGINX_CONF/nginx.conf" "$WORK/nginx/"
nginx -p "$WORK/nginx/" -c upstream.conf -e run/upstream-error.log -g 'daemon off;' &
PIDS+=($!)
nginx -p "$WORK/nginx/" -c nginx.conf -e run/error.log -g 'daemon off;' &
PIDS+=($!)
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/key"
chmod 600 "$WORK/key"
"$REDACTD" proxy --listen 127.0.0.1:18082 --upstream http://127.0.0.1:18081 \
    --profile security --workers 1 --key-file "$WORK/key" >/dev/null 2>"$WORK/redactd.err" &
REDACTD_PID=$!
PIDS+=($REDACTD_PID)
wait_port 18081
wait_port 18080
wait_port 18082

# value in ms from wrk's "12.34us" / "1.23ms" / "1.00s"
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.3f", n }'
}

run() { # name url -> "rps p50 p99"
    local out
    out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$2")
    local rps p50 p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        grep "Non-2xx\|Socket errors" <<<"$out" | sed "s/^/  $1: /" >&2
    fi
    echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

echo "wrk -t1 -c$CONNS -d$DURATION --latency; $(nproc) cores shared by client, proxy and upstream"
for url in http://127.0.0.1:18081/ http://127.0.0.1:18080/ http://127.0.0.1:18082/; do
    wrk -t1 -c"$CONNS" -d2s "$url" >/dev/null   # warm-up
done
for round in $(seq "$ROUNDS"); do
    read -r d_rps d_p50 d_p99 < <(run direct http://127.0.0.1:18081/)
    read -r n_rps n_p50 n_p99 < <(run nginx http://127.0.0.1:18080/)
    read -r r_rps r_p50 r_p99 < <(run redactd http://127.0.0.1:18082/)
    echo
    echo "round $round"
    printf '%-34s %12s %10s %10s\n' "target" "req/s" "p50 ms" "p99 ms"
    printf '%-34s %12.0f %10.3f %10.3f\n' "upstream direct" "$d_rps" "$d_p50" "$d_p99"
    printf '%-34s %12.0f %10.3f %10.3f\n' "nginx reverse proxy (access log)" "$n_rps" "$n_p50" "$n_p99"
    printf '%-34s %12.0f %10.3f %10.3f\n' "redactd proxy (--profile security)" "$r_rps" "$r_p50" "$r_p99"
    awk -v r="$r_rps" -v n="$n_rps" -v rp="$r_p99" -v np="$n_p99" \
        'BEGIN { printf "redactd / nginx: req/s x%.2f, p99 x%.2f (lower is better)\n", r / n, rp / np }'
done
kill -TERM "$REDACTD_PID"
wait "$REDACTD_PID" 2>/dev/null || true
echo
echo "nginx wrote $(wc -l < "$WORK/nginx/run/access.log") access-log lines"
tail -1 "$WORK/redactd.err"
