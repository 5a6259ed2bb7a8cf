"""The compliance rule's SQL aggregation (:func:`dingsync.export.reports.first_reports`: the
earliest report per person × period, grouped in the database; :func:`~dingsync.export.reports.
first_on_time`: whether it was on time, compared in the database) against a straightforward Python
computation over every stored report, on a synced sandbox: SQLite, PostgreSQL and MariaDB, a
daily and a weekly template, the company's zone and one with daylight saving time, and periods
split over several queries."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from dingsync.export import reports as export_reports
from dingsync.export.reports import first_on_time, first_reports, is_weekly, period_windows
from dingsync.sandbox import SandboxServer
from dingsync.store.schema_reports import reports
from dingsync.timeutil import SHANGHAI
from helpers.reports import sync, window_dates
from helpers.sandboxes import SandboxSpec

#: Enough people and weeks that every template has many person × period cells.
SANDBOX = SandboxSpec(seed=5, users=80, days=21)

ZONES: list[tzinfo] = [SHANGHAI, ZoneInfo("America/New_York")]


def python_first_reports(
    engine: Engine, corp_id: str, template: str, start: date, end: date, tz: tzinfo
) -> dict[tuple[str, date], datetime]:
    """Every report of ``template`` read into Python: its period is the date of its wall-clock
    creation time in ``tz`` minus 12 h (weekly: that date's Monday); the earliest per person ×
    period whose key is one of the range's periods."""
    keys = {key for key, _, _ in period_windows(start, end, is_weekly(template), tz)}
    out: dict[tuple[str, date], datetime] = {}
    r = reports
    with engine.connect() as conn:
        rows = conn.execute(
            select(r.c.creator_id, r.c.create_time).where(
                r.c.corp_id == corp_id, r.c.template_name == template
            )
        ).all()
    for userid, created in rows:
        day = (created.astimezone(tz) - timedelta(hours=12)).date()
        key = day - timedelta(days=day.weekday()) if is_weekly(template) else day
        if userid and key in keys:
            out[(userid, key)] = min(created, out.get((userid, key), created))
    return out


@pytest.fixture
def synced(sandbox: SandboxServer, any_engine: Engine) -> Engine:
    """The reports company synced into a fresh database of each kind."""
    assert sync(sandbox, any_engine, details="none").status == "succeeded"
    return any_engine


def test_sql_aggregation_equals_python(
    synced: Engine, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    corp = sandbox.app.corp_id
    first, last = window_dates(sandbox)
    # a range a little wider than the history on both sides (empty periods are absent)
    start, end = first - timedelta(days=3), last + timedelta(days=3)
    for template, tz in itertools.product(["日报", "销售日报", "周报"], ZONES):
        weekly = is_weekly(template)
        want = python_first_reports(synced, corp, template, start, end, tz)
        assert len({u for u, _ in want}) >= 5 and len(want) >= 15  # real data
        with synced.connect() as conn:
            got = first_reports(conn, corp, template, start, end, weekly, tz)
            # periods split over many queries give the same answer
            with monkeypatch.context() as m:
                m.setattr(export_reports, "WINDOWS_PER_QUERY", 2)
                split = first_reports(conn, corp, template, start, end, weekly, tz)
        assert got == want, (tz, template)
        assert split == want
        assert all(v.tzinfo is not None and v.utcoffset() == timedelta(0) for v in got.values())
        if not weekly:
            # on time: the first report was created before the end of its day (wall time)
            with synced.connect() as conn:
                flags = first_on_time(conn, corp, template, start, end, tz)
            assert flags == {
                (u, day): created < datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
                for (u, day), created in want.items()
            }
            assert set(flags.values()) == {True, False}  # both kinds occur


def test_period_windows_cover_noon_to_noon_in_wall_time() -> None:
    ny = ZoneInfo("America/New_York")
    # 2026-03-08 is the spring-forward day in New York: its window is 23 hours long
    days = period_windows(date(2026, 3, 7), date(2026, 3, 8), False, ny)
    assert [k for k, _, _ in days] == [date(2026, 3, 7), date(2026, 3, 8)]
    assert all(lo.astimezone(ny).hour == 12 and hi.astimezone(ny).hour == 12 for _, lo, hi in days)
    assert days[0][2] == days[1][1]
    assert days[0][2].astimezone(UTC) - days[0][1].astimezone(UTC) == timedelta(hours=23)
    # weekly: every week whose Monday is on or before the end, from the start's Monday
    weeks = period_windows(date(2026, 3, 4), date(2026, 3, 16), True, SHANGHAI)
    assert [k for k, _, _ in weeks] == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    assert all(hi - lo == timedelta(days=7) for _, lo, hi in weeks)
