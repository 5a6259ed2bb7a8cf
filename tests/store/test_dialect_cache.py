"""What the store compiles for an engine (driver statements, tuple upserts, window deletes,
prebuilt selects and one-row inserts) lives as long as that engine's dialect, no longer: an
engine disposed and dropped is freed with all of it. Before, per-dialect caches were weak-keyed
dictionaries whose values referred to their key, so every engine ever opened stayed in memory
(``sync --corp … --every`` opens one per run). On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
import gc
import weakref
from datetime import UTC, datetime, timedelta

from dingsync.sandbox import SandboxServer
from dingsync.store import db, repo_login, repo_sessions
from dingsync.store.repo import dialect_cache
from helpers.attendance import sync_all
from helpers.sandboxes import SandboxSpec

SANDBOX = SandboxSpec(seed=7, users=20, days=5)


def _use_every_cache(sandbox: SandboxServer, url: str) -> weakref.ref[object]:
    """Open an engine on ``url``, sync the directory and attendance and log a session through
    it, dispose it; a weak reference to its dialect and the caches' names it filled."""
    engine = db.create_engine_for(url)
    db.migrate(engine)
    corp = sandbox.app.corp_id
    assert asyncio.run(sync_all(sandbox, engine, days=5)).status == "succeeded"
    userid = sorted(sandbox.company.users)[0]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        _look, user = repo_login.first_look_and_user(conn, corp, userid, None)
        assert user is not None and user["userid"] == userid
        repo_sessions.create_session(
            conn,
            token_hash="ab" * 32,
            corp_id=corp,
            userid=userid,
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
    filled = set(engine.dialect.__dict__["_dingsync_caches"])
    assert {"driver", "tuple_upserts", "deletes_in_window", "selects", "one_row_inserts"} <= filled
    dialect = weakref.ref(engine.dialect)
    # SQLAlchemy's own methods cached with ``lru_cache`` (PostgreSQL's
    # ``_has_multi_table_query``) keep their last 128 dialects; those are bounded, and not ours
    for klass in type(engine.dialect).__mro__:
        for attr in vars(klass).values():
            if hasattr(attr, "cache_clear"):
                attr.cache_clear()
    engine.dispose()
    return dialect


def test_an_engine_dropped_is_freed_with_what_was_compiled_for_it(
    sandbox: SandboxServer, db_url: str
) -> None:
    dialect = _use_every_cache(sandbox, db_url)
    gc.collect()
    assert dialect() is None


def test_the_cache_is_the_dialects_own() -> None:
    one = db.create_engine_for("sqlite://")
    other = db.create_engine_for("sqlite://")
    cache = dialect_cache(one.dialect, "x")
    cache["k"] = 1
    assert dialect_cache(one.dialect, "x") is cache
    assert dialect_cache(other.dialect, "x") == {}
    assert dialect_cache(one.dialect, "y") == {}
