"""The events area's live state: knobs, registrations, connections, what was emitted, and the
timers (by the sandbox clock) that later deliveries wait on.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from dingsync.sandbox.events.channels import HttpDelivery, Registration, StreamConn, Unacked
from dingsync.sandbox.events.event import SandboxEvent

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState


class EventsState:
    """Base of :class:`~dingsync.sandbox.events.area.EventsArea`: state, knobs, truth and
    timers."""

    DEFAULT_KNOBS: ClassVar[dict[str, Any]] = {
        "events_format": "legacy",
        "events_drop": 0.0,
        "events_duplicate": 0.0,
        "events_reorder": 0.0,
        "events_reorder_ms": 300.0,
        "events_delay_ms": 0.0,
        "events_http_timeout_ms": 1500.0,
        "events_retry_first_s": 10.0,
        "events_retry_second_s": 30.0,
        "events_failed_list_delay_s": 180.0,
        "events_stream_ticket_ttl_s": 90.0,
        "events_stream_redeliver_s": 60.0,
        "events_stream_max_redeliveries": 3,
        "events_stream_ping_s": 60.0,
        "events_stream_close_after_s": 10.0,
        "events_stream_close_handshake": False,
        "events_stream_keep_offline": True,
        "events_bpms_delete": False,
    }

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        #: Extra sandbox knobs (``configure``) with their defaults.
        self.knobs: dict[str, Any] = dict(EventsState.DEFAULT_KNOBS)
        seed = state.config.seed
        self.rng = random.Random(seed * 7919 + 17)  # mutation choices (deterministic)
        self.channel_rng = random.Random(seed * 7919 + 29)  # drop/duplicate/reorder draws
        self.registration: Registration | None = None
        self.http_queue: list[HttpDelivery] = []
        self.failed: deque[tuple[float, dict[str, Any]]] = deque()
        self.stream_pending: deque[SandboxEvent] = deque()
        self.unacked: dict[str, Unacked] = {}
        self.conns: dict[str, StreamConn] = {}
        self.tickets: dict[str, float] = {}  # ticket → expiry (sandbox clock)
        self.counters: Counter[str] = Counter()
        self.emitted: list[SandboxEvent] = []
        #: Ids of events pushed successfully over HTTP at least once.
        self.delivered_ids: set[str] = set()
        self._last_ms = 0
        self._dispatcher: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._wake: asyncio.Event | None = None
        self._hooked = False

    def knob(self, name: str) -> Any:
        return self.state.area_knobs.get(name, EventsState.DEFAULT_KNOBS[name])

    def stats(self) -> dict[str, Any]:
        """Counters of the push machinery and the registration (without secrets)."""
        out: dict[str, Any] = dict(sorted(self.counters.items()))
        out["registered_url"] = self.registration.url if self.registration else None
        out["http_pending"] = len(self.http_queue)
        out["failed_list"] = len(self.failed)
        out["stream_connections"] = sum(1 for c in self.conns.values() if not c.dead)
        out["stream_pending"] = len(self.stream_pending)
        out["stream_unacked"] = len(self.unacked)
        return out

    def _born_ms(self) -> int:
        now = self.state.clock.now_ms()
        self._last_ms = max(now, self._last_ms + 1)
        return self._last_ms

    def _later(self, delay: float, fn: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            fn()
            return
        loop.call_later(delay, fn)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    def _channel_copies(self, channel: str) -> list[float]:
        """Extra real-time delays (s) of each copy to send on ``channel`` (``http``/``stream``):
        [] = dropped."""
        rng = self.channel_rng
        if rng.random() < float(self.knob("events_drop")):
            self.counters[f"{channel}_dropped"] += 1
            return []
        base = float(self.knob("events_delay_ms")) / 1000
        copies = [base]
        if rng.random() < float(self.knob("events_duplicate")):
            self.counters[f"{channel}_duplicated"] += 1
            copies.append(base + rng.random() * 0.05)
        out = []
        for d in copies:
            if rng.random() < float(self.knob("events_reorder")):
                d += rng.random() * float(self.knob("events_reorder_ms")) / 1000
                self.counters[f"{channel}_reordered"] += 1
            out.append(d)
        return out
