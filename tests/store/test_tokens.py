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


class MovableClock:
    """Epoch seconds that a test moves (both clients read it)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_jsapi_ticket_24h_cap_is_shared_through_the_store(engine: Engine) -> None:
    """A ticket dies 24 h after creation however often it is extended (auth-contacts.md §10.3),
    and DingTalk announces 2 h whenever it hands it back. Client A first fetches it; client B
    (another process, same DatabaseTokenStore) fetches the same ticket 23.5 h later and must
    not trust it past A's first fetch + 24 h."""
    import httpx

    from dingsync.dingtalk import DingTalkClient

    start = 1_790_000_000.0
    clock = MovableClock(start)
    issued: list[str] = []

    def dingtalk(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/oauth2/accessToken":
            return httpx.Response(200, json={"accessToken": "tok", "expireIn": 7200})
        assert request.url.path == "/v1.0/oauth2/jsapiTickets"
        ticket = "ticket-1" if clock.now < start + 86_400 else "ticket-2"
        issued.append(ticket)
        return httpx.Response(200, json={"jsapiTicket": ticket, "expireIn": 7200})

    def client() -> DingTalkClient:
        return DingTalkClient(
            "app_key_1",
            "secret",
            oapi_url="http://oapi.test",
            api_url="http://api.test",
            transport=httpx.MockTransport(dingtalk),
            token_store=DatabaseTokenStore(engine),
            qps_per_api=None,
            token_clock=clock,
        )

    async with client() as a:
        assert await a.auth.get_jsapi_ticket() == "ticket-1"
    stored = await DatabaseTokenStore(engine).get("app_key_1:jsapi_ticket")
    assert stored is not None and stored.first_seen == start
    clock.now = start + 23.5 * 3600  # A's entry has expired; B fetches and gets ticket-1 again
    async with client() as b:
        assert await b.auth.get_jsapi_ticket() == "ticket-1"
        assert issued == ["ticket-1", "ticket-1"]
        ticket = b.auth._ticket_cache.peek()
        assert ticket is not None and ticket.first_seen == start
        assert ticket.expires_at == start + 86_400  # not 23.5 h + 2 h
        clock.now = start + 86_400 + 1  # 24 h after the first fetch: refused, fetched anew
        assert await b.auth.get_jsapi_ticket() == "ticket-2"
    stored = await DatabaseTokenStore(engine).get("app_key_1:jsapi_ticket")
    assert stored is not None and stored.value == "ticket-2"
    assert stored.first_seen == start + 86_400 + 1


async def test_single_flight_across_processes_fetches_once(db_url: str, engine: Engine) -> None:
    """N processes (here: two engines on one database) whose token is missing send one token
    request: the lease row makes the second wait and adopt the stored value."""
    import asyncio

    from dingsync.dingtalk.tokens import TokenCache

    other = db.create_engine_for(db_url)
    fetched: list[int] = []

    async def fetch() -> tuple[str, float]:
        fetched.append(1)
        await asyncio.sleep(0.3)  # DingTalk answering while the other process asks too
        return f"tok-{len(fetched)}", 7200.0

    try:
        caches = [TokenCache(KEY, fetch, store=DatabaseTokenStore(e)) for e in (engine, other)]
        values = await asyncio.gather(*(c.get() for c in caches))
        assert values == ["tok-1", "tok-1"]
        assert len(fetched) == 1
        # The lease is released: nothing but the token is left under the key.
        assert await DatabaseTokenStore(engine).get(KEY + ":lock") is None
    finally:
        other.dispose()


async def test_lease_of_a_dead_holder_is_taken_over(engine: Engine) -> None:
    """A holder that died leaves its lease row; once it ran out, the next process takes it
    (with ``wait_s`` far beyond the test's timeout, only a take-over lets this pass)."""
    import time

    from dingsync.dingtalk.tokens import TokenCache

    await DatabaseTokenStore(engine).set(KEY + ":lock", CachedToken("dead", time.time() - 1))

    async def fetch() -> tuple[str, float]:
        return "tok", 7200.0

    store = DatabaseTokenStore(engine, wait_s=10_000)
    assert await TokenCache(KEY, fetch, store=store).get() == "tok"
    assert await store.get(KEY + ":lock") is None
