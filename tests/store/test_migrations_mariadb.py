"""Migration 0013 on MariaDB/MySQL (``DINGSYNC_TEST_MARIADB_URL``, see :mod:`helpers.mariadb`): it
drops and re-creates the audit's triggers around its backfill, which MariaDB does differently from
the other backends. Skipped when no server answers (a failure under CI).

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

from dingsync.store import db, repo_audit
from dingsync.store.schema import UTCDateTime, json_type
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
