"""Engines and migrations.

``create_engine_for(url)`` knows each backend's needs (SQLite: directory, WAL, foreign keys, busy
timeout; PostgreSQL through psycopg 3; MySQL/MariaDB through PyMySQL); ``migrate(engine)`` runs
Alembic's ``upgrade head`` programmatically from the migrations shipped inside this package, so it
works from an installed wheel with no ``alembic.ini``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from dingsync.store.nul import dumps_json

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: How long a SQLite writer waits for another one before "database is locked" (ms).
SQLITE_BUSY_TIMEOUT_MS = 30_000

# pg_advisory_xact_lock key: one migrator at a time across processes ("dingsync" in ASCII).
_PG_MIGRATION_LOCK = 0x64696E6773796E63

_DEFAULT_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


def normalise_url(url: str | URL) -> URL:
    """Parse ``url`` and pick our driver when none is named.

    ``postgresql://`` and ``postgres://`` → ``postgresql+psycopg://``; ``mysql://`` →
    ``mysql+pymysql://``; ``mariadb://`` → ``mariadb+pymysql://``. An explicit driver is kept.
    """
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    parsed = make_url(url)
    driver = _DEFAULT_DRIVERS.get(parsed.drivername)
    if driver:
        parsed = parsed.set(drivername=driver)
    return parsed


def _json_dumps(value: Any) -> str:
    # Chinese names stay readable in JSON columns (no \uXXXX escapes); orjson where it can.
    return dumps_json(value)


def create_engine_for(url: str | URL, **kwargs: Any) -> Engine:
    """An :class:`~sqlalchemy.Engine` for ``url``, set up for its backend.

    - SQLite file: its parent directory is created; each connection gets ``journal_mode=WAL``,
      ``foreign_keys=ON``, ``busy_timeout`` (:data:`SQLITE_BUSY_TIMEOUT_MS`) and
      ``synchronous=NORMAL``. ``sqlite://`` (memory) shares one connection across threads.
    - PostgreSQL: psycopg 3 (see :func:`normalise_url`), ``pool_pre_ping``.
    - MySQL/MariaDB: PyMySQL unless another driver is named, ``utf8mb4``, ``pool_pre_ping``; a
      CHECK constraint's refusal is raised as ``IntegrityError`` as on the other backends.

    ``kwargs`` go to :func:`sqlalchemy.create_engine` and win over these defaults.
    """
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {"json_serializer": _json_dumps}
    if backend == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or parsed.query.get("mode") == "memory"
        if in_memory:
            options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            if not database.startswith("file:"):
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        options["pool_pre_ping"] = True
        if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    options.update(kwargs)
    engine = create_engine(parsed, **options)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
    elif backend in ("mysql", "mariadb"):
        event.listen(engine, "handle_error", _mysql_check_violation_is_integrity)
    return engine


#: MariaDB's ``ER_CONSTRAINT_FAILED`` and MySQL's ``ER_CHECK_CONSTRAINT_VIOLATED``: a CHECK
#: constraint refused the row. PyMySQL maps them to ``OperationalError``.
_MYSQL_CHECK_VIOLATIONS = frozenset({4025, 3819})


def _mysql_check_violation_is_integrity(context: ExceptionContext) -> None:
    """Raise a CHECK constraint's refusal on MySQL/MariaDB as ``sqlalchemy.exc.IntegrityError``,
    as SQLite and PostgreSQL report it (SQLSTATE 23000), instead of PyMySQL's
    ``OperationalError``, so callers catch one error on every backend."""
    orig = context.original_exception
    code = orig.args[0] if getattr(orig, "args", None) else None
    if code in _MYSQL_CHECK_VIOLATIONS and not isinstance(
        context.sqlalchemy_exception, IntegrityError
    ):
        raise IntegrityError(
            context.statement, context.parameters, orig, hide_parameters=False
        ) from orig


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic :class:`Config` for the packaged migrations (no ``alembic.ini`` needed).

    With ``connection``, ``env.py`` runs on it (inside its transaction).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (default: the latest), in one
    transaction where the backend allows DDL in transactions (PostgreSQL does).

    Safe to call on every start: an up-to-date database is left alone. On PostgreSQL an advisory
    lock makes concurrent callers (several workers starting at once) wait for each other. On an
    empty MySQL/MariaDB database the default collation becomes :data:`MYSQL_COLLATION` first
    (``ALTER DATABASE``: the migrating user needs the ALTER privilege on it, as for the tables).
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        elif conn.dialect.name in ("mysql", "mariadb") and _mysql_is_empty(conn):
            # Tables created from here on take the binary collation (migration 0026 says why).
            conn.execute(text(f"ALTER DATABASE CHARACTER SET utf8mb4 COLLATE {MYSQL_COLLATION}"))
        command.upgrade(alembic_config(conn), revision)


#: The collation of every MySQL/MariaDB table (migration 0026): code point comparison.
MYSQL_COLLATION = "utf8mb4_bin"


def _mysql_is_empty(conn: Connection) -> bool:
    """Whether the current MySQL/MariaDB database has no table yet (a first migration)."""
    count = conn.execute(
        text("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()")
    ).scalar()
    return not count


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The latest revision shipped with this package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


__all__ = [
    "MIGRATIONS_DIR",
    "MYSQL_COLLATION",
    "SQLITE_BUSY_TIMEOUT_MS",
    "alembic_config",
    "create_engine_for",
    "current_revision",
    "head_revision",
    "migrate",
    "normalise_url",
]
