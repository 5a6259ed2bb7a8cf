"""A NUL character (U+0000) in DingTalk's text — a report field, an approval form value and
remark, a name — is stored on every backend (PostgreSQL's text and JSONB refuse it; the store
escapes it, :mod:`dingsync.store.nul`) and comes back exactly: from the store, the web API (JSON)
and CSV exports; xlsx, which cannot hold it (XML 1.0), shows U+2400 ␀. Later entities still run;
a unit the database refuses for its data is quarantined, not retried for ever."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from pydantic import SecretStr
from sqlalchemy import Connection, Engine, select
from typer.testing import CliRunner

from dingsync.cli import app as cli_app
from dingsync.config import Settings
from dingsync.sandbox import SandboxServer
from dingsync.store import repo
from dingsync.store.schema import sync_runs, users
from dingsync.store.schema_approvals import (
    approval_form_values,
    approval_instances,
    approval_operation_records,
)
from dingsync.store.schema_reports import report_contents, reports
from dingsync.sync.approvals import ApprovalsSync
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import SyncContext, SyncResult, quarantined_units, run_sync
from dingsync.sync.reports import ReportsSync
from dingsync.timeutil import WIRE_TZ
from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.reports import window
from helpers.sandboxes import SandboxSpec, make_client, mutate

SANDBOX = SandboxSpec(seed=7, users=12, days=10, private=True)
NUL_TEXT = "周报\u0000第二段 \ufdd0 \\u0000 end\u0000"
REASON = "事由\u0000（\ufdd00 不是转义）"
REMARK = "同意\u0000"


def _sync(sb: SandboxServer, engine: Engine) -> SyncResult:
    entities = [ContactsSync(), ReportsSync(since_ms=window(sb)[0]), ApprovalsSync()]

    async def go() -> SyncResult:
        async with make_client(sb) as client:
            return await run_sync(client, engine, sb.app.corp_id, entities, resume=False)

    return asyncio.run(go())


def _settings(sb: SandboxServer, database_url: str) -> Settings:
    return Settings(
        DINGTALK_APP_KEY=sb.app.app_key,
        DINGTALK_APP_SECRET=SecretStr(sb.app.app_secret),
        DINGTALK_CORP_ID=sb.app.corp_id,
        DINGTALK_AGENT_ID=str(sb.app.agent_id),
        DINGTALK_OAPI_URL=sb.base_url,
        DINGTALK_API_URL=sb.base_url,
        DINGSYNC_DATABASE_URL=database_url,
        DINGSYNC_QPS_PER_API=0,
    )


def _strings(value: Any) -> set[str]:
    """Every string in parsed JSON (values, not keys)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def _csv_cells(content: bytes) -> set[str]:
    text = content.decode("utf-8-sig")
    return {cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row}


def test_nul_round_trips_through_store_api_and_csv_export(
    sandbox: SandboxServer, engine: Engine, db_url: str
) -> None:
    report = mutate(sandbox, "reports/edit", value=NUL_TEXT)
    leave = sandbox.state.areas["approvals"].world.templates[0]
    submitted = mutate(
        sandbox,
        "approvals/submit",
        process_code=leave.process_code,
        form_values={"请假事由": REASON},
    )
    pid = submitted["process_instance_id"]
    mutate(sandbox, "approvals/approve", process_instance_id=pid, remark=REMARK)

    result = _sync(sandbox, engine)
    assert result.status == "succeeded", result.error
    assert result.quarantined == []

    # The store gives back the exact strings (text columns and JSON alike).
    with engine.connect() as conn:
        values = set(
            conn.execute(
                select(report_contents.c.value).where(
                    report_contents.c.report_id == report["report_id"]
                )
            ).scalars()
        )
        stored_report = conn.execute(
            select(reports.c.template_name).where(reports.c.report_id == report["report_id"])
        ).one()
        form = dict(
            conn.execute(
                select(approval_form_values.c.name, approval_form_values.c.value).where(
                    approval_form_values.c.process_instance_id == pid
                )
            ).all()
        )
        remarks = set(
            conn.execute(
                select(approval_operation_records.c.remark).where(
                    approval_operation_records.c.process_instance_id == pid
                )
            ).scalars()
        )
        inst_raw = conn.execute(
            select(approval_instances.c.raw).where(approval_instances.c.process_instance_id == pid)
        ).scalar_one()
        # A comparison bound against the column is escaped like the column: it finds the row.
        found = conn.execute(
            select(sa.func.count())
            .select_from(report_contents)
            .where(report_contents.c.value == NUL_TEXT)
        ).scalar_one()
        like = conn.execute(
            select(sa.func.count())
            .select_from(report_contents)
            .where(report_contents.c.value.like("周报\u0000第二段%"))
        ).scalar_one()
    assert NUL_TEXT in values
    assert form["请假事由"] == REASON
    assert REMARK in remarks
    assert {REMARK, REASON} <= _strings(inst_raw)
    assert (found, like) == (1, 1)

    # The web API (JSON) and the CSV exports give back the exact strings too.
    admin = sandbox.company.main_admin_userid
    app = create_app(_settings(sandbox, db_url), engine=engine, options=WebOptions())
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        code = httpx.post(f"{sandbox.base_url}/sandbox/authcode", json={"userid": admin})
        login = http.post("/api/auth/dingtalk", json={"authCode": code.json()["code"]})
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['session']['token']}"}

        got = http.get(f"/api/reports/{report['report_id']}", headers=auth)
        assert got.status_code == 200, got.text
        assert NUL_TEXT in [c["value"] for c in got.json()["contents"]]
        got = http.get(f"/api/approvals/{pid}", headers=auth)
        assert got.status_code == 200, got.text
        detail = got.json()
        assert REASON in [v["value"] for v in detail["form_values"]]
        assert REMARK in [r.get("remark") for r in detail["operation_records"]]

        created = datetime.fromtimestamp(report["create_time"] / 1000, WIRE_TZ).date()
        report_filters = {
            "template": stored_report.template_name,
            "start_date": created.isoformat(),
            "end_date": created.isoformat(),
        }
        exports = {
            "reports": report_filters,
            "approvals": {"process_code": leave.process_code},
        }
        for kind, filters in exports.items():
            csv_file = http.post(
                "/api/exports",
                headers=auth,
                json={"kind": kind, "format": "csv", "filters": filters},
            )
            assert csv_file.status_code == 200, csv_file.text
            cells = _csv_cells(csv_file.content)
            expected = NUL_TEXT if kind == "reports" else REASON
            assert expected in cells, kind
            # xlsx cannot hold U+0000 (XML 1.0): it shows U+2400 ␀ there.
            xlsx = http.post(
                "/api/exports",
                headers=auth,
                json={"kind": kind, "format": "xlsx", "filters": filters},
            )
            assert xlsx.status_code == 200, xlsx.text
            book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
            shown = {
                str(cell)
                for sheet in book.worksheets
                for row in sheet.iter_rows(values_only=True)
                for cell in row
                if cell is not None
            }
            assert expected.replace("\u0000", "\u2400") in shown, kind


def test_nul_in_names_and_ids_keeps_rows_distinct(engine: Engine) -> None:
    """The escape is one-to-one: ids that differ only by a NUL, or by the escape sequence a
    NUL becomes, stay distinct rows and read back as written."""
    tricky = ["u\u0000", "u\ufdd00", "u\ufdd0\ufdd0", "u0", "u", "u\ufdd0"]
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "c"})
        repo.upsert(
            conn,
            users,
            [{"corp_id": "c", "userid": u, "name": f"名\u0000{u}"} for u in tricky],
            ["corp_id", "userid"],
        )
    with engine.connect() as conn:
        got = dict(conn.execute(select(users.c.userid, users.c.name)).all())
    assert got == {u: f"名\u0000{u}" for u in tricky}


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
                entity = self.bad if key == "b" else f"probe-{key}"
                repo.set_watermark(conn, ctx.corp_id, entity, {"ok": key})
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
    # PostgreSQL refuses a value longer than its VARCHAR(64) column (DataError 22001); an
    # aware-only timestamp column refuses a naive datetime on every backend (a value that
    # cannot be bound).
    bad: Any = "x" * 300 if engine.dialect.name == "postgresql" else None
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
