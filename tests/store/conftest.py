"""Store fixtures: a migrated engine on each backend (``db_url`` runs SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from dingsync.store import db


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated database (SQLite file or a PostgreSQL schema)."""
    eng = db.create_engine_for(db_url)
    db.migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()
