"""The web tables on SQLite, PostgreSQL and MariaDB: the export audit is append-only in the database
itself (``repo_audit``); sessions and replay records (``repo_sessions``), roles and local
disable (``repo_local_access``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.dialects.mysql
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite
from sqlalchemy import Engine

from dingsync.store import repo_audit, repo_local_access, repo_sessions
from dingsync.store.schema import utcnow
from dingsync.store.schema_web import web_export_audit
from dingsync.web import sessions


def _audit_row(**kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "corp_id": "c",
        "userid": "u1",
        "kind": "users",
        "format": "csv",
        "filters": {"requested": {"dept_id": 5}},
        "row_count": 3,
        "sha256": "ab" * 32,
        "byte_size": 120,
        "client": "web",
    }
    row.update(kw)
    return row


def test_audit_rows_cannot_be_updated_or_deleted(engine: Engine) -> None:
    with engine.begin() as conn:
        first = repo_audit.append_export_audit(conn, _audit_row())
        repo_audit.append_export_audit(conn, _audit_row(userid="u2", row_count=7))
    statements = [
        sa.update(web_export_audit).where(web_export_audit.c.id == first).values(row_count=0),
        sa.update(web_export_audit).values(sha256="0" * 64),
        sa.delete(web_export_audit).where(web_export_audit.c.id == first),
        sa.delete(web_export_audit),
        sa.text("UPDATE web_export_audit SET userid = 'someone else'"),
        sa.text("DELETE FROM web_export_audit"),
    ]
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError) as err, engine.begin() as conn:
            conn.execute(statement)
        assert "append-only" in str(err.value)
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE web_export_audit"))
    with engine.connect() as conn:
        rows, total = repo_audit.list_export_audit(conn, "c")
    assert total == 2
    assert [(r["userid"], r["row_count"]) for r in rows] == [("u2", 7), ("u1", 3)]
    assert rows[1]["filters"] == {"requested": {"dept_id": 5}}
    assert rows[1]["created_at"].tzinfo is not None
    # Appending still works after the refusals.
    with engine.begin() as conn:
        repo_audit.append_export_audit(conn, _audit_row())
    with engine.connect() as conn:
        assert repo_audit.list_export_audit(conn, "c")[1] == 3


def test_audit_rows_cannot_be_replaced_or_upserted(engine: Engine) -> None:
    """``REPLACE`` deletes on SQLite without firing delete triggers; an upsert takes the update
    path. Both — and UPDATE, DELETE — are refused (migration 0007 on SQLite)."""
    with engine.begin() as conn:
        first = repo_audit.append_export_audit(conn, _audit_row())
    forged = {
        "id": first,
        "corp_id": "c",
        "userid": "intruder",
        "kind": "users",
        "format": "csv",
        "row_count": 0,
        "sha256": "0" * 64,
        "byte_size": 0,
    }
    columns = ", ".join(forged)
    values = ", ".join(f":{k}" for k in forged)
    row = f"web_export_audit ({columns}, created_at) VALUES ({values}, CURRENT_TIMESTAMP)"
    sqlite = engine.dialect.name == "sqlite"
    statements: list[Any]
    if engine.dialect.name == "mysql":
        my = sa.dialects.mysql.insert(web_export_audit).values(**forged, created_at=utcnow())
        statements = [
            my.on_duplicate_key_update(userid="intruder"),
            sa.text(f"INSERT INTO {row} ON DUPLICATE KEY UPDATE userid = 'intruder'"),
            # REPLACE deletes the old row first: the delete trigger refuses it.
            sa.text(f"REPLACE INTO {row}"),
        ]
    else:
        insert: Any = sa.dialects.sqlite.insert if sqlite else sa.dialects.postgresql.insert
        statements = [
            insert(web_export_audit)
            .values(**forged, created_at=utcnow())
            .on_conflict_do_update(index_elements=["id"], set_={"userid": "intruder"}),
            sa.text(f"INSERT INTO {row} ON CONFLICT (id) DO UPDATE SET userid = 'intruder'"),
        ]
    statements += [
        sa.text(f"INSERT INTO {row}"),
        sa.update(web_export_audit).values(userid="intruder"),
        sa.delete(web_export_audit),
    ]
    if sqlite:
        statements += [
            sa.text(f"REPLACE INTO {row}"),
            sa.text(f"INSERT OR REPLACE INTO {row}"),
            insert(web_export_audit)
            .values(**forged, created_at=utcnow())
            .prefix_with("OR REPLACE"),
        ]
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError) as err, engine.begin() as conn:
            conn.execute(statement, forged if isinstance(statement, sa.TextClause) else {})
        message = str(err.value)
        assert "append-only" in message or "uplicate" in message, statement
    with engine.connect() as conn:
        rows, total = repo_audit.list_export_audit(conn, "c")
    assert total == 1 and rows[0]["id"] == first
    assert (rows[0]["userid"], rows[0]["row_count"], rows[0]["sha256"]) == ("u1", 3, "ab" * 32)
    # New rows (no id given, or a new one) are still appended.
    with engine.begin() as conn:
        second = repo_audit.append_export_audit(conn, _audit_row(userid="u2"))
        conn.execute(sa.insert(web_export_audit).values(**{**_audit_row(), "id": second + 5}))
    with engine.connect() as conn:
        assert repo_audit.list_export_audit(conn, "c")[1] == 3


def test_sessions_and_replay_records(engine: Engine) -> None:
    now = utcnow()
    token = sessions.new_token()
    digest = sessions.token_hash(token)
    with engine.begin() as conn:
        repo_sessions.create_session(
            conn,
            token_hash=digest,
            corp_id="c",
            userid="u1",
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
        key = sessions.code_hash("c", "the-code")
        repo_sessions.remember_login_code(
            conn,
            code_hash=key,
            corp_id="c",
            userid="u1",
            session_hash=digest,
            sealed_token=sessions.seal_token("c", "the-code", token),
            created_at=now,
            expires_at=now + timedelta(seconds=60),
        )
    with engine.connect() as conn:
        stored = repo_sessions.get_session(conn, digest)
        replay = repo_sessions.find_login_code(conn, key)
        # Nothing secret is stored in clear.
        dump = str(conn.execute(sa.text("SELECT * FROM web_sessions")).all())
        dump += str(conn.execute(sa.text("SELECT * FROM web_login_codes")).all())
    assert token not in dump and "the-code" not in dump
    assert stored is not None and stored["userid"] == "u1" and stored["revoked_at"] is None
    assert replay is not None
    assert sessions.unseal_token("c", "the-code", replay["sealed_token"]) == token
    assert sessions.unseal_token("c", "another-code", replay["sealed_token"]) is None
    with engine.begin() as conn:
        assert repo_sessions.revoke_session(conn, digest, now) is True
        assert repo_sessions.revoke_session(conn, digest, now) is False
        purged = repo_sessions.purge_expired(conn, now + timedelta(hours=2))
    assert purged == {"login_codes": 1, "sessions": 1}


def test_local_disable_and_roles(engine: Engine) -> None:
    with engine.begin() as conn:
        assert repo_local_access.set_local_disabled(conn, "c", "newbie", True) is False
        assert repo_local_access.is_local_disabled(conn, "c", "newbie") is True
        assert repo_local_access.list_disabled(conn, "c") == ["newbie"]
        assert repo_local_access.set_local_disabled(conn, "c", "newbie", False) is True
        assert repo_local_access.is_local_disabled(conn, "c", "newbie") is False
        repo_local_access.grant_role(conn, "c", "u1", "hr", granted_by="boss")
        repo_local_access.grant_role(conn, "c", "u1", "hr")
        repo_local_access.grant_role(conn, "c", "u1", "admin")
        with pytest.raises(ValueError):
            repo_local_access.grant_role(conn, "c", "u1", "superuser")
        assert repo_local_access.user_roles(conn, "c", "u1") == ["admin", "hr"]
        assert repo_local_access.revoke_role(conn, "c", "u1", "admin") is True
        assert repo_local_access.revoke_role(conn, "c", "u1", "admin") is False
        grants = repo_local_access.list_roles(conn, "c")
    assert [(g["userid"], g["role"], g["granted_by"]) for g in grants] == [("u1", "hr", "boss")]


def test_a_userid_disabled_before_it_is_synced_is_nobody_in_the_directory(engine: Engine) -> None:
    """``users disable nobody`` keeps a stub row for the block, but the directory's counts and
    lists (``contacts summary``, ``corps list``, ``GET /api/users``) are the synced people's."""
    from dingsync.commands.corps import _corp_summary
    from dingsync.store import repo, repo_contacts
    from dingsync.sync.contacts import user_row

    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "c", "name": "C"})
        repo.upsert_users(
            conn,
            "c",
            [user_row("c", None, {"userid": u, "name": u.upper()}) for u in ("u1", "u2")],
        )
        assert repo_local_access.set_local_disabled(conn, "c", "nobody", True) is False
        assert repo_local_access.set_local_disabled(conn, "c", "nobody", False) is True
        assert repo_local_access.set_local_disabled(conn, "c", "later", True) is False
        summary = repo.count_summary(conn, "c")
        people, total = repo_contacts.list_users(conn, "c", include_inactive=True)
        corp = dict(
            conn.execute(sa.text("SELECT * FROM corps WHERE corp_id = 'c'")).mappings().one()
        )
        listed = _corp_summary(conn, corp, set())
        # The block itself still holds and is listed.
        assert repo_local_access.is_local_disabled(conn, "c", "later") is True
        assert repo_local_access.list_disabled(conn, "c") == ["later"]
    assert (summary["users"], summary["active_users"], summary["inactive_users"]) == (2, 2, 0)
    assert (total, [p["userid"] for p in people]) == (2, ["u1", "u2"])
    assert listed["users"] == 2

    # When the person is synced, they count, and the block made in advance still holds.
    with engine.begin() as conn:
        repo.upsert_users(conn, "c", [user_row("c", None, {"userid": "later", "name": "L"})])
        assert repo.count_summary(conn, "c")["users"] == 3
        assert repo_local_access.is_local_disabled(conn, "c", "later") is True
