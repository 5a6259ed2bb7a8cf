"""The console's read queries (issue #13) on real SQLite and PostgreSQL: people searched by
name, job number and a mobile the caller may see; direct member counts; leavers by scope;
skipped units of a run (found through the JSON text); the last run per entity; the event
inbox at a glance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from dingsync.store import repo, repo_contacts, repo_events
from dingsync.store.visibility import Visible

CORP = "ding_corp_console"


def _company(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "测试公司"})
        repo.upsert_departments(
            conn,
            CORP,
            [
                {"dept_id": 1, "parent_id": None, "name": "公司", "status": "active"},
                {"dept_id": 2, "parent_id": 1, "name": "研发部", "status": "active"},
                {"dept_id": 3, "parent_id": 1, "name": "人事部", "status": "active"},
            ],
        )
        people = [
            ("u1", "张三", "13800000001", False, "1001", "active"),
            ("u2", "李四", "13800000002", True, "1002", "active"),
            ("u3", "王五", "13900000003", False, None, "active"),
            ("u4", "赵六", "13900000004", False, "1004", "left"),
        ]
        repo.upsert_users(
            conn,
            CORP,
            [
                {
                    "userid": u,
                    "name": n,
                    "mobile": m,
                    "hide_mobile": h,
                    "job_number": j,
                    "status": s,
                }
                for u, n, m, h, j, s in people
            ],
        )
        repo.replace_department_members(
            conn, CORP, 2, [{"userid": "u1"}, {"userid": "u2"}, {"userid": "u4"}]
        )
        repo.replace_department_members(conn, CORP, 3, [{"userid": "u3"}, {"userid": "u1"}])


def _found(engine: Engine, term: str, mobiles: Visible | None = None) -> list[str]:
    with engine.connect() as conn:
        items, total = repo_contacts.list_users(conn, CORP, search=term, mobiles=mobiles)
    assert total == len(items)
    return [i["userid"] for i in items]


def test_people_search_by_name_job_number_and_visible_mobile(engine: Engine) -> None:
    _company(engine)
    assert _found(engine, "张") == ["u1"]
    assert _found(engine, "1002") == ["u2"]
    assert _found(engine, "139") == ["u3"]  # u4 left
    # u2's number is hidden: a member does not find it, the owner and an admin do.
    assert _found(engine, "13800000002") == []
    assert _found(engine, "13800000002", Visible(owner="u2")) == ["u2"]
    assert _found(engine, "13800000002", Visible(everything=True)) == ["u2"]
    assert _found(engine, "13800000002", Visible(dept_ids=(3,))) == []
    assert _found(engine, "13800000002", Visible(dept_ids=(2,))) == ["u2"]
    assert _found(engine, "%") == []  # LIKE wildcards are text
    with engine.connect() as conn:
        assert repo_contacts.member_counts(conn, CORP) == {2: 2, 3: 2}
        assert repo_contacts.names_of(conn, CORP, ["u1", "u3", "nobody"]) == {
            "u1": "张三",
            "u3": "王五",
        }


def test_leavers_by_scope(engine: Engine) -> None:
    _company(engine)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        repo.upsert_leavers(
            conn,
            CORP,
            [
                {"userid": "u4", "name": "赵六", "leave_time": t0, "main_dept_id": 2},
                {
                    "userid": "u9",
                    "name": "钱九",
                    "leave_time": t0 + timedelta(days=1),
                    "main_dept_id": 3,
                },
            ],
        )
    with engine.connect() as conn:
        every, total = repo_contacts.list_leavers(conn, CORP, Visible(everything=True))
        assert [r["userid"] for r in every] == ["u9", "u4"] and total == 2
        assert [
            r["userid"] for r in repo_contacts.list_leavers(conn, CORP, Visible(dept_ids=(2,)))[0]
        ] == ["u4"]
        assert repo_contacts.list_leavers(conn, CORP, Visible(owner="u1"))[1] == 0
        assert [
            r["userid"]
            for r in repo_contacts.list_leavers(conn, CORP, Visible(everything=True), search="钱")[
                0
            ]
        ] == ["u9"]


def test_skipped_units_and_last_runs_per_entity(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP})
        first = repo.start_sync_run(conn, CORP, "full", ["contacts", "reports"])
        repo.save_checkpoint(conn, first, "departments", "7", {"skipped": "50004"})
        repo.save_checkpoint(conn, first, "departments", "8", {"detail": None, "children": []})
        repo.save_checkpoint(conn, first, "members", "9#0", {"skipped": "60003"})
        repo.save_checkpoint(conn, first, "reports", "d#0", None)
        repo.finish_sync_run(conn, first, "succeeded", {}, {}, 10)
        second = repo.start_sync_run(conn, CORP, "incremental", ["contacts"])
        repo.finish_sync_run(conn, second, "failed", {}, {}, 10, "boom")
    with engine.connect() as conn:
        assert repo.skipped_units(conn, first) == [
            {"entity": "departments", "key": "7", "reason": "50004"},
            {"entity": "members", "key": "9#0", "reason": "60003"},
        ]
        assert repo.count_checkpoints(conn, first) == 4
        per = repo.last_run_per_entity(conn, CORP)
        assert [r["id"] for r in repo.list_sync_runs(conn, CORP, limit=5)] == [second, first]
    assert per["contacts"]["last"]["id"] == second
    assert per["contacts"]["last_success"]["id"] == first
    assert per["reports"]["last"]["id"] == first and "attendance" not in per


def test_inbox_health(engine: Engine) -> None:
    since = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as conn:
        ids = [
            repo_events.insert_event(
                conn,
                corp_id=CORP,
                event_id=f"e{n}",
                event_type="user_add_org",
                source="http",
                payload={"n": n},
            )
            for n in range(3)
        ]
        repo_events.finish_event(conn, int(ids[0]), "failed", "boom")  # type: ignore[arg-type]
        repo_events.finish_event(conn, int(ids[1]), "processed")  # type: ignore[arg-type]
    with engine.connect() as conn:
        health = repo_events.inbox_health(conn, CORP, since)
        later = repo_events.inbox_health(conn, CORP, datetime.now(UTC) + timedelta(hours=1))
    assert health["received_since"] == 3 and later["received_since"] == 0
    assert health["failed"] == 1 and health["pending"] == 1
    assert isinstance(health["oldest_pending"], datetime)
