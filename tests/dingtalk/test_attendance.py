"""The attendance client against the sandbox over real HTTP: chunking to the minimum number of
calls, GMT+8 dates whatever the machine's zone, and the documented over-limit errors."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from dingsync.dingtalk import DingTalkError
from dingsync.dingtalk.attendance import (
    batches,
    date_windows,
    gmt8_ms,
    gmt8_string,
)
from dingsync.sandbox import SandboxServer
from dingsync.sandbox.attendance import date_ms
from dingsync.sandbox.attendance.world import COLUMNS, leave_in_unit
from helpers.attendance import SANDBOX as SANDBOX
from helpers.attendance import area_of, last_work_date, make_client


def test_date_windows_and_batches() -> None:
    d = date(2026, 11, 1)
    assert date_windows(d, d + timedelta(days=19), 7) == [
        (d, d + timedelta(days=6)),
        (d + timedelta(days=7), d + timedelta(days=13)),
        (d + timedelta(days=14), d + timedelta(days=19)),
    ]
    assert date_windows(d, d, 7) == [(d, d)]
    assert date_windows(d, d - timedelta(days=1), 7) == []
    assert [len(b) for b in batches([str(i) for i in range(120)] + ["0"], 50)] == [50, 50, 20]


def test_120_people_20_days_minimum_calls(sandbox: SandboxServer) -> None:
    """3 user chunks × 3 date chunks, each paged at 50: exactly the minimum, every row once."""
    world = area_of(sandbox).world
    people = sorted(world.by_user)[:120]
    assert len(people) == 120
    end = last_work_date(sandbox)
    start = end - timedelta(days=19)
    expected_calls = 0
    expected_ids: set[int] = set()
    for users in (people[:50], people[50:100], people[100:]):
        for a, b in date_windows(start, end, 7):
            n = 0
            for u in users:
                for day, pd in world.by_user[u].items():
                    if a <= day <= b:
                        n += len(pd.points)
                        expected_ids.update(p.result_id for p in pd.points)
            expected_calls += max(1, math.ceil(n / 50))

    async def go() -> list[int]:
        async with make_client(sandbox) as client:
            await client.get_access_token()
            sandbox.reset_stats()
            rows = await client.attendance.list_results(people, start, end)
            assert client.calls["/attendance/list"] == expected_calls
            return [r.id for r in rows]

    ids = asyncio.run(go())
    assert sandbox.stats()["calls"]["/attendance/list"] == expected_calls
    assert len(ids) == len(set(ids)), "a row came twice"
    assert set(ids) == expected_ids, "rows missing or extra"
    assert expected_calls > 9  # paging happened on top of the 9 chunks


@pytest.fixture(params=["UTC", "America/New_York"])
def machine_tz(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_dates_are_gmt8_whatever_the_machine_zone(sandbox: SandboxServer, machine_tz: str) -> None:
    assert time.localtime().tm_gmtoff != 8 * 3600
    day = date(2026, 11, 2)
    assert gmt8_string(day) == "2026-11-02 00:00:00"
    assert gmt8_string(day, end_of_day=True) == "2026-11-02 23:59:59"
    assert gmt8_ms(day) == int(datetime(2026, 11, 1, 16, 0, tzinfo=UTC).timestamp() * 1000)
    assert gmt8_string(datetime(2026, 11, 1, 16, 30, tzinfo=datetime.now().astimezone().tzinfo))
    world = area_of(sandbox).world
    userid = sorted(world.by_user)[0]
    target = last_work_date(sandbox) - timedelta(days=3)
    while world.by_user[userid][target].is_rest:
        target -= timedelta(days=1)

    async def go() -> None:
        async with make_client(sandbox) as client:
            rows = await client.attendance.list_results([userid], target, target)
            assert rows and {r.work_date for r in rows} == {date_ms(target)}
            assert {r.work_day for r in rows} == {target}
            sched = await client.attendance.list_schedules("op", [userid], target, target)
            assert {s.work_day for s in sched} == {target}
            data = await client.attendance.get_update_data(userid, target)
            assert data.work_date is not None and data.work_date.startswith(target.isoformat())

    asyncio.run(go())


def _expect(sandbox: SandboxServer, path: str, body: dict[str, object], errcode: int) -> None:
    async def go() -> None:
        async with make_client(sandbox) as client:
            with pytest.raises(DingTalkError) as info:
                await client.oapi("POST", path, json=body)
            assert str(info.value.reason) == str(errcode), info.value

    asyncio.run(go())


def test_over_limit_requests_get_the_documented_errors(sandbox: SandboxServer) -> None:
    users = sorted(area_of(sandbox).world.by_user)
    base = {"offset": 0, "limit": 50, "userIdList": users[:2]}
    ok = {"workDateFrom": "2026-11-01 00:00:00", "workDateTo": "2026-11-07 00:00:00"}
    _expect(sandbox, "/attendance/list", {**base, **ok, "workDateTo": "2026-11-08 00:00:00"}, 41041)
    _expect(sandbox, "/attendance/list", {**base, **ok, "workDateFrom": "2026/11/01"}, 41100)
    _expect(sandbox, "/attendance/list", {**base, **ok, "userIdList": users[:51]}, 400002)
    _expect(sandbox, "/attendance/list", {**base, **ok, "limit": 51}, 400002)
    rec = {"userIds": users[:2], "checkDateFrom": "2026-11-01 00:00:00"}
    _expect(sandbox, "/attendance/listRecord", {**rec, "checkDateTo": "2026-11-08 00:00:00"}, 41041)
    _expect(
        sandbox,
        "/attendance/listRecord",
        {**rec, "userIds": users[:51], "checkDateTo": "2026-11-02 00:00:00"},
        400002,
    )
    col = {"userid": users[0], "column_id_list": "129339041", "from_date": "2026-10-01 00:00:00"}
    _expect(
        sandbox,
        "/topapi/attendance/getcolumnval",
        {**col, "to_date": "2026-11-02 00:00:00"},
        850012,
    )
    _expect(
        sandbox,
        "/topapi/attendance/getcolumnval",
        {**col, "column_id_list": "abc", "to_date": "2026-10-02 00:00:00"},
        850015,
    )
    day = 86_400_000
    _expect(
        sandbox,
        "/topapi/attendance/schedule/listbyusers",
        {"op_user_id": "x", "userids": users[0], "from_date_time": 0, "to_date_time": 7 * day},
        400002,
    )
    _expect(
        sandbox,
        "/topapi/attendance/getleavestatus",
        {
            "userid_list": ",".join(f"u{i}" for i in range(101)),
            "start_time": 0,
            "end_time": day,
            "offset": 0,
            "size": 20,
        },
        400002,
    )
    _expect(sandbox, "/topapi/attendance/getsimplegroups", {"offset": 0, "size": 11}, 400002)


def test_groups_columns_leave_and_update_data(sandbox: SandboxServer) -> None:
    area = area_of(sandbox)
    world = area.world
    end = last_work_date(sandbox)
    start = end - timedelta(days=29)

    async def go() -> None:
        async with make_client(sandbox) as client:
            att = client.attendance
            groups = await att.iter_groups().to_list()
            assert {g.group_id for g in groups} == {g.group_id for g in world.groups}
            night = next(g for g in groups if g.group_id == 600003)
            times = night.selected_class[0].sections[0].times
            assert [t.across for t in times] == [0, 1]
            assert night.manager_list
            for g in world.groups:
                ids = await att.iter_group_member_userids(g.group_id, "op").to_list()
                assert ids == g.members
            people = sorted(world.by_user)
            leaves = await att.list_leave_status(people, start, end)
            assert len(leaves) == len(area.leaves)
            assert {(lv.userid, lv.start_time) for lv in leaves} == {
                (lv.userid, lv.start_ms) for lv in area.leaves
            }
            columns = await att.list_columns()
            with_id = [c.id for c in columns if c.id]
            assert len(with_id) == len(COLUMNS) and any(c.id is None for c in columns)
            vals = await att.get_column_values(people[0], with_id, start, end)
            assert {len(v.values) for v in vals} == {30}
            lv = area.leaves[0]
            names = await att.get_leave_time_by_names(lv.userid, [lv.leave_type], start, end)
            hours = sum(float(v.value or 0) for v in names[0].values)
            expected = sum(  # in the type's unit: 年假 by the day
                leave_in_unit(x)
                for x in area.leaves
                if x.userid == lv.userid and x.leave_type == lv.leave_type
            )
            assert hours == pytest.approx(expected)
            data = await att.get_update_data(lv.userid, lv.work_date)
            assert data.approve_list and data.approve_list[0]["tag_name"] == "请假"

    asyncio.run(go())
