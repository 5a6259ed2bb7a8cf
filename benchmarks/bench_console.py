"""Benchmark of the console's pages (``make bench``; ``python benchmarks/run.py console``).

Issue #13's target: at 2,000 people × 30 days on SQLite every console page answers in
< 300 ms at p95. The sandbox (latency 0, no QPS limit) and the web service (``dingsync serve``)
each run in their own process; this process syncs every area once into a SQLite file (or
reuses one given with ``--db``), logs in as the main administrator, an HR person, a
sub-administrator and an employee, and GETs each page ``--repeat`` times one at a time.

Printed, from one run: p50/p95 per page and role, the slowest page, and the service's empty
``/healthz`` p95 measured the same way in the same run (the floor of the measurement), with the
ratio page p95 ÷ healthz p95.

Usage: ``python benchmarks/run.py console -- [--users 2000] [--days 30] [--repeat 20] [--db F]
[--only /console/reports/stats] [--roles main_admin,hr]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_directory import SandboxProcess
from bench_web import WebProcess

from dingsync.dingtalk import DingTalkClient
from dingsync.store import db, repo_local_access
from dingsync.store.schema import admins, users
from dingsync.store.schema_approvals import approval_instances
from dingsync.store.schema_reports import reports
from dingsync.sync.engine import run_sync
from dingsync.sync.runner import make_entities

TARGET_P95_MS = 300.0


def pages(today: Any, records: dict[str, str]) -> list[str]:
    """The console pages timed (with typical filters), as their paths; ``records``: a
    ``report_id``, a ``process_instance_id`` and a ``userid`` for the one-record pages."""
    month = today.strftime("%Y-%m")
    start = (today - timedelta(days=29)).isoformat()
    end = today.isoformat()
    return [
        "/console/overview",
        "/console/directory",
        "/console/directory?q=1",
        "/console/reports",
        f"/console/reports?start_date={start}&end_date={end}",
        f"/console/reports/stats?start_date={start}&end_date={end}",
        f"/console/attendance?month={month}",
        f"/console/attendance/daily?start_date={start}&end_date={end}",
        f"/console/attendance/records?start_date={start}&end_date={end}",
        "/console/approvals",
        f"/console/approvals/stats?start_date={start}&end_date={end}",
        f"/console/reports/{records['report_id']}",
        f"/console/approvals/{records['process_instance_id']}",
        f"/console/attendance/users/{records['userid']}?month={month}",
        "/console/exports",
        "/console/settings",
        "/console/me",
    ]


async def _sync(sb: SandboxProcess, url: str) -> float:
    engine = db.create_engine_for(url)
    db.migrate(engine)
    app = sb.app
    started = time.monotonic()
    async with DingTalkClient(
        app["app_key"],
        app["app_secret"],
        corp_id=app["corp_id"],
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        qps_per_api=None,
    ) as client:
        result = await run_sync(client, engine, app["corp_id"], make_entities())
    engine.dispose()
    if result.status != "succeeded":
        raise RuntimeError(f"sync ended {result.status}")
    return time.monotonic() - started


def _people(url: str, corp_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """A userid per role: main admin, sub admin, HR (granted here), employee."""
    engine = db.create_engine_for(url)
    with engine.begin() as conn:
        levels = dict(conn.execute(select(admins.c.userid, admins.c.sys_level)).all())
        plain = [
            u
            for (u,) in conn.execute(
                select(users.c.userid)
                .where(users.c.corp_id == corp_id, users.c.status == "active")
                .order_by(users.c.userid)
            )
            if u not in levels
        ]
        hr = plain[1]
        repo_local_access.grant_role(conn, corp_id, hr, "hr")
        records = {
            "report_id": conn.execute(select(reports.c.report_id).limit(1)).scalar_one(),
            "process_instance_id": conn.execute(
                select(approval_instances.c.process_instance_id).limit(1)
            ).scalar_one(),
            "userid": plain[0],
        }
    engine.dispose()
    out = {
        "main_admin": next(u for u, lvl in levels.items() if lvl == 1),
        "hr": hr,
        "employee": plain[0],
    }
    subs = [u for u, lvl in levels.items() if lvl == 2]
    if subs:
        out["sub_admin"] = subs[0]
    return out, records


def _login(sb: SandboxProcess, web: WebProcess, userid: str) -> str:
    code = httpx.post(f"{sb.base_url}/sandbox/authcode", json={"userid": userid}).json()["code"]
    r = httpx.post(f"{web.base_url}/api/auth/dingtalk", json={"authCode": code}, timeout=60)
    r.raise_for_status()
    return str(r.json()["session"]["token"])


def _time(http: httpx.Client, path: str, repeat: int) -> tuple[int, list[float]]:
    http.get(path)  # warm (template compile, caches)
    out = []
    status = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = http.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        status = r.status_code
    return status, out


def _p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[-1] if len(xs) >= 2 else xs[0]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench console", description=__doc__)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--db", help="a SQLite file to reuse (synced from the same sandbox seed)")
    ap.add_argument("--only", help="time only the pages whose path contains this text")
    ap.add_argument("--roles", help="comma-separated roles to time (default: all four)")
    args = ap.parse_args(argv)

    sb = SandboxProcess(args.users, 0, 0, days=args.days, start_timeout=600)
    tmp = tempfile.mkdtemp(prefix="dingsync-bench-console-")
    path = args.db or os.path.join(tmp, "console.db")
    url = f"sqlite:///{path}"
    try:
        if args.db and Path(args.db).exists():
            print(f"reusing {args.db}")
        else:
            wall = asyncio.run(_sync(sb, url))
            print(f"synced {args.users} people × {args.days} days (every area) in {wall:.1f} s")
        people, records = _people(url, sb.app["corp_id"])
        web = WebProcess(sb, url)
        try:
            with httpx.Client(base_url=web.base_url, timeout=60) as plain:
                _, floor = _time(plain, "/healthz", args.repeat)
            floor_p95 = _p95(floor)
            from dingsync.timeutil import today as local_today

            today = local_today()
            print(f"healthz: p50 {statistics.median(floor):.1f} ms, p95 {floor_p95:.1f} ms")
            print(f"{'page':<72} {'role':<10} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} {'÷hz':>6}")
            worst: tuple[float, str] = (0.0, "")
            wanted = set(args.roles.split(",")) if args.roles else set(people)
            for role, userid in people.items():
                if role not in wanted:
                    continue
                token = _login(sb, web, userid)
                with httpx.Client(
                    base_url=web.base_url, timeout=60, cookies={"dingsync_session": token}
                ) as http:
                    for page in pages(today, records):
                        if args.only and args.only not in page:
                            continue
                        status, xs = _time(http, page, args.repeat)
                        if status == 404:
                            continue  # not a page for this role
                        p95 = _p95(xs)
                        worst = max(worst, (p95, f"{page} as {role}"))
                        print(
                            f"{page:<72} {role:<10} {status:>6} {statistics.median(xs):>8.1f} "
                            f"{p95:>8.1f} {p95 / floor_p95:>6.1f}"
                        )
            verdict = "met" if worst[0] < TARGET_P95_MS else "NOT met"
            print(
                f"slowest p95: {worst[0]:.1f} ms ({worst[1]}); "
                f"target < {TARGET_P95_MS:.0f} ms: {verdict}"
            )
        finally:
            web.close()
    finally:
        sb.close()


if __name__ == "__main__":
    main()
