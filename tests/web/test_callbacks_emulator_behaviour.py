"""Our HTTP callback receiver against emulator-behaviour.md's client column (``EB-nn`` in the
test names), over real loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from dingsync.dingtalk.crypto import CallbackCrypto, random_alnum
from dingsync.sandbox import SandboxServer
from dingsync.sync.events import EventProcessor
from helpers.events import AES_KEY, TOKEN, ReceiverServer, inbox, make_client
from helpers.events import SANDBOX as SANDBOX

SUITE_KEY = "suite4xxxxxxxxxxxxxxx"


@pytest.fixture
def suite_receiver(sandbox: SandboxServer, engine: Engine) -> Iterator[ReceiverServer]:
    """A receiver configured like an ISV app: events encrypted with the suiteKey."""
    crypto = CallbackCrypto(TOKEN, AES_KEY, SUITE_KEY)
    corp = sandbox.app.corp_id
    with ReceiverServer(crypto, lambda: EventProcessor(make_client(sandbox), engine, corp)) as r:
        yield r


@pytest.mark.parametrize(
    "plaintext",
    [
        '{"EventType":"check_create_suite_url","Random":"brdkKLMW"}',
        '{"EventType":"check_update_suite_url","Random":"xxxxxx","TestSuiteKey":"'
        + SUITE_KEY
        + '"}',
    ],
)
def test_eb81_suite_url_checks_are_answered_success_not_random(
    suite_receiver: ReceiverServer, sandbox: SandboxServer, engine: Engine, plaintext: str
) -> None:
    crypto = suite_receiver.crypto
    enc = crypto.encrypt(plaintext)
    ts, nonce = "1700000000000", random_alnum(8)
    resp = httpx.post(
        suite_receiver.url,
        params={"signature": crypto.sign(ts, nonce, enc), "timestamp": ts, "nonce": nonce},
        json={"encrypt": enc},
    )
    assert resp.status_code == 200, resp.text
    reply = resp.json()
    assert "timeStamp" in reply  # the reply key most pages and all libraries use (EB-72)
    assert reply["msg_signature"] == crypto.sign(
        reply["timeStamp"], reply["nonce"], reply["encrypt"]
    )
    assert crypto.decrypt(reply["encrypt"]) == "success"  # not the Random value (EB-81)
    assert inbox(engine, sandbox.app.corp_id) == []  # verification events are not stored
