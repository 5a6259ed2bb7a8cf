"""Benchmark ``attendance``: full attendance sync of 2,000 people × 30 days against the sandbox
running in its own process, with fixed latency and the per-API QPS limit on.

Printed (ratios from one run): API calls vs the minimum the API shapes allow (target 1.00; the
minimum is computed from what was stored: per chunk of ≤ 50 people × ≤ 7 days,
``ceil(rows / 50)`` ``/attendance/list`` pages, one ``listRecord`` and one ``listbyusers`` call,
plus the leave pages), wall time vs the rate-limit bound (for each API its calls ÷ its QPS; the
largest; target ≤ 1.2×), and peak RSS of the syncing process.

Usage: ``python benchmarks/run.py attendance -- [--users 2000] [--days 30] [--qps 200]
[--latency-ms 30] [--columns] [--naive-seconds 30] [--skip-naive]``. DingTalk's real limit is
20 QPS; the default (200, issue 17's figure) raises it to keep the run short and to show the
sync's own cost. The baseline (same run, same sandbox) is the naive sequential loop (one call at
a time), run for ``--naive-seconds`` and extrapolated to the sync's calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

from bench_directory import SandboxProcess, _client
from figures import Figure, naive_line, naive_projection
from sqlalchemy import select

from dingsync.dingtalk.attendance import batches, date_windows
from dingsync.store import db, repo_attendance
from dingsync.store.schema import users
from dingsync.store.schema_attendance import attendance_leaves, attendance_results
from dingsync.sync.attendance import (
    AttendanceSync,
    day_start,
    record_row,
    result_row,
    schedule_row,
)
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync


class AttendanceSandbox(SandboxProcess):
    """``dingsync sandbox --days N`` in a child process."""

    def __init__(self, users: int, qps: float, latency_ms: float, days: int) -> None:
        super().__init__(users, qps, latency_ms, days=days)


def _minimum(engine: Any, corp: str, start: date, end: date) -> dict[str, int]:
    """The fewest calls per path that could have read what was stored."""
    with engine.connect() as conn:
        people = [
            r.userid
            for r in conn.execute(
                select(users.c.userid)
                .where(users.c.corp_id == corp, users.c.status == "active")
                .order_by(users.c.userid)
            )
        ]
        per_day: Counter[tuple[str, date]] = Counter(
            (r.userid, r.work_date)  # a DATE column: the Asia/Shanghai work date
            for r in conn.execute(
                select(attendance_results.c.userid, attendance_results.c.work_date).where(
                    attendance_results.c.corp_id == corp
                )
            )
        )
        leaves: Counter[str] = Counter(
            r.userid
            for r in conn.execute(
                select(attendance_leaves.c.userid).where(attendance_leaves.c.corp_id == corp)
            )
        )
        groups = repo_attendance.count_summary(conn, corp)["attendance_groups"]
    windows = date_windows(start, end, 7)
    user_chunks = batches(people, 50)
    pages = 0
    for chunk in user_chunks:
        for a, b in windows:
            rows = sum(
                per_day[(u, a + timedelta(days=n))] for u in chunk for n in range((b - a).days + 1)
            )
            pages += max(1, math.ceil(rows / 50))
    tail = 1 if (windows[-1][1] - windows[-1][0]).days == 6 else 0  # the day after `end`
    leave_pages = sum(
        max(1, math.ceil(sum(leaves[u] for u in chunk) / 20)) for chunk in batches(people, 100)
    )
    return {
        "/attendance/list": pages,
        "/attendance/listRecord": len(user_chunks) * (len(windows) + tail),
        "/topapi/attendance/schedule/listbyusers": len(user_chunks) * len(windows),
        "/topapi/attendance/getleavestatus": leave_pages,
        "/topapi/attendance/getsimplegroups": max(1, math.ceil(groups / 10)),
    }


async def _naive(
    sb: SandboxProcess, args: argparse.Namespace, url: str, people: list[str], op: str
) -> dict[str, Any]:
    """The baseline: the loop people write, one call at a time — per 50 people × 7 days the
    results pages, the schedules and the punches, written as they come — for at most
    ``--naive-seconds``; its wall time for the whole sync is extrapolated from its time per
    call (``elapsed × the sync's calls ÷ the loop's calls``). Uses the sync's database (its
    rows are replaced with the same rows)."""
    engine = db.create_engine_for(url)
    corp = sb.app["corp_id"]
    end = date.fromisoformat(sb.stats()["attendance"]["work_date_to"])
    start = end - timedelta(days=args.days - 1)
    async with _client(sb, args.qps) as client:
        await client.get_access_token()
        before = Counter(client.calls)
        started = time.monotonic()
        api = client.attendance
        for chunk in batches(people, 50):
            for a, b in date_windows(start, end, 7):
                if time.monotonic() - started >= args.naive_seconds:
                    break
                results = await api.list_results(chunk, a, b)
                schedules = await api.list_schedules(op, chunk, a, b)
                records = await api.list_records(chunk, a, b)
                with engine.begin() as conn:
                    repo_attendance.replace_results(
                        conn, corp, chunk, a, b, [result_row(r) for r in results]
                    )
                    repo_attendance.replace_schedules(
                        conn, corp, chunk, a, b, [schedule_row(s) for s in schedules]
                    )
                    repo_attendance.replace_records(
                        conn,
                        corp,
                        chunk,
                        day_start(a),
                        day_start(b + timedelta(days=1)),
                        [record_row(r) for r in records],
                    )
        wall = time.monotonic() - started
        calls = sum((Counter(client.calls) - before).values())
    engine.dispose()
    return {"wall_s": wall, "calls": calls}


async def _run(sb: SandboxProcess, args: argparse.Namespace, url: str) -> dict[str, Any]:
    engine = db.create_engine_for(url)
    db.migrate(engine)
    corp = sb.app["corp_id"]
    end = date.fromisoformat(sb.stats()["attendance"]["work_date_to"])
    start = end - timedelta(days=args.days - 1)
    async with _client(sb, args.qps) as client:
        await run_sync(client, engine, corp, [ContactsSync()])  # the directory first, untimed
        sb.reset()
        started = time.monotonic()
        result = await run_sync(
            client,
            engine,
            corp,
            [AttendanceSync(days=args.days, end=end, columns=args.columns)],
        )
        wall = time.monotonic() - started
    with engine.connect() as conn:
        stored = repo_attendance.count_summary(conn, corp)
    minimum = _minimum(engine, corp, start, end)
    with engine.connect() as conn:
        people, op = AttendanceSync()._people(conn, corp)  # who the sync read, its operator
    return {
        "wall_s": wall,
        "calls": dict(result.api_calls),
        "stored": stored,
        "min": minimum,
        "people": people,
        "op": op,
    }


def main(argv: list[str] | None = None) -> list[Figure]:
    ap = argparse.ArgumentParser(prog="bench attendance", description=__doc__)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--qps", type=float, default=200.0)
    ap.add_argument("--latency-ms", type=float, default=30.0)
    ap.add_argument("--columns", action="store_true", help="also sync report column values")
    ap.add_argument("--skip-naive", action="store_true", help="no naive-loop baseline")
    ap.add_argument("--naive-seconds", type=float, default=30.0, help="naive loop's sample")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)

    sb = AttendanceSandbox(args.users, args.qps, args.latency_ms, args.days)
    naive: dict[str, Any] | None = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/att.db"
            run = asyncio.run(_run(sb, args, url))
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            if not args.skip_naive:
                naive = asyncio.run(_naive(sb, args, url, run["people"], run["op"]))
        truth = sb.stats()["attendance"]
    finally:
        sb.close()

    calls = {p: n for p, n in run["calls"].items() if p.startswith(("/attendance", "/topapi/att"))}
    counted = {p: calls.get(p, 0) for p in run["min"]}
    bound = max(n / args.qps for n in calls.values())
    figures: dict[str, Any] = {
        "people": args.users,
        "days": args.days,
        "qps_per_api": args.qps,
        "latency_ms": args.latency_ms,
        "wall_s": round(run["wall_s"], 2),
        "api_calls": calls,
        "minimum_calls": run["min"],
        "ratio_calls_to_minimum": round(sum(counted.values()) / sum(run["min"].values()), 3),
        "bound_s": round(bound, 2),
        "ratio_wall_to_bound": round(run["wall_s"] / bound, 3),
        "peak_rss_mb": round(rss_mb, 1),
        "stored": run["stored"],
        "truth": {k: truth[k] for k in ("results", "records", "schedules", "leaves")},
    }
    projection = naive_projection(naive, sum(calls.values()), bound)
    if projection is not None:
        figures["naive"] = projection
    rows = [
        Figure(
            f"attendance sync at {args.qps:g} QPS/API, wall ÷ bound",
            "≤ 1.2",
            figures["ratio_wall_to_bound"],
            figures.get("naive", {}).get("ratio_wall_to_bound"),
            figures["ratio_wall_to_bound"] <= 1.2,
            "naive sequential loop, extrapolated" if naive else "",
        )
    ]
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return rows
    print(
        f"attendance sync, {args.users} people × {args.days} days at {args.qps:g} QPS/API, "
        f"{args.latency_ms:g} ms latency"
    )
    for path in sorted(calls):
        minimum = run["min"].get(path)
        extra = f" (minimum {minimum})" if minimum is not None else ""
        print(f"  {path:<44} {calls[path]:>6} calls{extra}  {calls[path] / args.qps:7.2f} s")
    print(f"calls / minimum {figures['ratio_calls_to_minimum']} (target 1.00)")
    print(
        f"wall {figures['wall_s']} s; bound {figures['bound_s']} s; "
        f"ratio {figures['ratio_wall_to_bound']} (target ≤ 1.2)"
    )
    if "naive" in figures:
        n = figures["naive"]
        print(naive_line(n))
    print(f"peak RSS of the sync process {figures['peak_rss_mb']} MB")
    print(f"stored {run['stored']}; sandbox truth {figures['truth']}")
    return rows


if __name__ == "__main__":
    main()
