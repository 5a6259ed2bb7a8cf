"""Attendance's memory bound on PostgreSQL: however many people, at most a fixed number of units
hold fetched data waiting for their commit.

PostgreSQL's writes run in a thread, so the event loop keeps fetching while a transaction runs;
a unit that gives its slot back once fetched lets every such unit be fetched and wait for the
writer at once. At 20,000 people that was every leave, trips-and-holidays and column-values
unit together (~80 MB more peak RSS than SQLite, whose writes run on the loop). Here the writer
is slowed down and the number of attendance units queued but not committed is counted.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db
from dingsync.sync import attendance
from dingsync.sync.engine import SyncContext
from helpers.attendance import DAYS, SEED, sync_all

#: 300 people: 3 leave units (100 people each), 6 trips-and-holidays units (50 each), 300
#: column-value units, 6 × 5 chunks (50 people × 7 dates).
USERS = 300
#: The bound under test (patched down from 16 so that a few hundred people exceed it).
SLOTS = 2


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=SEED, users=USERS, days=DAYS, qps_limit=None)) as sb:
        yield sb


def test_units_waiting_for_the_writer_stay_bounded(
    sandbox: SandboxServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(attendance, "CHUNK_CONCURRENCY", SLOTS)
    monkeypatch.setattr(attendance, "UNIT_CONCURRENCY", SLOTS)
    engine = db.create_engine_for(pg_url)
    db.migrate(engine)
    asyncio.run(sync_all(sandbox, engine, days=1))  # the directory (and one day, unmeasured)

    waiting: dict[str, int] = {"now": 0, "max": 0}
    lock = threading.Lock()
    queue_unit = SyncContext._queue_unit
    run_batch = SyncContext._run_batch

    def counted_queue_unit(
        self: SyncContext, entity: str, key: str, *args: Any, **kwargs: Any
    ) -> asyncio.Future[None]:
        fut = queue_unit(self, entity, key, *args, **kwargs)
        if entity == attendance.ENTITY and not key.startswith("@"):
            with lock:
                waiting["now"] += 1
                waiting["max"] = max(waiting["max"], waiting["now"])

            def done(_: asyncio.Future[None]) -> None:
                with lock:
                    waiting["now"] -= 1

            fut.add_done_callback(done)
        return fut

    def slow_run_batch(
        self: SyncContext,
        batch: list[Callable[[Connection], Any]],
        calls: dict[str, int] | None = None,
    ) -> list[Any]:
        time.sleep(0.03)  # a writer slower than the fetches, as at 20,000 people
        return run_batch(self, batch, calls)

    monkeypatch.setattr(SyncContext, "_queue_unit", counted_queue_unit)
    monkeypatch.setattr(SyncContext, "_run_batch", slow_run_batch)
    result = asyncio.run(sync_all(sandbox, engine, contacts=False, columns=True))
    engine.dispose()

    assert result.status == "succeeded"
    assert result.counts["attendance_column_values"] > 0  # the per-person units did run
    assert result.counts["attendance_leaves"] > 0
    # Chunks hold at most SLOTS + CHUNK_COMMIT_AHEAD (those fetching and those fetched waiting
    # for the writer), the other per-people units at most SLOTS; the groups and the leave
    # types are one unit each.
    assert waiting["max"] <= 2 * SLOTS + attendance.CHUNK_COMMIT_AHEAD + 2, waiting
