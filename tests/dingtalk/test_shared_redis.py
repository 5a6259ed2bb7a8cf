"""Rate limits, throttle back-off and tokens shared through Redis (a real server; skipped
without one, failed under ``CI=true``), against the sandbox over loopback HTTP.

- Three clients with their own limiters sharing Redis never exceed the sandbox's per-API limit
  together (calls in flight count too); the same three on ``memory://`` do (the check can fail).
- A login (``login_priority``) is admitted while sync calls fill every slot they may use; a
  further sync call is not.
- A rate-limit reply seen by one limiter makes another wait.
- Four processes whose token is cold send one token request between them; a token-store write
  whose fencing value is older than the stored one is refused.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from dingsync.dingtalk import DingTalkClient
from dingsync.dingtalk._limiter import PathRateLimiter, login_priority
from dingsync.dingtalk.tokens import CachedToken, RedisTokenStore
from dingsync.sandbox import SandboxConfig, SandboxServer
from helpers.cluster import flush_redis, redis_url, require_redis

PATH = "/topapi/v2/department/listsubid"
TOKEN_PATH = "/v1.0/oauth2/accessToken"


@pytest.fixture
def redis() -> str:
    require_redis()
    flush_redis()
    return redis_url()


@pytest.fixture(scope="module")
def limited() -> Iterator[SandboxServer]:
    with SandboxServer(
        SandboxConfig(seed=5, users=30, days=1, qps_limit=5, latency_ms=20, jitter_ms=30)
    ) as sb:
        yield sb


def _client(sb: SandboxServer, storage: str, **kw: object) -> DingTalkClient:
    return DingTalkClient(
        sb.app.app_key,
        sb.app.app_secret,
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        qps_per_api=5,
        limiter_storage_uri=storage,
        backoff_base=0.05,
        backoff_max=0.2,
        rate_limit_pause=0.0,
        **kw,  # type: ignore[arg-type]
    )


async def _burst(sb: SandboxServer, storage: str) -> dict[str, int]:
    sb.reset_stats()
    clients = [_client(sb, storage) for _ in range(3)]
    try:
        for c in clients:  # tokens first: the burst measures the limiter alone
            await c.contacts.list_sub_department_ids(1)
        sb.reset_stats()
        await asyncio.gather(
            *(c.contacts.list_sub_department_ids(1) for c in clients for _ in range(12))
        )
    finally:
        for c in clients:
            await c.aclose()
    stats = sb.stats()
    return {"calls": stats["calls"].get(PATH, 0), "over": stats["rate_limited"].get(PATH, 0)}


async def test_clients_sharing_redis_stay_under_the_limit_together(
    limited: SandboxServer, redis: str
) -> None:
    shared = await _burst(limited, redis)
    assert shared == {"calls": 36, "over": 0}
    alone = await _burst(limited, "memory://")
    assert alone["over"] > 0  # three separate budgets overrun the one DingTalk keeps


@pytest.mark.parametrize("storage", ["memory", "redis"])
async def test_logins_have_a_reserved_share(storage: str, request: pytest.FixtureRequest) -> None:
    uri = request.getfixturevalue("redis") if storage == "redis" else "memory://"
    limiter = PathRateLimiter("app-reserve", 4, storage_uri=uri, login_reserve=0.25)
    shared = "/topapi/v2/user/get"  # a path logins call too (LOGIN_SHARED_PATHS)

    async def sync_call(release: asyncio.Event, admitted: asyncio.Event) -> None:
        async with limiter.slot(shared):
            admitted.set()
            await release.wait()

    release = asyncio.Event()
    admitted = [asyncio.Event() for _ in range(4)]
    tasks = [asyncio.create_task(sync_call(release, a)) for a in admitted]
    await asyncio.wait_for(asyncio.gather(*(a.wait() for a in admitted[:3])), 5)
    await asyncio.sleep(0.3)
    # Three sync calls in flight fill the sync's share (4 − 1 reserved): the fourth waits ...
    assert not admitted[3].is_set()
    # ... while a login gets the reserved slot at once.
    with login_priority():
        async with asyncio.timeout(5):
            async with limiter.slot(shared):
                pass
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    await limiter.aclose()


@pytest.mark.parametrize("storage", ["memory", "redis"])
async def test_a_path_no_login_calls_is_the_syncs_whole(
    storage: str, request: pytest.FixtureRequest
) -> None:
    """No share is kept on a path a login never calls (``listsubid``): four sync calls of a
    4-QPS limit are in flight at once, the fifth waits."""
    uri = request.getfixturevalue("redis") if storage == "redis" else "memory://"
    limiter = PathRateLimiter("app-whole", 4, storage_uri=uri, login_reserve=0.25)
    release = asyncio.Event()
    admitted = [asyncio.Event() for _ in range(5)]

    async def sync_call(done: asyncio.Event) -> None:
        async with limiter.slot(PATH):
            done.set()
            await release.wait()

    tasks = [asyncio.create_task(sync_call(a)) for a in admitted]
    await asyncio.wait_for(asyncio.gather(*(a.wait() for a in admitted[:4])), 5)
    await asyncio.sleep(0.3)
    assert not admitted[4].is_set()  # the limit itself still holds
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    await limiter.aclose()


async def test_a_throttle_reply_slows_every_limiter_sharing_redis(redis: str) -> None:
    first = PathRateLimiter("app-throttle", 20, storage_uri=redis)
    second = PathRateLimiter("app-throttle", 20, storage_uri=redis)
    await first.throttled(PATH, 0.6)
    async with second.slot(PATH):
        pass
    assert second.waited >= 0.4
    async with second.slot("/topapi/other"):  # another API is not held back
        pass
    assert first.throttles == {PATH: 1}
    await first.aclose()
    await second.aclose()


_PROCESS = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from dingsync.config import Settings
    from dingsync.sync.runner import build_client

    async def main():
        settings = Settings(**json.loads(sys.argv[1]))
        async with build_client(settings) as client:
            while time.time() < float(sys.argv[2]):
                await asyncio.sleep(0.005)
            await asyncio.gather(*(client.contacts.list_sub_department_ids(1) for _ in range(5)))
            print(client.token_requests)

    asyncio.run(main())
    """
)


def test_four_processes_with_a_cold_token_request_it_once(redis: str) -> None:
    import time

    # Latency keeps the first token request open while the others arrive.
    with SandboxServer(
        SandboxConfig(seed=6, users=20, days=1, qps_limit=None, latency_ms=150)
    ) as sb:
        settings = {
            "app_key": sb.app.app_key,
            "app_secret": sb.app.app_secret,
            "corp_id": sb.app.corp_id,
            "oapi_url": sb.base_url,
            "api_url": sb.base_url,
            "redis_url": redis,
            "database_url": "sqlite://",
        }
        start_at = str(time.time() + 3.0)  # all four call together, once started
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _PROCESS, json.dumps(settings), start_at],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        fetched = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
        assert all(p.returncode == 0 for p in procs)
        assert sum(fetched) == 1
        assert sb.stats()["calls"].get(TOKEN_PATH, 0) == 1
        assert sb.stats()["calls"][PATH] == 20


async def test_a_stale_lock_holder_cannot_overwrite_a_newer_token(redis: str) -> None:
    store = RedisTokenStore(redis)
    try:
        async with store.single_flight("app-fence") as old:
            pass
        async with store.single_flight("app-fence") as new:
            assert new > old
            assert await store.set_fenced("app-fence", CachedToken("newer", 9e9), new)
        assert not await store.set_fenced("app-fence", CachedToken("stale", 9e9), old)
        found = await store.get("app-fence")
        assert found is not None and found.value == "newer"
        await store.delete("app-fence", "stale")  # compare-and-delete: not the stored value
        assert (await store.get("app-fence")) is not None
        await store.delete("app-fence", "newer")
        assert (await store.get("app-fence")) is None
    finally:
        await store.aclose()
