"""Retries with backoff on throttling, -1, 5xx and network failures; no retry loops on quota
or IP bans; errors never carry the secret or the token."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest

from dingsync.dingtalk import (
    DingTalkClient,
    DingTalkError,
    IPBannedError,
    NotFoundError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)

from .fake_dingtalk import APP_SECRET, FakeDingTalk, Req

ClientFactory = Callable[..., DingTalkClient]
OK = {"errcode": 0, "errmsg": "ok", "result": {"count": 1}}
PATH = "/topapi/user/count"


def failing(times: int, reply: Any, then: Any = OK) -> Callable[[Req], Any]:
    """A handler answering ``reply`` ``times`` times, then ``then``."""
    state = {"n": 0}

    def handler(r: Req) -> Any:
        state["n"] += 1
        return reply if state["n"] <= times else then

    return handler


@pytest.mark.parametrize(
    "reply",
    [
        {"errcode": 90018, "errmsg": "qps"},
        {"errcode": 88, "sub_code": "90018", "sub_msg": "qps"},  # EB-03
        {"errcode": 90002, "errmsg": "global"},
        {"errcode": -1, "errmsg": "系统繁忙"},
        {"errcode": 400001, "errmsg": "系统错误"},
        (500, {"code": "systemBusy", "message": "busy", "requestid": "x"}),
        (502, "<html>Bad Gateway</html>"),
        (503, {}),
    ],
)
async def test_transient_errors_are_retried(
    fake: FakeDingTalk, make_client: ClientFactory, reply: Any
) -> None:
    fake.route("POST", PATH, failing(3, reply))
    client = make_client()
    assert await client.contacts.count_users() == 1
    assert client.calls[PATH] == 4
    assert client.retries[PATH] == 3


async def test_new_family_403_qps_is_retried(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    body = {
        "code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
        "message": "qps",
        "requestid": "r",
    }
    fake.route(
        "GET", "/v1.0/contact/empLeaveRecords", failing(2, (403, body), then={"records": []})
    )
    client = make_client()
    from datetime import UTC, datetime, timedelta

    await client.contacts.iter_leave_records(datetime.now(UTC) - timedelta(days=1)).to_list()
    assert client.calls["/v1.0/contact/empLeaveRecords"] == 3


async def test_gives_up_after_max_retries(fake: FakeDingTalk, make_client: ClientFactory) -> None:
    fake.route("POST", PATH, lambda r: {"errcode": 90018, "errmsg": "qps"})
    client = make_client(max_retries=1, max_rate_limit_retries=4)
    with pytest.raises(RateLimitError) as info:
        await client.contacts.count_users()
    assert info.value.reason == "90018"
    assert client.calls[PATH] == 5


async def test_rate_limits_have_their_own_budget(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    """Rate-limit replies do not use up the budget for server errors (never drop the page)."""
    fake.route("POST", PATH, failing(5, {"errcode": 90018, "errmsg": "qps"}))
    client = make_client(max_retries=1, max_rate_limit_retries=10)
    assert await client.contacts.count_users() is not None
    assert client.calls[PATH] == 6
    fake.route("POST", PATH, failing(2, {"errcode": -1, "errmsg": "系统繁忙"}))
    with pytest.raises(ServerError):
        await client.contacts.count_users()


async def test_rate_limit_waits_at_least_the_pause(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    fake.route("POST", PATH, failing(2, {"errcode": 90018}))
    client = make_client(rate_limit_pause=0.15, backoff_base=0.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.contacts.count_users()
    assert loop.time() - started >= 0.3


@pytest.mark.parametrize(
    "reply",
    [
        {"errcode": 90020, "errmsg": "quota"},
        (403, {"code": "Forbidden.AccessDenied.ApiCountLimitForOrg", "message": "m"}),
    ],
)
async def test_quota_is_not_retried(
    fake: FakeDingTalk, make_client: ClientFactory, reply: Any
) -> None:
    fake.route("POST", PATH, lambda r: reply)
    client = make_client()
    with pytest.raises(QuotaExceededError):
        await client.contacts.count_users()
    assert client.calls[PATH] == 1


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": "xxx"},
        (200, "<html><body>访问被拒绝</body></html>"),
    ],
)
async def test_ip_ban_is_not_retried_and_pauses_all_calls(
    fake: FakeDingTalk, make_client: ClientFactory, reply: Any
) -> None:
    fake.route("POST", PATH, lambda r: reply)
    fake.route("POST", "/topapi/user/listadmin", lambda r: {"errcode": 0, "result": []})
    client = make_client(ip_ban_cooldown=60)
    with pytest.raises(IPBannedError):
        await client.contacts.count_users()
    assert client.calls[PATH] == 1
    with pytest.raises(IPBannedError):  # fails fast without sending anything
        await client.contacts.list_admins()
    assert client.calls["/topapi/user/listadmin"] == 0


async def test_not_found_is_not_retried(fake: FakeDingTalk, make_client: ClientFactory) -> None:
    fake.route(
        "POST", "/topapi/v2/user/get", lambda r: {"errcode": 60121, "errmsg": "找不到该用户"}
    )
    client = make_client()
    with pytest.raises(NotFoundError) as info:
        await client.contacts.get_user("nobody")
    assert info.value.errcode == 60121
    assert client.calls["/topapi/v2/user/get"] == 1


async def test_timeouts_are_retried(fake: FakeDingTalk, make_client: ClientFactory) -> None:
    state = {"n": 0}

    async def slow_twice(r: Req) -> Any:
        state["n"] += 1
        if state["n"] <= 2:
            await asyncio.sleep(1.0)
        return OK

    fake.route("POST", PATH, slow_twice)
    client = make_client(timeout=0.2)
    assert await client.contacts.count_users() == 1
    assert client.calls[PATH] == 3


async def test_network_failure_raises_server_error_after_retries(
    make_client: ClientFactory,
) -> None:
    # a port nobody listens on
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = f"http://127.0.0.1:{port}"
    client = make_client(oapi_url=dead, api_url=dead, max_retries=2, token_endpoint="gettoken")
    with pytest.raises(ServerError) as info:
        await client.get_access_token()
    assert info.value.errcode == "network"
    assert client.calls["/gettoken"] == 3
    assert APP_SECRET not in f"{info.value} {info.value!r} {info.value.args}"


async def test_errors_never_contain_secret_or_token(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    """Even when DingTalk echoes them back (the access token travels in the URL query)."""

    def echo(r: Req) -> Any:
        return {
            "errcode": 400002,
            "errmsg": f"bad request {r.query.get('access_token')} / {APP_SECRET}",
            "request_id": "echo",
        }

    fake.route("POST", PATH, echo)
    fake.route(
        "POST",
        "/v1.0/contact/users/search",
        lambda r: (400, {"code": "invalidParameter", "message": str(r.headers)}),
    )
    client = make_client()
    for call in (client.contacts.count_users(), client.contacts.search_users("x").to_list()):
        with pytest.raises(DingTalkError) as info:
            await call
        err = info.value
        token = fake.current_token
        assert token
        for text in (str(err), repr(err), str(err.args), err.errmsg):
            assert APP_SECRET not in text and token not in text
    assert "***" in str(err) or "***" in err.errmsg


async def test_unknown_path_is_an_error_not_a_retry(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    client = make_client()
    with pytest.raises(DingTalkError) as info:
        await client.oapi("POST", "/topapi/v2/user/notexist", json={})
    assert info.value.errcode == 22
    assert client.calls["/topapi/v2/user/notexist"] == 1


async def test_custom_transport_is_used() -> None:
    """``transport=`` replaces the network (e.g. an ASGI app or a recording transport)."""
    import httpx

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/v1.0/oauth2/accessToken":
            return httpx.Response(200, json={"accessToken": "t", "expireIn": 7200})
        return httpx.Response(200, json={"errcode": 0, "result": {"count": 3}})

    async with DingTalkClient(
        "k", "s", transport=httpx.MockTransport(handler), qps_per_api=None
    ) as client:
        counts = await asyncio.gather(*(client.contacts.count_users() for _ in range(20)))
    assert counts == [3] * 20
    assert seen.count("/topapi/user/count") == 20


async def test_httpx_request_logs_do_not_show_token_or_secret(
    fake: FakeDingTalk, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake.route("POST", PATH, lambda r: OK)
    client = make_client(token_endpoint="gettoken")
    with caplog.at_level("DEBUG"):
        await client.contacts.count_users()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request" in text and "access_token=***" in text
    assert APP_SECRET not in text
    assert fake.current_token and fake.current_token not in text
