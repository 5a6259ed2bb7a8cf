"""Directory API and audited exports, filtered by the rules, over loopback HTTP."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import openpyxl

from dingsync.export.contacts import USER_COLUMNS
from dingsync.sandbox.company import Company
from helpers.web import _error, _plain_user

from .conftest import Web


def _subtree(company: Company, roots: list[int]) -> set[int]:
    out: set[int] = set()
    stack = list(roots)
    while stack:
        d = stack.pop()
        if d not in out:
            out.add(d)
            stack.extend(c.dept_id for c in company.children(d))
    return out


def test_departments_tree_and_users(web: Web) -> None:
    company = web.sb.company
    token = web.token(_plain_user(company, 11))
    tree = web.get("/api/departments", token).json()
    assert tree["count"] == len(company.departments)
    seen: list[int] = []

    def walk(node: dict[str, Any]) -> None:
        dept_id = int(node["dept_id"])
        seen.append(dept_id)
        kids = node["children"]
        by_order = sorted(company.children(dept_id), key=lambda c: (c.order, c.dept_id))
        expected = [c.dept_id for c in by_order]
        assert [k["dept_id"] for k in kids] == expected
        for kid in kids:
            walk(kid)

    walk(tree["tree"])
    assert sorted(seen) == sorted(company.departments)
    top = tree["tree"]["children"][0]["dept_id"]
    shallow = web.get("/api/departments", token, params={"root": top, "depth": 0}).json()
    assert shallow["tree"]["dept_id"] == top and shallow["tree"]["children"] == []
    assert _error(web.get("/api/departments", token, params={"root": 999999})) == (404, "not_found")

    # ``counts``: DingTalk's member_count (the subtree, each person once — some people are in
    # two departments) and owning_member_count (direct members), against the sandbox's truth.
    counted = web.get("/api/departments", token, params={"counts": "true"}).json()["tree"]
    nodes: list[dict[str, Any]] = []
    stack = [counted]
    while stack:
        nodes.append(stack.pop())
        stack.extend(nodes[-1]["children"])
    assert len(nodes) == len(company.departments)
    for node in nodes:
        dept_id = int(node["dept_id"])
        below = _subtree(company, [dept_id])
        people = company.users.values()
        subtree = {u.userid for u in people if set(u.dept_id_list) & below}
        direct = [u.userid for u in people if dept_id in u.dept_id_list]
        assert (node["member_count"], node["owning_member_count"]) == (
            len(subtree),
            len(direct),
        ), dept_id
    assert counted["member_count"] == len(company.users)
    multi = [u for u in company.users.values() if len(u.dept_id_list) > 1]
    assert multi, "the sandbox company has people in two departments"
    assert sum(n["owning_member_count"] for n in nodes) > len(company.users)

    active = sorted(company.users)
    page = web.get("/api/users", token, params={"limit": 40}).json()
    assert page["total"] == len(active)
    assert [u["userid"] for u in page["items"]] == active[:40]
    rest = web.get("/api/users", token, params={"limit": 500, "offset": 40}).json()
    assert [u["userid"] for u in rest["items"]] == active[40:]

    members = web.get("/api/users", token, params={"dept_id": top, "recursive": True}).json()
    depts = _subtree(company, [top])
    expected = sorted(u.userid for u in company.users.values() if set(u.dept_id_list) & depts)
    assert members["total"] == len(expected)

    # ``q`` (part of the name) reads a name typed with spaces around it as ``search`` does.
    name = company.users[active[0]].name
    named = sorted(u.userid for u in company.users.values() if name in u.name)
    for key in ("q", "search"):
        found = web.get("/api/users", token, params={key: f" {name} "}).json()
        assert active[0] in [u["userid"] for u in found["items"]], key
        assert found["total"] >= len(named), key
    blank = web.get("/api/users", token, params={"q": "  ", "limit": 1}).json()
    assert blank["total"] == len(active)

    one = web.get(f"/api/users/{active[0]}", token).json()
    assert one["name"] == company.users[active[0]].name
    assert sorted(d["dept_id"] for d in one["departments"]) == sorted(
        company.users[active[0]].dept_id_list
    )
    assert _error(web.get("/api/users/nobody-here", token)) == (404, "not_found")


def test_exports_are_filtered_audited_and_append_only(web: Web) -> None:
    company = web.sb.company
    admin = web.token(company.main_admin_userid)
    employee = web.token(_plain_user(company, 12))
    sub_admin_id = sorted(company.sub_admin_userids)[0]
    sub_admin = web.token(sub_admin_id)

    # An employee may not export the directory; nor read the audit.
    r = web.post("/api/exports", employee, json={"kind": "users", "format": "csv"})
    assert _error(r) == (403, "export.forbidden")
    assert _error(web.get("/api/exports/audit", employee)) == (403, "forbidden")
    assert _error(web.post("/api/exports", admin, json={"kind": "salaries"})) == (
        400,
        "export.kind_unknown",
    )
    kinds = web.get("/api/exports/kinds", employee).json()["kinds"]
    assert {k["kind"]: k["allowed"] for k in kinds}["users"] is False

    before = web.get("/api/exports/audit", admin).json()["total"]

    # A report template the company has not synced is a mistake (as on the CLI), not an empty
    # file: 422 naming the known templates, and nothing audited.
    r = web.post(
        "/api/exports",
        admin,
        json={"kind": "reports", "format": "xlsx", "filters": {"template": "不存在"}},
    )
    assert _error(r) == (422, "request.invalid")
    assert "不存在" in r.text and "known:" in r.text
    assert web.get("/api/exports/audit", admin).json()["total"] == before

    # The main administrator exports everyone (xlsx).
    r = web.post("/api/exports", admin, json={"kind": "users", "format": "xlsx"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sha = hashlib.sha256(r.content).hexdigest()
    assert r.headers["x-export-sha256"] == sha
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    active = sorted(company.users)
    # Chinese headers as the other exports and the console's 通讯录, the same in csv and xlsx.
    assert sheet.title == "通讯录" and rows[0] == USER_COLUMNS
    assert rows[0][:5] == ("UserID", "姓名", "职位", "工号", "部门")
    assert {row[USER_COLUMNS.index("状态")] for row in rows[1:]} == {"在职"}
    assert [row[0] for row in rows[1:]] == active
    assert int(r.headers["x-export-rows"]) == len(active)

    # A sub-administrator exports only the people inside their scope (csv).
    r = web.post("/api/exports", sub_admin, json={"kind": "users", "format": "csv"})
    assert r.status_code == 200, r.text
    scope = _subtree(company, company.admin_scopes[sub_admin_id])
    expected = sorted(u.userid for u in company.users.values() if set(u.dept_id_list) & scope)
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert tuple(lines[0]) == USER_COLUMNS
    assert [line[0] for line in lines[1:]] == expected
    assert 0 < len(expected) < len(active)
    sub_sha = hashlib.sha256(r.content).hexdigest()

    audit = web.get("/api/exports/audit", admin).json()
    assert audit["total"] == before + 2
    newest, older = audit["items"][0], audit["items"][1]
    assert (newest["userid"], newest["kind"], newest["format"]) == (sub_admin_id, "users", "csv")
    assert newest["row_count"] == len(expected) and newest["sha256"] == sub_sha
    assert newest["filters"] == {
        "requested": {},
        "applied": {"recursive": True, "include_inactive": False},
        "scope": ["departments"],
    }
    assert (older["userid"], older["sha256"], older["row_count"]) == (
        company.main_admin_userid,
        sha,
        len(active),
    )
    # No API path changes or deletes audit rows.
    for method in ("PUT", "PATCH", "DELETE"):
        r = web.http.request(
            method, "/api/exports/audit", headers={"Authorization": f"Bearer {admin}"}
        )
        assert r.status_code == 405
    bad = web.post("/api/exports", admin, json={"kind": "users", "filters": {"dept_id": "x"}})
    assert _error(bad) == (422, "request.invalid")


def test_local_roles_grant_more(web: Web) -> None:
    company = web.sb.company
    admin = web.token(company.main_admin_userid)
    userid = _plain_user(company, 13)
    token = web.token(userid)
    assert web.get("/api/me", token).json()["permissions"]["directory"]["export"] == "none"
    assert web.http.put(
        f"/api/admin/roles/{userid}/hr", headers={"Authorization": f"Bearer {admin}"}
    ).json() == {"userid": userid, "role": "hr", "granted": True}
    me = web.get("/api/me", token).json()
    assert "hr" in me["roles"]
    assert me["permissions"]["attendance"]["export"] == "all"
    r = web.post("/api/exports", token, json={"kind": "users", "format": "csv"})
    assert r.status_code == 200
    bad = web.http.put(
        f"/api/admin/roles/{userid}/root", headers={"Authorization": f"Bearer {admin}"}
    )
    assert _error(bad) == (400, "role.unknown")
    grants = web.get("/api/admin/roles", admin).json()["grants"]
    assert any(g["userid"] == userid and g["role"] == "hr" for g in grants)
    web.http.delete(f"/api/admin/roles/{userid}/hr", headers={"Authorization": f"Bearer {admin}"})
    assert "hr" not in web.get("/api/me", token).json()["roles"]

    # A userid disabled in advance (not synced yet) is not a user to grant a role to: the stub
    # row the disable leaves is refused as the CLI's `roles grant` refuses it; the disable
    # itself can still be lifted.
    auth = {"Authorization": f"Bearer {admin}"}
    ahead = web.http.post("/api/admin/users/not-synced-yet/disable", headers=auth)
    assert ahead.status_code == 200 and ahead.json()["known"] is False
    stub = web.http.put("/api/admin/roles/not-synced-yet/hr", headers=auth)
    assert _error(stub) == (404, "not_found")
    grants = web.get("/api/admin/roles", admin).json()["grants"]
    assert not any(g["userid"] == "not-synced-yet" for g in grants)
    lifted = web.http.post("/api/admin/users/not-synced-yet/enable", headers=auth)
    assert lifted.status_code == 200 and lifted.json()["disabled"] is False


def test_openapi_docs_are_served(web: Web) -> None:
    assert web.http.get("/docs").status_code == 200
    spec = web.http.get("/openapi.json").json()
    for path in (
        "/api/auth/dingtalk",
        "/api/auth/logout",
        "/api/jsapi/config",
        "/api/me",
        "/api/departments",
        "/api/users",
        "/api/reports",
        "/api/attendance/results",
        "/api/attendance/summary",
        "/api/approvals",
        "/api/exports",
        "/api/exports/audit",
    ):
        assert path in spec["paths"], path
    assert not any(m in spec["paths"]["/api/exports/audit"] for m in ("put", "patch", "delete"))
