"""Events per company: two internal apps, each its own sandbox company subscribed (console style,
AppKey receiver id) to ``/callbacks/dingtalk/<corp_id>`` of one web service; a mutation in one
company lands in that company's inbox and rows, never the other's (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from dingsync.config import AppConfig, Settings
from dingsync.corps import sync_registry
from dingsync.dingtalk.crypto import random_alnum
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db, repo_corps
from dingsync.store.schema import users
from dingsync.store.schema_events import event_inbox
from dingsync.web import create_app
from dingsync.web.server import WebServer
from helpers.events import wait_for


@pytest.fixture
def companies() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    with (
        SandboxServer(SandboxConfig(seed=51, users=20, days=2, qps_limit=None)) as a,
        SandboxServer(SandboxConfig(seed=52, users=15, days=2, qps_limit=None)) as b,
    ):
        yield a, b


def test_each_company_s_events_land_in_its_own_inbox(
    companies: tuple[SandboxServer, SandboxServer], db_url: str
) -> None:
    a, b = companies
    secrets = {sb.app.corp_id: (random_alnum(32), random_alnum(43)) for sb in (a, b)}
    apps = [
        AppConfig(
            app_key=sb.app.app_key,
            app_secret=SecretStr(sb.app.app_secret),
            corp_id=sb.app.corp_id,
            oapi_url=sb.base_url,
            api_url=sb.base_url,
            callback_token=SecretStr(secrets[sb.app.corp_id][0]),
            callback_aes_key=SecretStr(secrets[sb.app.corp_id][1]),
        )
        for sb in (a, b)
    ]
    settings = Settings(DINGSYNC_DATABASE_URL=db_url, DINGSYNC_QPS_PER_API=0, DINGSYNC_APPS=apps)
    engine = db.create_engine_for(db_url)
    db.migrate(engine)
    sync_registry(engine, settings)
    app = create_app(settings, engine=engine)
    with WebServer(app) as web:
        for sb in (a, b):
            token, aes_key = secrets[sb.app.corp_id]
            url = f"{web.base_url}/callbacks/dingtalk/{sb.app.corp_id}"
            r = httpx.post(
                f"{sb.base_url}/sandbox/events/callback",
                json={"url": url, "token": token, "aes_key": aes_key},
                timeout=10,
            )
            assert r.status_code == 200, r.text  # the check_url handshake passed

        hired = httpx.post(f"{b.base_url}/sandbox/mutate/contacts/hire", json={}).json()
        userid = hired["userId"][0]

        def stored_in(corp: str) -> int:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        select(func.count()).where(
                            users.c.corp_id == corp, users.c.userid == userid
                        )
                    ).scalar_one()
                )

        wait_for(lambda: stored_in(b.app.corp_id) == 1, timeout=10, interval=0.02)
        assert stored_in(a.app.corp_id) == 0
        with engine.connect() as conn:
            inbox = dict(
                conn.execute(
                    select(event_inbox.c.corp_id, func.count()).group_by(event_inbox.c.corp_id)
                ).all()
            )
        assert set(inbox) == {b.app.corp_id}

        # Unknown company: 404; a stopped one: 403 — nothing stored either way.
        for corp, status in (("dingnosuch", 404), (a.app.corp_id, 403)):
            if status == 403:
                with engine.begin() as conn:
                    repo_corps.set_status(conn, corp, "stopped")
            r = httpx.post(
                f"{web.base_url}/callbacks/dingtalk/{corp}",
                params={"msg_signature": "x", "timestamp": "1", "nonce": "n"},
                json={"encrypt": "x"},
            )
            assert r.status_code == status, r.text
            assert r.json()["errcode"] == 900000
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(event_inbox)).scalar_one() == sum(
                inbox.values()
            )
    engine.dispose()
