"""Alembic environment for dingsync's schema.

Normally run by :func:`dingsync.store.db.migrate`, which passes its own connection through
``config.attributes["connection"]`` (inside the caller's transaction). For development use of the
``alembic`` command line (or ``alembic upgrade --sql``), ``sqlalchemy.url`` in the Alembic config
names the database instead (``alembic.ini``, or ``alembic_config()`` plus
``config.set_main_option("sqlalchemy.url", url)``); the store never reads the environment.
"""

from __future__ import annotations

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
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url in the Alembic config")
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
