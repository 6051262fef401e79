#!/usr/bin/env bash
# Instructions per request of one path, counted by callgrind (repeatable, unlike timings
# on a shared machine). Starts the release binary under valgrind on a fresh SQLite data
# dir, sends N GET requests over one keep-alive connection, stops it and prints the total
# instruction count. Run it with N=0 and N=2000 and divide the difference by 2000:
#
#   CARGO_PROFILE_RELEASE_STRIP=false cargo build --release   # keep symbols for callgrind_annotate
#   scripts/callgrind_request.sh 0    /api/users/status/ /tmp/cg0.out
#   scripts/callgrind_request.sh 2000 /api/users/status/ /tmp/cg2000.out
#
# AUTH=jwt registers a user first (in both runs, so the difference is the requests alone)
# and sends its access token; AUTH=api_token sends its personal API token instead.
# BIN=path measures another build.
set -eu
N=$1; PATHQ=${2:-/api/users/status/}; OUT=${3:-/tmp/cg.out}
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/userd}
D=$(mktemp -d)
USERD_DATA_DIR=$D USERD_BIND=127.0.0.1:18790 USERD_RATE_LIMIT=off USERD_LOG=warn \
  valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" >/dev/null 2>$D/vg.log &
PID=$!
for i in $(seq 200); do curl -s -o /dev/null http://127.0.0.1:18790/healthz && break; sleep 0.2; done
python3 - "$N" "$PATHQ" "${AUTH:-}" <<'PY'
import http.client, json, sys
n=int(sys.argv[1]); auth=sys.argv[3]; c=http.client.HTTPConnection("127.0.0.1",18790, timeout=600)
headers={}
if auth:
    pw="Kx9#callgrind-Pw1"
    body=json.dumps({"email":"cg@example.com","password":pw,"confirm_password":pw,"first_name":"C","last_name":"G","company_name":"X"})
    c.request("POST","/api/users/register/",body,{"Content-Type":"application/json"}); r=c.getresponse()
    access=json.loads(r.read())["data"]["tokens"]["access"]
    headers={"Authorization":"Bearer "+access}
    if auth=="api_token":
        c.request("GET","/api/users/me/token/",headers=headers); r=c.getresponse()
        headers={"Authorization":"Bearer "+json.loads(r.read())["access_token"]}
for _ in range(n):
    c.request("GET", sys.argv[2], headers=headers); r=c.getresponse(); r.read()
PY
kill -TERM $PID; wait $PID || true
grep -E "summary|totals" $OUT | head -2
