"""Statements compiled once and run through the driver (``store/prebuilt.py``) on SQLite,
PostgreSQL and MariaDB: the same rows as SQLAlchemy's own ``execute`` — values escaped and
unescaped by their column types (NUL, U+FDD0), booleans, aware datetimes, literal values of the
statement, no row — and the login's repository functions built on them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from dingsync.store import (
    repo,
    repo_attendance,
    repo_contacts,
    repo_corps,
    repo_local_access,
    repo_sessions,
)
from dingsync.store.prebuilt import DriverSelect, insert_one, run_on_cursor
from dingsync.store.schema import user_departments, users, utcnow
from dingsync.store.schema_web import web_sessions

ODD = "u\x00\ufdd0-1"  # a userid holding NUL and the escape character itself


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "c", "name": "Co"})
        repo.upsert_users(
            conn,
            "c",
            [
                {
                    "corp_id": "c",
                    "userid": ODD,
                    "name": "Odd\x00name",
                    "status": "active",
                    "boss": True,
                    "synced_at": utcnow(),
                    "raw": {"userid": ODD, "name": "Odd\x00name", "dept_id_list": [7, 2]},
                },
                {"corp_id": "c", "userid": "plain", "name": "Plain", "status": "inactive"},
            ],
        )
        repo_contacts.replace_user_memberships(
            conn,
            "c",
            ODD,
            [
                {"dept_id": 7, "dept_order": 3, "is_leader": True},
                {"dept_id": 2, "dept_order": None, "is_leader": False},
            ],
        )


def test_driver_select_matches_sqlalchemy(engine: Engine) -> None:
    _seed(engine)
    by_user = select(users.c.userid, users.c.name, users.c.local_disabled).where(
        users.c.corp_id == bindparam("corp"), users.c.userid == bindparam("uid")
    )
    active = select(users.c.userid).where(
        users.c.corp_id == bindparam("corp"), users.c.status == "active"
    )
    member = (
        select(user_departments.c.dept_id, user_departments.c.is_leader)
        .where(user_departments.c.userid == bindparam("uid"))
        .order_by(user_departments.c.dept_id)
    )
    with engine.connect() as conn:
        for statement, params in (
            (by_user, {"corp": "c", "uid": ODD}),
            (by_user, {"corp": "c", "uid": "nobody"}),
            (active, {"corp": "c"}),  # a literal value of the statement ("active")
            (member, {"uid": ODD}),
        ):
            expected = [tuple(r) for r in conn.execute(statement, params)]
            driver = DriverSelect(statement)
            assert driver.execute(conn, params) == expected
            assert driver.execute(conn, params) == expected  # compiled once, run twice
            assert driver.first(conn, params) == (expected[0] if expected else None)
        row = DriverSelect(by_user).first(conn, {"corp": "c", "uid": ODD})
        assert row == (ODD, "Odd\x00name", False) and row[2] is False
        assert DriverSelect(member).execute(conn, {"uid": ODD}) == [(2, False), (7, True)]


def test_login_repository_reads_and_inserts(engine: Engine) -> None:
    _seed(engine)
    now = utcnow()
    with engine.begin() as conn:
        assert repo_contacts.user_memberships(conn, "c", ODD) == [
            {"dept_id": 2, "dept_order": None, "is_leader": False},
            {"dept_id": 7, "dept_order": 3, "is_leader": True},
        ]
        assert repo_contacts.admin_info(conn, "c", ODD) == (None, [])
        repo_contacts.set_admin_level(conn, "c", ODD, 2)
        assert repo_contacts.admin_info(conn, "c", ODD) == (2, [])
        assert repo_corps.corp_status(conn, "c") == "active"
        assert repo_corps.corp_status(conn, "nowhere") is None
        assert repo_local_access.user_roles(conn, "c", ODD) == []
        repo_local_access.grant_role(conn, "c", ODD, "hr", granted_by="admin")
        assert repo_local_access.user_roles(conn, "c", ODD) == ["hr"]
        assert repo_local_access.is_local_disabled(conn, "c", ODD) is False
        assert repo_local_access.is_local_disabled(conn, "c", "nobody") is False

        repo_sessions.create_session(
            conn,
            token_hash="h" * 64,
            corp_id="c",
            userid=ODD,
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
        repo_sessions.remember_login_code(
            conn,
            code_hash="k" * 64,
            corp_id="c",
            userid=ODD,
            session_hash="h" * 64,
            sealed_token=b"\x00sealed\xff",
            created_at=now,
            expires_at=now + timedelta(seconds=60),
        )
    with engine.connect() as conn:
        session = repo_sessions.get_session(conn, "h" * 64)
        assert session is not None and session["userid"] == ODD
        assert session["expires_at"] == now + timedelta(hours=1)
        assert session["expires_at"].utcoffset() == timedelta(0)
        assert repo_sessions.login_code_known(conn, "k" * 64)
        assert not repo_sessions.login_code_known(conn, "x" * 64)
        code = repo_sessions.find_login_code(conn, "k" * 64)
        assert code is not None and bytes(code["sealed_token"]) == b"\x00sealed\xff"


def test_insert_one_keeps_the_columns_checks(engine: Engine) -> None:
    statement = insert(web_sessions)
    now = utcnow()
    row = {"token_hash": "t" * 64, "corp_id": "c", "userid": "u", "expires_at": now}
    with engine.begin() as conn:
        insert_one(conn, statement, row)  # created_at: the column's Python default
        stored = conn.execute(select(web_sessions.c.created_at)).scalar_one()
        assert abs(stored - now) < timedelta(minutes=1)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        insert_one(conn, statement, row)  # the same primary key again
    with pytest.raises(StatementError), engine.begin() as conn:
        naive = {**row, "token_hash": "n" * 64, "expires_at": now.replace(tzinfo=None)}
        insert_one(conn, statement, naive)  # UTCDateTime refuses a naive datetime


def test_insert_one_stores_what_sqlalchemy_stores(engine: Engine) -> None:
    """A row of every kind of column (NUL-safe text and ids, JSON with NUL, booleans, aware
    datetimes, integers, NULL, Python defaults) inserted by ``insert_one`` reads back exactly as
    the same row inserted by SQLAlchemy's own ``execute``."""
    now = utcnow()
    row = {
        "corp_id": "c\x00",
        "userid": ODD,
        "name": "N\x00\ufdd0me",
        "avatar": None,
        "hide_mobile": True,
        "boss": False,
        "hired_date": now - timedelta(days=400),
        "last_seen_run_id": 7,
        "status": "active",
        "raw": {"userid": ODD, "list": [1, "\x00", {"k\x00": None}], "ok": True},
    }
    other = {**row, "userid": "by-sqlalchemy"}
    with engine.begin() as conn:
        insert_one(conn, insert(users), row)
        conn.execute(insert(users), other)
    with engine.connect() as conn:
        stored = {
            r["userid"]: dict(r)
            for r in conn.execute(select(users).where(users.c.corp_id == "c\x00")).mappings()
        }
    ours, theirs = stored[ODD], stored["by-sqlalchemy"]
    assert ours.pop("userid") == ODD and theirs.pop("userid") == "by-sqlalchemy"
    # synced_at: each row's own Python default (utcnow at its insert)
    assert abs(ours.pop("synced_at") - theirs.pop("synced_at")) < timedelta(minutes=1)
    assert ours == theirs
    assert ours["raw"] == row["raw"] and ours["name"] == row["name"]


def test_get_user_and_attendance_groups_match_sqlalchemy(engine: Engine) -> None:
    """``get_user`` (every column, JSON, NUL, booleans, aware datetimes) and
    ``managed_attendance_groups`` give what SQLAlchemy's own ``execute`` gives."""
    _seed(engine)
    with engine.begin() as conn:
        repo_attendance.replace_groups(
            conn,
            "c",
            [{"group_id": 5, "group_name": "A"}, {"group_id": 9, "group_name": "B"}],
            {},
            {5: [ODD], 9: [ODD, "plain"]},
        )
    with engine.connect() as conn:
        for userid in (ODD, "plain"):
            own = (
                conn.execute(select(users).where(users.c.corp_id == "c", users.c.userid == userid))
                .mappings()
                .one()
            )
            assert repo_contacts.get_user(conn, "c", userid) == dict(own)
        user = repo_contacts.get_user(conn, "c", ODD)
        assert user is not None and user["raw"]["name"] == "Odd\x00name" and user["boss"] is True
        assert user["synced_at"].utcoffset() == timedelta(0)
        assert repo_contacts.get_user(conn, "c", "nobody") is None
        assert sorted(repo_attendance.managed_attendance_groups(conn, "c", ODD)) == [5, 9]
        assert repo_attendance.managed_attendance_groups(conn, "c", "plain") == [9]
        assert repo_attendance.managed_attendance_groups(conn, "c", "nobody") == []


def test_driver_statements_keep_the_transaction(engine: Engine) -> None:
    """On the driver's cursor too, a statement joins the connection's transaction: rolled back
    with it, kept by its commit (the connection begins as ``exec_driver_sql`` would)."""
    now = utcnow()
    row = {"token_hash": "r" * 64, "corp_id": "c", "userid": "u", "expires_at": now}
    with engine.connect() as conn:
        insert_one(conn, insert(web_sessions), row)
        assert conn.in_transaction()
        conn.rollback()
        assert repo_sessions.get_session(conn, "r" * 64) is None
        insert_one(conn, insert(web_sessions), row)
        conn.commit()
    with engine.connect() as conn:
        found = repo_sessions.get_session(conn, "r" * 64)
        assert found is not None and found["userid"] == "u"


def test_driver_statements_are_seen_by_listeners(engine: Engine) -> None:
    """A connection with a statement listener gets SQLAlchemy's path (the listener sees the
    statement); a refused statement raises SQLAlchemy's wrapped error on every backend."""
    _seed(engine)
    seen: list[str] = []

    def capture(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", capture)
        try:
            assert repo_corps.corp_status(conn, "c") == "active"
        finally:
            sa.event.remove(conn, "before_cursor_execute", capture)
        assert len(seen) == 1 and "corps" in seen[0]
        assert repo_corps.corp_status(conn, "c") == "active"  # no listener: the cursor
        assert len(seen) == 1
        with pytest.raises(DBAPIError):
            run_on_cursor(conn, "SELECT no_such_column FROM corps", ())
