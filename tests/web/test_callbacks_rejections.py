"""Hostile and misconfigured callbacks against ``POST /callbacks/dingtalk`` on a real uvicorn
server over loopback: every malformed input is a 4xx in DingTalk's envelope on a keep-alive
connection that stays usable, and each refusal leaves one rate-limited log line naming the
likely cause, without secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dingsync.dingtalk.crypto import CallbackCrypto, random_alnum, sign
from dingsync.sandbox import SandboxServer
from dingsync.sync.events import EventProcessor
from dingsync.web.routers import callbacks
from helpers.events import AES_KEY, TOKEN, ReceiverServer, inbox
from helpers.events import SANDBOX as SANDBOX


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    """SQLite only: these refusals never reach the database."""
    from dingsync.store import db

    eng = db.create_engine_for(sqlite_url)
    db.migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def receiver(sandbox: SandboxServer, engine: Engine) -> Iterator[ReceiverServer]:
    crypto = CallbackCrypto(TOKEN, AES_KEY, sandbox.app.app_key)
    with ReceiverServer(
        crypto, lambda: EventProcessor(None, engine, sandbox.app.corp_id)
    ) as server:
        yield server


def _local_port(resp: httpx.Response) -> int:
    """The client-side port of the connection that carried ``resp``."""
    return int(resp.extensions["network_stream"].get_extra_info("client_addr")[1])


def _signed(crypto: CallbackCrypto, plaintext: str) -> tuple[dict[str, str], dict[str, str]]:
    enc = crypto.encrypt(plaintext)
    ts, nonce = "1700000000000", random_alnum(8)
    return {"msg_signature": sign(TOKEN, ts, nonce, enc), "timestamp": ts, "nonce": nonce}, {
        "encrypt": enc
    }


def test_malformed_input_is_4xx_and_the_connection_stays_usable(
    receiver: ReceiverServer, sandbox: SandboxServer, engine: Engine
) -> None:
    crypto = receiver.crypto
    q = {"msg_signature": "a" * 40, "timestamp": "1", "nonce": "n"}
    nested = ("[" * 50_000 + "]" * 50_000).encode()  # 100 kB, 50,000 levels
    deep_event = '{"EventType":"user_add_org","x":' + "[" * 50_000 + "]" * 50_000 + "}"
    params, body = _signed(crypto, deep_event)
    cases: list[tuple[str, dict[str, Any]]] = [
        (
            "non-ASCII msg_signature",
            {"params": {**q, "msg_signature": "签名" * 20}, "json": {"encrypt": "eA=="}},
        ),
        ("non-ASCII signature", {"params": {**q, "signature": "é"}, "json": {"encrypt": "eA=="}}),
        ("deeply nested body", {"params": q, "content": nested}),
        ("deeply nested event", {"params": params, "json": body}),
        ("not UTF-8", {"params": q, "content": b'{"encrypt": "\xff\xfe"}'}),
        ("encrypt not a string", {"params": q, "json": {"encrypt": ["x"]}}),
    ]
    with httpx.Client(timeout=30) as http:
        first = http.post(receiver.url, params=q, json={"encrypt": "eA=="})
        assert first.status_code == 403
        port = _local_port(first)
        for name, kw in cases:
            resp = http.post(receiver.url, **kw)
            assert 400 <= resp.status_code < 500, (name, resp.status_code, resp.text)
            assert set(resp.json()) == {"errcode", "errmsg"}, name
            assert _local_port(resp) == port, f"{name}: the connection was dropped"
        params, body = _signed(crypto, '{"EventType":"check_url"}')
        ok = http.post(receiver.url, params=params, json=body)
        assert ok.status_code == 200 and crypto.decrypt(ok.json()["encrypt"]) == "success"
        assert _local_port(ok) == port
    assert inbox(engine, sandbox.app.corp_id) == []


def test_rejections_are_logged_once_per_cause_with_the_likely_cause(
    receiver: ReceiverServer,
    sandbox: SandboxServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(callbacks, "rejections", callbacks.RejectionLog(interval=60.0))
    event = json.dumps({"EventType": "user_add_org", "UserId": ["x"]})
    wrong_key = CallbackCrypto(TOKEN, "Z" * 43, sandbox.app.app_key)
    wrong_receiver = CallbackCrypto(TOKEN, AES_KEY, sandbox.app.corp_id)
    caplog.set_level(logging.WARNING, logger="dingsync.web.routers.callbacks")
    with httpx.Client(timeout=30) as http:
        for _ in range(3):  # a wrong token, three times: one line
            enc = receiver.crypto.encrypt(event)
            ts, nonce = "1700000000000", random_alnum(8)
            sig = sign("another-token", ts, nonce, enc)
            q = {"msg_signature": sig, "timestamp": ts, "nonce": nonce}
            assert http.post(receiver.url, params=q, json={"encrypt": enc}).status_code == 403
        for crypto in (wrong_key, wrong_key, wrong_receiver):
            params, body = _signed(crypto, event)
            assert http.post(receiver.url, params=params, json=body).status_code == 400
        q = {"msg_signature": "a", "timestamp": "1", "nonce": "n"}
        assert http.post(receiver.url, params=q, content=b"{not json").status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.name == callbacks.__name__]
    token_lines = [m for m in lines if "signature mismatch: check the token" in m]
    key_lines = [m for m in lines if "cannot decrypt: check the AES key and receiver id" in m]
    assert len(token_lines) == 1, lines
    # the wrong key (twice: one line) and the wrong receiver id (told apart)
    assert len(key_lines) == 2, lines
    assert sum("(the receiver id differs)" in m for m in key_lines) == 1, lines
    assert any("not JSON" in m for m in lines)
    assert all("127.0.0.1" in m for m in lines)
    for secret in (TOKEN, AES_KEY, "Z" * 43, "another-token"):
        assert not any(secret in m for m in lines)


def test_the_rejection_log_counts_what_it_held_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dingsync.web.routers.callbacks")
    limiter = callbacks.RejectionLog(interval=0.0)
    assert limiter("signature mismatch: check the token", "10.0.0.1")
    held = callbacks.RejectionLog(interval=3600.0)
    assert held("a", None) and not held("a", None) and not held("a", None)
    assert held("b", None)  # another cause is not held back
    held.interval = 0.0
    assert held("a", None)
    assert "(2 more like it since the last line)" in caplog.records[-1].getMessage()


def test_a_service_with_no_callback_subscription_answers_404_not_5xx(
    sandbox: SandboxServer, engine: Engine, sqlite_url: str
) -> None:
    """Events over Stream mode (no callback token/aes key configured): a posted callback,
    forged or not, is 404 in DingTalk's envelope — nothing here to verify or store, and no 5xx
    for DingTalk or a prober to retry. The same for a company's own path."""
    from pydantic import SecretStr

    from dingsync.config import Settings
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
    q = {"signature": "abc", "timestamp": "1", "nonce": "x"}
    with WebServer(create_app(settings, engine=engine)) as web, httpx.Client(timeout=30) as http:
        for path in ("/callbacks/dingtalk", f"/callbacks/dingtalk/{sandbox.app.corp_id}"):
            for body in ({"content": b'{"encrypt":"AAAA"}'}, {"content": b"notjson"}):
                r = http.post(f"{web.base_url}{path}", params=q, **body)  # type: ignore[arg-type]
                assert r.status_code == 404, (path, r.text)
                assert r.json()["errcode"] == 900000
    assert inbox(engine, sandbox.app.corp_id) == []
