"""Access tokens cached in our database, shared by every process using it.

:class:`DatabaseTokenStore` implements the DingTalk client's token store protocol
(``dingsync.dingtalk.tokens.TokenStore``) structurally — ``store/`` does not import the client.
Tokens are any object with ``value`` (str) and ``expires_at`` (epoch seconds, float), optionally
``first_seen`` (epoch seconds: when a process first fetched this value — a JSAPI ticket dies 24 h
after it, so every process sharing the store must know it); what :meth:`DatabaseTokenStore.get`
returns is a :class:`StoredToken` with the same three attributes.

Single flight across processes (``serve --workers N``, several sync processes):
:meth:`DatabaseTokenStore.single_flight` is a lease in the same table (row ``<key>:lock``, the
holder's id as its value, ``expires_at`` when the lease ends), taken by an insert or by
replacing a lease that ran out, so N processes whose token is missing or due send one token
request; the others wait and adopt the stored value.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from dingsync.store.repo import upsert
from dingsync.store.schema import token_cache

log = logging.getLogger(__name__)

#: Suffix of the lease row of a key (``<key>:lock``) in ``token_cache``.
LOCK_SUFFIX = ":lock"


class TokenLike(Protocol):
    """What :meth:`DatabaseTokenStore.set` accepts (the client's ``CachedToken`` fits)."""

    @property
    def value(self) -> str: ...

    @property
    def expires_at(self) -> float: ...


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A cached token: ``value``, ``expires_at`` and ``first_seen`` (``None`` when the writer
    did not track it) in epoch seconds."""

    value: str
    expires_at: float
    first_seen: float | None = None


class DatabaseTokenStore:
    """Token cache in the ``token_cache`` table.

    Each call is one short transaction run in a worker thread (``asyncio.to_thread``), so the
    event loop never blocks on the database.

    ``lock_s``: how long a :meth:`single_flight` lease lasts at most (a holder that died or
    stalled loses it then); ``wait_s``: how long a process waits for another's fetch before
    fetching itself; ``poll_s``: how often a waiting process tries the lease again.
    """

    def __init__(
        self, engine: Engine, *, lock_s: float = 15.0, wait_s: float = 20.0, poll_s: float = 0.02
    ) -> None:
        self.engine = engine
        self.lock_s = lock_s
        self.wait_s = wait_s
        self.poll_s = poll_s

    async def get(self, key: str) -> StoredToken | None:
        """The token stored under ``key`` (expired or not: the caller judges), or ``None``."""
        return await asyncio.to_thread(self._get, key)

    async def set(self, key: str, token: TokenLike) -> None:
        """Store ``token`` under ``key``, replacing what was there (its ``first_seen`` too, when
        the token has one)."""
        first_seen = getattr(token, "first_seen", None)
        await asyncio.to_thread(
            self._set,
            key,
            str(token.value),
            float(token.expires_at),
            None if first_seen is None else float(first_seen),
        )

    async def delete(self, key: str, value: str) -> None:
        """Drop the token under ``key`` only if it is still ``value`` (compare-and-delete), so a
        process dropping a token DingTalk rejected does not drop a newer one another process
        just stored."""
        await asyncio.to_thread(self._delete, key, value)

    @asynccontextmanager
    async def single_flight(self, key: str) -> AsyncIterator[int]:
        """Hold ``key``'s cross-process lease while the caller looks the token up and, if it
        is missing or due, fetches and stores it (``dingsync.dingtalk.tokens.TokenCache``
        does). Waits up to ``wait_s`` for another holder, then goes ahead (logged). Yields
        ``0``: no fencing value (:meth:`set` is a plain upsert)."""
        owner = secrets.token_hex(8)
        deadline = time.monotonic() + self.wait_s
        while not await asyncio.to_thread(self._acquire, key, owner):
            if time.monotonic() > deadline:
                log.warning("token lease of %s still held after %.0fs; fetching", key, self.wait_s)
                break
            await asyncio.sleep(self.poll_s)
        try:
            yield 0
        finally:
            await asyncio.to_thread(self._delete, key + LOCK_SUFFIX, owner)

    def _acquire(self, key: str, owner: str) -> bool:
        """Take the lease of ``key`` for ``owner``: a new lease row, or one that ran out."""
        lock = key + LOCK_SUFFIX
        now = time.time()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(token_cache).values(
                        cache_key=lock, token=owner, expires_at=now + self.lock_s
                    )
                )
            return True
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(token_cache)
                .where(token_cache.c.cache_key == lock, token_cache.c.expires_at < now)
                .values(token=owner, expires_at=now + self.lock_s)
            ).rowcount
        return bool(taken)

    def _get(self, key: str) -> StoredToken | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    token_cache.c.token, token_cache.c.expires_at, token_cache.c.first_seen
                ).where(token_cache.c.cache_key == key)
            ).first()
        if row is None:
            return None
        first_seen = None if row.first_seen is None else float(row.first_seen)
        return StoredToken(row.token, float(row.expires_at), first_seen)

    def _set(self, key: str, value: str, expires_at: float, first_seen: float | None) -> None:
        row = {"cache_key": key, "token": value, "expires_at": expires_at, "first_seen": first_seen}
        with self.engine.begin() as conn:
            upsert(conn, token_cache, [row], ["cache_key"])

    def _delete(self, key: str, value: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(token_cache).where(
                    token_cache.c.cache_key == key, token_cache.c.token == value
                )
            )


__all__ = ["DatabaseTokenStore", "StoredToken", "TokenLike"]
