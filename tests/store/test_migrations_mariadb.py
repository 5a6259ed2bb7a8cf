"""Migrations 0013 and 0026 on MariaDB/MySQL (``DINGSYNC_TEST_MARIADB_URL``, see
:mod:`helpers.mariadb`): 0013 drops and re-creates the audit's triggers around its backfill, 0026
converts a database's tables to the binary collation. Skipped when no server answers (a failure
under CI).

The other migration tests (upgrade from empty, downgrade to base and up again, 0009, 0010, 0014,
0015) and the audit's append-only triggers and hash chain run on MariaDB with SQLite and
PostgreSQL through the shared ``empty_db_url``/``engine`` fixtures (``test_migrations.py``,
``test_repo_web.py``, ``test_repo_audit_chain.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from dingsync.store import db, repo_audit
from dingsync.store.schema import UTCDateTime, json_type, users
from dingsync.store.schema_web import web_export_audit
from helpers.mariadb import fresh_mariadb_url


@pytest.fixture
def mariadb() -> Iterator[sa.Engine]:
    """An engine on a freshly created, empty MariaDB database."""
    engine = db.create_engine_for(fresh_mariadb_url())
    try:
        yield engine
    finally:
        engine.dispose()


def _audit_row(n: int) -> dict[str, Any]:
    return {
        "corp_id": "c",
        "userid": f"u{n}",
        "kind": "users",
        "format": "csv",
        "filters": {"requested": {"dept_id": n}, "note": "导出"},
        "row_count": n,
        "sha256": "ab" * 32,
        "byte_size": 100 + n,
        "client": "cli",
    }


def test_0013_chains_audit_rows_already_stored_on_mariadb(mariadb: sa.Engine) -> None:
    """0013 backfills the chain over rows stored before it (dropping and re-creating the
    triggers around the backfill): the chain verifies and the triggers are back."""
    db.migrate(mariadb, "0012")
    types = {"created_at": UTCDateTime(), "filters": json_type()}
    before = sa.table("web_export_audit", *(sa.column(c, types.get(c)) for c in repo_audit.CHAINED))
    when = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with mariadb.begin() as conn:
        conn.execute(sa.insert(before), [_audit_row(i) | {"created_at": when} for i in range(3)])
    db.migrate(mariadb)
    with mariadb.connect() as conn:
        check = repo_audit.verify_export_audit(conn)
    assert check.ok and check.rows == 3
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), mariadb.begin() as conn:
        conn.execute(sa.delete(web_export_audit))


def test_0026_converts_older_tables_to_the_binary_collation(mariadb: sa.Engine) -> None:
    """A database migrated before 0026 under the server's ``utf8mb4_unicode_ci`` (its tables
    created by plain Alembic, not :func:`db.migrate`) ends with every table ``utf8mb4_bin``: ids
    differing in case and names differing in an emoji are told apart."""
    with mariadb.begin() as conn:
        command.upgrade(db.alembic_config(conn), "0025")
    with mariadb.begin() as conn:
        conn.execute(sa.insert(users), [{"corp_id": "c", "userid": "u1", "name": "张😀"}])
        assert conn.execute(sa.select(users.c.userid).where(users.c.name == "张😃")).all()
    db.migrate(mariadb)
    with mariadb.begin() as conn:
        collations = set(
            conn.execute(
                sa.text(
                    "SELECT table_collation FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name <> 'alembic_version'"
                )
            ).scalars()
        )
        assert collations == {db.MYSQL_COLLATION}
        assert not conn.execute(sa.select(users.c.userid).where(users.c.name == "张😃")).all()
        conn.execute(sa.insert(users), [{"corp_id": "c", "userid": "U1", "name": "张😃"}])
        assert conn.execute(sa.select(users.c.name).where(users.c.userid == "U1")).scalar() == (
            "张😃"
        )
