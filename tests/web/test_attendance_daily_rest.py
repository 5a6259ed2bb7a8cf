"""每日统计 lists the days without check points as DingTalk's does — a rest day or holiday on
which someone worked approved overtime, or only punched — with 班次 休息, the punches and the
linked approvals; ``GET /api/attendance/daily``, the console's 每日统计 page and the workbook's
每日统计 sheet give the same person-days. Real loopback HTTP against the sandbox (overtime and
business trips from a Friday to a Monday as generated, a punch on a rest day through ``POST
/sandbox/mutate/attendance/punch``), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import Engine

from dingsync.export.attendance import DAILY_HEADERS, monthly_summary, write_xlsx
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.timeutil import WIRE_TZ
from dingsync.web import create_app
from dingsync.web.console.session import COOKIE
from dingsync.web.server import WebServer
from helpers.attendance import area_of, sync_all

from .conftest import FakeClock, sandbox_settings


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """The module's own company (it punches on a rest day): the cross-check's 60 people."""
    with SandboxServer(SandboxConfig(seed=11, users=60, days=30, qps_limit=None)) as sb:
        yield sb


def _punch_on_a_rest_day(sb: SandboxServer) -> tuple[str, date]:
    """Someone punches at 10:12 on a rest day of theirs without overtime (once per sandbox)."""
    world = area_of(sb).world
    found = getattr(sb, "_rest_punch", None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    first = min(d for days in world.by_user.values() for d in days)
    userid, day = next(
        (u, d)
        for u, days in sorted(world.by_user.items())
        for d, pd in sorted(days.items())
        if pd.is_rest and not pd.holiday and pd.overtime is None and not pd.extra
        if pd.trip is None
        if d >= first + timedelta(days=3)  # well inside the synced range
    )
    at = datetime.combine(day, time(10, 12), WIRE_TZ)
    r = httpx.post(
        f"{sb.base_url}/sandbox/mutate/attendance/punch",
        json={"userid": userid, "check_time": int(at.timestamp() * 1000)},
    )
    assert r.status_code == 200, r.text
    sb._rest_punch = (userid, day)  # type: ignore[attr-defined]
    return userid, day


def _all(http: httpx.Client, token: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        r = http.get(
            "/api/attendance/daily",
            headers={"Authorization": f"Bearer {token}"},
            params={**params, "limit": 500, "offset": len(items)},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        if len(items) >= body["total"]:
            return items


def test_rest_days_with_overtime_or_punches_are_daily_rows_everywhere(
    sandbox: SandboxServer, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    sb = sandbox
    world = area_of(sb).world
    userid, punched = _punch_on_a_rest_day(sb)
    assert asyncio.run(sync_all(sb, engine)).status == "succeeded"
    overtime = {
        (u, d)
        for u, days in world.by_user.items()
        for d, pd in days.items()
        if pd.overtime is not None
    }
    assert overtime and any(not world.by_user[u][d].holiday for u, d in overtime)
    months = sorted({d.strftime("%Y-%m") for _, d in overtime} | {punched.strftime("%Y-%m")})
    company = sb.state.company

    app = create_app(sandbox_settings(sb, db_url), engine=engine, clock=FakeClock())
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as http:
        code = httpx.post(
            f"{sb.base_url}/sandbox/authcode", json={"userid": company.main_admin_userid}
        ).json()["code"]
        login = http.post("/api/auth/dingtalk", json={"authCode": code})
        assert login.status_code == 200, login.text
        token = login.json()["session"]["token"]
        rest_rows = 0
        for month in months:
            with engine.connect() as conn:
                summary = monthly_summary(conn, sb.app.corp_id, month, tz=WIRE_TZ)
            first, last = summary.start, summary.end
            api = _all(http, token, start_date=first.isoformat(), end_date=last.isoformat())
            by_key = {(d["userid"], date.fromisoformat(d["work_date"])): d for d in api}
            # The API's person-days are the workbook's, row for row.
            assert set(by_key) == {(r.userid, r.work_date) for r in summary.daily}
            assert len(by_key) == len(api) == len(summary.daily)
            sheet_rows = {(r.userid, r.work_date): r for r in summary.daily}
            for key in sorted(k for k in overtime if first <= k[1] <= last):
                day = by_key[key]  # the rest day (or holiday) with approved overtime is listed
                if not world.by_user[key[0]][key[1]].holiday:
                    assert day["shift"] == "休息"
                assert day["day_result"] == "Rest" and day["day_label"] == "休息"
                # 加班, and the trip when the rest day lies within one (a weekend's overtime
                # on a business trip over it)
                trip = world.by_user[key[0]][key[1]].trip
                want = ["加班"] + ([trip.kind] if trip is not None else [])
                assert sorted(a["kind"] for a in day["approvals"]) == sorted(want)
                assert day["checks"], day  # its punches
                assert all(c["base_check_time"] is None for c in day["checks"])
                row = sheet_rows[key]
                assert sorted(p.split(" ")[0] for p in row.approvals.split("；")) == sorted(want)
                assert row.on_duty_time and row.off_duty_time
                rest_rows += 1
            if first <= punched <= last:
                day = by_key[(userid, punched)]  # punches only: listed too
                assert day["shift"] == "休息" and day["day_result"] == "Rest"
                assert day["approvals"] == []
                assert len(day["checks"]) == 1
                row = sheet_rows[(userid, punched)]
                assert (row.on_duty_time, row.on_duty_result, row.shift) == (
                    "10:12",
                    "休息",
                    "休息",
                )
                assert row.approvals == ""
                rest_rows += 1
            # The workbook's sheet has the same rows, 班次 included.
            book = openpyxl.load_workbook(write_xlsx(summary, tmp_path / f"{month}.xlsx"))
            sheet = book["每日统计"]
            assert [c.value for c in sheet[2]] == DAILY_HEADERS
            got = {
                (str(r[1]), r[2].date()): r[4] for r in sheet.iter_rows(min_row=3, values_only=True)
            }
            assert set(got) == set(by_key)
            assert all((got[k] or "") == (by_key[k]["shift"] or "") for k in got)
        assert rest_rows > 1

        # The console's 每日统计 page draws the same person-days (the rest day punched).
        http.cookies.set(COOKIE, token)
        page = http.get(
            "/console/attendance/daily",
            params={"start_date": punched.isoformat(), "end_date": punched.isoformat()},
        )
        assert page.status_code == 200, page.text[:300]
        shown = set(re.findall(r'data-userid="([^"]+)" data-date="([^"]+)"', page.text))
        api_day = _all(http, token, start_date=punched.isoformat(), end_date=punched.isoformat())
        assert shown == {(d["userid"], d["work_date"]) for d in api_day}
        assert (userid, punched.isoformat()) in shown
        assert 'data-result="Rest"' in page.text


def _login(http: httpx.Client, sb: SandboxServer) -> str:
    code = httpx.post(
        f"{sb.base_url}/sandbox/authcode", json={"userid": sb.state.company.main_admin_userid}
    ).json()["code"]
    login = http.post("/api/auth/dingtalk", json={"authCode": code})
    assert login.status_code == 200, login.text
    return str(login.json()["session"]["token"])


def test_rest_days_a_trip_spans_are_daily_rows_with_the_trip_and_not_absent(
    sandbox: SandboxServer, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """A business trip from a Friday to a Monday (one approval) puts its Saturday and Sunday in
    每日统计 as 休息 days with the trip linked — API, console and workbook alike — and the
    month counts its two work days as 出差 and attended, nothing absent, as the sandbox's
    report columns do."""
    sb = sandbox
    world = area_of(sb).world
    assert asyncio.run(sync_all(sb, engine)).status == "succeeded"
    trips = [t for t in world.trips if t.kind == "出差" and t.amount > 1]
    assert trips, "the generated company has a trip over a weekend"
    truth = sb.stats()["attendance"]["monthly"]
    app = create_app(sandbox_settings(sb, db_url), engine=engine, clock=FakeClock())
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as http:
        token = _login(http, sb)
        http.cookies.set(COOKIE, token)
        for trip in trips:
            span = [trip.work_date + timedelta(days=n) for n in range(int(trip.amount))]
            rest = [d for d in span if world.by_user[trip.userid][d].is_rest]
            assert len(rest) == 2 and all(d.weekday() >= 5 for d in rest)
            api = {
                date.fromisoformat(d["work_date"]): d
                for d in _all(
                    http,
                    token,
                    start_date=span[0].isoformat(),
                    end_date=span[-1].isoformat(),
                    userid=trip.userid,
                )
            }
            assert set(api) == set(span)  # Friday, the weekend, Monday
            for day in span:
                item = api[day]
                # the trip, and a weekend day's own overtime when it has one
                overtime = world.by_user[trip.userid][day].overtime
                want = [("出差", str(trip.approve_id))]
                want += [] if overtime is None else [("加班", str(overtime.approve_id))]
                got = [(a["kind"], a["approve_id"]) for a in item["approvals"]]
                assert sorted(got) == sorted(want), item
                assert item["day_result"] != "Absent"
            for day in rest:
                item = api[day]
                assert (item["shift"], item["day_result"]) == ("休息", "Rest")
                if world.by_user[trip.userid][day].overtime is None:  # else its overtime punches
                    assert item["checks"] == []
            for month in sorted({d.strftime("%Y-%m") for d in span}):
                with engine.connect() as conn:
                    summary = monthly_summary(conn, sb.app.corp_id, month, tz=WIRE_TZ)
                rows = {(r.userid, r.work_date): r for r in summary.daily}
                for day in (d for d in span if d.strftime("%Y-%m") == month):
                    row = rows[(trip.userid, day)]
                    assert row.approvals.startswith("出差"), row
                    if day in rest:
                        assert (row.shift, row.on_duty_result) == ("休息", "休息")
                        if world.by_user[trip.userid][day].overtime is None:
                            assert row.on_duty_time == ""  # no punch (else overtime's)
                # The month as DingTalk's report columns count it: 出差 on the work days,
                # attended, nothing absent.
                person = next(r for r in summary.rows if r.userid == trip.userid)
                want = truth[month][trip.userid]
                for metric in ("trip_days", "attended_days", "absent_days", "rest_days"):
                    assert person.metrics[metric] == want[metric], (metric, person.metrics)
                # The workbook's 每日统计 sheet: the same rows, the trip linked on the weekend.
                book = openpyxl.load_workbook(write_xlsx(summary, tmp_path / f"{month}.xlsx"))
                cells = {
                    (str(r[1]), r[2].date()): r
                    for r in book["每日统计"].iter_rows(min_row=3, values_only=True)
                }
                at = DAILY_HEADERS.index("关联审批单")
                for day in (d for d in rest if d.strftime("%Y-%m") == month):
                    cell = cells[(trip.userid, day)]
                    assert cell[4] == "休息" and str(cell[at]).startswith("出差"), cell
            # The console's 每日统计 page draws the weekend with the trip.
            page = http.get(
                "/console/attendance/daily",
                params={
                    "start_date": rest[0].isoformat(),
                    "end_date": rest[-1].isoformat(),
                    "userid": trip.userid,
                },
            )
            assert page.status_code == 200, page.text[:300]
            shown = re.findall(
                r'data-userid="([^"]+)" data-date="([^"]+)" data-result="([^"]+)"', page.text
            )
            assert sorted(shown) == [(trip.userid, d.isoformat(), "Rest") for d in rest]
            assert page.text.count("出差") >= len(rest)
