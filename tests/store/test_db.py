"""Engines: URL normalisation and per-backend connection setup."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from dingsync.store import db, repo


def test_normalise_url() -> None:
    n = db.normalise_url
    assert n("postgresql://u@h/d").drivername == "postgresql+psycopg"
    assert n("postgres://u@h:5433/d").render_as_string() == "postgresql+psycopg://u@h:5433/d"
    assert n("postgresql+psycopg://u@h/d").drivername == "postgresql+psycopg"
    assert n("postgresql+asyncpg://u@h/d").drivername == "postgresql+asyncpg"
    assert n("mysql://u@h/d").drivername == "mysql+pymysql"
    assert n("mariadb://u@h/d").drivername == "mariadb+pymysql"
    assert n("mysql+mysqldb://u@h/d").drivername == "mysql+mysqldb"
    assert n("sqlite:///x.db").drivername == "sqlite"


def test_sqlite_file_engine(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    engine = db.create_engine_for(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
        assert path.parent.is_dir()
        assert pragma == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": db.SQLITE_BUSY_TIMEOUT_MS,
        }
    finally:
        engine.dispose()


def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = db.create_engine_for(f"sqlite:///{tmp_path / 'fk.db'}")
    db.migrate(engine)
    try:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            repo.replace_department_members(conn, "c", 2, [{"userid": "nobody"}])
    finally:
        engine.dispose()


async def test_sqlite_memory_is_one_database_across_threads() -> None:
    engine = db.create_engine_for("sqlite://")
    db.migrate(engine)

    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM corps")).scalar_one())

    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "c"})
    assert await asyncio.to_thread(count) == 1
    engine.dispose()


def test_plain_postgresql_url(pg_url: str) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    engine = db.create_engine_for(plain)
    try:
        assert engine.dialect.driver == "psycopg"
        db.migrate(engine)
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()
