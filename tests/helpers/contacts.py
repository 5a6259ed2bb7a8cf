"""Helpers of the directory tests: a full contacts sync against a sandbox and the field-by-field
comparison of the stored directory (and roles) with the sandbox's company."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from dingsync.sandbox import SandboxServer
from dingsync.sandbox.company import Company
from dingsync.store import repo, repo_roles
from dingsync.store.schema import from_ms
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from helpers.sandboxes import make_client

__all__ = ["assert_db_equals_company", "assert_roles_equal_company", "full_sync", "make_client"]


async def full_sync(sb: SandboxServer, engine: Engine, **client_kw: Any) -> Any:
    """Contacts sync of ``sb`` into ``engine`` (a client with ``client_kw``); the run's result."""
    async with make_client(sb, **client_kw) as client:
        return await run_sync(client, engine, sb.app.corp_id, [ContactsSync()])


def _opt(value: Any) -> Any:
    """DingTalk omits unset optional fields; an omitted field and an empty string are the same."""
    return None if value in ("", None) else value


def assert_db_equals_company(engine: Engine, corp_id: str, company: Company) -> None:
    """Every department, user, membership, admin, scope and leaver, field by field."""
    with engine.connect() as conn:
        d = repo.load_directory(conn, corp_id)

    active_depts = {k: v for k, v in d["departments"].items() if v["status"] == "active"}
    assert set(active_depts) == set(company.departments)
    for dept_id, dep in company.departments.items():
        row = active_depts[dept_id]
        assert row["name"] == dep.name, dept_id
        assert row["parent_id"] == dep.parent_id, dept_id
        assert row["dept_order"] == dep.order, dept_id
        assert sorted(row["dept_manager_userid_list"]) == sorted(dep.dept_manager_userid_list)
        assert _opt(row["org_dept_owner"]) == _opt(dep.org_dept_owner)
        assert bool(row["hide_dept"]) == dep.hide_dept
        assert bool(row["outer_dept"]) == dep.outer_dept
        assert bool(row["create_dept_group"]) == dep.create_dept_group
        assert bool(row["auto_add_user"]) == dep.auto_add_user
        assert _opt(row["source_identifier"]) == _opt(dep.source_identifier)

    in_directory = {k: v for k, v in d["users"].items() if v["status"] == "active"}
    assert set(in_directory) == set(company.users)
    fields = (
        "unionid name avatar state_code mobile hide_mobile telephone job_number title email "
        "org_email work_place remark active admin boss exclusive_account extension"
    ).split()
    for userid, u in company.users.items():
        row = in_directory[userid]
        for f in fields:
            assert _opt(row[f]) == _opt(getattr(u, f)), (userid, f, row[f], getattr(u, f))
        assert row["hired_date"] == from_ms(u.hired_date), userid
        # /topapi/v2/user/list does not carry manager_userid, senior, real_authed: not stored
        expected = {
            m.dept_id: {"dept_order": m.order, "is_leader": m.leader} for m in u.memberships
        }
        assert d["memberships"].get(userid) == expected, userid

    assert {k: int(v["sys_level"]) for k, v in d["admins"].items()} == dict(company.admins)
    expected_scopes = {
        u: sorted(s) for u, s in company.admin_scopes.items() if company.admins.get(u) == 2
    }
    assert {u: sorted(s) for u, s in d["scopes"].items()} == expected_scopes

    assert set(d["leavers"]) == set(company.leavers)
    for userid in company.leavers:
        if userid in d["users"]:
            assert d["users"][userid]["status"] == "left"
    assert_roles_equal_company(engine, corp_id, company)


def assert_roles_equal_company(engine: Engine, corp_id: str, company: Company) -> None:
    """Every active role (name, group) and each one's members (name, manage scopes), field by
    field; roles DingTalk no longer lists are ``removed`` and have no members."""
    with engine.connect() as conn:
        stored = repo_roles.load_roles(conn, corp_id)
    active = {k: v for k, v in stored.items() if v["status"] == "active"}
    truth = {r["role_id"]: (g, r) for g in company.roles_truth() for r in g["roles"]}
    assert set(active) == set(truth)
    for role_id, (group, role) in truth.items():
        row = active[role_id]
        assert (row["name"], row["group_id"], row["group_name"]) == (
            role["name"],
            group["group_id"],
            group["name"],
        ), role_id
        members = {
            u: {"name": m["name"], "manage_scopes": m["manage_scopes"]}
            for u, m in row["members"].items()
        }
        assert members == {
            m["userid"]: {"name": m["name"], "manage_scopes": m["manage_scopes"]}
            for m in role["members"]
        }, role["name"]
    for role_id, row in stored.items():
        if role_id not in truth:
            assert row["status"] == "removed" and row["members"] == {}, role_id
