"""Where the directory sync's wall goes beyond the rate-limit bound (issue 17, third session).

``python benchmarks/profiles/timeline_directory.py [--users 20000] [--days 30] [--qps 20]
[--latency-ms 30] [--url DATABASE_URL]`` from the repository's root: starts the sandbox in its
own process (seed 42, ``--days`` of history: the 20,000-person world of ``bench scale``), then
one full directory sync in this process into ``--url`` (default: a new SQLite file; a
PostgreSQL URL must name an empty database) with the client's per-path limiter slot, the
engine's units and write batches, and every statement timed.

Printed: wall, CPU and calls; per DingTalk path its calls, first admission, last answer and
admissions per second (a path held below its QPS shows as a run of low counts); the writer's
batches (count, seconds busy, busy seconds per 10 s of the sync, the longest); statements that
took more than 0.3 s in a 30-second window (count, seconds, rows: a per-row cost that grows
with the tables shows here); per entity, the first unit's start and the last unit's end (a gap
after the last answer is the writer's backlog).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_directory import SandboxProcess
from sqlalchemy import event

from dingsync.dingtalk import DingTalkClient
from dingsync.store import db
from dingsync.sync import engine as engine_mod
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="timeline_directory")
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--qps", type=float, default=20)
    parser.add_argument("--latency-ms", type=float, default=30)
    parser.add_argument("--url", default=None)
    args = parser.parse_args(argv)

    t0 = [0.0]

    def now() -> float:
        return time.monotonic() - t0[0]

    calls: list[tuple[str, float, float, float]] = []  # path, asked, admitted, answered
    units: list[tuple[str, float, float]] = []  # entity, started, ended
    batches: list[tuple[float, float, int]] = []  # started, ended, units
    statements: dict[tuple[int, str], list[float]] = {}  # (30 s window, head) → n, s, rows

    unit = engine_mod.SyncContext.unit
    run_batch = engine_mod.SyncContext._run_batch

    async def timed_unit(self: Any, entity: str, key: str, *a: Any, **k: Any) -> Any:
        started = now()
        try:
            return await unit(self, entity, key, *a, **k)
        finally:
            units.append((entity, started, now()))

    def timed_batch(self: Any, batch: Any, calls_: Any = None) -> Any:
        started = now()
        try:
            return run_batch(self, batch, calls_)
        finally:
            batches.append((started, now(), len(batch)))

    engine_mod.SyncContext.unit = timed_unit  # type: ignore[method-assign]
    engine_mod.SyncContext._run_batch = timed_batch  # type: ignore[method-assign]

    sb = SandboxProcess(args.users, args.qps, args.latency_ms, days=args.days, start_timeout=3600)
    tmp = tempfile.TemporaryDirectory()
    try:
        url = args.url or f"sqlite:///{Path(tmp.name) / 'directory.db'}"
        engine = db.create_engine_for(url)
        db.migrate(engine)

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, sql: str, params: Any, ctx: Any, many: bool) -> None:
            conn.info["timeline_started"] = time.monotonic()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, sql: str, params: Any, ctx: Any, many: bool) -> None:
            took = time.monotonic() - conn.info.pop("timeline_started", time.monotonic())
            key = (int(now() // 30), " ".join(sql.split()[:4])[:60])
            rows = len(params) if many and isinstance(params, (list, tuple)) else 1
            got = statements.setdefault(key, [0, 0.0, 0])
            got[0] += 1
            got[1] += took
            got[2] += rows

        async def go() -> None:
            app = sb.app
            async with DingTalkClient(
                app["app_key"],
                app["app_secret"],
                corp_id=app["corp_id"],
                oapi_url=sb.base_url,
                api_url=sb.base_url,
                qps_per_api=args.qps,
            ) as client:
                slot = client.limiter.slot

                @contextlib.asynccontextmanager
                async def timed_slot(path: str) -> AsyncIterator[None]:
                    asked = now()
                    async with slot(path):
                        admitted = now()
                        try:
                            yield
                        finally:
                            calls.append((path, asked, admitted, now()))

                client.limiter.slot = timed_slot  # type: ignore[method-assign]
                await client.get_access_token()
                calls.clear()
                t0[0] = time.monotonic()
                cpu = time.process_time()
                result = await run_sync(client, engine, app["corp_id"], [ContactsSync()])
                print(
                    f"wall {now():.1f} s, CPU {time.process_time() - cpu:.1f} s, "
                    f"status {result.status}, calls {dict(result.api_calls)}"
                )

        asyncio.run(go())
        engine.dispose()
    finally:
        sb.close()
        tmp.cleanup()

    by_path: dict[str, list[tuple[float, float, float]]] = {}
    for path, asked, admitted, answered in calls:
        by_path.setdefault(path, []).append((asked, admitted, answered))
    for path, got in sorted(by_path.items()):
        per_s: dict[int, int] = {}
        for _, admitted, _ in got:
            per_s[int(admitted)] = per_s.get(int(admitted), 0) + 1
        print(
            f"{path}: {len(got)} calls, first admitted {min(g[1] for g in got):.2f} s, last "
            f"answer {max(g[2] for g in got):.2f} s, per second "
            f"{[per_s.get(s, 0) for s in range(max(per_s) + 1)]}"
        )
    busy = sum(end - start for start, end, _ in batches)
    per_10: dict[int, float] = {}
    for start, end, _ in batches:
        per_10[int(start // 10)] = per_10.get(int(start // 10), 0.0) + end - start
    longest = sorted(((end - start, start, n) for start, end, n in batches), reverse=True)[:8]
    print(f"write batches {len(batches)}, busy {busy:.1f} s")
    print(
        f"  busy seconds per 10 s: {[round(per_10.get(k, 0.0), 1) for k in range(max(per_10) + 1)]}"
    )
    print(f"  longest (s, at s, units): {[(round(a, 2), round(b, 1), n) for a, b, n in longest]}")
    for (window, head), (n, seconds, rows) in sorted(statements.items()):
        if seconds > 0.3:
            print(f"  {window * 30:>4} s+ {head:<60} {n:>5} × {seconds:6.2f} s {rows:>7} rows")
    ends: dict[str, tuple[float, float]] = {}
    for entity, started, ended in units:
        first, last = ends.get(entity, (started, ended))
        ends[entity] = (min(first, started), max(last, ended))
    for entity, (first, last) in sorted(ends.items()):
        print(f"units {entity}: first start {first:.2f} s, last end {last:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
