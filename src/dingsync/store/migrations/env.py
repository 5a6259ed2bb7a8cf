"""Alembic environment for dingsync's schema.

Normally run by :func:`dingsync.store.db.migrate`, which passes its own connection through
``config.attributes["connection"]`` (inside the caller's transaction). For development use of the
``alembic`` command line, ``sqlalchemy.url`` in the config (or ``DINGSYNC_DATABASE_URL``) names
the database instead.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from dingsync.store.schema import metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds tables for future revisions.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DINGSYNC_DATABASE_URL")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or DINGSYNC_DATABASE_URL")
    return url


def run_migrations_offline() -> None:
    """Emit SQL for ``alembic upgrade --sql`` without a database."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    from dingsync.store.db import create_engine_for

    engine = create_engine_for(_url())
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
