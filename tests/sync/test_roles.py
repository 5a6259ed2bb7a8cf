"""Roles (角色) in the directory sync, over loopback HTTP against the sandbox, into SQLite and
PostgreSQL: stored roles and members equal the sandbox truth, a re-sync changes nothing, a role
or member removed in DingTalk disappears after the next run, and a missing permission is a
warning, not a failed sync."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import repo, repo_roles
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from helpers.contacts import assert_roles_equal_company, full_sync, make_client


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A sandbox of its own per test: these tests change its roles."""
    with SandboxServer(SandboxConfig(seed=17, users=160, qps_limit=None)) as sb:
        yield sb


def _mutate(sb: SandboxServer, action: str, body: dict[str, object]) -> dict[str, object]:
    r = httpx.post(f"{sb.base_url}/sandbox/mutate/roles/{action}", json=body, timeout=10)
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


def _summary(engine: Engine, corp_id: str) -> dict[str, int]:
    with engine.connect() as conn:
        return repo.count_summary(conn, corp_id)


async def test_roles_equal_the_truth_and_resync_is_idempotent(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    first = await full_sync(sandbox, engine)
    assert first.status == "succeeded"
    assert_roles_equal_company(engine, corp_id, sandbox.company)
    truth = sandbox.stats()
    summary = _summary(engine, corp_id)
    assert (summary["roles"], summary["role_members"]) == (truth["roles"], truth["role_members"])
    assert (first.counts["roles"], first.counts["role_members"]) == (
        truth["roles"],
        truth["role_members"],
    )
    with engine.connect() as conn:
        before = repo_roles.load_roles(conn, corp_id)

    second = await full_sync(sandbox, engine)
    assert second.status == "succeeded" and not second.resumed
    assert _summary(engine, corp_id) == summary
    with engine.connect() as conn:
        after = repo_roles.load_roles(conn, corp_id)
    strip = {"synced_at", "last_seen_run_id", "members"}

    def same(rows: dict[int, dict[str, Any]]) -> dict[int, Any]:
        return {
            k: (
                {c: v for c, v in r.items() if c not in strip},
                {
                    u: {c: v for c, v in m.items() if c not in strip}
                    for u, m in r["members"].items()
                },
            )
            for k, r in rows.items()
        }

    assert same(after) == same(before)
    assert_roles_equal_company(engine, corp_id, sandbox.company)


async def test_removed_role_and_member_disappear_after_resync(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    company = sandbox.company
    await full_sync(sandbox, engine)
    custom = [r for g in company.role_groups[1:] for r in g.roles if len(r.members) >= 2]
    shrinking, doomed = custom[0], custom[1]
    leaving = shrinking.members[0].userid
    doomed_id = doomed.role_id
    _mutate(sandbox, "remove_member", {"role_id": shrinking.role_id, "userid": leaving})
    _mutate(sandbox, "remove_role", {"role_id": doomed_id})
    newcomer = sorted(company.users)[-1]
    made = _mutate(
        sandbox,
        "add_role",
        {"group_name": "职务", "name": "法务", "members": [{"userid": newcomer}]},
    )

    result = await full_sync(sandbox, engine)
    assert result.status == "succeeded"
    assert_roles_equal_company(engine, corp_id, company)
    with engine.connect() as conn:
        stored = repo_roles.load_roles(conn, corp_id)
    assert leaving not in stored[shrinking.role_id]["members"]
    assert stored[doomed_id]["status"] == "removed" and stored[doomed_id]["members"] == {}
    assert list(stored[int(str(made["role_id"]))]["members"]) == [newcomer]
    summary = _summary(engine, corp_id)
    assert summary["roles"] == sandbox.stats()["roles"]
    assert summary["role_members"] == sandbox.stats()["role_members"]

    # a role that comes back under its id is active again
    again = _mutate(sandbox, "add_role", {"group_name": "岗位", "name": "临时"})
    await full_sync(sandbox, engine)
    _mutate(sandbox, "remove_role", {"role_id": again["role_id"]})
    await full_sync(sandbox, engine)
    assert_roles_equal_company(engine, corp_id, company)


async def test_roles_not_permitted_are_a_warning_not_a_failure(
    sandbox: SandboxServer, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    corp_id = sandbox.app.corp_id
    await full_sync(sandbox, engine)
    with engine.connect() as conn:
        stored = repo_roles.load_roles(conn, corp_id)
    _mutate(sandbox, "remove_role", {"role_id": sandbox.company.role_groups[1].roles[0].role_id})

    sandbox.configure(denied_permissions=["/topapi/role/list"])
    with caplog.at_level(logging.WARNING, logger="dingsync.sync.contacts"):
        result = await full_sync(sandbox, engine)
    assert result.status == "succeeded"
    assert "roles not read" in caplog.text
    assert result.api_calls.get("/topapi/role/simplelist", 0) == 0
    with engine.connect() as conn:
        kept = repo_roles.load_roles(conn, corp_id)
    # nothing known, nothing changed: the removed role is not marked from a refused list
    assert {k: v["status"] for k, v in kept.items()} == {k: v["status"] for k, v in stored.items()}
    assert _summary(engine, corp_id)["users"] == len(sandbox.company.users)

    caplog.clear()
    sandbox.configure(denied_permissions=["/topapi/role/simplelist"])
    with caplog.at_level(logging.WARNING, logger="dingsync.sync.contacts"):
        result = await full_sync(sandbox, engine)
    assert result.status == "succeeded"
    assert "role members not read" in caplog.text
    with engine.connect() as conn:
        partly = repo_roles.load_roles(conn, corp_id)
    for role_id, row in partly.items():
        if row["status"] == "active":  # members left as they were
            assert set(row["members"]) == set(stored[role_id]["members"])

    sandbox.configure(denied_permissions=[])
    await full_sync(sandbox, engine)
    assert_roles_equal_company(engine, corp_id, sandbox.company)


async def test_without_roles_no_role_api_is_called(sandbox: SandboxServer, engine: Engine) -> None:
    async with make_client(sandbox) as client:
        result = await run_sync(
            client, engine, sandbox.app.corp_id, [ContactsSync(include_roles=False)]
        )
    assert result.status == "succeeded"
    assert not any(p.startswith("/topapi/role/") for p in result.api_calls)
    assert _summary(engine, sandbox.app.corp_id)["roles"] == 0
