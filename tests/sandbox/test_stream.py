"""The sandbox's Stream gateway seen by a plain ``websockets`` client over loopback: a connection
made dead by ``POST /sandbox/events/stream/blackhole`` behaves like a dead peer — it sends
nothing and answers no WebSocket ping, so a client's keepalive times out."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import websockets

from dingsync.dingtalk.stream import open_connection
from dingsync.sandbox import SandboxServer


async def test_a_blackholed_connection_answers_no_ping(sb: SandboxServer) -> None:
    sb.configure(events_stream_ping_s=100_000)  # no SYSTEM ping frames during the test
    try:
        async with httpx.AsyncClient(base_url=sb.base_url) as http:
            conn = await open_connection(http, sb.base_url, sb.app.app_key, sb.app.app_secret)
            async with websockets.connect(conn.url, ping_interval=None, close_timeout=0.3) as ws:
                pong = await ws.ping()
                await asyncio.wait_for(pong, 2.0)  # a live peer answers
                r = await http.post("/sandbox/events/stream/blackhole")
                assert r.json() == {"blackholed": 1}
                pong = await ws.ping()
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(pong, 1.0)
                await ws.send("still there?")  # a frame after it changes nothing
                pong = await ws.ping()
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(pong, 0.5)
    finally:
        sb.configure(events_stream_ping_s=60.0)


async def test_websockets_keepalive_closes_a_blackholed_connection(sb: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=sb.base_url) as http:
        conn = await open_connection(http, sb.base_url, sb.app.app_key, sb.app.app_secret)
        async with websockets.connect(
            conn.url, ping_interval=0.2, ping_timeout=0.3, close_timeout=0.3
        ) as ws:
            await asyncio.sleep(0.6)  # pings answered: still open
            assert ws.close_code is None
            await http.post("/sandbox/events/stream/blackhole")
            await asyncio.wait_for(ws.wait_closed(), 5.0)
            sent, received = ws.protocol.close_sent, ws.protocol.close_rcvd
            assert sent is not None and (sent.code, sent.reason) == (1011, "keepalive ping timeout")
            assert received is None  # the dead peer never answered the close either


async def test_an_accepted_connection_is_logged_without_its_ticket(
    sb: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    async with httpx.AsyncClient(base_url=sb.base_url) as http:
        conn = await open_connection(http, sb.base_url, sb.app.app_key, sb.app.app_secret)
        ticket = conn.url.split("ticket=", 1)[1]
        assert ticket
        async with websockets.connect(conn.url, close_timeout=0.3) as ws:
            pong = await ws.ping()
            await asyncio.wait_for(pong, 2.0)
    accepted = [r.getMessage() for r in caplog.records if "[accepted]" in r.getMessage()]
    assert accepted and all("ticket=***" in m for m in accepted), accepted
    assert ticket not in caplog.text
