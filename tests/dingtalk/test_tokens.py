"""Access token: cache, single flight, shared store, refresh on every token-error form."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from dingsync.dingtalk import (
    CachedToken,
    CredentialsError,
    DingTalkClient,
    MemoryTokenStore,
    TokenError,
)
from dingsync.dingtalk.tokens import TokenCache

from .fake_dingtalk import APP_KEY, FakeDingTalk, Req

ClientFactory = Callable[..., DingTalkClient]

COUNT_OK = {"errcode": 0, "errmsg": "ok", "result": {"count": 42}, "request_id": "abc"}


def count_route(fake: FakeDingTalk) -> None:
    fake.route("POST", "/topapi/user/count", lambda r: COUNT_OK)


async def test_cold_cache_50_concurrent_calls_fetch_one_token(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    count_route(fake)
    fake.token_delay = 0.2  # keep the single flight open while the 50 callers pile up
    client = make_client()
    results = await asyncio.gather(*(client.contacts.count_users() for _ in range(50)))
    assert results == [42] * 50
    assert fake.token_requests == 1
    assert client.token_requests == 1
    assert client.calls["/topapi/user/count"] == 50


@pytest.mark.parametrize("endpoint", ["v1.0", "gettoken"])
async def test_token_used_on_both_hosts(
    fake: FakeDingTalk, make_client: ClientFactory, endpoint: str
) -> None:
    count_route(fake)
    fake.route("GET", "/v1.0/contact/empLeaveRecords", lambda r: {"records": []})
    client = make_client(token_endpoint=endpoint)
    await client.contacts.count_users()
    assert await client.contacts.iter_leave_records(_recent()).to_list() == []
    assert fake.token_requests == 1
    oapi_req = next(r for r in fake.requests if r.path == "/topapi/user/count")
    api_req = next(r for r in fake.requests if r.path == "/v1.0/contact/empLeaveRecords")
    token = oapi_req.query["access_token"]
    assert api_req.headers["x-acs-dingtalk-access-token"] == token
    assert "access_token" not in api_req.query  # EB-23: header only on the new host


def _recent() -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(days=30)


@pytest.mark.parametrize("style", ["wrapped", "bare", "wrapped42001", "bare42001"])
async def test_token_error_triggers_one_refresh(
    fake: FakeDingTalk, make_client: ClientFactory, style: str
) -> None:
    """88 + sub_code 40014/42001 and the bare codes all drop the token, refresh, retry once."""
    count_route(fake)
    fake.token_error_style = style
    client = make_client()
    assert await client.contacts.count_users() == 42
    first = fake.current_token
    fake.invalidate_tokens()  # the server forgets the token; the client still has it
    assert await client.contacts.count_users() == 42
    assert fake.token_requests == 2
    assert fake.current_token != first
    # first call + (rejected call + retried call)
    assert client.calls["/topapi/user/count"] == 3


async def test_new_family_invalid_authentication_triggers_refresh(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    fake.route("GET", "/v1.0/contact/empLeaveRecords", lambda r: {"records": []})
    client = make_client()
    await client.contacts.iter_leave_records(_recent()).to_list()
    fake.invalidate_tokens()
    await client.contacts.iter_leave_records(_recent()).to_list()
    assert fake.token_requests == 2
    assert client.calls["/v1.0/contact/empLeaveRecords"] == 3


async def test_token_handed_back_and_rejected_again_fails(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    """DingTalk rejects a token and hands the same one back when asked: retrying with it is
    pointless, so the call fails after one renewal attempt (no retry with the rejected token)."""

    def always_88(r: Req) -> dict[str, Any]:
        return {"errcode": 88, "sub_code": "40014", "sub_msg": "不合法的access_token"}

    fake.route("POST", "/topapi/user/count", always_88)
    client = make_client()
    with pytest.raises(TokenError) as info:
        await client.contacts.count_users()
    assert info.value.reason == "40014"
    assert client.calls["/topapi/user/count"] == 1
    assert fake.token_requests == 2  # the first fetch and the renewal (same token back)


async def test_token_invalidated_again_and_again_is_renewed_each_time(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    """Each rejection with a newer token renews again, up to ``max_retries`` renewals."""
    rejections = {"left": 4}

    def flaky(r: Req) -> dict[str, Any]:
        if rejections["left"] > 0:
            rejections["left"] -= 1
            fake.invalidate_tokens()  # the server forgets every token: the next fetch is new
            return {"errcode": 88, "sub_code": "40014", "sub_msg": "不合法的access_token"}
        return COUNT_OK

    fake.route("POST", "/topapi/user/count", flaky)
    client = make_client(max_retries=4)
    assert await client.contacts.count_users() == 42
    assert client.calls["/topapi/user/count"] == 5
    assert fake.token_requests == 5
    # one renewal more than the budget fails
    rejections["left"] = 5
    with pytest.raises(TokenError):
        await client.contacts.count_users()


async def test_concurrent_token_errors_refresh_once(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    count_route(fake)
    client = make_client()
    await client.contacts.count_users()
    fake.invalidate_tokens()
    fake.token_delay = 0.1
    assert await asyncio.gather(*(client.contacts.count_users() for _ in range(30))) == [42] * 30
    assert fake.token_requests == 2


async def test_shared_store_one_token_for_two_clients(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    count_route(fake)
    store = MemoryTokenStore()
    a = make_client(token_store=store)
    b = make_client(token_store=store)
    await a.contacts.count_users()
    await b.contacts.count_users()
    assert fake.token_requests == 1
    stored = await store.get(APP_KEY)
    assert stored is not None and stored.value == fake.current_token
    assert stored.expires_at == pytest.approx(time.time() + 7200, abs=5)


async def test_refresh_drops_the_rejected_token_from_the_store(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    count_route(fake)
    store = MemoryTokenStore()
    a = make_client(token_store=store)
    b = make_client(token_store=store)
    await a.contacts.count_users()
    await b.contacts.count_users()
    old = fake.current_token
    fake.invalidate_tokens()
    await a.contacts.count_users()  # a refreshes and stores the new token
    new = (await store.get(APP_KEY)).value  # type: ignore[union-attr]
    assert new != old
    # b still holds the old token in memory; its rejection must not delete a's new token
    await b.contacts.count_users()
    assert (await store.get(APP_KEY)).value == new  # type: ignore[union-attr]
    assert fake.token_requests == 2


async def test_store_compare_and_delete() -> None:
    store = MemoryTokenStore()
    await store.set("k", CachedToken("new", 1.0))
    await store.delete("k", "old")
    assert await store.get("k") == CachedToken("new", 1.0)
    await store.delete("k", "new")
    assert await store.get("k") is None
    assert "new" not in repr(CachedToken("new", 1.0))


async def test_margin_refreshes_before_expiry() -> None:
    now = [1000.0]
    fetches: list[int] = []

    async def fetch() -> tuple[str, float]:
        fetches.append(1)
        return f"t{len(fetches)}", 7200.0

    cache = TokenCache("k", fetch, clock=lambda: now[0])
    assert await cache.get() == "t1"
    now[0] += 7200 - 601  # just outside the 10-minute margin: still cached
    assert await cache.get() == "t1"
    now[0] += 2  # inside the margin: refreshed
    assert await cache.get() == "t2"
    assert len(fetches) == 2


async def test_tiny_lifetimes_keep_a_small_margin() -> None:
    """A 10-s test token is used for 5 s (half its life), not refetched on every call; the
    margin never drops below ``min_margin``."""
    now = [0.0]
    fetches: list[int] = []

    async def fetch() -> tuple[str, float]:
        fetches.append(1)
        return "t", 10.0

    cache = TokenCache("k", fetch, clock=lambda: now[0], min_margin=2.0)
    await cache.get()
    now[0] = 4.9
    await cache.get()
    assert len(fetches) == 1
    now[0] = 5.1
    await cache.get()
    assert len(fetches) == 2

    short: list[int] = []

    async def fetch_short() -> tuple[str, float]:
        short.append(1)
        return "s", 3.0

    tiny = TokenCache("k", fetch_short, clock=lambda: 0.0, min_margin=2.0)
    await tiny.get()
    await tiny.get()  # 3-s life, 2-s margin: usable for 1 s only
    assert len(short) == 1


async def test_wrong_secret_is_a_credentials_error_without_the_secret(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    count_route(fake)
    secret = "wrong-secret-that-must-not-leak-123"
    for endpoint in ("v1.0", "gettoken"):
        client = make_client(app_secret=secret, token_endpoint=endpoint)
        with pytest.raises(CredentialsError) as info:
            await client.contacts.count_users()
        text = f"{info.value} {info.value!r} {info.value.args}"
        assert secret not in text


def test_token_keys_name_the_app_and_the_company() -> None:
    from dingsync.dingtalk.tokens import token_key

    assert token_key("app") == "app"
    assert token_key("suite", "corp-a") != token_key("suite", "corp-b")
    a = DingTalkClient("suite", "secret", corp_id="corp-a")
    assert a.token_key == "suite@corp-a" and a.limiter.scope == "suite@corp-a"
    assert a.auth._ticket_cache.key == "suite@corp-a:jsapi_ticket"
    plain = DingTalkClient("app", "secret")
    assert plain.token_key == "app" and plain.auth._ticket_cache.key == "app:jsapi_ticket"
