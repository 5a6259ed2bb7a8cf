"""One sync run per corp and database at a time.

Two ``dingsync sync`` processes on the same database would both resume the same unfinished run
and do its work twice (and spend DingTalk's rate limit twice). :func:`sync_lease` takes a lock
that the operating system or the database server releases by itself when the holder dies, so a
killed sync never leaves a stale lock behind:

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection kept for the run;
- MySQL/MariaDB: ``GET_LOCK(name, 0)`` on a connection kept for the run;
- SQLite file: ``flock`` on ``<database>-sync-<corp>.lock`` beside the database file;
- SQLite in memory: a lock inside this process.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

#: In-process holders for databases without a file or server (``sqlite://``).
_local_held: set[tuple[int, str]] = set()
_local_guard = threading.Lock()


class SyncAlreadyRunning(RuntimeError):
    """Another sync of this corp is running on this database (raised by :func:`sync_lease`)."""

    def __init__(self, corp_id: str) -> None:
        super().__init__(
            f"another sync of corp {corp_id} is running on this database; "
            "wait for it to finish (it is resumed, not repeated) or stop it first"
        )
        self.corp_id = corp_id


class CorpNotActive(RuntimeError):
    """The company is registered as ``relieved`` or ``stopped`` (``corps.status``): its sync
    refuses to run; its data is kept (raised by ``run_sync`` before it does anything)."""

    def __init__(self, corp_id: str, status: str) -> None:
        super().__init__(
            f"corp {corp_id} is {status}: its sync is stopped (its data is kept; "
            "`dingsync corps show` tells more)"
        )
        self.corp_id = corp_id
        self.status = status


def _key(name: str) -> bytes:
    return hashlib.sha256(f"dingsync-sync:{name}".encode()).digest()


@contextmanager
def sync_lease(engine: Engine, corp_id: str) -> Iterator[None]:
    """Hold the sync lock of ``corp_id`` on ``engine``'s database for the ``with`` block.

    Raises :class:`SyncAlreadyRunning` at once (no waiting) when another process or task holds
    it.
    """
    backend = engine.dialect.name
    if backend == "postgresql":
        # Advisory locks are server-wide: the database and schema are part of the key.
        with _server_lock(
            engine,
            corp_id,
            text("SELECT current_database() || '.' || current_schema()"),
            lambda key: {"k": int.from_bytes(key[:8], "big", signed=True)},
            text("SELECT pg_try_advisory_lock(:k)"),
            text("SELECT pg_advisory_unlock(:k)"),
        ):
            yield
    elif backend in ("mysql", "mariadb"):
        with _server_lock(
            engine,
            corp_id,
            text("SELECT DATABASE()"),
            lambda key: {"k": "dingsync-sync-" + key.hex()[:40]},
            text("SELECT GET_LOCK(:k, 0)"),
            text("SELECT RELEASE_LOCK(:k)"),
        ):
            yield
    elif backend == "sqlite" and _sqlite_file(engine) is not None:
        with _file_lock(engine, corp_id):
            yield
    else:
        with _local_lock(engine, corp_id):
            yield


def sync_running(engine: Engine, corp_id: str) -> bool:
    """Whether a sync of ``corp_id`` holds the lock on ``engine``'s database right now (this
    process or another). A run stored as ``running`` while nobody holds the lock was left by a
    process that died: it is interrupted, and the next sync resumes it."""
    try:
        with sync_lease(engine, corp_id):
            return False
    except SyncAlreadyRunning:
        return True


@contextmanager
def _server_lock(
    engine: Engine,
    corp_id: str,
    scope: Any,
    params_for: Callable[[bytes], dict[str, Any]],
    take: Any,
    release: Any,
) -> Iterator[None]:
    conn = engine.connect()
    try:
        where = conn.execute(scope).scalar()
        params = params_for(_key(f"{where}:{corp_id}"))
        got = conn.execute(take, params).scalar()
        conn.commit()
        if not got:
            raise SyncAlreadyRunning(corp_id)
        try:
            yield
        finally:
            conn.execute(release, params)
            conn.commit()
    finally:
        conn.close()


def _sqlite_file(engine: Engine) -> Path | None:
    database = engine.url.database or ""
    if database in ("", ":memory:") or engine.url.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
    return Path(database).expanduser()


@contextmanager
def _file_lock(engine: Engine, corp_id: str) -> Iterator[None]:
    import fcntl

    path = _sqlite_file(engine)
    assert path is not None
    lock_path = path.with_name(f"{path.name}-sync-{_key(corp_id).hex()[:12]}.lock")
    with open(lock_path, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncAlreadyRunning(corp_id) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def _local_lock(engine: Engine, corp_id: str) -> Iterator[None]:
    key = (id(engine), corp_id)
    with _local_guard:
        if key in _local_held:
            raise SyncAlreadyRunning(corp_id)
        _local_held.add(key)
    try:
        yield
    finally:
        with _local_guard:
            _local_held.discard(key)
