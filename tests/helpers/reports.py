"""Fixtures for the reports tests: a small sandbox company with its reports (real loopback
HTTP), clients pointed at it, migrated databases (SQLite and PostgreSQL) and a full sync."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine

from dingsync.sandbox import SandboxServer
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import SyncResult, run_sync
from dingsync.sync.reports import ReportsSync
from helpers.sandboxes import SandboxSpec, make_client

SEED = 11
USERS = 16
DAYS = 10
GMT8 = timezone(timedelta(hours=8))


def window(sb: SandboxServer) -> tuple[int, int]:
    """The sandbox's report history ``(start_ms, end_ms)``."""
    w = sb.stats()["reports"]["window"]
    return int(w["start_ms"]), int(w["end_ms"])


def window_dates(sb: SandboxServer) -> tuple[date, date]:
    """First and last Shanghai date of the sandbox's report history (inclusive)."""
    start, end = window(sb)
    first = datetime.fromtimestamp(start / 1000, GMT8).date()
    last = datetime.fromtimestamp((end - 1) / 1000, GMT8).date()
    return first, last


def sync(
    sb: SandboxServer,
    engine: Engine,
    *,
    contacts: bool = True,
    kind: str = "full",
    max_retries: int = 6,
    **kw: Any,
) -> SyncResult:
    """Run contacts (optionally) and reports over the whole sandbox history."""
    kw.setdefault("since_ms", window(sb)[0])
    entities: list[Any] = [ContactsSync()] if contacts else []
    entities.append(ReportsSync(**kw))

    async def go() -> SyncResult:
        async with make_client(sb, max_retries=max_retries) as client:
            return await run_sync(client, engine, sb.app.corp_id, entities, kind=kind)

    return asyncio.run(go())


#: The reports company the modules share (read-only).
SANDBOX = SandboxSpec(seed=SEED, users=USERS, days=DAYS)


def expected_contents(truth: Any) -> list[dict[str, str]]:
    """The report's contents as the store should hold them: as ``report/list`` sent them, a
    table field flagged ``table``, a text cut at 1,000 characters completed from
    ``/v1.0/report/details`` and flagged ``full``."""
    out: list[dict[str, str]] = []
    for c in truth.contents:
        item = dict(c)
        if c["value"] == "[表格]":
            item["state"] = "table"
        elif c["key"] in truth.full_texts:
            item |= {"value": truth.full_texts[c["key"]], "state": "full"}
        out.append(item)
    return out
