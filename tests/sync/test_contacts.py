"""Directory sync over real loopback HTTP against the sandbox, into SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import repo
from dingsync.store.schema import sync_runs, user_departments, users
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from helpers.contacts import assert_db_equals_company, full_sync, make_client

USERS = 240


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=7, users=USERS, qps_limit=None)) as sb:
        yield sb


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


async def test_resync_writes_only_changed_people_and_picks_up_one_changed_field(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    await full_sync(sandbox, engine)
    with engine.connect() as conn:
        before = {
            r.userid: r for r in conn.execute(select(users).where(users.c.corp_id == corp_id))
        }
    changed = sorted(sandbox.company.users)[3]
    person = sandbox.company.users[changed]
    old_title, old_remark = person.title, person.remark
    person.title, person.remark = "首席测试官", "备注 changed"
    sandbox.state.reindex()
    try:
        second = await full_sync(sandbox, engine)
        with engine.connect() as conn:
            after = {
                r.userid: r for r in conn.execute(select(users).where(users.c.corp_id == corp_id))
            }
        assert_db_equals_company(engine, corp_id, sandbox.company)
    finally:
        person.title, person.remark = old_title, old_remark
        sandbox.state.reindex()
    assert second.status == "succeeded"
    assert after[changed].title == "首席测试官" and after[changed].remark == "备注 changed"
    assert after[changed].raw["title"] == "首席测试官"
    assert after[changed].content_hash != before[changed].content_hash
    for userid, row in after.items():
        if userid == changed or userid not in sandbox.company.users:
            continue
        # unchanged: same content and digest, only stamped as seen by the new run
        assert row.content_hash == before[userid].content_hash is not None, userid
        assert row.last_seen_run_id == second.run_id, userid
        assert row.status == "active"


async def test_a_person_marked_inactive_is_active_again_when_listed_unchanged(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    await full_sync(sandbox, engine)
    userid = sorted(sandbox.company.users)[5]
    with engine.begin() as conn:
        # what a walk that missed the person does (the digest is cleared with the status)
        conn.execute(
            users.update()
            .where(users.c.corp_id == corp_id, users.c.userid == userid)
            .values(last_seen_run_id=0)
        )
        repo.mark_unseen(conn, corp_id, run_id=-1)
        assert repo_user(conn, corp_id, userid)["status"] == "inactive"
    await full_sync(sandbox, engine)
    with engine.connect() as conn:
        row = repo_user(conn, corp_id, userid)
    assert row["status"] == "active" and row["content_hash"] is not None
    assert_db_equals_company(engine, corp_id, sandbox.company)


def repo_user(conn: Any, corp_id: str, userid: str) -> dict[str, Any]:
    row = conn.execute(
        select(users).where(users.c.corp_id == corp_id, users.c.userid == userid)
    ).mappings()
    return dict(row.one())
