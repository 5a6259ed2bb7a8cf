"""Roles (角色) over HTTP: ``/topapi/role/list``, ``getrole`` and ``simplelist`` exactly as
auth-contacts.md §9 describes them (mixed casing, caps, the "both or neither" paging rule of
``role/list``, errors), their members consistent with the directory, the ``/sandbox/company``
truth, the ``denied_permissions`` knob and the role mutations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sandbox.company import (
    DEFAULT_ROLE_GROUP_ID,
    ROLE_HEAD_ID,
    ROLE_MAIN_ADMIN_ID,
    ROLE_OWNER_ID,
    ROLE_SUB_ADMIN_ID,
    Company,
)

from .helpers import Ding

LIST = "/topapi/role/list"
GET = "/topapi/role/getrole"
MEMBERS = "/topapi/role/simplelist"


def _truth_groups(company: Company) -> list[dict[str, Any]]:
    return company.roles_truth()


def _truth_role(company: Company, role_id: int) -> dict[str, Any]:
    for g in company.roles_truth():
        for r in g["roles"]:
            if r["role_id"] == role_id:
                return {**r, "group_id": g["group_id"]}
    raise KeyError(role_id)


def _wire_members(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": m["name"], "userid": m["userid"], "manageScopes": m["manage_scopes"]}
        for m in role["members"]
    ]


async def _all_members(ding: Ding, role_id: int, size: int) -> tuple[list[dict[str, Any]], int]:
    tok = await ding.token()
    out: list[dict[str, Any]] = []
    calls = 0
    offset = 0
    while True:
        body = await ding.ok(
            MEMBERS, {"role_id": role_id, "offset": offset, "size": size}, token=tok
        )
        calls += 1
        out.extend(body["result"]["list"])
        if not body["result"]["hasMore"]:
            return out, calls
        offset += size


# ---------------------------------------------------------------------------------------------
# /topapi/role/list
# ---------------------------------------------------------------------------------------------
async def test_role_list_shape_and_the_builtin_default_group(ding: Ding, sb: SandboxServer) -> None:
    body = await ding.ok(LIST, {"offset": 0, "size": 200})
    assert set(body) == {"errcode", "errmsg", "result", "request_id"}
    assert set(body["result"]) == {"hasMore", "list"}
    assert body["result"]["hasMore"] is False
    groups = body["result"]["list"]
    for g in groups:
        assert set(g) == {"groupId", "name", "roles"}  # camelCase groupId
        assert all(set(r) == {"id", "name"} for r in g["roles"])
    default = groups[0]
    assert default["groupId"] == DEFAULT_ROLE_GROUP_ID and default["name"] == "默认"
    # the published sample's built-in roles, ids and order
    assert default["roles"] == [
        {"id": ROLE_OWNER_ID, "name": "负责人"},
        {"id": ROLE_HEAD_ID, "name": "主管"},
        {"id": ROLE_MAIN_ADMIN_ID, "name": "主管理员"},
        {"id": ROLE_SUB_ADMIN_ID, "name": "子管理员"},
    ]
    truth = _truth_groups(sb.company)
    assert [(g["groupId"], g["name"]) for g in groups] == [
        (g["group_id"], g["name"]) for g in truth
    ]
    assert [[r["id"] for r in g["roles"]] for g in groups] == [
        [r["role_id"] for r in g["roles"]] for g in truth
    ]
    assert {g["name"] for g in groups} >= {"默认", "职务", "岗位"}
    assert {r["name"] for g in groups if g["name"] == "职务" for r in g["roles"]} >= {
        "财务",
        "人事",
        "出纳",
        "行政",
    }


async def test_role_list_pages_only_when_both_size_and_offset_are_sent(ding: Ding) -> None:
    tok = await ding.token()
    everything = (await ding.ok(LIST, {}, token=tok))["result"]
    assert everything["hasMore"] is False  # fewer than the default 20 groups
    groups = everything["list"]
    assert len(groups) >= 3

    second = (await ding.ok(LIST, {"size": 1, "offset": 1}, token=tok))["result"]
    assert second == {"hasMore": True, "list": [groups[1]]}
    # one of the two alone is not effective: the default first page is answered
    assert (await ding.ok(LIST, {"size": 1}, token=tok))["result"] == everything
    assert (await ding.ok(LIST, {"offset": 2}, token=tok))["result"] == everything
    # form-encoded numbers count too
    form = await ding.ok(LIST, {"size": "1", "offset": "1"}, form=True, token=tok)
    assert form["result"] == second

    walked: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = (await ding.ok(LIST, {"size": 2, "offset": offset}, token=tok))["result"]
        walked.extend(page["list"])
        if not page["hasMore"]:
            break
        offset += 2
    assert walked == groups
    last = (await ding.ok(LIST, {"size": 200, "offset": len(groups)}, token=tok))["result"]
    assert last == {"hasMore": False, "list": []}


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"size": 201, "offset": 0}, 40069),
        ({"size": 0, "offset": 0}, 40069),
        ({"size": "ten", "offset": 0}, 40069),
        ({"size": 20, "offset": -1}, 40068),
        ({"size": 20, "offset": "x"}, 40068),
    ],
)
async def test_role_list_caps(ding: Ding, body: dict[str, Any], errcode: int) -> None:
    answer = await ding.top(LIST, body)
    assert answer["errcode"] == errcode, answer
    assert "result" not in answer


# ---------------------------------------------------------------------------------------------
# /topapi/role/getrole
# ---------------------------------------------------------------------------------------------
async def test_getrole_camel_case_and_top_level_role(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    for group in _truth_groups(sb.company):
        for role in group["roles"]:
            body = await ding.ok(GET, {"roleId": role["role_id"]}, token=tok)
            assert "result" not in body
            assert body["role"] == {"groupId": group["group_id"], "name": role["name"]}
    as_text = await ding.ok(GET, {"roleId": str(ROLE_OWNER_ID)}, form=True, token=tok)
    assert as_text["role"] == {"groupId": DEFAULT_ROLE_GROUP_ID, "name": "负责人"}


async def test_getrole_errors(ding: Ding) -> None:
    tok = await ding.token()
    unknown = await ding.top(GET, {"roleId": 123}, token=tok)
    assert (unknown["errcode"], unknown["errmsg"]) == (33011, "无效的roleId")
    assert (await ding.top(GET, {"roleId": "abc"}, token=tok))["errcode"] == 33011
    # snake_case is simplelist's spelling, not getrole's: the parameter is missing
    snake = await ding.top(GET, {"role_id": ROLE_OWNER_ID}, token=tok)
    assert snake["errcode"] == 400002 and "roleId" in snake["errmsg"]


# ---------------------------------------------------------------------------------------------
# /topapi/role/simplelist
# ---------------------------------------------------------------------------------------------
async def test_simplelist_snake_case_default_page_and_shape(ding: Ding, sb: SandboxServer) -> None:
    truth = _truth_groups(sb.company)
    big = max((r for g in truth for r in g["roles"]), key=lambda r: len(r["members"]))
    assert len(big["members"]) > 20, "some role must need more than the default page"
    first = await ding.ok(MEMBERS, {"role_id": big["role_id"]})
    assert set(first["result"]) == {"hasMore", "list"}
    assert first["result"]["hasMore"] is True
    assert first["result"]["list"] == _wire_members(big)[:20]  # default size 20, offset 0
    for item in first["result"]["list"]:
        assert set(item) == {"name", "userid", "manageScopes"}
        assert all(set(s) == {"dept_id", "name"} for s in item["manageScopes"])  # snake inside
    # offset alone is effective here (default size 20)
    rest = await ding.ok(MEMBERS, {"role_id": big["role_id"], "offset": 20})
    assert rest["result"]["list"] == _wire_members(big)[20:40]

    camel = await ding.top(MEMBERS, {"roleId": big["role_id"]})
    assert camel["errcode"] == 400002 and "role_id" in camel["errmsg"]


async def test_simplelist_paging_equals_the_truth_for_every_role(
    ding: Ding, sb: SandboxServer
) -> None:
    for group in _truth_groups(sb.company):
        for role in group["roles"]:
            members, calls = await _all_members(ding, role["role_id"], 7)
            assert members == _wire_members(role), role["name"]
            assert calls == max(1, -(-len(members) // 7))
            everyone, one = await _all_members(ding, role["role_id"], 100)
            assert everyone == members and one == 1


async def test_simplelist_scopes_and_empty_roles(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    truth = _truth_groups(company)
    roles = {r["name"]: r for g in truth for r in g["roles"]}
    hr = roles["人事"]["members"][0]
    assert len(hr["manage_scopes"]) == 2  # a 人事 person managing two departments
    for scope in hr["manage_scopes"]:
        assert company.departments[scope["dept_id"]].name == scope["name"]
    custom = [m for g in truth[1:] for r in g["roles"] for m in r["members"]]
    assert any(not m["manage_scopes"] for m in custom)  # whole company
    empty = roles["外包对接人"]
    assert empty["members"] == []
    body = await ding.ok(MEMBERS, {"role_id": empty["role_id"]})
    assert body["result"] == {"hasMore": False, "list": []}


@pytest.mark.parametrize(
    ("extra", "errcode"),
    [
        ({"size": 101}, 40069),
        ({"size": 0}, 40069),
        ({"offset": -1}, 40068),
        ({"offset": "x"}, 40068),
    ],
)
async def test_simplelist_caps(ding: Ding, extra: dict[str, Any], errcode: int) -> None:
    answer = await ding.top(MEMBERS, {"role_id": ROLE_HEAD_ID, **extra})
    assert answer["errcode"] == errcode, answer


async def test_simplelist_unknown_role(ding: Ding) -> None:
    assert (await ding.top(MEMBERS, {"role_id": 42}))["errcode"] == 33011
    assert (await ding.top(MEMBERS, {}))["errcode"] == 400002


# ---------------------------------------------------------------------------------------------
# Members follow the directory
# ---------------------------------------------------------------------------------------------
async def test_builtin_roles_follow_admins_boss_and_heads(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    tok = await ding.token()

    async def members(role_id: int) -> dict[str, list[int]]:
        got, _ = await _all_members(ding, role_id, 100)
        return {m["userid"]: [s["dept_id"] for s in m["manageScopes"]] for m in got}

    admins = (await ding.ok("/topapi/user/listadmin", token=tok))["result"]
    assert await members(ROLE_MAIN_ADMIN_ID) == {
        a["userid"]: [] for a in admins if a["sys_level"] == 1
    }
    subs = await members(ROLE_SUB_ADMIN_ID)
    assert set(subs) == {a["userid"] for a in admins if a["sys_level"] == 2}
    for userid, scope in subs.items():
        dept_ids = (await ding.ok("/topapi/user/get_admin_scope", {"userid": userid}, token=tok))[
            "dept_ids"
        ]
        assert scope == dept_ids
    assert await members(ROLE_OWNER_ID) == {company.boss_userid: []}
    heads = await members(ROLE_HEAD_ID)
    expected = {d.dept_id: set(d.dept_manager_userid_list) for d in company.departments.values()}
    assert heads and all(scope for scope in heads.values())
    for userid, scope in heads.items():
        for dept_id in scope:
            assert userid in expected[dept_id]
    assert {(u, d) for u, s in heads.items() for d in s} == {
        (u, d) for d, us in expected.items() for u in us
    }


async def test_user_get_role_list_names_every_role_held(ding: Ding, sb: SandboxServer) -> None:
    truth = _truth_groups(sb.company)
    hr_role = next(r for g in truth for r in g["roles"] if r["name"] == "人事")
    userid = hr_role["members"][0]["userid"]
    detail = (await ding.ok("/topapi/v2/user/get", {"userid": userid}))["result"]
    held = {(r["id"], r["group_name"]) for r in detail["role_list"]}
    assert (hr_role["role_id"], "职务") in held
    expected = {
        (r["role_id"], g["name"])
        for g in truth
        for r in g["roles"]
        if any(m["userid"] == userid for m in r["members"])
    }
    assert held == expected
    boss = (await ding.ok("/topapi/v2/user/get", {"userid": sb.company.boss_userid}))["result"]
    assert {"id": ROLE_OWNER_ID, "name": "负责人", "group_name": "默认"} in boss["role_list"]


async def test_company_truth_shows_roles(ding: Ding, sb: SandboxServer) -> None:
    data = (await ding.http.get("/sandbox/company")).json()
    assert data["role_groups"] == _truth_groups(sb.company)
    counts = data["counts"]
    assert counts["roles"] == sum(len(g["roles"]) for g in data["role_groups"])
    assert counts["role_members"] == sum(
        len(r["members"]) for g in data["role_groups"] for r in g["roles"]
    )
    assert sb.stats()["roles"] == counts["roles"]


# ---------------------------------------------------------------------------------------------
# Permissions (auth-contacts.md §11)
# ---------------------------------------------------------------------------------------------
async def test_denied_permissions_knob(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    sb.configure(denied_permissions=["qyapi_get_department_list"])
    listed = await ding.top(LIST, {}, token=tok)
    assert listed["errcode"] == 60011
    assert (await ding.top("/topapi/v2/department/get", {"dept_id": 1}, token=tok))[
        "errcode"
    ] == 60011
    assert (await ding.top(GET, {"roleId": ROLE_HEAD_ID}, token=tok))["errcode"] == 0

    sb.configure(denied_permissions=["qyapi_get_department_member"])
    assert (await ding.top(GET, {"roleId": ROLE_HEAD_ID}, token=tok))["errcode"] == 60011
    assert (await ding.top(MEMBERS, {"role_id": ROLE_HEAD_ID}, token=tok))["errcode"] == 60011
    assert (await ding.top(LIST, {}, token=tok))["errcode"] == 0

    sb.configure(denied_permissions=[MEMBERS])  # one API alone
    assert (await ding.top(MEMBERS, {"role_id": ROLE_HEAD_ID}, token=tok))["errcode"] == 60011
    assert (await ding.top(GET, {"roleId": ROLE_HEAD_ID}, token=tok))["errcode"] == 0

    sb.configure(denied_permissions=["Contact.Common.Read"])
    r = await ding.v1(
        "GET",
        "/v1.0/contact/empLeaveRecords",
        params={"startTime": "2026-01-01T00:00:00Z", "maxResults": 50},
        token=tok,
    )
    assert r.status_code == 403
    assert r.json()["code"] == "Forbidden.AccessDenied.AccessTokenPermissionDenied"
    sb.configure(denied_permissions=[])
    assert (await ding.top(LIST, {}, token=tok))["errcode"] == 0


# ---------------------------------------------------------------------------------------------
# Mutations (own sandbox: they change the company)
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def own() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=21, users=120, qps_limit=None)) as server:
        yield server


def _post(sb: SandboxServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(sb.base_url + path, json=body, timeout=10)


async def test_role_mutations_change_what_the_apis_serve(own: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=own.base_url, timeout=10) as http:
        ding = Ding(http, own)
        company = own.company
        someone, other = sorted(company.users)[:2]
        dept = sorted(d for d in company.departments if d != 1)[0]

        made = _post(
            own,
            "/sandbox/mutate/roles/add_role",
            {"group_name": "项目角色", "name": "PMO", "members": [{"userid": someone}]},
        )
        assert made.status_code == 200, made.text
        role_id, group_id = made.json()["role_id"], made.json()["group_id"]
        groups = (await ding.ok(LIST, {}))["result"]["list"]
        assert {
            "groupId": group_id,
            "name": "项目角色",
            "roles": [{"id": role_id, "name": "PMO"}],
        } in groups
        assert (await ding.ok(GET, {"roleId": role_id}))["role"] == {
            "groupId": group_id,
            "name": "PMO",
        }

        added = _post(
            own,
            "/sandbox/mutate/roles/add_member",
            {"role_id": role_id, "userid": other, "dept_ids": [dept]},
        )
        assert added.status_code == 200, added.text
        members, _ = await _all_members(ding, role_id, 100)
        assert [(m["userid"], m["manageScopes"]) for m in members] == [
            (someone, []),
            (other, [{"dept_id": dept, "name": company.departments[dept].name}]),
        ]
        assert (
            _post(
                own, "/sandbox/mutate/roles/remove_member", {"role_id": role_id, "userid": someone}
            ).status_code
            == 200
        )
        members, _ = await _all_members(ding, role_id, 100)
        assert [m["userid"] for m in members] == [other]

        assert (
            _post(own, "/sandbox/mutate/roles/remove_role", {"role_id": role_id}).status_code == 200
        )
        assert (await ding.top(GET, {"roleId": role_id}))["errcode"] == 33011
        assert (await ding.top(MEMBERS, {"role_id": role_id}))["errcode"] == 33011
        assert all(
            r["id"] != role_id
            for g in (await ding.ok(LIST, {}))["result"]["list"]
            for r in g["roles"]
        )


def test_role_mutation_errors(own: SandboxServer) -> None:
    refused = _post(own, "/sandbox/mutate/roles/remove_role", {"role_id": ROLE_HEAD_ID})
    assert refused.status_code == 409 and "built-in" in refused.json()["error"]
    unknown = _post(own, "/sandbox/mutate/roles/remove_role", {"role_id": 7})
    assert unknown.status_code == 404 and unknown.json()["errcode"] == 33011
    some_role = own.company.role_groups[1].roles[0].role_id
    stranger = _post(
        own, "/sandbox/mutate/roles/add_member", {"role_id": some_role, "userid": "nobody"}
    )
    assert stranger.status_code == 404 and stranger.json()["errcode"] == 60121
    assert _post(own, "/sandbox/mutate/roles/explode", {}).status_code == 400


async def test_a_member_who_leaves_drops_out_of_their_roles(own: SandboxServer) -> None:
    company = own.company
    leaders = {u.userid for u in company.users.values() if any(m.leader for m in u.memberships)}
    managers = {u.manager_userid for u in company.users.values() if u.manager_userid}
    owners = {d.org_dept_owner for d in company.departments.values()}
    blocked = leaders | managers | owners | set(company.admins) | {company.boss_userid}
    member, role_id = next(
        (m.userid, r.role_id)
        for g in company.role_groups[1:]
        for r in g.roles
        for m in r.members
        if m.userid not in blocked
    )
    left = _post(own, "/sandbox/mutate/contacts/leave", {"userid": member})
    assert left.status_code == 200, left.text
    async with httpx.AsyncClient(base_url=own.base_url, timeout=10) as http:
        members, _ = await _all_members(Ding(http, own), role_id, 100)
    assert member not in {m["userid"] for m in members}
