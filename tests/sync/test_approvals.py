"""Approvals sync over real loopback HTTP against the sandbox, into SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from dingsync.dingtalk.approvals import PATH_GET_OLD, PATH_GET_V1, PATH_IDS_V1
from dingsync.dingtalk.models.approvals import ProcessInstance
from dingsync.sandbox import SandboxServer
from dingsync.store import repo_approvals
from dingsync.store.schema_approvals import (
    approval_form_values,
    approval_instances,
)
from dingsync.sync import approvals
from dingsync.sync.approvals import ApprovalsSync, instance_bundle
from dingsync.sync.engine import run_sync
from helpers.approvals import PRIVATE_SANDBOX, edited_instance_payload, make_client

#: The module mutates the company (submits, approves): its own sandbox.
SANDBOX = PRIVATE_SANDBOX


def _ms(dt: datetime | None) -> int | None:
    return None if dt is None else int(dt.timestamp() * 1000)


def _minute(ms: int | None) -> int | None:
    """``ms`` as v1.0 shows it: to the minute (EB-56; the old host shows the seconds too)."""
    return None if ms is None else ms - ms % 60_000


def _to_minutes(row: dict[str, Any]) -> dict[str, Any]:
    """A stored instance (see :func:`_stored`) with every time cut to the minute, as v1.0
    shows times."""

    def cut(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.replace(second=0, microsecond=0)
        if isinstance(value, list):
            return [cut(v) for v in value]
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        return value

    return {k: cut(v) for k, v in row.items()}


async def _sync(sb: SandboxServer, engine: Engine, corp_id: str | None = None, **kw: Any) -> Any:
    endpoint = kw.pop("endpoint", "v1.0")
    async with make_client(sb) as client:
        client.approvals.instances_endpoint = endpoint
        result = await run_sync(
            client, engine, corp_id or sb.app.corp_id, [ApprovalsSync(**kw)], kind="full"
        )
    return result


def _stored(engine: Engine, corp_id: str) -> dict[str, dict[str, Any]]:
    """Every stored instance with its children, keyed by instance id, without bookkeeping."""
    with engine.connect() as conn:
        insts = repo_approvals.load_instances(conn, corp_id)
        ids = [i["process_instance_id"] for i in insts]
        kids = {
            k: repo_approvals.load_children(conn, corp_id, ids, k)
            for k in repo_approvals.CHILD_KEYS
        }
    drop = {"corp_id", "process_instance_id", "synced_at", "raw", "source"}
    out = {}
    for inst in insts:
        pid = inst["process_instance_id"]
        row = {k: v for k, v in inst.items() if k not in drop}
        for key, rows in kids.items():
            keep = {"source"}  # an attachment's source (form / comment) is data, not bookkeeping
            row[key] = [{k: v for k, v in r.items() if k not in drop - keep} for r in rows[pid]]
        out[pid] = row
    return out


async def test_full_sync_equals_the_sandbox(sandbox: SandboxServer, engine: Engine) -> None:
    result = await _sync(sandbox, engine)
    assert result.status == "succeeded"
    truth = sandbox.stats()["approvals"]
    world = sandbox.state.areas["approvals"].world
    with engine.connect() as conn:
        counts = repo_approvals.counts(conn, sandbox.app.corp_id)
    assert counts["approval_templates"] == truth["templates"] == 5
    assert counts["approval_instances"] == truth["instances"] == len(world.instances)
    assert counts["approval_form_values"] == truth["form_values"]
    assert counts["approval_detail_rows"] == truth["detail_rows"] > 0
    assert counts["approval_tasks"] == truth["tasks"]
    assert counts["approval_operation_records"] == truth["operation_records"]
    assert counts["approval_cc"] == truth["cc"]
    files = truth["attachments"]
    assert counts["approval_attachments"] == files["form"] + files["comment"] > 0
    # the minimum of calls: 1 template page, 5 schemas, one page per 20 ids, one get per id
    calls = result.api_calls
    assert calls[PATH_GET_V1] == len(world.instances)
    stored = _stored(engine, sandbox.app.corp_id)
    for pid, inst in world.instances.items():
        row = stored[pid]
        expected_status = "TERMINATED" if inst.status == "CANCELED" else inst.status  # EB-57
        assert row["status"] == expected_status, pid
        assert row["result"] == (inst.result or None)
        assert _ms(row["create_time"]) == _minute(inst.create_ms)  # v1.0: minutes
        assert _ms(row["finish_time"]) == _minute(inst.finish_ms)
        assert row["originator_userid"] == inst.originator_userid
        assert row["approver_userids"] == inst.approver_userids
        assert [c["userid"] for c in row["cc"]] == inst.cc_userids
        assert [
            (v["component_id"], v["name"], v["value"], v["component_type"])
            for v in row["form_values"]
        ] == [(f["id"], f["name"], f["value"], f["component_type"]) for f in inst.form]
        assert [v["ext_value"] for v in row["form_values"]] == [
            f.get("ext_value") for f in inst.form
        ]
        stored_tasks = [
            (t["userid"], t["task_status"], t["task_result"], _ms(t["create_time"]))
            for t in row["tasks"]
        ]
        assert stored_tasks == [
            (t["userid"], t["status"], t["result"], _minute(t["create_time"])) for t in inst.tasks
        ]
        assert [_ms(t["finish_time"]) for t in row["tasks"]] == [
            _minute(t.get("finish_time")) for t in inst.tasks
        ]
        assert [
            (r["operation_type"], r["remark"], _ms(r["date"])) for r in row["operation_records"]
        ] == [(r["type"], r.get("remark"), _minute(r["date"])) for r in inst.records]
    _check_form_values(sandbox, engine)
    _check_attachments(sandbox, stored)


def _check_attachments(sandbox: SandboxServer, stored: dict[str, dict[str, Any]]) -> None:
    """Every attachment's metadata — form files, then files on operation records — equals the
    sandbox's truth (name, size in bytes, type, file id, space id, where it hangs)."""
    from dingsync.sandbox.approvals.files import instance_files

    world = sandbox.state.areas["approvals"].world
    truth = sandbox.stats()["approvals"]["attachments"]
    seen = {"form": 0, "comment": 0}
    for pid, inst in world.instances.items():
        rows = stored[pid]["attachments"]
        expected = instance_files(inst)
        assert [
            (a["file_id"], a["file_name"], a["file_size"], a["file_type"], a["space_id"])
            for a in rows
        ] == [
            (f["file_id"], f["file_name"], f["file_size"], f["file_type"], f["space_id"])
            for f in expected
        ], pid
        assert [a["source"] for a in rows] == [
            "comment" if f["comment"] else "form" for f in expected
        ]
        for a in rows:
            seen[a["source"]] += 1
            if a["source"] == "form":
                assert (a["component_id"], a["userid"]) == (
                    "DDAttachment_FILES",
                    inst.originator_userid,
                )
            else:
                record = inst.records[a["record_seq"]]
                assert a["userid"] == record["userid"] and record.get("attachments")
    assert seen == {"form": truth["form"], "comment": truth["comment"]}
    assert seen["form"] > 0 and seen["comment"] > 0


def _check_form_values(sandbox: SandboxServer, engine: Engine) -> None:
    """A field without a name, a detail table as JSON text, photo and attachment fields and a
    running instance with no finish time, as stored."""
    world = sandbox.state.areas["approvals"].world
    expense = world.templates[1].process_code
    with engine.connect() as conn:
        values = (
            conn.execute(
                select(approval_form_values)
                .join(
                    approval_instances,
                    (approval_instances.c.corp_id == approval_form_values.c.corp_id)
                    & (
                        approval_instances.c.process_instance_id
                        == approval_form_values.c.process_instance_id
                    ),
                )
                .where(approval_instances.c.process_code == expense)
            )
            .mappings()
            .all()
        )
        running = (
            conn.execute(select(approval_instances).where(approval_instances.c.status == "RUNNING"))
            .mappings()
            .all()
        )
        details = repo_approvals.load_children(
            conn, sandbox.app.corp_id, [v["process_instance_id"] for v in values], "detail_rows"
        )
    by_type: dict[str, list[Any]] = {}
    for v in values:
        by_type.setdefault(v["component_type"], []).append(v)
    # a field without a name (说明文字)
    assert all(v["name"] is None and v["value"] == "" for v in by_type["TextNote"])
    # the detail table: JSON text inside a string → parsed rows and detail_rows
    table = by_type["TableField"][0]
    assert isinstance(table["value"], str) and isinstance(table["parsed"], list)
    rows = details[table["process_instance_id"]]
    assert [r["cells"] for r in rows] == [
        {c["name"]: c["value"] for c in cells} for cells in table["parsed"]
    ]
    assert all(isinstance(v["parsed"], float | int) for v in by_type["MoneyField"])
    # photo and attachment fields
    assert all(isinstance(v["parsed"], list) for v in by_type["DDPhotoField"])
    files = [f for v in by_type["DDAttachment"] for f in v["parsed"]]
    assert files and all(f["fileName"].endswith(".pdf") for f in files)
    # a running instance has no finish time and no result
    assert running and all(r["finish_time"] is None and r["result"] is None for r in running)


async def test_old_and_new_host_store_the_same_rows(sandbox: SandboxServer, engine: Engine) -> None:
    await _sync(sandbox, engine, "corp-new", endpoint="v1.0")
    result = await _sync(sandbox, engine, "corp-old", endpoint="legacy")
    assert result.api_calls.get(PATH_GET_OLD) and not result.api_calls.get(PATH_GET_V1)
    new, old = _stored(engine, "corp-new"), _stored(engine, "corp-old")
    assert set(new) == set(old)
    world = sandbox.state.areas["approvals"].world
    cancelled = 0
    for pid in new:
        if world.instances[pid].status == "CANCELED":  # v1.0 cannot say CANCELED (EB-57)
            assert (old[pid]["status"], new[pid]["status"]) == ("CANCELED", "TERMINATED")
            old[pid]["status"] = new[pid]["status"]
            cancelled += 1
        for a in old[pid]["attachments"]:  # the old host has no spaceId on records' files
            if a["source"] == "comment":
                assert a["space_id"] is None
                a["space_id"] = world.instances[pid].records[a["record_seq"]]["attachments"][0][
                    "space_id"
                ]
        # the same rows, but v1.0 shows times to the minute only (EB-56)
        assert new[pid] == _to_minutes(old[pid]), pid
    assert cancelled > 0


async def test_incremental_new_ids_and_running_refetched(
    sandbox: SandboxServer, engine: Engine
) -> None:
    await _sync(sandbox, engine)
    area = sandbox.state.areas["approvals"]
    running = sorted(
        (i for i in area.world.instances.values() if i.status == "RUNNING"),
        key=lambda i: i.create_ms,
    )
    old_running = running[0]  # outside the incremental window: re-fetched as "still running"
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        submitted = (
            await http.post(
                "/sandbox/mutate/approvals/submit",
                json={"process_code": area.world.templates[1].process_code},
            )
        ).json()
        for _ in old_running.tasks:
            answer = await http.post(
                "/sandbox/mutate/approvals/approve",
                json={"process_instance_id": old_running.process_instance_id, "remark": "ok"},
            )
            if answer.json().get("status") != "RUNNING":
                break
        assert answer.json()["status"] == "COMPLETED"
        refused = await http.post(
            "/sandbox/mutate/approvals/refuse",
            json={"process_instance_id": submitted["process_instance_id"]},
        )
        assert refused.json()["result"] == "refuse"
        assert (
            await http.post("/sandbox/mutate/approvals/approve", json={"process_instance_id": "x"})
        ).status_code == 404

    async with make_client(sandbox) as client:
        result = await run_sync(
            client, engine, sandbox.app.corp_id, [ApprovalsSync()], kind="incremental"
        )
    assert result.status == "succeeded"
    with engine.connect() as conn:
        still = repo_approvals.unfinished_instance_ids(conn, sandbox.app.corp_id)
        rows = {
            r["process_instance_id"]: r
            for r in repo_approvals.load_instances(conn, sandbox.app.corp_id)
        }
    assert rows[submitted["process_instance_id"]]["result"] == "refuse"
    assert rows[old_running.process_instance_id]["status"] == "COMPLETED"
    assert rows[old_running.process_instance_id]["finish_time"] is not None
    truth_running = {
        i.process_instance_id for i in area.world.instances.values() if i.status == "RUNNING"
    }
    assert set(still) == truth_running
    # only what can have changed was read: new ids plus every instance that was running
    assert result.api_calls[PATH_GET_V1] <= len(running) + 1
    assert result.api_calls[PATH_IDS_V1] <= 2 * 5
    assert len(rows) == len(area.world.instances)


async def test_interrupted_run_resumes_without_gaps_or_duplicates(
    sandbox: SandboxServer, engine: Engine
) -> None:
    import asyncio

    world = sandbox.state.areas["approvals"].world
    sandbox.configure(latency_ms=5)
    try:
        async with make_client(sandbox, qps_per_api=60) as client:
            task = asyncio.create_task(
                run_sync(client, engine, sandbox.app.corp_id, [ApprovalsSync()])
            )
            while True:  # stop it once some detail chunks are committed
                await asyncio.sleep(0.05)
                with engine.connect() as conn:
                    if repo_approvals.counts(conn, sandbox.app.corp_id)["approval_instances"]:
                        break
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        with engine.connect() as conn:
            partial = repo_approvals.counts(conn, sandbox.app.corp_id)["approval_instances"]
        assert 0 < partial < len(world.instances)
        async with make_client(sandbox) as client:
            result = await run_sync(client, engine, sandbox.app.corp_id, [ApprovalsSync()])
    finally:
        sandbox.configure(latency_ms=0)
    assert result.status == "succeeded" and result.resumed
    # the resumed run reads only what the first did not commit
    assert result.api_calls[PATH_GET_V1] <= len(world.instances) - partial + 100
    stored = _stored(engine, sandbox.app.corp_id)
    assert set(stored) == set(world.instances)
    with engine.connect() as conn:
        counts = repo_approvals.counts(conn, sandbox.app.corp_id)
    truth = sandbox.stats()["approvals"]
    assert counts["approval_form_values"] == truth["form_values"]
    assert counts["approval_tasks"] == truth["tasks"]


class _Watched(set[tuple[str, str]]):
    """``SyncContext.in_flight`` that remembers the most details units in flight at once."""

    peak = 0

    def add(self, unit: tuple[str, str]) -> None:
        super().add(unit)
        self.peak = max(self.peak, sum(1 for entity, _ in self if entity == approvals.DETAILS))


@pytest.mark.parametrize("concurrency", [256, 3])
async def test_listing_runs_only_a_few_details_units_ahead(
    sandbox: SandboxServer, engine: Engine, monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    """Listing ids waits while ``CHUNKS_AHEAD`` details units run, so memory does not grow
    with the number of instances; a run with too few unit slots for that lists ahead as before
    and still finishes (no unit waits for a slot a waiting listing holds)."""
    monkeypatch.setattr(approvals, "CHUNK", 4)  # ~70 instances: many chunks per template
    monkeypatch.setattr(approvals, "CHUNKS_AHEAD", 2)
    watched = _Watched()

    def watch(ctx: Any) -> None:
        ctx.in_flight = watched

    async with make_client(sandbox) as client:
        result = await run_sync(
            client,
            engine,
            sandbox.app.corp_id,
            [ApprovalsSync()],
            concurrency=concurrency,
            on_context=watch,
        )
    assert result.status == "succeeded"
    world = sandbox.state.areas["approvals"].world
    assert set(_stored(engine, sandbox.app.corp_id)) == set(world.instances)
    chunks = result.counts["approval_instances"] / 4
    if concurrency == 256:
        assert watched.peak <= 2 < chunks
    else:
        assert watched.peak >= 1


def test_detail_rows_keep_empty_label_cells_and_skip_only_a_null_row() -> None:
    inst = ProcessInstance.from_payload(edited_instance_payload(), "pid-edited", "legacy")
    bundle = instance_bundle("corp", "PROC-X", inst)
    rows = bundle["detail_rows"]
    # the null row is skipped alone: the two good rows are stored, numbered in order
    assert [r["row_no"] for r in rows] == [0, 1]
    # cells keyed by component id: two remarks with empty labels stay two cells
    assert rows[0]["cells"] == {
        "TextField-REMARK1": "第一条备注",
        "TextField-REMARK2": "第二条备注",
        "MoneyField-AMOUNT": "12.50",
    }
    assert rows[1]["cells"]["TextField-GONE"] == "老数据"
    table = bundle["form_values"][0]
    assert isinstance(table["parsed"], list) and len(table["parsed"]) == 2
