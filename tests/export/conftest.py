"""Fixtures shared by the export tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dingsync.store import db
from helpers.mariadb import fresh_mariadb_url


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated database of each kind: SQLite in the test's folder, PostgreSQL
    (``pg_url``) and MariaDB (a new database per test). MariaDB's driver streams without a
    server-side cursor of its own, so the exports' streamed queries are checked on it too."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'export.db'}"
    elif request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    else:
        url = fresh_mariadb_url()
    engine = db.create_engine_for(url)
    db.migrate(engine)
    yield engine
    engine.dispose()
