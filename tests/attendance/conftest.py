"""Fixtures for the attendance tests: one sandbox per module (real loopback HTTP, no QPS limit)
and a client bound to it; sync helpers that fill a database through the real sync engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from dingsync.dingtalk import DingTalkClient
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sandbox.attendance import AttendanceArea
from dingsync.sync.attendance import AttendanceSync
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import SyncResult, run_sync

SEED = 11
USERS = 130
DAYS = 30


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=SEED, users=USERS, days=DAYS, qps_limit=None)) as sb:
        yield sb


def area_of(sb: SandboxServer) -> AttendanceArea:
    area = sb.state.areas["attendance"]
    assert isinstance(area, AttendanceArea)
    return area


def last_work_date(sb: SandboxServer) -> date:
    return date.fromisoformat(sb.stats()["attendance"]["work_date_to"])


def make_client(sb: SandboxServer, **kw: Any) -> DingTalkClient:
    kw.setdefault("qps_per_api", None)
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_max", 0.05)
    kw.setdefault("rate_limit_pause", 0.0)
    kw.setdefault("max_retries", 2)
    return DingTalkClient(
        sb.app.app_key,
        sb.app.app_secret,
        corp_id=sb.app.corp_id,
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        **kw,
    )


async def sync_all(
    sb: SandboxServer, engine: Engine, *, contacts: bool = True, **att: Any
) -> SyncResult:
    """Directory (optional) then attendance over the sandbox's whole history."""
    att.setdefault("days", DAYS)
    att.setdefault("end", last_work_date(sb))
    async with make_client(sb) as client:
        if contacts:
            await run_sync(client, engine, sb.app.corp_id, [ContactsSync()])
        kind = att.pop("kind", "full")
        return await run_sync(
            client, engine, sb.app.corp_id, [AttendanceSync(**att)], kind=kind, resume=False
        )
