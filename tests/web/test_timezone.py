"""The company's zone (``DINGSYNC_TIMEZONE`` → ``Settings.tz``) drives every date of the API and
its exports: with Asia/Tokyo instead of Asia/Shanghai, default date ranges, ``work_date`` (epoch
ms of 00:00 of the stored calendar day), report times in an export and the export's file stamp
all move together — over loopback HTTP, one store served once per zone."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, insert

from dingsync.sandbox import SandboxServer
from dingsync.store import db
from dingsync.store.schema_attendance import attendance_results
from dingsync.store.schema_reports import reports
from dingsync.timeutil import day_start_ms
from dingsync.web import create_app
from dingsync.web.server import WebServer

from .conftest import sandbox_settings, sync_directory

#: 15:30 UTC on 2026-11-30: still the 30th in Shanghai (23:30), already 1 December in Tokyo.
NOW = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
#: A report created at 03:30 UTC: 11:30 in Shanghai, 12:30 in Tokyo.
CREATED = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
#: A weekly report created at 15:30 UTC: the 30th in Shanghai, 1 December in Tokyo.
LATE = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
WORK_DATE = date(2026, 11, 30)


@pytest.fixture(scope="module")
def store(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The directory, two reports and one attendance result of the main administrator."""
    url = f"sqlite:///{tmp_path_factory.mktemp('zones') / 'd.db'}"
    engine = db.create_engine_for(url)
    db.migrate(engine)
    sync_directory(sandbox, engine)
    corp = sandbox.app.corp_id
    boss = sandbox.company.main_admin_userid
    with engine.begin() as conn:
        report = {"corp_id": corp, "creator_id": boss, "creator_name": "boss"}
        conn.execute(
            insert(reports),
            [
                {**report, "report_id": "r-zone", "template_name": "日报", "create_time": CREATED},
                {**report, "report_id": "r-late", "template_name": "周报", "create_time": LATE},
            ],
        )
        conn.execute(
            insert(attendance_results).values(
                corp_id=corp, id=1, userid=boss, work_date=WORK_DATE, check_type="OnDuty"
            )
        )
    yield engine
    engine.dispose()


def _client(sandbox: SandboxServer, engine: Engine, zone: str) -> Iterator[httpx.Client]:
    url = engine.url.render_as_string(hide_password=False)
    settings = sandbox_settings(sandbox, url).model_copy(update={"timezone": zone})
    assert str(settings.tz) == zone
    app = create_app(settings, engine=engine, clock=NOW.timestamp)
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        code = sandbox.mint_authcode(sandbox.company.main_admin_userid)
        login = http.post("/api/auth/dingtalk", json={"authCode": code})
        assert login.status_code == 200, login.text
        http.headers["Authorization"] = f"Bearer {login.json()['session']['token']}"
        yield http


@pytest.fixture(scope="module")
def shanghai(sandbox: SandboxServer, store: Engine) -> Iterator[httpx.Client]:
    yield from _client(sandbox, store, "Asia/Shanghai")


@pytest.fixture(scope="module")
def tokyo(sandbox: SandboxServer, store: Engine) -> Iterator[httpx.Client]:
    yield from _client(sandbox, store, "Asia/Tokyo")


def _applied(http: httpx.Client) -> dict[str, str]:
    audit = http.get("/api/exports/audit", params={"limit": 1}).json()["items"][0]
    return dict(audit["filters"]["applied"])


@pytest.mark.parametrize(
    ("zone", "today", "month", "stamp"),
    [
        ("shanghai", "2026-11-30", "2026-11", "20261130-233000"),
        ("tokyo", "2026-12-01", "2026-12", "20261201-003000"),
    ],
)
def test_default_dates_are_days_of_the_company_zone(
    request: pytest.FixtureRequest, zone: str, today: str, month: str, stamp: str
) -> None:
    http: httpx.Client = request.getfixturevalue(zone)
    summary = http.get("/api/attendance/summary").json()
    assert (summary["start_date"], summary["end_date"]) == (f"{month}-01", today)

    r = http.post("/api/exports", json={"kind": "reports", "filters": {"template": "日报"}})
    assert r.status_code == 200, r.text
    assert f"reports-{stamp}" in r.headers["content-disposition"]
    assert _applied(http)["end_date"] == today

    r = http.post("/api/exports", json={"kind": "attendance", "format": "csv"})
    assert r.status_code == 200, r.text
    assert _applied(http) == {"month": month}


def test_work_dates_and_report_times_follow_the_zone(
    shanghai: httpx.Client, tokyo: httpx.Client
) -> None:
    span = {"start_date": "2026-11-30", "end_date": "2026-11-30"}
    answers = {}
    for name, http, zone in (
        ("shanghai", shanghai, "Asia/Shanghai"),
        ("tokyo", tokyo, "Asia/Tokyo"),
    ):
        items = http.get("/api/attendance/results", params=span).json()["items"]
        assert [i["work_date"] for i in items] == [day_start_ms(WORK_DATE, ZoneInfo(zone))]
        listed = http.get("/api/reports", params={**span, "template": "日报"}).json()["items"]
        assert [r["report_id"] for r in listed] == ["r-zone"]
        r = http.post(
            "/api/exports",
            json={"kind": "reports", "format": "csv", "filters": {"template": "日报", **span}},
        )
        assert r.status_code == 200, r.text
        (row,) = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        answers[name] = (items[0]["work_date"], row["提交时间"])
    # the same stored day starts an hour earlier in Tokyo; the same instant reads an hour later
    assert answers["shanghai"][0] - answers["tokyo"][0] == 3_600_000
    assert answers["shanghai"][1] == "2026-11-30 11:30:00"
    assert answers["tokyo"][1] == "2026-11-30 12:30:00"


def test_a_day_filter_is_a_day_of_the_company_zone(
    shanghai: httpx.Client, tokyo: httpx.Client
) -> None:
    def days(http: httpx.Client, day: str) -> set[str]:
        params = {"start_date": day, "end_date": day}
        return {r["report_id"] for r in http.get("/api/reports", params=params).json()["items"]}

    assert days(shanghai, "2026-11-30") == {"r-zone", "r-late"}
    assert days(shanghai, "2026-12-01") == set()
    assert days(tokyo, "2026-11-30") == {"r-zone"}
    assert days(tokyo, "2026-12-01") == {"r-late"}
