"""Fixtures for the attendance tests: one sandbox per module (real loopback HTTP, no QPS limit)
and a client bound to it; sync helpers that fill a database through the real sync engine."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from sqlalchemy import Engine

from dingsync.commands.attendance import crosscheck_month
from dingsync.dingtalk import DingTalkClient
from dingsync.export.attendance_check import CrossCheck
from dingsync.sandbox import SandboxServer
from dingsync.sandbox.attendance import AttendanceArea
from dingsync.sync.attendance import AttendanceSync
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import SyncResult, run_sync
from dingsync.timeutil import WIRE_TZ
from helpers.sandboxes import SandboxSpec
from helpers.sandboxes import make_client as sandbox_client

SEED = 11
USERS = 130
DAYS = 30


#: The attendance company the modules share (read-only).
SANDBOX = SandboxSpec(seed=SEED, users=USERS, days=DAYS)


def area_of(sb: SandboxServer) -> AttendanceArea:
    area = sb.state.areas["attendance"]
    assert isinstance(area, AttendanceArea)
    return area


def last_work_date(sb: SandboxServer) -> date:
    return date.fromisoformat(sb.stats()["attendance"]["work_date_to"])


def make_client(sb: SandboxServer, **kw: Any) -> DingTalkClient:
    """:func:`helpers.sandboxes.make_client` with two retries."""
    kw.setdefault("max_retries", 2)
    return sandbox_client(sb, **kw)


def crosscheck(sb: SandboxServer, engine: Engine, month: str) -> CrossCheck:
    """The month's summary against the sandbox's 考勤报表 (``crosscheck_month``, company zone
    ``WIRE_TZ``), over loopback."""

    async def run() -> CrossCheck:
        async with make_client(sb) as client:
            with engine.connect() as conn:
                check: CrossCheck = await crosscheck_month(
                    conn, client, sb.app.corp_id, month, tz=WIRE_TZ
                )
                return check

    return asyncio.run(run())


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
