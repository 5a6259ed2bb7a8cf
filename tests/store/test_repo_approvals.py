"""Approval repositories: detail cell keys, the form components found in stored instances."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from dingsync.store import repo_approvals


def test_detail_cells_are_keyed_by_id_then_label_then_position() -> None:
    cells = [
        {"name": "", "id": "TextField-A", "value": "a"},
        {"name": "", "id": None, "value": "b"},
        {"name": "金额", "id": None, "value": "3"},
        {"name": None, "id": "", "value": "d"},
    ]
    assert repo_approvals.detail_cells(cells) == {
        "TextField-A": "a",
        "#2": "b",
        "金额": "3",
        "#4": "d",
    }


def test_form_components_of_the_matching_instances(engine: Engine) -> None:
    def bundle(pid: str, code: str, comps: list[tuple[str, str]]) -> dict[str, object]:
        return {
            "instance": {"process_instance_id": pid, "process_code": code, "raw": {}},
            "form_values": [
                {"seq": n, "component_id": cid, "name": name, "component_type": "TextField"}
                for n, (cid, name) in enumerate(comps)
            ],
        }

    with engine.begin() as conn:
        repo_approvals.store_instances(
            conn,
            "corp",
            [
                bundle("p1", "A", [("T-1", "甲"), ("T-OLD", "旧")]),
                bundle("p2", "A", [("T-1", "甲"), ("T-2", "乙")]),
                bundle("p3", "B", [("T-9", "丙")]),
            ],
        )
    with engine.connect() as conn:
        where = repo_approvals.approval_conditions("corp", None, process_code="A")
        found = repo_approvals.form_components(conn, where)
    assert [(c["component_id"], c["name"]) for c in found] == [
        ("T-1", "甲"),
        ("T-2", "乙"),
        ("T-OLD", "旧"),
    ]


def _task(seq: int, userid: str, created: datetime | None) -> dict[str, object]:
    return {"seq": seq, "taskid": f"t{seq}", "userid": userid, "create_time": created}


def test_store_instances_replaces_children_and_keeps_values(engine: Engine) -> None:
    """Children go through ``repo.insert_rows`` (driver statements): stored twice, the second
    answer replaces the first; rows carrying different column sets are all written; NUL,
    JSON and aware datetimes come back as given."""
    at = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    first = {
        "instance": {"process_instance_id": "p1", "process_code": "A", "raw": {"k": "v\x00"}},
        "form_values": [
            {"seq": 0, "component_id": "T-1", "name": "甲\x00", "parsed": {"a": [1, None]}},
            {"seq": 1, "component_id": "T-2"},  # fewer columns: a statement of its own
        ],
        "tasks": [_task(0, "u1", at), _task(1, "u2", None)],
        "cc": [{"userid": "u3"}],
    }
    second = {**first, "tasks": [_task(0, "u9", at)], "cc": []}
    with engine.begin() as conn:
        assert repo_approvals.store_instances(conn, "corp", [first]) == 1
    with engine.connect() as conn:
        forms = repo_approvals.load_children(conn, "corp", ["p1"], "form_values")["p1"]
        tasks = repo_approvals.load_children(conn, "corp", ["p1"], "tasks")["p1"]
        cc = repo_approvals.load_children(conn, "corp", ["p1"], "cc")["p1"]
    assert [(f["seq"], f["name"], f["parsed"]) for f in forms] == [
        (0, "甲\x00", {"a": [1, None]}),
        (1, None, None),
    ]
    assert [(t["userid"], t["create_time"]) for t in tasks] == [("u1", at), ("u2", None)]
    assert [c["userid"] for c in cc] == ["u3"]
    with engine.begin() as conn:
        repo_approvals.store_instances(conn, "corp", [second])
    with engine.connect() as conn:
        tasks = repo_approvals.load_children(conn, "corp", ["p1"], "tasks")["p1"]
        cc = repo_approvals.load_children(conn, "corp", ["p1"], "cc")["p1"]
        forms = repo_approvals.load_children(conn, "corp", ["p1"], "form_values")["p1"]
    assert [(t["userid"], t["create_time"]) for t in tasks] == [("u9", at)]
    assert cc == []
    assert len(forms) == 2


def test_store_instances_refuses_a_naive_datetime_with_statement_error(engine: Engine) -> None:
    """A value a column's processor refuses raises ``StatementError`` (what the sync
    quarantines a unit for), as SQLAlchemy's own path did; nothing of the instance is kept."""
    bad = {
        "instance": {"process_instance_id": "p1", "process_code": "A", "raw": {}},
        "tasks": [_task(0, "u1", datetime(2024, 5, 1, 9, 30))],
    }
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), engine.begin() as conn:
        repo_approvals.store_instances(conn, "corp", [bad])
    with engine.connect() as conn:
        assert repo_approvals.known_instance_ids(conn, "corp", ["p1"]) == set()
