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

With a ``redis://`` storage every process of a deployment draws from one budget, calls in flight
included: :class:`RedisWindow` keeps one sorted set per (app, path) whose members are calls,
scored with the moment they stop counting (in flight: send + ``hold_s``; answered: answer + 1 s),
and admits a call in one Lua script (drop the expired, count, add). A process killed mid-call
leaves its slots until ``hold_s`` passes — never an over-limit burst.

Two more things are shared the same way (in memory without Redis, in Redis with it):

- a **reserved share for logins**: calls made inside :func:`login_priority` (or to
  :data:`LOGIN_PATHS`) may use the whole limit; other calls of a path logins call too
  (:data:`LOGIN_SHARED_PATHS`) only ``qps − reserve`` (``login_reserve``: a share of the limit,
  at least one call per second when positive); paths no login calls are the sync's whole; and
  logins do not queue behind the sync's callers;
- a **throttle back-off**: when DingTalk answers a rate-limit reply (90018, 90002,
  ``Forbidden.AccessDenied.Qps…``) the client calls :meth:`PathRateLimiter.throttled`, and every
  process waits that long before its next call of the path (key ``dingsync:backoff:…``).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

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

#: Paths only a login calls (免登 code → userid, OAuth user token, the user's own profile):
#: they always have the reserved share.
LOGIN_PATHS = frozenset(
    {
        "/topapi/v2/user/getuserinfo",
        "/user/getuserinfo",
        "/v1.0/oauth2/userAccessToken",
        "/v1.0/contact/users/me",
        "/sns/getuserinfo_bycode",
    }
)

#: Paths a login calls that a sync calls too (the person's detail and departments, a unionid's
#: userid, tokens). Only on these and on :data:`LOGIN_PATHS` is a share kept for logins; every
#: other path (reports, attendance, approvals, the tree walk's ``listsubid`` and member lists)
#: is the sync's alone and it may use the whole limit — a share no login can use would only
#: slow the sync (wall ÷ the rate-limit bound 1 ÷ (1 − share)).
LOGIN_SHARED_PATHS = frozenset(
    {
        "/topapi/v2/user/get",
        "/topapi/v2/department/get",
        "/topapi/v2/department/listparentbyuser",
        "/topapi/user/getbyunionid",
        "/gettoken",
        "/v1.0/oauth2/accessToken",
        "/v1.0/oauth2/corpAccessToken",
    }
)

_LOGIN: ContextVar[bool] = ContextVar("dingsync_login_priority", default=False)


@contextmanager
def login_priority() -> Iterator[None]:
    """Calls made inside this block (this task and the tasks it starts) are a login's: they
    may use the share of each limit reserved for logins and skip the sync's queue."""
    token = _LOGIN.set(True)
    try:
        yield
    finally:
        _LOGIN.reset(token)


def reserve_for(qps: float, share: float) -> int:
    """Calls per second of a ``qps`` limit kept for logins: ``floor(qps × share)``, at least 1
    when ``share`` is positive, and always leaving the others at least one."""
    if share <= 0 or qps < 2:
        return 0
    return int(min(max(1, math.floor(qps * share + 1e-9)), math.floor(qps) - 1))


# Admit one call: while the path's back-off (KEYS[2]) lasts, return minus its ms left; else
# drop entries whose time is up, count the rest, add ours when under ``cap``. Returns 0 when
# admitted, else how many ms until the earliest entry leaves (at least 1).
_ADMIT = """
local now = tonumber(ARGV[1])
local backoff = tonumber(redis.call('GET', KEYS[2]) or '0')
if backoff > now then return now - backoff end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local cap = tonumber(ARGV[2])
if redis.call('ZCARD', KEYS[1]) < cap then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) - now)
"""
# The call was answered: it counts until ``now + window``.
_ANSWERED = """
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000)
return 1
"""
# Push the back-off of a path to ``until`` (epoch ms) unless it already lasts longer.
_BACKOFF = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local untl = tonumber(ARGV[1])
if untl > cur then
  redis.call('SET', KEYS[1], untl, 'PX', math.max(1, untl - tonumber(ARGV[2])))
end
return 1
"""


class RedisWindow:
    """Per-(app, path) budgets in Redis shared by every process (see the module docstring).

    ``url``: ``redis://host:port/db``; ``hold_s``: how long a call in flight counts at most (the
    request timeout plus the window). Raises whatever redis-py raises when Redis is down.
    """

    def __init__(self, url: str, *, prefix: str = "dingsync", hold_s: float = 31.0) -> None:
        import redis.asyncio as aredis

        self.prefix = prefix
        self.hold_ms = int(hold_s * 1000)
        self.redis: Any = aredis.Redis.from_url(url)
        self._admit = self.redis.register_script(_ADMIT)
        self._answered = self.redis.register_script(_ANSWERED)
        self._backoff = self.redis.register_script(_BACKOFF)

    def key(self, kind: str, app_key: str, path: str) -> str:
        return f"{self.prefix}:{kind}:{app_key}:{path}"

    async def admit(self, app_key: str, path: str, cap: int, member: str) -> float:
        """0.0 when the call was admitted; else seconds to wait before trying again —
        negative while the path's throttle back-off lasts (wait all of it)."""
        now = int(time.time() * 1000)
        wait = await self._admit(
            keys=[self.key("rl", app_key, path), self.key("backoff", app_key, path)],
            args=[now, cap, self.hold_ms, member],
        )
        return int(wait) / 1000.0

    async def answered(self, app_key: str, path: str, member: str, window_s: float) -> None:
        now = int(time.time() * 1000)
        await self._answered(
            keys=[self.key("rl", app_key, path)], args=[now, int(window_s * 1000), member]
        )

    async def push_backoff(self, app_key: str, path: str, until: float) -> None:
        now = int(time.time() * 1000)
        await self._backoff(
            keys=[self.key("backoff", app_key, path)], args=[int(until * 1000), now]
        )

    async def backoff_until(self, app_key: str, path: str) -> float:
        """Epoch seconds until which calls of ``path`` wait (0.0 when none)."""
        raw = await self.redis.get(self.key("backoff", app_key, path))
        return int(raw) / 1000.0 if raw else 0.0

    async def aclose(self) -> None:
        await self.redis.aclose()


@dataclass
class _PathState:
    items: list[RateLimitItem]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    login_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class PathRateLimiter:
    """Paces calls per API path, per app and company: DingTalk counts each app's calls of an API
    in each company, so ``app_key`` and ``corp_id`` (optional) name the budget in the storage.

    ``qps``: default per path (``None``/0 = unlimited); ``overrides``: per-path values (``None``/0
    there = unlimited for that path). ``margin``: extra seconds slept past the moment a window
    entry expires (timer granularity). ``storage_uri``: ``memory://`` (this process; ``limits``'
    moving window) or ``redis://…`` (every process; :class:`RedisWindow`). ``login_reserve``:
    share of each limit kept for logins (:func:`login_priority`, :func:`reserve_for`).
    ``hold_s``: with Redis, how long a call in flight counts at most (a killed process's).
    """

    def __init__(
        self,
        app_key: str,
        qps: float | None,
        *,
        overrides: dict[str, float | None] | None = None,
        storage_uri: str = "memory://",
        margin: float = 0.005,
        login_reserve: float = 0.0,
        hold_s: float = 31.0,
        corp_id: str | None = None,
    ) -> None:
        self.app_key = app_key
        self.corp_id = corp_id
        #: The budget's name in the storage: one per app and company.
        self.scope = f"{app_key}@{corp_id}" if corp_id else app_key
        self.qps = qps or None
        self.overrides = dict(overrides or {})
        self.margin = margin
        self.login_reserve = login_reserve
        self._redis_uri = storage_uri.removeprefix("async+")
        self._shared: RedisWindow | None = None
        self._hold_s = hold_s
        if not self._redis_uri.startswith(("redis://", "rediss://", "unix://")):
            self._redis_uri = ""
        #: In-process back-off per path (epoch seconds), when there is no Redis.
        self._backoff: dict[str, float] = {}
        #: Rate-limit replies reported through :meth:`throttled`, per path.
        self.throttles: dict[str, int] = {}
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

    @property
    def shared(self) -> bool:
        """Whether the budget is shared through Redis."""
        return bool(self._redis_uri)

    def _window(self) -> RedisWindow:
        if self._shared is None:
            self._shared = RedisWindow(self._redis_uri, hold_s=self._hold_s)
        return self._shared

    async def throttled(self, path: str, delay: float) -> None:
        """DingTalk answered a rate-limit reply on ``path``: every caller of it — in every
        process when the budget is shared — waits ``delay`` seconds before its next call."""
        self.throttles[path] = self.throttles.get(path, 0) + 1
        until = time.time() + max(0.0, delay)
        if self._redis_uri:
            await self._window().push_backoff(self.scope, path, until)
        else:
            self._backoff[path] = max(self._backoff.get(path, 0.0), until)

    async def _wait_backoff(self, path: str) -> None:
        while True:
            if self._redis_uri:
                until = await self._window().backoff_until(self.scope, path)
            else:
                until = self._backoff.get(path, 0.0)
            left = until - time.time()
            if left <= 0:
                return
            started = time.monotonic()
            await asyncio.sleep(left)
            self.waited += time.monotonic() - started

    def _reserve(self, path: str, qps: float) -> int:
        """Calls per second of ``path`` this call may not use: the logins' share, for a
        non-login call of a path logins call too (:data:`LOGIN_SHARED_PATHS`); else 0."""
        if self._is_login(path) or path not in LOGIN_SHARED_PATHS:
            return 0
        return reserve_for(qps, self.login_reserve)

    def _login_lane(self, path: str, qps: float) -> bool:
        """Whether this call is a login's with a share kept for it: it queues apart from the
        sync's callers (never behind them)."""
        return self._is_login(path) and reserve_for(qps, self.login_reserve) > 0

    @staticmethod
    def _is_login(path: str) -> bool:
        return _LOGIN.get() or path in LOGIN_PATHS

    @asynccontextmanager
    async def slot(self, path: str) -> AsyncIterator[None]:
        """Hold a slot of ``path`` while the body sends one request and reads its answer."""
        qps = self.qps_for(path)
        if qps and self._redis_uri:  # one round trip checks the back-off and admits
            async with self._redis_slot(path, qps):
                yield
            return
        await self._wait_backoff(path)
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

    @asynccontextmanager
    async def _redis_slot(self, path: str, qps: float) -> AsyncIterator[None]:
        """The shared slot: admitted by Redis, answered into Redis (1 s window after it).
        Only whole calls per second are shared (a fractional limit is floored)."""
        window = self._window()
        state = self._state(path, qps)
        login = self._login_lane(path, qps)
        cap = max(1, math.floor(qps + 1e-9) - self._reserve(path, qps))
        member = uuid.uuid4().hex
        async with state.login_lock if login else state.lock:
            started = time.monotonic()
            while True:
                wait = await window.admit(self.scope, path, cap, member)
                if wait == 0:
                    break
                if wait < 0:  # a throttle reply's back-off: every process waits it out
                    await asyncio.sleep(-wait)
                    continue
                # An entry in flight may leave early (its answer): poll, never sleep long.
                await asyncio.sleep(min(wait, 0.05) + self.margin)
            self.waited += time.monotonic() - started
        try:
            yield
        finally:
            await window.answered(self.scope, path, member, 1.0)

    async def _acquire(
        self, limiter: MovingWindowRateLimiter, path: str, state: _PathState
    ) -> None:
        reserve = self._reserve(path, self.qps_for(path) or 0.0)
        login = self._login_lane(path, self.qps_for(path) or 0.0)
        async with state.login_lock if login else state.lock:
            started = time.monotonic()
            while True:
                # Cleared before looking, so an answer arriving while we look still wakes us.
                state.released.clear()
                cost = state.in_flight + 1 + reserve
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
        """Stop the in-memory storage's background expiry task (and close Redis)."""
        if self._shared is not None:
            shared, self._shared = self._shared, None
            await shared.aclose()
        storage = self._storage
        timer = getattr(storage, "timer", None)
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()
        self._storage = None
        self._limiter = None
