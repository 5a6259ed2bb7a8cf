"""A NUL character (U+0000) in DingTalk's text — a report field, an approval remark — is stored
on every backend (PostgreSQL's text and JSONB refuse it) as U+2400 ␀, and later entities still
run; a unit the database refuses for its data is quarantined, not retried for ever."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, select
from typer.testing import CliRunner

from dingsync.cli import app as cli_app
from dingsync.dingtalk._base import NUL_STAND_IN
from dingsync.sandbox import SandboxServer
from dingsync.store import repo
from dingsync.store.schema import sync_runs
from dingsync.store.schema_approvals import approval_instances
from dingsync.store.schema_reports import report_contents
from dingsync.sync.approvals import ApprovalsSync
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import SyncContext, SyncResult, quarantined_units, run_sync
from dingsync.sync.reports import ReportsSync
from helpers.reports import window
from helpers.sandboxes import SandboxSpec, make_client, mutate

SANDBOX = SandboxSpec(seed=7, users=12, days=10, private=True)
NUL_TEXT = "周报\u0000第二段"


def _sync(sb: SandboxServer, engine: Engine) -> SyncResult:
    entities = [ContactsSync(), ReportsSync(since_ms=window(sb)[0]), ApprovalsSync()]

    async def go() -> SyncResult:
        async with make_client(sb) as client:
            return await run_sync(client, engine, sb.app.corp_id, entities, resume=False)

    return asyncio.run(go())


def test_nul_in_a_report_and_a_remark_is_stored_and_later_entities_run(
    sandbox: SandboxServer, engine: Engine
) -> None:
    report = mutate(sandbox, "reports/edit", value=NUL_TEXT)
    submitted = mutate(sandbox, "approvals/submit")
    pid = submitted.get("process_instance_id") or submitted["instance"]["process_instance_id"]
    mutate(sandbox, "approvals/approve", process_instance_id=pid, remark="同意\u0000")

    result = _sync(sandbox, engine)
    assert result.status == "succeeded", result.error
    assert result.quarantined == []
    expected = NUL_TEXT.replace("\u0000", NUL_STAND_IN)
    with engine.connect() as conn:
        values = set(
            conn.execute(
                select(report_contents.c.value).where(
                    report_contents.c.report_id == report["report_id"]
                )
            ).scalars()
        )
        assert expected in values
        inst = conn.execute(
            select(approval_instances.c.raw).where(approval_instances.c.process_instance_id == pid)
        ).scalar_one()
    assert "同意" + NUL_STAND_IN in str(inst)


class _Refused:
    """An entity with three units; the middle one writes a value the database cannot store."""

    name = "refused"

    def __init__(self, bad: Any) -> None:
        self.bad = bad
        self.written: list[str] = []

    async def run(self, ctx: SyncContext) -> None:
        for key in ("a", "b", "c"):

            async def fetch(key: str = key) -> str:
                return key

            def write(conn: Connection, key: str) -> None:
                value = self.bad if key == "b" else {"ok": key}
                repo.set_watermark(conn, ctx.corp_id, f"probe-{key}", value)
                self.written.append(key)

            await ctx.unit(self.name, key, fetch, write)


class _After:
    name = "after"
    ran = False

    async def run(self, ctx: SyncContext) -> None:
        type(self).ran = True


def test_a_unit_refused_for_its_data_is_quarantined_and_the_run_goes_on(
    sandbox: SandboxServer, engine: Engine, db_url: str
) -> None:
    # PostgreSQL's JSONB refuses U+0000 (DataError); an aware-only timestamp column refuses a
    # naive datetime on every backend (a value that cannot be bound).
    bad: Any = {"text": "x\u0000y"} if engine.dialect.name == "postgresql" else None
    entity = _Refused(bad)
    if bad is None:
        from dingsync.store.schema import sync_runs as runs

        def write(conn: Connection, key: str) -> None:
            from datetime import datetime

            when = datetime(2026, 1, 1) if key == "b" else None  # naive: refused
            if when is not None:
                conn.execute(sa.update(runs).values(finished_at=when))
            entity.written.append(key)

        async def run(ctx: SyncContext) -> None:
            for key in ("a", "b", "c"):

                async def fetch(key: str = key) -> str:
                    return key

                await ctx.unit(entity.name, key, fetch, write)

        entity.run = run  # type: ignore[method-assign]

    async def go() -> SyncResult:
        async with make_client(sandbox) as client:
            return await run_sync(
                client, engine, sandbox.app.corp_id, [entity, _After()], resume=False
            )

    result = asyncio.run(go())
    assert result.status == "succeeded", result.error
    assert _After.ran
    assert [q["key"] for q in result.quarantined] == ["b"]
    assert result.quarantined[0]["entity"] == "refused"
    assert result.quarantined[0]["reason"]
    assert result.counts["quarantined_units"] == 1
    assert "c" in entity.written
    with engine.connect() as conn:
        assert quarantined_units(conn, result.run_id) == result.quarantined
        status = conn.execute(
            select(sync_runs.c.status).where(sync_runs.c.id == result.run_id)
        ).scalar_one()
    assert status == "succeeded"
    doctor = CliRunner().invoke(
        cli_app, ["doctor", "--database-url", db_url], env={"COLUMNS": "250"}
    )
    assert "quarantined units" in doctor.output
    assert "refused b" in doctor.output


@pytest.fixture(autouse=True)
def _reset_after() -> None:
    _After.ran = False
