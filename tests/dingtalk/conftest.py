"""Fixtures for the client tests: a scriptable fake DingTalk over loopback and clients on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from dingsync.dingtalk import DingTalkClient

from .fake_dingtalk import APP_KEY, APP_SECRET, FakeDingTalk, FakeServer


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeServer) -> Iterator[FakeDingTalk]:
    """The fake DingTalk, reset for each test."""
    fake_server.fake.reset()
    yield fake_server.fake
    fake_server.fake.reset()


#: Fast retries so error-path tests take milliseconds.
FAST = {
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "rate_limit_pause": 0.01,
    "qps_per_api": None,
    "timeout": 5.0,
}


@pytest.fixture
async def make_client(
    fake_server: FakeServer, fake: FakeDingTalk
) -> AsyncIterator[Callable[..., DingTalkClient]]:
    """Factory of clients pointed at the fake (both hosts on one port); closed afterwards."""
    made: list[DingTalkClient] = []

    def factory(**overrides: Any) -> DingTalkClient:
        kwargs: dict[str, Any] = {
            "oapi_url": fake_server.base_url,
            "api_url": fake_server.base_url,
            **FAST,
            **overrides,
        }
        key = kwargs.pop("app_key", APP_KEY)
        secret = kwargs.pop("app_secret", APP_SECRET)
        client = DingTalkClient(key, secret, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()
