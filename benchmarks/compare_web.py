"""Login figures of two checkouts side by side in one run (issue 17): the same sandbox, the same
synced SQLite database, ``dingsync serve`` of each checkout's interpreter in turn, rounds
interleaved (A, B, A, B, …) so that the machine's load hits both alike.

Per round and service: service CPU per login one at a time (process CPU ÷ logins), per
``GET /healthz`` one at a time, and logins/s at ``--concurrency`` in flight ÷ ``/healthz`` req/s
at the same concurrency. Prints each round and the median per service.

Usage: ``python benchmarks/compare_web.py --other /work/main/.venv/bin/python [--rounds 3]
[--users 300] [--logins 600] [--concurrency 100]``
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_directory import SandboxProcess
from bench_web import WebProcess, _logins, _mint, synced_sqlite


def _round(sb: SandboxProcess, web: WebProcess, pick: list[str], conc: int) -> dict[str, float]:
    asyncio.run(_logins(web, asyncio.run(_mint(sb, pick[:20])), 1))  # warm-up
    codes = asyncio.run(_mint(sb, pick[:200]))
    cpu = web.cpu_s()
    asyncio.run(_logins(web, codes, 1))
    login_ms = (web.cpu_s() - cpu) * 1000 / len(codes)
    cpu = web.cpu_s()
    asyncio.run(_logins(web, pick[:200], 1, floor=True))
    healthz_ms = (web.cpu_s() - cpu) * 1000 / 200
    codes = asyncio.run(_mint(sb, pick))
    busy = asyncio.run(_logins(web, codes, conc))
    floor = asyncio.run(_logins(web, pick, conc, floor=True))
    return {
        "cpu_ms_per_login": round(login_ms, 2),
        "cpu_ms_per_healthz": round(healthz_ms, 2),
        "logins_per_s": busy["per_s"],
        "healthz_per_s": floor["per_s"],
        "ratio": round(busy["per_s"] / max(floor["per_s"], 0.001), 3),
        "failures": busy["failures"] + floor["failures"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="compare_web")
    parser.add_argument("--other", required=True, help="the other checkout's python")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--logins", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args(argv)
    services = {"other": args.other, "this": sys.executable}
    sb = SandboxProcess(args.users, 0, 0)
    tmp = tempfile.TemporaryDirectory()
    results: dict[str, list[dict[str, float]]] = {k: [] for k in services}
    try:
        _, engine = synced_sqlite(sb, tmp.name)
        engine.dispose()
        # One copy of the synced database per service: each checkout migrates its own to its
        # head (the other checkout may have migrations this one does not know).
        urls = {}
        for name in services:
            copy = Path(tmp.name) / f"{name}.db"
            shutil.copyfile(Path(tmp.name) / "bench.db", copy)
            urls[name] = f"sqlite:///{copy}"
        company = httpx.get(f"{sb.base_url}/sandbox/company", timeout=30).json()
        userids = sorted(u["userid"] for u in company["users"])
        pick = [userids[i % len(userids)] for i in range(args.logins)]
        for n in range(args.rounds):
            for name, python in services.items():
                web = WebProcess(sb, urls[name], python=python)
                try:
                    got = _round(sb, web, pick, args.concurrency)
                finally:
                    web.close()
                results[name].append(got)
                print(f"round {n + 1} {name}: {got}", flush=True)
        print("median per service:")
        for name, rows in results.items():
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            print(f"  {name} ({services[name]}): {med}")
    finally:
        sb.close()
        tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])
