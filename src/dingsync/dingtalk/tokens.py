"""Access-token (and JSAPI-ticket) caching: in memory, single flight, optionally shared.

A :class:`TokenStore` lets several processes share one token per appKey (DingTalk returns the same
token when it is fetched again while valid, so a race between processes costs one extra call, not
a second token). ``dingsync.store.tokens.DatabaseTokenStore`` implements the protocol over our
database; :class:`MemoryTokenStore` is the in-process one; :class:`RedisTokenStore` shares
tokens and tickets through Redis with **single flight across processes**: a store that has
``single_flight(key)`` (an async context manager yielding a fencing value) is locked around the
look-up-or-fetch, so N processes whose token expires together send one token request, and a
holder whose lock ran out (it stalled) cannot overwrite a newer value (``set_fenced`` refuses a
write whose fencing value is older than the stored one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

#: Refresh this long before DingTalk's expiry (the docs advise 10 minutes).
DEFAULT_REFRESH_MARGIN = 600.0
#: ...but never closer to expiry than this, whatever the lifetime (tiny lifetimes in tests).
DEFAULT_MIN_MARGIN = 2.0


@dataclass(frozen=True, slots=True)
class CachedToken:
    """A token value and its expiry as DingTalk gave it (``expires_at``: epoch seconds).

    ``first_seen``: epoch seconds when a process sharing the store first fetched this value
    (``None`` when nobody tracks it). A JSAPI ticket dies 24 h after creation however often it
    is extended, so the time travels with the value through the shared store: a second process
    that fetches the same ticket later still knows how old it is.
    """

    value: str
    expires_at: float
    first_seen: float | None = None

    def __repr__(self) -> str:  # never print the token itself
        return (
            f"CachedToken(value='***', expires_at={self.expires_at!r}, "
            f"first_seen={self.first_seen!r})"
        )


class TokenLike(Protocol):
    """Anything with a token ``value`` and ``expires_at`` (epoch seconds) — what a store returns
    (:class:`CachedToken`, or the store's own record type). A store may also carry
    ``first_seen`` (epoch seconds, see :class:`CachedToken`); one without it is still accepted."""

    @property
    def value(self) -> str: ...

    @property
    def expires_at(self) -> float: ...


@runtime_checkable
class TokenStore(Protocol):
    """Shared storage for tokens, keyed by app and company (:func:`token_key`; and
    ``<key>:jsapi_ticket`` for tickets)."""

    async def get(self, key: str) -> TokenLike | None:
        """The stored token for ``key`` (expired or not), or ``None``."""
        ...

    async def set(self, key: str, token: CachedToken) -> None:
        """Store ``token`` under ``key``, replacing any previous one."""
        ...

    async def delete(self, key: str, value: str) -> None:
        """Remove the token under ``key`` only if its value is still ``value`` (compare-and-delete,
        so a process never drops a newer token another one just stored)."""
        ...


class MemoryTokenStore:
    """A :class:`TokenStore` in this process's memory (share one between several clients)."""

    def __init__(self) -> None:
        self._tokens: dict[str, CachedToken] = {}

    async def get(self, key: str) -> CachedToken | None:
        return self._tokens.get(key)

    async def set(self, key: str, token: CachedToken) -> None:
        self._tokens[key] = token

    async def delete(self, key: str, value: str) -> None:
        current = self._tokens.get(key)
        if current is not None and current.value == value:
            del self._tokens[key]


# Store a token unless one with a newer fencing value is stored (a stalled lock holder).
_SET_FENCED = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'fence') or '-1')
if tonumber(ARGV[4]) < cur then return 0 end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'expires_at', ARGV[2], 'first_seen', ARGV[3],
           'fence', ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
return 1
"""
# Compare-and-delete of a value (and of a lock held with a fencing value).
_DEL_IF = """
if redis.call('HGET', KEYS[1], 'value') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisTokenStore:
    """A :class:`TokenStore` in Redis, shared by every process of a deployment.

    ``url``: ``redis://host:port/db``. Keys: ``{prefix}:{key}`` (a hash: value, expires_at,
    first_seen, fence; it expires with the token, kept a day past for ``first_seen``),
    ``{prefix}:lock:{key}`` (the single-flight lock, ``lock_s`` seconds at most) and
    ``{prefix}:fence:{key}`` (the fencing counter). ``wait_s``: how long a process waits for
    another's fetch before fetching itself (a dead holder's lock expires after ``lock_s``).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "dingsync:token",
        lock_s: float = 15.0,
        wait_s: float = 20.0,
    ) -> None:
        import redis.asyncio as aredis

        self.redis: Any = aredis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self.lock_ms = int(lock_s * 1000)
        self.wait_s = wait_s
        self._set = self.redis.register_script(_SET_FENCED)
        self._del = self.redis.register_script(_DEL_IF)
        self._unlock = self.redis.register_script(_UNLOCK)
        #: Fencing values handed out per key in this process (diagnostics, tests).
        self.fences: dict[str, int] = {}

    def _k(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def get(self, key: str) -> CachedToken | None:
        found = await self.redis.hgetall(self._k(key))
        if not found or not found.get("value"):
            return None
        first = found.get("first_seen")
        return CachedToken(
            found["value"], float(found["expires_at"]), float(first) if first else None
        )

    async def set(self, key: str, token: CachedToken) -> None:
        await self.set_fenced(key, token, self.fences.get(key, 0))

    async def set_fenced(self, key: str, token: CachedToken, fence: int) -> bool:
        """Store ``token`` unless a value with a newer ``fence`` is stored; whether it was."""
        keep_ms = max(1000, int((token.expires_at - time.time() + 86400) * 1000))
        first = "" if token.first_seen is None else repr(token.first_seen)
        done = await self._set(
            keys=[self._k(key)],
            args=[token.value, repr(token.expires_at), first, fence, keep_ms],
        )
        return bool(done)

    async def delete(self, key: str, value: str) -> None:
        await self._del(keys=[self._k(key)], args=[value])

    @asynccontextmanager
    async def single_flight(self, key: str) -> AsyncIterator[int]:
        """Hold ``key``'s cross-process lock; yields this holder's fencing value (increasing)."""
        fence = int(await self.redis.incr(f"{self.prefix}:fence:{key}"))
        self.fences[key] = fence
        lock = f"{self.prefix}:lock:{key}"
        deadline = time.monotonic() + self.wait_s
        while not await self.redis.set(lock, str(fence), nx=True, px=self.lock_ms):
            if time.monotonic() > deadline:
                log.warning("token lock of %s still held after %.0fs; fetching", key, self.wait_s)
                break
            await asyncio.sleep(0.02)
        try:
            yield fence
        finally:
            await self._unlock(keys=[lock], args=[str(fence)])

    async def aclose(self) -> None:
        await self.redis.aclose()


def token_key(app_key: str, corp_id: str | None = None) -> str:
    """The shared-store key of an app's access token in one company: ``<appKey>@<corpId>``
    (``<appKey>`` alone when the company is not named). A third-party suite holds one token per
    authorising company under the same key, so the company is part of the key; a JSAPI ticket
    lives under ``<token key>:jsapi_ticket``."""
    return f"{app_key}@{corp_id}" if corp_id else app_key


#: Fetches a fresh value: returns ``(value, lifetime in seconds)``.
Fetcher = Callable[[], Awaitable[tuple[str, float]]]


class TokenCache:
    """One cached secret (an access token or a JSAPI ticket) with single-flight refresh.

    ``get()`` answers from memory while the value is fresh; otherwise one caller (per process)
    looks in the shared store and, failing that, fetches; concurrent callers wait for it.
    Fresh means: before ``expires_at - margin`` with
    ``margin = max(min_margin, min(refresh_margin, lifetime / 2))``.

    ``max_age`` (seconds, optional): a value is never trusted past ``first_seen + max_age``,
    whatever lifetime DingTalk announces when it hands the same value back (a JSAPI ticket:
    24 h from creation). ``first_seen`` is kept with the value in the shared store, so every
    process sharing it applies the same cap.
    """

    def __init__(
        self,
        key: str,
        fetch: Fetcher,
        *,
        store: TokenStore | None = None,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        min_margin: float = DEFAULT_MIN_MARGIN,
        clock: Callable[[], float] = time.time,
        max_age: float | None = None,
    ) -> None:
        self.key = key
        self._max_age = max_age
        self._fetch = fetch
        self._store = store
        self._refresh_margin = refresh_margin
        self._min_margin = min_margin
        self._clock = clock
        self._current: CachedToken | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self._fence: int | None = None
        self.fetches = 0

    def _margin(self, lifetime: float) -> float:
        return max(self._min_margin, min(self._refresh_margin, lifetime / 2))

    def _fresh(self) -> CachedToken | None:
        if self._current is not None and self._clock() < self._refresh_at:
            return self._current
        return None

    def _remember(self, token: CachedToken, lifetime: float) -> None:
        self._current = token
        self._refresh_at = token.expires_at - self._margin(lifetime)

    async def get(self) -> str:
        """A valid value, fetched at most once at a time."""
        token = self._fresh()
        if token is not None:
            return token.value
        async with self._lock:
            token = self._fresh()
            if token is not None:
                return token.value
            return await self._load(rejected=None)

    async def renew(self, rejected: str) -> tuple[str, bool]:
        """A value to use instead of ``rejected`` (one DingTalk refused) and whether this call
        fetched it. Single flight per generation: the first caller holding ``rejected`` drops
        it and fetches (``True``); callers rejected with the same value meanwhile get that newer
        value (``False``). The value equals ``rejected`` only when DingTalk hands the same token
        back (then retrying is pointless).
        """
        async with self._lock:
            token = self._fresh()
            if token is not None and token.value != rejected:
                return token.value, False  # another caller already renewed this generation
            await self._drop(rejected)
            return await self._load(rejected=rejected), True

    async def _load(self, rejected: str | None) -> str:
        """Adopt the shared store's value (unless it is ``rejected``) or fetch one; under the
        lock — and under the store's cross-process lock when it has ``single_flight``."""
        flight = getattr(self._store, "single_flight", None)
        if flight is None:
            return await self._load_here(rejected)
        try:
            held = flight(self.key)
            fence = await held.__aenter__()
        except Exception:  # a broken shared store must not break calls
            log.warning("token lock failed for %s", self.key, exc_info=True)
            return await self._load_here(rejected)
        self._fence = fence
        try:
            return await self._load_here(rejected)
        finally:
            self._fence = None
            try:
                await held.__aexit__(None, None, None)
            except Exception:
                log.warning("token unlock failed for %s", self.key, exc_info=True)

    async def _load_here(self, rejected: str | None) -> str:
        stored = await self._store_get()
        if stored is not None and stored.value != rejected:
            # Another process fetched it; its lifetime is at least what remains now.
            self._remember(stored, stored.expires_at - self._clock())
            token = self._fresh()
            if token is not None:
                return token.value
        value, lifetime = await self._fetch()
        self.fetches += 1
        now = self._clock()
        first_seen = self._first_seen(value, stored, now)
        expires_at = now + lifetime
        if self._max_age is not None:
            expires_at = max(now, min(expires_at, first_seen + self._max_age))
        token = CachedToken(value, expires_at, first_seen)
        self._remember(token, expires_at - now)
        await self._store_set(token)
        # Even when the margin exceeds a tiny lifetime, the value just fetched is used once.
        return token.value

    def _first_seen(self, value: str, stored: CachedToken | None, now: float) -> float:
        """When ``value`` was first fetched: as this process or the shared store remembers it
        (the earliest of both), else ``now``."""
        seen = [
            t.first_seen
            for t in (self._current, stored)
            if t is not None and t.value == value and t.first_seen is not None
        ]
        return min(seen, default=now)

    async def invalidate(self, value: str) -> None:
        """Drop ``value`` from memory and the store — only if it is still the current one."""
        async with self._lock:
            await self._drop(value)

    async def _drop(self, value: str) -> None:
        if self._current is not None and self._current.value == value:
            self._current = None
            self._refresh_at = 0.0
        if self._store is not None:
            try:
                await self._store.delete(self.key, value)
            except Exception:  # a broken shared store must not break calls
                log.warning("token store delete failed for %s", self.key, exc_info=True)

    def peek(self) -> CachedToken | None:
        """The value in memory, fresh or not (for tests and diagnostics)."""
        return self._current

    async def _store_get(self) -> CachedToken | None:
        if self._store is None:
            return None
        try:
            found = await self._store.get(self.key)
        except Exception:
            log.warning("token store read failed for %s", self.key, exc_info=True)
            return None
        if found is None or not found.value:
            return None
        first_seen = getattr(found, "first_seen", None)
        return CachedToken(
            str(found.value),
            float(found.expires_at),
            None if first_seen is None else float(first_seen),
        )

    async def _store_set(self, token: CachedToken) -> None:
        if self._store is None:
            return
        fence = self._fence
        set_fenced = getattr(self._store, "set_fenced", None)
        try:
            if fence is not None and set_fenced is not None:
                if not await set_fenced(self.key, token, fence):
                    log.info("token of %s not stored: a newer holder stored one", self.key)
                return
            await self._store.set(self.key, token)
        except Exception:
            log.warning("token store write failed for %s", self.key, exc_info=True)
