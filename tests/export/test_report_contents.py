"""What DingTalk does not give is flagged in report exports and the API, not passed off as
content (SQLite and PostgreSQL, real loopback HTTP against the sandbox): a table (表格) field
shows a note instead of its ``[表格]`` placeholder; a text ``report/list`` cut at 1,000
characters is whole when ``/v1.0/report/details`` gives it, and marked cut when it does not."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine

from dingsync.export.reports import TABLE_CELL, TRUNCATED_MARK, export_reports
from dingsync.sandbox import SandboxServer
from dingsync.sandbox.reports import ReportsArea
from dingsync.store import repo_reports
from helpers.reports import sync, window_dates
from helpers.sandboxes import SandboxSpec

SANDBOX = SandboxSpec(seed=11, users=40, days=14)


def _area(sb: SandboxServer) -> ReportsArea:
    found: ReportsArea = sb.state.areas["reports"]
    return found


def _column(path: Path, header: str) -> dict[str, object]:
    sheet = openpyxl.load_workbook(path, read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    col = list(rows[0]).index(header)
    return {str(r[0]): r[col] for r in rows[1:]}


@pytest.mark.parametrize("detail_api", ("served", "denied"))
def test_table_fields_and_cut_texts_are_flagged(
    sandbox: SandboxServer, engine: Engine, tmp_path: Path, detail_api: str
) -> None:
    denied = ["/v1.0/report/details"] if detail_api == "denied" else []
    sandbox.configure(denied_permissions=denied)
    try:
        assert sync(sandbox, engine, details="none").status == "succeeded"
    finally:
        sandbox.configure(denied_permissions=[])
    corp = sandbox.app.corp_id
    first, last = window_dates(sandbox)
    world = _area(sandbox).world
    projects = [r for r in world.reports if r.template == "项目周报"]
    cut = [r for r in world.reports if r.full_texts]
    assert projects and cut  # the sandbox makes both kinds
    with engine.connect() as conn:
        export_reports(conn, corp, "项目周报", first, last, tmp_path / "p.xlsx", "xlsx")
        export_reports(conn, corp, "周报", first, last, tmp_path / "w.xlsx", "xlsx")
        export_reports(conn, corp, "周报", first, last, tmp_path / "w.csv", "csv")
        stored = repo_reports.get_report(conn, corp, cut[0].report_id)
    # a table field: the note, never the placeholder as if it were the content
    table = _column(tmp_path / "p.xlsx", "任务明细")
    assert {table[r.report_id] for r in projects} == {TABLE_CELL}
    # a cut text: whole from the detail API, else the first 1,000 characters marked as cut
    summary = _column(tmp_path / "w.xlsx", "本周工作总结")
    csv_text = (tmp_path / "w.csv").read_text(encoding="utf-8-sig")
    for r in cut:
        whole = r.full_texts["本周工作总结"]
        want = whole if detail_api == "served" else whole[:1000] + TRUNCATED_MARK
        assert summary[r.report_id] == want
        assert want.splitlines()[-1] in csv_text
    # the API's report says the same through ``state``
    assert stored is not None
    item = next(c for c in stored["contents"] if c["key"] == "本周工作总结")
    assert item["state"] == ("full" if detail_api == "served" else "truncated")
