"""CPU per DingTalk call of the reports and approvals syncs, checkouts side by side (issue 17).

``python benchmarks/profiles/profile_reports_approvals.py [--python A --python B] [--rounds N]
[--areas reports,approvals] [--pyspy DIR] [--dump DIR]`` from the repository's root: starts one
sandbox in its own process (300 people, 30 days, QPS 2,000 per API, 5 ms by default), syncs
its directory once into a SQLite file, then for each round and each interpreter (another
checkout's venv, e.g. ``/work/main/.venv/bin/python``; default: this one) and each area runs
the area's full sync in a child process of that interpreter, on a copy of that file. The child
prints its process CPU during the sync ÷ the sync's DingTalk calls (start-up, imports,
migrations and the token fetch are outside the clock). Printed: every run, then best and median
per (interpreter, area).

- ``--pyspy DIR``: the children run under ``py-spy record -r 500 --format raw`` (one file per
  interpreter and area in ``DIR``; ``aggregate.py`` turns them into the tables of
  ``reports-*17.txt``/``approvals-*17.txt``). Sampling costs CPU: take figures without it.
- ``--cprofile DIR``: each child writes cProfile stats (process time) of its run to ``DIR``.
- ``--dump DIR``: each child writes its area's tables (every row, sorted, the columns that say
  when a row was written left out) as JSON to ``DIR``, to compare checkouts' stored rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: Columns that say when or by which run a row was written, not what DingTalk said.
WHEN_COLUMNS = {"synced_at", "created_at", "updated_at", "last_seen_run_id", "details_synced_at"}
AREA_TABLES = {
    "reports": [
        "report_templates",
        "report_template_fields",
        "report_rules",
        "reports",
        "report_contents",
        "report_receivers",
        "report_comments",
        "report_user_stats",
    ],
    "approvals": [
        "approval_templates",
        "approval_instances",
        "approval_form_values",
        "approval_detail_rows",
        "approval_tasks",
        "approval_operation_records",
        "approval_cc",
        "approval_attachments",
    ],
}


# --------------------------------------------------------------------------------------------
# Child: one area's sync, timed
# --------------------------------------------------------------------------------------------
def _client(app: dict[str, Any]) -> Any:
    """A client of the sandbox app ``app`` (its keys, corp, base URL and QPS per API)."""
    from dingsync.dingtalk import DingTalkClient

    return DingTalkClient(
        app["app_key"],
        app["app_secret"],
        corp_id=app["corp_id"],
        oapi_url=app["base_url"],
        api_url=app["base_url"],
        qps_per_api=app["qps"],
    )


async def _child_sync(app: dict[str, Any], area: str, url: str, details: str) -> dict[str, Any]:
    from dingsync.store import db
    from dingsync.sync.engine import run_sync

    engine = db.create_engine_for(url)
    db.migrate(engine)
    entity: Any
    if area == "reports":
        from dingsync.sync.reports import ReportsSync

        entity = ReportsSync(history_days=app["days"], details=details)  # type: ignore[arg-type]
    else:
        from dingsync.sync.approvals import ApprovalsSync

        entity = ApprovalsSync(history_days=app["days"])
    async with _client(app) as client:
        await client.get_access_token()
        cpu, wall = time.process_time(), time.monotonic()
        result = await run_sync(client, engine, app["corp_id"], [entity])
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    engine.dispose()
    calls = sum(result.api_calls.values())
    return {
        "area": area,
        "calls": calls,
        "cpu_s": cpu,
        "wall_s": wall,
        "cpu_ms_per_call": cpu * 1000 / max(1, calls),
        "status": str(getattr(result, "status", "")),
    }


def _dump(url: str, area: str, corp_id: str, path: str) -> None:
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine, only=AREA_TABLES[area])
    out: dict[str, list[list[Any]]] = {}
    with engine.connect() as conn:
        for name in AREA_TABLES[area]:
            t = meta.tables[name]
            cols = [c for c in t.c if c.name not in WHEN_COLUMNS]
            rows = conn.execute(select(*cols).where(t.c.corp_id == corp_id)).all()
            out[name] = sorted(
                ([str(v) if v is not None else None for v in r] for r in rows), key=repr
            )
    engine.dispose()
    Path(path).write_text(json.dumps(out, ensure_ascii=False, sort_keys=True))


def child(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True, help="JSON: sandbox app, base_url, qps, days")
    ap.add_argument("--area", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--details", default="none")
    ap.add_argument("--dump")
    ap.add_argument("--cprofile", help="write cProfile stats (process time) of the sync here")
    args = ap.parse_args(argv)
    app = json.loads(args.app)
    # Imports before the loop starts: not the sync's work (profiles count the loop's stacks).
    import dingsync.dingtalk
    import dingsync.store.db
    import dingsync.sync.approvals
    import dingsync.sync.engine
    import dingsync.sync.reports  # noqa: F401

    if args.cprofile:
        import cProfile

        prof = cProfile.Profile(time.process_time)
        res = prof.runcall(asyncio.run, _child_sync(app, args.area, args.db, args.details))
        prof.dump_stats(args.cprofile)
    else:
        res = asyncio.run(_child_sync(app, args.area, args.db, args.details))
    if args.dump:
        _dump(args.db, args.area, app["corp_id"], args.dump)
    print("RESULT " + json.dumps(res), flush=True)


# --------------------------------------------------------------------------------------------
# Parent: sandbox, directory once, children alternating
# --------------------------------------------------------------------------------------------
def _directory(app: dict[str, Any], url: str) -> None:
    from dingsync.store import db
    from dingsync.sync.contacts import ContactsSync
    from dingsync.sync.engine import run_sync

    engine = db.create_engine_for(url)
    db.migrate(engine)

    async def go() -> None:
        async with _client(app) as client:
            await run_sync(client, engine, app["corp_id"], [ContactsSync()])

    asyncio.run(go())
    engine.dispose()


def parent(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--python", action="append", help="interpreter(s) to compare")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--areas", default="reports,approvals")
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--qps", type=float, default=2000.0)
    ap.add_argument("--latency-ms", type=float, default=5.0)
    ap.add_argument("--density", type=float, default=0.111, help="approvals per person per day")
    ap.add_argument("--details", default="none", help="reports: none, recent or all")
    ap.add_argument("--pyspy", help="record each child with py-spy into this folder")
    ap.add_argument("--dump", help="write each child's stored rows as JSON into this folder")
    ap.add_argument("--cprofile", help="write each child's cProfile stats into this folder")
    args = ap.parse_args(argv)
    pythons = args.python or [sys.executable]
    areas = args.areas.split(",")

    sys.path.insert(0, str(HERE.parent))
    import httpx
    from bench_directory import SandboxProcess

    sb = SandboxProcess(args.users, args.qps, args.latency_ms, days=args.days, start_timeout=900)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        httpx.post(
            f"{sb.base_url}/sandbox/config",
            json={"approvals_per_user_day": args.density},
            timeout=30,
        ).raise_for_status()
        sb.stats()  # generates every area's world before any clock starts
        app = {**sb.app, "base_url": sb.base_url, "qps": args.qps, "days": args.days}
        with tempfile.TemporaryDirectory() as tmp:
            base = f"{tmp}/directory.db"
            _directory(app, f"sqlite:///{base}")
            for rnd in range(args.rounds):
                for i, py in enumerate(pythons):
                    for area in areas:
                        path = f"{tmp}/r{rnd}-{i}-{area}.db"
                        shutil.copy(base, path)
                        cmd = [py, __file__, "child", "--app", json.dumps(app), "--area", area]
                        cmd += ["--db", f"sqlite:///{path}", "--details", args.details]
                        if args.dump:
                            os.makedirs(args.dump, exist_ok=True)
                            cmd += ["--dump", f"{args.dump}/{area}-{i}-r{rnd}.json"]
                        if args.cprofile:
                            os.makedirs(args.cprofile, exist_ok=True)
                            cmd += ["--cprofile", f"{args.cprofile}/{area}-{i}-r{rnd}.prof"]
                        if args.pyspy:
                            os.makedirs(args.pyspy, exist_ok=True)
                            raw = f"{args.pyspy}/{area}-{i}-r{rnd}.raw"
                            spy = str(Path(sys.executable).parent / "py-spy")
                            cmd = [
                                spy,
                                "record",
                                "-r",
                                "500",
                                "--format",
                                "raw",
                                "-o",
                                raw,
                                "--",
                                *cmd,
                            ]
                        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                        line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
                        if not line:
                            print(out.stdout, out.stderr, file=sys.stderr)
                            raise RuntimeError(f"child failed: {py} {area}")
                        res = json.loads(line[-1][len("RESULT ") :])
                        res["load"] = os.getloadavg()[0]
                        results.setdefault((py, area), []).append(res)
                        print(
                            f"round {rnd} {py} {area}: {res['cpu_ms_per_call']:.3f} ms/call "
                            f"({res['calls']} calls, CPU {res['cpu_s']:.2f} s, wall "
                            f"{res['wall_s']:.2f} s, load {res['load']:.1f})",
                            flush=True,
                        )
                        os.unlink(path)
    finally:
        sb.close()
    print("\n| interpreter | area | rounds | best ms/call | median ms/call | calls |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (py, area), runs in results.items():
        per = [r["cpu_ms_per_call"] for r in runs]
        print(
            f"| {py} | {area} | {len(per)} | {min(per):.3f} | {statistics.median(per):.3f} | "
            f"{runs[0]['calls']} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2:])
    else:
        parent(sys.argv[1:])
