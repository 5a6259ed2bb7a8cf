"""CPU per DingTalk call of the attendance sync, trees side by side (issue 17, branch att17c).

``python benchmarks/profiles/profile_attendance.py [--users 300] [--days 30] [--qps 2000]
[--latency-ms 5] [--rounds 3] [--python LABEL=PATH ...] [--profile DIR] [--compare]`` from the
repository's root: starts the sandbox in its own process (one company, one seed), syncs its
directory once into a template SQLite database, then per round and per interpreter (``--python
main=/work/main/.venv/bin/python``; this one by default) copies the template and runs the
attendance sync alone in a fresh child process of that interpreter (so that tree's
``dingsync``), alternating the interpreters within a round. Each child reports its process CPU
(``time.process_time``) around ``run_sync`` ÷ the DingTalk calls it made; printed per round,
then best and median per interpreter with the load (``os.getloadavg``) before and after.

``--profile DIR`` runs the children under ``cProfile(time.process_time)`` and writes the
statistics (by cumulative, then by own time) to ``DIR/attendance-LABEL.txt``.
``--compare`` dumps every ``attendance_*`` table of each child's database (every column but
the write stamps ``synced_at``/``updated_at``/``created_at``; ``raw`` parsed) and fails unless
all interpreters stored the same rows. ``--py-spy DIR`` runs each interpreter's first round
under ``py-spy record -r 500 --format raw`` (``DIR/attendance-LABEL.raw``; ``aggregate.py``
summarises it). Profiled rounds are left out of the figures.
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
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

STAMPS = {"synced_at", "updated_at", "created_at"}


# ----------------------------------------------------------------------------------------------
# The child: one attendance sync, in whichever tree's interpreter runs it
# ----------------------------------------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    """One attendance sync into ``--url``; prints ``{"cpu_s", "calls", "wall_s"}`` as JSON."""
    import asyncio
    import time

    from dingsync.dingtalk import DingTalkClient
    from dingsync.store import db
    from dingsync.sync.attendance import AttendanceSync
    from dingsync.sync.engine import run_sync

    app = json.loads(args.app)

    async def go() -> dict[str, Any]:
        engine = db.create_engine_for(args.url)
        async with DingTalkClient(
            app["app_key"],
            app["app_secret"],
            corp_id=app["corp_id"],
            oapi_url=args.base_url,
            api_url=args.base_url,
            qps_per_api=args.qps,
        ) as client:
            await client.get_access_token()
            sync = AttendanceSync(days=args.days, end=date.fromisoformat(args.end))
            profiler = None
            if args.profile_out:
                import cProfile

                profiler = cProfile.Profile(time.process_time)
                profiler.enable()
            wall, cpu = time.monotonic(), time.process_time()
            result = await run_sync(client, engine, app["corp_id"], [sync])
            cpu = time.process_time() - cpu
            wall = time.monotonic() - wall
            if profiler is not None:
                import io
                import pstats

                profiler.disable()
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("cumulative").print_stats(60)
                print("\n# by own time\n", file=out)
                stats.sort_stats("tottime").print_stats(40)
                with open(args.profile_out, "w") as fh:  # noqa: ASYNC230 (once, after the run)
                    fh.write(out.getvalue())
        engine.dispose()
        return {"cpu_s": cpu, "calls": sum(result.api_calls.values()), "wall_s": wall}

    print(json.dumps(asyncio.run(go())))


# ----------------------------------------------------------------------------------------------
# The parent
# ----------------------------------------------------------------------------------------------
def dump_tables(url: str) -> dict[str, list[Any]]:
    """Every ``attendance_*`` table's rows, canonical (sorted, stamps left out, JSON parsed)."""
    from sqlalchemy import select

    from dingsync.store import db, schema_attendance

    engine = db.create_engine_for(url)
    out: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for name in sorted(schema_attendance.metadata.tables):
            if not name.startswith("attendance_"):
                continue
            table = schema_attendance.metadata.tables[name]
            cols = [c for c in table.c if c.key not in STAMPS]
            rows = [
                json.dumps(dict(r._mapping), sort_keys=True, default=str, ensure_ascii=False)
                for r in conn.execute(select(*cols))
            ]
            out[name] = sorted(rows)
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    ap.add_argument("--app", help=argparse.SUPPRESS)
    ap.add_argument("--end", help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", help=argparse.SUPPRESS)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--qps", type=float, default=2000.0)
    ap.add_argument("--latency-ms", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", action="append", default=[], help="LABEL=PATH (repeatable)")
    ap.add_argument("--profile", help="directory for cProfile statistics per interpreter")
    ap.add_argument("--py-spy", help="directory for py-spy raw samples per interpreter")
    ap.add_argument("--compare", action="store_true", help="check every tree stored the same")
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    import asyncio

    import bench_directory as bench

    from dingsync.store import db
    from dingsync.sync.contacts import ContactsSync
    from dingsync.sync.engine import run_sync

    pythons = [tuple(p.split("=", 1)) for p in args.python] or [("this", sys.executable)]
    sandbox = bench.SandboxProcess(args.users, args.qps, args.latency_ms, days=args.days)
    results: dict[str, list[float]] = {label: [] for label, _ in pythons}
    dumps: dict[str, dict[str, list[Any]]] = {}
    load_before = os.getloadavg()
    try:
        end = sandbox.stats()["attendance"]["work_date_to"]
        with tempfile.TemporaryDirectory() as tmp:
            template = f"{tmp}/template.db"
            engine = db.create_engine_for(f"sqlite:///{template}")
            db.migrate(engine)

            async def directory() -> None:
                async with bench._client(sandbox, args.qps) as client:
                    await run_sync(client, engine, sandbox.app["corp_id"], [ContactsSync()])

            asyncio.run(directory())
            engine.dispose()
            for r in range(args.rounds):
                for label, python in pythons:
                    path = f"{tmp}/{label}-{r}.db"
                    shutil.copy(template, path)
                    url = f"sqlite:///{path}"
                    cmd_child = [__file__, "--child", "--url", url]
                    cmd_child += ["--base-url", sandbox.base_url, "--app", json.dumps(sandbox.app)]
                    cmd_child += ["--end", end, "--days", str(args.days), "--qps", str(args.qps)]
                    cmd = [python, *cmd_child]
                    if args.profile and r == 0:
                        Path(args.profile).mkdir(parents=True, exist_ok=True)
                        out = Path(args.profile) / f"attendance-{label}.txt"
                        cmd_child += ["--profile-out", str(out)]
                        cmd = [python, *cmd_child]
                    profiled = bool((args.profile or args.py_spy) and r == 0)
                    if args.py_spy and r == 0:
                        Path(args.py_spy).mkdir(parents=True, exist_ok=True)
                        raw = Path(args.py_spy) / f"attendance-{label}.raw"
                        spy = str(Path(sys.executable).with_name("py-spy"))
                        cmd = [spy, "record", "-r", "500", "--format", "raw", "-o", str(raw)]
                        cmd += ["--", python, *cmd_child]
                    proc = subprocess.run(cmd, capture_output=True, text=True)
                    if proc.returncode:
                        sys.exit(f"{label} child failed:\n{proc.stderr}")
                    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
                    got = json.loads(lines[-1])
                    per_call = got["cpu_s"] * 1000 / got["calls"]
                    if not profiled:
                        results[label].append(per_call)
                    print(
                        f"round {r} {label:>8}: CPU per call {per_call:6.2f} ms "
                        f"({got['cpu_s']:.2f} s / {got['calls']} calls), "
                        f"wall {got['wall_s']:.1f} s, "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                    if args.compare and label not in dumps:
                        dumps[label] = dump_tables(url)
                    os.remove(path)
    finally:
        sandbox.close()
    load_after = os.getloadavg()
    print(
        f"\n{args.users} people × {args.days} days, {args.qps:g} QPS/API, {args.latency_ms:g} ms; "
        f"load {load_before[0]:.1f} before, {load_after[0]:.1f} after (1-min)"
    )
    for label, values in results.items():
        if values:
            print(
                f"{label:>8}: best {min(values):.2f} ms, median {statistics.median(values):.2f} ms "
                f"per call ({len(values)} rounds)"
            )
    if args.compare and len(dumps) > 1:
        labels = list(dumps)
        first = dumps[labels[0]]
        ok = True
        for other in labels[1:]:
            for table, rows in first.items():
                theirs = dumps[other].get(table)
                if theirs != rows:
                    ok = False
                    print(
                        f"DIFFERENT {table}: {labels[0]} {len(rows)} rows, {other} "
                        f"{len(theirs or [])} rows"
                    )
        counts = {t: len(r) for t, r in first.items()}
        print(("same rows stored: " if ok else "rows differ: ") + json.dumps(counts))
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
