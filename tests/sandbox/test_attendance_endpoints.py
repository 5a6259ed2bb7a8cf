"""The attendance endpoints of attendance.md §4.1 and §6–§8 beyond the sync's needs, over loopback
HTTP: envelopes and key sets (and value types) against the published samples, the documented caps
and errcodes, and data that agrees with what ``getsimplegroups``, ``schedule/listbyusers`` and
``getleavestatus`` serve. Plus getupdatedata's ``yyyy-MM-dd`` work date and ``user_address``."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from dingsync.dingtalk import DingTalkError
from dingsync.dingtalk.attendance import gmt8_ms
from dingsync.dingtalk.models.attendance import DaySchedule, GroupSummary, UserGroup
from dingsync.sandbox import SandboxServer
from dingsync.sandbox.attendance import VACATION_TYPES
from helpers.attendance import SANDBOX as SANDBOX
from helpers.attendance import area_of, last_work_date, make_client

T = "/topapi/attendance"
#: Keys the doc marks optional in a row (present only when they apply), and the envelope's
#: ``errmsg`` (some doc samples leave it out; the sandbox always sends it).
OPTIONAL = {
    "errmsg",
    "approve_id",
    "changed_check_time",
    "procInst_id",
    "user_address",
    "record_id",
}


def _sample(shared: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (shared / "samples" / "attendance" / name).read_text(encoding="utf-8")
    )
    return data


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _same_shape(ours: Any, sample: Any, where: str = "$") -> None:
    """``ours`` has the sample's keys (optional ones may be missing; nothing unknown beyond
    the optional ones) with values of the same JSON kind, recursively (lists: every item of
    ours against the sample's first item)."""
    assert _kind(ours) == _kind(sample), f"{where}: {_kind(ours)} != {_kind(sample)}"
    if isinstance(sample, dict):
        missing = set(sample) - set(ours) - OPTIONAL
        extra = set(ours) - set(sample) - OPTIONAL
        assert not missing, f"{where}: missing {sorted(missing)}"
        assert not extra, f"{where}: unexpected {sorted(extra)}"
        for key in set(sample) & set(ours):
            _same_shape(ours[key], sample[key], f"{where}.{key}")
    elif isinstance(sample, list) and sample and ours:
        for i, item in enumerate(ours):
            _same_shape(item, sample[0], f"{where}[{i}]")


def _call(sb: SandboxServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with make_client(sb) as client:
            answer: dict[str, Any] = await client.oapi("POST", path, json=body)
            return answer

    return asyncio.run(go())


def _errcode(sb: SandboxServer, path: str, body: dict[str, Any]) -> str:
    async def go() -> str:
        async with make_client(sb) as client:
            with pytest.raises(DingTalkError) as info:
                await client.oapi("POST", path, json=body)
            return str(info.value.reason)

    return asyncio.run(go())


def _working_day(sb: SandboxServer, userid: str) -> date:
    per = area_of(sb).world.by_user[userid]
    day = last_work_date(sb) - timedelta(days=2)
    while per[day].is_rest:
        day -= timedelta(days=1)
    return day


def _rows_by_users(sb: SandboxServer, userids: list[str], day: date) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(0, len(userids), 50):
        body = _call(
            sb,
            f"{T}/schedule/listbyusers",
            {
                "op_user_id": "op",
                "userids": ",".join(userids[i : i + 50]),
                "from_date_time": gmt8_ms(day),
                "to_date_time": gmt8_ms(day, end_of_day=True),
            },
        )
        rows.extend(body["result"])
    return rows


def test_group_minimalism_list_search_query(sandbox: SandboxServer, shared_dingtalk: Path) -> None:
    world = area_of(sandbox).world
    body = _call(sandbox, f"{T}/group/minimalism/list", {"op_user_id": "op"})
    _same_shape(body, _sample(shared_dingtalk, "topapi_attendance_group_minimalism_list.json"))
    simple = _call(sandbox, f"{T}/getsimplegroups", {"offset": 0, "size": 10})["result"]
    ids = [g["id"] for g in body["result"]["result"]]
    assert ids == sorted(g["group_id"] for g in simple["groups"])
    assert body["result"]["cursor"] == ids[-1] and body["result"]["has_more"] is False
    after = _call(sandbox, f"{T}/group/minimalism/list", {"op_user_id": "op", "cursor": ids[0]})
    assert [g["id"] for g in after["result"]["result"]] == ids[1:]
    assert _errcode(sandbox, f"{T}/group/minimalism/list", {}) == "400002"  # op_user_id required

    found = _call(sandbox, f"{T}/group/search", {"op_user_id": "op", "group_name": "夜班"})
    assert found["success"] is True
    assert found["result"] == [{"id": 600003, "name": "夜班考勤组"}]
    none = _call(sandbox, f"{T}/group/search", {"op_user_id": "op", "group_name": "不存在"})
    assert none["result"] == []
    assert _errcode(sandbox, f"{T}/group/search", {"op_user_id": "op"}) == "400002"

    for g in world.groups:
        one = _call(sandbox, f"{T}/group/query", {"op_user_id": "op", "group_id": g.group_id})
        r = one["result"]
        members = _call(
            sandbox,
            f"{T}/group/memberusers/list",
            {"op_user_id": "op", "group_id": g.group_id},
        )["result"]["result"]
        assert (r["id"], r["name"], r["member_count"]) == (g.group_id, g.name, len(members))
        detail = next(x for x in simple["groups"] if x["group_id"] == g.group_id)
        assert r["manager_list"].split(",") == detail["manager_list"]
        assert r["shift_ids"] == [detail["default_class_id"]]
        assert [str(x) for x in r["work_day_list"]] == detail["work_day_list"]
    assert _errcode(sandbox, f"{T}/group/query", {"op_user_id": "op", "group_id": 1}) == "400002"


def test_getusergroup_matches_the_sample_and_the_groups(
    sandbox: SandboxServer, shared_dingtalk: Path
) -> None:
    world = area_of(sandbox).world
    simple = _call(sandbox, f"{T}/getsimplegroups", {"offset": 0, "size": 10})["result"]["groups"]
    sample = _sample(shared_dingtalk, "topapi_attendance_getusergroup.json")
    for g in world.groups:
        body = _call(sandbox, f"{T}/getusergroup", {"userid": g.members[0]})
        _same_shape(body, sample)
        r = body["result"]
        assert (r["group_id"], r["name"]) == (g.group_id, g.name)
        selected = next(x for x in simple if x["group_id"] == g.group_id)["selected_class"][0]
        assert r["classes"][0]["class_id"] == selected["class_id"]
        assert r["classes"][0]["sections"] == selected["sections"]
    assert _errcode(sandbox, f"{T}/getusergroup", {"userid": "nobody-here"}) == "60121"
    assert _errcode(sandbox, f"{T}/getusergroup", {}) == "400002"


def test_listschedule_is_the_org_wide_view_of_listbyusers(
    sandbox: SandboxServer, shared_dingtalk: Path
) -> None:
    world = area_of(sandbox).world
    people = sorted(world.by_user)
    day = _working_day(sandbox, people[0])
    sample = _sample(shared_dingtalk, "topapi_attendance_listschedule.json")
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        body = _call(
            sandbox,
            f"{T}/listschedule",
            {"workDate": f"{day.isoformat()} 00:00:00", "offset": offset, "size": 200},
        )
        _same_shape(body, sample)
        rows.extend(body["result"]["schedules"])
        if not body["result"]["has_more"]:
            break
        offset += 200
    assert len(rows) > 200  # paged: 130 people × 2 check points
    by_users = [r for r in _rows_by_users(sandbox, people, day) if r["is_rest"] == "N"]

    def key(r: dict[str, Any], class_key: str) -> tuple[Any, ...]:
        return (r["userid"], r["check_type"], r["plan_check_time"], r["group_id"], r[class_key])

    assert sorted(key(r, "class_id") for r in rows) == sorted(key(r, "shift_id") for r in by_users)
    assert any("approve_id" in r for r in rows) or not any(
        world.by_user[u][day].leave for u in people
    )
    short = _call(sandbox, f"{T}/listschedule", {"workDate": day.isoformat(), "size": 3})
    assert short["result"]["schedules"] == rows[:3] and short["result"]["has_more"] is True
    rest = day
    while not world.by_user[people[0]][rest].is_rest:
        rest -= timedelta(days=1)
    assert _call(sandbox, f"{T}/listschedule", {"workDate": rest.isoformat()})["result"] == {
        "has_more": False,
        "schedules": [],
    }
    assert _errcode(sandbox, f"{T}/listschedule", {"workDate": day.isoformat(), "size": 201}) == (
        "400002"
    )
    assert _errcode(sandbox, f"{T}/listschedule", {"workDate": "2026/11/02"}) == "41100"
    assert _errcode(sandbox, f"{T}/listschedule", {"work_date": day.isoformat()}) == "41100"


def test_schedule_listbyday_and_shift_listbydays(sandbox: SandboxServer) -> None:
    world = area_of(sandbox).world
    people = sorted(world.by_user)
    userid = people[0]
    day = _working_day(sandbox, userid)
    body = _call(
        sandbox,
        f"{T}/schedule/listbyday",
        {"op_user_id": "op", "user_id": userid, "date_time": gmt8_ms(day) + 3_600_000},
    )
    assert body["success"] is True
    by_users = _rows_by_users(sandbox, [userid], day)
    assert [(r["check_type"], r["plan_check_time"], r["class_id"]) for r in body["result"]] == [
        (r["check_type"], r["plan_check_time"], r["shift_id"]) for r in by_users
    ]
    for r in body["result"]:
        assert {"user_id", "group_id", "class_id", "check_type", "plan_check_time", "is_rest"} <= (
            set(r)
        )
        assert r["user_id"] == userid and r["work_date"] == f"{day.isoformat()} 00:00:00"
    nothing = _call(
        sandbox,
        f"{T}/schedule/listbyday",
        {"op_user_id": "op", "user_id": userid, "date_time": gmt8_ms(date(2020, 1, 1))},
    )
    assert nothing["result"] == []

    start = last_work_date(sandbox) - timedelta(days=6)
    window = {
        "op_user_id": "op",
        "from_date_time": gmt8_ms(start),
        "to_date_time": gmt8_ms(start + timedelta(days=6), end_of_day=True),
    }
    shifts = _call(
        sandbox, f"{T}/schedule/shift/listbydays", {**window, "userids": ",".join(people[:20])}
    )
    assert shifts["success"] is True and len(shifts["result"]) == 20 * 7
    for r in shifts["result"]:
        pd = world.by_user[r["userid"]][date.fromisoformat(r["work_date"][:10])]
        assert r["group_id"] == pd.group.group_id
        assert r["shift_ids"] == ([] if pd.is_rest else [pd.group.shift.class_id])
        assert len(r["shift_names"]) == len(r["shift_versions"]) == len(r["shift_ids"])
    too_many = {**window, "userids": ",".join(people[:21])}
    assert _errcode(sandbox, f"{T}/schedule/shift/listbydays", too_many) == "400002"
    too_long = {**window, "userids": userid, "to_date_time": gmt8_ms(start + timedelta(days=7))}
    assert _errcode(sandbox, f"{T}/schedule/shift/listbydays", too_long) == "400002"


def test_isopensmartreport_and_vacations(sandbox: SandboxServer) -> None:
    area = area_of(sandbox)
    assert _call(sandbox, f"{T}/isopensmartreport", {})["result"] == {"smart_report": True}

    types = _call(sandbox, f"{T}/vacation/type/list", {"op_userid": "op", "vacation_source": "all"})
    assert types["success"] is True
    assert {(t["leave_name"], t["leave_code"], t["leave_view_unit"]) for t in types["result"]} == {
        (name, code, unit) for name, (code, unit) in VACATION_TYPES.items()
    }
    for t in types["result"]:
        assert t["leave_view_unit"] in ("day", "halfDay", "hour")
        assert isinstance(t["hours_in_per_day"], int) and isinstance(t["freedom_leave"], bool)
    assert _errcode(sandbox, f"{T}/vacation/type/list", {}) == "400002"
    bad_source = {"op_userid": "op", "vacation_source": "x"}
    assert _errcode(sandbox, f"{T}/vacation/type/list", bad_source) == "400002"

    annual = next(t for t in types["result"] if not t["freedom_leave"])
    people = sorted(area.world.by_user)
    quotas: list[dict[str, Any]] = []
    offset = 0
    while True:
        body = _call(
            sandbox,
            f"{T}/vacation/quota/list",
            {
                "leave_code": annual["leave_code"],
                "op_userid": "op",
                "userids": ",".join(people),
                "offset": offset,
                "size": 50,
            },
        )
        quotas.extend(body["result"]["leave_quotas"])
        if not body["result"]["has_more"]:
            break
        offset += 50
    assert {q["userid"] for q in quotas} == set(people)
    end = last_work_date(sandbox)
    statuses = _call(
        sandbox,
        f"{T}/getleavestatus",
        {
            "userid_list": ",".join(people[:100]),
            "start_time": gmt8_ms(end - timedelta(days=60)),
            "end_time": gmt8_ms(end + timedelta(days=1)),
            "offset": 0,
            "size": 100,
        },
    )["result"]["leave_status"]
    used: dict[str, int] = {}
    for s in statuses:
        if s["leave_code"] == annual["leave_code"]:  # 年假 is by the day: percent_day
            assert s["duration_unit"] == "percent_day"
            used[s["userid"]] = used.get(s["userid"], 0) + s["duration_percent"]
    for q in quotas:
        if q["userid"] in people[:100]:
            assert q["used_num_per_day"] == used.get(q["userid"], 0), q
        assert q["quota_num_per_hour"] >= q["used_num_per_hour"]
        assert q["end_time"] > q["start_time"]
    assert any(q["used_num_per_hour"] for q in quotas)
    freedom = next(t for t in types["result"] if t["freedom_leave"])
    none = _call(
        sandbox,
        f"{T}/vacation/quota/list",
        {
            "leave_code": freedom["leave_code"],
            "op_userid": "op",
            "userids": people[0],
            "offset": 0,
            "size": 50,
        },
    )
    assert none["result"] == {"has_more": False, "leave_quotas": []}
    over = {
        "leave_code": annual["leave_code"],
        "op_userid": "op",
        "userids": people[0],
        "offset": 0,
        "size": 51,
    }
    assert _errcode(sandbox, f"{T}/vacation/quota/list", over) == "400002"


def test_getupdatedata_takes_the_doc_date_and_serves_user_address(
    sandbox: SandboxServer, shared_dingtalk: Path
) -> None:
    world = area_of(sandbox).world
    sample = _sample(shared_dingtalk, "topapi_attendance_getupdatedata.json")
    userid, day = next(
        (u, d)
        for u, per in sorted(world.by_user.items())
        for d, pd in sorted(per.items())
        if any(p.source_type == "USER" for p in pd.points)
    )
    short = _call(sandbox, f"{T}/getupdatedata", {"userid": userid, "work_date": day.isoformat()})
    long = _call(
        sandbox,
        f"{T}/getupdatedata",
        {"userid": userid, "work_date": f"{day.isoformat()} 00:00:00"},
    )
    assert short["result"] == long["result"]
    _same_shape(
        short["result"]["attendance_result_list"], sample["result"]["attendance_result_list"]
    )
    punched = [r for r in short["result"]["attendance_result_list"] if r["source_type"] == "USER"]
    assert punched and all(r["user_address"] for r in punched)
    not_punched = [
        r for r in short["result"]["attendance_result_list"] if r["source_type"] != "USER"
    ]
    assert all("user_address" not in r for r in not_punched)
    bad = {"userid": userid, "work_date": "14/01/2021"}
    assert _errcode(sandbox, f"{T}/getupdatedata", bad) == "41100"
    # No error is documented for an unknown userid: the day is served empty (unchanged).
    unknown = _call(
        sandbox, f"{T}/getupdatedata", {"userid": "nobody-here", "work_date": day.isoformat()}
    )
    assert unknown["result"]["attendance_result_list"] == []


def test_samples_parse_into_the_client_models(shared_dingtalk: Path) -> None:
    groups = _sample(shared_dingtalk, "topapi_attendance_group_minimalism_list.json")
    summaries = [GroupSummary.model_validate(g) for g in groups["result"]["result"]]
    assert [(g.id, g.name) for g in summaries] == [(677765054, "周末加班"), (685935028, "考勤")]
    user_group = UserGroup.model_validate(
        _sample(shared_dingtalk, "topapi_attendance_getusergroup.json")["result"]
    )
    assert user_group.group_id == 685935028 and user_group.type == "FIXED"
    night = user_group.classes[1]
    assert night.name == "B" and [t.across for t in night.sections[0].times] == [0, 1]
    day = _sample(shared_dingtalk, "topapi_attendance_listschedule.json")["result"]
    rows = [DaySchedule.model_validate(r) for r in day["schedules"]]
    assert rows[0].plan_id == 157062792171 and rows[1].plan_check_time == "2020-11-11 18:30:00"


def test_client_methods(sandbox: SandboxServer) -> None:
    world = area_of(sandbox).world
    people = sorted(world.by_user)
    day = _working_day(sandbox, people[0])

    async def go() -> None:
        async with make_client(sandbox) as client:
            att = client.attendance
            summaries = await att.iter_group_summaries("op").to_list()
            assert [(g.id, g.name) for g in summaries] == [
                (g.group_id, g.name) for g in world.groups
            ]
            for g in world.groups:
                mine = await att.get_user_group(g.members[-1])
                assert mine.group_id == g.group_id
                assert [c.class_id for c in mine.classes] == [g.shift.class_id]
            rows = await att.iter_day_schedules(day).to_list()
            expected = sum(len(per[day].points) for per in world.by_user.values() if day in per)
            assert len(rows) == expected > 200
            assert len({r.plan_id for r in rows}) == len(rows)
            assert {r.userid for r in rows} == {
                u for u, per in world.by_user.items() if day in per and not per[day].is_rest
            }

    asyncio.run(go())
