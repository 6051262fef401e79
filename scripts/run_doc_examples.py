#!/usr/bin/env python3
"""Run the client examples of an API document against a live server.

Usage:
    python3 scripts/run_doc_examples.py --spec PATH --base-url http://127.0.0.1:PORT \
        --token TOKEN [--json-report] [--require-all]

Every fenced code block in a supported language (bash, python, javascript, ruby,
php, go) is extracted, `<BASE_URL>` and `<ACCESS_TOKEN>` are replaced by the given
values (nothing else is changed: the examples must work as written), and the block
is run with its interpreter. Blocks run in document order; after a block that calls
`/api/users/me/token/regenerate/` the old token is dead, so the new token is parsed
from that block's output and used for every following block.

A block fails if it exits non-zero, times out, prints nothing on stdout, prints an
error marker (see ERROR_MARKERS), or prints something that is not the answer its
endpoint documents (see check_output). A block whose interpreter (or the library the
example needs: `requests`, php's curl extension, a global `fetch`) is missing is
skipped, or counted as a failure with --require-all.

Standard library only. Exit status: 0 if no block failed, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

REGENERATE_PATH = "/api/users/me/token/regenerate/"

# Substrings that only appear in stdout when a request went wrong (a 401 body,
# a FastAPI/DRF-style error body, an uncaught Python exception, an error page).
ERROR_MARKERS = ("Not authenticated", "detail", "Traceback", "Error", "error")

# What the examples print when a field they read was absent (Go, JS, Python, PHP/Ruby).
MISSING_VALUES = {"", "<nil>", "undefined", "null", "None", "nil"}

# Tokens and URLs are pasted into string literals of six languages; refuse anything
# that one of them would interpret ($ in bash/PHP, # in Ruby, \ everywhere, quotes).
SAFE_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=:-]+$")
SAFE_URL = re.compile(r"^https?://[A-Za-z0-9._~:/%@\[\]-]+$")

TIMEOUTS = {"go": 60}
DEFAULT_TIMEOUT = 20
OUTPUT_LIMIT = 2000


@dataclass
class Block:
    section: str
    language: str
    code: str
    line: int  # 1-based line of the opening fence, for messages


# --------------------------------------------------------------------------- parsing

FENCE_OPEN = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)\s*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LANG_ALIASES = {
    "bash": "bash", "sh": "bash", "shell": "bash", "curl": "bash",
    "python": "python", "py": "python", "python3": "python",
    "javascript": "javascript", "js": "javascript", "mjs": "javascript",
    "ruby": "ruby", "rb": "ruby",
    "php": "php",
    "go": "go", "golang": "go",
}


def extract_blocks(text: str) -> list[Block]:
    """Return the runnable fenced blocks, each tagged with the nearest heading above."""
    blocks: list[Block] = []
    section = "(no heading)"
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            h = HEADING.match(lines[i])
            if h:
                section = h.group(2)
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
        start = i
        body: list[str] = []
        i += 1
        # The block ends at a fence of the same character, at least as long.
        close = re.compile(r"^\s*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        while i < len(lines) and not close.match(lines[i]):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line)
            i += 1
        i += 1  # skip the closing fence
        if lang in LANG_ALIASES:
            blocks.append(Block(section, LANG_ALIASES[lang], "\n".join(body) + "\n", start + 1))
    return blocks


# ---------------------------------------------------------------- interpreters

def _quiet(cmd: list[str], timeout: int = 20) -> bool:
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _python() -> str | None:
    return shutil.which("python3") or sys.executable or None


_availability: dict[str, str | None] = {}


def missing_reason(language: str) -> str | None:
    """None if `language` can run here, else why not (checked once per language)."""
    if language in _availability:
        return _availability[language]
    reason: str | None = None
    if language == "bash":
        if not shutil.which("bash"):
            reason = "bash not found"
        elif not shutil.which("curl"):
            reason = "curl not found (the bash examples use it)"
    elif language == "python":
        py = _python()
        if not py:
            reason = "python3 not found"
        elif not _quiet([py, "-c", "import requests"]):
            reason = "python3 has no 'requests' package (pip install requests)"
    elif language == "javascript":
        if not shutil.which("node"):
            reason = "node not found"
        elif not _quiet(["node", "-e", "typeof fetch === 'function' || process.exit(1)"]):
            reason = "node has no global fetch (needs Node.js 18 or newer)"
    elif language == "ruby":
        if not shutil.which("ruby"):
            reason = "ruby not found"
    elif language == "php":
        if not shutil.which("php"):
            reason = "php not found (php-cli)"
        elif not _quiet(["php", "-r", "exit(function_exists('curl_init') ? 0 : 1);"]):
            reason = "php has no curl extension (php-curl)"
    elif language == "go":
        if not shutil.which("go"):
            reason = "go not found"
    else:
        reason = f"no runner for {language}"
    _availability[language] = reason
    return reason


def command_for(block: Block, workdir: str, gocache: str) -> tuple[list[str], dict[str, str]]:
    """Write the block's source into workdir; return the command and its environment."""
    env = dict(os.environ)
    # Loopback must never go through a proxy that the environment may name.
    for var in ("NO_PROXY", "no_proxy"):
        env[var] = ",".join(filter(None, [env.get(var, ""), "127.0.0.1", "localhost", "::1"]))

    def write(name: str) -> str:
        path = os.path.join(workdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(block.code)
        return path

    lang = block.language
    if lang == "bash":
        return ["bash", write("example.sh")], env
    if lang == "python":
        return [_python() or "python3", write("example.py")], env
    if lang == "javascript":
        # .mjs: an ES module, so the examples' top-level `await` is allowed.
        return ["node", write("example.mjs")], env
    if lang == "ruby":
        return ["ruby", write("example.rb")], env
    if lang == "php":
        return ["php", write("example.php")], env
    if lang == "go":
        # A module of its own in a throwaway folder, standard library only: no network,
        # no toolchain switch, and nothing from the caller's GOFLAGS/GOPATH/go.work.
        with open(os.path.join(workdir, "go.mod"), "w", encoding="utf-8") as f:
            f.write("module example\n")
        write("main.go")
        env.pop("GOFLAGS", None)
        env.update({
            "GOCACHE": gocache,
            "GOPATH": os.path.join(workdir, "gopath"),
            "GO111MODULE": "on",
            "GOWORK": "off",
            "GOPROXY": "off",
            "GOSUMDB": "off",
            "GOTOOLCHAIN": "local",
        })
        return ["go", "run", "main.go"], env
    raise ValueError(lang)


def run_process(cmd: list[str], cwd: str, env: dict[str, str], timeout: int) -> tuple[int | None, str, str]:
    """Run cmd; return (exit code or None on timeout, stdout, stderr).

    The child gets its own process group so a timeout also ends whatever it started
    (curl under bash, the compiled binary under `go run`)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        code = None
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


# ------------------------------------------------------------------- checking

def endpoint_of(code: str) -> str | None:
    m = re.search(r"/api/[A-Za-z0-9_/.-]*", code)
    return m.group(0) if m else None


def parse_new_token(stdout: str) -> str | None:
    m = re.search(r"New token:\s*(\S+)", stdout) or \
        re.search(r"""["']access_token["']\s*(?::|=>)\s*["']([^"']+)["']""", stdout)
    if not m:
        return None
    tok = m.group(1)
    return None if tok in MISSING_VALUES else tok


def check_output(endpoint: str | None, stdout: str) -> str | None:
    """Beyond the error markers: does stdout look like the documented answer?

    Catches outputs such as Go's `map[]` or JS's `Files: undefined` that an error
    response produces without any error word in them."""
    if endpoint is None:
        return None
    if endpoint.endswith("/users/me/"):
        for key in ("email", "access_token"):
            if key not in stdout:
                return f"output lacks '{key}' (expected the user's JSON)"
    elif endpoint.endswith("/users/me/token/"):
        if "access_token" not in stdout:
            return "output lacks 'access_token'"
    elif endpoint.endswith("/users/storage/"):
        if not (re.search(r"Files: \d+, Size: \d+ bytes", stdout)
                or ("total_bytes" in stdout and "file_count" in stdout)):
            return "output is neither 'Files: N, Size: N bytes' nor JSON with total_bytes and file_count"
    return None


def truncate(s: str) -> str:
    return s if len(s) <= OUTPUT_LIMIT else s[:OUTPUT_LIMIT] + f"\n... [{len(s) - OUTPUT_LIMIT} more chars]"


# ----------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", required=True, help="the API document (markdown)")
    ap.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000")
    ap.add_argument("--token", required=True, help="the user's API access token")
    ap.add_argument("--json-report", action="store_true", help="end with one JSON summary line")
    ap.add_argument("--require-all", action="store_true",
                    help="a block whose interpreter is missing fails instead of being skipped")
    args = ap.parse_args(argv)

    base_url = args.base_url.rstrip("/")  # the examples append "/api/..."
    if not SAFE_URL.match(base_url):
        ap.error(f"--base-url {args.base_url!r} has characters the examples' string literals cannot hold")
    if not SAFE_TOKEN.match(args.token):
        ap.error("--token has characters the examples' string literals cannot hold")
    try:
        with open(args.spec, encoding="utf-8") as f:
            blocks = extract_blocks(f.read())
    except OSError as e:
        ap.error(f"cannot read --spec: {e}")

    token = args.token
    passed = failed = skipped = 0
    ran: list[str] = []

    if not blocks:
        print(f"FAIL no runnable code block found in {args.spec}", flush=True)
        failed = 1

    with tempfile.TemporaryDirectory(prefix="doc-examples-") as tmp:
        gocache = os.path.join(tmp, "gocache")  # shared by the Go blocks of this run
        for n, block in enumerate(blocks):
            label = f"{block.section} {block.language}"
            reason = missing_reason(block.language)
            if reason:
                if args.require_all:
                    failed += 1
                    print(f"FAIL {label}\n  interpreter missing ({block.language}): {reason}", flush=True)
                else:
                    skipped += 1
                    print(f"SKIP {label}\n  interpreter missing ({block.language}): {reason}", flush=True)
                continue

            code = block.code.replace("<BASE_URL>", base_url).replace("<ACCESS_TOKEN>", token)
            runnable = Block(block.section, block.language, code, block.line)
            workdir = os.path.join(tmp, f"block{n:03d}")
            os.makedirs(workdir)
            cmd, env = command_for(runnable, workdir, gocache)
            timeout = TIMEOUTS.get(block.language, DEFAULT_TIMEOUT)
            if block.language not in ran:
                ran.append(block.language)
            try:
                rc, out, err = run_process(cmd, workdir, env, timeout)
            except OSError as e:
                rc, out, err = -1, "", f"could not start {cmd[0]}: {e}"

            problems: list[str] = []
            if rc is None:
                problems.append(f"timed out after {timeout} s")
            elif rc != 0:
                problems.append(f"exit code {rc}")
            if not out.strip():
                problems.append("nothing printed on stdout")
            markers = [m for m in ERROR_MARKERS if m in out]
            if markers:
                problems.append("stdout contains " + ", ".join(repr(m) for m in markers))

            endpoint = endpoint_of(block.code)
            if endpoint == REGENERATE_PATH:
                new = parse_new_token(out)
                if new is None:
                    problems.append("no new token in the output ('New token: X' or \"access_token\": \"X\")")
                elif new == token:
                    problems.append("the 'new' token equals the old one")
                elif not SAFE_TOKEN.match(new):
                    problems.append(f"new token {new!r} cannot be pasted into the following examples")
                else:
                    # The server has rotated the token, whatever else went wrong:
                    # every following block must use the new one.
                    token = new
            elif not problems:
                bad = check_output(endpoint, out)
                if bad:
                    problems.append(bad)

            if problems:
                failed += 1
                print(f"FAIL {label}", flush=True)
                print(f"  ({'; '.join(problems)}; block at line {block.line} of the spec)")
                print("  --- stdout ---\n" + truncate(out))
                print("  --- stderr ---\n" + truncate(err), flush=True)
            else:
                passed += 1
                print(f"PASS {label}", flush=True)

    if args.json_report:
        print(json.dumps({"passed": passed, "failed": failed, "skipped": skipped, "languages": ran}),
              flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
