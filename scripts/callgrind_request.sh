#!/usr/bin/env bash
# Instructions per request of one path, counted by callgrind (repeatable, unlike timings
# on a shared machine). Starts the release binary under valgrind on a fresh SQLite data
# dir, sends N GET requests over one keep-alive connection, stops it and prints the total
# instruction count. Run it with N=0 and N=2000 and divide the difference by 2000:
#
#   CARGO_PROFILE_RELEASE_STRIP=false cargo build --release   # keep symbols for callgrind_annotate
#   scripts/callgrind_request.sh 0    /api/users/status/ /tmp/cg0.out
#   scripts/callgrind_request.sh 2000 /api/users/status/ /tmp/cg2000.out
set -eu
N=$1; PATHQ=${2:-/api/users/status/}; OUT=${3:-/tmp/cg.out}
BIN=$(cd "$(dirname "$0")/.." && pwd)/target/release/userd
D=$(mktemp -d)
USERD_DATA_DIR=$D USERD_BIND=127.0.0.1:18790 USERD_RATE_LIMIT=off USERD_LOG=warn \
  valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" >/dev/null 2>$D/vg.log &
PID=$!
for i in $(seq 200); do curl -s -o /dev/null http://127.0.0.1:18790/healthz && break; sleep 0.2; done
python3 - "$N" "$PATHQ" <<'PY'
import http.client, sys
n=int(sys.argv[1]); c=http.client.HTTPConnection("127.0.0.1",18790)
for _ in range(n):
    c.request("GET", sys.argv[2]); r=c.getresponse(); r.read()
PY
kill -TERM $PID; wait $PID || true
grep -E "summary|totals" $OUT | head -2
