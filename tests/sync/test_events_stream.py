"""Stream mode against the sandbox: our consumer (inbox, ACK, dedupe, reconnect after a
server ``disconnect``, watchdog on a silently dead socket, clean cancel), the sandbox's
redelivery of unacknowledged frames, and the official ``dingtalk-stream`` SDK connecting to the
sandbox through ``DINGTALK_OPENAPI_ENDPOINT``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import Engine

from dingsync.dingtalk.stream import event_ack, open_connection
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from dingsync.sync.events import EventProcessor
from dingsync.sync.events_stream import StreamConsumer
from helpers.events import directory_differences, inbox, make_client


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=31, users=80, qps_limit=None)) as sb:
        sb.configure(events_stream_ping_s=0.3, events_stream_close_after_s=0.2)
        yield sb


async def mutate(sb: SandboxServer, kind: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{sb.base_url}/sandbox/mutate/contacts/{kind}", json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def until(check: Any, limit: float = 10.0) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.03)
    raise AssertionError(f"not within {limit}s")


async def test_consumer_stores_acks_reconnects_and_stops(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp = sandbox.app.corp_id
    async with make_client(sandbox) as client:
        await run_sync(client, engine, corp, [ContactsSync()])
        processor = EventProcessor(client, engine, corp)
        consumer = StreamConsumer(
            processor,
            sandbox.base_url,
            sandbox.app.app_key,
            sandbox.app.app_secret,
            idle_timeout=1.0,
            backoff_base=0.05,
            backoff_max=0.2,
        )
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(consumer.connected.wait(), 5)

        hired = await mutate(sandbox, "hire")
        rows = await until(lambda: [r for r in inbox(engine, corp) if r["status"] == "processed"])
        assert rows[0]["source"] == "stream" and rows[0]["event_id"] == hired["event_id"]
        await until(lambda: sandbox.stats()["events"].get("stream_acked", 0) == 1)

        # duplicates (a redelivery with a new messageId, the same eventId) are processed once
        sandbox.configure(events_duplicate=1.0)
        await mutate(sandbox, "modify")
        await until(lambda: consumer.stats["duplicate_events"] >= 1)
        sandbox.configure(events_duplicate=0.0)

        # a server-side disconnect: reconnect with a new ticket, keep receiving
        async with httpx.AsyncClient() as http:
            await http.post(f"{sandbox.base_url}/sandbox/events/stream/disconnect")
        await until(lambda: consumer.stats["connections"] >= 2)
        assert consumer.stats["server_disconnects"] == 1 and consumer.stats["tickets"] >= 2
        await mutate(sandbox, "move")

        # a silently dead socket: the watchdog notices and reconnects
        async with httpx.AsyncClient() as http:
            await http.post(f"{sandbox.base_url}/sandbox/events/stream/blackhole")
        await until(lambda: consumer.stats["watchdog_reconnects"] >= 1, limit=5)
        # the dead peer answers no close frame either: the consumer's close waits out its
        # timeout (websockets' 10 s on leaving ``connect``) before it reconnects
        await until(lambda: consumer.stats["connections"] >= 3, limit=20)
        await mutate(sandbox, "leave")
        await until(lambda: sum(r["status"] == "processed" for r in inbox(engine, corp)) == 4)
        await processor.wait_idle()
        assert await asyncio.to_thread(directory_differences, engine, corp, sandbox.company) == []
        assert len(inbox(engine, corp)) == 4

        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not consumer.connected.is_set()


async def test_a_disconnect_reconnects_at_once_without_waiting_for_the_close_handshake(
    sandbox: SandboxServer, engine: Engine
) -> None:
    # DingTalk may never answer the close handshake after its SYSTEM disconnect
    sandbox.configure(events_stream_close_after_s=8.0, events_stream_close_handshake=False)
    corp = sandbox.app.corp_id
    consumer = StreamConsumer(
        EventProcessor(None, engine, corp),
        sandbox.base_url,
        sandbox.app.app_key,
        sandbox.app.app_secret,
        backoff_base=0.05,
        backoff_max=0.2,
    )
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(consumer.connected.wait(), 5)
    await asyncio.sleep(1.1)  # a healthy session: its end is followed by no backoff
    started = time.monotonic()
    async with httpx.AsyncClient() as http:
        await http.post(f"{sandbox.base_url}/sandbox/events/stream/disconnect")
    await until(lambda: consumer.stats["connections"] >= 2, limit=15)
    assert time.monotonic() - started < 2.0, "the reconnect waited for the close handshake"
    assert consumer.stats["server_disconnects"] == 1 and consumer.stats["backoff_waits"] == 0
    hired = await mutate(sandbox, "hire")  # the new connection receives
    await until(lambda: [r for r in inbox(engine, corp) if r["event_id"] == hired["event_id"]])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not consumer._closing  # the old socket's close finished or was awaited


async def test_backoff_grows_with_jitter_and_is_capped() -> None:
    consumer = StreamConsumer(
        None,
        "http://x",
        "k",
        "s",
        backoff_base=1.0,
        backoff_max=8.0,  # type: ignore[arg-type]
    )
    waits = [consumer.backoff(n) for n in range(1, 8)]
    assert consumer.backoff(0) == 0.0
    assert all(1.0 <= w for w in waits) and all(w <= 9.0 for w in waits)
    assert waits[3] >= 8.0 and waits[-1] <= 9.0  # capped, plus at most one base of jitter
    assert len({round(w, 6) for w in waits}) == len(waits)


async def test_unacknowledged_frames_are_redelivered(sandbox: SandboxServer) -> None:
    sandbox.configure(events_stream_redeliver_s=60, events_stream_ping_s=3600)
    async with httpx.AsyncClient() as http:
        conn = await open_connection(
            http, sandbox.base_url, sandbox.app.app_key, sandbox.app.app_secret
        )
    async with websockets.connect(conn.url) as ws:
        ev = await mutate(sandbox, "modify")
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first["type"] == "EVENT" and first["headers"]["eventId"] == ev["event_id"]
        assert isinstance(first["data"], str) and isinstance(first["headers"]["time"], str)
        assert json.loads(first["data"])["userId"] == ev["userId"]
        sandbox.clock.advance(61)  # no ACK within 60 s → redelivered
        again = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert again["headers"]["messageId"] == first["headers"]["messageId"]
        await ws.send(event_ack(again["headers"]["messageId"]))
        await until(lambda: sandbox.stats()["events"].get("stream_acked", 0) == 1)
        sandbox.clock.advance(120)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)
    # a ticket is single use
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(conn.url):
            pass


SDK_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os, sys
    import dingtalk_stream
    from dingtalk_stream import AckMessage

    class Handler(dingtalk_stream.EventHandler):
        async def process(self, event):
            print(json.dumps({"type": event.headers.event_type, "id": event.headers.event_id,
                              "data": event.data}), flush=True)
            asyncio.get_running_loop().call_later(0.5, os._exit, 0)  # after the ACK went out
            return AckMessage.STATUS_OK, "OK"

    client = dingtalk_stream.DingTalkStreamClient(
        dingtalk_stream.Credential(sys.argv[1], sys.argv[2]))
    client.register_all_event_handler(Handler())
    print("starting", dingtalk_stream.DingTalkStreamClient.OPEN_CONNECTION_API, flush=True)

    async def main():
        task = asyncio.create_task(client.start())
        await asyncio.sleep(30)

    asyncio.run(main())
    """
)


def test_official_sdk_connects_to_the_sandbox_and_receives_an_event(
    sandbox: SandboxServer,
) -> None:
    env = dict(os.environ, DINGTALK_OPENAPI_ENDPOINT=sandbox.base_url)
    proc = subprocess.Popen(
        [sys.executable, "-c", SDK_SCRIPT, sandbox.app.app_key, sandbox.app.app_secret],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while sandbox.stats()["events"]["stream_connections"] < 1:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the SDK did not connect"
            time.sleep(0.05)
        ev = httpx.post(f"{sandbox.base_url}/sandbox/mutate/contacts/hire", json={}).json()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert lines, (out, err)
    assert lines[0]["type"] == "user_add_org" and lines[0]["id"] == ev["event_id"]
    assert lines[0]["data"]["userId"] == ev["userId"]
    assert sandbox.stats()["events"].get("stream_acked", 0) == 1  # the SDK's ACK counted


async def test_a_failed_inbox_write_asks_for_redelivery(
    sandbox: SandboxServer, tmp_path: Any
) -> None:
    from dingsync.store import db

    broken = db.create_engine_for(f"sqlite:///{tmp_path / 'unmigrated.db'}")  # no inbox table
    async with make_client(sandbox) as client:
        processor = EventProcessor(client, broken, sandbox.app.corp_id)
        consumer = StreamConsumer(
            processor,
            sandbox.base_url,
            sandbox.app.app_key,
            sandbox.app.app_secret,
            idle_timeout=5.0,
        )
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(consumer.connected.wait(), 5)
        await mutate(sandbox, "modify")
        await until(lambda: sandbox.stats()["events"].get("stream_nacked", 0) >= 1)
        assert consumer.stats["store_errors"] >= 1 and consumer.stats["acked"] == 0
        # LATER → the sandbox sends the same message again (after 1 s by its clock)
        sandbox.clock.advance(2)
        await until(lambda: sandbox.stats()["events"].get("stream_redelivered", 0) >= 1)
        await until(lambda: consumer.stats["store_errors"] >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    broken.dispose()


async def test_an_unreachable_gateway_is_retried_with_backoff_not_in_a_tight_loop(
    tmp_path: Any,
) -> None:
    from dingsync.store import db

    engine = db.create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    processor = EventProcessor(None, engine, "corp")
    consumer = StreamConsumer(
        processor, "http://127.0.0.1:9", "k", "s", backoff_base=0.05, backoff_max=1.0
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.wait_for(task, 3)
    # waits 0.05·(1, 2, 4, 8, …) + jitter: about five attempts in a second, not thousands
    assert 2 <= consumer.stats["connect_errors"] <= 7
    assert consumer.stats["backoff_waits"] >= consumer.stats["connect_errors"] - 1
    engine.dispose()
