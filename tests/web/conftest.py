"""Web fixtures: one sandbox per session, its directory synced once per database (SQLite and
PostgreSQL), and the web service served over real loopback HTTP in front of both."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from dingsync.config import Settings
from dingsync.sandbox import SandboxServer
from dingsync.store import db
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from dingsync.sync.reports import ReportsSync
from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.postgres import postgres_schema
from helpers.sandboxes import make_client


@dataclass
class FakeClock:
    """Wall time plus an offset tests move forward."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Web:
    """A sandbox, a synced database, the web service in front of them, and helpers."""

    sb: SandboxServer
    engine: Engine
    server: WebServer
    clock: FakeClock
    http: httpx.Client
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.base_url

    def authcode(self, userid: str) -> str:
        """A login code minted over HTTP, like the micro-app's ``dd.getAuthCode``."""
        r = httpx.post(f"{self.sb.base_url}/sandbox/authcode", json={"userid": userid})
        r.raise_for_status()
        return str(r.json()["code"])

    def login(self, userid: str, **body: Any) -> httpx.Response:
        return self.http.post(
            "/api/auth/dingtalk", json={"authCode": self.authcode(userid), **body}
        )

    def token(self, userid: str) -> str:
        """A live session token for ``userid`` (logs in once, reused while it works)."""
        token = self._tokens.get(userid)
        if token is not None and self.get("/api/me", token).status_code == 200:
            return token
        r = self.login(userid)
        assert r.status_code == 200, r.text
        token = self._tokens[userid] = r.json()["session"]["token"]
        return token

    def get(self, path: str, token: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, headers={"Authorization": f"Bearer {token}"}, **kw)

    def post(self, path: str, token: str, **kw: Any) -> httpx.Response:
        return self.http.post(path, headers={"Authorization": f"Bearer {token}"}, **kw)

    def upstream_calls(self) -> dict[str, int]:
        return dict(self.sb.stats()["calls"])


@contextmanager
def database_url(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL schema (dropped afterwards), like the shared
    ``db_url``."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('web') / 'dingsync.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def web_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The database of the session's :func:`web` service (SQLite and PostgreSQL)."""
    with database_url(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def data_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Another database per module (SQLite and PostgreSQL), for services of their own."""
    with database_url(request.param, tmp_path_factory) as url:
        yield url


def sandbox_settings(sb: SandboxServer, database_url: str) -> Settings:
    return Settings(
        DINGTALK_APP_KEY=sb.app.app_key,
        DINGTALK_APP_SECRET=SecretStr(sb.app.app_secret),
        DINGTALK_CORP_ID=sb.app.corp_id,
        DINGTALK_AGENT_ID=str(sb.app.agent_id),
        DINGTALK_OAPI_URL=sb.base_url,
        DINGTALK_API_URL=sb.base_url,
        DINGTALK_LOGIN_URL=sb.base_url,
        DINGSYNC_DATABASE_URL=database_url,
        DINGSYNC_QPS_PER_API=0,
    )


def sync_directory(sb: SandboxServer, engine: Engine) -> None:
    async def go() -> None:
        async with make_client(sb) as client:
            await run_sync(client, engine, sb.app.corp_id, [ContactsSync()])

    asyncio.run(go())


def sync_report_templates(sb: SandboxServer, engine: Engine) -> None:
    """Sync the sandbox's report templates (``template/listbyuserid``, ``getbyname``, their
    statistics rules) into ``engine`` with the real reports sync over an empty period: the
    templates are then known to the store (exports of them are allowed) without any report."""
    start = int(sb.stats()["reports"]["window"]["start_ms"])

    async def go() -> None:
        async with make_client(sb) as client:
            entity = ReportsSync(since_ms=start, until_ms=start)
            result = await run_sync(client, engine, sb.app.corp_id, [entity])
            assert result.status == "succeeded", result

    asyncio.run(go())


@pytest.fixture(scope="session")
def web(default_sandbox: SandboxServer, web_db_url: str) -> Iterator[Web]:
    sandbox = default_sandbox
    engine = db.create_engine_for(web_db_url)
    db.migrate(engine)
    sync_directory(sandbox, engine)
    clock = FakeClock()
    app = create_app(
        sandbox_settings(sandbox, web_db_url),
        engine=engine,
        options=WebOptions(),
        clock=clock,
    )
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield Web(sandbox, engine, server, clock, http)
    engine.dispose()
