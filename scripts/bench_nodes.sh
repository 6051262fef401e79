#!/usr/bin/env bash
# Several userd nodes on one PostgreSQL database: 1, 2 and 3 nodes (NODES), each on its own
# port with the same USERD_SECRET_KEY and USERD_DB_POOL connections, and the hot paths
# measured across them (one wrk per node at once, CONC connections split between them,
# req/s summed, the worst node's p99). Before that, one node alone counts the database work
# of one request of each path. Prints Markdown; docs/deployment.md and docs/benchmarks.md
# record runs.
#
#   scripts/bench_nodes.sh                     # ~5 minutes after the build
#   NODES="1 3" DURATION=5 scripts/bench_nodes.sh
#
# Database work per request, two ways, both from the server's own counters:
#   - transactions: the delta of pg_stat_database.xact_commit + xact_rollback of the
#     benchmark database. A statement outside a transaction is one transaction, so this counts
#     statements, except that a BEGIN … COMMIT block counts once whatever it holds.
#   - statements: with log_statement = 'all' set on the benchmark database alone (ALTER
#     DATABASE, applied to the node's new connections, reset afterwards), the `execute` and
#     `statement:` lines the server logs for that database, read from its log file
#     (PG_LOG, Debian's /var/log/postgresql/postgresql-<version>-main.log by default). Skipped
#     if the log cannot be read. pg_stat_statements would be simpler but needs
#     shared_preload_libraries, that is a server restart.
#   Each path's count is taken around one node's whole life (start, QUERY_SECONDS of wrk at
#   4 connections, stop: a backend flushes its counters when it exits) minus the same life
#   without requests, divided by the requests wrk completed. Caches start cold there, as on a
#   node that just started, so the first request of each user costs its misses.
#
# Settings: NODES="1 2 3" PG_URL=postgres://postgres@127.0.0.1:5432 PG_DB=userd_nodes
#   POOL=8 (USERD_DB_POOL per node) CONC=32 DURATION=10 QUERY_SECONDS=3 N_USERS=200
#   SEED_USERS=10000 SEARCH=developer BENCH_BIN=path (instead of building) PEERS=../shared/peers
#   OUT=directory for raw results (default: a new one under ${TMPDIR:-/tmp})
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

NODES=${NODES:-"1 2 3"}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_DB=${PG_DB:-userd_nodes}
POOL=${POOL:-8}
CONC=${CONC:-32}
DURATION=${DURATION:-10}
QUERY_SECONDS=${QUERY_SECONDS:-3}
N_USERS=${N_USERS:-200}
SEED_USERS=${SEED_USERS:-10000}
SEARCH=${SEARCH:-developer}
PEERS=${PEERS:-$ROOT/../shared/peers}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/userd-nodes.XXXXXX")}
mkdir -p "$OUT"

die() { echo "bench_nodes.sh: $*" >&2; exit 1; }
log() { echo "[bench_nodes.sh $(date +%H:%M:%S)] $*" >&2; }

for tool in curl python3 psql; do command -v "$tool" >/dev/null || die "$tool is needed"; done
command -v wrk >/dev/null || die "wrk is needed (Debian: apt-get install wrk)"
[ -f "$PEERS/lib/wrk_pool.lua" ] || die "the shared peers are not at $PEERS (set PEERS=…/shared/peers)"
psql "$PG_URL/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1 || die "PostgreSQL does not answer at $PG_URL"
for n in $NODES; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "NODES holds '$n', not a number of nodes"; done

PIDS=()
PG_CREATED=0
LOGGING=0
cleanup() {
    local pid
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    if [ "$LOGGING" = 1 ]; then
        psql "$PG_URL/postgres" -qc "ALTER DATABASE $PG_DB RESET log_statement" >/dev/null 2>&1 || true
    fi
    if [ "$PG_CREATED" = 1 ]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$OUT/data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
set -E
trap 'echo "bench_nodes.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$(realpath "$BENCH_BIN")
else
    log "building userd (release)"
    cargo build --release --locked >&2
    BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release/userd")
fi
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || REV="$REV+changes"
cp -r "$PEERS/lib" "$OUT/lib"

psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
PG_CREATED=1
DB_URL=$PG_URL/$PG_DB
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
mkdir -p "$OUT/data"

# --- nodes ----------------------------------------------------------------------------------
NODE_PIDS=()
NODE_URLS=()
start_nodes() { # count
    local i logf t
    NODE_PIDS=()
    NODE_URLS=()
    for i in $(seq 1 "$1"); do
        mkdir -p "$OUT/data/node$i"
        logf=$OUT/data/node$i/serve.log
        USERD_DATA_DIR="$OUT/data/node$i" USERD_DATABASE_URL="$DB_URL" USERD_SECRET_KEY="$SECRET" \
            USERD_DB_POOL="$POOL" USERD_RATE_LIMIT=off USERD_LOG=warn USERD_BIND=127.0.0.1:0 \
            "$BIN" serve >/dev/null 2>"$logf" &
        NODE_PIDS+=($!)
        PIDS+=($!)
    done
    for i in $(seq 1 "$1"); do
        logf=$OUT/data/node$i/serve.log
        t=0
        until grep -q "listening on" "$logf" 2>/dev/null; do
            kill -0 "${NODE_PIDS[$((i - 1))]}" 2>/dev/null || die "node $i exited at start: $(tail -n 3 "$logf")"
            t=$((t + 1))
            [ "$t" -lt 6000 ] || die "node $i did not listen within a minute"
            sleep 0.01
        done
        NODE_URLS+=("$(grep -o 'http://[0-9.:]*' "$logf" | head -n 1)")
    done
}
stop_nodes() {
    local pid
    for pid in "${NODE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    NODE_PIDS=()
}

# The hot paths: name, wrk mode, path, request pool.
PATHS=(
    "status|get|/api/users/status/|"
    "profile|bearer|/api/users/profile/|$OUT/access.txt"
    "refresh|post|/api/users/refresh-token/|$OUT/refresh.jsonl"
    "me_api_token|bearer|/api/users/me/|$OUT/api-tokens.txt"
    "directory_search|get|/careers/users/?search=$SEARCH|"
    "login|post|/api/users/login/|$OUT/login.jsonl"
)

wrk_run() { # url mode path pool conc threads secs out.json
    local url=$1 mode=$2 path=$3 pool=$4 conc=$5 threads=$6 secs=$7 out=$8
    BENCH_MODE=$mode BENCH_POOL=$pool BENCH_OUT=$out.raw \
        wrk -t "$threads" -c "$conc" -d "${secs}s" --timeout 10s -s "$OUT/lib/wrk_pool.lua" "$url$path" >"$out.txt" 2>&1
    python3 "$OUT/lib/bench_report.py" norm wrk "$out.raw" >"$out"
}

# --- users: seeded directory, registered users with tokens ---------------------------------
log "seeding $SEED_USERS directory users"
USERD_DATA_DIR="$OUT/data/seed" USERD_DATABASE_URL="$DB_URL" USERD_SECRET_KEY="$SECRET" USERD_LOG=warn \
    "$BIN" seed --users "$SEED_USERS" --password benchmarkpassword123 2>"$OUT/seed.log" ||
    die "seeding failed: $(tail -n 3 "$OUT/seed.log")"
start_nodes 1
log "registering $N_USERS users"
python3 "$OUT/lib/register_users.py" "${NODE_URLS[0]}" "$N_USERS" "$OUT" 16 30 >"$OUT/register.json"
head -n 50 "$OUT/access.txt" | while read -r access; do
    curl -sf -H "Authorization: Bearer $access" "${NODE_URLS[0]}/api/users/me/token/" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
done >"$OUT/api-tokens.txt"
[ -s "$OUT/api-tokens.txt" ] || die "no personal API token could be read"
stop_nodes
psql "$DB_URL" -qc "VACUUM ANALYZE" >/dev/null

# --- database work per request (one node) --------------------------------------------------
PG_LOG=${PG_LOG:-$(ls /var/log/postgresql/postgresql-*-main.log 2>/dev/null | head -n 1 || true)}
if [ -n "$PG_LOG" ] && [ -r "$PG_LOG" ]; then
    psql "$PG_URL/postgres" -qc "ALTER DATABASE $PG_DB SET log_statement = 'all'" >/dev/null
    LOGGING=1
else
    log "the server's log is not readable (PG_LOG): statements are not counted, transactions are"
    PG_LOG=""
fi
counters() { # -> JSON: the database's counters, and the log's size
    local size=0
    [ -n "$PG_LOG" ] && size=$(stat -c %s "$PG_LOG")
    psql "$PG_URL/postgres" -qAt -c "SELECT pg_stat_clear_snapshot()" -c "SELECT json_build_object(
        'xacts', xact_commit + xact_rollback, 'returned', tup_returned, 'fetched', tup_fetched,
        'written', tup_inserted + tup_updated + tup_deleted, 'log', $size)
        FROM pg_stat_database WHERE datname = '$PG_DB'" | tail -n 1
}
one_life() { # name mode path pool -> $OUT/q-NAME.json: counters before and after, wrk's result
    local name=$1 mode=$2 path=$3 pool=$4 before after
    before=$(counters)
    start_nodes 1
    if [ "$mode" = idle ]; then
        sleep "$QUERY_SECONDS"
        echo '{"requests": 0}' >"$OUT/q-$name.wrk.json"
    else
        wrk_run "${NODE_URLS[0]}" "$mode" "$path" "$pool" 4 1 "$QUERY_SECONDS" "$OUT/q-$name.wrk.json"
    fi
    stop_nodes
    sleep 1 # the backends' exit flushes their counters
    after=$(counters)
    python3 - "$name" "$before" "$after" "$OUT/q-$name.wrk.json" "$PG_LOG" "$PG_DB" >"$OUT/q-$name.json" <<'EOF'
import json, re, sys
name, before, after, wrk, log, db = sys.argv[1:7]
before, after = json.loads(before), json.loads(after)
out = {"name": name, "requests": json.load(open(wrk))["requests"]}
for k in ("xacts", "returned", "fetched", "written"):
    out[k] = after[k] - before[k]
statements = {}
if log:
    with open(log, "rb") as f:
        f.seek(before["log"])
        text = f.read(after["log"] - before["log"]).decode("utf-8", "replace")
    for line in text.splitlines():
        if f"@{db} " not in line:
            continue
        m = re.search(r"LOG:  (?:execute [^:]*|statement): (.*)$", line)
        if m:
            sql = re.sub(r"\s+", " ", m.group(1)).strip()
            statements[sql] = statements.get(sql, 0) + 1
    out["statements"] = statements
print(json.dumps(out))
EOF
}
log "counting database work per request (one node, ${QUERY_SECONDS}s per path)"
one_life idle idle "" ""
for entry in "${PATHS[@]}"; do
    IFS='|' read -r name mode path pool <<<"$entry"
    one_life "$name" "$mode" "$path" "$pool"
done
if [ "$LOGGING" = 1 ]; then
    psql "$PG_URL/postgres" -qc "ALTER DATABASE $PG_DB RESET log_statement" >/dev/null
    LOGGING=0
fi

# --- throughput across 1, 2, 3 nodes -------------------------------------------------------
for n in $NODES; do
    log "$n node(s), USERD_DB_POOL=$POOL each, $CONC connections in all"
    start_nodes "$n"
    threads=1
    [ "$n" = 1 ] && threads=2
    per=$(( (CONC + n - 1) / n ))
    for entry in "${PATHS[@]}"; do
        IFS='|' read -r name mode path pool <<<"$entry"
        wrk_pids=()
        for i in $(seq 1 "$n"); do
            wrk_run "${NODE_URLS[$((i - 1))]}" "$mode" "$path" "$pool" "$per" "$threads" "$DURATION" \
                "$OUT/n$n-$name-node$i.json" &
            wrk_pids+=($!)
        done
        for pid in "${wrk_pids[@]}"; do wait "$pid" || die "wrk failed ($name, $n nodes)"; done
    done
    rss=0
    for pid in "${NODE_PIDS[@]}"; do rss=$((rss + $(awk '/VmHWM/ {print $2}' "/proc/$pid/status"))); done
    echo "{\"nodes\": $n, \"peak_rss_kib_sum\": $rss}" >"$OUT/n$n-memory.json"
    stop_nodes
done

python3 - "$OUT" "$NODES" "$POOL" "$CONC" "$DURATION" "$REV" "$SEED_USERS" "$SEARCH" <<'EOF'
import datetime, glob, json, os, re, sys
out, nodes, pool, conc, duration, rev, seeded, search = sys.argv[1:9]
nodes = [int(n) for n in nodes.split()]
names = ["status", "profile", "refresh", "me_api_token", "directory_search", "login"]
titles = {
    "status": "`GET /api/users/status/`", "profile": "`GET /api/users/profile/` (JWT)",
    "refresh": "`POST /api/users/refresh-token/`", "me_api_token": "`GET /api/users/me/` (API token)",
    "directory_search": f"`GET /careers/users/?search={search}` ({int(seeded):,} seeded)",
    "login": "`POST /api/users/login/`",
}
print(f"### bench_nodes.sh, {datetime.date.today().isoformat()}, `{rev}`\n")
print(f"PostgreSQL, USERD_DB_POOL={pool} per node, {conc} wrk connections in all split between the nodes, "
      f"{duration} s per path, {os.cpu_count()} cores shared by every node, wrk and PostgreSQL.\n")
print("| path | " + " | ".join(f"{n} node{'s' if n > 1 else ''}: req/s (worst p99)" for n in nodes) + " |")
print("| --- | " + " | ".join("---" for _ in nodes) + " |")
for name in names:
    cells = []
    for n in nodes:
        runs = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/n{n}-{name}-node*.json"))]
        if not runs:
            cells.append("—")
            continue
        rps = sum(r["ok_rps"] for r in runs)
        bad = sum(r["non2xx"] + r["errors"] for r in runs)
        cell = f"{rps:,.0f} ({max(r['p99_ms'] for r in runs):.1f} ms)"
        if bad:
            cell += f", {bad} failed"
        cells.append(cell)
    print(f"| {titles[name]} | " + " | ".join(cells) + " |")
mem = []
for n in nodes:
    p = f"{out}/n{n}-memory.json"
    mem.append(f"{json.load(open(p))['peak_rss_kib_sum'] * 1024 / 1e6:.0f} MB" if os.path.exists(p) else "—")
print("| peak RSS, all nodes together | " + " | ".join(mem) + " |")

def short(sql):
    """A statement with its column list folded, cut at 140 characters."""
    sql = re.sub(r"^SELECT (?!COUNT)(.{30,}?) FROM ", "SELECT … FROM ", sql)
    sql = re.sub(r"^INSERT INTO (\S+) \((.{30,}?)\) VALUES \(.*?\)", r"INSERT INTO \1 (…) VALUES (…)", sql)
    return sql[:140] + ("…" if len(sql) > 140 else "")


idle = json.load(open(f"{out}/q-idle.json"))
print("\nDatabase work per request on PostgreSQL (one node; a node's whole life minus an idle one, "
      "divided by the requests):\n")
have_statements = "statements" in idle
head = "| path | requests | transactions | " + ("statements | " if have_statements else "") + \
    "rows read (returned + fetched) | rows written |"
print(head)
print("|" + " --- |" * (head.count("|") - 1))
details = []
for name in names:
    p = f"{out}/q-{name}.json"
    if not os.path.exists(p):
        continue
    q = json.load(open(p))
    n = q["requests"] or 1
    per = lambda k: (q[k] - idle[k]) / n
    row = f"| {titles[name]} | {q['requests']:,} | {per('xacts'):.2f} | "
    if have_statements:
        total = sum(q["statements"].values()) - sum(idle["statements"].values())
        row += f"{total / n:.2f} | "
        counts = {}
        for sql, c in q["statements"].items():
            d = c - idle["statements"].get(sql, 0)
            if d / n >= 0.01:
                counts[sql] = d / n
        details.append((titles[name], sorted(counts.items(), key=lambda kv: -kv[1])))
    row += f"{(per('returned') + per('fetched')):.1f} | {per('written'):.2f} |"
    print(row)
if details:
    print("\nStatements per request (≥ 0.01), as the server logged them:\n")
    for title, counts in details:
        print(f"- {title}: " + ("; ".join(f"{c:.2f} × `{short(sql)}`" for sql, c in counts) or "none"))
EOF
log "raw results: $OUT"
