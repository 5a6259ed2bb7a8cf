"""The 每日统计 sheet's 日期 is a real date (issue #12, rough edges): a date cell with a date
format in xlsx, ISO ``YYYY-MM-DD`` in csv."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import openpyxl

from dingsync.export.attendance import (
    DAILY_HEADERS,
    METRICS,
    DailyRow,
    MonthlySummary,
    PersonSummary,
    write_csv,
    write_xlsx,
)

FIRST = date(2026, 11, 1)


def _summary() -> MonthlySummary:
    days = [FIRST + timedelta(days=n) for n in range(3)]
    return MonthlySummary(
        month="2026-11",
        start=FIRST,
        end=date(2026, 11, 30),
        rows=[
            PersonSummary("u-1", "张三", "001", "研发部", "默认考勤组", dict.fromkeys(METRICS, 0.0))
        ],
        daily=[DailyRow("u-1", "张三", d, "09:01", "正常", "18:02", "正常") for d in days],
    )


def test_daily_sheet_dates_are_date_cells_and_csv_dates_iso(tmp_path: Path) -> None:
    summary = _summary()
    book = openpyxl.load_workbook(write_xlsx(summary, tmp_path / "a.xlsx"))
    sheet = book["每日统计"]
    column = DAILY_HEADERS.index("日期") + 1
    assert sheet.cell(2, column).value == "日期"
    cells = [sheet.cell(row, column) for row in range(3, 3 + len(summary.daily))]
    assert all(c.is_date and c.number_format == "yyyy-mm-dd" for c in cells), cells
    assert [c.value.date() for c in cells] == [d.work_date for d in summary.daily]
    assert sheet.cell(3, column + 1).value == "星期日"  # the columns after it are unchanged
    path = write_csv(summary, tmp_path / "a.csv", daily=True)
    with path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert [r[column - 1] for r in rows[1:]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
