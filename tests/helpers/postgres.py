"""The PostgreSQL server the tests use: ``DINGSYNC_TEST_POSTGRES_URL`` (default the local server,
database ``dingsync_test``), the database created when missing, and a fresh schema per use."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/dingsync_test"


def postgres_base_url() -> str:
    """``DINGSYNC_TEST_POSTGRES_URL``, else :data:`DEFAULT_PG_URL`."""
    return os.environ.get("DINGSYNC_TEST_POSTGRES_URL", DEFAULT_PG_URL)


_pg_problem: bool | str | None = False  # False = not probed yet


def ensure_postgres_database(url: str) -> None:
    """Create the database of ``url`` when it is missing: connect to the server's ``postgres``
    maintenance database (autocommit) and ``CREATE DATABASE``. Raises when the server does not
    answer (``sqlalchemy.exc.OperationalError``)."""
    target = sa.engine.make_url(url)
    name = target.database
    assert name, f"no database name in {url}"
    admin = sa.create_engine(
        target.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                quoted = name.replace('"', '""')
                try:
                    conn.execute(sa.text(f'CREATE DATABASE "{quoted}"'))
                except sa.exc.ProgrammingError:  # created meanwhile by another session
                    pass
    finally:
        admin.dispose()


def postgres_unavailable() -> str | None:
    """None when PostgreSQL answers (its test database created if missing), else the reason
    it does not (probed once per session)."""
    global _pg_problem
    if _pg_problem is False:
        url = postgres_base_url()
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        try:
            ensure_postgres_database(url)
            engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
            _pg_problem = None
        except Exception as exc:  # any failure means "not available"
            name = exc.__class__.__name__
            _pg_problem = f"PostgreSQL server not reachable at {shown}: {name}"
    return _pg_problem  # type: ignore[return-value]


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL is unreachable (fail instead under ``CI=true``)."""
    problem = postgres_unavailable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL of the test database whose ``search_path`` is a fresh schema, dropped on exit
    (skips, or fails under ``CI=true``, when the server is unreachable)."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = postgres_base_url()
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
