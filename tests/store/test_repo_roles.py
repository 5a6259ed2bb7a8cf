"""Role repositories on real SQLite and PostgreSQL: idempotent upserts, member replacement,
removed roles marked (rows kept) with their members deleted, and the summary counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from dingsync.store import repo, repo_roles

CORP = "ding_corp_roles"
OTHER = "ding_corp_other"


def role(role_id: int, name: str, group_id: int = 1, group_name: str = "默认") -> dict[str, Any]:
    return {
        "role_id": role_id,
        "name": name,
        "group_id": group_id,
        "group_name": group_name,
        "status": "active",
        "last_seen_run_id": 1,
        "raw": {"role": {"id": role_id, "name": name}, "group": {"groupId": group_id}},
    }


def member(userid: str, *scopes: tuple[int, str]) -> dict[str, Any]:
    return {
        "userid": userid,
        "name": f"名{userid}",
        "manage_scopes": [{"dept_id": d, "name": n} for d, n in scopes],
        "raw": {"userid": userid},
    }


def seed(engine: Engine, corp_id: str = CORP) -> None:
    with engine.begin() as conn:
        repo_roles.upsert_roles(
            conn,
            corp_id,
            [role(10, "主管"), role(20, "财务", 2, "职务"), role(30, "人事", 2, "职务")],
        )
        repo_roles.replace_role_members(
            conn, corp_id, 10, [member("a", (5, "研发部")), member("b")]
        )
        repo_roles.replace_role_members(conn, corp_id, 20, [member("a")])
        repo_roles.replace_role_members(
            conn, corp_id, 30, [member("c", (6, "人事部"), (7, "行政部"))]
        )


def test_upserts_are_idempotent_and_members_keep_their_scopes(engine: Engine) -> None:
    seed(engine)
    seed(engine)
    with engine.connect() as conn:
        stored = repo_roles.load_roles(conn, CORP)
        summary = repo.count_summary(conn, CORP)
    assert sorted(stored) == [10, 20, 30]
    assert (stored[20]["name"], stored[20]["group_id"], stored[20]["group_name"]) == (
        "财务",
        2,
        "职务",
    )
    assert stored[30]["members"]["c"]["manage_scopes"] == [
        {"dept_id": 6, "name": "人事部"},
        {"dept_id": 7, "name": "行政部"},
    ]
    assert stored[10]["members"]["b"]["manage_scopes"] == []
    assert (summary["roles"], summary["role_members"]) == (3, 4)


def test_replace_members_removes_those_no_longer_listed(engine: Engine) -> None:
    seed(engine)
    seed(engine, OTHER)
    with engine.begin() as conn:
        removed = repo_roles.replace_role_members(conn, CORP, 10, [member("b"), member("d")])
        again = repo_roles.replace_role_members(conn, CORP, 10, [member("b"), member("d")])
    assert (removed, again) == (1, 0)
    with engine.connect() as conn:
        mine = repo_roles.load_roles(conn, CORP)
        theirs = repo_roles.load_roles(conn, OTHER)
    assert sorted(mine[10]["members"]) == ["b", "d"]
    assert sorted(mine[20]["members"]) == ["a"]  # other roles untouched
    assert sorted(theirs[10]["members"]) == ["a", "b"]  # other corps untouched


def test_retired_roles_are_marked_and_lose_their_members(engine: Engine) -> None:
    seed(engine)
    seed(engine, OTHER)
    with engine.begin() as conn:
        assert repo_roles.retire_roles(conn, CORP, [10, 30]) == [20]
        assert repo_roles.retire_roles(conn, CORP, [10, 30]) == []  # already removed
    with engine.connect() as conn:
        stored = repo_roles.load_roles(conn, CORP)
        summary = repo.count_summary(conn, CORP)
        theirs = repo_roles.load_roles(conn, OTHER)
    assert stored[20]["status"] == "removed" and stored[20]["members"] == {}
    assert stored[10]["status"] == stored[30]["status"] == "active"
    assert (summary["roles"], summary["role_members"]) == (2, 3)
    assert theirs[20]["status"] == "active" and list(theirs[20]["members"]) == ["a"]

    with engine.begin() as conn:  # listed again: active again
        repo_roles.upsert_roles(conn, CORP, [role(20, "财务", 2, "职务")])
        repo_roles.retire_role_ids(conn, CORP, [30])
    with engine.connect() as conn:
        stored = repo_roles.load_roles(conn, CORP)
    assert stored[20]["status"] == "active"
    assert stored[30]["status"] == "removed" and stored[30]["members"] == {}
