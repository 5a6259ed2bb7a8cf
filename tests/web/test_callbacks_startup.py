"""The callback receiver built from the environment (``DINGTALK_CALLBACK_*``) on first use, over
real loopback HTTP: events a stopped service left ``processing`` go back to the queue."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from dingsync.dingtalk.crypto import CallbackCrypto, random_alnum
from dingsync.store import db, repo_events
from dingsync.store.schema import utcnow
from dingsync.store.schema_events import event_inbox
from dingsync.web.routers.callbacks import PATH, router
from dingsync.web.server import WebServer
from helpers.events import AES_KEY, TOKEN, inbox

APP_KEY = "dingStartupAppKey"
CORP = "ding-startup-corp"


def test_a_receiver_starting_requeues_events_a_stopped_one_left_processing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'dingsync.db'}"
    engine = db.create_engine_for(url)
    db.migrate(engine)
    with engine.begin() as conn:  # the previous service claimed it, then died
        row_id = repo_events.insert_event(
            conn,
            corp_id=CORP,
            event_id="evt-left",
            event_type="user_modify_org",
            source="http",
            payload={},
        )
        assert row_id is not None and repo_events.claim_event(conn, row_id)
        conn.execute(
            update(event_inbox)
            .where(event_inbox.c.id == row_id)
            .values(lease_until=utcnow() - timedelta(minutes=1))
        )
    monkeypatch.chdir(tmp_path)  # no dingsync.toml
    for name, value in {
        "DINGSYNC_DATABASE_URL": url,
        "DINGTALK_CALLBACK_TOKEN": TOKEN,
        "DINGTALK_CALLBACK_AES_KEY": AES_KEY,
        "DINGTALK_APP_KEY": APP_KEY,
        "DINGTALK_CORP_ID": CORP,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DINGTALK_APP_SECRET", raising=False)  # store-only: no processing
    app = FastAPI()
    app.include_router(router)
    crypto = CallbackCrypto(TOKEN, AES_KEY, APP_KEY)
    reply = crypto.encrypt_message('{"EventType":"check_url"}', "1700000000000", random_alnum(8))
    params = {k: reply[k] for k in ("msg_signature", "nonce")} | {"timestamp": reply["timeStamp"]}
    with WebServer(app) as server:
        resp = httpx.post(
            f"{server.base_url}{PATH}", params=params, json={"encrypt": reply["encrypt"]}
        )
    assert resp.status_code == 200, resp.text
    [row] = inbox(engine, CORP)
    assert row["status"] == "pending" and row["lease_until"] is None
    assert "lease expired" in row["last_error"]
    engine.dispose()
