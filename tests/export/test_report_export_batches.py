"""The report export's batch paths write what the row-by-row ways do: csv batches joined as
they are (when no cell needs quoting) are the ``csv`` module's bytes, line by line too;
``RowWriter.write_typed_rows`` writes the sheet XML ``write_typed`` does row by row (also
after a row written the normal way and around a row with options); and reports with equal
``create_time``s come out in report id order across the stream's batches, on SQLite (where
the ties are sorted in Python), PostgreSQL and MariaDB."""

from __future__ import annotations

import csv
import random
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from dingsync.export import reports as R
from dingsync.export import xlsx
from dingsync.store import repo, repo_reports
from dingsync.store.nul import ESCAPE, unescape_nul

#: Cell pieces: plain text, the characters csv quotes for, blanks, the NUL escape.
PIECES = [
    "a",
    "中文",
    "✅",
    ",",
    '"',
    "\r",
    "\n",
    "\r\n",
    " ",
    "\t",
    ESCAPE + "0",
    "_x0041_",
    "&<>",
]


def _row(rng: random.Random, dirty: bool) -> list[str]:
    """12 cells of plain pieces; a dirty row has one cell with one piece of :data:`PIECES`
    (most of which csv quotes for; dense dirt would always show as a wrong comma count)."""
    row = ["".join(rng.choice(PIECES[:3]) for _ in range(rng.randint(0, 4))) for _ in range(12)]
    if dirty:
        c = rng.randrange(12)
        row[c] = row[c] + rng.choice(PIECES[3:]) + row[(c + 1) % 12]
    return row


def _batches(seed: int) -> list[list[list[str]]]:
    """Batches of 12-cell rows: all clean (joined), mixed (line by line: most rows clean),
    all dirty (line by line, then the next batch to csv whole), clean again; one empty."""
    rng = random.Random(seed)
    out: list[list[list[str]]] = []
    for kind in ("clean", "mixed", "clean", "mixed", "dirty", "clean", "clean", "mixed", "empty"):
        rows = []
        for _ in range(0 if kind == "empty" else rng.randint(1, 40)):
            dirty = kind == "dirty" or (kind == "mixed" and rng.random() < 0.2)
            rows.append(_row(rng, dirty))
        out.append(rows)
    return out


@pytest.mark.parametrize("seed", range(20))
def test_csv_batches_are_the_csv_modules_bytes(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(R, "CSV_SKIP", 1)
    headers = [f"h{i}" for i in range(12)]
    batches = _batches(seed)
    got = tmp_path / "got.csv"
    assert R._write_rows_csv(got, headers, iter(batches)) == sum(map(len, batches))
    want = tmp_path / "want.csv"
    with open(want, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        for batch in batches:
            writer.writerows([[unescape_nul(v) for v in row] for row in batch])
    assert got.read_bytes() == want.read_bytes()


def _sheet_xml(path: Path, batched: bool) -> bytes:
    rng = random.Random(7)
    wb = xlsx.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("s")
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, ["头", "时间", "数"])
    ws.set_row(9, 30)  # a row with options: that batch goes row by row
    out = xlsx.RowWriter(ws, when=when, day=day, as_number=R.as_number, decode=unescape_nul)
    kinds = [xlsx.TEXT, xlsx.SERIAL_WHEN, xlsx.NUMERIC_TEXT, xlsx.TEXT, xlsx.NUMERIC_TEXT]
    rows: list[list[Any]] = []
    for i in range(30):
        width = rng.randint(0, 5)  # rows of different widths, some empty
        row: list[Any] = [
            "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4))),
            46000.5 + i / 7 if rng.random() < 0.8 else None,
            rng.choice(["12", "-3.5", "x", "", "0012", " 7"]),
            "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4))),
            rng.choice(["1e5", "42", "中"]),
        ]
        rows.append(row[:width])
    first = 1
    for size in (4, 7, 1, 18):  # batches 1-4, 5-11 (holds row 9), 12, 13-30
        chunk = rows[first - 1 : first - 1 + size]
        if batched:
            out.write_typed_rows(first, chunk, kinds)
        else:
            for n, values in enumerate(chunk, start=first):
                out.write_typed(n, values, kinds)
        first += size
    ws.write_row(first, 0, ["尾", 1])  # the normal way after the writer's rows
    wb.close()
    with zipfile.ZipFile(path) as z:
        return z.read("xl/worksheets/sheet1.xml")


def test_typed_rows_are_written_as_row_by_row(tmp_path: Path) -> None:
    batched = _sheet_xml(tmp_path / "b.xlsx", batched=True)
    assert batched == _sheet_xml(tmp_path / "r.xlsx", batched=False)
    # The batch holding row 10 (set_row) went row by row, with XlsxWriter's bookkeeping: its
    # options come as the empty row element XlsxWriter writes for them (RowWriter is meant for
    # rows without options; the exports set none).
    assert b'<row r="10" ht="30" customHeight="1"/>' in batched
    assert b'<dimension ref="A1:E32"/>' in batched


CORP = "ding_corp_ties"
MOMENT = datetime(2026, 5, 6, 1, 2, 3, tzinfo=UTC)


def test_equal_create_times_come_in_report_id_order(
    any_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """53 reports, in runs of equal ``create_time`` (runs longer than a batch, runs across a
    batch's end), written in shuffled id order, their creators in the ids' reverse order;
    batches of 5 rows."""
    monkeypatch.setattr(R, "STREAM_BATCH", 5)
    rng = random.Random(3)
    ids = [f"r{n:03d}" for n in range(53)]
    rng.shuffle(ids)
    runs = [1, 12, 1, 2, 3, 1, 1, 7, 5, 20]  # 53 in all
    times: list[datetime] = []
    for k, length in enumerate(runs):
        times += [MOMENT + timedelta(minutes=k, microseconds=k % 2)] * length
    with any_engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "同时公司"})
        reps = [
            {
                "report_id": rid,
                "template_name": "日报",
                # SQLite's index holds ties in creator order: here the reverse of the ids'
                "creator_id": f"u{99 - int(rid[1:]):03d}",
                "create_time": t,
                "receivers_synced": True,
            }
            for rid, t in zip(ids, times, strict=True)
        ]
        repo_reports.upsert_reports(conn, CORP, reps, {})
    day = date(2026, 5, 6)
    with any_engine.connect() as conn:
        assert R.export_reports(conn, CORP, "日报", day, day, tmp_path / "t.csv", "csv") == 53
    with open(tmp_path / "t.csv", encoding="utf-8-sig", newline="") as fh:
        got = [row[0] for row in list(csv.reader(fh))[1:]]
    want = [rid for _, rid in sorted(zip(times, ids, strict=True))]
    assert got == want


def test_ties_by_id_orders_runs_of_any_length_across_batch_sizes() -> None:
    """300 random streams (runs of equal times of any length, batches of 1–7 rows, none at all)
    come out in ``(time, id)`` order with every row once."""
    rng = random.Random(5)
    for trial in range(300):
        rows: list[tuple[str, int]] = []
        t = 0
        for _ in range(rng.randint(0, 60)):
            t += rng.random() < 0.5
            rows.append((f"id{rng.randint(0, 999):03d}", t))
        rows.sort(key=lambda row: row[1])  # time order, ties as they come
        size = rng.randint(1, 7)
        batches = [rows[i : i + size] for i in range(0, len(rows), size)]
        out = [row for batch in R._ties_by_id(iter(batches), 1, 0) for row in batch]
        assert out == sorted(rows, key=lambda row: (row[1], row[0])), trial
