"""Shared fixtures: the sandbox (real loopback HTTP) and databases (SQLite, PostgreSQL, MariaDB).

Sandboxes: ``sandbox`` is the test module's (its ``SANDBOX`` spec, see
:mod:`helpers.sandboxes`, else the default company), shared by every module naming an equal
spec; ``default_sandbox`` is the default company for session-wide fixtures; ``sandboxes`` is the
session's pool; ``sandbox_client`` makes DingTalk clients against a sandbox. The run ends with the
number of sandboxes started.

PostgreSQL is found through ``DINGSYNC_TEST_POSTGRES_URL`` (default: the local server, database
``dingsync_test``); the database is created when the server answers and it is missing. Without
a server the PostgreSQL cases skip with the reason shown, except when ``CI=true``: there
``.ci/run`` has started it, and a missing server is a failure. MariaDB likewise, through
``DINGSYNC_TEST_MARIADB_URL`` (:mod:`helpers.mariadb`): ``db_url`` and ``engine`` give a database
migrated once per session and emptied before each test; ``empty_db_url`` an empty one (for the
tests of the migrations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dingsync.dingtalk import DingTalkClient
from dingsync.sandbox import SandboxServer
from helpers.mariadb import fresh_mariadb_url, migrated_mariadb_url
from helpers.postgres import postgres_schema
from helpers.sandboxes import DEFAULT, SandboxPool, SandboxSpec, make_client

#: DingTalk's published samples, vendored from ``../shared/dingtalk`` (see its README.md).
DINGTALK_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "dingtalk"


def _fastapi_call_caches() -> list[Any]:
    """FastAPI's process-wide caches of endpoint classifications (``lru_cache`` of 4,096 entries
    each, keyed by the endpoint functions themselves, in ``fastapi.dependencies.models``); empty
    when this FastAPI has none."""
    from fastapi.dependencies import models

    names = (
        "_is_gen_callable_cached",
        "_is_async_gen_callable_cached",
        "_is_coroutine_callable_cached",
    )
    return [f for f in (getattr(models, n, None) for n in names) if hasattr(f, "cache_clear")]


@pytest.fixture(autouse=True)
def _release_stopped_apps() -> Iterator[None]:
    """Let the apps a test stopped be freed. Each sandbox app has ~140 endpoint closures, and
    FastAPI's classification caches keep every one alive until 4,096 newer ones push it out, with
    the closure's whole sandbox (its company, its worlds): ~28 MB and ~110,000 objects for a
    300-person company, ~30 sandboxes at a time. Over the suite the process grew past 1.3 GB, and
    the collector's full passes over that heap stalled every thread for seconds on a loaded
    machine (a 5 s HTTP timeout to a sandbox in CI). Emptying the caches after each test costs
    the live apps one re-classification per endpoint."""
    yield
    for cache in _fastapi_call_caches():
        cache.cache_clear()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    with postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dingsync.db'}"


#: The backends every store and sync test runs on (``db_url``, ``engine``, ``empty_db_url``).
BACKENDS = ["sqlite", "postgres", "mariadb"]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs on SQLite, on PostgreSQL and on MariaDB. The SQLite file and the
    PostgreSQL schema are new and empty; the MariaDB database is the session's, migrated to head
    and emptied (:func:`helpers.mariadb.migrated_mariadb_url`) — migrating it again is a no-op."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dingsync.db'}"
    elif request.param == "postgres":
        yield request.getfixturevalue("pg_url")
    else:
        yield migrated_mariadb_url()


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables) on SQLite, PostgreSQL and MariaDB: for the migrations'
    own tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dingsync.db'}"
    elif request.param == "postgres":
        yield request.getfixturevalue("pg_url")
    else:
        yield fresh_mariadb_url()


@pytest.fixture(scope="session")
def shared_dingtalk() -> Path:
    """``tests/fixtures/dingtalk``: DingTalk's published samples under ``samples/<area>/``, the
    layout of ``../shared/dingtalk`` they are copied from. Never skipped: a missing folder fails."""
    assert (DINGTALK_FIXTURES / "samples").is_dir(), f"missing {DINGTALK_FIXTURES / 'samples'}"
    return DINGTALK_FIXTURES


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """An engine on an empty, migrated database (each test runs on SQLite, PostgreSQL and
    MariaDB, see ``db_url``)."""
    from dingsync.store import db

    eng = db.create_engine_for(db_url)
    db.migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()


_sandbox_starts = 0


def pytest_configure(config: pytest.Config) -> None:
    """Count every sandbox the run starts (reported at the end of the run)."""
    start = SandboxServer.start

    def counting_start(self: SandboxServer) -> SandboxServer:
        global _sandbox_starts
        if self._thread is None:
            _sandbox_starts += 1
        return start(self)

    SandboxServer.start = counting_start  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"sandboxes started: {_sandbox_starts}")


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[SandboxPool]:
    """The session's sandboxes, one per :class:`SandboxSpec` (``sandboxes.get(spec)``), and
    ``sandboxes.own(spec)`` for a module or test that mutates its company."""
    pool = SandboxPool()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def default_sandbox(sandboxes: SandboxPool) -> SandboxServer:
    """The default company (seed 11, 150 users, 30 days), shared by the whole session: read it,
    do not mutate it (knobs a test sets must be reset by that test)."""
    return sandboxes.get(DEFAULT)


@pytest.fixture(scope="module")
def sandbox(request: pytest.FixtureRequest, sandboxes: SandboxPool) -> Iterator[SandboxServer]:
    """The test module's sandbox: the module's ``SANDBOX`` spec (else the default company),
    shared with every module naming an equal spec, or the module's own when the spec is
    ``private``."""
    spec: SandboxSpec = getattr(request.module, "SANDBOX", DEFAULT)
    if spec.private:
        with sandboxes.own(spec) as sb:
            yield sb
    else:
        yield sandboxes.get(spec)


@pytest.fixture
def sandbox_client(request: pytest.FixtureRequest) -> Callable[..., DingTalkClient]:
    """Factory ``sandbox_client(sb=None, **client_kw)`` of DingTalk clients against ``sb`` (the
    module's ``sandbox`` when omitted): no rate limit, quick backoff (see
    :func:`helpers.sandboxes.make_client`)."""

    def factory(sb: SandboxServer | None = None, **kw: Any) -> DingTalkClient:
        return make_client(sb or request.getfixturevalue("sandbox"), **kw)

    return factory
