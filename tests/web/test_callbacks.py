"""The HTTP callback receiver (``POST /callbacks/dingtalk``) over real loopback HTTP, on SQLite
and PostgreSQL: check_url, the encrypted success reply, forged and malformed requests, and
duplicates processed once."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import Engine

from dingsync.dingtalk.crypto import CallbackCrypto, random_alnum, sign
from dingsync.sandbox import SandboxServer
from dingsync.sync.events import EventProcessor
from helpers.events import AES_KEY, TOKEN, ReceiverServer, inbox, make_client, wait_for
from helpers.events import SANDBOX as SANDBOX


@pytest.fixture
def receiver(sandbox: SandboxServer, engine: Engine) -> Iterator[ReceiverServer]:
    crypto = CallbackCrypto(TOKEN, AES_KEY, sandbox.app.app_key)
    corp = sandbox.app.corp_id
    with ReceiverServer(
        crypto, lambda: EventProcessor(make_client(sandbox), engine, corp)
    ) as server:
        yield server


def push(
    url: str,
    plaintext: str,
    *,
    crypto: CallbackCrypto | None = None,
    token: str = TOKEN,
    sig_param: str = "msg_signature",
    ts_param: str = "timestamp",
    encrypt: str | None = None,
    signature: str | None = None,
) -> httpx.Response:
    """POST like DingTalk does (encrypt, sign, query parameters)."""
    enc = encrypt if encrypt is not None else crypto.encrypt(plaintext)  # type: ignore[union-attr]
    ts, nonce = "1700000000000", random_alnum(8)
    sig = signature or sign(token, ts, nonce, enc)
    return httpx.post(
        url, params={sig_param: sig, ts_param: ts, "nonce": nonce}, json={"encrypt": enc}
    )


def assert_success_reply(resp: httpx.Response, crypto: CallbackCrypto) -> None:
    assert resp.status_code == 200, resp.text
    reply = resp.json()
    assert set(reply) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert reply["msg_signature"] == crypto.sign(
        reply["timeStamp"], reply["nonce"], reply["encrypt"]
    )
    assert crypto.decrypt(reply["encrypt"]) == "success"


def test_check_url_answers_success_and_stores_nothing(
    receiver: ReceiverServer, sandbox: SandboxServer, engine: Engine
) -> None:
    crypto = receiver.crypto
    for sig_param, ts_param in (("msg_signature", "timestamp"), ("signature", "timeStamp")):
        resp = push(
            receiver.url,
            '{"EventType":"check_url"}',
            crypto=crypto,
            sig_param=sig_param,
            ts_param=ts_param,
        )
        assert_success_reply(resp, crypto)
        assert resp.json()["timeStamp"] == "1700000000000"  # echoed (EB-73)
    assert inbox(engine, sandbox.app.corp_id) == []


def _padded_encrypt(plain: bytes) -> str:
    key = base64.b64decode(AES_KEY + "=")
    pad = 32 - len(plain) % 32
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain + bytes([pad]) * pad) + enc.finalize()).decode()


def test_forged_or_malformed_requests_get_4xx_and_nothing_is_stored(
    receiver: ReceiverServer, sandbox: SandboxServer, engine: Engine
) -> None:
    crypto = receiver.crypto
    event = json.dumps({"EventType": "user_add_org", "UserId": ["x"], "TimeStamp": "1"})
    wrong_receiver = CallbackCrypto(TOKEN, AES_KEY, sandbox.app.corp_id)
    wrong_key = CallbackCrypto(TOKEN, "Z" * 43, sandbox.app.app_key)
    body = event.encode()
    too_long = _padded_encrypt(
        b"1234567890123456" + struct.pack(">I", 5000) + body + sandbox.app.app_key.encode()
    )
    cases: list[tuple[str, dict[str, Any]]] = [
        ("forged signature", {"crypto": crypto, "signature": "0" * 40}),
        ("wrong token", {"crypto": crypto, "token": "another"}),
        ("wrong receiver id", {"crypto": wrong_receiver}),
        ("wrong aes key", {"crypto": wrong_key}),
        ("truncated", {"encrypt": crypto.encrypt(event)[:-12]}),
        ("not base64", {"encrypt": "!!!***not-base64***!!!"}),
        ("length field too large", {"encrypt": too_long}),
    ]
    for name, kw in cases:
        resp = push(receiver.url, event, **kw)
        assert 400 <= resp.status_code < 500, (name, resp.status_code, resp.text)
        assert TOKEN not in resp.text and AES_KEY not in resp.text
    # no query parameters, not JSON, no encrypt
    assert httpx.post(receiver.url, json={"encrypt": "x"}).status_code == 400
    q = {"msg_signature": "a", "timestamp": "1", "nonce": "n"}
    assert httpx.post(receiver.url, params=q, content=b"{not json").status_code == 400
    assert httpx.post(receiver.url, params=q, json={"other": 1}).status_code == 400
    assert inbox(engine, sandbox.app.corp_id) == []
    # the process stays up: a good event after all that is taken
    assert_success_reply(push(receiver.url, '{"EventType":"check_url"}', crypto=crypto), crypto)


def test_same_event_three_times_two_concurrently_is_processed_once(
    receiver: ReceiverServer, sandbox: SandboxServer, engine: Engine
) -> None:
    crypto = receiver.crypto
    corp = sandbox.app.corp_id
    userid = sorted(sandbox.company.users)[3]
    event = json.dumps(
        {
            "EventType": "user_modify_org",
            "CorpId": corp,
            "UserId": [userid],
            "OptStaffId": "",
            "TimeStamp": "1700000000123",
        }
    )
    before = sandbox.stats()["calls"].get("/topapi/v2/user/get", 0)
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _: push(receiver.url, event, crypto=crypto), range(2)))
    replies.append(push(receiver.url, event, crypto=crypto))  # DingTalk's retry
    for resp in replies:
        assert_success_reply(resp, crypto)
    rows = wait_for(lambda: [r for r in inbox(engine, corp) if r["status"] == "processed"] or None)
    assert len(inbox(engine, corp)) == 1
    assert rows[0]["attempts"] == 1 and rows[0]["event_type"] == "user_modify_org"
    assert rows[0]["source"] == "http"
    assert sandbox.stats()["calls"].get("/topapi/v2/user/get", 0) - before == 1
    assert receiver.processor is not None
    assert receiver.processor.outcomes["duplicate"] == 2


def test_admin_and_department_events_refresh_what_they_name(
    receiver: ReceiverServer, sandbox: SandboxServer, engine: Engine
) -> None:
    from dingsync.store import repo

    crypto = receiver.crypto
    corp = sandbox.app.corp_id
    company = sandbox.company
    dept = sorted(d for d in company.departments if d != 1)[0]
    for body in (
        {"EventType": "org_admin_add", "UserId": [company.main_admin_userid], "TimeStamp": "1"},
        {"EventType": "org_dept_modify", "DeptId": [dept], "TimeStamp": "2"},
        {"EventType": "org_dept_remove", "DeptId": [987654], "TimeStamp": "3"},
        {"EventType": "label_conf_add", "LabelIdList": [1], "TimeStamp": "4"},
    ):
        assert_success_reply(push(receiver.url, json.dumps(body), crypto=crypto), crypto)
    rows = wait_for(
        lambda: (
            (r := inbox(engine, corp))
            and all(x["status"] in ("processed", "skipped") for x in r)
            and len(r) == 4
            and r
        )
    )
    assert [r["status"] for r in rows] == ["processed", "processed", "processed", "skipped"]
    with engine.connect() as conn:
        d = repo.load_directory(conn, corp)
    assert {k: int(v["sys_level"]) for k, v in d["admins"].items()} == dict(company.admins)
    assert d["departments"][dept]["name"] == company.departments[dept].name
    assert d["users"][company.main_admin_userid]["admin"] is True


def test_attendance_events_refresh_that_persons_days(
    receiver: ReceiverServer, sandbox: SandboxServer, engine: Engine
) -> None:
    import asyncio
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import func, select

    from dingsync.store.schema_attendance import attendance_records, attendance_results

    crypto = receiver.crypto
    corp = sandbox.app.corp_id
    gmt8 = timezone(timedelta(hours=8))
    anchor = datetime.fromtimestamp(sandbox.company.anchor_ms / 1000, gmt8).date()
    day = anchor - timedelta(days=3)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    userid = sorted(u.userid for u in sandbox.company.users.values() if u.active)[5]

    async def truth() -> tuple[int, int]:
        async with make_client(sandbox) as client:
            res = await client.attendance.list_results([userid], day, day)
            rec = await client.attendance.list_records([userid], day, day + timedelta(days=1))
        return len(res), len(rec)

    want_results, want_records = asyncio.run(truth())
    assert want_results > 0
    before = sum(sandbox.stats()["calls"].values())
    body = {
        "EventType": "attend_user_daily_summary_refresh",
        "workDate": day.isoformat(),
        "userId": userid,
    }
    assert_success_reply(push(receiver.url, json.dumps(body), crypto=crypto), crypto)
    wait_for(lambda: [r for r in inbox(engine, corp) if r["status"] == "processed"])
    assert sum(sandbox.stats()["calls"].values()) - before <= 3  # 2 calls (+ a token)
    with engine.connect() as conn:
        got_results = conn.execute(
            select(func.count())
            .select_from(attendance_results)
            .where(attendance_results.c.userid == userid)
        ).scalar_one()
        got_records = conn.execute(
            select(func.count())
            .select_from(attendance_records)
            .where(attendance_records.c.userid == userid)
        ).scalar_one()
    assert (got_results, got_records) == (want_results, want_records)
