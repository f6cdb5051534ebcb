#!/usr/bin/env bash
# Records/s of `redactd run` from stdin to the file sink and to ClickHouse.
#
#   benches/ship.sh [RECORDS]        (default 200000; needs clickhouse-server for the second)
#
# Builds the release binary, generates RECORDS syslog-like lines with personal data
# (an e-mail, an IPv4 address, a user name), and times `redactd run` until it exits (stdin
# at its end, every queue drained): once with a file sink (JSON, fsync per batch, profile
# security), once with a ClickHouse sink (batches of 10000, a private server on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/redactd"
WORK=$(mktemp -d)
CH_PID=""
cleanup() { [ -n "$CH_PID" ] && kill "$CH_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

python3 - "$N" > "$WORK/input.log" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(n):
    out.write(f"<38>Oct 11 22:14:15 web{i%7} sshd[{1000+i%500}]: Accepted password for user{i%997} "
              f"from 81.2.{i%250}.{i%200} port {40000+i%2000} ssh2; mail jane.doe{i%1000}@example.com seq={i}\n")
PY
head -c 64 /dev/urandom | sha256sum | cut -c1-64 > "$WORK/key"; chmod 600 "$WORK/key"
bytes=$(stat -c %s "$WORK/input.log")

run() { # name config
    local start end
    start=$(date +%s.%N)
    HOME="$WORK" "$BIN" run --admin-addr off -c "$2" --key-file "$WORK/key" --drain-secs 120 < "$WORK/input.log" 2> "$WORK/$1.err"
    end=$(date +%s.%N)
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'{sys.argv[4]:<11} {n} records in {s:.2f} s: {n/s:,.0f} records/s, {int(sys.argv[5])/s/1e6:.1f} MB/s in')" "$start" "$end" "$N" "$1" "$bytes"
    grep "sink" "$WORK/$1.err" | sed 's/^/            /'
}

{ cat config/redactd.toml; cat <<EOF2
[[input]]
type = "stdin"
[[sink]]
name = "file"
type = "file"
profile = "security"
path = "$WORK/out.log"
batch_records = 5000
EOF2
} > "$WORK/file.toml"
run file "$WORK/file.toml"

if command -v clickhouse-server >/dev/null 2>&1; then
    HTTP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    TCP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$WORK/ch/data" "$WORK/ch/tmp"
    sed "s#@DIR@#$WORK/ch#g; s#@HTTP_PORT@#$HTTP#; s#@TCP_PORT@#$TCP#" deploy/clickhouse/test-config.xml > "$WORK/ch/config.xml"
    (cd "$WORK/ch" && exec clickhouse-server --config-file="$WORK/ch/config.xml" > "$WORK/ch/out.log" 2>&1) &
    CH_PID=$!
    for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$HTTP/?query=SELECT%201" >/dev/null && break; sleep 0.5; done
    curl -sf --data-binary @deploy/clickhouse/redactd.sql "http://127.0.0.1:$HTTP/" >/dev/null
    { cat config/redactd.toml; cat <<EOF2
[[input]]
type = "stdin"
[[sink]]
name = "clickhouse"
type = "clickhouse"
profile = "security"
url = "http://127.0.0.1:$HTTP/"
batch_records = 10000
EOF2
    } > "$WORK/ch.toml"
    run clickhouse "$WORK/ch.toml"
    echo "            rows in ClickHouse: $(curl -sf "http://127.0.0.1:$HTTP/?query=SELECT%20count()%20FROM%20redactd")"
else
    echo "clickhouse  skipped: clickhouse-server is not installed"
fi
