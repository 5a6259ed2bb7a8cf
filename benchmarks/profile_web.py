"""Profile of the web login (issue 17): py-spy on ``dingsync serve`` while logins run.

Same set-up as ``bench_web.py`` (sandbox with latency 0 and no QPS limit in its own process, a
synced SQLite directory, ``dingsync serve`` in a child process); ``py-spy record --format raw``
samples the service (every worker with ``--workers N``) during ``--logins`` logins of fresh
users, one at a time (``--concurrency 1``, the CPU-per-login figure) or with more in flight. The
samples are aggregated by category and by frame (inclusive and self share) and printed; the text
is what ``benchmarks/profiles/login-*.txt`` holds.

Usage: ``python benchmarks/profile_web.py [--users 300] [--logins 1500] [--concurrency 1]
[--rate 500] [--workers 1] [--no-gil] [--out FILE] [--raw FILE] [--flamegraph FILE]`` (needs
``py-spy``: ``pip install py-spy``; reading another process's memory needs ptrace rights, e.g.
root). ``--raw`` keeps py-spy's stacks with line numbers; ``--no-gil`` samples every thread not
idle; ``--flamegraph`` records py-spy's SVG flame graph instead of the raw stacks (no tables).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_directory import SandboxProcess
from bench_web import WebProcess, _logins, _mint, synced_sqlite

#: Frame-path fragments → category (first match wins, checked from the leaf up).
CATEGORIES: list[tuple[str, str]] = [
    ("dingsync/dingtalk/", "dingtalk client"),
    ("aiohttp/", "dingtalk client"),
    ("sqlalchemy/", "store:sqlalchemy"),
    ("sqlite3", "store:sqlite"),
    ("dingsync/store/", "store:own"),
    ("pydantic", "pydantic"),
    ("fastapi/", "fastapi"),
    ("starlette/", "starlette"),
    ("anyio/", "anyio (threads)"),
    ("uvicorn/", "uvicorn"),
    ("httptools", "uvicorn"),
    ("json/", "json"),
    ("cryptography/", "crypto"),
    ("hashlib", "crypto"),
    ("secrets.py", "crypto"),
    ("dingsync/web/", "web:own"),
    ("dingsync/metrics", "metrics"),
    ("prometheus_client/", "metrics"),
    ("logging/", "logging"),
    ("threading.py", "threads"),
    ("concurrent/", "threads"),
    ("asyncio/", "asyncio-loop"),
]


def _category(stack: list[str]) -> str:
    for frame in reversed(stack):
        for needle, name in CATEGORIES:
            if needle in frame:
                return name
    return "other"


def _short(frame: str) -> str:
    """``func (path/to/file.py:line)`` → ``func package/file.py``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    tail = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{name} {tail}"


def aggregate(raw: str, title: str, top: int = 45) -> str:
    """The text of a profile: categories, inclusive and self share of ``raw`` (py-spy's
    collapsed stacks: ``frame;frame;… count`` per line, root first)."""
    total = 0
    cats: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack_s, _, count_s = line.rpartition(" ")
        if not stack_s or not count_s.isdigit():
            continue
        count = int(count_s)
        stack = [f for f in stack_s.split(";") if f and not f.startswith("process ")]
        stack = [f for f in stack if not f.startswith("Thread ")] or ["?"]
        total += count
        cats[_category(stack)] += count
        for frame in {_short(f) for f in stack}:
            incl[frame] += count
        own[_short(stack[-1])] += count
    out = [title, f"samples {total}", "== categories"]
    out += [f"{100 * n / total:5.1f}% {name}" for name, n in cats.most_common()]
    out.append("== inclusive")
    out += [f"{100 * n / total:5.1f}% {name}" for name, n in incl.most_common(top)]
    out.append("== self")
    out += [f"{100 * n / total:5.1f}% {name}" for name, n in own.most_common(top)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="profile_web")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--logins", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--title", default="")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--gil",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="sample only the thread holding the GIL (--no-gil: every thread not idle)",
    )
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw stacks (with lines)")
    parser.add_argument(
        "--flamegraph", type=Path, help="write py-spy's SVG flame graph here instead of tables"
    )
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))

    sb = SandboxProcess(args.users, 0, 0)
    web: WebProcess | None = None
    tmp = tempfile.TemporaryDirectory()
    try:
        url, _ = synced_sqlite(sb, tmp.name)
        web = WebProcess(sb, url, workers=args.workers)
        company = httpx.get(f"{sb.base_url}/sandbox/company", timeout=30).json()
        userids = sorted(u["userid"] for u in company["users"])
        pick = [userids[i % len(userids)] for i in range(args.logins)]
        asyncio.run(_logins(web, asyncio.run(_mint(sb, pick[:50])), 1))  # warm-up
        codes = asyncio.run(_mint(sb, pick))
        raw_path = Path(tmp.name) / "raw.txt"
        fmt, out = ("flamegraph", args.flamegraph) if args.flamegraph else ("raw", raw_path)
        cmd = [spy, "record", "-r", str(args.rate), "--format", fmt, "-o", str(out)]
        cmd += ["--pid", str(web.proc.pid), "--nonblocking"]
        if args.gil:
            cmd.append("--gil")
        if args.workers > 1:
            cmd.append("--subprocesses")
        spy_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        cpu = web.cpu_s()
        result = asyncio.run(_logins(web, codes, args.concurrency))
        cpu_ms = (web.cpu_s() - cpu) * 1000 / len(codes)
        spy_proc.send_signal(subprocess.signal.SIGINT)
        spy_proc.wait(30)
        title = (
            f"# login, {args.users}-person company, {len(codes)} fresh-user logins, "
            f"{args.concurrency} in flight, {args.workers} worker(s), sandbox latency 0 — "
            f"py-spy {args.rate} Hz {'--gil' if args.gil else '--no-gil'} {args.title}\n"
            f"# service CPU per login {cpu_ms:.2f} ms (py-spy's own sampling included); "
            f"{result['per_s']} logins/s; failures {result['failures']}"
        )
        if args.flamegraph:
            print(title, f"\n# flame graph: {args.flamegraph}", sep="")
            return
        text = aggregate(raw_path.read_text(), title)
        if args.raw:
            shutil.copyfile(raw_path, args.raw)
        if args.out:
            args.out.write_text(text)
        print(text)
    finally:
        if web is not None:
            web.close()
        sb.close()
        tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])
