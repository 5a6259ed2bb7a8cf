"""One sync per corp and database at a time: the lease on SQLite (file and memory) and
PostgreSQL, a killed holder, and ``run_sync`` refusing a second run over loopback HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import Engine, func, select

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db
from dingsync.store.schema import sync_runs
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from dingsync.sync.lease import SyncAlreadyRunning, sync_lease
from helpers.contacts import assert_db_equals_company, make_client


def test_a_second_holder_is_refused_until_the_first_lets_go(engine: Engine) -> None:
    with sync_lease(engine, "corpA"):
        with pytest.raises(SyncAlreadyRunning, match="another sync of corp corpA"):
            with sync_lease(engine, "corpA"):
                pass
        # another corp on the same database is independent
        with sync_lease(engine, "corpB"):
            pass
    with sync_lease(engine, "corpA"):
        pass


def test_a_second_engine_on_the_same_database_is_refused(db_url: str) -> None:
    one, two = db.create_engine_for(db_url), db.create_engine_for(db_url)
    try:
        with sync_lease(one, "corpA"):
            with pytest.raises(SyncAlreadyRunning):
                with sync_lease(two, "corpA"):
                    pass
    finally:
        one.dispose()
        two.dispose()


def test_in_memory_sqlite_is_guarded_in_process() -> None:
    eng = db.create_engine_for("sqlite://")
    with sync_lease(eng, "corpA"):
        with pytest.raises(SyncAlreadyRunning):
            with sync_lease(eng, "corpA"):
                pass
    with sync_lease(eng, "corpA"):
        pass


HOLDER = """
import sys, time
from dingsync.store import db
from dingsync.sync.lease import sync_lease
eng = db.create_engine_for(sys.argv[1])
with sync_lease(eng, "corpA"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_leaves_no_stale_lock(db_url: str, engine: Engine) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(SyncAlreadyRunning):
            with sync_lease(engine, "corpA"):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 10  # the server notices the dropped connection
    while True:
        try:
            with sync_lease(engine, "corpA"):
                break
        except SyncAlreadyRunning:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def test_a_second_sync_of_the_same_corp_is_refused_and_the_first_finishes(
    engine: Engine,
) -> None:
    config = SandboxConfig(seed=9, users=80, qps_limit=None, latency_ms=20, jitter_ms=0)
    with SandboxServer(config) as sb:
        corp_id = sb.app.corp_id
        async with make_client(sb) as first_client, make_client(sb) as second_client:
            first = asyncio.create_task(run_sync(first_client, engine, corp_id, [ContactsSync()]))
            while not first_client.calls:  # noqa: ASYNC110 - the first run is under way
                await asyncio.sleep(0.01)
            with pytest.raises(SyncAlreadyRunning):
                await run_sync(second_client, engine, corp_id, [ContactsSync()])
            assert sum(second_client.calls.values()) == 0  # refused before any DingTalk call
            result = await first
        assert result.status == "succeeded"
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(sync_runs)).scalar() == 1
        assert_db_equals_company(engine, corp_id, sb.company)
