"""Stream mode consumer (``dingsync events stream``): one long-lived loop that keeps a WebSocket to
DingTalk open and turns EVENT frames into inbox rows.

- Opens a connection (``/v1.0/gateway/connections/open`` → endpoint + single-use ticket) and the
  WebSocket; a new ticket for every (re)connect.
- EVENT: normalise, write to the inbox, **then** ACK ``200 SUCCESS``; a frame whose
  ``messageId`` was seen in the last 5 minutes, or whose event is already in the inbox, is ACKed
  again and not processed; if the inbox write fails the ACK is ``500 LATER`` (DingTalk
  redelivers). Processing runs after the ACK.
- SYSTEM ``ping``: echo its data; ``disconnect``: ACK, reconnect at once with a new ticket while
  the old socket closes in the background (DingTalk may never answer its close handshake);
  other SYSTEM topics: ACK 200 and ignore (EB-88). CALLBACK: ACK ``{"response": null}``.
- Reconnects with exponential backoff plus jitter (``min(base·2ⁿ, max) + U(0, base)``; reset
  once a frame arrived), never a tight loop.
- Watchdog: no frame at all for ``idle_timeout`` seconds (DingTalk pings every minute or so,
  EB-84) means a dead connection: close it and reconnect.
- Cancel the task (or set ``stop``) to stop cleanly; the socket is closed on the way out.

Several internal apps (one company each, ``[[apps]]`` of ``dingsync.toml``): :class:`StreamGroup`
runs one consumer per company, each on its own app's connection with its company's processor,
so an event is stored and processed under the company whose app received it; an event naming
another company (``eventCorpId``) is acknowledged and not stored (``foreign_corp``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, OrderedDict
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from dingsync.dingtalk import CredentialsError, DingTalkError
from dingsync.dingtalk.models.events import event_from_stream
from dingsync.dingtalk.stream import (
    CALLBACK,
    EVENT,
    SYSTEM,
    TOPIC_DISCONNECT,
    Frame,
    callback_ack,
    event_ack,
    open_connection,
    parse_frame,
    system_ack,
)
from dingsync.sync.events import EventProcessor

log = logging.getLogger(__name__)

ACK_MEMORY_S = 300.0

#: Seconds a closing socket waits for the peer's close handshake before dropping the TCP
#: connection (after a SYSTEM ``disconnect`` the wait happens in the background).
CLOSE_TIMEOUT_S = 2.0


class StreamConsumer:
    """Consume Stream mode events into ``processor``'s inbox.

    ``api_url``: the new host (``https://api.dingtalk.com`` or the sandbox); ``client_id`` /
    ``client_secret``: AppKey/AppSecret. ``idle_timeout`` (s): watchdog; ``backoff_base`` /
    ``backoff_max`` (s): reconnect pacing; ``rng``: jitter source (tests seed it).
    ``stats`` counts connections, frames, ACKs, duplicates and reconnect reasons.
    ``expect_corp``: the company the app belongs to (events naming another are ACKed, not
    stored).
    """

    def __init__(
        self,
        processor: EventProcessor,
        api_url: str,
        client_id: str,
        client_secret: str,
        *,
        idle_timeout: float = 150.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        rng: random.Random | None = None,
        http: httpx.AsyncClient | None = None,
        expect_corp: str | None = None,
    ) -> None:
        self.processor = processor
        #: The company this connection serves (an internal app's): an event naming another
        #: one is not stored. ``None`` (a suite's channel, whose events name each company).
        self.expect_corp = expect_corp
        self.api_url = api_url
        self.client_id = client_id
        self._secret = client_secret
        self.idle_timeout = idle_timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.rng = rng or random.Random()
        self._http = http
        self.stats: Counter[str] = Counter()
        self.connected = asyncio.Event()
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._ws: ClientConnection | None = None
        #: Sockets being closed in the background after a SYSTEM ``disconnect``.
        self._closing: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"StreamConsumer(api_url={self.api_url!r}, client_id={self.client_id!r})"

    def backoff(self, failures: int) -> float:
        """Seconds to wait before reconnect attempt ``failures`` (≥ 1): exponential, capped,
        plus jitter; 0 for the first reconnect after a healthy connection."""
        if failures <= 0:
            return 0.0
        base = min(self.backoff_base * 2 ** (failures - 1), self.backoff_max)
        return float(base + self.rng.uniform(0, self.backoff_base))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Connect and consume until cancelled or ``stop`` is set. Raises
        :class:`~dingsync.dingtalk.CredentialsError` when DingTalk refuses the credentials
        (retrying would not help)."""
        own_http = self._http is None
        http = self._http or httpx.AsyncClient(timeout=15.0)
        failures = 0
        try:
            # Events a stopped consumer left processing go back to the queue (lease ended).
            await self.processor.requeue_expired()
            while stop is None or not stop.is_set():
                delay = self.backoff(failures)
                if delay:
                    self.stats["backoff_waits"] += 1
                    if stop is not None:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), delay)
                        if stop.is_set():
                            break
                    else:
                        await asyncio.sleep(delay)
                started = time.monotonic()
                try:
                    healthy = await self._session(http, stop)
                except CredentialsError:
                    raise
                except (DingTalkError, OSError, websockets.WebSocketException) as exc:
                    self.stats["connect_errors"] += 1
                    log.warning("stream connection failed: %s", type(exc).__name__)
                    healthy = False
                # A session that received frames and lasted a while ends in an immediate
                # reconnect (disconnect, watchdog); anything else backs off, so a server that
                # drops every connection at once never makes this a tight loop.
                lasted = time.monotonic() - started >= 1.0
                failures = 0 if healthy and lasted else failures + 1
        finally:
            self.connected.clear()
            if self._closing:  # sockets still closing after a disconnect: give them their time
                await asyncio.gather(*list(self._closing), return_exceptions=True)
            if own_http:
                await http.aclose()
            await self.processor.wait_idle()

    async def _session(self, http: httpx.AsyncClient, stop: asyncio.Event | None) -> bool:
        """One connection: returns True when frames were received (the session was healthy).

        After a SYSTEM ``disconnect`` the socket is closed in the background (DingTalk may never
        answer the close handshake) and this returns at once, so the reconnect does not wait."""
        conn = await open_connection(http, self.api_url, self.client_id, self._secret)
        self.stats["tickets"] += 1
        got_frame = False
        disconnected = False
        ws = await websockets.connect(
            conn.url, open_timeout=15, close_timeout=CLOSE_TIMEOUT_S, max_size=2**22
        )
        self._ws = ws
        self.connected.set()
        self.stats["connections"] += 1
        try:
            while stop is None or not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), self.idle_timeout)
                except TimeoutError:
                    self.stats["watchdog_reconnects"] += 1
                    log.warning("stream idle for %.0f s: reconnecting", self.idle_timeout)
                    break
                got_frame = True
                try:
                    frame = parse_frame(raw)
                except ValueError:
                    self.stats["bad_frames"] += 1
                    continue
                if await self._on_frame(ws, frame) == TOPIC_DISCONNECT:
                    self.stats["server_disconnects"] += 1
                    disconnected = True
                    break
        except websockets.ConnectionClosed:
            self.stats["closed_by_server"] += 1
        finally:
            self.connected.clear()
            self._ws = None
            closing = asyncio.ensure_future(self._close(ws))
            if disconnected:
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
            else:
                await asyncio.shield(closing)
        if not got_frame:
            self.stats["sessions_without_frames"] += 1
        return got_frame

    @staticmethod
    async def _close(ws: ClientConnection) -> None:
        """Close ``ws``, waiting at most :data:`CLOSE_TIMEOUT_S` for the handshake."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S)

    def _remember(self, message_id: str) -> bool:
        """True if ``message_id`` was handled in the last 5 minutes (then re-ACK only)."""
        now = time.monotonic()
        while self._seen and next(iter(self._seen.values())) < now - ACK_MEMORY_S:
            self._seen.popitem(last=False)
        if message_id in self._seen:
            return True
        self._seen[message_id] = now
        return False

    async def _on_frame(self, ws: Any, frame: Frame) -> str | None:
        self.stats[f"frames_{frame.type.lower()}"] += 1
        if frame.type == SYSTEM:
            await ws.send(system_ack(frame))
            return TOPIC_DISCONNECT if frame.topic == TOPIC_DISCONNECT else None
        if frame.type == CALLBACK:
            await ws.send(callback_ack(frame.message_id))
            return None
        if frame.type != EVENT:
            return None
        if frame.message_id and self._remember(frame.message_id):
            self.stats["duplicate_frames"] += 1
            await ws.send(event_ack(frame.message_id))
            return None
        try:
            event = event_from_stream(frame.raw)
        except ValueError:
            self.stats["bad_events"] += 1
            await ws.send(event_ack(frame.message_id))  # redelivery would not make it valid
            return None
        if self.expect_corp and event.corp_id and event.corp_id != self.expect_corp:
            self.stats["foreign_corp"] += 1
            log.warning("stream event for corp %s on %s's connection: not stored",
                        event.corp_id, self.expect_corp)  # fmt: skip
            await ws.send(event_ack(frame.message_id))
            return None
        try:
            row_id = await self.processor.store(event, "stream")
        except Exception as exc:  # not stored: ask for redelivery
            self._seen.pop(frame.message_id, None)
            self.stats["store_errors"] += 1
            log.error("inbox write failed: %s", type(exc).__name__)
            await ws.send(event_ack(frame.message_id, success=False, message="store failed"))
            return None
        await ws.send(event_ack(frame.message_id))
        self.stats["acked"] += 1
        if row_id is None:
            self.stats["duplicate_events"] += 1
        else:
            self.processor.schedule(row_id)
        return None


class StreamGroup:
    """One :class:`StreamConsumer` per company (``{corp_id: consumer}``), run together: each
    keeps its own connection, backoff and watchdog, so one company's trouble never stalls the
    others. A company whose credentials DingTalk refuses stops (``errors[corp_id]``, logged)
    and the others go on. ``stats``: ``{corp_id: {counter: n}}``."""

    def __init__(self, consumers: dict[str, StreamConsumer]) -> None:
        self.consumers = consumers
        self.errors: dict[str, BaseException] = {}

    def __repr__(self) -> str:
        return f"StreamGroup(corps={sorted(self.consumers)!r})"

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        return {corp_id: dict(c.stats) for corp_id, c in self.consumers.items()}

    async def wait_connected(self) -> None:
        """Return once every consumer has a connection open."""
        await asyncio.gather(*(c.connected.wait() for c in self.consumers.values()))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run every consumer until cancelled or ``stop`` is set (see :meth:`StreamConsumer.run`);
        returns when all have stopped."""

        async def one(corp_id: str, consumer: StreamConsumer) -> None:
            try:
                await consumer.run(stop)
            except CredentialsError as exc:
                self.errors[corp_id] = exc
                log.error("stream of corp %s stopped: DingTalk refused its app's credentials",
                          corp_id)  # fmt: skip

        await asyncio.gather(*(one(c, s) for c, s in self.consumers.items()))


__all__ = ["StreamConsumer", "StreamGroup"]
