"""People who left: v1.0 departure records and the 智能人事 dimission APIs with their caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dingsync.sandbox import SandboxServer

from .helpers import Ding

PATH = "/v1.0/contact/empLeaveRecords"


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_leave_records_pages_every_leaver(ding: Ding, sb: SandboxServer) -> None:
    now = datetime.fromtimestamp(sb.clock.now(), UTC)
    start = _iso(now - timedelta(days=364))
    tok = await ding.token()
    token = "0"
    records: list[dict] = []
    while True:
        r = await ding.v1(
            "GET", PATH, token=tok, params={"startTime": start, "nextToken": token, "maxResults": 2}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["records"]) <= 2
        records.extend(body["records"])
        if "nextToken" not in body:
            break
        token = body["nextToken"]
    assert {rec["userId"] for rec in records} == set(sb.company.leavers)
    times = [rec["leaveTime"] for rec in records]
    assert times == sorted(times)
    first = records[0]
    leaver = sb.company.leavers[first["userId"]]
    assert first["leaveTime"] == datetime.fromtimestamp(leaver.leave_time / 1000, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert first["leaveReason"] == leaver.leave_reason and first["mobile"] == leaver.mobile
    assert set(first) == {"userId", "name", "stateCode", "mobile", "leaveTime", "leaveReason"}


async def test_leave_records_caps(ding: Ding, sb: SandboxServer) -> None:
    now = datetime.fromtimestamp(sb.clock.now(), UTC)
    tok = await ding.token()

    async def status(**params: object) -> tuple[int, str]:
        r = await ding.v1("GET", PATH, token=tok, params=params)
        return r.status_code, r.json().get("code", "")

    recent = _iso(now - timedelta(days=30))
    assert (await status(startTime=recent, maxResults=50))[0] == 200
    assert await status(startTime=recent, maxResults=51) == (400, "invalidParameter.param.invalid")
    too_wide = {"startTime": _iso(now - timedelta(days=400)), "endTime": _iso(now)}
    assert await status(**too_wide, maxResults=10) == (400, "invalidParameter.param.invalid")
    old_start = _iso(now - timedelta(days=366))
    assert (await status(startTime=old_start, maxResults=10))[0] == 400
    ok_window = {"startTime": old_start, "endTime": _iso(now - timedelta(days=2))}
    assert (await status(**ok_window, maxResults=10))[0] == 200
    assert (await status(startTime="yesterday", maxResults=10))[0] == 400
    assert (await status(maxResults=10))[0] == 400
    bad_token = await status(startTime=recent, maxResults=10, nextToken="zz")
    assert bad_token == (400, "invalidParameter.cursor.invalid")


async def test_querydimission_pages_and_caps(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    path = "/topapi/smartwork/hrm/employee/querydimission"
    offset: int | None = 0
    userids: list[str] = []
    while offset is not None:
        body = await ding.ok(path, {"offset": offset, "size": 4}, token=tok)
        assert body["success"] is True
        userids.extend(body["result"]["data_list"])
        offset = body["result"].get("next_cursor")
    assert sorted(userids) == sorted(sb.company.leavers)
    assert len(userids) == len(set(userids))
    by_time = sorted(sb.company.leavers.values(), key=lambda lv: lv.leave_time, reverse=True)
    assert userids == [lv.userid for lv in by_time]
    assert (await ding.top(path, {"offset": 0, "size": 51}, token=tok))["errcode"] == 400002
    assert (await ding.top(path, {"offset": 0}, token=tok))["errcode"] == 400002


async def test_listdimission(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    path = "/topapi/smartwork/hrm/employee/listdimission"
    leavers = list(sb.company.leavers)
    someone = next(iter(sb.company.users))
    body = await ding.ok(
        path, {"userid_list": ",".join([*leavers[:3], someone])}, form=True, token=tok
    )
    got = {r["userid"]: r for r in body["result"]}
    assert set(got) == set(leavers[:3])
    one = got[leavers[0]]
    truth = sb.company.leavers[leavers[0]]
    assert one["last_work_day"] == truth.last_work_day
    assert one["main_dept_id"] == truth.main_dept_id
    assert one["dept_list"] == [
        {"dept_id": d.dept_id, "dept_path": d.dept_path} for d in truth.dept_list
    ]
    as_list = await ding.ok(path, {"userid_list": leavers[:2]}, token=tok)
    assert len(as_list["result"]) == 2
    over = await ding.top(path, {"userid_list": [f"u{i}" for i in range(51)]}, token=tok)
    assert over["errcode"] == 400002
