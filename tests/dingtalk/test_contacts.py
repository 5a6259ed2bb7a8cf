"""Contacts and auth groups over the fake: request shapes, caps split for the caller, samples
served through the real methods."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dingsync.dingtalk import DingTalkClient, NotFoundError, PermissionDeniedError
from dingsync.dingtalk.contacts import _leave_windows

from .fake_dingtalk import FakeDingTalk, Req

ClientFactory = Callable[..., DingTalkClient]


def sample(shared: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((shared / "samples" / name).read_text(encoding="utf-8"))
    return data


def once_then(first: Any, then: Any) -> Callable[[Req], Any]:
    state = {"n": 0}

    def handler(r: Req) -> Any:
        state["n"] += 1
        return first if state["n"] == 1 else then

    return handler


async def test_samples_through_the_methods(
    shared_dingtalk: Path, fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    s = lambda n: sample(shared_dingtalk, n)  # noqa: E731
    fake.route("POST", "/topapi/v2/user/get", lambda r: s("contacts/topapi_v2_user_get.json"))
    fake.route(
        "POST",
        "/topapi/v2/user/list",
        once_then(
            s("contacts/topapi_v2_user_list.json"),
            {"errcode": 0, "result": {"has_more": False, "list": []}},
        ),
    )
    fake.route("GET", "/user/get", lambda r: s("contacts/user_get.json"))
    fake.route(
        "POST", "/topapi/v2/department/get", lambda r: s("contacts/topapi_v2_department_get.json")
    )
    fake.route(
        "POST",
        "/topapi/v2/department/listsub",
        lambda r: s("contacts/topapi_v2_department_listsub.json"),
    )
    fake.route(
        "POST",
        "/topapi/v2/department/listsubid",
        lambda r: s("contacts/topapi_v2_department_listsubid.json"),
    )
    fake.route(
        "POST",
        "/topapi/v2/department/listparentbyuser",
        lambda r: s("contacts/topapi_v2_department_listparentbyuser.json"),
    )
    fake.route("GET", "/department/list", lambda r: s("contacts/department_list.json"))
    fake.route("POST", "/topapi/user/listadmin", lambda r: s("contacts/topapi_user_listadmin.json"))
    fake.route(
        "POST",
        "/topapi/user/get_admin_scope",
        lambda r: s("contacts/topapi_user_get_admin_scope.json"),
    )
    fake.route("POST", "/topapi/user/listid", lambda r: s("contacts/topapi_user_listid.json"))
    fake.route(
        "POST",
        "/topapi/user/getbyunionid",
        lambda r: s("contacts/topapi_user_getbyunionid.error_60121.json"),
    )
    fake.route(
        "POST",
        "/topapi/smartwork/hrm/employee/querydimission",
        once_then(
            s("contacts/topapi_smartwork_hrm_employee_querydimission.json"),
            {"errcode": 0, "result": {"data_list": ["z"]}, "success": True},
        ),
    )
    fake.route(
        "GET",
        "/v1.0/contact/empLeaveRecords",
        once_then(s("contacts/v1_contact_empLeaveRecords.json"), {"records": []}),
    )
    fake.route(
        "POST",
        "/topapi/v2/user/getuserinfo",
        lambda r: s("auth/topapi_v2_user_getuserinfo.json"),
    )
    fake.route("GET", "/user/getuserinfo", lambda r: s("auth/user_getuserinfo.json"))

    c = make_client().contacts
    user = await c.get_user("zhangsan")
    assert user.userid == "zhangsan" and user.raw()["dept_id_list"] == [2, 3, 4]
    listed = await c.iter_department_users(2).to_list()
    assert [u.userid for u in listed] == ["zhangsan"]
    assert fake.requests[-1].body["cursor"] == 10
    legacy = await c.get_user_legacy("manager3378")
    assert legacy.to_user().dept_order_list[0].order == 1
    assert "errcode" not in legacy.raw()
    dept = await c.get_department(1)
    assert dept.dept_permits == [3, 4, 5] and dept.union_dept_ext is not None
    assert [d.dept_id for d in await c.list_sub_departments(1)] == [37000095, 399000096]
    assert len(await c.list_sub_department_ids(1)) == 5
    assert await c.list_parent_departments_by_user("u") == [[37000095, 1]]
    assert len(await c.list_departments_legacy()) == 6
    assert [(a.userid, a.is_main) for a in await c.list_admins()] == [
        ("203xxxx1", False),
        ("mxxxxx0", True),
    ]
    assert await c.get_admin_scope("x") == [1]
    assert len(await c.list_user_ids(1)) == 4
    with pytest.raises(NotFoundError):
        await c.get_userid_by_unionid("stranger")
    assert await c.iter_dimission_userids().to_list() == ["ud", "001", "yy7", "yy6", "yy2", "z"]
    assert [
        b["offset"] for b in _bodies(fake, "/topapi/smartwork/hrm/employee/querydimission")
    ] == [
        0,
        8,
    ]
    records = await c.iter_leave_records(datetime.now(UTC) - timedelta(days=10)).to_list()
    assert [r.user_id for r in records] == ["10000"]
    leave_queries = [r.query for r in fake.requests if r.path == "/v1.0/contact/empLeaveRecords"]
    assert [q["nextToken"] for q in leave_queries] == ["0", "DCCD7A656FFA6F07"]
    assert all(q["maxResults"] == "50" and "endTime" not in q for q in leave_queries)
    a = make_client().auth
    assert (await a.get_userinfo_by_code("c")).userid == "userid123"
    assert (await a.get_userinfo_by_code_legacy("c")).userid == "user456"


def _bodies(fake: FakeDingTalk, path: str) -> list[Any]:
    return [r.body for r in fake.requests if r.path == path]


async def test_leave_records_split_over_365_days(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    def handler(r: Req) -> Any:
        start = r.query["startTime"]
        # "edge" sits on every window boundary (DingTalk may include it in both): yielded once
        return {
            "records": [
                {"userId": "edge", "leaveTime": "2020-01-01T00:00:00Z"},
                {"userId": f"in-{start}", "leaveTime": start},
            ]
        }

    fake.route("GET", "/v1.0/contact/empLeaveRecords", handler)
    client = make_client()
    start = datetime(2021, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
    end = start + timedelta(days=800)
    records = await client.contacts.iter_leave_records(start, end).to_list()
    queries = [r.query for r in fake.requests if r.path == "/v1.0/contact/empLeaveRecords"]
    assert len(queries) == 3
    assert queries[0]["startTime"] == "2021-03-04T05:06:07Z"
    for q, nxt in itertools.pairwise(queries):
        assert q["endTime"] == nxt["startTime"]  # contiguous
    for q in queries:
        span = _parse(q["endTime"]) - _parse(q["startTime"])
        assert span <= timedelta(days=365)
    assert queries[-1]["endTime"] == "2023-05-13T05:06:08Z"  # rounded up, never down
    ids = [r.user_id for r in records]
    assert ids.count("edge") == 1 and len(ids) == 4


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_leave_windows_open_or_explicit() -> None:
    now = datetime.now(UTC)
    recent = _leave_windows(now - timedelta(days=30), None)
    assert len(recent) == 1 and recent[0][1] is None
    # right at the 365-day limit: explicit windows, so DingTalk's clock cannot reject it
    edge = _leave_windows(now - timedelta(days=365), None)
    assert all(e is not None for _, e in edge)
    month = _leave_windows(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC))
    assert month == [(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC))]
    two_years = _leave_windows(datetime(2020, 1, 1, tzinfo=UTC), datetime(2022, 1, 1, tzinfo=UTC))
    assert [e - s for s, e in two_years] == [
        timedelta(days=365),
        timedelta(days=365),
        timedelta(days=1),
    ]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(two_years))  # no gap
    with pytest.raises(ValueError):  # one rule for naive datetimes: refused
        _leave_windows(datetime(2020, 1, 1), datetime(2020, 2, 1))


async def test_dimission_infos_split_in_50s(fake: FakeDingTalk, make_client: ClientFactory) -> None:
    def handler(r: Req) -> Any:
        ids = r.body["userid_list"].split(",")
        assert len(ids) <= 50
        return {"errcode": 0, "result": [{"userid": u, "status": 2} for u in ids]}

    fake.route("POST", "/topapi/smartwork/hrm/employee/listdimission", handler)
    client = make_client()
    ids = [f"u{i}" for i in range(120)] + ["u1"]  # a duplicate is asked once
    infos = await client.contacts.list_dimission_infos(ids)
    assert [i.userid for i in infos] == [f"u{i}" for i in range(120)]
    assert client.calls["/topapi/smartwork/hrm/employee/listdimission"] == 3
    assert await client.contacts.list_dimission_infos([]) == []


async def test_search_users_offset_paging(fake: FakeDingTalk, make_client: ClientFactory) -> None:
    names = [f"u{i}" for i in range(23)]

    def handler(r: Req) -> Any:
        off, size = r.body["offset"], r.body["size"]
        assert r.body["queryWord"] == "张" and r.body.get("fullMatchField") == 1
        return {
            "hasMore": off + size < len(names),
            "totalCount": 23,
            "list": names[off : off + size],
        }

    fake.route("POST", "/v1.0/contact/users/search", handler)
    client = make_client()
    found = await client.contacts.search_users("张", full_match=True, size=10).to_list()
    assert found == names


async def test_jsapi_ticket_fallback_and_cache(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    fake.route(
        "POST",
        "/v1.0/oauth2/jsapiTickets",
        lambda r: (
            403,
            {"code": "Forbidden.AccessDenied.AccessTokenPermissionDenied", "message": "no"},
        ),
    )
    fake.route(
        "GET",
        "/get_jsapi_ticket",
        lambda r: {"errcode": 0, "errmsg": "ok", "ticket": "tick-1", "expires_in": 7200},
    )
    client = make_client()
    assert await client.auth.get_jsapi_ticket() == "tick-1"
    assert await client.auth.get_jsapi_ticket() == "tick-1"
    assert client.calls["/v1.0/oauth2/jsapiTickets"] == 1
    assert client.calls["/get_jsapi_ticket"] == 1
    strict = make_client(jsapi_ticket_fallback=False)
    with pytest.raises(PermissionDeniedError):
        await strict.auth.get_jsapi_ticket()
    await client.auth.invalidate_jsapi_ticket("tick-1")
    assert await client.auth.get_jsapi_ticket() == "tick-1"
    assert client.calls["/get_jsapi_ticket"] == 2
