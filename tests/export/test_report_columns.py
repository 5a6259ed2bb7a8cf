"""The report export's columns come from ``report_template_keys`` (kept by the sync, migration
0028) and are what the scan of every stored content gave before: on a synced sandbox company
(SQLite, PostgreSQL, MariaDB; real loopback HTTP) whose reports were then edited in DingTalk —
a key the template does not have added at the front, a field dropped, one report's fields
moved — and synced again, every template's csv is byte-identical and its xlsx cell-identical
to the export with the scanned keys, including a template whose fields are not stored (its
columns are the keys alone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, delete

from dingsync.export.reports import FIXED_HEADERS, TAIL_HEADERS, export_reports
from dingsync.sandbox import SandboxServer
from dingsync.sandbox.reports import ReportsArea
from dingsync.store import repo_reports
from dingsync.store.schema_reports import report_template_fields
from helpers.reports import sync, window_dates
from helpers.sandboxes import SandboxSpec

#: A company of this module's own: the test edits its reports.
SANDBOX = SandboxSpec(seed=1717, users=14, days=8)
EXTRA = "附加说明"


def _edit(sb: SandboxServer) -> None:
    """Edit a few reports in the sandbox, as people do in DingTalk (once per sandbox)."""
    area: ReportsArea = sb.state.areas["reports"]
    world = area.world
    daily = [r for r in world.reports if r.template == "日报"]
    weekly = [r for r in world.reports if r.template == "周报"]
    assert len(daily) >= 3 and weekly
    if any(c.get("key") == EXTRA for r in daily for c in r.contents):
        return
    daily[0].contents.insert(0, {"key": EXTRA, "sort": "9", "type": "1", "value": "补充"})
    daily[1].contents.pop(0)  # a field left out
    daily[2].contents.reverse()  # fields sent in another order
    weekly[0].contents.append({"key": EXTRA, "sort": "9", "type": "1", "value": "周补充"})


def _cells(path: Path) -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(path, read_only=True).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


def test_columns_from_the_kept_keys_equal_the_scanned_ones(
    sandbox: SandboxServer, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sync(sandbox, engine, details="none").status == "succeeded"
    _edit(sandbox)
    assert sync(sandbox, engine, contacts=False, details="none").status == "succeeded"
    corp = sandbox.app.corp_id
    first, last = window_dates(sandbox)
    with engine.begin() as conn:
        # A template whose fields were never stored: its columns are the content keys alone.
        conn.execute(
            delete(report_template_fields).where(
                report_template_fields.c.corp_id == corp,
                report_template_fields.c.template_name == "周报",
            )
        )
    with engine.connect() as conn:
        templates = repo_reports.template_names(conn, corp)
        assert {"日报", "周报"} <= set(templates)
        for template in templates:
            kept = repo_reports.content_keys(conn, corp, template)
            assert kept == repo_reports.scan_content_keys(conn, corp, template), template
            assert kept, template
        assert EXTRA in repo_reports.content_keys(conn, corp, "日报")
        weekly_keys = repo_reports.content_keys(conn, corp, "周报")
        assert weekly_keys[-1] == EXTRA

    def export_all(tag: str) -> None:
        with engine.connect() as conn:
            for i, template in enumerate(templates):
                for fmt in ("csv", "xlsx"):
                    path = tmp_path / f"{tag}{i}.{fmt}"
                    export_reports(conn, corp, template, first, last, path, fmt)  # type: ignore[arg-type]

    export_all("kept")
    with monkeypatch.context() as m:
        m.setattr(repo_reports, "content_keys", repo_reports.scan_content_keys)
        export_all("scanned")
    for i, template in enumerate(templates):
        kept_csv = (tmp_path / f"kept{i}.csv").read_bytes()
        assert kept_csv == (tmp_path / f"scanned{i}.csv").read_bytes(), template
        kept_xlsx = _cells(tmp_path / f"kept{i}.xlsx")
        assert kept_xlsx == _cells(tmp_path / f"scanned{i}.xlsx"), template
        assert len(kept_xlsx) > 1, template
    # 日报: the template's fields, then the added key; 周报: the keys alone, EXTRA last.
    daily = list(_cells(tmp_path / f"kept{templates.index('日报')}.xlsx")[0])
    assert daily[-len(TAIL_HEADERS) - 1] == EXTRA
    weekly = list(_cells(tmp_path / f"kept{templates.index('周报')}.xlsx")[0])
    assert weekly[len(FIXED_HEADERS) : -len(TAIL_HEADERS)] == weekly_keys
