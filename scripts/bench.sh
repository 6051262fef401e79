#!/usr/bin/env bash
# Measures the release binary: size, time to the `listening on` line, idle memory, and the
# shared load test of document 002 (../shared/peers/bench.sh) against a fresh SQLite
# instance (or USERD_DATABASE_URL if set). Prints one JSON line per measurement on stdout;
# docs/benchmarks.md records the figures.
#
#   scripts/bench.sh              # everything (~2 minutes)
#   SKIP_LOAD=1 scripts/bench.sh  # size, start-up and memory only
#   LOADGEN=wrk|oha               # passed to bench.sh (default: oha if installed, else wrk)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked >&2
BIN=target/release/userd
DATA=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT

size=$(stat -c %s "$BIN")
echo "{\"measure\": \"binary_size_bytes\", \"value\": $size}"

# Start-up: from exec to the `listening on` line, on a fresh data dir (first start creates
# the database, runs migrations and generates the signing key) and again on a warm one.
start() {
    local log=$1 t0
    t0=$(date +%s%N)
    USERD_DATA_DIR=$DATA USERD_BIND=127.0.0.1:0 USERD_RATE_LIMIT=off USERD_LOG=warn "$BIN" >/dev/null 2>"$log" &
    PID=$!
    until grep -q "listening on" "$log" 2>/dev/null; do sleep 0.002; done
    STARTUP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
start "$DATA/cold.log"
echo "{\"measure\": \"startup_ms_first_start\", \"value\": $STARTUP_MS}"
kill -TERM "$PID"
wait "$PID" || true
start "$DATA/warm.log"
echo "{\"measure\": \"startup_ms_warm\", \"value\": $STARTUP_MS}"
URL=$(grep -o 'http://[0-9.:]*' "$DATA/warm.log" | head -n 1)

sleep 2
rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
echo "{\"measure\": \"idle_rss_kib\", \"value\": $rss}"

if [ "${SKIP_LOAD:-0}" != 1 ]; then
    LABEL="userd $(git rev-parse --short HEAD 2>/dev/null || echo dev) sqlite" ../shared/peers/bench.sh "$URL"
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    echo "{\"measure\": \"rss_after_load_kib\", \"value\": $rss}"
fi
