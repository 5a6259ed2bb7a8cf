"""The sandbox's 考勤报表 APIs (getattcolumns, getcolumnval, getleavetimebynames,
vacation/type/list) through the typed client over loopback HTTP: DingTalk's column order and
aliases, day values computed from the same person-days as the punches, leave in the type's unit,
补卡 and overtime by rule, and the documented errors and caps."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest

from dingsync.dingtalk import DingTalkError
from dingsync.dingtalk.attendance import gmt8_string
from dingsync.sandbox import SandboxServer
from dingsync.sandbox.attendance import VACATION_TYPES
from dingsync.sandbox.attendance.world import (
    COLUMN_METRIC,
    COLUMNS,
    OVERTIME_START_MINUTES,
    day_metrics,
    leave_in_unit,
)
from helpers.attendance import SANDBOX as SANDBOX
from helpers.attendance import area_of, last_work_date, make_client

T = "/topapi/attendance"


def _run(sb: SandboxServer, fn: Any) -> Any:
    async def go() -> Any:
        async with make_client(sb) as client:
            return await fn(client)

    return asyncio.run(go())


def _errcode(sb: SandboxServer, path: str, body: dict[str, Any]) -> str:
    async def go(client: Any) -> str:
        with pytest.raises(DingTalkError) as info:
            await client.oapi("POST", path, json=body)
        return str(info.value.reason)

    return str(_run(sb, go))


def test_columns_in_dingtalks_order_with_leave_columns_by_name(sandbox: SandboxServer) -> None:
    columns = _run(sandbox, lambda c: c.attendance.list_columns())
    with_id = [(c.id, c.alias, c.name) for c in columns if c.id is not None]
    assert with_id == [(cid, alias, name) for alias, (cid, name) in COLUMNS.items()]
    # DingTalk's own order starts 应出勤天数, 补卡次数 (the real sample's ids 129339038/39).
    assert [n for _, _, n in with_id[:2]] == ["应出勤天数", "补卡次数"]
    leave = [(c.alias, c.name) for c in columns if c.id is None]
    assert leave == [("leave_", name) for name in VACATION_TYPES]


def test_column_values_equal_the_truth_per_day(sandbox: SandboxServer) -> None:
    world = area_of(sandbox).world
    end = last_work_date(sandbox)
    start = end - timedelta(days=30)
    ids = [cid for cid, _ in COLUMNS.values()]
    alias_of = {cid: alias for alias, (cid, _) in COLUMNS.items()}
    seen: dict[str, float] = dict.fromkeys(COLUMN_METRIC.values(), 0.0)
    for userid in sorted(world.by_user)[:25]:
        values = _run(
            sandbox, lambda c, u=userid: c.attendance.get_column_values(u, ids, start, end)
        )
        assert sorted(v.column_id for v in values) == sorted(ids)
        per = world.by_user[userid]
        for col in values:
            metric = COLUMN_METRIC[alias_of[col.column_id]]
            assert len(col.values) == 31
            for v in col.values:
                day = date.fromisoformat(v.date[:10])
                want = day_metrics(per[day])[metric] if day in per else 0.0
                assert float(v.value or 0) == pytest.approx(want), (userid, day, metric)
                seen[metric] += want
    # The month has every kind of day the report counts.
    for metric in (
        "make_up_count",
        "rest_days",
        "work_minutes",
        "overtime_hours",
        "trip_days",
        "out_hours",
    ):
        assert seen[metric] > 0, metric


def test_overtime_follows_the_rule(sandbox: SandboxServer) -> None:
    world = area_of(sandbox).world
    found = 0
    for per in world.by_user.values():
        for day in per.values():
            off = next((p for p in day.points if p.check_type == "OffDuty"), None)
            if day.is_rest or off is None or off.source_type != "USER" or not off.user_ms:
                continue
            late_by = (off.user_ms - off.base_ms) // 60_000
            hours = day_metrics(day)["overtime_hours"]
            if late_by < OVERTIME_START_MINUTES + 30:
                assert hours == 0
            else:
                found += 1
                assert hours == ((late_by - OVERTIME_START_MINUTES) // 30) * 0.5
    assert found > 0


def test_leave_time_by_names_in_the_types_unit(sandbox: SandboxServer) -> None:
    world = area_of(sandbox).world
    types = _run(sandbox, lambda c: c.attendance.list_vacation_types("op"))
    assert [(t.leave_name, t.leave_view_unit) for t in types] == [
        (n, u) for n, (_, u) in VACATION_TYPES.items()
    ]
    assert [t.by_day for t in types] == [u == "day" for _, u in VACATION_TYPES.values()]
    annual = [lv for lv in world.leaves if lv.leave_type == "年假"]
    assert annual
    lv = annual[-1]
    cols = _run(
        sandbox,
        lambda c: c.attendance.get_leave_time_by_names(
            lv.userid, list(VACATION_TYPES), lv.work_date, lv.work_date
        ),
    )
    got = {c.name: float(c.values[0].value or 0) for c in cols}
    assert got["年假"] == leave_in_unit(lv) == lv.hours / 8  # days, not hours
    assert {n: v for n, v in got.items() if n != "年假"} == {
        n: 0.0 for n in VACATION_TYPES if n != "年假"
    }


def test_report_errors_and_caps(sandbox: SandboxServer) -> None:
    userid = sorted(area_of(sandbox).world.by_user)[0]
    end = last_work_date(sandbox)
    first = next(iter(COLUMNS.values()))[0]
    body = {
        "userid": userid,
        "column_id_list": str(first),
        "from_date": gmt8_string(end - timedelta(days=32)),
        "to_date": gmt8_string(end),
    }
    assert _errcode(sandbox, f"{T}/getcolumnval", body) == "850012"  # > 31 days
    ok_span = {**body, "from_date": gmt8_string(end - timedelta(days=31))}
    assert _errcode(sandbox, f"{T}/getcolumnval", {**ok_span, "column_id_list": "x"}) == "850015"
    unknown = {**ok_span, "column_id_list": "1"}  # e.g. an expression_id
    assert _errcode(sandbox, f"{T}/getcolumnval", unknown) == "850015"
    too_many = {**ok_span, "column_id_list": ",".join([str(first)] * 21)}
    assert _errcode(sandbox, f"{T}/getcolumnval", too_many) == "850015"
    names = {**ok_span, "leave_names": ",".join(["事假"] * 21)}
    names.pop("column_id_list")
    assert _errcode(sandbox, f"{T}/getleavetimebynames", names) == "400002"
    long_names = {**names, "leave_names": "事假", "from_date": body["from_date"]}
    assert _errcode(sandbox, f"{T}/getleavetimebynames", long_names) == "850012"
    # The client splits a longer range into ≤ 31-day windows and > 20 ids into calls.
    values = _run(
        sandbox,
        lambda c: c.attendance.get_column_values(userid, [first], end - timedelta(days=45), end),
    )
    assert len(values[0].values) == 46


def test_trips_and_outings_through_approvals_query(sandbox: SandboxServer) -> None:
    """出差 / 外出 approvals (``bizType`` 2) with the ``approveId`` their check points carry."""
    world = area_of(sandbox).world
    end = last_work_date(sandbox)
    start = end - timedelta(days=40)
    people = sorted(world.by_user)
    got = _run(sandbox, lambda c: c.attendance.list_approvals(people, start, end))
    want = [t for t in world.trips if start <= t.work_date <= end]
    assert {t.tag_name for t in got} == {"出差", "外出"}
    assert sorted((a.user_id, a.approve_id, a.tag_name) for a in got) == sorted(
        (t.userid, str(t.approve_id), t.kind) for t in want
    )
    for t in want:
        day = world.by_user[t.userid][t.work_date]
        covered = [p for p in day.points if p.approve_id == t.approve_id]
        assert covered and all(p.source_type == "APPROVE" for p in covered)
        assert len(covered) == (2 if t.kind == "出差" else 1)
        assert {a.duration_unit for a in got if a.approve_id == str(t.approve_id)} == {t.unit}
