"""Per-(app, API path) rate limiting that waits for a slot instead of failing.

DingTalk counts calls by when they *arrive*, which we cannot see: an arrival lies somewhere
between our send and the answer. So a call holds its slot from the moment it is sent until one
second after its answer came back. The ``limits`` library's moving window records each answered
call (the storage is a URI: ``memory://`` by default, ``redis://…`` to share the budget across
processes); calls in flight are counted locally. A new call starts only while

    answered in the last second + in flight < qps

which guarantees that DingTalk never sees more than ``qps`` arrivals in any 1-second window,
whatever the latency, at a throughput of ``qps / (1 + latency)`` per path. Callers of one path
queue on a FIFO lock so only the head of the queue polls the storage.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MovingWindowSupport
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


def limit_items(qps: float) -> list[RateLimitItem]:
    """Window items enforcing ``qps``: ``floor(qps)`` per second, plus a longer window when
    ``qps`` is fractional (2.5 → 2 per second and 5 per 2 seconds; 0.5 → 1 per 2 seconds)."""
    if qps <= 0:
        raise ValueError("qps must be positive")
    per_second = max(1, math.floor(qps + 1e-9))
    if abs(qps - round(qps)) < 1e-9 and qps >= 1:
        return [RateLimitItemPerSecond(per_second, 1, namespace="DINGTALK")]
    for multiples in range(2, 61):
        amount = qps * multiples
        if abs(amount - round(amount)) < 1e-6:
            break
    else:
        multiples = 60
    longer = RateLimitItemPerSecond(
        max(1, math.floor(qps * multiples + 1e-6)), multiples, namespace="DINGTALK"
    )
    if qps < 1:
        return [longer]
    return [RateLimitItemPerSecond(per_second, 1, namespace="DINGTALK"), longer]


_UNBOUNDED = 1 << 30


@dataclass
class _PathState:
    items: list[RateLimitItem]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0


class PathRateLimiter:
    """Paces calls per API path, per app and company: DingTalk counts each app's calls of an API
    in each company, so ``app_key`` and ``corp_id`` (optional) name the budget in the storage.

    ``qps``: default per path (``None``/0 = unlimited); ``overrides``: per-path values (``None``/0
    there = unlimited for that path). ``margin``: extra seconds slept past the moment a window
    entry expires (timer granularity).
    """

    def __init__(
        self,
        app_key: str,
        qps: float | None,
        *,
        overrides: dict[str, float | None] | None = None,
        storage_uri: str = "memory://",
        margin: float = 0.005,
        corp_id: str | None = None,
    ) -> None:
        self.app_key = app_key
        self.corp_id = corp_id
        #: The budget's name in the storage: one per app and company.
        self.scope = f"{app_key}@{corp_id}" if corp_id else app_key
        self.qps = qps or None
        self.overrides = dict(overrides or {})
        self.margin = margin
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        self._storage_uri = uri
        self._storage: object | None = None
        self._limiter: MovingWindowRateLimiter | None = None
        self._paths: dict[str, _PathState] = {}
        self.waited = 0.0  # total seconds spent waiting, for diagnostics

    def qps_for(self, path: str) -> float | None:
        """The configured QPS of ``path`` (``None`` = unlimited)."""
        if path in self.overrides:
            return self.overrides[path] or None
        return self.qps

    def _ensure(self) -> MovingWindowRateLimiter:
        if self._limiter is None:
            storage = storage_from_string(self._storage_uri)
            self._storage = storage
            self._limiter = MovingWindowRateLimiter(storage)
        return self._limiter

    def _state(self, path: str, qps: float) -> _PathState:
        state = self._paths.get(path)
        if state is None:
            state = self._paths[path] = _PathState(limit_items(qps))
        return state

    @asynccontextmanager
    async def slot(self, path: str) -> AsyncIterator[None]:
        """Hold a slot of ``path`` while the body sends one request and reads its answer."""
        qps = self.qps_for(path)
        if not qps:
            yield
            return
        state = self._state(path, qps)
        limiter = self._ensure()
        await self._acquire(limiter, path, state)
        try:
            yield
        finally:
            # Record the answer before freeing the in-flight place: the storage may yield
            # (its expiry task holds the key's lock across a thread hop), and a waiter must not
            # see the call in neither count meanwhile.
            try:
                await self._record(path, state)
            finally:
                state.in_flight -= 1
                state.released.set()

    async def _record(self, path: str, state: _PathState) -> None:
        """Add the answered call to each window. Written with an unbounded limit: the window
        must hold every answer (a ``hit`` refuses entries past the limit, which another process
        sharing the storage could have filled)."""
        storage = cast(MovingWindowSupport, self._storage)
        for item in state.items:
            await storage.acquire_entry(
                item.key_for(self.scope, path), _UNBOUNDED, item.get_expiry()
            )

    async def _acquire(
        self, limiter: MovingWindowRateLimiter, path: str, state: _PathState
    ) -> None:
        async with state.lock:
            started = time.monotonic()
            while True:
                # Cleared before looking, so an answer arriving while we look still wakes us.
                state.released.clear()
                cost = state.in_flight + 1
                free = [
                    await limiter.test(item, self.scope, path, cost=cost) for item in state.items
                ]
                if all(free):
                    state.in_flight += 1
                    break
                # Wait for the oldest answered call to leave its window; with nothing answered
                # recently (everything in flight), wait for an answer first.
                wait: float | None = None
                for item, ok in zip(state.items, free, strict=True):
                    if ok:
                        continue
                    stats = await limiter.get_window_stats(item, self.scope, path)
                    if stats.remaining < item.amount:  # something answered is in the window
                        until = stats.reset_time - time.time()
                        wait = until if wait is None else max(wait, until)
                if wait is None:
                    await state.released.wait()
                else:
                    await asyncio.sleep(max(wait, 0.0) + self.margin)
            self.waited += time.monotonic() - started

    async def aclose(self) -> None:
        """Stop the in-memory storage's background expiry task."""
        storage = self._storage
        timer = getattr(storage, "timer", None)
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()
        self._storage = None
        self._limiter = None
