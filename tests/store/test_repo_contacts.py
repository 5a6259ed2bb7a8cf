"""The contacts read queries on real SQLite and PostgreSQL: the one subtree walk ("a department
and everything below it") that the web API, the rules' viewer and every export use."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from dingsync.store import repo, repo_contacts

CORP = "ding_corp_contacts"


def test_subtree_walks_the_children_map() -> None:
    children = {1: [2, 3], 2: [4], 4: [5], 3: []}
    assert repo_contacts.subtree([2], children) == {2, 4, 5}
    assert repo_contacts.subtree([1], children) == {1, 2, 3, 4, 5}
    assert repo_contacts.subtree([4, 3], children) == {3, 4, 5}
    assert repo_contacts.subtree([], children) == set()
    assert repo_contacts.subtree([99], children) == {99}  # unknown roots stay in


def test_subtree_ends_on_a_cycle() -> None:
    assert repo_contacts.subtree([1], {1: [2], 2: [1, 3]}) == {1, 2, 3}


def test_department_subtree_reads_every_stored_department(engine: Engine) -> None:
    rows = [
        {"dept_id": 1, "parent_id": None, "name": "公司", "status": "active"},
        {"dept_id": 2, "parent_id": 1, "name": "研发部", "status": "active"},
        {"dept_id": 3, "parent_id": 2, "name": "后端组", "status": "removed"},
        {"dept_id": 4, "parent_id": 3, "name": "数据库组", "status": "active"},
        {"dept_id": 5, "parent_id": 1, "name": "人事部", "status": "active"},
    ]
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "测试公司"})
        repo.upsert_departments(conn, CORP, rows)
        repo.upsert_departments(conn, "other", [{**rows[0]}, {**rows[1], "dept_id": 9}])
    with engine.connect() as conn:
        assert repo_contacts.department_subtree(conn, CORP, [2]) == {2, 3, 4}
        assert repo_contacts.department_subtree(conn, CORP, [1]) == {1, 2, 3, 4, 5}
        assert repo_contacts.department_subtree(conn, CORP, [5, 3]) == {3, 4, 5}
        # the tree the web API shows holds active departments only; the walk is the same
        tree = repo_contacts.department_tree(conn, CORP)
        assert sorted(tree) == [1, 2, 4, 5]
        assert repo_contacts.corp_name(conn, CORP) == "测试公司"


def _stored_unionids(engine: Engine, corp_id: str) -> dict[str, tuple[str | None, str | None]]:
    from sqlalchemy import select

    from dingsync.store.schema import users

    with engine.connect() as conn:
        rows = conn.execute(
            select(users.c.userid, users.c.unionid, users.c.unionid_conflict).where(
                users.c.corp_id == corp_id
            )
        ).all()
    return {r.userid: (r.unionid, r.unionid_conflict) for r in rows}


def test_one_unionid_is_one_person_the_newer_row_wins(engine: Engine) -> None:
    """Two userids arriving with one unionid: the newer keeps it, the older is marked (its
    unionid moved to ``unionid_conflict``), never two people with one unionid."""
    import sqlalchemy as sa

    from dingsync.store.schema import users

    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP})
        repo.upsert_users(conn, CORP, [{"userid": "u1", "unionid": "UNION-A", "name": "甲"}])
        repo.upsert_users(conn, CORP, [{"userid": "u9", "unionid": "UNION-Z", "name": "己"}])
    with engine.begin() as conn:
        # a second userid with the same unionid, and within one batch two more
        repo.upsert_users(conn, CORP, [{"userid": "u2", "unionid": "UNION-A", "name": "乙"}])
        conflicts = repo.release_unionids(
            conn,
            CORP,
            batch := [
                {"corp_id": CORP, "userid": "u3", "unionid": "UNION-B"},
                {"corp_id": CORP, "userid": "u4", "unionid": "UNION-B"},
            ],
        )
        assert conflicts == [{"unionid": "UNION-B", "userid": "u4", "older_userid": "u3"}]
        repo.upsert_users(conn, CORP, batch)
    assert _stored_unionids(engine, CORP) == {
        "u1": (None, "UNION-A"),
        "u2": ("UNION-A", None),
        "u3": (None, "UNION-B"),
        "u4": ("UNION-B", None),
        "u9": ("UNION-Z", None),
    }
    # the older row comes back holding the unionid: it is the newer one now
    with engine.begin() as conn:
        repo.upsert_users(conn, CORP, [{"userid": "u1", "unionid": "UNION-A", "name": "甲"}])
    got = _stored_unionids(engine, CORP)
    assert got["u1"] == ("UNION-A", None) and got["u2"] == (None, "UNION-A")
    # the index itself refuses a duplicate written around the repository
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(sa.update(users).where(users.c.userid == "u9").values(unionid="UNION-A"))
