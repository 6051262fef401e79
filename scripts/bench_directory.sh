#!/usr/bin/env bash
# Document 003's directory at growing sizes, on SQLite and PostgreSQL: seeds N users with
# `userd seed` (timed), starts the release binary and measures each query kind with wrk
# (8 connections, DURATION seconds each, load generator on the same machine). Prints one
# line per measurement: backend, users, mode, query, the first request alone ("cold"),
# requests/s, p50 and p99 in milliseconds. docs/benchmarks.md records a run.
#
# Each size is measured twice: "quiet" (nothing writes), then "writes": a background writer
# makes WRITES writes a second (profile edits of 50 seeded users, among them names and bios
# the queries match, non-ASCII names too, and one registration in ten) while the same
# queries run, so what the directory's cache keeps across writes is what is measured.
#
#   scripts/bench_directory.sh                      # 10k, 100k and 1M on both databases
#   SIZES="10000" BACKENDS=sqlite scripts/bench_directory.sh
#   WRITES=0 scripts/bench_directory.sh             # quiet only
#   PG_URL=postgres://postgres@127.0.0.1:5432       # server to create benchmark databases on
#   PG_DB=userd_bench                               # their name, before the size
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"10000 100000 1000000"}
BACKENDS=${BACKENDS:-"sqlite postgres"}
DURATION=${DURATION:-5}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_DB=${PG_DB:-userd_bench}
WRITES=${WRITES:-20}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

cargo build --release --locked >&2
BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release/userd")
WORK=$(mktemp -d)
PID=""
WRITER=""
trap 'for p in $WRITER $PID; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

# The background writer: logs in 50 of the newest seeded users, then makes $1 writes a
# second until stopped, and says how many it made and how many failed.
cat >"$WORK/writer.py" <<'PY'
import http.client, json, signal, sys, time, urllib.parse
url, rate = urllib.parse.urlparse(sys.argv[1]), float(sys.argv[2])
conn = http.client.HTTPConnection(url.hostname, url.port)
def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    res = conn.getresponse()
    return res.status, json.loads(res.read() or b"null")
_, page = call("GET", "/careers/users/?ordering=-created_at&batch_size=50")
tokens = []
for user in page["users"]:
    status, body = call("POST", "/careers/users/login/", {"username": user["username"], "password": "securepassword123"})
    if status == 200:
        tokens.append(body["access"])
print("ready", flush=True)
edits = [{"bio": "A rust developer"}, {"first_name": "Élodie"}, {"bio": "Gardener"}, {"last_name": "Kowalska"},
         {"first_name": "Eleanor"}, {"bio": "ŁÓDŹ and İstanbul"}, {"last_name": "Lindqvist77"}, {"first_name": "Zoë"},
         {"bio": "Backend developer, Rust"}]
done = failed = 0
signal.signal(signal.SIGTERM, lambda *_: (print(f"writer: {done} writes, {failed} failed", file=sys.stderr), sys.exit(0)))
start = time.monotonic()
while True:
    if done % 10 == 9:
        name = f"writer{int(start)}x{done}"
        status, _ = call("POST", "/careers/users/register/", {"username": name, "email": name + "@example.com",
            "password": "securepassword123", "password_confirm": "securepassword123", "first_name": "Ele",
            "bio": "developer" if done % 20 == 9 else "Zoologist"})
        failed += status != 201
    else:
        status, _ = call("PATCH", "/careers/users/me/update/", edits[done % len(edits)], tokens[done % len(tokens)])
        failed += status != 200
    done += 1
    time.sleep(max(0.0, start + done / rate - time.monotonic()))
PY

# The query kinds: name and query string. `LAST` is replaced by the last batch number.
QUERIES=(
  "first_batch|"
  "last_batch_username|batch_number=LAST"
  "first_batch_-created_at|ordering=-created_at"
  "last_batch_-created_at|ordering=-created_at&batch_number=LAST"
  "first_batch_first_name|ordering=first_name"
  "last_batch_first_name|ordering=first_name&batch_number=LAST"
  "first_batch_-last_name|ordering=-last_name"
  "last_batch_-last_name|ordering=-last_name&batch_number=LAST"
  "middle_batch|batch_number=MIDDLE"
  "search_common_3plus|search=developer"
  "search_rare_3plus|search=lindqvist77"
  "search_common_bio_word|search=rust"
  "filter_first_name|first_name=ele"
  "filter_last_name|last_name=kowal"
  "search_1_char|search=z"
  "search_2_chars|search=ol"
)

measure() { # backend users mode url
  local backend=$1 users=$2 mode=$3 url=$4 total last middle entry name query out rps p50 p99 cold timeouts
  total=$(curl -s "$url/careers/users/" | python3 -c 'import sys,json; print(json.load(sys.stdin)["batch_info"]["total_users"])')
  last=$(( (total + 9) / 10 - 1 ))
  middle=$(( last / 2 ))
  for entry in "${QUERIES[@]}"; do
    name=${entry%%|*}
    query=${entry#*|}
    query=${query//LAST/$last}
    query=${query//MIDDLE/$middle}
    # The first request of a kind reads the database (cold); wrk's repeat the same query,
    # which the node's directory cache answers while nothing changes.
    cold=$(curl -s -o /dev/null -w '%{time_total}' "$url/careers/users/?$query")
    cold=$(echo "$cold * 1000" | bc)
    out=$(wrk -t2 -c8 -d"${DURATION}s" --latency "$url/careers/users/?$query" 2>&1)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    # wrk gives up on a request after 2 s and leaves it out of the latencies.
    timeouts=$(awk '/Socket errors/ {for (i = 1; i <= NF; i++) if ($i == "timeout") print $(i + 1)}' <<<"$out")
    if [ -n "$timeouts" ] && [ "$timeouts" != 0 ]; then p99="$p99 ($timeouts over 2 s)"; fi
    printf '%-8s %8s  %-6s %-26s cold %8.1fms %10s req/s  p50 %8s  p99 %8s\n' "$backend" "$users" "$mode" "$name" "$cold" "$rps" "$p50" "$p99"
  done
}

for backend in $BACKENDS; do
  for users in $SIZES; do
    data=$WORK/$backend-$users
    mkdir -p "$data"
    env=(USERD_DATA_DIR="$data" USERD_RATE_LIMIT=off USERD_LOG=warn)
    if [ "$backend" = postgres ]; then
      db=${PG_DB}_$users
      psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
      env+=(USERD_DATABASE_URL="$PG_URL/$db")
    fi
    t0=$(date +%s.%N)
    env "${env[@]}" "$BIN" seed --users "$users" --password securepassword123 2>"$data/seed.log"
    printf '%-8s %8s  seed: %.1f s\n' "$backend" "$users" "$(echo "$(date +%s.%N) - $t0" | bc)"
    if [ "$backend" = postgres ]; then
      psql "$PG_URL/$db" -qc "VACUUM ANALYZE users" >/dev/null
    fi
    env "${env[@]}" USERD_BIND=127.0.0.1:0 "$BIN" serve >/dev/null 2>"$data/serve.log" &
    PID=$!
    until grep -q "listening on" "$data/serve.log" 2>/dev/null; do sleep 0.05; done
    url=$(grep -o 'http://[0-9.:]*' "$data/serve.log" | head -n 1)
    measure "$backend" "$users" quiet "$url"
    if [ "$WRITES" != 0 ]; then
      python3 "$WORK/writer.py" "$url" "$WRITES" >"$data/writer.ready" 2>"$data/writer.log" &
      WRITER=$!
      until grep -q ready "$data/writer.ready" 2>/dev/null; do sleep 0.1; done
      measure "$backend" "$users" writes "$url"
      kill -TERM "$WRITER"
      wait "$WRITER" || true
      WRITER=""
      printf '%-8s %8s  %s\n' "$backend" "$users" "$(cat "$data/writer.log")"
    fi
    kill -TERM "$PID"
    wait "$PID" || true
    PID=""
    if [ "$backend" = postgres ]; then
      psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    fi
    rm -rf "$data"
  done
done
