"""Benchmarks (``make bench``). Not timed tests: they print figures measured side by side.

``directory``: full directory sync of a generated company against the sandbox, running in its
own process (so the emulator does not share our interpreter), with fixed latency and a per-API
QPS limit. Printed: wall time, API calls per path, the lower bound the rate limits allow (for
each API its calls ÷ its QPS limit; the largest), the ratio wall/bound, the same company fetched
by a naive sequential loop (one call at a time, same client) and the speed-up, and peak RSS.

Also printed: CPU per DingTalk call (the sync's process CPU ÷ its calls, start-up and
migrations excluded) for the sync and for the naive loop. ``--http aiohttp,httpx`` measures the
sync once per HTTP stack of the client (``--rounds`` times each, interleaved, same sandbox, a new
database each time) and prints CPU per call for each; the first stack gives the table's figure.

Usage: ``python benchmarks/run.py directory -- [--users 2000] [--qps 200] [--latency-ms 30]
[--http aiohttp,httpx] [--rounds 1] [--resync]``

``--resync``: after each measured sync, a second full sync into the same database (nothing
changed in the sandbox, so no person is written again: ``users.content_hash``), its CPU per
call and wall ÷ bound printed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from figures import Figure

from dingsync.dingtalk import DingTalkClient
from dingsync.store import db, repo
from dingsync.sync.contacts import ContactsSync, department_row, user_row
from dingsync.sync.engine import run_sync


def cpu_s_of(pids: Iterable[int]) -> float:
    """CPU seconds (user + system) the live processes ``pids`` have used so far (``/proc``);
    a process gone meanwhile counts 0."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SandboxProcess:
    """``dingsync sandbox`` in a child process (shared by every benchmark here).

    ``days``: history length (``--days``); ``start_timeout``: seconds to wait for it to answer
    (a large company with history takes a while to generate).
    """

    def __init__(
        self,
        users: int,
        qps: float,
        latency_ms: float,
        *,
        seed: int = 42,
        days: int | None = None,
        start_timeout: float = 180.0,
    ) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "dingsync.cli", "sandbox", "--port", str(self.port)]
        cmd += ["--users", str(users), "--seed", str(seed)]
        cmd += ["--qps", str(qps), "--latency-ms", str(latency_ms)]
        if days is not None:
            cmd += ["--days", str(days)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"sandbox exited: {err}")
            try:
                self.app = httpx.get(f"{self.base_url}/sandbox/app", timeout=1).json()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.close()
        raise RuntimeError("sandbox did not start")

    def stats(self, timeout: float = 600.0) -> dict[str, Any]:
        """``/sandbox/stats``: the first call waits for every area's world to be generated
        (``timeout`` seconds; a 20,000-person company on a loaded machine needs more than 600)."""
        return dict(httpx.get(f"{self.base_url}/sandbox/stats", timeout=timeout).json())

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/sandbox/stats/reset", timeout=60)

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the sandbox's process has used so far."""
        return cpu_s_of([self.proc.pid])

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


#: The client's HTTP stacks (``--http``): name → DingTalkClient keyword arguments.
HTTP_STACKS: dict[str, dict[str, Any]] = {
    "aiohttp": {"lean_http": True},  # dingtalk/_http.py, the default
    "httpx": {"lean_http": False},  # httpx's AsyncClient per path pool, as before issue 17
}


def _client(sb: SandboxProcess, qps: float, **kwargs: Any) -> DingTalkClient:
    return DingTalkClient(
        sb.app["app_key"],
        sb.app["app_secret"],
        corp_id=sb.app["corp_id"],
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        qps_per_api=qps,
        **kwargs,
    )


async def _concurrent(
    sb: SandboxProcess, qps: float, url: str, stack: str = "aiohttp", resync: bool = False
) -> dict[str, Any]:
    """One full sync into a new database; with ``resync`` a second one into the same database
    follows (nothing changed: the steady state of a daily full compare), measured apart."""
    engine = db.create_engine_for(url)
    db.migrate(engine)
    out: dict[str, Any] = {}
    async with _client(sb, qps, **HTTP_STACKS[stack]) as client:
        await client.get_access_token()  # token fetch is not part of the walk
        for name in ("first", "resync") if resync else ("first",):
            sb.reset()
            start, cpu = time.monotonic(), time.process_time()
            result = await run_sync(client, engine, sb.app["corp_id"], [ContactsSync()])
            wall, cpu = time.monotonic() - start, time.process_time() - cpu
            out[name] = {"wall_s": wall, "cpu_s": cpu, "calls": dict(result.api_calls)}
    with engine.connect() as conn:
        summary = repo.count_summary(conn, sb.app["corp_id"])
    return {**out["first"], "resync": out.get("resync"), "summary": summary}


async def _naive(sb: SandboxProcess, qps: float, url: str) -> dict[str, Any]:
    """One call at a time: walk the tree, list each department's users, write as we go."""
    engine = db.create_engine_for(url)
    db.migrate(engine)
    corp = sb.app["corp_id"]
    async with _client(sb, qps) as client:
        await client.get_access_token()
        before = Counter(client.calls)
        start, cpu = time.monotonic(), time.process_time()
        queue = [1]
        while queue:
            dept_id = queue.pop(0)
            detail = await client.contacts.get_department(dept_id)
            children = await client.contacts.list_sub_department_ids(dept_id)
            users = [u async for u in client.contacts.iter_department_users(dept_id)]
            raw_users = [
                u.model_dump(mode="json", by_alias=True, exclude_unset=True) for u in users
            ]
            with engine.begin() as conn:
                raw = detail.model_dump(mode="json", by_alias=True, exclude_unset=True)
                repo.upsert_departments(conn, corp, [department_row(corp, 0, raw)])
                repo.upsert_users(conn, corp, [user_row(corp, 0, u) for u in raw_users])
            queue.extend(children)
        admins = await client.contacts.list_admins()
        for a in admins:
            if int(a.sys_level) == 2:
                await client.contacts.get_admin_scope(a.userid)
        wall, cpu = time.monotonic() - start, time.process_time() - cpu
        calls = dict(Counter(client.calls) - before)
    return {"wall_s": wall, "cpu_s": cpu, "calls": calls}


def main(argv: list[str] | None = None) -> list[Figure]:
    ap = argparse.ArgumentParser(prog="bench directory", description=__doc__)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--qps", type=float, default=200.0)
    ap.add_argument("--latency-ms", type=float, default=30.0)
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--http", default="aiohttp", help="HTTP stacks, comma-separated")
    ap.add_argument("--rounds", type=int, default=1, help="syncs per HTTP stack")
    ap.add_argument(
        "--resync",
        action="store_true",
        help="after each sync, sync again into the same database and print its CPU per call",
    )
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    stacks = [name.strip() for name in args.http.split(",") if name.strip()]
    unknown = [name for name in stacks if name not in HTTP_STACKS]
    if unknown or not stacks:
        ap.error(f"unknown HTTP stack(s) {unknown}; known: {sorted(HTTP_STACKS)}")

    sb = SandboxProcess(args.users, args.qps, args.latency_ms)
    per_stack: dict[str, list[dict[str, Any]]] = {name: [] for name in stacks}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(max(1, args.rounds)):
                for name in stacks:
                    url = f"sqlite:///{tmp}/conc-{name}-{round_}.db"
                    per_stack[name].append(
                        asyncio.run(_concurrent(sb, args.qps, url, name, args.resync))
                    )
            conc = per_stack[stacks[0]][0]
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            naive = None
            if not args.skip_naive:
                naive = asyncio.run(_naive(sb, args.qps, f"sqlite:///{tmp}/naive.db"))
        truth = sb.stats()
    finally:
        sb.close()

    bound = max(n / args.qps for n in conc["calls"].values())
    figures: dict[str, Any] = {
        "company": {k: truth.get(k) for k in ("departments", "users", "leavers", "admins")},
        "qps_per_api": args.qps,
        "latency_ms": args.latency_ms,
        "wall_s": round(conc["wall_s"], 3),
        "api_calls": conc["calls"],
        "api_calls_total": sum(conc["calls"].values()),
        "bound_s": round(bound, 3),
        "ratio_wall_to_bound": round(conc["wall_s"] / bound, 3),
        "peak_rss_mb": round(rss_mb, 1),
        "stored": conc["summary"],
    }
    figures["cpu_ms_per_call"] = round(conc["cpu_s"] * 1000 / figures["api_calls_total"], 3)
    figures["cpu_ms_per_call_by_http"] = {
        name: [round(r["cpu_s"] * 1000 / sum(r["calls"].values()), 3) for r in runs]
        for name, runs in per_stack.items()
    }
    if args.resync:
        figures["resync_cpu_ms_per_call_by_http"] = {
            name: [
                round(r["resync"]["cpu_s"] * 1000 / sum(r["resync"]["calls"].values()), 3)
                for r in runs
            ]
            for name, runs in per_stack.items()
        }
        figures["resync_ratio_wall_to_bound"] = round(conc["resync"]["wall_s"] / bound, 3)
    if naive:
        figures["naive_wall_s"] = round(naive["wall_s"], 3)
        figures["naive_api_calls_total"] = sum(naive["calls"].values())
        figures["naive_cpu_ms_per_call"] = round(
            naive["cpu_s"] * 1000 / max(1, figures["naive_api_calls_total"]), 3
        )
        figures["naive_ratio_wall_to_bound"] = round(naive["wall_s"] / bound, 3)
        figures["speedup"] = round(naive["wall_s"] / conc["wall_s"], 2)
    rows = [
        Figure(
            f"CPU per DingTalk call, client + parse + write, ms ({figures['company']['users']} "
            f"people, {args.qps:g} QPS/API)",
            "≤ 0.5",
            figures["cpu_ms_per_call"],
            figures.get("naive_cpu_ms_per_call"),
            figures["cpu_ms_per_call"] <= 0.5,
            "naive sequential loop",
        ),
        Figure(
            f"directory sync at {args.qps:g} QPS/API, wall ÷ rate-limit bound",
            "≤ 1.2",
            figures["ratio_wall_to_bound"],
            figures.get("naive_ratio_wall_to_bound"),
            figures["ratio_wall_to_bound"] <= 1.2,
            "naive sequential loop",
        ),
    ]
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return rows
    print(f"directory sync, {figures['company']} at {args.qps:g} QPS/API, {args.latency_ms:g} ms")
    for path, n in sorted(conc["calls"].items()):
        print(f"  {path:<48} {n:>6} calls  {n / args.qps:7.2f} s at the limit")
    print(
        f"wall {figures['wall_s']} s; bound {figures['bound_s']} s; "
        f"ratio {figures['ratio_wall_to_bound']} (target ≤ 1.2)"
    )
    if naive:
        print(
            f"naive sequential loop {figures['naive_wall_s']} s → speed-up "
            f"{figures['speedup']}× (target ≥ 5×)"
        )
    print(
        f"CPU per call {figures['cpu_ms_per_call']} ms (process CPU of the sync ÷ calls; the "
        f"sandbox runs in its own process); naive loop {figures.get('naive_cpu_ms_per_call')} ms"
    )
    if len(stacks) > 1 or args.rounds > 1:
        by_http = figures["cpu_ms_per_call_by_http"]
        base = min(by_http[stacks[0]])
        for name in stacks:
            best = min(by_http[name])
            print(
                f"  HTTP stack {name:<8} CPU per call {best:.3f} ms (best of {by_http[name]}), "
                f"{best / base:.2f}× {stacks[0]}"
            )
    if args.resync:
        print(
            "re-sync into the same database (nothing changed): CPU per call "
            f"{figures['resync_cpu_ms_per_call_by_http']} ms, wall ÷ bound "
            f"{figures['resync_ratio_wall_to_bound']}"
        )
    print(f"peak RSS of the sync process {figures['peak_rss_mb']} MB")
    print(f"stored: {conc['summary']}")
    return rows


if __name__ == "__main__":
    main()
