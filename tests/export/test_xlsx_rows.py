"""``xlsx.RowWriter`` writes the cells XlsxWriter's own ``write_*`` calls would: the same values,
types and formats read back by openpyxl, for the awkward text too (NUL, control characters,
``_xHHHH_``, XML specials, edge spaces, very long text)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl

from dingsync.export import xlsx
from dingsync.export.reports import as_number

ROWS: list[list[Any]] = [
    ["plain", 12, 3.5, datetime(2026, 3, 1, 8, 30, 5), date(2026, 3, 2), "42", "-3.25"],
    ["a\x00b", "tab\there", "line\nbreak", "bell\x07", "_x0041_ literal", "x<y & z>w", " pad "],
    [None, "", True, "中文 ✅", "0012", "1e5", "x" * 40_000],
    ["\ufffe\uffff", -7, 0.1 + 0.2, "  ", "trailing ", " leading", "12.1234567"],
]


def _write(path: Path, fast: bool) -> None:
    wb = xlsx.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("s")
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, ["h1", "h2", "h3", "h4", "h5", "h6", "h7"])
    numbers = range(5, 7)
    out = xlsx.RowWriter(ws, when=when, day=day, number_columns=numbers, as_number=as_number)
    for r, row in enumerate(ROWS, start=1):
        if fast:
            out.write(r, row)
            continue
        for c, value in enumerate(row):  # the cell-by-cell way the exports used to write
            if value is None or value == "":
                continue
            if isinstance(value, datetime):
                ws.write_datetime(r, c, value, when)
            elif isinstance(value, date):
                ws.write_datetime(r, c, value, day)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                ws.write_number(r, c, value)
            elif c in numbers and (num := as_number(str(value))) is not None:
                ws.write_number(r, c, num)
            else:
                ws.write_string(r, c, str(value))
    wb.close()


def _read(path: Path) -> list[list[tuple[Any, str]]]:
    ws = openpyxl.load_workbook(path).active
    return [[(cell.value, cell.number_format) for cell in row] for row in ws.iter_rows()]


def test_row_writer_matches_xlsxwriter_cells(tmp_path: Path) -> None:
    _write(tmp_path / "fast.xlsx", fast=True)
    _write(tmp_path / "slow.xlsx", fast=False)
    fast, slow = _read(tmp_path / "fast.xlsx"), _read(tmp_path / "slow.xlsx")
    assert fast == slow
    cells = {(r, c): v for r, row in enumerate(fast) for c, (v, _) in enumerate(row)}
    assert cells[(1, 1)] == 12 and cells[(1, 5)] == 42 and cells[(1, 6)] == -3.25
    assert cells[(1, 3)] == datetime(2026, 3, 1, 8, 30, 5)
    assert fast[1][4][1] == "yyyy-mm-dd"
    # Escaped as XlsxWriter does (Excel shows "_x0041_ literal"; openpyxl reads the escape).
    assert cells[(2, 0)] == f"a{xlsx.XLSX_NUL}b" and cells[(2, 4)] == "_x005F_x0041_ literal"
    assert cells[(2, 5)] == "x<y & z>w" and cells[(2, 6)] == " pad "
    assert cells[(3, 2)] == "True" and cells[(3, 4)] == "0012" and cells[(3, 5)] == "1e5"
    assert len(cells[(3, 6)]) == 32767 and cells[(4, 6)] == "12.1234567"


def test_workbooks_deflate_fast_and_others_keep_the_default(tmp_path: Path) -> None:
    """``xlsx.Workbook`` deflates at ``ZIP_LEVEL`` (1); a plain XlsxWriter workbook written
    after it keeps zlib's default; both read back the same cells."""
    import zipfile

    import xlsxwriter

    rows = [[f"第{i}行", f"value {i % 97}", str(i * 7 % 1000)] for i in range(20_000)]
    sizes = {}
    for name, cls in (("ours", xlsx.Workbook), ("plain", xlsxwriter.Workbook)):
        path = tmp_path / f"{name}.xlsx"
        wb = cls(str(path), {"constant_memory": True})
        ws = wb.add_worksheet("s")
        for r, row in enumerate(rows):
            ws.write_row(r, 0, row)
        wb.close()
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("xl/worksheets/sheet1.xml")
            assert info.compress_type == zipfile.ZIP_DEFLATED
            sizes[name] = info.compress_size
        sheet = openpyxl.load_workbook(path, read_only=True).active
        assert sheet is not None
        assert [list(r) for r in sheet.iter_rows(values_only=True)] == rows
    assert xlsx.ZIP_LEVEL == 1
    assert sizes["ours"] > sizes["plain"] * 1.05  # level 1 deflates less than level 6
