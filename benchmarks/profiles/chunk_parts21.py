"""The attendance chunks' writer, by part, in whichever tree runs it (issue 17, branch att21).

``python benchmarks/profiles/chunk_parts21.py --capture FILE [--users 300] [--days 30]``: syncs
a sandbox company (directory, then attendance) and pickles what every chunk fetched
(``list_result_items``, ``list_schedule_items``, ``list_record_items``: wire dicts) with its
window. ``python benchmarks/profiles/chunk_parts21.py --parts FILE [--rounds 5]``, run with each
tree's ``dingsync`` (``PYTHONPATH=<checkout>/src``): per round, every chunk written as the sync
writes it (``replace_*_tuples`` from ``*_values``, one transaction) into a new SQLite database
(a first sync), then again into the same one (a re-sync), and the window ``DELETE``s alone;
each part's process CPU is summed (wrappers around ``TupleUpsert.execute``,
``DriverStatement.convert_columns``, ``Connection.exec_driver_sql`` and the window delete).
Printed: the median over the rounds, ms.
"""

from __future__ import annotations

import argparse
import collections
import pickle
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def capture(path: str, users: int, days: int) -> None:
    from pg_writer19 import sync_sandbox_attendance

    from dingsync.dingtalk import attendance as api

    got: dict[str, list[Any]] = {"results": [], "schedules": [], "records": []}
    for name, key in [
        ("list_result_items", "results"),
        ("list_schedule_items", "schedules"),
        ("list_record_items", "records"),
    ]:
        original = getattr(api.AttendanceAPI, name)

        def keep(original: Any, key: str) -> Any:
            async def wrapped(self: Any, *args: Any) -> Any:
                out = await original(self, *args)
                got[key].append((args[-3:], out))  # (people, first date, last date)
                return out

            return wrapped

        setattr(api.AttendanceAPI, name, keep(original, key))
    sync_sandbox_attendance(users, days)
    with open(path, "wb") as fh:
        pickle.dump(got, fh)
    print({key: (len(v), sum(len(out) for _, out in v)) for key, v in got.items()})


def parts(path: str, rounds: int) -> None:
    from sqlalchemy import Connection

    from dingsync.store import db, repo
    from dingsync.store import repo_attendance as ra
    from dingsync.sync import attendance as sa

    with open(path, "rb") as fh:
        got = pickle.load(fh)
    spent: collections.Counter[str] = collections.Counter()

    def measure(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            cpu = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - cpu

        setattr(owner, name, wrapped)

    measure(repo.TupleUpsert, "execute", "upsert")
    measure(repo.DriverStatement, "convert_columns", "convert")
    measure(Connection, "exec_driver_sql", "driver")
    measure(ra, "_delete_for_users", "delete")
    chunks = list(zip(got["results"], got["schedules"], got["records"], strict=True))

    def write_all(engine: Any) -> None:
        with engine.begin() as conn:
            for ((people, a, b), res), (_, sch), ((_, _, punch_to), rec) in chunks:
                ra.replace_result_tuples(
                    conn, "c", people, a, b, [sa.result_values(r) for r in res]
                )
                ra.replace_schedule_tuples(
                    conn, "c", people, a, b, [sa.schedule_values(s) for s in sch]
                )
                ra.replace_record_tuples(
                    conn,
                    "c",
                    people,
                    sa.day_start(a),
                    sa.day_start(punch_to + timedelta(days=1)),
                    [sa.record_values(r) for r in rec],
                )

    figures: dict[str, list[float]] = collections.defaultdict(list)
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            engine = db.create_engine_for(f"sqlite:///{tmp}/parts.db")
            db.migrate(engine)
            for run in ("first", "resync"):
                spent.clear()
                cpu = time.process_time()
                write_all(engine)
                figures[f"{run} total"].append(time.process_time() - cpu)
                for label, seconds in spent.items():
                    figures[f"{run} {label}"].append(seconds)
            engine.dispose()
    print(f"{len(chunks)} chunks; CPU, ms (median of {rounds}):")
    for label, values in figures.items():
        print(f"  {label:>16}: {statistics.median(values) * 1000:7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--capture")
    ap.add_argument("--parts")
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.capture:
        capture(args.capture, args.users, args.days)
    if args.parts:
        parts(args.parts, args.rounds)


if __name__ == "__main__":
    main()
