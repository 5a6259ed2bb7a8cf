"""The contacts read queries on real SQLite and PostgreSQL: the one subtree walk ("a department
and everything below it") that the web API, the rules' viewer and every export use."""

from __future__ import annotations

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
