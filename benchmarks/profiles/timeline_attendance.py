"""Where the attendance sync's wall goes beyond the rate-limit bound (issue 17, branch att18).

``python benchmarks/profiles/timeline_attendance.py [--users 2000] [--days 30] [--qps 200]
[--latency-ms 30] [--rounds 3] [--python LABEL=PATH ...] [--compare] [--resync]
[--events DIR]`` from the repository's root: starts the sandbox in its own process (one
company, seed 42, the bench's shape), syncs its directory once into a template SQLite database,
then per round and per interpreter (``--python main=/work/main/.venv/bin/python``; this one by
default), alternating within the round, copies the template and runs the attendance sync alone
in a fresh child process of that interpreter (so that tree's ``dingsync``).

The child wraps the client's per-path limiter slot (each call: asked, admitted, answered, per
path), each sync unit (started, fetched, committed) and samples its process CPU every 100 ms.
Printed per run: wall ÷ bound as ``bench attendance`` computes it (``run_sync``'s wall ÷ the
largest attendance path's calls ÷ QPS), then the timeline — the start (until the busiest
path's first admission), the busiest path's span and its rate, the tail (after its last
answer), the time the busiest path had no call in flight or waiting (nothing asked for it),
and CPU per call. ``--resync``: a second sync of the same range into the same database follows
the first (measured apart: wall and CPU per call). ``--compare`` checks every interpreter
stored the same rows. ``--events DIR`` writes each run's raw events as JSON.

``--postgres URL`` (branch pgatt19): the template and each run's database are PostgreSQL
databases beside ``URL``'s (``<db>_tl_tmpl``, then ``CREATE DATABASE … TEMPLATE`` per run,
dropped after it). Printed per run besides: the writer's batches (each ``_run_batch``, the
transaction that commits the queued units: count, seconds busy, median and largest), the
attendance rows written per second of writer time, and the CPU seconds of the run's
PostgreSQL backends (``/proc/<pid>/stat`` of the database's connections at the end of the run;
the sync's pool keeps them open until it ends).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

ATT = ("/attendance", "/topapi/att")


def child(args: argparse.Namespace) -> None:
    """One attendance sync (two with ``--resync``) into ``--url``; prints JSON."""
    import asyncio
    import contextlib
    import time
    from datetime import date

    from dingsync.dingtalk import DingTalkClient
    from dingsync.store import db
    from dingsync.sync import engine as engine_mod
    from dingsync.sync.attendance import AttendanceSync
    from dingsync.sync.engine import run_sync

    app = json.loads(args.app)
    from dingsync.sync import attendance as attendance_mod

    for setting in args.set:  # exploration: NAME=INT patches a constant of sync.attendance
        name, value = setting.split("=", 1)
        setattr(attendance_mod, name, int(value))
    calls: list[tuple[str, float, float, float]] = []
    units: list[tuple[str, float, float, float]] = []
    cpu_samples: list[tuple[float, float]] = []
    t0 = [0.0]

    original_unit = engine_mod.SyncContext.unit

    async def unit(self: Any, entity: str, key: str, fetch: Any, write: Any, *a: Any, **k: Any):
        started = time.monotonic() - t0[0]
        fetched = [0.0]

        async def timed_fetch() -> Any:
            try:
                return await fetch()
            finally:
                fetched[0] = time.monotonic() - t0[0]

        try:
            return await original_unit(self, entity, key, timed_fetch, write, *a, **k)
        finally:
            units.append((key, started, fetched[0], time.monotonic() - t0[0]))

    engine_mod.SyncContext.unit = unit  # type: ignore[method-assign]

    batches: list[tuple[float, float, int]] = []
    original_batch = engine_mod.SyncContext._run_batch

    def run_batch(self: Any, batch: Any, *a: Any, **k: Any) -> Any:
        started = time.monotonic() - t0[0]
        try:
            return original_batch(self, batch, *a, **k)
        finally:
            batches.append((started, time.monotonic() - t0[0], len(batch)))

    engine_mod.SyncContext._run_batch = run_batch  # type: ignore[method-assign]

    def backend_cpu(engine: Any) -> float | None:
        """CPU seconds of this database's PostgreSQL backends (utime + stime)."""
        if engine.dialect.name != "postgresql":
            return None
        from sqlalchemy import text

        with engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).scalars()
            total = 0
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    async def sampler() -> None:
        while True:
            cpu_samples.append((time.monotonic() - t0[0], time.process_time()))
            await asyncio.sleep(0.1)

    async def one(client: Any, engine: Any, sync: Any) -> dict[str, Any]:
        calls.clear()
        units.clear()
        cpu_samples.clear()
        batches.clear()
        statements.clear()
        server_before = backend_cpu(engine)
        t0[0] = time.monotonic()
        task = asyncio.create_task(sampler())
        wall, cpu = time.monotonic(), time.process_time()
        result = await run_sync(client, engine, app["corp_id"], [sync])
        cpu = time.process_time() - cpu
        wall = time.monotonic() - wall
        task.cancel()
        server_after = backend_cpu(engine)
        return {
            "server_cpu_s": None if server_after is None else server_after - (server_before or 0.0),
            "batches": list(batches),
            "statements": sorted(
                ([k, round(v[0], 3), v[1]] for k, v in statements.items()), key=lambda x: -x[1]
            )[:12],
            "counts": dict(result.counts),
            "wall_s": wall,
            "cpu_s": cpu,
            "calls": dict(result.api_calls),
            "events": list(calls),
            "units": list(units),
            "cpu_samples": list(cpu_samples),
        }

    statements: dict[str, list[float]] = {}

    def tally(engine: Any) -> None:
        """Seconds and count per statement (its first 60 characters), measured around the
        driver's execute (server time plus round trip)."""
        from sqlalchemy import event

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, sql: str, *a: Any) -> None:
            conn.info["t"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, sql: str, *a: Any) -> None:
            got = statements.setdefault(" ".join(sql.split())[:60], [0.0, 0])
            got[0] += time.perf_counter() - conn.info.pop("t", time.perf_counter())
            got[1] += 1

    async def go() -> dict[str, Any]:
        engine = db.create_engine_for(args.url)
        if args.statements:
            tally(engine)
        async with DingTalkClient(
            app["app_key"],
            app["app_secret"],
            corp_id=app["corp_id"],
            oapi_url=args.base_url,
            api_url=args.base_url,
            qps_per_api=args.qps,
        ) as client:
            limiter = client.limiter
            slot = limiter.slot

            @contextlib.asynccontextmanager
            async def timed_slot(path: str):  # type: ignore[no-untyped-def]
                asked = time.monotonic() - t0[0]
                async with slot(path):
                    admitted = time.monotonic() - t0[0]
                    try:
                        yield
                    finally:
                        calls.append((path, asked, admitted, time.monotonic() - t0[0]))

            limiter.slot = timed_slot  # type: ignore[method-assign]
            await client.get_access_token()
            end = date.fromisoformat(args.end)
            out = {"first": await one(client, engine, AttendanceSync(days=args.days, end=end))}
            if args.resync:
                sync = AttendanceSync(days=args.days, end=end)
                out["resync"] = await one(client, engine, sync)
        engine.dispose()
        return out

    print(json.dumps(asyncio.run(go())))


def analyse(run: dict[str, Any], qps: float) -> dict[str, Any]:
    """The timeline figures of one sync (see the module docstring)."""
    att = {p: n for p, n in run["calls"].items() if p.startswith(ATT)}
    busiest = max(att, key=lambda p: att[p])
    bound = att[busiest] / qps
    ev = sorted((e for e in run["events"] if e[0] == busiest), key=lambda e: e[2])
    first_admit = ev[0][2]
    last_answer = max(e[3] for e in ev)
    wall = run["wall_s"]
    # Time the busiest path had nothing asked or in flight (between its first and last call).
    spans = sorted((e[1], e[3]) for e in ev)
    idle, reach = 0.0, spans[0][0]
    for a, b in spans:
        if a > reach:
            idle += a - reach
        reach = max(reach, b)
    # Admissions per second of the busiest path, by whole seconds from its first admission.
    per_s: dict[int, int] = {}
    for e in ev:
        k = int(e[2] - first_admit)
        per_s[k] = per_s.get(k, 0) + 1
    firsts = {}
    lasts = {}
    for e in run["events"]:
        firsts[e[0]] = min(firsts.get(e[0], 1e9), e[2])
        lasts[e[0]] = max(lasts.get(e[0], 0.0), e[3])
    units = run["units"]
    last_unit = max(units, key=lambda u: u[3]) if units else None
    answer = statistics.median(e[3] - e[2] for e in ev)
    waited = statistics.median(e[2] - e[1] for e in ev)
    total_calls = sum(run["calls"].values())
    return {
        "wall_s": round(wall, 3),
        "bound_s": round(bound, 3),
        "ratio": round(wall / bound, 4),
        "busiest": busiest,
        "busiest_calls": att[busiest],
        "start_s": round(first_admit, 3),
        "busiest_span_s": round(last_answer - first_admit, 3),
        "busiest_rate": round(att[busiest] / (last_answer - first_admit), 1),
        "tail_s": round(wall - last_answer, 3),
        "idle_s": round(idle, 3),
        "answer_median_ms": round(answer * 1000, 1),
        "admit_wait_median_ms": round(waited * 1000, 1),
        "per_second": [per_s.get(k, 0) for k in range(max(per_s) + 1)],
        "cpu_per_call_ms": round(run["cpu_s"] * 1000 / total_calls, 3),
        "cpu_share": round(run["cpu_s"] / wall, 3),
        "paths": {
            p: [round(firsts[p], 2), round(lasts[p], 2), run["calls"].get(p)] for p in firsts
        },
        "last_unit": last_unit,
        "statements": run.get("statements", []),
        **_writer_figures(run),
    }


def _writer_figures(run: dict[str, Any]) -> dict[str, Any]:
    """The writer's batches: how many, seconds busy, median and largest; attendance rows
    written per second busy; the PostgreSQL backends' CPU (``None`` on SQLite)."""
    batches = run.get("batches") or []
    if not batches:
        return {}
    spans = [b - a for a, b, _ in batches]
    rows = sum(
        n
        for k, n in run.get("counts", {}).items()
        if k in ("attendance_results", "attendance_schedules", "attendance_records")
    )
    busy = sum(spans)
    server = run.get("server_cpu_s")
    return {
        "batches": len(batches),
        "writer_busy_s": round(busy, 3),
        "writer_share": round(busy / run["wall_s"], 3),
        "batch_median_ms": round(statistics.median(spans) * 1000, 1),
        "batch_max_ms": round(max(spans) * 1000, 1),
        "units_per_batch": round(statistics.mean(n for _, _, n in batches), 1),
        "rows_per_busy_s": round(rows / busy) if busy else None,
        "server_cpu_s": None if server is None else round(server, 2),
    }


class _Postgres:
    """Databases ``<db>_tl_<name>`` beside a PostgreSQL URL's (``--postgres``)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.base = make_url(url)
        self.admin = create_engine(self.base.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def name(self, suffix: str) -> str:
        return f"{self.base.database}_tl_{suffix}"

    def drop(self, suffix: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name(suffix)}" WITH (FORCE)'))

    def fresh(self, suffix: str, template: str | None = None) -> str:
        """A new database (a copy of ``template``'s when given): its URL."""
        from sqlalchemy import text

        self.drop(suffix)
        like = f' TEMPLATE "{self.name(template)}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name(suffix)}"{like}'))
        url = self.base.set(database=self.name(suffix))
        return url.render_as_string(hide_password=False)


def dump_tables(url: str) -> dict[str, list[Any]]:
    from profile_attendance import dump_tables as dump

    return dump(url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    ap.add_argument("--app", help=argparse.SUPPRESS)
    ap.add_argument("--end", help=argparse.SUPPRESS)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--qps", type=float, default=200.0)
    ap.add_argument("--latency-ms", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", action="append", default=[], help="LABEL=PATH (repeatable)")
    ap.add_argument("--compare", action="store_true", help="check every tree stored the same")
    ap.add_argument("--resync", action="store_true", help="a second sync of the same range")
    ap.add_argument("--events", help="directory for each run's raw events (JSON)")
    ap.add_argument(
        "--statements", action="store_true", help="time each statement (listener; costs CPU)"
    )
    ap.add_argument("--postgres", help="PostgreSQL URL: databases beside it instead of SQLite")
    ap.add_argument(
        "--set", action="append", default=[], help="NAME=INT: patch a sync.attendance constant"
    )
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    import asyncio

    import bench_directory as bench

    from dingsync.store import db
    from dingsync.sync.contacts import ContactsSync
    from dingsync.sync.engine import run_sync

    # LABEL=PATH, optionally LABEL=PATH,NAME=INT,... (constants patched in that child)
    pythons = [tuple(p.split("=", 1)) for p in args.python] or [("this", sys.executable)]
    sandbox = bench.SandboxProcess(
        args.users, args.qps, args.latency_ms, days=args.days, start_timeout=900
    )
    figures: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in pythons}
    dumps: dict[str, dict[str, list[Any]]] = {}
    try:
        end = sandbox.stats()["attendance"]["work_date_to"]
        with tempfile.TemporaryDirectory() as tmp:
            template = f"{tmp}/template.db"
            if args.postgres:
                pg = _Postgres(args.postgres)
                engine = db.create_engine_for(pg.fresh("tmpl"))
            else:
                engine = db.create_engine_for(f"sqlite:///{template}")
            db.migrate(engine)

            async def directory() -> None:
                async with bench._client(sandbox, args.qps) as client:
                    await run_sync(client, engine, sandbox.app["corp_id"], [ContactsSync()])

            asyncio.run(directory())
            engine.dispose()
            for r in range(args.rounds):
                for label, python in pythons:
                    if args.postgres:
                        url = pg.fresh(f"{label}_{r}", template="tmpl")
                    else:
                        path = f"{tmp}/{label}-{r}.db"
                        shutil.copy(template, path)
                        url = f"sqlite:///{path}"
                    python, *sets = python.split(",")
                    cmd = [python, __file__, "--child", "--url", url, "--base-url"]
                    cmd += [sandbox.base_url, "--app", json.dumps(sandbox.app), "--end", end]
                    cmd += ["--days", str(args.days), "--qps", str(args.qps)]
                    if args.resync:
                        cmd.append("--resync")
                    if args.statements:
                        cmd.append("--statements")
                    for setting in sets:
                        cmd += ["--set", setting]
                    load = os.getloadavg()[0]
                    proc = subprocess.run(cmd, capture_output=True, text=True)
                    if proc.returncode:
                        sys.exit(f"{label} child failed:\n{proc.stderr}")
                    got = json.loads(proc.stdout.splitlines()[-1])
                    if args.events:
                        Path(args.events).mkdir(parents=True, exist_ok=True)
                        out = Path(args.events) / f"{label}-{r}.json"
                        out.write_text(json.dumps(got))
                    fig = {k: analyse(v, args.qps) for k, v in got.items()}
                    fig["load"] = load  # type: ignore[assignment]
                    figures[label].append(fig)
                    f = fig["first"]
                    line = (
                        f"round {r} {label:>6}: ratio {f['ratio']:.4f} wall {f['wall_s']:.2f} "
                        f"bound {f['bound_s']:.2f} start {f['start_s']:.3f} span "
                        f"{f['busiest_span_s']:.2f} ({f['busiest_rate']}/s) tail "
                        f"{f['tail_s']:.3f} idle {f['idle_s']:.3f} cpu/call "
                        f"{f['cpu_per_call_ms']:.2f} ms cpu share {f['cpu_share']} load {load:.1f}"
                    )
                    if "resync" in fig:
                        s = fig["resync"]
                        line += (
                            f" | resync ratio {s['ratio']:.4f} cpu/call "
                            f"{s['cpu_per_call_ms']:.2f} ms"
                        )
                    print(line, flush=True)
                    print(f"    per second: {f['per_second']}", flush=True)
                    print(f"    paths (first admit, last answer, calls): {f['paths']}")
                    print(f"    last unit: {f['last_unit']}", flush=True)
                    w = f
                    if "batches" in w:
                        print(
                            f"    writer: {w['batches']} batches ({w['units_per_batch']} units),"
                            f" busy {w['writer_busy_s']} s ({w['writer_share']} of the wall),"
                            f" median {w['batch_median_ms']} ms, max {w['batch_max_ms']} ms,"
                            f" {w['rows_per_busy_s']} rows/s busy; server CPU"
                            f" {w['server_cpu_s']} s",
                            flush=True,
                        )
                    for st in f["statements"]:
                        print(f"    statement {st}")
                    if args.compare and r == 0:
                        dumps[label] = dump_tables(url)
                    if args.postgres:
                        pg.drop(f"{label}_{r}")
    finally:
        sandbox.close()
        if args.postgres:
            pg.drop("tmpl")
    print()
    for label, runs in figures.items():
        for which in ("first", "resync"):
            got = [f[which] for f in runs if which in f]
            if not got:
                continue
            keys = ["ratio", "wall_s", "start_s", "tail_s", "idle_s", "cpu_per_call_ms"]
            keys += [k for k in ("writer_busy_s", "server_cpu_s") if got[0].get(k) is not None]
            med = {k: round(statistics.median(g[k] for g in got), 4) for k in keys}
            print(f"{label:>6} {which:>6} medians: {med}")
    if args.compare:
        labels = list(dumps)
        same = all(dumps[label] == dumps[labels[0]] for label in labels[1:])
        sizes = {t: len(v) for t, v in dumps[labels[0]].items()}
        print(("same rows stored " if same else "ROWS DIFFER ") + str(sizes))
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
