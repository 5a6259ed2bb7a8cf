"""Migrations on MariaDB/MySQL (``DINGSYNC_TEST_MARIADB_URL``, see :mod:`helpers.mariadb`):
upgrade head, downgrade to base, upgrade again, the result matching ``schema.metadata``; the
export audit's append-only triggers refuse UPDATE and DELETE there, and its hash chain (what
``dingsync audit verify`` walks) holds. Skipped when no server answers (a failure under CI)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner

from dingsync.cli import app as cli_app
from dingsync.store import db, repo_audit, schema
from dingsync.store.schema import UTCDateTime, json_type
from dingsync.store.schema_web import web_export_audit
from helpers.mariadb import fresh_mariadb_url
from store.test_migrations import (
    _diffs,
)
from store.test_migrations import (
    test_0010_resolves_stored_unionid_duplicates_and_makes_the_index_unique as check_0010,
)


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


def test_upgrade_downgrade_upgrade_on_mariadb(mariadb: sa.Engine) -> None:
    db.migrate(mariadb)
    assert db.current_revision(mariadb) == db.head_revision() is not None
    assert set(sa.inspect(mariadb).get_table_names()) == set(schema.metadata.tables) | {
        "alembic_version"
    }
    with mariadb.begin() as conn:
        command.downgrade(db.alembic_config(conn), "base")
    assert set(sa.inspect(mariadb).get_table_names()) == {"alembic_version"}
    assert db.current_revision(mariadb) is None
    db.migrate(mariadb)
    assert db.current_revision(mariadb) == db.head_revision()
    assert _diffs(mariadb, schema.metadata) == []
    # Migration 0010's unique unionid index holds on MariaDB too.
    indexes = {i["name"]: i for i in sa.inspect(mariadb).get_indexes("users")}
    assert indexes["ix_users_corp_id_unionid"]["unique"]


def test_audit_is_append_only_and_chained_on_mariadb(mariadb: sa.Engine) -> None:
    db.migrate(mariadb)
    with mariadb.begin() as conn:
        ids = [repo_audit.append_export_audit(conn, _audit_row(i)) for i in range(3)]
    for statement in (
        sa.update(web_export_audit).where(web_export_audit.c.id == ids[1]).values(row_count=0),
        sa.delete(web_export_audit).where(web_export_audit.c.id == ids[1]),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), mariadb.begin() as conn:
            conn.execute(statement)
    with mariadb.connect() as conn:
        check = repo_audit.verify_export_audit(conn)
        count = conn.execute(sa.select(sa.func.count()).select_from(web_export_audit)).scalar()
    assert check.ok and check.rows == 3 == count
    url = mariadb.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli_app, ["audit", "verify", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "3 rows, hash chain intact" in result.output


def test_0010_resolves_unionid_duplicates_on_mariadb() -> None:
    """The same check as on SQLite and PostgreSQL (``test_migrations.py``), on MariaDB."""
    check_0010(fresh_mariadb_url())


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
