"""The report export's fast path (rows read from the driver's cursor, text kept in the store's
NUL escape until written, times through :class:`dingsync.export.WallClock`) writes what the
straightforward way does: the same wall times as :func:`dingsync.export.local` in a zone with
daylight saving time, for each kind of value a driver returns; the same xlsx cells through
``RowWriter.write_typed`` as through ``RowWriter.write``; and a NUL, the escape character
itself and a table/cut field come out of a real export, csv and xlsx, on SQLite and
PostgreSQL and MariaDB as they went in."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from sqlalchemy import Engine
from xlsxwriter.utility import _datetime_to_excel_datetime

from dingsync.export import WallClock, local, xlsx
from dingsync.export.reports import (
    TABLE_CELL,
    TRUNCATED_MARK,
    as_number,
    export_reports,
)
from dingsync.store import repo, repo_reports
from dingsync.store.nul import ESCAPE, escape_nul, unescape_nul
from dingsync.store.schema_reports import CONTENT_TABLE, CONTENT_TRUNCATED
from dingsync.timeutil import SHANGHAI

NEW_YORK = ZoneInfo("America/New_York")
CORP = "ding_corp_rows"


def _instants() -> list[datetime]:
    """Every 17 minutes around New York's two switches of 2026 (and a few plain times)."""
    out = []
    for start in (datetime(2026, 3, 8, 4, tzinfo=UTC), datetime(2026, 11, 1, 3, tzinfo=UTC)):
        out += [start + timedelta(minutes=17 * i, microseconds=i) for i in range(40)]
    return [*out, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)]


def test_wall_clock_matches_local_for_each_driver_value() -> None:
    # Whole-hour offsets (SQLite's text then takes the per-hour way), a half-hour one, and
    # Lord Howe's half-hour daylight-saving switch (both the general way); instants with and
    # without a fraction of a second (SQLite's text is then 19 characters).
    moments = _instants()
    moments += [m.replace(microsecond=0) for m in moments]
    for tz in (SHANGHAI, NEW_YORK, ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Lord_Howe")):
        clock = WallClock(tz)
        for moment in moments:
            naive = moment.replace(tzinfo=None)
            driver_values = (
                naive.isoformat(" ", "auto"),  # SQLite's text (no fraction when 0)
                naive,  # MySQL/MariaDB
                moment.astimezone(ZoneInfo("Asia/Tokyo")),  # PostgreSQL, any session zone
            )
            wall = local(moment, tz)
            assert wall is not None
            for value in driver_values:
                assert clock.local(value) == wall, (tz, value)
                assert clock.text(value) == wall.strftime("%Y-%m-%d %H:%M:%S")
                assert clock.excel(value) == _datetime_to_excel_datetime(wall, False, True)
    assert WallClock(SHANGHAI).excel(None) is None and WallClock(SHANGHAI).text(None) is None


TYPED_ROWS: list[list[str | None]] = [
    ["plain", "中文 ✅", "42", "-3.25", "x<y & z>w"],
    ["a\x00b", " pad ", "\x000", "0012", "_x0041_ literal"],
    [None, "", "1e5", None, f"{ESCAPE}0 and {ESCAPE}{ESCAPE}"],
    ["bell\x07", "trailing ", "12.1234567", "x" * 40_000, "line\nbreak"],
]


def _write_sheet(path: Path, typed: bool) -> None:
    wb = xlsx.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("s")
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    numbers = range(2, 4)
    out = xlsx.RowWriter(
        ws,
        when=when,
        day=day,
        number_columns=numbers,
        as_number=as_number,
        decode=unescape_nul,
    )
    kinds = [
        xlsx.TEXT,
        xlsx.SERIAL_WHEN,
        xlsx.NUMERIC_TEXT,
        xlsx.NUMERIC_TEXT,
        xlsx.TEXT,
        xlsx.TEXT,
    ]
    clock = WallClock(NEW_YORK)
    for r, (moment, row) in enumerate(zip(_instants(), TYPED_ROWS, strict=False)):
        text = moment.replace(tzinfo=None).isoformat(" ")
        if typed:  # what the export hands over: escaped text, precomputed serials
            values: list[Any] = [escape_nul(v) if v else v for v in row]
            out.write_typed(r, [values[0], clock.excel(text), *values[1:]], kinds)
        else:
            out.write(r, [row[0], local(moment, NEW_YORK), *row[1:]])
    wb.close()


def _cells(path: Path) -> list[list[tuple[Any, str]]]:
    ws = openpyxl.load_workbook(path).active
    return [[(cell.value, cell.number_format) for cell in row] for row in ws.iter_rows()]


def test_write_typed_matches_write(tmp_path: Path) -> None:
    _write_sheet(tmp_path / "typed.xlsx", typed=True)
    _write_sheet(tmp_path / "plain.xlsx", typed=False)
    typed, plain = _cells(tmp_path / "typed.xlsx"), _cells(tmp_path / "plain.xlsx")
    assert typed == plain
    assert typed[0][3] == (42, "General") and typed[1][1][1] == "yyyy-mm-dd hh:mm:ss"
    assert typed[1][0][0] == f"a{xlsx.XLSX_NUL}b" and typed[1][3][0] == f"{xlsx.XLSX_NUL}0"
    assert typed[2][5][0] == f"{ESCAPE}0 and {ESCAPE}{ESCAPE}"  # the text itself, not unescaped


CONTENTS = [
    ("文本", "a\x00b 中文", None),
    ("数字", "12.5", None),
    ("转义", f"{ESCAPE} kept, \x00", None),
    ("表格", "[表格]", CONTENT_TABLE),
    ("长文", "前1000字", CONTENT_TRUNCATED),
]
MOMENT = datetime(2026, 11, 30, 15, 30, 5, tzinfo=UTC)


def _fill(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "行公司"})
        repo_reports.upsert_templates(conn, CORP, [{"name": "日报", "fields_synced": True}])
        repo_reports.replace_template_fields(
            conn,
            CORP,
            "日报",
            [{"sort": i, "field_name": k, "type": 1} for i, (k, _, _) in enumerate(CONTENTS)],
        )
        reps = [
            {
                "report_id": f"r{i}",
                "template_name": "日报",
                "creator_id": "u\x001",
                "creator_name": f"名\x00{i}",
                "dept_name": "部门",
                "create_time": MOMENT + timedelta(minutes=i),
                "modified_time": MOMENT + timedelta(minutes=i, seconds=1),
                "remark": f"备注{ESCAPE}0",
                "receivers_synced": True,
            }
            for i in range(3)
        ]
        contents = {
            f"r{i}": [
                {"key": k, "sort": str(n), "type": "1", "value": v, "state": state}
                for n, (k, v, state) in enumerate(CONTENTS)
            ]
            for i in range(3)
        }
        repo_reports.update_template_keys(conn, CORP, reps, contents)
        repo_reports.upsert_reports(conn, CORP, reps, contents)
        repo_reports.replace_receivers(conn, CORP, {f"r{i}": ["b\x00", "a"] for i in range(3)})


def _expected(i: int, xlsx_file: bool) -> list[Any]:
    nul = xlsx.XLSX_NUL if xlsx_file else "\x00"
    created = local(MOMENT + timedelta(minutes=i), SHANGHAI)
    modified = local(MOMENT + timedelta(minutes=i, seconds=1), SHANGHAI)
    assert created is not None and modified is not None
    return [
        f"r{i}",
        "日报",
        f"名{nul}{i}",
        f"u{nul}1",
        "部门",
        created if xlsx_file else created.strftime("%Y-%m-%d %H:%M:%S"),
        modified if xlsx_file else modified.strftime("%Y-%m-%d %H:%M:%S"),
        f"a{nul}b 中文",
        12.5 if xlsx_file else "12.5",
        f"{ESCAPE} kept, {nul}",
        TABLE_CELL,
        "前1000字" + TRUNCATED_MARK,
        f"a、b{nul}",
        f"备注{ESCAPE}0",
    ]


def test_export_keeps_nul_escape_and_states(any_engine: Engine, tmp_path: Path) -> None:
    engine = any_engine
    _fill(engine)
    day = date(2026, 11, 30)
    with engine.connect() as conn:
        assert export_reports(conn, CORP, "日报", day, day, tmp_path / "r.csv", "csv") == 3
        assert export_reports(conn, CORP, "日报", day, day, tmp_path / "r.xlsx", "xlsx") == 3
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as fh:
        got_csv = list(csv.reader(fh))
    assert got_csv[1:] == [_expected(i, False) for i in range(3)]
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    got_xlsx = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert got_xlsx == [_expected(i, True) for i in range(3)]


#: Content key lists of the plan test: the template's fields in order (the values spliced in),
#: a prefix of them, reordered, a key the template lacks first, a key twice (the first
#: non-empty value wins), keys that are no column, none at all.
PLAN_KEYS: list[list[str | None]] = [
    ["甲", "乙", "丙"],
    ["甲", "乙"],
    ["丙", "甲", "乙"],
    ["外", "甲", "乙", "丙"],
    ["甲", "甲", "乙", "乙"],
    [None, "外"],
    [],
]


def test_values_go_where_the_contents_rule_puts_them(any_engine: Engine, tmp_path: Path) -> None:
    """Each key list's values land where the rule (contents in order, a key's cell taken by its
    first value that shows — states applied) puts them, whether the export splices them in or
    places them one by one; the oracle is the rule over ``report_contents`` itself."""
    from dingsync.export.reports import content_cell, template_columns

    engine = any_engine
    values = [None, "", "v\x00", "12", "[表格]"]
    states = [None, None, None, None, CONTENT_TABLE]
    rows, contents = [], {}
    n = 0
    for keys in PLAN_KEYS:
        for shift in range(3):
            rid = f"p{n:03d}"
            rows.append({"report_id": rid, "template_name": "plan", "create_time": _instants()[n]})
            contents[rid] = [
                {
                    "key": key,
                    "value": values[(j + shift) % 5],
                    "state": states[(j + shift) % 5],
                }
                for j, key in enumerate(keys)
            ]
            n += 1
    with engine.begin() as conn:
        repo_reports.update_template_keys(conn, CORP, rows, contents)
        repo_reports.upsert_reports(conn, CORP, rows, contents)
        repo_reports.upsert_templates(conn, CORP, [{"name": "plan", "fields_synced": True}])
        repo_reports.replace_template_fields(
            conn, CORP, "plan", [{"sort": i, "field_name": f} for i, f in enumerate("甲乙丙")]
        )
    first, last = _instants()[0].date() - timedelta(1), _instants()[n].date() + timedelta(1)
    with engine.connect() as conn:
        columns = template_columns(conn, CORP, "plan")
        assert columns[:3] == ["甲", "乙", "丙"] and "外" in columns
        assert export_reports(conn, CORP, "plan", first, last, tmp_path / "p.csv", "csv") == n
        stored = repo_reports.contents_of(conn, CORP, [r["report_id"] for r in rows])
    with open(tmp_path / "p.csv", encoding="utf-8-sig", newline="") as fh:
        got = {row[0]: row[7 : 7 + len(columns)] for row in list(csv.reader(fh))[1:]}
    for rid, items in stored.items():
        cells: list[str | None] = [None] * len(columns)
        for item in items:
            if item["key"] in columns and cells[columns.index(item["key"])] is None:
                cells[columns.index(item["key"])] = content_cell(item)
        assert got[rid] == [c or "" for c in cells], (rid, items)
