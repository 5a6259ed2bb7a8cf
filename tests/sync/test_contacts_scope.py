"""Directory sync when DingTalk will not give some departments: odd departments (60003 gone,
e.g. the special -1 of 家校通讯录; 50004 outside the contacts scope) are skipped and counted, and a
limited contacts scope (the root answers 50004) starts from ``/auth/scopes`` — over loopback
HTTP against the sandbox, into SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from dingsync.sandbox import SandboxServer
from dingsync.store.schema import departments, user_departments, users
from helpers.contacts import full_sync
from helpers.sandboxes import SandboxSpec

SANDBOX = SandboxSpec(seed=23, users=90, private=True)
ROOT = 1


@pytest.fixture(autouse=True)
def _knobs_reset(sandbox: SandboxServer) -> Iterator[None]:
    yield
    sandbox.configure(odd_departments={}, contacts_scope_dept_ids=None, contacts_scope_userids=[])


def _subtree(sb: SandboxServer, dept_id: int) -> set[int]:
    return {dept_id, *sb.state.index.descendants(dept_id)}


def _members(sb: SandboxServer, depts: set[int]) -> set[str]:
    return {
        u.userid
        for u in sb.company.users.values()
        if any(m.dept_id in depts for m in u.memberships)
    }


def _top_departments(sb: SandboxServer) -> list[int]:
    """Departments right below the root, largest subtree first."""
    tops = list(sb.state.index.children[ROOT])
    return sorted(tops, key=lambda d: -len(_subtree(sb, d)))


def _stored(engine: Engine, corp_id: str) -> tuple[set[int], set[str], set[int]]:
    with engine.connect() as conn:
        depts = set(
            conn.execute(
                select(departments.c.dept_id).where(
                    departments.c.corp_id == corp_id, departments.c.status == "active"
                )
            ).scalars()
        )
        people = set(
            conn.execute(
                select(users.c.userid).where(users.c.corp_id == corp_id, users.c.status == "active")
            ).scalars()
        )
        member_depts = set(
            conn.execute(
                select(user_departments.c.dept_id).where(user_departments.c.corp_id == corp_id)
            ).scalars()
        )
    return depts, people, member_depts


async def test_odd_departments_are_skipped_and_the_rest_syncs(
    sandbox: SandboxServer, engine: Engine
) -> None:
    """-1 (listed by the root, answers 60003) and a real sub-department answering 50004: the
    run succeeds, skips both with a count, and stores everything else."""
    out_of_scope = _top_departments(sandbox)[0]
    sandbox.configure(odd_departments={-1: 60003, out_of_scope: 50004})
    result = await full_sync(sandbox, engine)
    assert result.status == "succeeded", result.error
    assert result.counts["departments_skipped"] == 2
    hidden = _subtree(sandbox, out_of_scope)
    expected = set(sandbox.company.departments) - hidden
    depts, people, member_depts = _stored(engine, sandbox.app.corp_id)
    assert depts == expected
    assert member_depts <= expected
    assert people == _members(sandbox, expected)
    assert people  # the directory was not sunk
    assert -1 not in depts and out_of_scope not in depts
    with engine.connect() as conn:  # the run's summary, as `dingsync sync` shows it
        from dingsync.store.schema import sync_runs

        stored = conn.execute(select(sync_runs.c.counts)).scalar_one()
    assert stored["departments_skipped"] == 2


async def test_limited_contacts_scope_starts_from_auth_scopes(
    sandbox: SandboxServer, engine: Engine
) -> None:
    """The root answers 50004: the authorised departments (with everything below them) and the
    people authorised one by one are synced; nothing else is."""
    first, second = _top_departments(sandbox)[:2]
    scoped = _subtree(sandbox, first) | _subtree(sandbox, second)
    outsider = next(
        u.userid
        for u in sandbox.company.users.values()
        if u.memberships and not any(m.dept_id in scoped for m in u.memberships)
    )
    sandbox.configure(contacts_scope_dept_ids=[first, second], contacts_scope_userids=[outsider])
    result = await full_sync(sandbox, engine)
    assert result.status == "succeeded", result.error
    assert result.counts["departments_skipped"] == 1  # the root
    assert result.counts["scoped_users"] == 1
    assert result.api_calls["/auth/scopes"] == 1
    depts, people, member_depts = _stored(engine, sandbox.app.corp_id)
    assert depts == scoped
    assert member_depts <= scoped
    assert people == _members(sandbox, scoped) | {outsider}


async def test_two_userids_with_one_unionid_are_one_person_and_reported(
    sandbox: SandboxServer, engine: Engine
) -> None:
    """DingTalk hands two userids one unionid: the run stores it on one row, marks the other
    (``unionid_conflict``) and reports the conflict in the run's counts (``sync_runs``)."""
    from dingsync.store.schema import sync_runs

    first, second = sorted(sandbox.company.users.values(), key=lambda u: u.userid)[:2]
    kept = second.unionid
    second.unionid = first.unionid
    sandbox.state.reindex()
    try:
        result = await full_sync(sandbox, engine)
    finally:
        second.unionid = kept
        sandbox.state.reindex()
    assert result.status == "succeeded", result.error
    assert result.counts["unionid_conflicts"] == 1
    with engine.connect() as conn:
        rows = {
            r.userid: (r.unionid, r.unionid_conflict)
            for r in conn.execute(
                select(users.c.userid, users.c.unionid, users.c.unionid_conflict).where(
                    users.c.userid.in_([first.userid, second.userid])
                )
            )
        }
        counts = conn.execute(select(sync_runs.c.counts)).scalar_one()
    assert sorted(rows.values(), key=str) == sorted(
        [(first.unionid, None), (None, first.unionid)], key=str
    )
    assert counts["unionid_conflicts"] == 1
