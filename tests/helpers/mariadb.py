"""The MariaDB (or MySQL) server the tests use: ``DINGSYNC_TEST_MARIADB_URL`` (default the local
server as root, database ``dingsync_test``). Without a server (or without the PyMySQL driver) the
caller skips with the reason, except under ``CI=true`` (where ``.ci/run`` has started it) when a
missing server is a failure.

Two ways to get a database:

- :func:`fresh_mariadb_url` drops and creates the process's empty database (the name with
  ``_e<pid>``, ``utf8mb4``; dropped when the run ends): for the tests of migrations themselves.
- :func:`migrated_mariadb_url` gives the session's database (the name with ``_p<pid>``, so xdist
  workers and runs side by side each have their own; dropped when the run ends), migrated once
  per process and emptied before each test:
  the tables that hold rows or have used their ``AUTO_INCREMENT`` are truncated (``TRUNCATE``
  does not fire the audit table's append-only triggers and restarts the ids). A test that leaves
  the schema changed (triggers dropped, a downgrade) gets a database rebuilt from scratch. Running
  the 20-odd migrations per test costs seconds on MariaDB; the reset costs tens of milliseconds.
"""

from __future__ import annotations

import atexit
import os

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from dingsync.store.schema_web import AUDIT_TRIGGER_SQL

DEFAULT_MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/dingsync_test"


def mariadb_url() -> str:
    """``DINGSYNC_TEST_MARIADB_URL``, else :data:`DEFAULT_MARIADB_URL`."""
    return os.environ.get("DINGSYNC_TEST_MARIADB_URL", DEFAULT_MARIADB_URL)


def _unavailable(shown: str, exc: BaseException) -> None:
    problem = f"MariaDB server not reachable at {shown}: {exc.__class__.__name__}: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {problem}")
    pytest.skip(problem)


def _recreate_database(url: sa.URL) -> None:
    """Drop and create ``url``'s database (``utf8mb4``). Raises when the server does not answer."""
    name = url.database
    assert name, f"no database name in {url.render_as_string(hide_password=True)}"
    admin = sa.create_engine(
        url.set(database="mysql"), poolclass=NullPool, connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as conn:
            quoted = name.replace("`", "``")
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{quoted}`"))
            conn.execute(
                sa.text(
                    f"CREATE DATABASE `{quoted}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            )
    finally:
        admin.dispose()


_fresh_registered: set[str] = set()


def fresh_mariadb_url() -> str:
    """The process's empty database (the test URL's name with ``_e<pid>``: two runs side by side
    never drop each other's), dropped and created anew (``utf8mb4``). Skips the calling test when
    the driver is missing or the server does not answer (fails under ``CI=true``)."""
    base = sa.engine.make_url(mariadb_url())
    target = base.set(database=f"{base.database}_e{os.getpid()}")
    url = target.render_as_string(hide_password=False)
    try:
        _recreate_database(target)
    except Exception as exc:  # no driver, no server, no rights: "not available"
        _unavailable(base.render_as_string(hide_password=True), exc)
    if url not in _fresh_registered:
        _fresh_registered.add(url)
        atexit.register(_drop_shared, url)
    return url


# The session's migrated database: its URL and the shape it had right after migrating.
_shared_url: str | None = None
_shared_shape: tuple[object, ...] | None = None
_shared_problem: BaseException | None = None

_SHAPE_SQL = (
    "SELECT 'table', table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
    "UNION ALL SELECT 'trigger', trigger_name FROM information_schema.triggers "
    "WHERE trigger_schema = DATABASE() "
    "UNION ALL SELECT 'index', CONCAT(table_name, '.', index_name) "
    "FROM information_schema.statistics WHERE table_schema = DATABASE()"
)


def _shape(conn: sa.Connection) -> tuple[object, ...]:
    """The schema's tables, triggers, indexes and Alembic revision: what a test may change."""
    things = sorted(tuple(r) for r in conn.execute(sa.text(_SHAPE_SQL)))
    try:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        revision = None
    return (revision, *things)


def _build_shared(url: str) -> tuple[object, ...]:
    """Create and migrate the shared database; its shape afterwards."""
    from dingsync.store import db

    _recreate_database(sa.engine.make_url(url))
    engine = db.create_engine_for(url, poolclass=NullPool)
    try:
        db.migrate(engine)
        with engine.connect() as conn:
            return _shape(conn)
    finally:
        engine.dispose()


def _empty_tables(conn: sa.Connection) -> None:
    """Truncate every table but ``alembic_version`` that holds a row or has used an id."""
    tables = [
        name
        for (name,) in conn.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' "
                "AND table_name <> 'alembic_version'"
            )
        )
    ]
    if not tables:
        return
    probe = " UNION ALL ".join(
        f"SELECT '{name}' FROM DUAL WHERE EXISTS (SELECT 1 FROM `{name}`)" for name in tables
    )
    dirty = {name for (name,) in conn.execute(sa.text(probe))}
    dirty |= {
        name
        for (name,) in conn.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND auto_increment > 1"
            )
        )
    }
    if not dirty:
        return
    conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
    for name in sorted(dirty):
        conn.execute(sa.text(f"TRUNCATE TABLE `{name}`"))
    conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))


def _drop_shared(url: str) -> None:
    """Drop the session's database when the run ends."""
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="mysql"), poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{target.database}`"))
    except sa.exc.DBAPIError:
        pass  # the server went first: nothing to clean
    finally:
        admin.dispose()


def _only_audit_triggers_gone(shape: tuple[object, ...]) -> bool:
    """Whether ``shape`` is the migrated one but for the audit's triggers (a test of the hash
    chain dropped them, as the table's owner could): putting them back is quicker than a
    rebuild."""
    assert _shared_shape is not None
    return {x for x in shape if not _is_trigger(x)} == {
        x for x in _shared_shape if not _is_trigger(x)
    }


def _is_trigger(thing: object) -> bool:
    return isinstance(thing, tuple) and thing[0] == "trigger"


def migrated_mariadb_url() -> str:
    """The session's MariaDB database, migrated to head and empty (see the module's doc). Skips
    the calling test when no server answers (fails under ``CI=true``)."""
    global _shared_url, _shared_shape, _shared_problem
    base = sa.engine.make_url(mariadb_url())
    shown = base.render_as_string(hide_password=True)
    if _shared_problem is not None:
        _unavailable(shown, _shared_problem)
    if _shared_url is None:
        # One per process: an xdist worker, or two runs side by side, never share it.
        name = f"{base.database}_p{os.getpid()}"
        url = base.set(database=name).render_as_string(hide_password=False)
        try:
            _shared_shape = _build_shared(url)
        except Exception as exc:
            _shared_problem = exc
            _unavailable(shown, exc)
        _shared_url = url
        atexit.register(_drop_shared, url)
        return url
    engine = sa.create_engine(_shared_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            shape = _shape(conn)
            if shape != _shared_shape and _only_audit_triggers_gone(shape):
                _empty_tables(conn)
                for statement in AUDIT_TRIGGER_SQL["mysql"]:
                    conn.exec_driver_sql(statement)
                shape = _shape(conn)
            intact = shape == _shared_shape
            if intact:
                _empty_tables(conn)
                conn.commit()
    except sa.exc.DBAPIError:  # the database itself was dropped
        intact = False
    finally:
        engine.dispose()
    if not intact:
        _shared_shape = _build_shared(_shared_url)
    return _shared_url
