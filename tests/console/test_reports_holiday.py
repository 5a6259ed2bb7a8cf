"""日志统计 over a public holiday, on SQLite and PostgreSQL: one definition of compliance.

A sandbox company like ``make demo``'s (a week of history whose Wednesday is a public holiday:
``attendance_holidays`` rows, every schedule resting) synced (every area) over real loopback
HTTP. For 日报 — a template with a DingTalk 统计规则 — the console page's totals, its 导出
workbook (``POST /console/export/compliance``), ``GET /api/reports/stats`` and ``dingsync
reports compliance`` give the same people, days and numbers (one computation,
``dingsync.export.report_rules.compliance_by_rule``), and the holiday is not a required day
(docs/reports.md, open point R-7)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from typer.testing import CliRunner

from dingsync.cli import app as cli_app
from dingsync.export.reports import STATUS_LABELS
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store.schema_attendance import attendance_holidays, attendance_schedules

from .conftest import Console, console_over, synced_company

#: A week of history, like ``make demo``: its Wednesday is the sandbox's public holiday.
HOLIDAY_SANDBOX = SandboxConfig(seed=42, users=40, days=7, qps_limit=None)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def holiday_sandbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SandboxServer, Engine]]:
    """The week's company synced (every area) into SQLite or a fresh PostgreSQL schema."""
    with synced_company(
        HOLIDAY_SANDBOX,
        postgres=request.param == "postgres",
        sqlite_path=tmp_path_factory.mktemp("holiday") / "h.db",
    ) as company:
        yield company


@pytest.fixture(scope="module")
def console(holiday_sandbox: tuple[SandboxServer, Engine]) -> Iterator[Console]:
    with console_over(*holiday_sandbox) as console:
        yield console


def _holiday(console: Console) -> date:
    """The synced public holiday: a weekday with ``attendance_holidays`` rows on which every
    synced schedule rests."""
    s, h = attendance_schedules, attendance_holidays
    with console.engine.connect() as conn:
        named = set(conn.execute(sa.select(h.c.work_date).distinct()).scalars())
        rows = conn.execute(
            sa.select(s.c.work_date, sa.func.min(sa.case((s.c.is_rest, 1), else_=0)))
            .where(s.c.corp_id == console.corp_id)
            .group_by(s.c.work_date)
        ).all()
    rest = sorted(d for d, all_rest in rows if all_rest == 1 and d.weekday() < 5 and d in named)
    assert len(rest) == 1, (rest, named)
    return rest[0]


def _book(path: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    with open(path, "rb") as fh:  # a download's path has no .xlsx suffix
        wb = openpyxl.load_workbook(fh, read_only=True)
        return {
            ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets
        }


def _rows(book: dict[str, list[tuple[Any, ...]]]) -> list[tuple[str, str, str]]:
    return sorted((str(r[2]), r[3].date().isoformat(), str(r[4])) for r in book["明细"][1:])


def test_page_console_export_api_and_cli_agree_over_a_holiday(
    console: Console, tmp_path: Path
) -> None:
    admin = console.main_admin
    holiday = _holiday(console)
    span = {
        "start_date": str(holiday - timedelta(days=2)),
        "end_date": str(min(holiday + timedelta(days=4), date.today() - timedelta(days=1))),
    }
    # the API
    api = console.api(admin, "/api/reports/stats", template="日报", **span, limit=500)
    assert api["total"] == len(api["people"]) > 0
    assert api["rule"]["source"] == "dingtalk"
    days = {d["day"] for d in api["days"]}
    assert holiday.isoformat() not in days  # nobody is due on the holiday …
    assert str(holiday - timedelta(days=1)) in days  # … but on the working day before it
    want = sorted((d["userid"], d["day"], STATUS_LABELS[d["status"]]) for d in api["days"])
    t = api["totals"]
    assert t["expected"] == len(want) == t["submitted"] + t["late"] + t["missing"]
    people = {
        p["userid"]: (p["expected"], p["submitted"], p["late"], p["missing"]) for p in api["people"]
    }

    # the page: the same totals and number of people
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/reports/stats?template=日报&" + str(httpx.QueryParams(span)))
    for key in ("expected", "submitted", "late", "missing"):
        assert page.inner_text(f"[data-testid=t-{key}]") == str(t[key]), key
    assert f"{api['total']} 人" in page.inner_text("[data-testid=totals]")

    # the page's 导出: the same rows, people, counts and rule
    with page.expect_download() as download:
        page.click("[data-testid=export]")
    book = _book(str(download.value.path()))
    page.context.close()
    assert _rows(book) == want
    assert {str(r[2]): tuple(r[3:7]) for r in book["个人汇总"][1:]} == people
    assert [r[1] for r in book["统计规则"][1:]] == [api["rule"]["text"]]

    # the CLI's workbook: the same rows and counts
    out = tmp_path / "cli.xlsx"
    args = ["reports", "compliance", "--template", "日报", "--from", span["start_date"]]
    args += ["--to", span["end_date"], "--format", "xlsx", "-o", str(out)]
    args += ["--database-url", str(console.engine.url), "--corp-id", console.corp_id]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    cli = _book(out)
    assert _rows(cli) == want
    assert {str(r[2]): tuple(r[3:7]) for r in cli["个人汇总"][1:]} == people


def test_a_range_before_the_synced_history_is_warned_about(console: Console) -> None:
    """日志统计 over days never synced (before the template's first synced report) warns,
    naming that first day; a synced range has no warning. The API gives the day too."""
    admin = console.main_admin
    holiday = _holiday(console)
    first = console.api(admin, "/api/reports/stats", template="日报")["first_synced_day"]
    assert first is not None
    early = date.fromisoformat(first) - timedelta(days=60)  # like 2026-10-01 in the demo
    span = {"start_date": str(early), "end_date": str(early + timedelta(days=6))}
    api = console.api(admin, "/api/reports/stats", template="日报", **span)
    assert api["first_synced_day"] == first and api["totals"]["missing"] > 0
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/reports/stats?template=日报&" + str(httpx.QueryParams(span)))
    warning = page.locator("[data-testid=unsynced-warning]")
    assert warning.count() == 1 and first in warning.inner_text()
    synced = {"start_date": first, "end_date": str(holiday)}
    page.goto(
        f"{console.url}/console/reports/stats?template=日报&" + str(httpx.QueryParams(synced))
    )
    assert page.locator("[data-testid=t-expected]").count() == 1
    assert page.locator("[data-testid=unsynced-warning]").count() == 0
    page.context.close()
