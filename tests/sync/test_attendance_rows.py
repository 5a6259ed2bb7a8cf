"""The attendance chunk's fast path stores exactly what the model path stores.

The sync builds its results, punches and schedules as tuples straight from the wire dicts
(``list_*_items`` → ``plain_item``; ``result_values``/``record_values``/``schedule_values``;
``repo.upsert_tuples``). Here the same company is synced that way, and the same window read
through the models (``list_results`` → ``result_row`` → ``replace_results``, the way before
issue 17's att17c) is written under a second corp id in the same database: every column of every
row (``raw`` included, read back through the JSON type) must be equal — on SQLite, PostgreSQL
and MariaDB.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, Table, select

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import repo_attendance
from dingsync.store.schema_attendance import (
    attendance_records,
    attendance_results,
    attendance_schedules,
)
from dingsync.sync.attendance import (
    AttendanceSync,
    day_start,
    record_row,
    result_row,
    schedule_row,
)
from helpers.attendance import last_work_date, make_client, sync_all

USERS = 40
DAYS = 10
OTHER = "corp-model-path"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=23, users=USERS, days=DAYS, qps_limit=None)) as sb:
        yield sb


def _rows(engine: Engine, table: Table, corp_id: str) -> list[str]:
    cols = [c for c in table.c if c.key not in ("corp_id", "synced_at")]
    with engine.connect() as conn:
        got = conn.execute(select(*cols).where(table.c.corp_id == corp_id))
        return sorted(
            json.dumps(dict(r._mapping), sort_keys=True, default=str, ensure_ascii=False)
            for r in got
        )


def test_fast_path_stores_the_rows_of_the_model_path(
    sandbox: SandboxServer, engine: Engine
) -> None:
    end = last_work_date(sandbox)
    start = end - timedelta(days=DAYS - 1)
    result = asyncio.run(sync_all(sandbox, engine, days=DAYS, end=end))
    assert result.status == "succeeded"
    corp = sandbox.app.corp_id
    with engine.connect() as conn:
        people, op = AttendanceSync()._people(conn, corp)
    assert people

    async def through_models() -> tuple[list[Any], list[Any], list[Any]]:
        async with make_client(sandbox) as client:
            api = client.attendance
            return (
                await api.list_results(people, start, end),
                await api.list_schedules(op, people, start, end),
                await api.list_records(people, start, end + timedelta(days=1)),
            )

    results, schedules, records = asyncio.run(through_models())
    with engine.begin() as conn:
        repo_attendance.replace_results(
            conn, OTHER, people, start, end, [result_row(r) for r in results]
        )
        repo_attendance.replace_schedules(
            conn, OTHER, people, start, end, [schedule_row(s) for s in schedules]
        )
        repo_attendance.replace_records(
            conn,
            OTHER,
            people,
            day_start(start),
            day_start(end + timedelta(days=2)),
            [record_row(r) for r in records],
        )
    for table in (attendance_results, attendance_records, attendance_schedules):
        fast, model = _rows(engine, table, corp), _rows(engine, table, OTHER)
        assert len(fast) > 100, table.name
        assert fast == model, table.name
    # Punches carry DingTalk's floats sent as ints ("userAccuracy": 65): stored as floats, as
    # validation made them.
    with engine.connect() as conn:
        raws = conn.execute(
            select(attendance_records.c.raw).where(attendance_records.c.corp_id == corp)
        ).scalars()
        accuracies = [r["userAccuracy"] for r in raws if "userAccuracy" in r]
    assert accuracies and all(isinstance(a, float) for a in accuracies)
