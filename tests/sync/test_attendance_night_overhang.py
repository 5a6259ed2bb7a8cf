"""A night shift's approvals on the calendar day after the synced range: the last work date's
night shift (23:30–次日07:30) belongs to that work date, and so does an outing from 04:30 to
07:30 the next morning; DingTalk's results of the work date carry the outing's ``approveId``
and its report counts the outing's hours (外出时长) there, not a 补卡. The sync fetches and
replaces approvals and leave one calendar day past its last work date
(``dingsync.sync.attendance.SHIFT_OVERHANG_DAYS``) and gives such an outing the work date
of the results that name it (``repo_attendance.rebase_named_approvals``), so the month's
summary agrees with DingTalk's report cell by cell and 每日统计 lists it on its shift's day.

The company is pinned (``anchor_ms``: 2026-12-08 00:00 Asia/Shanghai, seed 11, 60 people): its
last work date, 2026-12-07, has such an outing. Before the fix the check failed only while the
tests ran between 00:00 and ~07:30 Asia/Shanghai, when the generated company happened to be
this one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select

from dingsync.export.attendance import monthly_summary
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store.schema_attendance import attendance_approvals, attendance_results
from dingsync.timeutil import WIRE_TZ
from helpers.attendance import DAYS, SEED, crosscheck, last_work_date, sync_all

#: 2026-12-08 00:00 Asia/Shanghai, epoch ms.
ANCHOR_MS = 1_796_659_200_000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    cfg = SandboxConfig(seed=SEED, users=60, days=DAYS, qps_limit=None, anchor_ms=ANCHOR_MS)
    with SandboxServer(cfg) as sb:
        yield sb


def test_last_work_dates_night_outing_is_synced_and_counted(
    sandbox: SandboxServer, engine: Engine
) -> None:
    end = last_work_date(sandbox)
    assert end == date(2026, 12, 7)
    assert asyncio.run(sync_all(sandbox, engine)).status == "succeeded"
    with engine.connect() as conn:
        approvals = {
            str(a["approve_id"]): a for a in conn.execute(select(attendance_approvals)).mappings()
        }
        results = conn.execute(
            select(attendance_results).where(
                attendance_results.c.work_date == end,
                attendance_results.c.source_type == "APPROVE",
            )
        ).mappings()
        # The last work date's results fixed by an approval that begins the next day.
        overhang = [
            r
            for r in results
            if str(r["approve_id"]) in approvals
            and approvals[str(r["approve_id"])]["begin_time"].astimezone(WIRE_TZ).date()
            == end + timedelta(days=1)
        ]
    assert overhang, "the pinned company's last work date has a night shift's outing"
    outing = approvals[str(overhang[0]["approve_id"])]
    assert outing["tag_name"] == "外出"
    # stored on the night shift's work date, not on its own calendar day
    assert (outing["work_date"], outing["end_work_date"]) == (end, end)
    check = crosscheck(sandbox, engine, "2026-12")
    assert check.cells > 0
    assert check.disagreements == []
    # 每日统计: the outing on the night shift's row, no row of its own on the next day.
    with engine.connect() as conn:
        summary = monthly_summary(conn, sandbox.app.corp_id, "2026-12", tz=WIRE_TZ)
    mine = {r.work_date: r for r in summary.daily if r.userid == overhang[0]["userid"]}
    assert mine[end].approvals.startswith("外出"), mine[end]
    assert "补卡" not in mine[end].approvals
    assert end + timedelta(days=1) not in mine
