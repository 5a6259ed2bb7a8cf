"""The login's store hop statement by statement (issue 17, branch ``login20``).

A synced SQLite database (``bench_web.synced_sqlite``, 300 people), then
``login._session_if_fresh`` for fresh users in a loop: its CPU per hop (single thread), and
every SQL statement SQLite ran in it (``sqlite3.Connection.set_trace_callback``, values
inlined), each timed again alone on a raw ``sqlite3`` connection to the same file — so what
SQLite itself costs per statement shows next to the hop's Python around it. Writes are timed
inside a rolled-back transaction; the commit of one session insert is timed on its own.

Usage: ``python benchmarks/profiles/store_hop20.py [--users 300] [--hops 1000] [--mmap N]
[--cprofile]`` (``--mmap``: ``PRAGMA mmap_size`` on the engine's connections; the reads are
also timed with and without a write before each round, and with and without ``mmap_size``).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_directory import SandboxProcess
from bench_web import login_setup, synced_sqlite
from sqlalchemy import event

from dingsync.web import login as login_mod
from dingsync.web import sessions
from dingsync.web.app import create_app


def _time(conn: sqlite3.Connection, sql: str, n: int) -> float:
    """µs per run of ``sql`` (a write inside a transaction rolled back each time)."""
    write = not sql.lstrip().upper().startswith(("SELECT", "WITH"))
    cpu = time.process_time()
    for _ in range(n):
        if write:
            conn.execute("BEGIN")
            conn.execute(sql)
            conn.execute("ROLLBACK")
        else:
            conn.execute(sql).fetchall()
    return (time.process_time() - cpu) * 1e6 / n


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="store_hop20")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--hops", type=int, default=1000)
    parser.add_argument(
        "--mmap", type=int, default=-1, help="PRAGMA mmap_size=N on the engine's connections"
    )
    parser.add_argument("--cprofile", action="store_true", help="cProfile's top 40 of the hops")
    args = parser.parse_args(argv)
    sb = SandboxProcess(args.users, 0, 0)
    tmp = tempfile.TemporaryDirectory()
    try:
        url, engine = synced_sqlite(sb, tmp.name)
        settings, userids = login_setup(sb, url)
        if args.mmap >= 0:
            engine.pool.dispose()

            def mmap(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute(f"PRAGMA mmap_size={args.mmap}")

            event.listen(engine.pool, "connect", mmap)
        app = create_app(settings, engine=engine)
        ctx = app.state.web
        counter = iter(range(10**9))

        def hop() -> Any:
            n = next(counter)
            code = f"hop20-{n}"
            key = sessions.code_hash(ctx.corp_id, code)
            out = login_mod._session_if_fresh(ctx, userids[n % len(userids)], (code, key), 0)
            assert isinstance(out, tuple), out
            return out

        for _ in range(50):
            hop()
        cpu = time.process_time()
        for _ in range(args.hops):
            hop()
        per_hop = (time.process_time() - cpu) * 1000 / args.hops
        print(f"store hop (_session_if_fresh), CPU per hop: {per_hop:.3f} ms")
        if args.cprofile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(lambda: [hop() for _ in range(args.hops)])
            pstats.Stats(prof).sort_stats("tottime").print_stats(40)

        # The statements of one hop, as SQLite saw them (a pool event, not a connection
        # event: the driver statements' own path stays the one measured above).
        seen: list[str] = []

        def trace(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
            dbapi_conn.set_trace_callback(seen.append)

        def untrace(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.set_trace_callback(None)

        db_path = url.removeprefix("sqlite:///")
        # The statements are timed on a copy made before the traced hop (its inserts' keys
        # are then new there).
        alone = sqlite3.connect(str(Path(tmp.name) / "copy.db"), isolation_level=None)
        source = sqlite3.connect(db_path)
        source.backup(alone)
        source.close()
        event.listen(engine.pool, "checkout", trace)
        event.listen(engine.pool, "checkin", untrace)
        hop()
        event.remove(engine.pool, "checkout", trace)
        event.remove(engine.pool, "checkin", untrace)
        alone.execute("PRAGMA journal_mode=WAL")
        alone.execute("PRAGMA foreign_keys=ON")
        alone.execute("PRAGMA synchronous=NORMAL")
        total = 0.0
        print(f"statements SQLite ran in one hop: {len(seen)}")
        for sql in seen:
            word = sql.split(None, 1)[0].upper()
            if word in ("BEGIN", "COMMIT", "ROLLBACK"):
                print(f"  {'—':>8}  {sql[:110]}")
                continue
            us = _time(alone, sql, 300)
            total += us
            print(f"  {us:8.1f}  {sql[:110]}")
        print(f"SQLite alone, the statements above: {total / 1000:.3f} ms per hop")
        # The hop's reads again, each round after a write transaction (as in a service where
        # every login writes: SQLite drops a connection's page cache when the WAL changed
        # since its last read) — without and with memory-mapped reads of the database file.
        reads = [q for q in seen if q.split(None, 1)[0].upper() == "SELECT"]
        for mmap_size in (0, 268435456):
            alone.execute(f"PRAGMA mmap_size={mmap_size}")
            for after_write in (False, True):
                spent = 0.0
                for n in range(500):
                    if after_write:
                        alone.execute("BEGIN")
                        alone.execute(
                            "INSERT INTO web_login_codes (code_hash, corp_id, userid,"
                            " session_hash, sealed_token, created_at, expires_at)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (f"r20-{mmap_size}-{n}", ctx.corp_id, userids[0], "s", b"x", "a", "b"),
                        )
                        alone.execute("COMMIT")
                    cpu = time.process_time()
                    for q in reads:
                        alone.execute(q).fetchall()
                    spent += time.process_time() - cpu
                print(
                    f"mmap_size={mmap_size}: the {len(reads)} reads"
                    + (", each round after a one-insert write" if after_write else "")
                    + f": {spent * 1000 / 500:.3f} ms per round"
                )
        # A commit of one small write (the session insert's transaction).
        cpu = time.process_time()
        for n in range(300):
            alone.execute("BEGIN")
            alone.execute(
                "INSERT INTO web_login_codes (code_hash, corp_id, userid, session_hash,"
                " sealed_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (f"c20-{n}", ctx.corp_id, userids[0], "s", b"x" * 60, "2026-01-01", "2026-01-01"),
            )
            alone.execute("COMMIT")
        print(
            f"one-insert write transaction with its commit: "
            f"{(time.process_time() - cpu) * 1000 / 300:.3f} ms"
        )
    finally:
        sb.close()
        tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])
