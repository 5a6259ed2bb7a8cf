"""Directory sync over real loopback HTTP against the sandbox, into SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from dingsync.dingtalk import DingTalkClient
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sandbox.company import Company
from dingsync.store import repo, repo_roles
from dingsync.store.schema import from_ms, sync_runs, user_departments, users
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync

USERS = 240


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=7, users=USERS, qps_limit=None)) as sb:
        yield sb


def make_client(sb: SandboxServer, **kw: Any) -> DingTalkClient:
    kw.setdefault("qps_per_api", None)
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_max", 0.05)
    kw.setdefault("rate_limit_pause", 0.0)
    return DingTalkClient(
        sb.app.app_key,
        sb.app.app_secret,
        corp_id=sb.app.corp_id,
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        **kw,
    )


async def full_sync(sb: SandboxServer, engine: Engine, **client_kw: Any) -> Any:
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


async def test_full_sync_equals_the_sandbox_company(sandbox: SandboxServer, engine: Engine) -> None:
    result = await full_sync(sandbox, engine)
    assert result.status == "succeeded"
    assert_db_equals_company(engine, sandbox.app.corp_id, sandbox.company)
    with engine.connect() as conn:
        summary = repo.count_summary(conn, sandbox.app.corp_id)
    truth = sandbox.stats()
    for key in (
        "departments",
        "multi_department_users",
        "memberships",
        "admins",
        "leavers",
        "roles",
        "role_members",
    ):
        assert summary[key] == truth[key], key
    # one call per department for detail and children; no page fetched twice
    n = len(sandbox.company.departments)
    assert result.api_calls["/topapi/v2/department/get"] == n
    assert result.api_calls["/topapi/v2/department/listsubid"] == n
    # roles: one page of groups (≤ 200), one page of members per role (≤ 100 each here)
    assert result.api_calls["/topapi/role/list"] == 1
    assert result.api_calls["/topapi/role/simplelist"] == truth["roles"]


async def test_resync_is_idempotent(sandbox: SandboxServer, engine: Engine) -> None:
    await full_sync(sandbox, engine)
    with engine.connect() as conn:
        first = repo.count_summary(conn, sandbox.app.corp_id)
    second = await full_sync(sandbox, engine)
    assert second.status == "succeeded" and not second.resumed
    with engine.connect() as conn:
        assert repo.count_summary(conn, sandbox.app.corp_id) == first
        assert conn.execute(select(func.count()).select_from(sync_runs)).scalar_one() == 2
    assert_db_equals_company(engine, sandbox.app.corp_id, sandbox.company)


async def test_person_in_three_departments_is_one_row_with_three_memberships(
    sandbox: SandboxServer, engine: Engine
) -> None:
    three = [u for u in sandbox.company.users.values() if len(u.memberships) == 3]
    assert three, "the generated company must have someone in 3 departments"
    await full_sync(sandbox, engine)
    userid = three[0].userid
    with engine.connect() as conn:
        n_rows = conn.execute(
            select(func.count()).select_from(users).where(users.c.userid == userid)
        ).scalar_one()
        depts = conn.execute(
            select(user_departments.c.dept_id).where(user_departments.c.userid == userid)
        ).scalars()
        assert n_rows == 1
        assert sorted(depts) == sorted(m.dept_id for m in three[0].memberships)


async def test_tree_is_right_when_children_are_listed_before_parents(
    sandbox: SandboxServer, engine: Engine
) -> None:
    company = sandbox.company
    # The sandbox numbers some children below their parents; the stored tree must not care.
    assert any(
        d.parent_id is not None and d.parent_id != 1 and d.dept_id < d.parent_id
        for d in company.departments.values()
    ), "the company should contain a child whose id sorts before its parent's"
    await full_sync(sandbox, engine)
    with engine.connect() as conn:
        d = repo.load_directory(conn, sandbox.app.corp_id)["departments"]
    for dept_id, dep in company.departments.items():
        assert d[dept_id]["parent_id"] == dep.parent_id
        # walking up from any department reaches the root
        seen, cur = set(), dept_id
        while cur != 1:
            assert cur not in seen
            seen.add(cur)
            cur = d[cur]["parent_id"]


async def test_sync_survives_30_percent_rate_limit_replies(engine: Engine) -> None:
    with SandboxServer(SandboxConfig(seed=11, users=150, qps_limit=None)) as sb:
        sb.configure(fault_rate_limit=0.3)
        result = await full_sync(sb, engine, max_retries=30)
        stats = sb.stats()
        assert result.status == "succeeded"
        assert (
            sum(stats.get("faults", {}).values()) > 0
            or sum(stats.get("rate_limited", {}).values()) > 0
        ), "the knob must have injected rate-limit replies"
        sb.configure(fault_rate_limit=0.0)
        assert_db_equals_company(engine, sb.app.corp_id, sb.company)


class _CancelAfter:
    """Progress sink that cancels the sync task once ``n`` departments are committed."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0
        self.task: asyncio.Task[Any] | None = None

    def add_total(self, entity: str, n: int) -> None:
        return None

    def advance(self, entity: str, n: int = 1) -> None:
        if entity == "departments":
            self.seen += n
            if self.seen >= self.n and self.task is not None:
                self.task.cancel()


async def test_killed_sync_resumes_without_duplicates_or_gaps(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    stopper = _CancelAfter(10)
    async with make_client(sandbox) as client:
        task = asyncio.create_task(
            run_sync(client, engine, corp_id, [ContactsSync()], progress=stopper)
        )
        stopper.task = task
        with pytest.raises(asyncio.CancelledError):
            await task
    with engine.connect() as conn:
        run = repo.last_sync_run(conn, corp_id)
        assert run is not None and run["status"] == "interrupted"
        done = repo.load_checkpoints(conn, run["id"], "departments")
    assert 1 <= len(done) < len(sandbox.company.departments)

    resumed = await full_sync(sandbox, engine)
    assert resumed.resumed and resumed.run_id == run["id"]
    assert resumed.status == "succeeded"
    # departments committed before the kill were not fetched again
    assert resumed.api_calls["/topapi/v2/department/get"] == len(sandbox.company.departments) - len(
        done
    )
    assert_db_equals_company(engine, corp_id, sandbox.company)


async def test_vanished_users_and_departments_are_marked_not_deleted(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    await full_sync(sandbox, engine)
    ghost_user = {
        "corp_id": corp_id,
        "userid": "ghost-user",
        "name": "旧员工",
        "status": "active",
        "last_seen_run_id": 0,
        "raw": {},
    }
    ghost_dept = {
        "corp_id": corp_id,
        "dept_id": 999999999,
        "parent_id": 1,
        "name": "已撤销部门",
        "status": "active",
        "last_seen_run_id": 0,
        "dept_manager_userid_list": [],
        "raw": {},
    }
    with engine.begin() as conn:
        repo.upsert_users(conn, corp_id, [ghost_user])
        repo.upsert_departments(conn, corp_id, [ghost_dept])
    result = await full_sync(sandbox, engine)
    assert result.counts.get("marked_users", 0) + result.counts.get("marked_departments", 0) >= 2
    with engine.connect() as conn:
        d = repo.load_directory(conn, corp_id)
    assert d["users"]["ghost-user"]["status"] == "inactive"
    assert d["departments"][999999999]["status"] == "removed"


async def test_a_failed_sync_is_resumed_by_the_next_run(engine: Engine) -> None:
    """A page that fails after the client's retries fails the run; the next run resumes it."""
    with SandboxServer(SandboxConfig(seed=13, users=150, qps_limit=None)) as sb:
        sb.configure(fault_5xx=0.3)
        with pytest.raises(Exception) as info:
            await full_sync(sb, engine, max_retries=0)
        assert "ExceptionGroup" not in type(info.value).__name__  # the real error surfaces
        with engine.connect() as conn:
            failed = repo.last_sync_run(conn, sb.app.corp_id)
        assert failed is not None and failed["status"] == "failed"
        assert "ServerError" in (failed["error"] or "")

        sb.configure(fault_5xx=0.0)
        result = await full_sync(sb, engine)
        assert result.resumed and result.run_id == failed["id"]
        assert result.status == "succeeded"
        assert_db_equals_company(engine, sb.app.corp_id, sb.company)
