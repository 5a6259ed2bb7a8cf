"""Departments and users over HTTP, checked against the company truth."""

from __future__ import annotations

from typing import Any

from dingsync.sandbox import SandboxServer
from dingsync.sandbox.company import ROOT_DEPT_ID

from .helpers import Ding


async def test_department_walk_matches_the_truth(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    tok = await ding.token()
    seen: dict[int, dict[str, Any]] = {}
    queue = [ROOT_DEPT_ID]
    while queue:
        dept_id = queue.pop()
        detail = await ding.ok("/topapi/v2/department/get", {"dept_id": dept_id}, token=tok)
        seen[dept_id] = detail["result"]
        kids = await ding.ok("/topapi/v2/department/listsubid", {"dept_id": dept_id}, token=tok)
        queue.extend(kids["result"]["dept_id_list"])
    assert set(seen) == set(company.departments)
    for dept_id, got in seen.items():
        truth = company.departments[dept_id]
        assert got["name"] == truth.name
        assert got.get("parent_id") == truth.parent_id
        assert got["order"] == truth.order
        assert got["dept_manager_userid_list"] == truth.dept_manager_userid_list
        for key in ("dept_permits", "user_permits", "outer_permit_depts", "outer_permit_users"):
            assert isinstance(got[key], list)  # sent even when empty (EB-11)
        assert list(got) == sorted(got)
    assert "parent_id" not in seen[ROOT_DEPT_ID]
    assert any(d["hide_dept"] and d["dept_permits"] for d in seen.values())


async def test_listsub_and_parents(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    top = await ding.ok("/topapi/v2/department/listsub", {"dept_id": 1})
    assert isinstance(top["result"], list)
    assert [d["dept_id"] for d in top["result"]] == [d.dept_id for d in company.children(1)]
    assert set(top["result"][0]) == {
        "auto_add_user",
        "create_dept_group",
        "dept_id",
        "name",
        "parent_id",
    }
    no_id = await ding.ok("/topapi/v2/department/listsub", {})  # EB-09: the root
    assert no_id["result"] == top["result"]

    deepest = max(company.departments, key=company.depth)
    chain = await ding.ok("/topapi/v2/department/listparentbydept", {"dept_id": deepest})
    assert chain["result"]["parent_id_list"] == company.ancestors(deepest)
    assert len(chain["result"]["parent_id_list"]) >= 5

    three = next(u for u in company.users.values() if len(u.memberships) == 3)
    paths = await ding.ok("/topapi/v2/department/listparentbyuser", {"userid": three.userid})
    lists = [p["parent_dept_id_list"] for p in paths["result"]["parent_list"]]
    assert lists == [company.ancestors(d) for d in three.dept_id_list]

    missing = await ding.top("/topapi/v2/department/get", {"dept_id": 12345})
    assert missing["errcode"] == 60003


async def test_old_department_list_is_recursive_and_unordered(
    ding: Ding, sb: SandboxServer
) -> None:
    company = sb.company
    body = await ding.old_get("/department/list")
    assert "request_id" not in body
    listed = body["department"]
    assert {d["id"] for d in listed} == set(company.departments) - {ROOT_DEPT_ID}
    position = {d["id"]: i for i, d in enumerate(listed)}
    assert any(
        d["parentid"] != ROOT_DEPT_ID and position[d["id"]] < position[d["parentid"]]
        for d in listed
    ), "some child must come before its parent"
    flat = await ding.old_get("/department/list", id=1, fetch_child="false")
    assert [d["id"] for d in flat["department"]] == [d.dept_id for d in company.children(1)]
    detail = await ding.old_get("/department/get", id=ROOT_DEPT_ID)
    assert detail["name"] == company.corp_name and "parentid" not in detail


async def _all_members(ding: Ding, dept_id: int, size: int, form: bool = False) -> list[dict]:
    tok = await ding.token()
    cursor: int | None = 0
    out: list[dict] = []
    while cursor is not None:
        body: dict[str, Any] = {"dept_id": dept_id, "cursor": cursor, "size": size}
        if form:
            body = {k: str(v) for k, v in body.items()}
        page = (await ding.ok("/topapi/v2/user/list", body, form=form, token=tok))["result"]
        out.extend(page["list"])
        if page["has_more"]:
            cursor = page["next_cursor"]
        else:
            assert "next_cursor" not in page
            cursor = None
    return out


async def test_user_list_pages_every_member(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    biggest = max(company.departments, key=lambda d: len(sb.state.index.members[d]))
    truth = company.members(biggest)
    assert len(truth) > 7
    got = await _all_members(ding, biggest, size=3)
    assert [u["userid"] for u in got] == [u.userid for u in truth]
    for item, user in zip(got, truth, strict=True):
        m = user.membership(biggest)
        assert m is not None
        assert item["dept_order"] == m.order and item["leader"] is m.leader
        assert item["dept_id_list"] == user.dept_id_list
        assert item["active"] is user.active
        assert ("email" in item) == (user.email is not None)
    # the same with a form body and every scalar as a string
    form = await _all_members(ding, biggest, size=100, form=True)
    assert form == got


async def test_a_multi_department_person_is_listed_in_each(ding: Ding, sb: SandboxServer) -> None:
    three = next(u for u in sb.company.users.values() if len(u.memberships) == 3)
    for m in three.memberships:
        members = await _all_members(ding, m.dept_id, size=100)
        item = next(x for x in members if x["userid"] == three.userid)
        assert item["dept_order"] == m.order and item["leader"] is m.leader


async def test_page_size_caps(ding: Ding, sb: SandboxServer) -> None:
    over = await ding.top("/topapi/v2/user/list", {"dept_id": 1, "cursor": 0, "size": 101})
    assert over["errcode"] == 40035  # EB-14
    zero = await ding.top("/topapi/v2/user/list", {"dept_id": 1, "cursor": 0, "size": 0})
    assert zero["errcode"] == 40035
    missing = await ding.top("/topapi/v2/user/list", {"dept_id": 1, "size": 10})
    assert missing["errcode"] == 40035
    simple = await ding.top("/topapi/user/listsimple", {"dept_id": 1, "cursor": 0, "size": 101})
    assert simple["errcode"] == 40069
    bad_cursor = await ding.top("/topapi/user/listsimple", {"dept_id": 1, "cursor": -1, "size": 5})
    assert bad_cursor["errcode"] == 40068
    for beyond in (100_001, 200_000):  # cursor's range is 0..100000 (auth-contacts.md §6.1/6.2)
        far = await ding.top("/topapi/user/listsimple", {"dept_id": 1, "cursor": beyond, "size": 5})
        assert far["errcode"] == 40068, far
    edge = await ding.ok("/topapi/user/listsimple", {"dept_id": 1, "cursor": 100_000, "size": 5})
    assert edge["result"] == {"has_more": False, "list": []}
    ok = await ding.ok(
        "/topapi/user/listsimple", {"dept_id": 1, "cursor": "0", "size": "100"}, form=True
    )
    assert ok["result"]["has_more"] is False and "next_cursor" not in ok["result"]
    assert set(ok["result"]["list"][0]) == {"userid", "name"}


async def test_user_get_matches_the_truth(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    tok = await ding.token()
    for user in list(company.users.values())[:40]:
        got = (await ding.ok("/topapi/v2/user/get", {"userid": user.userid}, token=tok))["result"]
        assert list(got) == sorted(got)
        assert got["userid"] == user.userid and got["name"] == user.name
        assert got["dept_id_list"] == user.dept_id_list
        assert got["dept_order_list"] == user.dept_order_list
        assert got["leader_in_dept"] == user.leader_in_dept
        for key in ("email", "manager_userid", "hired_date", "extension", "title", "telephone"):
            assert got.get(key) == getattr(user, key)
            assert (key in got) == (getattr(user, key) is not None)
        for key in (
            "active",
            "admin",
            "boss",
            "senior",
            "real_authed",
            "hide_mobile",
            "avatar",
            "mobile",
            "unionid",
            "state_code",
        ):
            assert got[key] == getattr(user, key)
    leaver = next(iter(company.leavers))
    for userid in (leaver, "nobody-here"):
        body = await ding.top("/topapi/v2/user/get", {"userid": userid}, token=tok)
        assert body["errcode"] == 60121 and "sub_code" not in body
    too_long = await ding.top("/topapi/v2/user/get", {"userid": "x" * 65}, token=tok)
    assert too_long["errcode"] == 400002


async def test_old_user_get_shape(ding: Ding, sb: SandboxServer) -> None:
    user = next(u for u in sb.company.users.values() if len(u.memberships) > 1)
    body = await ding.old_get("/user/get", userid=user.userid)
    assert "request_id" not in body and "result" not in body
    assert body["department"] == user.dept_id_list
    expected = "{" + ",".join(f"{m.dept_id}:{m.order}" for m in user.memberships) + "}"
    assert body["orderInDepts"] == expected
    leaders = ",".join(f"{m.dept_id}:{'true' if m.leader else 'false'}" for m in user.memberships)
    assert body["isLeaderInDepts"] == "{" + leaders + "}"
    assert body["isAdmin"] is user.admin and body["position"] == (user.title or "")


async def test_ids_counts_admins_and_lookups(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    tok = await ding.token()
    dept = max(company.departments, key=lambda d: len(sb.state.index.members[d]))
    ids = await ding.ok("/topapi/user/listid", {"dept_id": dept}, token=tok)
    assert ids["result"]["userid_list"] == [u.userid for u in company.members(dept)]

    counts = company.truth_counts()
    active = await ding.ok("/topapi/user/count", {"only_active": "true"}, form=True, token=tok)
    assert active["result"]["count"] == counts["active_users"]
    every = await ding.ok("/topapi/user/count", {"only_active": False}, token=tok)
    assert every["result"]["count"] == counts["users"]
    assert (await ding.top("/topapi/user/count", {}, token=tok))["errcode"] == 400002

    admins = await ding.ok("/topapi/user/listadmin", token=tok)
    assert {a["userid"]: a["sys_level"] for a in admins["result"]} == company.admins
    for userid in company.admins:
        scope = await ding.ok("/topapi/user/get_admin_scope", {"userid": userid}, token=tok)
        assert scope["dept_ids"] == company.admin_scopes[userid] and "result" not in scope
    assert (await ding.top("/topapi/user/get_admin_scope", {}, token=tok))["errcode"] == 40036

    user = next(iter(company.users.values()))
    by_mobile = await ding.ok("/topapi/v2/user/getbymobile", {"mobile": user.mobile}, token=tok)
    assert by_mobile["result"]["userid"] == user.userid
    by_union = await ding.ok("/topapi/user/getbyunionid", {"unionid": user.unionid}, token=tok)
    assert by_union["result"] == {"contact_type": 0, "userid": user.userid}
    stranger = await ding.top("/topapi/user/getbyunionid", {"unionid": "nope"}, token=tok)
    assert stranger["errcode"] == 60121


async def test_unknown_paths_and_methods(ding: Ding) -> None:
    body = await ding.top("/topapi/v2/user/notexist", {})
    assert body["errcode"] == 22
    assert body["sub_msg"] == "不合法ApiName，ApiName = dingtalk.oapi.v2.user.notexist"
    assert body["errmsg"] == f"Invalid method[submsg={body['sub_msg']}]"
    assert body["request_id"]
    r = await ding.v1("GET", "/v1.0/contact/nothing")
    assert r.status_code == 404 and r.json()["code"] == "InvalidAction.NotFound"
    tok = await ding.token()
    get = await ding.http.get("/topapi/v2/user/get", params={"access_token": tok, "userid": "x"})
    assert get.json()["errcode"] == 43002


async def test_bad_json_and_bad_types(ding: Ding) -> None:
    tok = await ding.token()
    r = await ding.http.post(
        "/topapi/v2/department/get",
        params={"access_token": tok},
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.json()["errcode"] == 40035
    wrong = await ding.top("/topapi/v2/department/get", {"dept_id": "abc"}, token=tok)
    assert wrong["errcode"] == 400002
    as_text = await ding.ok("/topapi/v2/department/get", {"dept_id": "1"}, token=tok)
    assert as_text["result"]["dept_id"] == 1


async def test_auth_scopes_and_a_limited_contacts_scope(ding: Ding, sb: SandboxServer) -> None:
    """``GET /auth/scopes`` names the whole company by default; with ``contacts_scope_*`` the
    root and every department outside answer 50004, ``listsubid`` is not limited, people
    outside answer 50002 unless authorised one by one."""
    whole = await ding.old_get("/auth/scopes")
    assert whole["errcode"] == 0
    assert whole["auth_org_scopes"] == {"authed_dept": [ROOT_DEPT_ID], "authed_user": []}
    company, index = sb.company, sb.state.index
    top = index.children[ROOT_DEPT_ID][0]
    inside = {top, *index.descendants(top)}
    member = next(u for u in company.users.values() if u.memberships[0].dept_id in inside)
    outsider = next(
        u for u in company.users.values() if not any(m.dept_id in inside for m in u.memberships)
    )
    other = next(
        u
        for u in company.users.values()
        if u not in (member, outsider) and not any(m.dept_id in inside for m in u.memberships)
    )
    sb.configure(contacts_scope_dept_ids=[top], contacts_scope_userids=[outsider.userid])
    scopes = await ding.old_get("/auth/scopes")
    assert scopes["auth_org_scopes"] == {"authed_dept": [top], "authed_user": [outsider.userid]}
    tok = await ding.token()
    for path in ("/topapi/v2/department/get", "/topapi/v2/department/listsub"):
        root = await ding.top(path, {"dept_id": ROOT_DEPT_ID}, token=tok)
        assert root["errcode"] == 50004, (path, root)
    await ding.ok("/topapi/v2/department/listsubid", {"dept_id": ROOT_DEPT_ID}, token=tok)
    deepest = max(inside, key=company.depth)
    await ding.ok("/topapi/v2/department/get", {"dept_id": deepest}, token=tok)
    page = await ding.ok(
        "/topapi/v2/user/list", {"dept_id": top, "cursor": 0, "size": 10}, token=tok
    )
    assert page["result"]["list"] or not index.members[top]
    for user, code in ((member, 0), (outsider, 0), (other, 50002)):
        got = await ding.top("/topapi/v2/user/get", {"userid": user.userid}, token=tok)
        assert got["errcode"] == code, (user.userid, got)


async def test_odd_departments_answer_their_errcode(ding: Ding, sb: SandboxServer) -> None:
    """``odd_departments``: -1 (家校通讯录) is listed by the root and answers 60003; a real
    department answers the errcode it is given, wherever it is asked about."""
    real = sb.state.index.children[ROOT_DEPT_ID][-1]
    sb.configure(odd_departments={-1: 60003, real: 50004})
    tok = await ding.token()
    kids = await ding.ok("/topapi/v2/department/listsubid", {"dept_id": ROOT_DEPT_ID}, token=tok)
    assert -1 in kids["result"]["dept_id_list"] and real in kids["result"]["dept_id_list"]
    gone = await ding.top("/topapi/v2/department/get", {"dept_id": -1}, token=tok)
    assert gone["errcode"] == 60003
    hidden = await ding.top("/topapi/v2/department/get", {"dept_id": real}, token=tok)
    assert hidden["errcode"] == 50004
    members = await ding.top(
        "/topapi/v2/user/list", {"dept_id": real, "cursor": 0, "size": 10}, token=tok
    )
    assert members["errcode"] == 50004
