"""Stream mode with several internal apps (``[[apps]]``): ``dingsync events stream`` keeps one
connection per active company (its own app's credentials and sandbox), and each event is stored
and processed under the company whose app received it. Two sandbox companies over real loopback
WebSockets, on SQLite and PostgreSQL: a hire in A and a leaver in B reach A's and B's directory
(equal to each truth), each inbox holds only its own company's events; a connection that names
the wrong company's event does not store it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from dingsync.commands.events import company_streams
from dingsync.config import AppConfig
from dingsync.corps import CorpInactive, build_corp_client, resolve
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import repo_corps
from dingsync.sync.events import EventsSettings
from dingsync.sync.runner import sync_once
from helpers.events import directory_differences, inbox


@pytest.fixture
def two() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    a_cfg = SandboxConfig(seed=61, users=24, days=1, corp_id="dingstreama", qps_limit=None)
    b_cfg = SandboxConfig(seed=62, users=30, days=1, corp_id="dingstreamb", qps_limit=None)
    with SandboxServer(a_cfg) as a, SandboxServer(b_cfg) as b:
        yield a, b


def _app(sb: SandboxServer) -> AppConfig:
    return AppConfig(
        app_key=sb.app.app_key,
        app_secret=SecretStr(sb.app.app_secret),
        corp_id=sb.app.corp_id,
        oapi_url=sb.base_url,
        api_url=sb.base_url,
    )


async def _until_equal(engine: Engine, sb: SandboxServer, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        diff = await asyncio.to_thread(
            directory_differences, engine, sb.app.corp_id, sb.state.company
        )
        if not diff:
            return
        assert time.monotonic() < deadline, diff[:5]
        await asyncio.sleep(0.05)


def test_one_stream_per_internal_app_each_event_to_its_company(
    engine: Engine, db_url: str, two: tuple[SandboxServer, SandboxServer]
) -> None:
    a, b = two
    settings = EventsSettings(DINGSYNC_DATABASE_URL=db_url, DINGSYNC_APPS=[_app(a), _app(b)])
    for sb in (a, b):
        corp = resolve(engine, settings, sb.app.corp_id)
        client = build_corp_client(corp, engine)
        result = asyncio.run(
            sync_once(corp.settings, engine=engine, client=client, only=["contacts"])
        )
        assert result.status == "succeeded"

    async def scenario() -> tuple[str, str]:
        async with company_streams(
            settings, engine, drain=False, idle_timeout=5.0, backoff_base=0.05, backoff_max=0.2
        ) as group:
            assert sorted(group.consumers) == [a.app.corp_id, b.app.corp_id]
            task = asyncio.create_task(group.run())
            try:
                await asyncio.wait_for(group.wait_connected(), 10)
                async with httpx.AsyncClient() as http:
                    hired = await http.post(f"{a.base_url}/sandbox/mutate/contacts/hire", json={})
                    leaver = sorted(b.state.company.users)[4]
                    left = await http.post(
                        f"{b.base_url}/sandbox/mutate/contacts/leave", json={"userid": leaver}
                    )
                assert hired.status_code == 200 and left.status_code == 200, left.text
                await _until_equal(engine, a)
                await _until_equal(engine, b)
                for consumer in group.consumers.values():
                    await consumer.processor.wait_idle()
                assert group.errors == {}
                assert all(s.get("connections", 0) >= 1 for s in group.stats.values())
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return str(hired.json()["event_id"]), str(left.json()["event_id"])

    hire_id, leave_id = asyncio.run(scenario())
    a_events = {r["event_id"] for r in inbox(engine, a.app.corp_id)}
    b_events = {r["event_id"] for r in inbox(engine, b.app.corp_id)}
    assert hire_id in a_events and hire_id not in b_events
    assert leave_id in b_events and leave_id not in a_events
    assert a.stats()["events"]["stream_connections_opened"] >= 1
    assert b.stats()["events"]["stream_connections_opened"] >= 1


def test_a_stopped_company_gets_no_stream(
    engine: Engine, db_url: str, two: tuple[SandboxServer, SandboxServer]
) -> None:
    a, b = two
    settings = EventsSettings(DINGSYNC_DATABASE_URL=db_url, DINGSYNC_APPS=[_app(a), _app(b)])

    async def consumers(corp_ids: list[str] | None = None) -> list[str]:
        async with company_streams(settings, engine, corp_ids, drain=False) as group:
            return sorted(group.consumers)

    assert asyncio.run(consumers()) == [a.app.corp_id, b.app.corp_id]
    with engine.begin() as conn:
        repo_corps.set_status(conn, b.app.corp_id, "relieved")
    assert asyncio.run(consumers()) == [a.app.corp_id]
    with pytest.raises(CorpInactive):
        asyncio.run(consumers([b.app.corp_id]))


def test_an_event_naming_another_company_is_acked_not_stored(engine: Engine) -> None:
    import json

    from dingsync.dingtalk.stream import parse_frame
    from dingsync.sync.events import EventProcessor
    from dingsync.sync.events_stream import StreamConsumer

    class Socket:
        def __init__(self) -> None:
            self.sent: list[dict[str, object]] = []

        async def send(self, text: str) -> None:
            self.sent.append(json.loads(text))

    processor = EventProcessor(None, engine, "dingmine")
    consumer = StreamConsumer(processor, "http://127.0.0.1:9", "k", "s", expect_corp="dingmine")

    def frame(corp_id: str, n: int) -> str:
        headers = {"type": "EVENT", "messageId": f"m{n}", "eventType": "user_add_org",
                   "eventId": f"e{n}", "eventCorpId": corp_id, "topic": "*",
                   "eventBornTime": "1765000000000"}  # fmt: skip
        body = json.dumps({"UserId": ["u1"]})
        return json.dumps({"type": "EVENT", "headers": headers, "data": body})

    ws = Socket()
    asyncio.run(consumer._on_frame(ws, parse_frame(frame("dingother", 1))))
    asyncio.run(consumer._on_frame(ws, parse_frame(frame("dingmine", 2))))
    assert [m["code"] for m in ws.sent] == [200, 200]  # both acknowledged
    assert consumer.stats["foreign_corp"] == 1 and consumer.stats["acked"] == 1
    assert [r["event_id"] for r in inbox(engine, "dingmine")] == ["e2"]
    assert inbox(engine, "dingother") == []
