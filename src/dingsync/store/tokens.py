"""Access tokens cached in our database, shared by every process using it.

:class:`DatabaseTokenStore` implements the DingTalk client's token store protocol
(``dingsync.dingtalk.tokens.TokenStore``) structurally — ``store/`` does not import the client.
Tokens are any object with ``value`` (str) and ``expires_at`` (epoch seconds, float), optionally
``first_seen`` (epoch seconds: when a process first fetched this value — a JSAPI ticket dies 24 h
after it, so every process sharing the store must know it); what :meth:`DatabaseTokenStore.get`
returns is a :class:`StoredToken` with the same three attributes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, delete, select

from dingsync.store.repo import upsert
from dingsync.store.schema import token_cache


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
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
