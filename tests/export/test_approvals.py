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
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.dingtalk.models.approvals import ProcessInstance
from dingsync.export.approvals import (
    BASE_COLUMNS,
    DETAIL_BASE,
    STATUS_NAMES,
    approval_stats,
    export_approvals,
)
from dingsync.sandbox import SandboxServer
from dingsync.store import db, repo_approvals, repo_audit
from dingsync.sync.approvals import ApprovalsSync, instance_bundle
from dingsync.sync.engine import run_sync
from helpers.approvals import SANDBOX as SANDBOX
from helpers.approvals import edited_instance_payload, make_client

SHANGHAI = timezone(timedelta(hours=8))
#: DingTalk's admin export's first columns, spelled out (docs/approvals.md).
DINGTALK_COLUMNS = [
    "审批编号", "标题", "审批状态", "审批结果", "发起时间", "完成时间", "耗时", "发起人工号",
    "发起人姓名", "发起人部门", "历史审批人姓名", "审批记录", "当前处理人姓名",
]  # fmt: skip


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
        assert row[0] == inst.business_id and row[1] == inst.title
        status = "TERMINATED" if inst.status == "CANCELED" else inst.status  # v1.0 (EB-57)
        assert row[2] == STATUS_NAMES[status]
        assert row[3] == ({"agree": "同意", "refuse": "拒绝"}.get(inst.result) or None)
        assert row[4] == _local(_minute(inst.create_ms))  # dates are dates
        assert row[5] == _local(_minute(inst.finish_ms))  # empty while running
        total = row[13]
        assert isinstance(total, float | int) and total == pytest.approx(
            float(values["MoneyField_TOTAL"])
        )  # amounts are numbers
        table = json.loads(values["TableField_DETAIL"])
        assert row[14] == len(table)
        files = json.loads(values["DDAttachment_FILES"])
        assert (row[16] or "") == "、".join(f["fileName"] for f in files)  # by name
        photos = json.loads(values["DDPhotoField_RECEIPT"])
        assert (row[15] or "") == "\n".join(photos)
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
    start, end, days = first[14], first[15], first[16]
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
    purchase_form = ["采购事由", "采购类型", "采购明细", "总价（元）", "期望交付日期"]
    header = [c.value for c in openpyxl.load_workbook(out)["审批"][1]]
    assert header == [*DINGTALK_COLUMNS, *purchase_form]
    # --details rows: one csv, one row per detail row, the table's columns after its own
    flat = tmp_path / "flat.csv"
    res = runner.invoke(
        app,
        [
            *("export", "approvals", "-t", "采购", "-f", "csv", "-o", str(flat)),
            *("--details", "rows", "--database-url", sqlite_url),
        ],
        env=env,
    )
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "flat.details.csv").exists()
    with flat.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        *DINGTALK_COLUMNS,
        *purchase_form[:3],
        *("名称", "数量", "单价（元）"),
        *purchase_form[3:],
    ]
    assert int(res.output.split()[0]) == len(rows) - 1 > audit["row_count"]
    assert len({r[0] for r in rows[1:]}) == audit["row_count"]  # every instance, by 审批编号
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
    # a reversed range is refused (exit 2, no file, no audit row), as `export reports` does
    with engine.connect() as conn:
        audited = conn.execute(text("SELECT count(*) FROM web_export_audit")).scalar()
    reversed_out = tmp_path / "reversed.xlsx"
    res = runner.invoke(
        app,
        [
            *("export", "approvals", "-t", "报销", "--from", "2026-12-05", "--to", "2026-12-01"),
            *("-o", str(reversed_out), "--database-url", sqlite_url),
        ],
        env=env,
    )
    assert res.exit_code == 2 and "before" in res.output
    assert not reversed_out.exists()
    with engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM web_export_audit")).scalar()
    assert after == audited


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
        by_business_id = {i.business_id: pid for pid, i in insts.items()}

        def export(name: str, **kw: Any) -> list[str]:
            path = tmp_path / f"{name}.csv"
            result = export_approvals(conn, corp, tpl, path, "csv", **kw)
            with path.open(encoding="utf-8-sig") as fh:  # 审批编号 → instance id
                ids = [by_business_id[row[0]] for row in list(csv.reader(fh))[1:]]
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

    # details="rows": one row per detail row, the table's columns after its own column, the
    # detail column the schema lacks at the end
    with engine.connect() as conn:
        flat = export_approvals(conn, "corp", tpl, tmp_path / "f.csv", "csv", details="rows")
    with (tmp_path / "f.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [*BASE_COLUMNS, "报销明细", "备注一", "备注二", "金额", "旧字段", "旧列"]
    assert [r[len(BASE_COLUMNS) :] for r in rows[1:]] == [
        ["2", "第一条备注", "第二条备注", "12.5", "模板改版前的值", ""],
        ["2", "三", "四", "30", "模板改版前的值", "老数据"],
    ]
    assert rows[1][: len(BASE_COLUMNS)] == rows[2][: len(BASE_COLUMNS)]
    assert (flat.rows, flat.detail_rows, flat.paths) == (2, 2, [tmp_path / "f.csv"])


async def test_dingtalk_columns_and_flattened_details(
    sandbox: SandboxServer, engine: Engine, tmp_path: Path
) -> None:
    """The first columns are DingTalk's admin export's (审批编号 … 当前处理人姓名) with the
    sandbox's truth in them; ``details="rows"`` gives one xlsx row per detail row (dates as
    dates, amounts as numbers) and keeps instances without detail rows as one row."""
    from dingsync.sandbox.approvals import Instance
    from dingsync.sync.contacts import ContactsSync

    async with make_client(sandbox) as client:  # the directory too: names and job numbers
        done = await run_sync(
            client, engine, sandbox.app.corp_id, [ContactsSync(), ApprovalsSync()]
        )
    assert done.status == "succeeded"
    world = sandbox.state.areas["approvals"].world
    corp = sandbox.app.corp_id
    people = sandbox.company.users
    expense = world.templates[1]
    with engine.connect() as conn:
        tpl = repo_approvals.find_template(conn, corp, expense.process_code)
        assert tpl is not None
        result = export_approvals(conn, corp, tpl, tmp_path / "f.xlsx", "xlsx", details="rows")
    book = openpyxl.load_workbook(tmp_path / "f.xlsx")
    assert book.sheetnames == ["审批"]
    sheet = book["审批"]
    header = [c.value for c in sheet[1]]
    assert header == [
        "审批编号", "标题", "审批状态", "审批结果", "发起时间", "完成时间", "耗时", "发起人工号",
        "发起人姓名", "发起人部门", "历史审批人姓名", "审批记录", "当前处理人姓名",
        "报销总额（元）", "报销明细", "费用类型", "金额（元）", "日期", "票据照片", "附件",
    ]  # fmt: skip
    insts = sorted(
        (i for i in world.instances.values() if i.process_code == expense.process_code),
        key=lambda i: (i.create_ms, i.process_instance_id),
    )
    rows = list(sheet.iter_rows(min_row=2, values_only=True))

    def name(userid: str) -> str:
        return people[userid].name if userid in people else userid

    expected: list[tuple[Any, ...]] = []
    for inst in insts:
        table = json.loads(next(f["value"] for f in inst.form if f["id"] == "TableField_DETAIL"))
        for cells in table or [None]:
            c = {x["name"]: x["value"] for x in cells} if cells else {}
            expected.append(
                (
                    inst.business_id,
                    float(c["金额（元）"]) if c else None,
                    datetime.fromisoformat(c["日期"]) if c else None,
                )
            )
    assert [(r[0], r[16], r[17]) for r in rows] == expected
    assert result.rows == len(rows) and result.detail_rows == sum(1 for e in expected if e[1])
    by_id = {i.business_id: i for i in insts}
    for row in rows:
        inst: Instance = by_id[row[0]]
        assert row[8] == name(inst.originator_userid)
        assert row[7] == (people[inst.originator_userid].job_number or None)
        assert row[9] == inst.originator_dept_name
        assert len(str(row[11]).split("\n")) == len(inst.records)  # 审批记录: one line each
        assert str(row[11]).startswith(f"{name(inst.originator_userid)} 发起审批 ")
        done = [t["userid"] for t in inst.tasks if t["status"] == "COMPLETED"]
        assert row[10] == (",".join(name(u) for u in dict.fromkeys(done)) or None)
        waiting = [t["userid"] for t in inst.tasks if t["status"] == "RUNNING"]
        if inst.status == "RUNNING":
            assert row[12] == ",".join(name(u) for u in waiting) and row[6] is None
        else:
            assert row[12] is None
        if row[5] is not None:  # 耗时 of a finished one, to the minute
            minutes = int((row[5] - row[4]).total_seconds() // 60)
            d, h, m = minutes // 1440, minutes % 1440 // 60, minutes % 60
            text = (f"{d}天" if d else "") + (f"{h}小时" if h else "")
            assert row[6] == text + (f"{m}分钟" if m or not text else "")


def test_duration_and_record_words() -> None:
    """耗时 and 审批记录's words (docs/approvals.md)."""
    from dingsync.export.approvals import action_name, duration_text

    t0 = datetime(2026, 1, 1, 9, 0, tzinfo=SHANGHAI)
    assert duration_text(t0, None) is None
    assert duration_text(t0, t0 + timedelta(seconds=30)) == "0分钟"
    assert duration_text(t0, t0 + timedelta(minutes=45)) == "45分钟"
    assert duration_text(t0, t0 + timedelta(days=1, minutes=5)) == "1天5分钟"
    assert duration_text(t0, t0 + timedelta(days=2, hours=3, minutes=15)) == "2天3小时15分钟"
    assert action_name("EXECUTE_TASK_NORMAL", "AGREE") == "同意"
    assert action_name("EXECUTE_TASK_NORMAL", "REFUSE") == "拒绝"
    assert action_name("EXECUTE_TASK_AUTO", "AGREE") == "自动同意"
    assert action_name("START_PROCESS_INSTANCE", "NONE") == "发起审批"
    assert action_name("TERMINATE_PROCESS_INSTANCE", "NONE") == "撤销"
    assert action_name("SOMETHING_NEW", None) == "SOMETHING_NEW"


def test_empty_lists_are_empty_cells() -> None:
    """An attachment, photo, multi-select or contact field holding an empty list (or an empty
    value) is an empty cell (``None``), not an empty string; a filled one keeps its text."""
    from dingsync.export.approvals import cell_value

    for component in ("DDAttachment", "DDPhotoField", "DDMultiSelectField", "InnerContactField"):
        assert cell_value(component, "[]", []) is None
        assert cell_value(component, "", None) is None
    files = [{"fileName": "a.pdf"}, {"fileName": "b.png"}]
    assert cell_value("DDAttachment", json.dumps(files), files) == "a.pdf、b.png"
    assert cell_value("DDPhotoField", '["u1","u2"]', ["u1", "u2"]) == "u1\nu2"
    assert cell_value("InnerContactField", '["u1","u2"]', ["u1", "u2"]) == "u1,u2"
