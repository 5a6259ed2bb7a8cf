"""The sandbox pushes encrypted HTTP callbacks to our receiver: registration with check_url,
each mutation kind reaching the database, DingTalk's retry schedule and failed-event list, and
200 random mutations with duplicated, reordered and dropped deliveries, then reconciliation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dingsync.dingtalk.callbacks import CallbackAPI
from dingsync.dingtalk.crypto import CallbackCrypto
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import repo
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from dingsync.sync.events import EventProcessor, EventsSync
from helpers.events import (
    AES_KEY,
    TOKEN,
    ReceiverServer,
    directory_differences,
    inbox,
    make_client,
    wait_for,
)

TAGS = ["user_add_org", "user_modify_org", "user_leave_org", "org_dept_create"]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:  # per test: mutations change the company
    with SandboxServer(SandboxConfig(seed=23, users=100, qps_limit=None)) as sb:
        yield sb


def full_sync(sb: SandboxServer, engine: Engine, *, with_events: bool = False) -> Any:
    async def run() -> Any:
        async with make_client(sb) as client:
            entities: list[Any] = [ContactsSync()]
            if with_events:
                entities.append(EventsSync())
            return await run_sync(
                client,
                engine,
                sb.app.corp_id,
                entities,
                kind="incremental" if with_events else "full",
            )

    return asyncio.run(run())


def register(sb: SandboxServer, url: str) -> None:
    async def run() -> None:
        async with make_client(sb) as client:
            await CallbackAPI(client).register(url, TOKEN, AES_KEY, TAGS)

    asyncio.run(run())


@pytest.fixture
def receiver(sandbox: SandboxServer, engine: Engine) -> Iterator[ReceiverServer]:
    # register_call_back subscriptions are encrypted with the corpId (events.md §1.1)
    crypto = CallbackCrypto(TOKEN, AES_KEY, sandbox.app.corp_id)
    corp = sandbox.app.corp_id
    with ReceiverServer(crypto, lambda: EventProcessor(make_client(sandbox), engine, corp)) as r:
        yield r


def mutate(sb: SandboxServer, kind: str, **body: Any) -> dict[str, Any]:
    resp = httpx.post(f"{sb.base_url}/sandbox/mutate/contacts/{kind}", json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_each_mutation_reaches_the_database(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    full_sync(sandbox, engine)
    register(sandbox, receiver.url)
    assert sandbox.stats()["events"]["registered_url"] == receiver.url
    corp = sandbox.app.corp_id
    for kind in ("hire", "move", "modify", "leave", "rejoin", "create_department"):
        ev = mutate(sandbox, kind)
        wait_for(
            lambda ev=ev: any(
                r["status"] == "processed" and r["payload"]["event_time_ms"] == ev["born_ms"]
                for r in inbox(engine, corp)
            ),
            timeout=10,  # functional bound; the latency target lives in benchmarks/bench_events
        )
        assert directory_differences(engine, corp, sandbox.company) == [], kind


def test_retries_at_10_and_30_seconds_then_the_failed_list(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    full_sync(sandbox, engine)
    corp = sandbox.app.corp_id
    # a subscription whose URL refuses connections (console style, no check)
    dead = "http://127.0.0.1:9/callbacks/dingtalk"
    r = httpx.post(
        f"{sandbox.base_url}/sandbox/events/callback",
        json={
            "url": dead,
            "token": TOKEN,
            "aes_key": AES_KEY,
            "receiver": "corp_id",
            "check": False,
        },
    )
    assert r.json()["registered"] is True
    ev = mutate(sandbox, "hire")
    stats = lambda: sandbox.stats()["events"]  # noqa: E731
    wait_for(lambda: stats().get("http_attempts", 0) == 1)
    time.sleep(0.2)
    assert stats()["http_attempts"] == 1  # nothing before +10 s
    sandbox.clock.advance(10)
    wait_for(lambda: stats().get("http_attempts", 0) == 2)
    sandbox.clock.advance(20)
    time.sleep(0.2)
    assert stats()["http_attempts"] == 2  # the second retry is 30 s after the first
    sandbox.clock.advance(10)
    wait_for(lambda: stats().get("http_attempts", 0) == 3)
    wait_for(lambda: stats().get("http_failed_listed", 0) == 1)

    async def drain() -> int:
        assert receiver.processor is not None
        n = await receiver.processor.drain_failed_list()
        await receiver.processor.wait_idle()
        return n

    assert receiver.run_in_loop(drain()) == 0  # listed within 3–5 minutes, not at once
    sandbox.clock.advance(180)
    assert receiver.run_in_loop(drain()) == 1
    assert receiver.run_in_loop(drain()) == 0  # reading removed it (EB-77)
    rows = inbox(engine, corp)
    assert [(r["source"], r["status"], r["event_type"]) for r in rows] == [
        ("failed_list", "processed", "user_add_org")
    ]
    assert ev["userId"][0] in {u for u in sandbox.company.users}
    assert directory_differences(engine, corp, sandbox.company) == []


def test_200_random_mutations_with_bad_delivery_then_reconciliation(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    full_sync(sandbox, engine)
    register(sandbox, receiver.url)
    corp = sandbox.app.corp_id
    sandbox.configure(
        events_duplicate=0.2, events_reorder=0.3, events_drop=0.1, events_reorder_ms=200
    )
    events: list[dict[str, Any]] = []
    for _ in range(10):  # 200 mutations in bursts of 20
        resp = httpx.post(
            f"{sandbox.base_url}/sandbox/mutate/contacts/random", json={"n": 20}, timeout=60
        )
        events += resp.json()["events"]
        time.sleep(0.1)
    assert len(events) == 200
    area = sandbox.state.areas["events"]
    st = sandbox.stats()["events"]
    assert st["http_dropped"] > 5 and st["http_duplicated"] > 5 and st["http_reordered"] > 5
    copies = 200 - st["http_dropped"] + st["http_duplicated"]

    def settled() -> bool:
        # a push not answered within 1.5 s is retried 10 s / 30 s later by the sandbox clock,
        # then listed as failed: every copy ends delivered or listed
        sandbox.clock.advance(5)
        s = sandbox.stats()["events"]
        return bool(s.get("http_delivered", 0) + s.get("http_failed_listed", 0) == copies)

    wait_for(settled, timeout=120, interval=0.2)
    delivered = set(area.delivered_ids)
    wait_for(
        lambda: (
            sum(r["status"] == "processed" and r["source"] == "http" for r in inbox(engine, corp))
            == len(delivered)
        ),
        timeout=60,
    )
    # every duplicate recognised: one inbox row per distinct delivered event
    assert len([r for r in inbox(engine, corp) if r["source"] == "http"]) == len(delivered)
    assert len(delivered) >= 150
    # events alone cannot know what was dropped
    assert directory_differences(engine, corp, sandbox.company) != []
    sandbox.clock.advance(300)  # failed pushes become visible in the failed list
    result = full_sync(sandbox, engine, with_events=True)
    assert result.status == "succeeded"
    assert directory_differences(engine, corp, sandbox.company) == []
    with engine.connect() as conn:
        summary = repo.count_summary(conn, corp)
    assert summary["active_users"] == len(sandbox.company.users)


def test_approval_events_refresh_that_instance(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    from dingsync.store import repo_approvals

    # a console-style subscription takes every event kind, approvals included
    r = httpx.post(
        f"{sandbox.base_url}/sandbox/events/callback",
        json={"url": receiver.url, "token": TOKEN, "aes_key": AES_KEY, "receiver": "corp_id"},
    )
    assert r.json()["registered"] is True
    corp = sandbox.app.corp_id
    before = sandbox.stats()["calls"]
    submitted = httpx.post(f"{sandbox.base_url}/sandbox/mutate/approvals/submit", json={})
    assert submitted.status_code == 200, submitted.text
    pid = submitted.json()["process_instance_id"]
    wait_for(
        lambda: [
            r
            for r in inbox(engine, corp)
            if r["event_type"] == "bpms_instance_change" and r["status"] == "processed"
        ]
    )
    with engine.connect() as conn:
        assert repo_approvals.known_instance_ids(conn, corp, [pid]) == {pid}
    after = sandbox.stats()["calls"]
    calls = sum(after.values()) - sum(before.values())
    assert calls <= 3  # the instance (+ a token), nothing else
