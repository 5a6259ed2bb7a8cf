"""The new-family (v1.0) attendance endpoints of attendance.md §9 over loopback HTTP: served on
the new host with camelCase bodies and ``result`` envelopes (the official v1.0 SDK's shapes),
their values equal to the old-family answers; missing fields are 400 ``Missing<name>``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dingsync.sandbox import SandboxServer
from dingsync.sandbox.attendance.world import COLUMNS
from dingsync.timeutil import DAY_MS, WIRE_TZ, day_start_ms

from .helpers import Ding


async def _post(ding: Ding, path: str, body: dict[str, Any]) -> Any:
    r = await ding.v1("POST", path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def test_column_values_equal_getcolumnval(ding: Ding, sb: SandboxServer) -> None:
    area = sb.state.areas["attendance"]
    userid = next(iter(area.world.by_user))
    end = area.world.holidays[0]
    start = end - timedelta(days=6)
    ids = [cid for cid, _ in list(COLUMNS.values())[:3]]
    from_ms = day_start_ms(start, WIRE_TZ)
    body = await _post(
        ding,
        "/v1.0/attendance/columnValues/query",
        {
            "columnIdList": [str(i) for i in ids],
            "fromDate": from_ms,
            "toDate": day_start_ms(end, WIRE_TZ),
            "userIds": [userid],
        },
    )
    (row,) = body["result"]
    assert row["userId"] == userid and [c["id"] for c in row["columnData"]] == ids
    tok = await ding.token()
    old = await ding.ok(
        "/topapi/attendance/getcolumnval",
        {
            "userid": userid,
            "column_id_list": ",".join(map(str, ids)),
            "from_date": f"{start.isoformat()} 00:00:00",
            "to_date": f"{end.isoformat()} 00:00:00",
        },
        token=tok,
    )
    for new, was in zip(row["columnData"], old["result"]["column_vals"], strict=True):
        assert [v["value"] for v in new["columnValues"]] == [v["value"] for v in was["column_vals"]]
        assert new["columnValues"][0]["date"] == from_ms
    r = await ding.v1("POST", "/v1.0/attendance/columnValues/query", json={"userIds": [userid]})
    assert (r.status_code, r.json()["code"]) == (400, "MissingcolumnIdList")


async def test_group_details_are_the_simple_groups_in_camel_case(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    old = (await ding.ok("/topapi/attendance/getsimplegroups", {}, token=tok))["result"]
    r = await ding.v1("GET", "/v1.0/attendance/groupDetails", params={"maxResults": 2})
    assert r.status_code == 200, r.text
    first = r.json()["result"]
    assert first["hasMore"] is True and len(first["groups"]) == 2
    r = await ding.v1(
        "GET", "/v1.0/attendance/groupDetails", params={"nextToken": 2, "maxResults": 2}
    )
    groups = first["groups"] + r.json()["result"]["groups"]
    assert [g["groupId"] for g in groups] == [g["group_id"] for g in old["groups"]]
    g = groups[0]
    assert {"groupName", "workDayList", "selectedClass", "memberCount"} <= set(g)
    assert not [k for k in g if "_" in k]
    assert g["selectedClass"][0]["classId"] == old["groups"][0]["selected_class"][0]["class_id"]


async def test_approvals_leave_records_holidays_and_checkins(ding: Ding, sb: SandboxServer) -> None:
    area = sb.state.areas["attendance"]
    leave = area.leaves[0]
    window = {"fromDateTime": leave.start_ms - DAY_MS, "toDateTime": leave.end_ms + DAY_MS}
    body = await _post(
        ding,
        "/v1.0/attendance/approvals/query",
        {"userIds": leave.userid, "bizTypes": [3], **window},
    )
    mine = [a for a in body["result"] if a["approveId"] == str(leave.approve_id)]
    assert mine and mine[0]["userId"] == leave.userid and mine[0]["bizType"] == 3
    assert mine[0]["subType"] == leave.leave_type and mine[0]["tagName"] == "请假"

    records = await _post(
        ding,
        "/v1.0/attendance/vacations/records/query",
        {
            "opUserId": sb.company.main_admin_userid,
            "leaveCode": leave.leave_code,
            "userIds": [leave.userid],
            "pageNumber": 0,
            "pageSize": 50,
        },
    )
    assert records["success"] is True and records["result"]["hasMore"] is False
    got = {r["recordId"]: r for r in records["result"]["leaveRecords"]}
    assert got[str(leave.approve_id)]["startTime"] == leave.start_ms
    assert got[str(leave.approve_id)]["recordNumPerHour"] == round(leave.hours * 100)

    holiday = area.world.holidays[0]
    hol = await _post(
        ding,
        "/v1.0/attendance/holidays",
        {
            "userIds": [leave.userid],
            "workDateFrom": day_start_ms(holiday, WIRE_TZ) - 3 * DAY_MS,
            "workDateTo": day_start_ms(holiday, WIRE_TZ) + 3 * DAY_MS,
        },
    )
    (row,) = hol["result"]
    assert row["userId"] == leave.userid
    assert [h["workDate"] for h in row["holidays"]] == [day_start_ms(holiday, WIRE_TZ)]

    checkins = await _post(
        ding,
        "/v1.0/attendance/checkin/records/query",
        {
            "operatorUserId": sb.company.main_admin_userid,
            "userIdList": [leave.userid],
            "startTime": leave.start_ms - DAY_MS,
            "endTime": leave.start_ms,
            "maxResults": 100,
            "nextToken": 0,
        },
    )
    assert checkins == {"result": {"pageList": [], "nextToken": 0}}
    r = await ding.v1("POST", "/v1.0/attendance/holidays", json={"userIds": ["x"]})
    assert (r.status_code, r.json()["code"]) == (400, "MissingworkDateFrom")
