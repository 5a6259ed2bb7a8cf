"""Emitting an event and dispatching it: queued per channel (with drop, duplicate, reorder and
delay knobs) and delivered by one loop on the sandbox clock.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from dingsync.sandbox.events.channels import HttpDelivery
from dingsync.sandbox.events.event import MAX_KEPT, SandboxEvent
from dingsync.sandbox.events.http_push import HttpPush
from dingsync.sandbox.events.stream import StreamPush


class Dispatcher(HttpPush, StreamPush):
    """Emit and deliver events."""

    def emit(self, event_type: str, fields: dict[str, Any]) -> SandboxEvent:
        """Create an event and queue it on both channels (subject to the knobs)."""
        ev = SandboxEvent(
            uuid.uuid4().hex, event_type, self._born_ms(), self.state.app.corp_id, fields
        )
        return self.publish(ev)

    def publish(self, ev: SandboxEvent) -> SandboxEvent:
        """Queue a ready-made event (e.g. a suite's ISV event, ``sandbox/isv/``) on both
        channels (subject to the knobs)."""
        self.counters["events_emitted"] += 1
        self.emitted.append(ev)
        if len(self.emitted) > MAX_KEPT:
            del self.emitted[: len(self.emitted) - MAX_KEPT]
        self._queue_http(ev)
        self._queue_stream(ev)
        self._ensure_dispatcher()
        return ev

    def _queue_http(self, ev: SandboxEvent) -> None:
        reg = self.registration
        if reg is None or not reg.wants(ev.event_type):
            return
        now = self.state.clock.now()
        mono = time.monotonic()
        for delay in self._channel_copies("http"):
            self.http_queue.append(HttpDelivery(ev, now, 0, mono + delay))

    def _queue_stream(self, ev: SandboxEvent) -> None:
        live = [c for c in self.conns.values() if not c.dead and not c.closing]
        if not live and not self.knob("events_stream_keep_offline"):
            return
        for delay in self._channel_copies("stream"):
            if delay <= 0:
                self.stream_pending.append(ev)
            else:
                self._later(delay, lambda ev=ev: self.stream_pending.append(ev))
        while len(self.stream_pending) > MAX_KEPT:
            self.stream_pending.popleft()

    def _ensure_dispatcher(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._dispatcher is None or self._dispatcher.done():
            self._wake = asyncio.Event()
            self._dispatcher = loop.create_task(self._dispatch_loop())
        elif self._wake is not None:
            self._wake.set()

    async def _dispatch_loop(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception:  # the dispatcher must not die
                self.counters["dispatcher_errors"] += 1
            assert self._wake is not None
            try:
                await asyncio.wait_for(self._wake.wait(), 0.02)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _tick(self) -> None:
        now = self.state.clock.now()
        mono = time.monotonic()
        # HTTP pushes that are due
        due: list[HttpDelivery] = []
        waiting: list[HttpDelivery] = []
        for d in self.http_queue:
            (due if d.due <= now and d.not_before <= mono else waiting).append(d)
        if due:
            self.http_queue = waiting
            for d in due:
                self._spawn(self._push(d))
        # Stream: pending events to live connections
        live = [c for c in self.conns.values() if not c.dead and not c.closing]
        if live:
            while self.stream_pending:
                ev = self.stream_pending.popleft()
                conn = self.channel_rng.choice(live)
                self._spawn(self._send_event(conn, ev, uuid.uuid4().hex, 0))
            # redeliveries
            redeliver_s = float(self.knob("events_stream_redeliver_s"))
            limit = int(self.knob("events_stream_max_redeliveries"))
            for un in list(self.unacked.values()):
                timed_out = now - un.sent_at >= redeliver_s
                asked = un.retry_at is not None and now >= un.retry_at
                if not (timed_out or asked):
                    continue
                if un.redeliveries >= limit:
                    self.unacked.pop(un.message_id, None)
                    self.counters["stream_given_up"] += 1
                    continue
                conn = self.channel_rng.choice(live)
                self.unacked.pop(un.message_id, None)
                self.counters["stream_redelivered"] += 1
                self._spawn(self._send_event(conn, un.event, un.message_id, un.redeliveries + 1))
            # pings
            ping_s = float(self.knob("events_stream_ping_s"))
            for conn in live:
                if ping_s > 0 and now - conn.last_ping >= ping_s:
                    conn.last_ping = now
                    self._spawn(self._send_ping(conn))
