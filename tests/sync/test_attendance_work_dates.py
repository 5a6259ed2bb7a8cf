"""Work dates are stored as calendar dates (SQL ``DATE``, Asia/Shanghai) — DESIGN §4 — on
SQLite and PostgreSQL: a synced database holds ``date(2026, 11, 27)`` for work date 2026-11-27,
and a BI query by that day (``= '2026-11-27'``, ``LIKE '2026-11-27%'``) finds its rows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, String, cast, func, select, text

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import repo_attendance
from dingsync.store.schema_attendance import (
    attendance_column_values,
    attendance_leaves,
    attendance_records,
    attendance_results,
    attendance_schedules,
)
from helpers.attendance import SEED, area_of, make_client, sync_all

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: History ends on work date 2026-11-27 (a Friday): the anchor is 2026-11-28 00:00 Shanghai.
ANCHOR_MS = int(datetime(2026, 11, 28, tzinfo=SHANGHAI).timestamp() * 1000)
DAY = date(2026, 11, 27)
FIRST = date(2026, 11, 24)
TABLES = (
    attendance_schedules,
    attendance_results,
    attendance_records,
    attendance_leaves,
    attendance_column_values,
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    cfg = SandboxConfig(seed=SEED, users=40, days=4, anchor_ms=ANCHOR_MS, qps_limit=None)
    with SandboxServer(cfg) as sb:
        yield sb


def _shanghai_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date()


def _dingtalk_truth(sb: SandboxServer, userids: list[str]) -> tuple[dict[int, date], Any]:
    """Result id → work date, and punch id → work date, as DingTalk (the sandbox over HTTP)
    sends them: ``workDate`` epoch ms, read here as the Asia/Shanghai day."""

    async def run() -> tuple[list[Any], list[Any]]:
        async with make_client(sb) as client:
            api = client.attendance
            return (
                await api.list_results(userids, FIRST, DAY),
                await api.list_records(userids, FIRST, date(2026, 11, 28)),
            )

    results, records = asyncio.run(run())
    return (
        {r.id: _shanghai_day(r.work_date) for r in results},
        {r.id: _shanghai_day(r.work_date) if r.work_date else None for r in records},
    )


def test_synced_work_dates_are_shanghai_calendar_dates(
    sandbox: SandboxServer, engine: Engine
) -> None:
    result = asyncio.run(sync_all(sandbox, engine, columns=True, days=4, end=DAY))
    assert result.status == "succeeded"
    corp = sandbox.app.corp_id
    world = area_of(sandbox).world
    with engine.connect() as conn:
        stored = {
            t.name: conn.execute(select(t).where(t.c.corp_id == corp)).mappings().all()
            for t in TABLES
        }
        # The tester's BI queries: by the day's text, on the column itself.
        by_text = conn.execute(
            text(
                "SELECT COUNT(*) FROM attendance_results "
                "WHERE corp_id = :corp AND work_date = '2026-11-27'"
            ),
            {"corp": corp},
        ).scalar_one()
        by_like = conn.execute(
            select(func.count()).where(
                attendance_results.c.corp_id == corp,
                cast(attendance_results.c.work_date, String).like("2026-11-27%"),
            )
        ).scalar_one()

    for name, rows in stored.items():
        assert rows, name
        days = {r["work_date"] for r in rows if r["work_date"] is not None}
        assert all(type(d) is date for d in days), name  # a date, not a datetime
        assert min(days) >= FIRST and max(days) <= DAY, name
    assert DAY in {r["work_date"] for r in stored["attendance_results"]}
    assert DAY in {r["work_date"] for r in stored["attendance_schedules"]}

    userids = sorted({r["userid"] for r in stored["attendance_results"]})
    results, records = _dingtalk_truth(sandbox, userids)
    assert {r["id"]: r["work_date"] for r in stored["attendance_results"]} == results
    assert {r["id"]: r["work_date"] for r in stored["attendance_records"]} == records
    on_day = sum(1 for d in results.values() if d == DAY)
    assert on_day > 0 and by_text == on_day and by_like == on_day

    # Schedules, leave and column values against the sandbox's generated truth.
    truth_days = {
        (u, d)
        for u, per in world.by_user.items()
        for d in per
        if u in userids and FIRST <= d <= DAY
    }
    assert {(r["userid"], r["work_date"]) for r in stored["attendance_schedules"]} == truth_days
    truth_leaves = {
        (lv.userid, lv.start_ms, lv.work_date)
        for lv in world.leaves
        if FIRST <= lv.work_date <= DAY
    }
    stored_leaves = {
        (r["userid"], int(r["start_time"].timestamp() * 1000), r["work_date"])
        for r in stored["attendance_leaves"]
    }
    assert stored_leaves == truth_leaves


def test_repo_stores_an_instant_as_its_shanghai_date(engine: Engine) -> None:
    """A row may carry DingTalk's ``workDate`` as an aware instant (00:00 Asia/Shanghai = 16:00
    UTC the evening before): it is stored as the Shanghai date, not the instant's UTC date."""
    evening_utc = datetime(2026, 11, 26, 16, 0, tzinfo=ZoneInfo("UTC"))
    row = {"id": 1, "userid": "u1", "work_date": evening_utc, "check_type": "OnDuty"}
    with engine.begin() as conn:
        repo_attendance.replace_results(conn, "corp", ["u1"], DAY, DAY, [row])
    with engine.connect() as conn:
        stored = conn.execute(select(attendance_results.c.work_date)).scalar_one()
        loaded = repo_attendance.load_results(conn, "corp", DAY, DAY)
    assert stored == DAY and type(stored) is date
    assert [r["work_date"] for r in loaded] == [DAY]
    assert repo_attendance.work_date_at(DAY) == evening_utc
    with pytest.raises(ValueError, match="naive"):
        repo_attendance.work_date_of(datetime(2026, 11, 27))
