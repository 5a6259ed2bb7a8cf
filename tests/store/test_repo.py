"""Repositories on real SQLite and PostgreSQL: idempotent upserts, replacements, marks, reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from dingsync.store import repo, schema
from dingsync.store.schema import from_ms

CORP = "ding_corp_test"
T0 = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))


def dept(dept_id: int, parent: int | None, name: str, run_id: int | None = 1, **kw: Any) -> dict:
    raw = {"dept_id": dept_id, "parent_id": parent, "name": name}
    row = {
        "dept_id": dept_id,
        "parent_id": parent,
        "name": name,
        "dept_order": dept_id * 10,
        "create_dept_group": True,
        "auto_add_user": False,
        "dept_manager_userid_list": ["boss"],
        "status": "active",
        "last_seen_run_id": run_id,
        "synced_at": T0,
        "raw": raw,
    }
    row.update(kw)
    return row


def user(userid: str, name: str, run_id: int | None = 1, **kw: Any) -> dict:
    row = {
        "userid": userid,
        "unionid": f"union-{userid}",
        "name": name,
        "mobile": "13800000000",
        "title": "工程师",
        "hired_date": from_ms(1_600_000_000_000),
        "active": True,
        "admin": False,
        "boss": False,
        "extension": '{"爱好":"旅游"}',
        "status": "active",
        "last_seen_run_id": run_id,
        "synced_at": T0,
        "raw": {"userid": userid, "name": name, "dept_id_list": [1]},
    }
    row.update(kw)
    return row


def member(userid: str, order: int = 1, leader: bool = False) -> dict:
    return {"userid": userid, "dept_order": order, "is_leader": leader, "synced_at": T0}


def snapshot(engine: Engine, table: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings()
        return [dict(r) for r in rows]


def seed_directory(engine: Engine) -> None:
    """Root 1 → 2 (研发), 3 (销售); 2 → 4 (平台). 'multi' is in 2, 3 and 4."""
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "测试公司"})
        repo.upsert_departments(
            conn,
            CORP,
            [dept(1, None, "测试公司"), dept(2, 1, "研发"), dept(3, 1, "销售"), dept(4, 2, "平台")],
        )
        repo.upsert_users(
            conn, CORP, [user("boss", "老板"), user("multi", "多部门"), user("solo", "单部门")]
        )
        repo.replace_department_members(conn, CORP, 1, [member("boss", 1, True)])
        repo.replace_department_members(conn, CORP, 2, [member("multi", 1, True), member("solo")])
        repo.replace_department_members(conn, CORP, 3, [member("multi", 2)])
        repo.replace_department_members(conn, CORP, 4, [member("multi", 3)])


# --------------------------------------------------------------------------------------------
# upsert
# --------------------------------------------------------------------------------------------
def test_upsert_twice_gives_the_same_table(engine: Engine) -> None:
    rows = [dept(1, None, "公司"), dept(2, 1, "研发"), dept(3, 1, "销售")]
    with engine.begin() as conn:
        assert repo.upsert_departments(conn, CORP, rows) == 3
    first = snapshot(engine, schema.departments)
    with engine.begin() as conn:
        assert repo.upsert_departments(conn, CORP, rows) == 3
    assert snapshot(engine, schema.departments) == first
    assert len(first) == 3
    assert first[1]["name"] == "研发"
    assert first[1]["raw"] == {"dept_id": 2, "parent_id": 1, "name": "研发"}
    assert first[1]["dept_manager_userid_list"] == ["boss"]


def test_upsert_updates_changed_columns_only(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_departments(conn, CORP, [dept(2, 1, "研发")])
        repo.upsert_departments(
            conn, CORP, [dept(2, 1, "研发中心", run_id=2, synced_at=T0 + timedelta(hours=1))]
        )
        # A row that carries fewer columns leaves the others alone.
        repo.upsert_departments(conn, CORP, [{"dept_id": 2, "hide_dept": True}])
    (row,) = snapshot(engine, schema.departments)
    assert row["name"] == "研发中心"
    assert row["last_seen_run_id"] == 2
    assert row["hide_dept"] is True
    assert row["dept_order"] == 20
    assert row["create_dept_group"] is True


def test_upsert_corp_keeps_what_a_row_leaves_out(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "测试公司", "agent_id": "123"})
    (before,) = snapshot(engine, schema.corps)
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP})
    (after,) = snapshot(engine, schema.corps)
    assert after["name"] == "测试公司" and after["agent_id"] == "123"
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] >= before["updated_at"]


def test_upsert_last_duplicate_wins_in_one_call(engine: Engine) -> None:
    with engine.begin() as conn:
        n = repo.upsert_users(conn, CORP, [user("u1", "甲"), user("u1", "乙")])
    assert n == 1
    assert [r["name"] for r in snapshot(engine, schema.users)] == ["乙"]


def test_upsert_many_rows_in_chunks(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # Force tiny chunks to prove chunking on both backends, then a large natural batch.
    monkeypatch.setattr(repo, "MAX_ROWS_PER_STATEMENT", 10)
    inserts: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO users"):
            inserts.append(len(params) if many else 1)

    sa.event.listen(engine, "before_cursor_execute", count)
    with engine.begin() as conn:
        assert repo.upsert_users(conn, CORP, [user(f"u{i:04}", f"人{i}") for i in range(97)]) == 97
    sa.event.remove(engine, "before_cursor_execute", count)
    assert inserts == [10] * 9 + [7]
    monkeypatch.undo()
    rows = [user(f"v{i:05}", f"员工{i}") for i in range(3000)]
    with engine.begin() as conn:
        assert repo.upsert_users(conn, CORP, rows) == 3000
        repo.upsert_users(conn, CORP, rows)
        assert repo.count_summary(conn, CORP)["users"] == 3097


def test_upsert_rejects_unknown_columns_and_missing_keys(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(ValueError, match="unknown column"):
            repo.upsert_users(conn, CORP, [{"userid": "u1", "nickname": "x"}])
        with pytest.raises(ValueError, match="without key"):
            repo.upsert(conn, schema.users, [{"corp_id": CORP, "name": "x"}], ["corp_id", "userid"])
        with pytest.raises(ValueError, match="this call is for"):
            repo.upsert_users(conn, CORP, [{"corp_id": "other", "userid": "u1"}])
        assert repo.upsert(conn, schema.users, [], ["corp_id", "userid"]) == 0


def test_upsert_with_no_update_columns_ignores_existing(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "原名"})
        repo.upsert(
            conn, schema.corps, [{"corp_id": CORP, "name": "新名"}], ["corp_id"], update_columns=[]
        )
    assert snapshot(engine, schema.corps)[0]["name"] == "原名"


def test_repo_does_not_commit(engine: Engine) -> None:
    with engine.connect() as conn:
        repo.upsert_users(conn, CORP, [user("u1", "甲")])
        conn.rollback()
    assert snapshot(engine, schema.users) == []


# --------------------------------------------------------------------------------------------
# memberships, admins
# --------------------------------------------------------------------------------------------
def test_user_in_three_departments_is_one_row_three_memberships(engine: Engine) -> None:
    seed_directory(engine)
    with engine.connect() as conn:
        summary = repo.count_summary(conn, CORP)
        directory = repo.load_directory(conn, CORP)
    assert [u["userid"] for u in snapshot(engine, schema.users)] == ["boss", "multi", "solo"]
    assert directory["memberships"]["multi"] == {
        2: {"dept_order": 1, "is_leader": True},
        3: {"dept_order": 2, "is_leader": False},
        4: {"dept_order": 3, "is_leader": False},
    }
    assert summary["users"] == 3
    assert summary["memberships"] == 5
    assert summary["multi_department_users"] == 1
    assert summary["departments"] == 4


def test_replace_department_members_removes_stale(engine: Engine) -> None:
    seed_directory(engine)
    with engine.begin() as conn:
        removed = repo.replace_department_members(
            conn, CORP, 2, [member("solo", 5, leader=True), member("boss", 9)]
        )
        again = repo.replace_department_members(
            conn, CORP, 2, [member("solo", 5, leader=True), member("boss", 9)]
        )
    assert (removed, again) == (1, 0)
    with engine.connect() as conn:
        m = repo.load_directory(conn, CORP)["memberships"]
    assert m["solo"] == {2: {"dept_order": 5, "is_leader": True}}
    assert m["boss"] == {
        1: {"dept_order": 1, "is_leader": True},
        2: {"dept_order": 9, "is_leader": False},
    }
    # "multi" left department 2 only; departments 3 and 4 keep them.
    assert m["multi"] == {
        3: {"dept_order": 2, "is_leader": False},
        4: {"dept_order": 3, "is_leader": False},
    }
    with engine.begin() as conn:
        assert repo.replace_department_members(conn, CORP, 2, []) == 2
        assert repo.count_summary(conn, CORP)["memberships"] == 3


def test_replace_admins_and_scopes(engine: Engine) -> None:
    seed_directory(engine)
    admins = [
        {"userid": "boss", "sys_level": 1, "raw": {"userid": "boss", "sys_level": 1}},
        {"userid": "multi", "sys_level": 2, "raw": {"userid": "multi", "sys_level": 2}},
        {"userid": "solo", "sys_level": 2, "raw": {"userid": "solo", "sys_level": 2}},
    ]
    with engine.begin() as conn:
        repo.replace_admins(conn, CORP, admins, {"multi": [2, 3], "solo": [4]})
        repo.replace_admins(conn, CORP, admins, {"multi": [2, 3], "solo": [4]})
    with engine.connect() as conn:
        d = repo.load_directory(conn, CORP)
        summary = repo.count_summary(conn, CORP)
    assert {u: a["sys_level"] for u, a in d["admins"].items()} == {"boss": 1, "multi": 2, "solo": 2}
    assert d["scopes"] == {"multi": [2, 3], "solo": [4]}
    assert (summary["admins"], summary["sub_admins"]) == (3, 2)

    # "solo" is no longer an admin; "multi"'s scope changes.
    with engine.begin() as conn:
        repo.replace_admins(conn, CORP, admins[:2], {"multi": [3, 4]})
    with engine.connect() as conn:
        d = repo.load_directory(conn, CORP)
    assert set(d["admins"]) == {"boss", "multi"}
    assert d["scopes"] == {"multi": [3, 4]}
    assert len(snapshot(engine, schema.admin_scopes)) == 2

    with engine.begin() as conn, pytest.raises(ValueError, match="not administrators"):
        repo.replace_admins(conn, CORP, admins[:1], {"multi": [3]})


# --------------------------------------------------------------------------------------------
# mark_unseen, leavers
# --------------------------------------------------------------------------------------------
def test_mark_unseen(engine: Engine) -> None:
    seed_directory(engine)
    # Run 2 sees departments 1, 2, 3 (4 is gone) and users boss and multi (solo is gone).
    with engine.begin() as conn:
        repo.upsert_departments(
            conn, CORP, [dept(1, None, "测试公司", 2), dept(2, 1, "研发", 2), dept(3, 1, "销售", 2)]
        )
        repo.upsert_users(conn, CORP, [user("boss", "老板", 2), user("multi", "多部门", 2)])
        marks = repo.mark_unseen(conn, CORP, 2)
        again = repo.mark_unseen(conn, CORP, 2)
    assert marks == {"departments": 1, "users": 1, "memberships": 1}
    assert again == {"departments": 0, "users": 0, "memberships": 0}
    with engine.connect() as conn:
        d = repo.load_directory(conn, CORP)
        summary = repo.count_summary(conn, CORP)
    assert d["departments"][4]["status"] == "removed"
    assert d["users"]["solo"]["status"] == "inactive"
    assert d["users"]["multi"]["status"] == "active"
    assert 4 not in d["memberships"]["multi"]
    assert summary["departments"] == 3 and summary["removed_departments"] == 1
    assert summary["users"] == 3 and summary["active_users"] == 2
    assert summary["inactive_users"] == 1
    # Seen again later: active again.
    with engine.begin() as conn:
        repo.upsert_departments(conn, CORP, [dept(4, 2, "平台", 3)])
        repo.upsert_users(conn, CORP, [user("solo", "单部门", 3)])
    with engine.connect() as conn:
        d = repo.load_directory(conn, CORP)
    assert d["departments"][4]["status"] == "active"
    assert d["users"]["solo"]["status"] == "active"


def leaver(userid: str, leave_time: datetime | None, **kw: Any) -> dict:
    row = {
        "userid": userid,
        "name": "离职者",
        "state_code": "86",
        "mobile": "13900000000",
        "leave_time": leave_time,
        "leave_reason": "leave",
        "last_work_day": None,
        "main_dept_id": 2,
        "main_dept_name": "研发",
        "dept_list": [{"dept_id": 2, "dept_path": "测试公司-研发"}],
        "status": 2,
        "pre_status": 3,
        "handover_userid": "boss",
        "reason_type": 2,
        "reason_memo": "个人原因",
        "raw": {"record": {"userId": userid}, "info": {}},
    }
    row.update(kw)
    return row


def test_leavers_mark_users_left_without_deleting(engine: Engine) -> None:
    seed_directory(engine)
    gone_at = datetime(2024, 4, 30, 18, 0, tzinfo=SHANGHAI)
    rows = [
        leaver("solo", gone_at),
        leaver("ghost", gone_at),  # no users row: only the departure record
        leaver("multi", gone_at, status=3),  # 未离职: a departure that did not happen
    ]
    with engine.begin() as conn:
        assert repo.upsert_leavers(conn, CORP, rows) == 3
    first = snapshot(engine, schema.users)
    with engine.begin() as conn:
        assert repo.upsert_leavers(conn, CORP, rows) == 3
    assert snapshot(engine, schema.users) == first
    with engine.connect() as conn:
        d = repo.load_directory(conn, CORP)
        summary = repo.count_summary(conn, CORP)
    solo = d["users"]["solo"]
    assert solo["status"] == "left"
    assert solo["left_at"] == gone_at and solo["left_at"].tzinfo == UTC
    assert solo["leave_reason"] == "leave"
    assert solo["name"] == "单部门"  # the row is kept whole
    assert d["users"]["multi"]["status"] == "active"
    assert "ghost" not in d["users"]
    assert set(d["leavers"]) == {"ghost", "multi", "solo"}
    assert d["leavers"]["solo"]["dept_list"] == [{"dept_id": 2, "dept_path": "测试公司-研发"}]
    assert summary["users"] == 3 and summary["left_users"] == 1 and summary["leavers"] == 3

    # A later full run does not see "solo": it stays left, not inactive.
    with engine.begin() as conn:
        repo.upsert_users(conn, CORP, [user("boss", "老板", 2), user("multi", "多部门", 2)])
        assert repo.mark_unseen(conn, CORP, 2)["users"] == 0
    with engine.connect() as conn:
        assert repo.load_directory(conn, CORP)["users"]["solo"]["status"] == "left"


def test_leaver_seen_in_the_directory_again(engine: Engine) -> None:
    seed_directory(engine)
    gone = datetime(2024, 1, 2, tzinfo=UTC)
    with engine.begin() as conn:
        repo.upsert_leavers(conn, CORP, [leaver("solo", None, last_work_day=gone)])
    with engine.connect() as conn:
        assert repo.load_directory(conn, CORP)["users"]["solo"]["left_at"] == gone
    # Rehired: listed by run 5, so active again with the departure cleared; the old record
    # read in the same run does not undo that when the run is named.
    with engine.begin() as conn:
        repo.upsert_users(conn, CORP, [user("solo", "单部门", 5)])
        repo.upsert_leavers(conn, CORP, [leaver("solo", gone)], seen_in_run=5)
    with engine.connect() as conn:
        solo = repo.load_directory(conn, CORP)["users"]["solo"]
    assert (solo["status"], solo["left_at"], solo["leave_reason"]) == ("active", None, None)


# --------------------------------------------------------------------------------------------
# sync runs, checkpoints, watermarks
# --------------------------------------------------------------------------------------------
def test_sync_runs_round_trip_and_resume(engine: Engine) -> None:
    with engine.begin() as conn:
        assert repo.last_sync_run(conn, CORP) is None
        run = repo.start_sync_run(conn, CORP, "full", ["contacts", "reports"])
        assert repo.find_resumable_run(conn, CORP, "full", ["reports", "contacts"]) == run
        assert repo.find_resumable_run(conn, CORP, "full", ["contacts"]) is None
        assert repo.find_resumable_run(conn, CORP, "incremental", ["contacts", "reports"]) is None
        assert repo.find_resumable_run(conn, "other-corp", "full", ["contacts", "reports"]) is None
        repo.finish_sync_run(
            conn, run, "interrupted", {"users": 5}, {"/topapi/v2/user/list": 3}, 1234, "cancelled"
        )
        assert repo.find_resumable_run(conn, CORP, "full", ["contacts", "reports"]) == run
        last = repo.last_sync_run(conn, CORP)
    assert last is not None
    assert last["id"] == run and last["status"] == "interrupted"
    assert last["entities"] == ["contacts", "reports"]
    assert last["counts"] == {"users": 5}
    assert last["api_calls"] == {"/topapi/v2/user/list": 3}
    assert last["wall_ms"] == 1234 and last["error"] == "cancelled"
    assert last["started_at"].tzinfo == UTC and last["finished_at"] >= last["started_at"]

    with engine.begin() as conn:
        repo.finish_sync_run(conn, run, "succeeded", {"users": 9}, {}, 2000)
        assert repo.find_resumable_run(conn, CORP, "full", ["contacts", "reports"]) is None
        newer = repo.start_sync_run(conn, CORP, "incremental", ["contacts"])
        assert repo.last_sync_run(conn, CORP)["id"] == newer  # type: ignore[index]
        assert repo.last_sync_run(conn, CORP, kind="full")["id"] == run  # type: ignore[index]
        assert repo.get_sync_run(conn, run)["error"] is None  # type: ignore[index]
        with pytest.raises(LookupError):
            repo.finish_sync_run(conn, 999_999, "failed", {}, {}, 0, "x")
        with pytest.raises(ValueError):
            repo.start_sync_run(conn, CORP, "sometimes", ["contacts"])
        with pytest.raises(ValueError):
            repo.finish_sync_run(conn, run, "done", {}, {}, 0)


def test_an_older_unfinished_run_is_not_resumed_after_a_finished_one(engine: Engine) -> None:
    with engine.begin() as conn:
        stale = repo.start_sync_run(conn, CORP, "full", ["contacts"])
        repo.finish_sync_run(conn, stale, "interrupted", {}, {}, 1)
        done = repo.start_sync_run(conn, CORP, "full", ["contacts"])
        repo.finish_sync_run(conn, done, "succeeded", {}, {}, 1)
        assert repo.find_resumable_run(conn, CORP, "full", ["contacts"]) is None


def test_a_failed_run_is_resumed(engine: Engine) -> None:
    """A page that failed after the client's retries: the next run goes on from checkpoints."""
    with engine.begin() as conn:
        failed = repo.start_sync_run(conn, CORP, "full", ["contacts"])
        repo.finish_sync_run(conn, failed, "failed", {}, {}, 1, "ServerError: 502")
        assert repo.find_resumable_run(conn, CORP, "full", ["contacts"]) == failed


def test_checkpoints_round_trip(engine: Engine) -> None:
    with engine.begin() as conn:
        run = repo.start_sync_run(conn, CORP, "full", ["contacts"])
        other = repo.start_sync_run(conn, CORP, "full", ["reports"])
        assert repo.load_checkpoints(conn, run, "departments") == {}
        repo.save_checkpoint(conn, run, "departments", "1", {"children": [2, 3]})
        repo.save_checkpoint(conn, run, "departments", "2", {"children": []})
        repo.save_checkpoint(conn, run, "members", "2", None)
        repo.save_checkpoint(conn, other, "departments", "1", {"children": [9]})
        repo.save_checkpoint(conn, run, "departments", "2", {"children": [4], "名": "研发"})
    with engine.connect() as conn:
        assert repo.load_checkpoints(conn, run, "departments") == {
            "1": {"children": [2, 3]},
            "2": {"children": [4], "名": "研发"},
        }
        assert repo.load_checkpoints(conn, run, "members") == {"2": None}
        assert repo.load_checkpoints(conn, other, "departments") == {"1": {"children": [9]}}


def test_watermarks_round_trip(engine: Engine) -> None:
    with engine.begin() as conn:
        assert repo.get_watermark(conn, CORP, "reports") is None
        repo.set_watermark(conn, CORP, "reports", 1_714_521_600_000)
        repo.set_watermark(conn, CORP, "approvals", {"cursor": "abc", "since_ms": 5})
        repo.set_watermark(conn, CORP, "reports", 1_714_608_000_000)
        repo.set_watermark(conn, "other-corp", "reports", 1)
    with engine.connect() as conn:
        assert repo.get_watermark(conn, CORP, "reports") == 1_714_608_000_000
        assert repo.get_watermark(conn, CORP, "approvals") == {"cursor": "abc", "since_ms": 5}
        assert repo.get_watermark(conn, "other-corp", "reports") == 1


# --------------------------------------------------------------------------------------------
# types
# --------------------------------------------------------------------------------------------
def test_timestamps_come_back_aware_utc(engine: Engine) -> None:
    local = datetime(2024, 5, 1, 9, 15, 30, 123456, tzinfo=SHANGHAI)
    with engine.begin() as conn:
        repo.upsert_users(conn, CORP, [user("u1", "甲", hired_date=local, synced_at=local)])
        repo.upsert_leavers(conn, CORP, [leaver("u1", local)])
    (row,) = snapshot(engine, schema.users)
    for column in ("hired_date", "synced_at", "left_at"):
        value = row[column]
        assert value.tzinfo == UTC, column
        assert value == local
        assert value.hour == 1 and value.microsecond == 123456
    with engine.begin() as conn, pytest.raises(sa.exc.StatementError, match="naive datetime"):
        repo.upsert_users(conn, CORP, [user("u2", "乙", hired_date=datetime(2024, 1, 1))])


def test_json_columns_keep_structure_and_null(engine: Engine) -> None:
    raw = {"name": "张三", "dept_order_list": [{"dept_id": 2, "order": 1}], "x": None, "ok": True}
    with engine.begin() as conn:
        repo.upsert_users(conn, CORP, [user("u1", "张三", raw=raw)])
        repo.upsert_departments(conn, CORP, [dept(2, 1, "研发", dept_manager_userid_list=None)])
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.users.c.raw)).scalar_one() == raw
        nulls = conn.execute(
            sa.select(sa.func.count()).where(
                schema.departments.c.dept_manager_userid_list.is_(None)
            )
        ).scalar_one()
    assert nulls == 1  # SQL NULL, not JSON 'null'


def test_local_disabled_defaults_false_and_survives_sync(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_users(conn, CORP, [user("u1", "甲")])
    assert snapshot(engine, schema.users)[0]["local_disabled"] is False
    with engine.begin() as conn:
        conn.execute(sa.update(schema.users).values(local_disabled=True))
        repo.upsert_users(conn, CORP, [user("u1", "甲改", 2)])
    row = snapshot(engine, schema.users)[0]
    assert (row["name"], row["local_disabled"]) == ("甲改", True)


def test_count_summary_keys_on_empty_corp(engine: Engine) -> None:
    with engine.connect() as conn:
        assert repo.count_summary(conn, CORP) == {
            "departments": 0,
            "removed_departments": 0,
            "users": 0,
            "active_users": 0,
            "inactive_users": 0,
            "left_users": 0,
            "multi_department_users": 0,
            "memberships": 0,
            "admins": 0,
            "sub_admins": 0,
            "leavers": 0,
            "roles": 0,
            "role_members": 0,
        }
        assert repo.load_directory(conn, CORP) == {
            "departments": {},
            "users": {},
            "memberships": {},
            "admins": {},
            "scopes": {},
            "leavers": {},
        }


def test_corps_are_kept_apart(engine: Engine) -> None:
    seed_directory(engine)
    with engine.begin() as conn:
        repo.upsert_users(conn, "corp-b", [user("multi", "另一个人")])
        repo.replace_department_members(conn, "corp-b", 2, [member("multi")])
        repo.mark_unseen(conn, "corp-b", 99)
    with engine.connect() as conn:
        a = repo.load_directory(conn, CORP)
        b = repo.count_summary(conn, "corp-b")
    assert a["users"]["multi"]["name"] == "多部门" and a["users"]["multi"]["status"] == "active"
    assert len(a["memberships"]["multi"]) == 3
    assert b["users"] == 1 and b["inactive_users"] == 1 and b["memberships"] == 1


def test_an_unfinished_run_superseded_by_a_later_success_is_not_resumed(engine: Engine) -> None:
    """An interrupted full run, then a successful ``--incremental`` run of the same entities:
    the next full run starts anew (resuming the stale one would mark every row the later run
    stamped as not seen — the whole directory gone)."""
    with engine.begin() as conn:
        stale = repo.start_sync_run(conn, CORP, "full", ["contacts", "reports"])
        repo.finish_sync_run(conn, stale, "interrupted", {}, {}, 10, "cancelled")
        other = repo.start_sync_run(conn, CORP, "incremental", ["approvals"])
        repo.finish_sync_run(conn, other, "succeeded", {}, {}, 10, None)
        # A later success of other entities leaves it resumable …
        assert repo.find_resumable_run(conn, CORP, "full", ["contacts", "reports"]) == stale
        later = repo.start_sync_run(conn, CORP, "incremental", ["contacts"])
        repo.finish_sync_run(conn, later, "succeeded", {}, {}, 10, None)
        # … one that synced one of its entities makes it stale.
        assert repo.find_resumable_run(conn, CORP, "full", ["contacts", "reports"]) is None
