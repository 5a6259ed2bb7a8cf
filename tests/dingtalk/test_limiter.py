"""The per-(app, path) limiter: never more than QPS in any 1-s window, yet close to QPS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from dingsync.dingtalk import DingTalkClient
from dingsync.dingtalk._limiter import PathRateLimiter, limit_items

from .fake_dingtalk import FakeDingTalk

ClientFactory = Callable[..., DingTalkClient]
OK = {"errcode": 0, "errmsg": "ok", "result": {"count": 1}}


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most arrivals inside any half-open window of ``window`` seconds."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_server_never_sees_more_than_qps_in_any_second(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    qps, calls = 10, 45
    fake.route("POST", "/topapi/user/count", lambda r: OK)
    client = make_client(qps_per_api=qps)
    await client.get_access_token()
    started = time.monotonic()
    await asyncio.gather(*(client.contacts.count_users() for _ in range(calls)))
    elapsed = time.monotonic() - started
    arrivals = fake.arrivals["/topapi/user/count"]
    assert len(arrivals) == calls
    assert max_in_window(arrivals) <= qps
    # paced: the calls beyond the first second's budget had to wait (how close to QPS it runs
    # is measured by benchmarks/bench_directory, not timed here)
    assert elapsed >= (calls - qps) / qps - 0.05


async def test_paths_have_independent_budgets(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    qps = 10
    fake.route("POST", "/topapi/user/count", lambda r: OK)
    fake.route("POST", "/topapi/user/listadmin", lambda r: {"errcode": 0, "result": []})
    client = make_client(qps_per_api=qps)
    await client.get_access_token()
    await asyncio.gather(
        *(client.contacts.count_users() for _ in range(25)),
        *(client.contacts.list_admins() for _ in range(25)),
    )
    # in parallel, not one budget after the other: both paths were served at the same time
    count_arrivals = fake.arrivals["/topapi/user/count"]
    admin_arrivals = fake.arrivals["/topapi/user/listadmin"]
    assert min(admin_arrivals) < max(count_arrivals) and min(count_arrivals) < max(admin_arrivals)
    for path in ("/topapi/user/count", "/topapi/user/listadmin"):
        assert max_in_window(fake.arrivals[path]) <= qps


async def test_overrides_and_unlimited_paths(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    fake.route("POST", "/topapi/user/count", lambda r: OK)
    fake.route("POST", "/topapi/user/listadmin", lambda r: {"errcode": 0, "result": []})
    client = make_client(
        qps_per_api=5, qps_overrides={"/topapi/user/listadmin": None, "/topapi/user/count": 8}
    )
    assert client.limiter.qps_for("/topapi/user/count") == 8
    assert client.limiter.qps_for("/topapi/user/listadmin") is None
    assert client.limiter.qps_for("/topapi/v2/user/get") == 5
    await client.get_access_token()
    await asyncio.gather(*(client.contacts.list_admins() for _ in range(60)))
    # unlimited: the calls were not held back to the default 5 per second
    assert max_in_window(fake.arrivals["/topapi/user/listadmin"]) > 5
    await asyncio.gather(*(client.contacts.count_users() for _ in range(16)))
    assert max_in_window(fake.arrivals["/topapi/user/count"]) <= 8


@pytest.mark.parametrize(
    ("qps", "expected"),
    [
        (20.0, ["20 per 1 second"]),
        (1, ["1 per 1 second"]),
        (2.5, ["2 per 1 second", "5 per 2 second"]),
        (0.5, ["1 per 2 second"]),
    ],
)
def test_limit_items(qps: float, expected: list[str]) -> None:
    assert [str(i) for i in limit_items(qps)] == expected


async def test_fractional_qps_window() -> None:
    limiter = PathRateLimiter("app", 2.5, margin=0.0)
    stamps: list[float] = []
    started = time.monotonic()
    for _ in range(7):
        async with limiter.slot("/p"):
            stamps.append(time.monotonic() - started)
    await limiter.aclose()
    assert max_in_window(stamps, 1.0) <= 2
    assert max_in_window(stamps, 2.0) <= 5


async def test_budgets_are_per_app_and_company() -> None:
    """DingTalk counts an app's calls per company: in one storage (Redis shares it between
    processes), a suite's calls in one company do not spend another company's budget."""
    path = "/topapi/v2/user/list"
    first = PathRateLimiter("suite-key", 2, corp_id="corp-a")
    other = PathRateLimiter("suite-key", 2, corp_id="corp-b")
    assert (first.scope, other.scope) == ("suite-key@corp-a", "suite-key@corp-b")
    assert PathRateLimiter("suite-key", 2).scope == "suite-key"
    async with first.slot(path):
        pass  # builds the storage
    other._storage, other._limiter = first._storage, first._limiter  # one shared storage
    async with first.slot(path):
        pass
    async with other.slot(path):
        pass
    limiter = first._limiter
    assert limiter is not None
    (item,) = limit_items(2)

    async def remaining(scope: str) -> int:
        return (await limiter.get_window_stats(item, scope, path)).remaining

    assert await remaining("suite-key@corp-a") == 0  # two calls of corp-a in this second
    assert await remaining("suite-key@corp-b") == 1  # corp-b's own budget: one call spent
    assert await remaining("suite-key@corp-c") == 2
    await first.aclose()
