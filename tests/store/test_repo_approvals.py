"""Approval repositories: detail cell keys, the form components found in stored instances."""

from __future__ import annotations

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
