"""The callback route for a third-party suite configured by settings (``DINGTALK_SUITE_KEY`` …):
the receiver id is the suite key, a ``suite_ticket`` push is stored before the ``success``
reply, and ``org_suite_auth`` fills ``isv_corp_auth`` from the sandbox suite."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dingsync.dingtalk.crypto import CallbackCrypto, random_alnum
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer
from dingsync.store import isv as repo_isv
from dingsync.sync.isv import IsvEventProcessor, IsvSettings
from dingsync.web.routers.callbacks import PATH, receiver_from_settings, router

TOKEN = "isvtoken123"
AES_KEY = "a" * 43


def _post(client: TestClient, crypto: CallbackCrypto, payload: dict[str, object]) -> None:
    ts, nonce = str(int(time.time() * 1000)), random_alnum(8)
    enc = crypto.encrypt(json.dumps(payload))
    sig = crypto.sign(ts, nonce, enc)
    resp = client.post(f"{PATH}?msg_signature={sig}&timestamp={ts}&nonce={nonce}",
                       json={"encrypt": enc})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert crypto.decrypt(resp.json()["encrypt"]) == "success"


def test_settings_build_the_suite_receiver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = IsvConfig(seed=41, corps=[(951, 20)], days=1, authorised=False)
    with IsvSandboxServer(cfg) as sb:
        url = f"sqlite:///{tmp_path / 'isv.db'}"
        for name, value in {
            "DINGTALK_SUITE_KEY": sb.suite_key,
            "DINGTALK_SUITE_SECRET": sb.suite_secret,
            "DINGTALK_CALLBACK_TOKEN": TOKEN,
            "DINGTALK_CALLBACK_AES_KEY": AES_KEY,
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            "DINGSYNC_DATABASE_URL": url,
            "DINGSYNC_QPS_PER_API": "0",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DINGTALK_APP_KEY", raising=False)
        monkeypatch.chdir(tmp_path)  # no dingsync.toml
        receiver = receiver_from_settings(IsvSettings())
        assert isinstance(receiver.processor, IsvEventProcessor)
        assert receiver.crypto.receiver_id == sb.suite_key
        app = FastAPI()
        app.include_router(router)
        crypto = CallbackCrypto(TOKEN, AES_KEY, sb.suite_key)
        ticket = httpx.get(f"{sb.base_url}/sandbox/isv").json()["suite_ticket"]
        corp_id = next(iter(sb.corps))
        with TestClient(app) as client:  # the route builds its receiver from the settings
            _post(
                client,
                crypto,
                {
                    "SuiteKey": sb.suite_key,
                    "EventType": "suite_ticket",
                    "TimeStamp": int(time.time() * 1000),
                    "SuiteTicket": ticket,
                },
            )
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                assert repo_isv.ticket_row(conn, sb.suite_key)["ticket"] == ticket  # type: ignore[index]
            httpx.post(f"{sb.base_url}/sandbox/mutate/isv/authorize", json={"corp_id": corp_id})
            data = sb.state.areas["events"].emitted[-1].stream_data()
            _post(client, crypto, {"EventType": "org_suite_auth", "SuiteKey": sb.suite_key,
                                   "TimeStamp": int(time.time() * 1000), **data})  # fmt: skip
            deadline = time.monotonic() + 10
            row = None
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    row = repo_isv.corp_row(conn, sb.suite_key, corp_id)
                if row is not None and row["auth_scope"] is not None and row["agent_id"]:
                    break
                time.sleep(0.05)
            assert row is not None
            assert row["corp_name"] == sb.corps[corp_id].state.company.corp_name
            assert row["auth_scope"] == {"authedDept": [1], "authedUser": []}
            engine.dispose()
