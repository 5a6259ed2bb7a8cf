"""Contacts APIs added after a comparison with the docs (auth-contacts.md): name search
(§6.7), a user token's profile (§3.3), listparentbyuser's 33012 (§5.4) and the archived GET
APIs of §5.6 and §6.8 — over loopback HTTP, key sets checked against the published samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dingsync.sandbox import SandboxServer
from dingsync.sandbox.company import ROOT_DEPT_ID
from helpers.sandboxes import make_client

from .helpers import Ding


def sample(shared: Path, name: str) -> Any:
    return json.loads((shared / "samples" / name).read_text(encoding="utf-8"))


async def search(ding: Ding, **body: Any) -> Any:
    return await ding.v1("POST", "/v1.0/contact/users/search", json=body)


async def test_users_search(ding: Ding, sb: SandboxServer, shared_dingtalk: Path) -> None:
    users = list(sb.company.users.values())
    surname = users[0].name[0]
    truth = [u.userid for u in users if surname in u.name]
    assert len(truth) > 1
    r = await search(ding, queryWord=surname, offset=0, size=1)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == set(sample(shared_dingtalk, "contacts/v1_contact_users_search.json"))
    assert body == {"hasMore": True, "totalCount": len(truth), "list": truth[:1]}
    # every page, walked by offset
    found: list[str] = []
    offset = 0
    while True:
        page = (await search(ding, queryWord=surname, offset=offset, size=7)).json()
        found += page["list"]
        offset += 7
        if not page["hasMore"]:
            break
    assert found == truth
    name = users[0].name
    exact = (await search(ding, queryWord=name, offset=0, size=100, fullMatchField=1)).json()
    assert exact["list"] == [u.userid for u in users if u.name == name]
    nobody = (await search(ding, queryWord="无此人zzz", offset=0, size=10)).json()
    assert nobody == {"hasMore": False, "totalCount": 0, "list": []}
    for bad in (
        {"queryWord": "x", "offset": -1, "size": 10},
        {"queryWord": "x", "offset": 0, "size": 0},
        {"queryWord": "x", "offset": 0, "size": 10, "fullMatchField": 7},
    ):
        r = await search(ding, **bad)
        assert (r.status_code, r.json()["code"]) == (400, "parameter.error"), bad
    r = await search(ding, offset=0, size=10)
    assert (r.status_code, r.json()["code"]) == (400, "MissingqueryWord")


async def test_client_search_users(sb: SandboxServer) -> None:
    users = list(sb.company.users.values())
    word = users[3].name[-1]
    async with make_client(sb) as client:
        got = [u async for u in client.contacts.search_users(word, size=5)]
    assert got == [u.userid for u in users if word in u.name]


async def _user_token(ding: Ding, sb: SandboxServer, userid: str) -> str:
    r = await ding.http.post(
        "/v1.0/oauth2/userAccessToken",
        json={
            "clientId": sb.app.app_key,
            "clientSecret": sb.app.app_secret,
            "code": sb.mint_authcode(userid),
            "grantType": "authorization_code",
        },
    )
    assert r.status_code == 200, r.text
    return str(r.json()["accessToken"])


async def test_contact_user_me_with_a_user_token(
    ding: Ding, sb: SandboxServer, shared_dingtalk: Path
) -> None:
    me = next(u for u in sb.company.users.values() if u.email)
    token = await _user_token(ding, sb, me.userid)
    r = await ding.http.get(
        "/v1.0/contact/users/me", headers={"x-acs-dingtalk-access-token": token}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == set(sample(shared_dingtalk, "contacts/v1_contact_users_unionId.json"))
    assert (body["nick"], body["unionId"], body["mobile"], body["email"], body["stateCode"]) == (
        me.name,
        me.unionid,
        me.mobile,
        me.email,
        me.state_code,
    )
    assert all(isinstance(v, str) for v in body.values())
    # by unionId: the same answer; the openId is stable
    other = next(u for u in sb.company.users.values() if u.userid != me.userid)
    again = (
        await ding.http.get(
            f"/v1.0/contact/users/{me.unionid}", headers={"x-acs-dingtalk-access-token": token}
        )
    ).json()
    assert again == body
    theirs = await ding.http.get(
        f"/v1.0/contact/users/{other.unionid}", headers={"x-acs-dingtalk-access-token": token}
    )
    assert theirs.json()["unionId"] == other.unionid
    assert theirs.json()["openId"] != body["openId"]
    # errors as the samples show them
    missing = await ding.http.get("/v1.0/contact/users/me")
    assert (missing.status_code, missing.json()["code"]) == (
        400,
        sample(
            shared_dingtalk,
            "contacts/v1_contact_users_unionId.error_400_MissingParameter_bearer.json",
        )["code"],
    )
    in_query = await ding.http.get("/v1.0/contact/users/me", params={"access_token": token})
    assert in_query.json()["code"] == "AuthenticationFailed.MissingParameter"
    app_token = await ding.token()  # an app token is not a user token
    bad = await ding.http.get(
        "/v1.0/contact/users/me", headers={"x-acs-dingtalk-access-token": app_token}
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "InvalidAuthentication")
    stranger = await ding.http.get(
        "/v1.0/contact/users/nosuchunionid", headers={"x-acs-dingtalk-access-token": token}
    )
    assert (stranger.status_code, stranger.json()["code"]) == (
        404,
        "invalidParameter.user.notFound",
    )
    sb.clock.advance(sb.state.config.user_token_ttl_s + 1)
    expired = await ding.http.get(
        "/v1.0/contact/users/me", headers={"x-acs-dingtalk-access-token": token}
    )
    assert (expired.status_code, expired.json()["code"]) == (400, "accesstoken.expired")


async def test_listparentbyuser_unknown_userid_is_33012(ding: Ding, sb: SandboxServer) -> None:
    leaver = next(iter(sb.company.leavers))
    for userid in ("nobody-here", leaver):
        body = await ding.top("/topapi/v2/department/listparentbyuser", {"userid": userid})
        assert body["errcode"] == 33012, body


async def test_archived_department_apis(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    deepest = max(company.departments, key=company.depth)
    ids = await ding.old_get("/department/list_ids", id=ROOT_DEPT_ID)
    assert ids["errcode"] == 0
    assert ids["sub_dept_id_list"] == [d.dept_id for d in company.children(ROOT_DEPT_ID)]
    parents = await ding.old_get("/department/list_parent_depts_by_dept", id=deepest)
    assert parents["parentIds"] == company.ancestors(deepest)
    assert set(parents) == {"errcode", "errmsg", "parentIds"}
    for path in ("/department/list_ids", "/department/list_parent_depts_by_dept"):
        assert (await ding.old_get(path, id=987654321))["errcode"] == 60003


async def test_archived_user_lists(ding: Ding, sb: SandboxServer, shared_dingtalk: Path) -> None:
    company = sb.company
    dept = max(company.departments, key=lambda d: len(sb.state.index.members[d]))
    members = sb.state.index.members[dept]
    assert len(members) > 3
    simple = await ding.old_get("/user/simplelist", department_id=dept)
    assert simple["hasMore"] is False
    assert simple["userlist"] == [{"userid": u, "name": company.users[u].name} for u in members]
    paged = await ding.old_get("/user/simplelist", department_id=dept, offset=0, size=2)
    assert paged["hasMore"] is True and len(paged["userlist"]) == 2

    doc = sample(shared_dingtalk, "contacts/user_listbypage.json")
    got: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = await ding.old_get("/user/listbypage", department_id=dept, offset=offset, size=3)
        assert page["errcode"] == 0, page
        assert set(page) == set(doc)
        got += page["userlist"]
        offset += 3
        if not page["hasMore"]:
            break
    assert [u["userid"] for u in got] == members
    for item in got:
        assert set(doc["userlist"][0]) <= set(item)
        user = company.users[item["userid"]]
        m = next(m for m in user.memberships if m.dept_id == dept)
        assert (item["order"], item["isLeader"], item["department"]) == (
            m.order,
            m.leader,
            user.dept_id_list,
        )
    # offset and size are required on listbypage; size ≤ 100
    assert (await ding.old_get("/user/listbypage", department_id=dept))["errcode"] != 0
    too_big = await ding.old_get("/user/listbypage", department_id=dept, offset=0, size=101)
    assert too_big["errcode"] == 40069

    member_ids = await ding.old_get("/user/getDeptMember", deptId=dept)
    assert member_ids["userIds"] == members
    assert (await ding.old_get("/user/getDeptMember", deptId=987654321))["errcode"] == 60003


async def test_archived_user_lookups(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    everyone = await ding.old_get("/user/get_org_user_count", onlyActive=0)
    active = await ding.old_get("/user/get_org_user_count", onlyActive=1)
    assert everyone["count"] == len(company.users)
    assert active["count"] == sum(1 for u in company.users.values() if u.active)
    user = next(iter(company.users.values()))
    by_mobile = await ding.old_get("/user/get_by_mobile", mobile=user.mobile)
    assert (by_mobile["errcode"], by_mobile["userid"]) == (0, user.userid)
    assert (await ding.old_get("/user/get_by_mobile", mobile="13000000000"))["errcode"] == 60121
    by_union = await ding.old_get("/user/getUseridByUnionid", unionid=user.unionid)
    assert {k: by_union[k] for k in ("contactType", "userid")} == {
        "contactType": 0,
        "userid": user.userid,
    }
    stranger = await ding.old_get("/user/getUseridByUnionid", unionid="stranger")
    assert stranger["errcode"] == 60121


async def test_emp_leave_records_wants_an_iso_date_time(ding: Ding) -> None:
    async def records(start: str) -> Any:
        return await ding.v1(
            "GET", "/v1.0/contact/empLeaveRecords", params={"startTime": start, "maxResults": 50}
        )

    for start in ("2026-01-01", "yesterday", "2026-01-01 00:00:00"):
        r = await records(start)
        assert (r.status_code, r.json()["code"]) == (400, "invalidParameter.param.invalid"), start
    ok = await records(_days_ago_iso(ding, 200))
    assert ok.status_code == 200, ok.text
    assert isinstance(ok.json()["records"], list)


def _days_ago_iso(ding: Ding, days: int) -> str:
    ms = ding.server.state.clock.now_ms() - days * 86_400_000
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_archived_user_list_gives_members_with_details(
    ding: Ding, sb: SandboxServer, shared_dingtalk: Path
) -> None:
    company = sb.company
    dept = max(company.departments, key=lambda d: len(sb.state.index.members[d]))
    members = sb.state.index.members[dept]
    assert len(members) > 3
    doc = sample(shared_dingtalk, "contacts/user_listbypage.json")
    # without offset and size: every direct member, the records of /user/listbypage
    whole = await ding.old_get("/user/list", department_id=dept)
    assert whole["errcode"] == 0 and whole["hasMore"] is False, whole
    assert set(whole) == set(doc)
    assert [u["userid"] for u in whole["userlist"]] == members
    bypage = await ding.old_get("/user/listbypage", department_id=dept, offset=0, size=100)
    assert whole["userlist"] == bypage["userlist"][: len(members)]
    for item in whole["userlist"]:
        assert set(doc["userlist"][0]) <= set(item)
    # offset and size page together
    got: list[str] = []
    offset = 0
    while True:
        page = await ding.old_get("/user/list", department_id=dept, offset=offset, size=2)
        got += [u["userid"] for u in page["userlist"]]
        offset += 2
        if not page["hasMore"]:
            break
    assert got == members
    # caps and errors
    assert (await ding.old_get("/user/list", department_id=dept, offset=0, size=101))[
        "errcode"
    ] == 40069
    assert (await ding.old_get("/user/list", department_id=dept, offset=-1, size=10))[
        "errcode"
    ] == 40068
    assert (await ding.old_get("/user/list", department_id=987654321))["errcode"] == 60003
    assert (await ding.old_get("/user/list"))["errcode"] != 0
