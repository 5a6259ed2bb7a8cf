"""Incremental directory runs (``kind="incremental"``): when they walk the tree, what they re-read
when they do not, and the leaver watermark — over loopback HTTP against the sandbox, on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import repo, repo_events
from dingsync.sync.contacts import ENTITY, LEAVERS_OVERLAP, ContactsSync
from dingsync.sync.engine import SyncResult, run_sync
from helpers.contacts import assert_db_equals_company, make_client

WALK_PATHS = (
    "/topapi/v2/department/get",
    "/topapi/v2/department/listsubid",
    "/topapi/v2/user/list",
)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=11, users=120, qps_limit=None)) as sb:
        yield sb


async def sync(sb: SandboxServer, engine: Engine, kind: str, **kw: Any) -> SyncResult:
    async with make_client(sb) as client:
        return await run_sync(client, engine, sb.app.corp_id, [ContactsSync(**kw)], kind=kind)


def mutate(sb: SandboxServer, kind: str, **body: Any) -> dict[str, Any]:
    resp = httpx.post(f"{sb.base_url}/sandbox/mutate/contacts/{kind}", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def an_event_was_received(engine: Engine, corp_id: str) -> None:
    """What a configured callback or Stream consumer leaves behind: an inbox row."""
    with engine.begin() as conn:
        repo_events.insert_event(
            conn,
            corp_id=corp_id,
            event_id="evt-test-1",
            event_type="check_url",
            source="http",
            payload={"EventType": "check_url"},
        )


def walked(result: SyncResult) -> bool:
    return any(result.api_calls.get(p, 0) for p in WALK_PATHS)


async def test_by_default_an_incremental_run_catches_what_events_missed(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    await sync(sandbox, engine, "full")
    an_event_was_received(engine, corp_id)
    hired = mutate(sandbox, "hire")["userId"][0]  # its event was never delivered
    result = await sync(sandbox, engine, "incremental")
    assert result.counts["contacts_full_compare"] == 1
    assert_db_equals_company(engine, corp_id, sandbox.company)
    with engine.connect() as conn:
        assert repo.load_directory(conn, corp_id)["users"][hired]["status"] == "active"


async def test_incremental_without_events_walks_the_whole_directory(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    await sync(sandbox, engine, "full")
    hired = mutate(sandbox, "hire")["userId"][0]
    result = await sync(sandbox, engine, "incremental", full_compare_hours=24)
    # no event ever arrived for this corp: the walk is the only way to follow DingTalk
    assert result.counts["contacts_full_compare"] == 1
    assert walked(result)
    assert_db_equals_company(engine, corp_id, sandbox.company)
    with engine.connect() as conn:
        assert repo.load_directory(conn, corp_id)["users"][hired]["status"] == "active"


async def test_incremental_between_compares_reads_only_admins_and_new_leavers(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    first = await sync(sandbox, engine, "full")
    assert first.status == "succeeded"
    with engine.connect() as conn:
        mark = repo.get_watermark(conn, corp_id, ENTITY)
    assert mark["full_at_ms"] == mark["leavers_to_ms"] > 0
    an_event_was_received(engine, corp_id)
    left = mutate(sandbox, "leave")["userId"][0]
    hired = mutate(sandbox, "hire")["userId"][0]

    result = await sync(sandbox, engine, "incremental", full_compare_hours=24)
    assert result.status == "succeeded"
    assert result.counts["contacts_full_compare"] == 0
    assert not walked(result)
    assert result.api_calls["/topapi/user/listadmin"] == 1
    assert result.api_calls["/v1.0/contact/empLeaveRecords"] >= 1
    # dimission details only for the new departure, not for every leaver again
    leavers_before = len(sandbox.company.leavers) - 1
    assert leavers_before > 1
    assert result.api_calls.get("/topapi/smartwork/hrm/employee/listdimission", 0) <= 1
    with engine.connect() as conn:
        d = repo.load_directory(conn, corp_id)
        mark2 = repo.get_watermark(conn, corp_id, ENTITY)
    assert d["users"][left]["status"] == "left"
    assert left in d["leavers"]
    # a hire has no departure record: between compares the event brings it, not this run
    assert hired not in d["users"]
    assert mark2["full_at_ms"] == mark["full_at_ms"]
    assert mark2["leavers_to_ms"] > mark["leavers_to_ms"]

    # the compare is due (0 h): the walk brings everything events would have
    result = await sync(sandbox, engine, "incremental", full_compare_hours=0)
    assert result.counts["contacts_full_compare"] == 1
    assert_db_equals_company(engine, corp_id, sandbox.company)


async def test_leave_records_are_read_from_the_watermark_minus_the_overlap(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    await sync(sandbox, engine, "full")
    an_event_was_received(engine, corp_id)
    with engine.connect() as conn:
        mark = repo.get_watermark(conn, corp_id, ENTITY)
    seen: list[str] = []

    class Recording(httpx.AsyncHTTPTransport):
        """Real loopback transport that notes each departure-record window asked for."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1.0/contact/empLeaveRecords":
                seen.append(request.url.params["startTime"])
            return await super().handle_async_request(request)

    async with make_client(sandbox, transport=Recording()) as client:
        entity = ContactsSync(full_compare_hours=24)
        await run_sync(client, engine, corp_id, [entity], kind="incremental")
    assert seen, "departure records were not read"
    expected = datetime.fromtimestamp(
        (mark["leavers_to_ms"] - LEAVERS_OVERLAP.total_seconds() * 1000) / 1000, UTC
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(seen) == {expected}


async def test_an_old_departure_does_not_mark_a_rejoined_person_left(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp_id = sandbox.app.corp_id
    await sync(sandbox, engine, "full")
    an_event_was_received(engine, corp_id)
    sandbox.clock.advance(-600)  # the departure was ten minutes ago
    left = mutate(sandbox, "leave")["userId"][0]
    sandbox.clock.advance(600)
    mutate(sandbox, "rejoin", userid=left)
    # the rejoin was seen (as an event's refresh or a walk would): the person is active now
    await sync(sandbox, engine, "full")
    with engine.connect() as conn:
        assert repo.load_directory(conn, corp_id)["users"][left]["status"] == "active"
    # an incremental run re-reads the departure (inside the overlap): the person stays active
    result = await sync(sandbox, engine, "incremental", full_compare_hours=24)
    assert result.counts["contacts_full_compare"] == 0
    with engine.connect() as conn:
        d = repo.load_directory(conn, corp_id)
    assert left in d["leavers"]
    assert d["users"][left]["status"] == "active"
