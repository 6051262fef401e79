#!/usr/bin/env bash
# Document 003's directory at growing sizes, on SQLite and PostgreSQL: seeds N users with
# `userd seed` (timed), starts the release binary and measures each query kind with wrk
# (8 connections, DURATION seconds each, load generator on the same machine). Prints one
# line per measurement: backend, users, query, requests/s, p50 and p99 in milliseconds.
# docs/benchmarks.md records a run.
#
#   scripts/bench_directory.sh                      # 10k, 100k and 1M on both databases
#   SIZES="10000" BACKENDS=sqlite scripts/bench_directory.sh
#   PG_URL=postgres://postgres@127.0.0.1:5432       # server to create benchmark databases on
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"10000 100000 1000000"}
BACKENDS=${BACKENDS:-"sqlite postgres"}
DURATION=${DURATION:-5}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

cargo build --release --locked >&2
BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release/userd")
WORK=$(mktemp -d)
PID=""
trap 'if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

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

measure() { # backend users url
  local backend=$1 users=$2 url=$3 total last middle entry name query out rps p50 p99 cold
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
    printf '%-8s %8s  %-26s cold %8.1fms %10s req/s  p50 %8s  p99 %8s\n' "$backend" "$users" "$name" "$cold" "$rps" "$p50" "$p99"
  done
}

for backend in $BACKENDS; do
  for users in $SIZES; do
    data=$WORK/$backend-$users
    mkdir -p "$data"
    env=(USERD_DATA_DIR="$data" USERD_RATE_LIMIT=off USERD_LOG=warn)
    if [ "$backend" = postgres ]; then
      db=userd_bench_$users
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
    measure "$backend" "$users" "$url"
    kill -TERM "$PID"
    wait "$PID" || true
    PID=""
    if [ "$backend" = postgres ]; then
      psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    fi
    rm -rf "$data"
  done
done
