"""The console's attendance API — ``/api/attendance/monthly``, ``/stats``, ``/daily`` and
``/records`` — on SQLite and PostgreSQL (the synced sandbox of :mod:`web.test_data_api`):
each person sees what the rules allow, the monthly summary is the export's computation, the
charts' numbers add up to the summary's, person-days are the results grouped, and paging is
exact."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import openpyxl
from sqlalchemy import select

from dingsync.export.attendance import monthly_summary
from dingsync.sandbox.attendance.wire import record_row
from dingsync.store.schema_attendance import (
    attendance_group_managers,
    attendance_group_members,
    attendance_records,
    attendance_results,
)
from helpers.attendance import area_of

from .conftest import Web
from .test_data_api import _all, _members, _subtree, data_sandbox, data_web

__all__ = ["data_sandbox", "data_web"]  # the module-scoped fixtures, shared

#: Day results more serious than a trip's (``dingsync.export.attendance.DAY_RESULT_LABELS``).
SERIOUS = ("Absent", "SeriousLate", "Late", "Early", "Missing")


def _month(web: Web) -> tuple[str, date]:
    with web.engine.connect() as conn:
        last = max(r.work_date for r in conn.execute(select(attendance_results)))
    return last.strftime("%Y-%m"), last


def _results(web: Web) -> list[Any]:
    with web.engine.connect() as conn:
        return list(conn.execute(select(attendance_results)))


def _plain(web: Web) -> str:
    company = web.sb.company
    with web.engine.connect() as conn:
        managers = set(conn.execute(select(attendance_group_managers.c.userid)).scalars())
    people = {r.userid for r in _results(web)}
    return sorted(
        u
        for u in people
        if u not in company.admins and u != company.boss_userid and u not in managers
    )[0]


def test_monthly_is_the_exports_summary_paged_and_scoped(data_web: Web) -> None:
    web = data_web
    company = web.sb.company
    month, _ = _month(web)
    admin = web.token(company.main_admin_userid)
    items = _all(web, "/api/attendance/monthly", admin, month=month)
    with web.engine.connect() as conn:
        truth = monthly_summary(conn, web.sb.app.corp_id, month)
    leave = [c.leave_code for c in truth.leave_columns]
    assert {r["userid"]: r["metrics"] for r in items} == {
        r.userid: {**r.metrics, **{f"leave.{c}": r.leave.get(c, 0) for c in leave}}
        for r in truth.rows
    }
    body = web.get("/api/attendance/monthly", admin, params={"month": month}).json()
    assert [m["key"] for m in body["metrics"]][:2] == ["scheduled_days", "attended_days"]
    # Pages are disjoint, in one order, and add up to the total.
    first = web.get("/api/attendance/monthly", admin, params={"month": month, "limit": 5})
    second = web.get(
        "/api/attendance/monthly", admin, params={"month": month, "limit": 5, "offset": 5}
    )
    ids = [r["userid"] for r in first.json()["items"] + second.json()["items"]]
    assert ids == [r["userid"] for r in items[:10]] and len(set(ids)) == 10
    assert first.json()["total"] == len(items)

    # An employee: only their own row.
    plain = _plain(web)
    mine = _all(web, "/api/attendance/monthly", web.token(plain), month=month)
    assert [r["userid"] for r in mine] == [plain]

    # A sub-administrator: their scope (and themselves); a department filter narrows it.
    sub = sorted(company.sub_admin_userids)[0]
    inside = _subtree(web, company.admin_scopes[sub])
    members = _members(web.engine, web.sb.app.corp_id)
    seen = {r["userid"] for r in _all(web, "/api/attendance/monthly", web.token(sub), month=month)}
    expected = {r["userid"] for r in items if members.get(r["userid"], set()) & inside}
    assert seen - {sub} == expected - {sub} and expected
    root = company.admin_scopes[sub][0]
    narrowed = _all(web, "/api/attendance/monthly", web.token(sub), month=month, dept_id=root)
    assert {r["userid"] for r in narrowed} <= expected | {sub}

    # The sub-administrator's export of the month holds exactly their listed rows — their own
    # row too (everyone sees their own attendance; an exporter exports what they list), with
    # or without a department filter (one of their own departments outside their scope too).
    def exported(**filters: Any) -> set[str]:
        r = web.post(
            "/api/exports",
            web.token(sub),
            json={"kind": "attendance", "format": "xlsx", "filters": {"month": month, **filters}},
        )
        assert r.status_code == 200, r.text
        sheet = openpyxl.load_workbook(io.BytesIO(r.content))["月度汇总"]
        return {row[4] for row in list(sheet.iter_rows(values_only=True))[3:] if row[0]}

    assert sub in seen and exported() == seen
    assert exported(dept_id=root) == {r["userid"] for r in narrowed}
    for own_dept in sorted(members.get(sub, set())):
        listed = _all(web, "/api/attendance/monthly", web.token(sub), month=month, dept_id=own_dept)
        assert sub in {r["userid"] for r in listed}
        assert exported(dept_id=own_dept) == {r["userid"] for r in listed}

    # An attendance-group manager: the members of their groups.
    with web.engine.connect() as conn:
        managers = [(m.userid, m.group_id) for m in conn.execute(select(attendance_group_managers))]
        group_of = {m.userid: m.group_id for m in conn.execute(select(attendance_group_members))}
    manager = sorted(
        u for u, _ in managers if u not in company.admins and u != company.boss_userid
    )[0]
    groups = {g for u, g in managers if u == manager}
    seen = {
        r["userid"] for r in _all(web, "/api/attendance/monthly", web.token(manager), month=month)
    }
    in_groups = {r["userid"] for r in items if group_of.get(r["userid"]) in groups}
    assert seen - {manager} == in_groups - {manager} and in_groups

    for bad in ("2026-13", "0000-01", "26-01"):
        r = web.get("/api/attendance/monthly", admin, params={"month": bad})
        assert r.status_code == 422, bad


def _months(web: Web) -> list[tuple[str, date]]:
    """Every month with results, and its last work date with results."""
    last: dict[str, date] = {}
    for r in _results(web):
        m = r.work_date.strftime("%Y-%m")
        last[m] = max(last.get(m, r.work_date), r.work_date)
    return sorted(last.items())


def test_stats_add_up_to_the_monthly_summary(data_web: Web) -> None:
    check_stats_add_up(data_web)


def check_stats_add_up(web: Web) -> None:
    """``/api/attendance/stats`` adds up to ``/api/attendance/monthly`` for every month with
    results, for the main admin and a plain employee (trip days included: a 出差 day is
    attended in both)."""
    company = web.sb.company
    for (month, last), userid in (
        (m, u) for m in _months(web) for u in (company.main_admin_userid, _plain(web))
    ):
        token = web.token(userid)
        stats = web.get("/api/attendance/stats", token, params={"month": month}).json()
        items = _all(web, "/api/attendance/monthly", token, month=month)
        total = defaultdict(float)
        for r in items:
            for k, v in r["metrics"].items():
                total[k] += v
        days = stats["by_day"]
        assert days[0]["date"] == f"{month}-01" and days[-1]["date"] >= last.isoformat()
        assert sum(d["late"] for d in days) == total["late_count"] + total["serious_late_count"]
        assert sum(d["early"] for d in days) == total["early_count"]
        assert (
            sum(d["missing"] for d in days) == total["missing_on_duty"] + total["missing_off_duty"]
        )
        assert sum(d["absent"] for d in days) == total["absent_days"]
        assert sum(d["attended"] for d in days) == total["attended_days"]
        results = [r for r in _results(web) if r.work_date.strftime("%Y-%m") == month]
        if userid != company.main_admin_userid:
            results = [r for r in results if r.userid == userid]
        per_day: dict[str, set[str]] = defaultdict(set)
        for r in results:
            per_day[r.work_date.isoformat()].add(r.userid)
        assert {d["date"]: d["people"] for d in days if d["people"]} == {
            k: len(v) for k, v in per_day.items()
        }
        for d in days:
            if d["people"]:
                assert d["rate"] == round(100 * d["attended"] / d["people"], 1)
        # Departments: the people counted are the ones with results.
        for dept in stats["by_department"]:
            assert dept["people"] > 0
            assert dept["late"] <= sum(d["late"] for d in days)


def test_daily_is_the_results_grouped_by_person_and_day(data_web: Web) -> None:
    web = data_web
    company = web.sb.company
    month, _ = _month(web)
    span = {"start_date": f"{month}-01"}
    for userid in (company.main_admin_userid, _plain(web)):
        token = web.token(userid)
        results = _all(web, "/api/attendance/results", token, **span)
        days = _all(web, "/api/attendance/daily", token, **span)
        grouped: dict[tuple[str, str], int] = defaultdict(int)
        for r in results:
            grouped[(r["userid"], r["work_date"])] += 1
        # Days with results are the results grouped; the others (rest days with punches or
        # approvals, tests/web/test_attendance_daily_rest.py) are 休息 with no check point.
        worked = [d for d in days if d["day_result"] != "Rest"]
        assert len(worked) == len(grouped)
        assert sum(len(d["checks"]) for d in worked) == len(results)
        assert all(d["shift"] in ("休息", None) for d in days if d not in worked)
        assert [d["work_date"] for d in days] == sorted(
            (d["work_date"] for d in days), reverse=True
        )
        assert all(d["day_result"] and d["day_label"] for d in days)
    one = days[0]
    r = web.get(
        "/api/attendance/daily",
        token,
        params={"start_date": one["work_date"], "end_date": one["work_date"], "order": "asc"},
    )
    assert [d["work_date"] for d in r.json()["items"]] == [one["work_date"]]


def test_records_are_the_punches_of_visible_people(data_web: Web) -> None:
    web = data_web
    company = web.sb.company
    with web.engine.connect() as conn:
        punches = list(conn.execute(select(attendance_records)))
    assert punches
    days = [p.work_date for p in punches if p.work_date is not None]
    span = {
        "start_date": (min(days) - timedelta(days=2)).isoformat(),
        "end_date": (max(days) + timedelta(days=2)).isoformat(),
    }
    admin = web.token(company.main_admin_userid)
    r = web.get("/api/attendance/records", admin, params={**span, "limit": 1}).json()
    assert r["total"] == len(punches)
    everything = _all(web, "/api/attendance/records", admin, **span)
    times = [p["user_check_time"] for p in everything]
    assert times == sorted(times, reverse=True)
    on = _all(web, "/api/attendance/records", admin, check_type="OnDuty", **span)
    assert len(on) == sum(1 for p in punches if p.check_type == "OnDuty")
    plain = _plain(web)
    mine = _all(web, "/api/attendance/records", web.token(plain), **span)
    assert mine and {p["userid"] for p in mine} == {plain}
    assert len(mine) == sum(1 for p in punches if p.userid == plain)
    r = web.get("/api/attendance/records", admin, params={"start_date": "2000-01-01"})
    assert r.status_code == 422  # more than a year


def test_daily_links_each_days_approvals(data_web: Web) -> None:
    """关联审批单: every leave (its type's name), trip, outing and 补卡 of the sandbox's history
    is on its person-day in ``/api/attendance/daily``, with its period in epoch ms; nothing
    else is."""
    web = data_web
    world = area_of(web.sb).world
    admin = web.token(web.sb.company.main_admin_userid)
    with web.engine.connect() as conn:
        dates = sorted({r.work_date for r in conn.execute(select(attendance_results))})
    days = _all(
        web,
        "/api/attendance/daily",
        admin,
        start_date=dates[0].isoformat(),
        end_date=dates[-1].isoformat(),
    )
    assert days
    linked = trip_days = 0
    for d in days:
        truth = world.by_user[d["userid"]][date.fromisoformat(d["work_date"])]
        want = []
        if truth.leave is not None:
            want.append(("请假", truth.leave.leave_type, truth.leave.start_ms, truth.leave.end_ms))
        if truth.trip is not None:
            t = truth.trip
            want.append((t.kind, "", t.start_ms, t.end_ms))
        want += [("补卡", "", p.base_ms, None) for p in truth.points if p.make_up]
        got = [(a["kind"], a["sub_type"], a["begin_time"], a["end_time"]) for a in d["approvals"]]
        assert sorted(got, key=str) == sorted(want, key=str), d
        linked += len(got)
        # A check a trip or outing covers makes the day 出差 / 外出, not 请假 (unless something
        # more serious happened that day, or leave or a 补卡 covers a check too).
        covered = [c for c in d["checks"] if c["source_type"] == "APPROVE"]
        if truth.trip is not None and covered and truth.leave is None:
            if not any(p.make_up for p in truth.points):
                trip_days += 1
                kind = {"出差": "Trip", "外出": "GoOut"}[truth.trip.kind]
                assert d["day_result"] in (kind, *SERIOUS), d
                assert d["day_label"] == truth.trip.kind or d["day_result"] in SERIOUS
    assert linked > 0
    assert trip_days > 0


def test_records_carry_source_place_and_outside_as_dingtalk_sent_them(data_web: Web) -> None:
    """原始记录: each punch's source (app, time clock, approval), address, coordinates and 外勤
    are what the sandbox's ``/attendance/listRecord`` sent for that record id."""
    web = data_web
    world = area_of(web.sb).world
    sent: dict[int, dict[str, Any]] = {}
    for items in world.punches.values():
        for _, day, item in items:
            row = record_row(web.sb.app.corp_id, day, item)
            sent[int(row["id"])] = row
    with web.engine.connect() as conn:
        days = [r.work_date for r in conn.execute(select(attendance_records)) if r.work_date]
    admin = web.token(web.sb.company.main_admin_userid)
    punches = _all(
        web,
        "/api/attendance/records",
        admin,
        start_date=(min(days) - timedelta(days=1)).isoformat(),
        end_date=(max(days) + timedelta(days=1)).isoformat(),
    )
    assert punches
    for p in punches:
        row = sent[int(p["id"])]
        assert p["source_type"] == row["sourceType"]
        assert p["address"] == row.get("userAddress")
        assert p["latitude"] == row.get("userLatitude")
        assert p["longitude"] == row.get("userLongitude")
        assert p["device_sn"] == row.get("deviceSN")
        assert p["outside"] == (row.get("locationResult") == "Outside")
        assert p["outside_remark"] == row.get("outsideRemark")
        assert p["proc_inst_id"] == row.get("procInstId")
    sources = {p["source_type"] for p in punches}
    assert {"USER", "DING_ATM"} <= sources, sources
    machine = [p for p in punches if p["source_type"] == "DING_ATM"]
    assert all(p["latitude"] is None and p["address"] for p in machine)
