"""DatabaseTokenStore: the client's token store protocol on our database, both backends."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import Engine

from dingsync.store import db
from dingsync.store.tokens import DatabaseTokenStore, StoredToken

KEY = "dingtalk:app_key_1:access_token"


@dataclass
class CachedToken:
    """Stands in for the client's ``dingsync.dingtalk.tokens.CachedToken``."""

    value: str
    expires_at: float


async def test_round_trip(engine: Engine) -> None:
    store = DatabaseTokenStore(engine)
    assert await store.get(KEY) is None
    await store.set(KEY, CachedToken("tok-1", 1_714_528_800.25))
    got = await store.get(KEY)
    assert got == StoredToken("tok-1", 1_714_528_800.25)
    assert isinstance(got.expires_at, float)
    # Overwrite; any object with .value and .expires_at will do.
    await store.set(KEY, SimpleNamespace(value="tok-2", expires_at=1_714_536_000))
    assert await store.get(KEY) == StoredToken("tok-2", 1_714_536_000.0)
    await store.set("other", CachedToken("tok-x", 1.0))
    assert (await store.get(KEY)).value == "tok-2"  # type: ignore[union-attr]


async def test_delete_is_compare_and_delete(engine: Engine) -> None:
    store = DatabaseTokenStore(engine)
    await store.set(KEY, CachedToken("new", 2_000_000_000.0))
    # A process still holding the old, rejected token must not drop the newer one.
    await store.delete(KEY, "old")
    assert await store.get(KEY) == StoredToken("new", 2_000_000_000.0)
    await store.delete(KEY, "new")
    assert await store.get(KEY) is None
    await store.delete(KEY, "new")  # deleting nothing is fine


async def test_shared_between_engines(db_url: str, engine: Engine) -> None:
    """Two processes (two engines) on one database see each other's tokens."""
    other = db.create_engine_for(db_url)
    try:
        await DatabaseTokenStore(engine).set(KEY, CachedToken("shared", 3.5))
        assert await DatabaseTokenStore(other).get(KEY) == StoredToken("shared", 3.5)
    finally:
        other.dispose()
