"""``attach_demo``: the demo's web app receives the sandbox's events through either channel, and
a mutation reaches the database within a second."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from dingsync.config import Settings
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store.schema import users
from dingsync.web.routers.callbacks import attach_demo
from helpers.events import wait_for


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=5, users=60, qps_limit=None)) as sb:
        yield sb


@pytest.mark.parametrize("channel", ["http", "stream"])
def test_a_mutation_reaches_the_database_within_a_second(
    sandbox: SandboxServer, sqlite_url: str, channel: str
) -> None:
    from dingsync.store import db
    from dingsync.web import create_app
    from dingsync.web.server import WebServer

    settings = Settings(
        DINGTALK_APP_KEY=sandbox.app.app_key,
        DINGTALK_APP_SECRET=SecretStr(sandbox.app.app_secret),
        DINGTALK_CORP_ID=sandbox.app.corp_id,
        DINGTALK_OAPI_URL=sandbox.base_url,
        DINGTALK_API_URL=sandbox.base_url,
        DINGSYNC_DATABASE_URL=sqlite_url,
        DINGSYNC_QPS_PER_API=0,
    )
    engine: Engine = db.create_engine_for(sqlite_url)
    db.migrate(engine)
    app = create_app(settings, engine=engine)
    with WebServer(app) as web:
        demo = attach_demo(app, settings, engine, sandbox.base_url, web.base_url, channel)
        try:
            if channel == "http":
                wait_for(lambda: sandbox.stats()["events"]["registered_url"])
            else:
                wait_for(lambda: sandbox.stats()["events"]["stream_connections"] == 1)
            ev = httpx.post(f"{sandbox.base_url}/sandbox/mutate/contacts/hire", json={}).json()
            userid = ev["userId"][0]

            def stored() -> bool:
                with engine.connect() as conn:
                    row = conn.execute(
                        select(users.c.status).where(users.c.userid == userid)
                    ).first()
                return row is not None and row.status == "active"

            # A functional bound; the < 1 s latency target is measured by bench_events.
            wait_for(stored, timeout=10, interval=0.01)
        finally:
            demo.stop()
    engine.dispose()
