"""Exports (xlsx opened with openpyxl, csv) and statistics, from a synced store; and the CLI."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.dingtalk.models.approvals import ProcessInstance
from dingsync.export.approvals import BASE_COLUMNS, DETAIL_BASE, approval_stats, export_approvals
from dingsync.sandbox import SandboxServer
from dingsync.store import db, repo_approvals, repo_audit
from dingsync.sync.approvals import ApprovalsSync, instance_bundle
from dingsync.sync.engine import run_sync
from helpers.approvals import SANDBOX as SANDBOX
from helpers.approvals import edited_instance_payload, make_client

SHANGHAI = timezone(timedelta(hours=8))


async def _synced(sb: SandboxServer, engine: Engine) -> None:
    async with make_client(sb) as client:
        result = await run_sync(client, engine, sb.app.corp_id, [ApprovalsSync()])
    assert result.status == "succeeded"


def _minute(ms: int | None) -> int | None:
    """``ms`` as the v1.0 host (the default) shows it: to the minute (EB-56)."""
    return None if ms is None else ms - ms % 60_000


def _local(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).replace(tzinfo=None)


async def test_xlsx_columns_follow_the_schema_and_details_match(
    sandbox: SandboxServer, engine: Engine, tmp_path: Path
) -> None:
    await _synced(sandbox, engine)
    world = sandbox.state.areas["approvals"].world
    corp = sandbox.app.corp_id
    expense = world.templates[1]
    with engine.connect() as conn:
        tpl = repo_approvals.find_template(conn, corp, "报销")
        assert tpl is not None and tpl["process_code"] == expense.process_code
        result = export_approvals(conn, corp, tpl, tmp_path / "e.xlsx", "xlsx")
    book = openpyxl.load_workbook(tmp_path / "e.xlsx")
    main, details = book["审批"], book["明细"]
    header = [c.value for c in main[1]]
    # one column per form field in schema order (the text note has no value: left out)
    assert header == [*BASE_COLUMNS, "报销总额（元）", "报销明细", "票据照片", "附件"]
    assert [c.value for c in details[1]] == [*DETAIL_BASE, "费用类型", "金额（元）", "日期"]
    insts = sorted(
        (i for i in world.instances.values() if i.process_code == expense.process_code),
        key=lambda i: (i.create_ms, i.process_instance_id),
    )
    rows = list(main.iter_rows(min_row=2, values_only=True))
    assert len(rows) == result.rows == len(insts)
    detail_rows = list(details.iter_rows(min_row=2, values_only=True))
    expected_details = []
    for inst, row in zip(insts, rows, strict=True):
        values = {f["id"]: f["value"] for f in inst.form}
        assert row[1] == inst.process_instance_id and row[0] == inst.business_id
        assert row[6] == ("TERMINATED" if inst.status == "CANCELED" else inst.status)
        assert row[7] == (inst.result or None)
        assert row[8] == _local(_minute(inst.create_ms))  # dates are dates
        assert row[9] == _local(_minute(inst.finish_ms))  # empty while running
        total = row[10]
        assert isinstance(total, float | int) and total == pytest.approx(
            float(values["MoneyField_TOTAL"])
        )  # amounts are numbers
        table = json.loads(values["TableField_DETAIL"])
        assert row[11] == len(table)
        files = json.loads(values["DDAttachment_FILES"])
        assert (row[13] or "") == "、".join(f["fileName"] for f in files)  # by name
        photos = json.loads(values["DDPhotoField_RECEIPT"])
        assert (row[12] or "") == "\n".join(photos)
        for n, cells in enumerate(table, start=1):
            c = {x["name"]: x["value"] for x in cells}
            expected_details.append(
                (
                    inst.process_instance_id,
                    inst.business_id,
                    "报销明细",
                    n,
                    c["费用类型"],
                    float(c["金额（元）"]),
                    datetime.combine(date.fromisoformat(c["日期"]), datetime.min.time()),
                )
            )
    assert [tuple(r) for r in detail_rows] == expected_details
    assert result.detail_rows == len(expected_details) > 0

    # a date range becomes two date columns; the trip's peers are userids
    with engine.connect() as conn:
        trip = repo_approvals.find_template(conn, corp, "出差")
        assert trip is not None
        export_approvals(conn, corp, trip, tmp_path / "t.xlsx", "xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx")["审批"]
    assert [c.value for c in sheet[1]][len(BASE_COLUMNS) :] == [
        "出差地点",
        "开始时间",
        "结束时间",
        "出差天数",
        "同行人",
        "出差事由",
    ]
    first = next(sheet.iter_rows(min_row=2, values_only=True))
    start, end, days = first[11], first[12], first[13]
    assert isinstance(start, datetime) and isinstance(end, datetime)
    assert (end - start).days + 1 == days
    _check_csv_and_stats(sandbox, engine, tmp_path)


def _check_csv_and_stats(sandbox: SandboxServer, engine: Engine, tmp_path: Path) -> None:
    """csv export with a create-time filter; statistics against the sandbox's truth."""
    world = sandbox.state.areas["approvals"].world
    corp = sandbox.app.corp_id
    leave = world.templates[0]
    insts = [i for i in world.instances.values() if i.process_code == leave.process_code]
    created = sorted(_minute(i.create_ms) or 0 for i in insts)  # as stored from v1.0
    middle = created[len(insts) // 2]
    cut = datetime.fromtimestamp(middle / 1000, SHANGHAI)
    with engine.connect() as conn:
        tpl = repo_approvals.find_template(conn, corp, "请假")
        assert tpl is not None
        result = export_approvals(conn, corp, tpl, tmp_path / "l.csv", "csv", created_from=cut)
        stats = {s["template"]: s for s in approval_stats(conn, corp)}
    with (tmp_path / "l.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][len(BASE_COLUMNS) :] == [
        "请假类型",
        "开始时间",
        "结束时间",
        "时长（天）",
        "请假事由",
    ]
    assert len(rows) - 1 == result.rows == sum(1 for c in created if c >= middle)
    assert result.paths[1].name == "l.details.csv"

    for tpl_truth in world.templates:
        mine = [i for i in world.instances.values() if i.process_code == tpl_truth.process_code]
        s = stats[tpl_truth.name]
        assert s["instances"] == len(mine)
        results = Counter(i.result or "" for i in mine)
        assert s["by_result"] == dict(sorted(results.items()))
        decided = results["agree"] + results["refuse"]
        assert s["approval_rate"] == round(results["agree"] / decided, 4)
        cycles = sorted(
            ((_minute(i.finish_ms) or 0) - (_minute(i.create_ms) or 0)) / 3_600_000
            for i in mine
            if i.finish_ms
        )
        assert s["finished"] == len(cycles)
        assert cycles[0] <= s["cycle_p50_h"] <= s["cycle_p90_h"] <= cycles[-1]


async def test_cli_export_and_stats(
    sandbox: SandboxServer, sqlite_url: str, tmp_path: Path
) -> None:
    engine = db.create_engine_for(sqlite_url)
    db.migrate(engine)
    await _synced(sandbox, engine)
    engine.dispose()
    runner = CliRunner()
    out = tmp_path / "x.xlsx"
    env: dict[str, Any] = {"DINGTALK_CORP_ID": ""}
    res = runner.invoke(
        app,
        [
            "export",
            "approvals",
            "--template",
            "采购",
            "--format",
            "xlsx",
            "--output",
            str(out),
            "--database-url",
            sqlite_url,
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
        ],
        env=env,
    )
    assert res.exit_code == 0, res.output
    assert out.is_file() and "instances" in res.output
    # The CLI export is audited like the web's (DESIGN.md §7): who, kind, filters, rows, hash.
    engine = db.create_engine_for(sqlite_url)
    with engine.connect() as conn:
        audit = repo_audit.list_export_audit(conn, sandbox.app.corp_id, limit=1)[0][0]
        purchase = repo_approvals.find_template(conn, sandbox.app.corp_id, "采购")
    engine.dispose()
    assert purchase is not None
    assert audit["client"] == "cli" and audit["userid"].startswith("cli:")
    assert (audit["kind"], audit["format"]) == ("approvals", "xlsx")
    assert audit["filters"]["requested"] == {
        "template": "采购",
        "process_code": purchase["process_code"],
        "start_date": "2000-01-01",
        "end_date": "2100-01-01",
    }
    assert audit["row_count"] == int(res.output.split()[0])
    assert audit["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert audit["byte_size"] == out.stat().st_size
    sheet = openpyxl.load_workbook(out)["明细"]
    assert [c.value for c in sheet[1]][len(DETAIL_BASE) :] == ["名称", "数量", "单价（元）"]
    res = runner.invoke(
        app, ["approvals", "stats", "--json", "--database-url", sqlite_url], env=env
    )
    assert res.exit_code == 0, res.output
    stats = json.loads(res.output)
    assert {s["template"] for s in stats} == {"请假", "报销", "出差", "采购", "加班"}
    res = runner.invoke(
        app,
        ["approvals", "stats", "--template", "报销", "--database-url", sqlite_url],
        env=env,
    )
    assert res.exit_code == 0 and "报销" in res.output and "Cycle p50" in res.output
    res = runner.invoke(
        app, ["export", "approvals", "--template", "没有", "--database-url", sqlite_url], env=env
    )
    assert res.exit_code != 0


async def test_export_narrowed_to_a_viewer_and_departments_streams_in_batches(
    sandbox: SandboxServer, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``visible`` (originator, approvers, cc'd people, originators in scope departments),
    ``dept_ids``, ``status`` and ``originator`` are applied in SQL; read in batches of two,
    the file is the same as in one batch."""
    from sqlalchemy import select

    from dingsync.export import approvals as export_module
    from dingsync.store.repo_contacts import department_subtree
    from dingsync.store.schema import user_departments
    from dingsync.store.schema_approvals import approval_cc, approval_instances, approval_tasks
    from dingsync.store.visibility import Visible
    from dingsync.sync.contacts import ContactsSync

    async with make_client(sandbox) as client:  # the directory too: departments and members
        result = await run_sync(
            client, engine, sandbox.app.corp_id, [ContactsSync(), ApprovalsSync()]
        )
    assert result.status == "succeeded"
    corp = sandbox.app.corp_id
    with engine.connect() as conn:
        insts = {
            r.process_instance_id: r
            for r in conn.execute(
                select(approval_instances).where(approval_instances.c.corp_id == corp)
            )
        }
        involved: dict[str, set[str]] = {}
        for table in (approval_tasks, approval_cc):
            for r in conn.execute(select(table.c.process_instance_id, table.c.userid)):
                involved.setdefault(r.userid, set()).add(r.process_instance_id)
        members: dict[str, set[int]] = {}
        for r in conn.execute(select(user_departments.c.userid, user_departments.c.dept_id)):
            members.setdefault(r.userid, set()).add(int(r.dept_id))
        code = Counter(i.process_code for i in insts.values()).most_common(1)[0][0]
        tpl = repo_approvals.find_template(conn, corp, code)
        assert tpl is not None
        mine = {pid for pid, i in insts.items() if i.process_code == code}

        def export(name: str, **kw: Any) -> list[str]:
            path = tmp_path / f"{name}.csv"
            result = export_approvals(conn, corp, tpl, path, "csv", **kw)
            with path.open(encoding="utf-8-sig") as fh:
                ids = [row[1] for row in list(csv.reader(fh))[1:]]
            assert result.rows == len(ids) == len(set(ids))
            return ids

        person = max(involved, key=lambda u: len(involved[u] & mine))
        seen = {pid for pid in mine if insts[pid].originator_userid == person}
        seen |= involved[person] & mine
        assert seen
        own = Visible(owner=person, participant=person)
        assert set(export("own", visible=own)) == seen

        def originated_in(depts: set[int]) -> set[str]:
            return {
                pid
                for pid in mine
                if members.get(insts[pid].originator_userid or "", set()) & depts
            }

        below = next(  # a department whose people originated some, not all
            sub
            for d in sorted(sandbox.company.departments)
            if 0 < len(originated_in(sub := department_subtree(conn, corp, [d]))) < len(mine)
        )
        in_dept = originated_in(below)
        assert set(export("dept", dept_ids=below)) == in_dept
        scoped = Visible(owner=person, participant=person, dept_ids=tuple(sorted(below)))
        assert set(export("scoped", visible=scoped)) == seen | in_dept
        done = {pid for pid in mine if insts[pid].status == "COMPLETED"}
        assert set(export("done", status="COMPLETED", visible=scoped)) == done & (seen | in_dept)
        assert set(export("theirs", originator=person)) == {
            pid for pid in mine if insts[pid].originator_userid == person
        }

        whole = export("whole")
        assert set(whole) == mine
        one_batch = (tmp_path / "whole.csv").read_bytes()
        monkeypatch.setattr(export_module, "BATCH", 2)
        assert export("whole2") == whole
        assert (tmp_path / "whole2.csv").read_bytes() == one_batch
        assert (tmp_path / "whole2.details.csv").read_bytes() == (
            tmp_path / "whole.details.csv"
        ).read_bytes()


def test_edited_template_keeps_every_detail_cell_and_old_component(
    engine: Engine, tmp_path: Path
) -> None:
    """Empty-label cells stay apart, a null row loses only itself, and components the edited
    template no longer has are extra columns after its own (main and detail)."""
    inst = ProcessInstance.from_payload(edited_instance_payload(), "pid-edited", "legacy")
    fields = [
        {
            "id": "TableField_DETAIL",
            "label": "报销明细",
            "component_name": "TableField",
            "children": [
                {"id": "TextField-REMARK1", "label": "备注一", "component_name": "TextField"},
                {"id": "TextField-REMARK2", "label": "备注二", "component_name": "TextField"},
                {"id": "MoneyField-AMOUNT", "label": "金额", "component_name": "MoneyField"},
            ],
        }
    ]
    template = {"process_code": "PROC-X", "name": "报销", "fields": fields}
    with engine.begin() as conn:
        repo_approvals.upsert_templates(conn, "corp", [template])
        repo_approvals.store_instances(conn, "corp", [instance_bundle("corp", "PROC-X", inst)])
    with engine.connect() as conn:
        tpl = repo_approvals.find_template(conn, "corp", "报销")
        assert tpl is not None
        result = export_approvals(conn, "corp", tpl, tmp_path / "x.csv", "csv")
    with (tmp_path / "x.csv").open(encoding="utf-8-sig") as fh:
        main = list(csv.reader(fh))
    with (tmp_path / "x.details.csv").open(encoding="utf-8-sig") as fh:
        details = list(csv.reader(fh))
    assert main[0] == [*BASE_COLUMNS, "报销明细", "旧字段"]
    assert main[1][-2:] == ["2", "模板改版前的值"]
    assert details[0] == [*DETAIL_BASE, "备注一", "备注二", "金额", "旧列"]
    assert [r[3:] for r in details[1:]] == [
        ["1", "第一条备注", "第二条备注", "12.5", ""],
        ["2", "三", "四", "30", "老数据"],
    ]
    assert result.detail_rows == 2 and result.extra_columns == ["旧字段", "旧列"]
