#!/usr/bin/env python3
"""The Markdown table of a scripts/bench.sh run (standard library only).

  bench_table.py RESULTS.jsonl CONC DURATION SEARCH    -> the dated table on stdout
  bench_table.py --record docs/benchmarks.md TABLE.md  -> inserts the table below the marker

Each figure stands beside its target (issue 13): status >= 0.7 of the ceiling measured in the
same run; profile >= 0.5 and p99 < 5 ms; refresh >= 0.12; login >= 0.9 of the raw argon2id
rate; status p99 during the login flood < 10 ms; idle RSS < 30 MB; RSS under load < 100 MB;
start-up < 200 ms. MB are 10^6 bytes.
"""
import datetime
import json
import os
import platform
import sys

MARKER = "<!-- bench.sh: runs are inserted below this line, newest first -->"
BACKEND_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def load(path):
    by = {}
    for line in open(path):
        if line.strip():
            d = json.loads(line)
            by.setdefault(d["backend"], {})[d["measure"]] = d
    return by


def mb(kib):
    return kib * 1024 / 1e6


def verdict(ok):
    if ok is None:
        return "—"
    return "met" if ok else "**not met**"


def rate_cell(phase, ceiling):
    if not phase:
        return "—", None
    share = phase["ok_rps"] / ceiling if ceiling else None
    text = f"{phase['ok_rps']:,.0f} req/s, p99 {phase['p99_ms']:.2f} ms"
    if share is not None:
        text += f", {share:.2f} of ceiling"
    if phase.get("non2xx") or phase.get("errors"):
        text += f" ({phase['non2xx']} non-2xx, {phase['errors']} errors)"
    return text, share


def rows_for(r, hash_rate):
    """(measure, target, cell, met) for one backend."""
    rows = []
    ceiling = (r.get("ceiling") or {}).get("status")
    ceiling_rps = ceiling["ok_rps"] if ceiling else None
    userd = r.get("userd") or {}
    if ceiling:
        rows.append(("ceiling: `limit serve`, `GET /api/users/status/`", "",
                     f"{ceiling['ok_rps']:,.0f} req/s, p99 {ceiling['p99_ms']:.2f} ms", None))

    def share_row(name, phase, floor, p99_max=None):
        if not phase:
            return
        text, share = rate_cell(phase, ceiling_rps)
        target = f"≥ {floor} of ceiling" + (f", p99 < {p99_max} ms" if p99_max else "") if floor else "none set"
        ok = None
        if phase and floor and share is not None:
            ok = share >= floor and (p99_max is None or phase["p99_ms"] < p99_max)
        rows.append((name, target, text, ok))

    if userd:
        share_row("`GET /api/users/status/`", userd.get("status"), 0.7)
        share_row("`GET /api/users/profile/` (JWT)", userd.get("profile"), 0.5, 5)
        share_row("`POST /api/users/refresh-token/`", userd.get("refresh"), 0.12)
        login = userd.get("login")
        if login:
            text = f"{login['ok_rps']:,.1f} req/s, p99 {login['p99_ms']:,.0f} ms"
            ok = None
            if hash_rate:
                share = login["ok_rps"] / hash_rate["per_s"]
                text += f", {share:.2f} of argon2id's {hash_rate['per_s']:,.1f}/s"
                ok = share >= 0.9
            rows.append(("`POST /api/users/login/`", "≥ 0.9 of the raw argon2id rate", text, ok))
        flood = userd.get("flood_status")
        if flood:
            rows.append(("status during a login flood (4 connections)", "p99 < 10 ms",
                         f"p99 {flood['p99_ms']:.2f} ms, {flood['ok_rps']:,.0f} req/s "
                         f"(logins {userd['flood_login']['ok_rps']:,.1f}/s)", flood["p99_ms"] < 10))
    share_row("`GET /api/users/me/` (personal API token)", r.get("me_api_token"), None)
    search = r.get("directory_search")
    if search:
        text, _ = rate_cell(search, ceiling_rps)
        rows.append((f"`GET /careers/users/?search=…` ({search['matches']:,} of "
                     f"{r['startup']['seed_users']:,} seeded match)", "none set", text, None))
    idle = r.get("idle_memory")
    if idle:
        rows.append(("idle RSS after the first start", "< 30 MB",
                     f"{mb(idle['vmrss']):.1f} MB ({mb(idle['rssanon']):.1f} anonymous, "
                     f"{mb(idle['rssfile']):.1f} file-backed), {idle['threads']} threads",
                     mb(idle["vmrss"]) < 30))
    loaded = r.get("loaded_memory")
    if loaded:
        rows.append(("RSS under load (peak; after the run)", "< 100 MB",
                     f"{mb(loaded['vmhwm']):.1f} MB; {mb(loaded['vmrss']):.1f} MB "
                     f"({mb(loaded['rssanon']):.1f} anonymous), {loaded['threads']} threads",
                     mb(loaded["vmhwm"]) < 100))
    st = r.get("startup")
    if st:
        rows.append(("start to `listening on`, empty database", "< 200 ms", f"{st['first_ms']} ms",
                     st["first_ms"] < 200))
        text = f"{st['second_ms']} ms"
        if st.get("seed_s") is not None:
            text += f" (after seeding {st['seed_users']:,} users in {st['seed_s']:.1f} s)"
        rows.append(("start to `listening on`, second start", "", text, None))
        if st.get("notls_ms") is not None:
            rows.append(("start to `listening on`, existing database, `sslmode=disable`", "",
                         f"{st['notls_ms']} ms", None))
    reg = userd.get("register")
    if reg:
        rows.append(("registration (setup, 16 parallel)", "", f"{reg['per_s']:,.1f} users/s", None))
    return rows


def table(path, conc, duration, search):
    by = load(path)
    common = by.pop("all", {})
    binary = common.get("binary", {})
    hash_rate = common.get("hash_rate")
    backends = [b for b in ("sqlite", "postgres") if b in by] + [b for b in by if b not in ("sqlite", "postgres")]
    per = {b: rows_for(by[b], hash_rate) for b in backends}
    load_avg = ""
    for b in backends:
        u = by[b].get("userd")
        if u:
            load_avg += f" {BACKEND_NAMES.get(b, b)} {u['loadavg1_before']}→{u['loadavg1_after']};"
    out = [
        f"### bench.sh, {datetime.date.today().isoformat()}, `{binary.get('rev', '?')}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load generator (wrk, 2 threads) on the same cores; "
        f"{conc} connections, {duration} s per phase; search `{search}`; release binary "
        f"{binary.get('bytes', 0) / 1e6:.1f} MB."
        + (f" Raw argon2id ({hash_rate['params']}, {hash_rate['threads']} threads): "
           f"{hash_rate['per_s']:,.1f} verifications/s." if hash_rate else "")
        + (f" Load average (1 min) before → after each load test:{load_avg.rstrip(';')}." if load_avg else ""),
        "",
    ]
    # One row per measure, a value and a verdict per backend.
    cols = ["measure", "target"]
    for b in backends:
        cols += [BACKEND_NAMES.get(b, b), "met?"]
    out.append("| " + " | ".join(cols) + " |")
    out.append("| " + " | ".join("---" for _ in cols) + " |")
    order = []
    for b in backends:
        for name, target, _, _ in per[b]:
            if name not in [o[0] for o in order]:
                order.append((name, target))
    for name, target in order:
        cells = [name, target]
        for b in backends:
            hit = [row for row in per[b] if row[0] == name]
            if hit:
                cells += [hit[0][2], verdict(hit[0][3]) if hit[0][1] else ""]
            else:
                cells += ["—", ""]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def record(doc_path, table_path):
    doc = open(doc_path).read()
    block = open(table_path).read().rstrip("\n")
    if MARKER not in doc:
        sys.exit(f"{doc_path} has no line {MARKER!r} to insert below")
    stamped = f"<!-- bench.sh run: begin -->\n{block}\n<!-- bench.sh run: end -->"
    doc = doc.replace(MARKER, MARKER + "\n\n" + stamped, 1)
    open(doc_path, "w").write(doc)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--record":
        record(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5:
        sys.stdout.write(table(*sys.argv[1:5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
