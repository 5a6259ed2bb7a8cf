"""Business-trip days (出差) in the attendance API, on SQLite and PostgreSQL: a sandbox company
(seed 7) whose history has a 出差 day — both check points ``Normal``/``APPROVE`` with the trip's
``approveId``, no punch of the person's own. The day is attended in the charts
(``/api/attendance/stats``) as in the monthly summary, and 每日统计 (``/api/attendance/daily``)
gives it as 出差 (``Trip``), not 请假."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from dingsync.sandbox import SandboxConfig, SandboxServer
from helpers.attendance import area_of

from .conftest import Web
from .test_attendance_views import check_stats_add_up
from .test_data_api import _all, data_web, synced_source

__all__ = ["data_web"]  # the module-scoped fixture, over this module's data_sandbox


@pytest.fixture(scope="module")
def data_sandbox(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxServer, Engine]]:
    """A company with a 出差 day in its history, synced (all entities) into a SQLite source."""
    config = SandboxConfig(seed=7, users=30, days=3, qps_limit=None)
    with synced_source(config, tmp_path_factory.mktemp("trip") / "s.db") as synced:
        yield synced


def _trip_days(web: Web) -> list[tuple[str, str]]:
    world = area_of(web.sb).world
    return sorted(
        (u, d.isoformat())
        for u, days in world.by_user.items()
        for d, pd in days.items()
        if pd.trip is not None and pd.trip.kind == "出差" and not pd.is_rest
    )


def test_a_trip_day_is_attended_in_the_charts_as_in_the_summary(data_web: Web) -> None:
    assert _trip_days(data_web), "the seed's history must hold a 出差 work day"
    check_stats_add_up(data_web)


def test_daily_gives_a_trip_day_as_trip(data_web: Web) -> None:
    web = data_web
    admin = web.token(web.sb.company.main_admin_userid)
    trips = _trip_days(web)
    assert trips
    for userid, day in trips:
        items = _all(
            web, "/api/attendance/daily", admin, userid=userid, start_date=day, end_date=day
        )
        assert len(items) == 1, items
        d = items[0]
        assert all(c["source_type"] == "APPROVE" for c in d["checks"]), d
        assert (d["day_result"], d["day_label"]) == ("Trip", "出差"), d
        stats = web.get("/api/attendance/stats", admin, params={"month": day[:7]}).json()["by_day"]
        assert next(s for s in stats if s["date"] == day)["attended"] >= 1
