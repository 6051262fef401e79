#!/usr/bin/env bash
# The benchmark of issue 13, from one command: builds userd and the ceiling server, then, on
# SQLite and on PostgreSQL in turn, measures start-up, idle memory, the raw argon2id rate and
# every hot path against the ceiling measured in the same run, and prints a dated Markdown
# table with each figure beside its target (docs/benchmarks.md records runs).
#
#   scripts/bench.sh                      # everything, both databases (~6 minutes after the builds)
#   BACKENDS=sqlite scripts/bench.sh      # one database
#   SKIP_LOAD=1 scripts/bench.sh          # size, start-up and idle memory only
#   RECORD=1 scripts/bench.sh             # also inserts the table into docs/benchmarks.md
#   BENCH_BIN=path scripts/bench.sh       # measure that binary instead of building one
#
# Per database: a fresh store; the first start (database created, migrations, signing key) is
# timed and its idle memory read; then `userd seed` adds SEED_USERS directory users, a second
# start is timed, the ceiling server (`limit serve`, ../shared/peers/limit) answers the status
# path at the same concurrency, and the shared load test of document 002 (../shared/peers/bench.sh:
# register, status, profile, refresh, login, status during a login flood) runs against userd,
# followed by `GET /api/users/me/` with personal API tokens and document 003's directory search.
# Memory under load is the process's peak (VmHWM) and what it holds afterwards.
#
# Settings (environment):
#   BACKENDS="sqlite postgres"   PG_URL=postgres://postgres@127.0.0.1:5432   PG_DB=userd_bench
#   CONC=32 DURATION=10 (per phase)   SEED_USERS=10000   SEARCH=developer   API_TOKENS=50
#   HASH_SECONDS=5   PEERS=../shared/peers   LIMIT_TARGET_DIR (default: ~/.cache/userd-bench/limit)
#   OUT=directory for raw results (default: a new one under ${TMPDIR:-/tmp}, kept and named at the end)
# Needs: wrk, curl, python3, and psql for PostgreSQL (the server at PG_URL, a role that may
# create databases). The load generator shares the machine with the server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_DB=${PG_DB:-userd_bench}
CONC=${CONC:-32}
DURATION=${DURATION:-10}
SEED_USERS=${SEED_USERS:-10000}
SEARCH=${SEARCH:-developer}
API_TOKENS=${API_TOKENS:-50}
HASH_SECONDS=${HASH_SECONDS:-5}
PEERS=${PEERS:-$ROOT/../shared/peers}
LIMIT_TARGET_DIR=${LIMIT_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/userd-bench/limit}
SKIP_LOAD=${SKIP_LOAD:-0}
RECORD=${RECORD:-0}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/userd-bench.XXXXXX")}
mkdir -p "$OUT"

die() { echo "bench.sh: $*" >&2; exit 1; }
log() { echo "[bench.sh $(date +%H:%M:%S)] $*" >&2; }

# --- what is needed --------------------------------------------------------------------------
for tool in curl python3; do command -v "$tool" >/dev/null || die "$tool is needed"; done
if [ "$SKIP_LOAD" != 1 ]; then
    command -v wrk >/dev/null || die "wrk is needed (Debian: apt-get install wrk)"
    [ -f "$PEERS/bench.sh" ] && [ -d "$PEERS/limit" ] ||
        die "the shared peers are not at $PEERS (set PEERS=…/shared/peers)"
fi
for backend in $BACKENDS; do
    case $backend in
        sqlite) ;;
        postgres)
            command -v psql >/dev/null || die "psql is needed for PostgreSQL (or BACKENDS=sqlite)"
            psql "$PG_URL/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1 ||
                die "PostgreSQL does not answer at $PG_URL (or BACKENDS=sqlite)"
            ;;
        *) die "unknown backend '$backend' in BACKENDS (sqlite, postgres)" ;;
    esac
done

# --- clean-up: every process started here, the benchmark database, the data directories ------
PIDS=()
PG_CREATED=0
cleanup() {
    local pid
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    if [ "$PG_CREATED" = 1 ]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$OUT/data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
set -E
trap 'echo "bench.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

stop() { # pid: SIGTERM, then wait for the drain
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local kept=() pid
    for pid in "${PIDS[@]:-}"; do [ "$pid" != "$1" ] && [ -n "$pid" ] && kept+=("$pid"); done
    PIDS=("${kept[@]:-}")
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

result() { # backend measure json-object: one line of results.jsonl
    python3 -c 'import json,sys; d=json.loads(sys.argv[3]); d.update(backend=sys.argv[1], measure=sys.argv[2]); print(json.dumps(d))' \
        "$1" "$2" "$3" >>"$OUT/results.jsonl"
}

# --- builds (one cargo at a time) ---------------------------------------------------------
if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$(realpath "$BENCH_BIN")
else
    log "building userd (release)"
    cargo build --release --locked >&2
    BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release/userd")
fi
[ -x "$BIN" ] || die "no userd binary at $BIN"
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || REV="$REV+changes"
if [ "$SKIP_LOAD" != 1 ]; then
    log "building the ceiling server into $LIMIT_TARGET_DIR"
    cargo build --release --manifest-path "$PEERS/limit/Cargo.toml" --target-dir "$LIMIT_TARGET_DIR" >&2
    LIMIT=$LIMIT_TARGET_DIR/release/limit
    # The shared load test runs from a copy: its raw files then stay with this run's results.
    mkdir -p "$OUT/peers"
    cp -r "$PEERS/bench.sh" "$PEERS/lib" "$OUT/peers/"
fi
: >"$OUT/results.jsonl"
result all binary "{\"bytes\": $(stat -c %s "$BIN"), \"rev\": \"$REV\", \"path\": \"$BIN\"}"

# --- the raw argon2id rate with userd's parameters (what a login costs) ----------------------
if [ "$SKIP_LOAD" != 1 ]; then
    log "argon2id rate with userd's parameters (${HASH_SECONDS}s)"
    if hash=$("$BIN" hash-rate --seconds "$HASH_SECONDS" 2>"$OUT/hash-rate.err"); then
        result all hash_rate "$hash"
    else
        log "this binary has no 'hash-rate' command: the login target is left unjudged"
    fi
fi

# --- one database ---------------------------------------------------------------------------
SERVER_PID=""
URL=""
start() { # log-file: starts userd with ENV, sets SERVER_PID, URL and STARTUP_MS
    local logf=$1 t0 i=0
    t0=$(date +%s%N)
    env "${ENV[@]}" USERD_BIND=127.0.0.1:0 "$BIN" serve >/dev/null 2>"$logf" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    until grep -q "listening on" "$logf" 2>/dev/null; do
        kill -0 "$SERVER_PID" 2>/dev/null || die "userd exited at start: $(tail -n 3 "$logf")"
        i=$((i + 1))
        [ "$i" -lt 30000 ] || die "userd did not listen within a minute"
        sleep 0.002
    done
    STARTUP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
    URL=$(grep -o 'http://[0-9.:]*' "$logf" | head -n 1)
}

memory() { # pid -> JSON fields: VmRSS, RssAnon, RssFile, VmHWM (KiB), threads
    python3 - "$1" <<'EOF'
import json, os, sys
pid = sys.argv[1]
status = {}
for line in open(f"/proc/{pid}/status"):
    key, _, value = line.partition(":")
    status[key] = value.split()[0] if value.split() else ""
print(json.dumps({k.lower(): int(status[k]) for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")} |
                 {"threads": len(os.listdir(f"/proc/{pid}/task"))}))
EOF
}

wrk_phase() { # name mode path conc secs [pool] -> JSON of the phase (normalised like the shared test's)
    local name=$1 mode=$2 path=$3 conc=$4 secs=$5 pool=${6:-}
    local raw=$OUT/$BACKEND-$name.raw
    BENCH_MODE=$mode BENCH_POOL=$pool BENCH_OUT=$raw \
        wrk -t 2 -c "$conc" -d "${secs}s" --timeout 10s -s "$OUT/peers/lib/wrk_pool.lua" "$URL$path" \
        >"$OUT/$BACKEND-$name.txt" 2>&1
    python3 "$OUT/peers/lib/bench_report.py" norm wrk "$raw"
}

for BACKEND in $BACKENDS; do
    data=$OUT/data/$BACKEND
    rm -rf "$data"
    mkdir -p "$data"
    ENV=(USERD_DATA_DIR="$data" USERD_RATE_LIMIT=off USERD_LOG=warn)
    if [ "$BACKEND" = postgres ]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
        PG_CREATED=1
        ENV+=(USERD_DATABASE_URL="$PG_URL/$PG_DB")
    fi

    log "$BACKEND: first start on an empty database"
    start "$data/first.log"
    first_ms=$STARTUP_MS
    sleep 2
    idle=$(memory "$SERVER_PID")
    stop "$SERVER_PID"
    notls_ms=null
    if [ "$BACKEND" = postgres ] && [[ $PG_URL != *sslmode* ]]; then
        # sqlx negotiates TLS when the server offers it; the same start without it, for comparison.
        saved=("${ENV[@]}")
        ENV+=(USERD_DATABASE_URL="$PG_URL/$PG_DB?sslmode=disable")
        start "$data/notls.log"
        notls_ms=$STARTUP_MS
        stop "$SERVER_PID"
        ENV=("${saved[@]}")
    fi

    seed_s=null
    if [ "$SKIP_LOAD" != 1 ]; then
        log "$BACKEND: seeding $SEED_USERS directory users"
        t0=$(date +%s%N)
        env "${ENV[@]}" "$BIN" seed --users "$SEED_USERS" --password benchmarkpassword123 2>"$data/seed.log" ||
            die "seeding failed: $(tail -n 3 "$data/seed.log")"
        seed_s=$(python3 -c "print(round(($(date +%s%N) - $t0) / 1e9, 2))")
        if [ "$BACKEND" = postgres ]; then psql "$PG_URL/$PG_DB" -qc "VACUUM ANALYZE" >/dev/null; fi
    fi
    start "$data/second.log"
    result "$BACKEND" startup "{\"first_ms\": $first_ms, \"second_ms\": $STARTUP_MS, \"notls_ms\": $notls_ms, \"seed_users\": $SEED_USERS, \"seed_s\": $seed_s}"
    result "$BACKEND" idle_memory "$idle"
    log "$BACKEND: first start ${first_ms} ms, second ${STARTUP_MS} ms, idle RSS $(python3 -c "import json,sys; print(json.loads(sys.argv[1])['vmrss'])" "$idle") KiB"

    if [ "$SKIP_LOAD" = 1 ]; then
        stop "$SERVER_PID"
        continue
    fi

    # The ceiling: the same request at the same concurrency, just before userd's.
    port=$(free_port)
    "$LIMIT" serve "$port" 2>"$OUT/$BACKEND-limit.log" &
    limit_pid=$!
    PIDS+=("$limit_pid")
    log "$BACKEND: ceiling (limit serve $port)"
    ONLY_STATUS=1 CONC=$CONC DURATION=$DURATION LOADGEN=wrk LABEL=ceiling \
        "$OUT/peers/bench.sh" "http://127.0.0.1:$port" >"$OUT/$BACKEND-ceiling.json" 2>"$OUT/$BACKEND-ceiling.err" ||
        die "the ceiling run failed: $(tail -n 5 "$OUT/$BACKEND-ceiling.err")"
    stop "$limit_pid"
    result "$BACKEND" ceiling "$(cat "$OUT/$BACKEND-ceiling.json")"

    log "$BACKEND: document 002's load test (../shared/peers/bench.sh)"
    CONC=$CONC DURATION=$DURATION FLOOD_SECS=$DURATION LOADGEN=wrk LABEL="userd $REV $BACKEND" \
        "$OUT/peers/bench.sh" "$URL" >"$OUT/$BACKEND-userd.json" 2>"$OUT/$BACKEND-userd.err" ||
        die "the load test failed: $(tail -n 5 "$OUT/$BACKEND-userd.err")"
    result "$BACKEND" userd "$(cat "$OUT/$BACKEND-userd.json")"
    raw_dir=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["raw_dir"])' "$OUT/$BACKEND-userd.json")
    case $raw_dir in /*) ;; *) raw_dir=$OUT/peers/$raw_dir ;; esac

    # Documents 000/001: the personal API token of some of the registered users (issued on
    # first use), then GET /api/users/me/ with one of them per request.
    head -n "$API_TOKENS" "$raw_dir/access.txt" | while read -r access; do
        curl -sf -H "Authorization: Bearer $access" "$URL/api/users/me/token/" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
    done >"$OUT/$BACKEND-api-tokens.txt"
    [ -s "$OUT/$BACKEND-api-tokens.txt" ] || die "no personal API token could be read"
    log "$BACKEND: GET /api/users/me/ with personal API tokens"
    result "$BACKEND" me_api_token "$(wrk_phase me bearer /api/users/me/ "$CONC" "$DURATION" "$OUT/$BACKEND-api-tokens.txt")"

    # Document 003: a substring search of the directory ($SEED_USERS seeded users).
    log "$BACKEND: GET /careers/users/?search=$SEARCH"
    total=$(curl -sf "$URL/careers/users/?search=$SEARCH" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["batch_info"]["total_users"])')
    result "$BACKEND" directory_search "$(wrk_phase search get "/careers/users/?search=$SEARCH" "$CONC" "$DURATION" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); d["matches"]=int(sys.argv[1]); print(json.dumps(d))' "$total")"

    result "$BACKEND" loaded_memory "$(memory "$SERVER_PID")"
    stop "$SERVER_PID"
    if [ "$BACKEND" = postgres ]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
        PG_CREATED=0
    fi
done

# --- the table ----------------------------------------------------------------------------
python3 "$ROOT/scripts/bench_table.py" "$OUT/results.jsonl" "$CONC" "$DURATION" "$SEARCH" >"$OUT/table.md"
cat "$OUT/table.md"
if [ "$RECORD" = 1 ]; then
    python3 "$ROOT/scripts/bench_table.py" --record "$ROOT/docs/benchmarks.md" "$OUT/table.md"
    log "recorded in docs/benchmarks.md"
fi
log "raw results: $OUT"
