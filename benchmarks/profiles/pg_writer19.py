"""The attendance writer on PostgreSQL, statement shapes side by side (issue 17, branch pgatt19).

``python benchmarks/profiles/pg_writer19.py --postgres URL [--users 500] [--days 30]
[--rounds 3] [--capture FILE] [--variants executemany,unnest,copy]`` from the repository's root.

1. **Capture** (once, kept in ``--capture FILE`` when given): the sandbox (seed 42) in its own
   process, its directory and attendance synced into a temporary SQLite database with
   ``repo_attendance.replace_{result,schedule,record}_tuples`` wrapped: every chunk's arguments
   (people, window, rows as the sync built them) are kept, in the order the sync wrote them.
2. **Replay** per round and per variant (alternating within the round): a fresh PostgreSQL
   database beside ``URL``'s (``<db>_pw_<variant>``, migrated), every captured chunk written in
   transactions of ``--batch`` chunks (the sync's writer commits ~9 chunks a transaction at
   2,000 people), as ``replace_*_tuples`` does: the window's DELETE then the upsert.
   Printed: wall, this process's CPU, the PostgreSQL backend's CPU (``/proc/<pid>/stat``) and
   rows per second of wall. The variants replace ``TupleUpsert``'s statement only:

   - ``executemany``: main's — one ``INSERT … ON CONFLICT`` per row through psycopg's
     ``executemany`` (pipelined).
   - ``unnest``: this branch's — one ``INSERT … SELECT … FROM unnest(%s::T[], …) ON
     CONFLICT`` per batch of rows, each column one array parameter (``TupleUpsert``'s
     PostgreSQL path).
   - ``copy``: psycopg's ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON
     CONFLICT`` from it (prototype, measured only).

``--compare`` checks every variant stored the same rows (``profile_attendance.dump_tables``).
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

WRITERS = ("replace_result_tuples", "replace_schedule_tuples", "replace_record_tuples")


def sync_sandbox_attendance(users: int, days: int) -> None:
    """Sync the sandbox company (seed 42, ``users`` people, in its own process) into a temporary
    SQLite database: its directory, then the attendance of its last ``days`` work dates. What
    the capture scripts wrap (the writers, the API) to keep what the sync wrote or fetched."""
    import asyncio
    from datetime import date

    import bench_directory as bench

    from dingsync.store import db
    from dingsync.sync.attendance import AttendanceSync
    from dingsync.sync.contacts import ContactsSync
    from dingsync.sync.engine import run_sync

    sandbox = bench.SandboxProcess(users, 2000, 5, days=days, start_timeout=900)
    try:
        end = date.fromisoformat(sandbox.stats()["attendance"]["work_date_to"])
        with tempfile.TemporaryDirectory() as tmp:
            engine = db.create_engine_for(f"sqlite:///{tmp}/capture.db")
            db.migrate(engine)

            async def go() -> None:
                async with bench._client(sandbox, 2000) as client:
                    corp = sandbox.app["corp_id"]
                    await run_sync(client, engine, corp, [ContactsSync()])
                    await run_sync(client, engine, corp, [AttendanceSync(days=days, end=end)])

            asyncio.run(go())
            engine.dispose()
    finally:
        sandbox.close()


def capture(users: int, days: int, out: Path) -> None:
    """Sync the sandbox's attendance into SQLite and keep every chunk's writer arguments."""
    from dingsync.store import repo_attendance

    chunks: list[tuple[str, tuple[Any, ...]]] = []
    for name in WRITERS:
        original = getattr(repo_attendance, name)

        def wrapped(conn: Any, *args: Any, _name: str = name, _orig: Any = original) -> int:
            corp_id, userids, start, end, rows = args
            rows = list(rows)
            chunks.append((_name, (corp_id, list(userids), start, end, rows)))
            return int(_orig(conn, corp_id, userids, start, end, rows))

        setattr(repo_attendance, name, wrapped)
    sync_sandbox_attendance(users, days)
    out.write_bytes(pickle.dumps(chunks))
    print(f"captured {len(chunks)} writes, {sum(len(c[1][4]) for c in chunks)} rows")


# --------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------
def _use(variant: str) -> None:
    """Make ``TupleUpsert`` write with ``variant``'s statement."""
    from dingsync.store import repo

    if variant == "unnest":
        return  # the branch's own PostgreSQL path
    if variant == "executemany":
        repo.TupleUpsert.ARRAYS = False
        return
    if variant == "copy":
        repo.TupleUpsert._write = _copy_write  # type: ignore[method-assign,attr-defined]
        return
    raise SystemExit(f"unknown variant {variant}")


def _copy_write(self: Any, conn: Any, columns: list[list[Any]], n: int) -> None:
    """Prototype: COPY the converted columns into a temporary table shaped like the target,
    then one INSERT … SELECT … ON CONFLICT (the upsert's own ON CONFLICT clause)."""
    driver = self.driver
    params = driver.column_params(columns, n)
    names = driver.names
    table = self.table.name
    tmp = f"_copy_{table}"
    sql = driver.sql
    on_conflict = sql[sql.index(" ON CONFLICT") :]
    cols = ", ".join(names)
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table}) ON COMMIT DELETE ROWS")
        with cur.copy(f"COPY {tmp} ({cols}) FROM STDIN") as copy:
            for p in params:
                copy.write_row([p[k] for k in names])
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp}{on_conflict}")
        cur.execute(f"TRUNCATE {tmp}")


# --------------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------------
def _backend_cpu(conn: Any) -> float:
    from sqlalchemy import text

    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    conn.rollback()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def replay(args: argparse.Namespace) -> None:
    """Child: write every captured chunk into ``--url`` with ``--variant``; prints one line."""
    import json

    from dingsync.store import db, repo_attendance

    _use(args.variant)
    chunks = pickle.loads(Path(args.capture).read_bytes())
    engine = db.create_engine_for(args.url)
    db.migrate(engine)
    with engine.connect() as conn:
        server0 = _backend_cpu(conn)
        wall, cpu = time.monotonic(), time.process_time()
        rows = 0
        for i in range(0, len(chunks), args.batch):
            with conn.begin():
                for name, (corp_id, userids, start, end, data) in chunks[i : i + args.batch]:
                    rows += getattr(repo_attendance, name)(conn, corp_id, userids, start, end, data)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        server = _backend_cpu(conn) - server0
    engine.dispose()
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "server_cpu_s": server, "rows": rows}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--postgres", required=True, help="PostgreSQL URL (databases beside it)")
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=9, help="chunks per transaction")
    ap.add_argument("--capture", help="file of captured chunks (made when missing)")
    ap.add_argument("--variants", default="executemany,unnest,copy")
    ap.add_argument("--compare", action="store_true")
    args = ap.parse_args()
    if args.child:
        replay(args)
        return

    import json
    import subprocess

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    tmpdir = tempfile.mkdtemp()
    path = Path(args.capture or f"{tmpdir}/chunks.pickle")
    if not path.exists():
        capture(args.users, args.days, path)
    base = make_url(args.postgres)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    variants = args.variants.split(",")
    got: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    dumps: dict[str, Any] = {}
    for r in range(args.rounds):
        for variant in variants:
            name = f"{base.database}_pw_{variant}"
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = base.set(database=name).render_as_string(hide_password=False)
            cmd = [sys.executable, __file__, "--child", "--url", url, "--variant", variant]
            cmd += ["--capture", str(path), "--batch", str(args.batch)]
            cmd += ["--postgres", args.postgres]
            load = os.getloadavg()[0]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{variant} failed:\n{proc.stderr}")
            fig = json.loads(proc.stdout.splitlines()[-1])
            fig["load"] = load
            got[variant].append(fig)
            print(
                f"round {r} {variant:>11}: wall {fig['wall_s']:.2f} s, process CPU "
                f"{fig['cpu_s']:.2f} s, server CPU {fig['server_cpu_s']:.2f} s, "
                f"{fig['rows'] / fig['wall_s']:.0f} rows/s ({fig['rows']} rows), load {load:.1f}",
                flush=True,
            )
            if args.compare and r == 0:
                from profile_attendance import dump_tables

                dumps[variant] = dump_tables(url)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    print()
    for variant, figs in got.items():
        med = {
            k: round(statistics.median(f[k] for f in figs), 3)
            for k in ("wall_s", "cpu_s", "server_cpu_s")
        }
        rate = statistics.median(f["rows"] / f["wall_s"] for f in figs)
        print(f"{variant:>11} medians: {med}, {rate:.0f} rows/s")
    if args.compare:
        first = variants[0]
        same = all(dumps[v] == dumps[first] for v in variants[1:])
        print(
            ("same rows stored " if same else "ROWS DIFFER ")
            + str({t: len(rows) for t, rows in dumps[first].items() if rows})
        )
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
