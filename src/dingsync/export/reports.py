"""Report (日志) exports and submission compliance, from the synced tables.

**Export** (:func:`export_reports`): one row per report of one template created in a date range
(calendar dates in the company's zone — ``tz``, ``Settings.tz``, Asia/Shanghai by
default — both inclusive), optionally only by members of some departments
and their sub-departments, by one creator, and only what a viewer may see (the web service's
visibility scope, applied in SQL with the same conditions as its list API); one column per
template field in the template's order (fields from
``template/getbyname``; without them, the content keys seen, by position; keys not in the
template are appended), plus creator, department, created/modified time and receivers; a table
(表格) field and a text DingTalk cut at 1,000 characters are flagged, not passed off as content
(:func:`content_cell`).
xlsx is written streaming (XlsxWriter ``constant_memory``) with Chinese headers; values that are
plain decimal numbers are written as numbers, times as date-time cells (wall time in ``tz``).
CSV is UTF-8 with a BOM (so Excel detects the encoding), times as ``yyyy-mm-dd hh:mm:ss`` (in
``tz``).

**Compliance** (:func:`compliance`): per person per working day (weekly templates — names
ending in ``周报`` — per week, dated on the week's last working day): ``submitted``, ``late`` or
``missing``, and per department the submission rate. Rule (docs/reports.md): a report counts
for the company-zone date of ``create_time − 12 h`` (weekly: that date's week) and is late when
created after the end of that day (weekly: of the week's last working day). Who is expected:
everyone who has submitted this template at least once (any time in the store), from their hire
date (and until they left). Working days come from :func:`working_days`: the person's synced
attendance schedule, Monday–Friday where none is synced.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import orjson
from sqlalchemy import (
    Connection,
    CursorResult,
    Integer,
    LargeBinary,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.sql.sqltypes import NULLTYPE

from dingsync.export import WallClock, xlsx
from dingsync.store import repo_attendance, repo_contacts, repo_reports, visibility
from dingsync.store.nul import ESCAPE, escape_nul, unescape_nul
from dingsync.store.schema import UTCDateTime, departments, user_departments, users
from dingsync.store.schema_reports import (
    CONTENT_TABLE,
    CONTENT_TRUNCATED,
    reports,
)
from dingsync.timeutil import SHANGHAI, day_start_ms, from_ms
from dingsync.timeutil import today as local_today

#: A report day starts at noon (wall time): a report counts for the date of ``create_time − 12 h``.
PERIOD_START = time(12)
Format = Literal["xlsx", "csv"]
Status = Literal["submitted", "late", "missing"]

STATUS_LABELS: dict[str, str] = {"submitted": "已提交", "late": "迟交", "missing": "未提交"}
FIXED_HEADERS = ("日志ID", "模板", "提交人", "提交人UserID", "部门", "提交时间", "修改时间")
TAIL_HEADERS = ("接收人", "日志备注")
#: How an export shows a table (表格) field: DingTalk's APIs give only a placeholder.
TABLE_CELL = "[表格]（钉钉接口不提供表格内容，请在钉钉中查看）"
#: Appended to a text DingTalk cut at 1,000 characters when no API gave the rest.
TRUNCATED_MARK = "…［已截断：钉钉接口只返回前 1000 字］"
_NUMBER = re.compile(r"^-?(0|[1-9]\d{0,14})(\.\d{1,6})?$")
BATCH = 1000
#: Periods per query of :func:`first_reports` (SQLite allows 500 terms in a compound SELECT).
WINDOWS_PER_QUERY = 200


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def day_start(day: date, tz: tzinfo = SHANGHAI) -> datetime:
    """Midnight of ``day`` in the company's zone ``tz`` as an aware UTC datetime."""
    return from_ms(day_start_ms(day, tz))


def as_number(value: str | None) -> int | float | None:
    """``value`` as a number when it is a plain decimal (``"12"``, ``"-3.5"``), else ``None``."""
    if value is None or not _NUMBER.match(value.strip()):
        return None
    text = value.strip()
    return float(text) if "." in text else int(text)


def dept_scope(conn: Connection, corp_id: str, dept_id: int) -> set[str]:
    """Userids in ``dept_id`` or any department below it (synced membership)."""
    wanted = repo_contacts.department_subtree(conn, corp_id, [dept_id])
    ud = user_departments
    return {
        str(u)
        for (u,) in conn.execute(
            select(ud.c.userid).where(ud.c.corp_id == corp_id, ud.c.dept_id.in_(sorted(wanted)))
        )
    }


def user_names(conn: Connection, corp_id: str) -> dict[str, str]:
    """``userid → name`` of every synced user."""
    return {
        str(u): str(n or u)
        for u, n in conn.execute(
            select(users.c.userid, users.c.name).where(users.c.corp_id == corp_id)
        )
    }


def template_columns(conn: Connection, corp_id: str, template: str) -> list[str]:
    """The template's field names in order, then content keys not in the template."""
    fields = repo_reports.template_fields(conn, corp_id, template)
    seen = set(fields)
    return fields + [k for k in repo_reports.content_keys(conn, corp_id, template) if k not in seen]


#: Rows fetched per round trip by the export's streaming queries (server-side cursors where
#: the driver has them; memory stays flat in the export's size), and the rows an export builds
#: before writing them. Small on purpose: the cyclic GC walks every container still alive at
#: each young-generation collection, and a batch's tuples and row lists are; at 5,000 rows it
#: cost 15–25 % of a csv export's CPU, at 500 a few per cent (one round trip per 500 rows on
#: PostgreSQL is ~200 per 100,000 reports).
STREAM_BATCH = 500


def _driver_batches(result: CursorResult[Any]) -> Iterator[list[Any]]:
    """The rows of ``result`` as lists of tuples of the database driver's values, read
    :data:`STREAM_BATCH` at a time from the driver's cursor (no ``Row`` nor result processing
    per row: SQLAlchemy compiles the statement and binds its parameters, the rows bypass it).
    The statement's columns must have no result processing (``type_coerce(col, NULLTYPE)``:
    the first batch goes through ``result``, which serves the row(s) SQLAlchemy read ahead
    to learn the columns, then the cursor is read directly)."""
    try:
        first = [tuple(row) for row in result.fetchmany(STREAM_BATCH)]
        if first:
            yield first
        cursor = result.cursor
        while cursor is not None and (rows := cursor.fetchmany(STREAM_BATCH)):
            yield list(rows)  # DB-API: a sequence (a list already with these drivers)
    finally:
        result.close()


def _ties_by_id(batches: Iterator[list[Any]], at: int, key: int) -> Iterator[list[Any]]:
    """``batches`` of rows in order of their column ``at`` (ties in any order) as batches in
    order of ``(row[at], row[key])``: rows with equal ``at`` — held back across a batch's end
    until the next value comes — sorted by ``key`` (Python's order of ``str``: code points,
    SQLite's ``BINARY`` order of UTF-8 text). A batch without equal values passes as it is; a
    run of equal values is held in memory whole (linear in its length)."""
    carry: list[Any] = []
    by = itemgetter(at, key)
    for batch in batches:
        if carry and batch[-1][at] == carry[0][at]:  # the run goes on through this batch
            carry += batch
            continue
        if carry:
            batch = carry + batch
        last = batch[-1][at]
        i = len(batch) - 1
        while i > 0 and batch[i - 1][at] == last:
            i -= 1
        carry = batch[i:]
        if i == 0:
            continue
        batch = batch[:i] if carry else batch
        if len({row[at] for row in batch}) != len(batch):
            batch.sort(key=by)
        yield batch
    if carry:
        carry.sort(key=by)
        yield carry


def _raw(*columns: Any) -> list[Any]:
    """``columns`` without result processing: their values as the driver returns them."""
    return [type_coerce(col, NULLTYPE) for col in columns]


def _json_bytes(conn: Connection, column: Any) -> Any:
    """A JSON column read as its UTF-8 bytes on every backend (``bytes``, or ``None``): what
    orjson parses without the driver decoding the text first and orjson encoding it again
    (PostgreSQL's JSONB as its text's bytes, which its driver would otherwise parse with
    ``json.loads``; SQLite's ``BLOB`` and MySQL/MariaDB's ``BINARY`` casts of the text)."""
    if conn.dialect.name == "postgresql":
        return type_coerce(func.convert_to(cast(column, Text), "UTF8"), NULLTYPE)
    return type_coerce(cast(column, LargeBinary), NULLTYPE)


def _stream_reports(
    conn: Connection,
    corp_id: str,
    template: str,
    start: date,
    end: date,
    where: Sequence[Any] = (),
    tz: tzinfo = SHANGHAI,
) -> Iterator[list[Any]]:
    """Reports of ``template`` created in ``[start, end]`` (calendar dates in ``tz``) that meet
    ``where``, in creation order (ties by report id), one row per report, streamed in batches
    (lists of up to about :data:`STREAM_BATCH` rows):
    ``(report_id, creator_id, creator_name, dept_name, create_time, modified_time, remark,
    content_keys, content_values, content_states, receiver_ids)``.

    Values are the driver's (:func:`_driver_batches`): text as stored, i.e. with the store's NUL
    escape (:mod:`dingsync.store.nul`; ``unescape_nul`` gives the text), ``create_time`` and
    ``modified_time`` as the driver returns them (:class:`dingsync.export.WallClock` reads
    them), the four lists as their JSON text's UTF-8 bytes or ``None`` (``reports``'
    columns of migration 0029; their strings escaped alike)."""
    lo, hi = day_start(start, tz), day_start(end + timedelta(days=1), tz)
    r = reports
    sqlite = conn.dialect.name == "sqlite"
    cond = [
        r.c.corp_id == corp_id,
        r.c.template_name == template,
        r.c.create_time >= lo,
        r.c.create_time < hi,
        *where,
    ]
    result = conn.execute(
        select(
            *_raw(
                r.c.report_id,
                r.c.creator_id,
                r.c.creator_name,
                r.c.dept_name,
                r.c.create_time,
                r.c.modified_time,
                r.c.remark,
            ),
            _json_bytes(conn, r.c.content_keys),
            _json_bytes(conn, r.c.content_values),
            _json_bytes(conn, r.c.content_states),
            _json_bytes(conn, r.c.receiver_ids),
        )
        .where(*cond)
        # SQLite reads the index in create_time order; ties are put in report_id order here
        # (code points, SQLite's order) instead of by a sort in the database (-7 % CPU).
        .order_by(*([r.c.create_time] if sqlite else [r.c.create_time, r.c.report_id]))
        .execution_options(stream_results=True, max_row_buffer=STREAM_BATCH)
    )
    batches = _driver_batches(result)
    return _ties_by_id(batches, 4, 0) if sqlite else batches


#: Distinct receiver lists whose names an export keeps joined (most people send to the same
#: people every day); the cache starts over when full, so memory stays bounded.
RECEIVERS_CACHE = 50_000
#: Distinct content key lists whose column plan (:func:`_plan`) an export keeps (a template's
#: reports mostly share one); it starts over when full.
PLANS_CACHE = 10_000


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------
def export_reports(
    conn: Connection,
    corp_id: str,
    template: str,
    start: date,
    end: date,
    path: str | Path,
    fmt: Format = "xlsx",
    *,
    dept_id: int | None = None,
    dept_ids: Iterable[int] | None = None,
    creator: str | None = None,
    visible: visibility.Visible | None = None,
    tz: tzinfo = SHANGHAI,
) -> int:
    """Write the reports of ``template`` created ``start``..``end`` (calendar dates in the
    company's zone ``tz``, inclusive; times are shown as wall time there)
    to ``path`` as xlsx or CSV (see the module docstring). Returns the number of reports.

    Narrowed, in SQL (:func:`dingsync.store.repo_reports.report_conditions`, as the web list API),
    to creators in ``dept_id`` or a department below it; to creators in one of ``dept_ids``
    (exactly these departments — the caller includes sub-departments); to ``creator``; and to
    what ``visible`` admits (a viewer's visibility scope; ``None``: everything, e.g. the CLI).
    Raises ``ValueError`` for an unknown format."""
    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"format must be xlsx or csv, not {fmt!r}")
    columns = template_columns(conn, corp_id, template)
    headers = [*FIXED_HEADERS, *columns, *TAIL_HEADERS]
    where = repo_reports.report_conditions(
        corp_id,
        visible,
        creator=creator,
        dept_ids=None if dept_ids is None else sorted(set(dept_ids)),
    )
    if dept_id is not None:
        where += repo_reports.report_conditions(
            corp_id,
            None,
            dept_ids=sorted(repo_contacts.department_subtree(conn, corp_id, [dept_id])),
        )
    # The rows are built from the driver's values (text with the store's NUL escape, which
    # the writers undo; times as the driver returns them): no per-value processing but what
    # a cell needs.
    names = {escape_nul(u): escape_nul(n) for u, n in user_names(conn, corp_id).items()}
    index = {escape_nul(c): i for i, c in enumerate(columns)}
    clock = WallClock(tz)
    when = clock.text if fmt == "csv" else clock.excel
    first = len(FIXED_HEADERS)
    width = len(columns)
    # Empty cells are "" (not None): a csv batch is then all text (see _write_rows_csv).
    blank = [""] * width

    def batches() -> Iterator[list[list[Any]]]:
        get_name, loads = names.get, orjson.loads
        tpl = escape_nul(template)  # the stored text of every row's template_name
        joined: dict[bytes, str] = {}  # receiver_ids' JSON (bytes) → the names joined
        plans: dict[bytes, _Plan] = {}  # content_keys' JSON (bytes) → where the values go
        for batch in _stream_reports(conn, corp_id, template, start, end, where, tz):
            out: list[list[Any]] = []
            append = out.append
            for (
                rid,
                creator_id,
                creator_name,
                dept,
                created,
                modified,
                remark,
                keys,
                values,
                states,
                to,
            ) in batch:
                if to is None:
                    receivers = ""
                else:
                    receivers = joined.get(to)  # type: ignore[assignment]
                    if receivers is None:
                        if len(joined) >= RECEIVERS_CACHE:
                            joined.clear()
                        receivers = joined[to] = "、".join([get_name(u, u) for u in loads(to)])
                name = creator_name or get_name(creator_id or "", creator_id) or ""
                made = when(created)
                # An unedited report's modified_time is its create_time.
                changed = made if modified == created else when(modified)
                if keys is None:  # no contents
                    append([rid, tpl, name, creator_id or "", dept or "", made, changed or "",
                            *blank, receivers, remark or ""])  # fmt: skip
                    continue
                plan = plans.get(keys)
                if plan is None:
                    if len(plans) >= PLANS_CACHE:
                        plans.clear()
                    plan = plans[keys] = _plan(loads(keys), index, first, width)
                cells = loads(values)
                if states is not None:
                    cells = [
                        value if state is None else _content_value(value, state)
                        for value, state in zip(cells, loads(states), strict=True)
                    ]
                fill, pairs = plan
                if fill is not None:  # the keys are the columns' first ones, in order
                    if states is not None or b"null" in values:  # perhaps a None
                        cells = ["" if value is None else value for value in cells]
                    append([rid, tpl, name, creator_id or "", dept or "", made, changed or "",
                            *cells, *fill, receivers, remark or ""])  # fmt: skip
                    continue
                row = [rid, tpl, name, creator_id or "", dept or "", made, changed or "",
                       *([None] * width), receivers, remark or ""]  # fmt: skip
                for j, slot in pairs:
                    if row[slot] is None:
                        row[slot] = cells[j]
                append(["" if value is None else value for value in row])
            yield out

    if fmt == "csv":
        return _write_rows_csv(path, headers, batches())
    kinds = [xlsx.TEXT] * len(headers)
    kinds[5] = kinds[6] = xlsx.SERIAL_WHEN
    kinds[first : first + len(columns)] = [xlsx.NUMERIC_TEXT] * len(columns)
    return _write_rows_xlsx(path, "日志", headers, batches(), kinds)


#: Where a report's content values go (:func:`_plan`): ``(fill, pairs)``.
_Plan = tuple[list[str] | None, list[tuple[int, int]]]


def _plan(keys: list[Any], index: dict[str, int], first: int, width: int) -> _Plan:
    """Where the values of contents with ``keys`` (escaped text, position order) go in a row
    whose ``width`` content columns start at ``first`` (``index``: escaped column name → its
    column). The rule is the export's: a content whose key is a column fills that cell when it
    is still empty (``None``), contents in position order. ``(fill, pairs)``: when the keys are
    the first ``len(keys)`` column names in order (each cell then gets its one value), ``fill``
    is the empty cells (``""``) after them and the values go in as they are; else ``fill`` is
    ``None`` and ``pairs`` lists ``(value index, row cell)`` in position order for the rule."""
    pairs = [(j, first + i) for j, key in enumerate(keys) if (i := index.get(key)) is not None]
    if len(keys) <= width and pairs == [(j, first + j) for j in range(len(keys))]:
        return [""] * (width - len(keys)), pairs
    return None, pairs


def _content_value(value: str | None, state: str) -> str | None:
    """:func:`content_cell` of a content row's ``value`` and ``state``."""
    if state == CONTENT_TABLE:
        return TABLE_CELL
    if state == CONTENT_TRUNCATED:
        return (value or "") + TRUNCATED_MARK
    return value


#: Batches :func:`_write_rows_csv` hands to ``csv`` directly after one whose rows mostly
#: needed quoting (it then tries joining again).
CSV_SKIP = 15
#: A csv line whose text holds one of these needs the ``csv`` module's quoting.
_CSV_SPECIAL = re.compile('["\r\n]')


def _write_rows_csv(path: str | Path, headers: list[str], batches: Iterator[list[Any]]) -> int:
    """Write ``batches`` of rows (lists of cells, all text — ``""`` for an empty cell — with
    the store's NUL escape) as CSV (UTF-8 with a BOM), exactly as ``csv.writer`` (excel
    dialect, ``QUOTE_MINIMAL``, CR LF line ends) writes them. A batch whose cells hold no ``,``,
    ``"``, CR nor LF — the cells ``csv`` would write as they are — is joined as it
    is (counted in its joined text: one pass of ``str.join`` and four of ``str.count``/``in``
    instead of ``csv``'s per-cell work); else each line is, when its own text shows no such
    cell, and the ``csv`` module writes the other lines — and, when they were most of the
    batch, the next :data:`CSV_SKIP` batches whole. A batch holding the escape character
    is written again with each value unescaped. Returns the number of rows."""
    n = 0
    parts: list[str] = []
    writer = csv.writer(SimpleNamespace(write=parts.append))
    special = _CSV_SPECIAL.search
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer.writerow(headers)
        fh.write(parts.pop())
        skip = 0  # batches left to hand to csv directly (after a mostly quoted batch)
        for batch in batches:
            if not batch:
                continue
            rows = len(batch)
            text = ""
            if skip:
                skip -= 1
            else:
                try:
                    text = "\r\n".join(map(",".join, batch))
                except TypeError:  # a cell that is not text: csv's own str()
                    text = ""
            if (
                text
                and text.count(",") == sum(map(len, batch)) - rows
                and text.count("\n") == rows - 1
                and text.count("\r") == rows - 1
                and '"' not in text
            ):
                text += "\r\n"
            elif text:
                quoted = 0
                for row in batch:
                    try:
                        line = ",".join(row)
                    except TypeError:
                        line = ""
                    if line and line.count(",") == len(row) - 1 and special(line) is None:
                        parts.append(line + "\r\n")
                    else:
                        writer.writerow(row)
                        quoted += 1
                if 2 * quoted > rows:  # multi-line texts, say: csv alone is cheaper
                    skip = CSV_SKIP
                text = "".join(parts)
                parts.clear()
            else:
                writer.writerows(batch)
                text = "".join(parts)
                parts.clear()
            if ESCAPE in text:
                writer.writerows(
                    [[v if v is None else unescape_nul(v) for v in row] for row in batch]
                )
                text = "".join(parts)
                parts.clear()
            fh.write(text)
            n += rows
    return n


def _write_rows_xlsx(
    path: str | Path,
    sheet: str,
    headers: list[str],
    batches: Iterator[list[Any]],
    kinds: list[str],
) -> int:
    """Write ``batches`` of rows (cells of the given ``kinds``,
    :meth:`xlsx.RowWriter.write_typed_rows`; text with the store's NUL escape) as one sheet of a
    ``constant_memory`` workbook, headers bold and frozen. Returns the number of rows."""
    wb = xlsx.Workbook(str(path), {"constant_memory": True})
    try:
        ws = wb.add_worksheet(sheet)
        bold = wb.add_format({"bold": True})
        when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        day = wb.add_format({"num_format": "yyyy-mm-dd"})
        ws.write_row(0, 0, headers, bold)
        ws.freeze_panes(1, 0)
        out = xlsx.RowWriter(ws, when=when, day=day, as_number=as_number, decode=unescape_nul)
        write = out.write_typed_rows
        n = 0
        for batch in batches:
            write(n + 1, batch, kinds)
            n += len(batch)
        return n
    finally:
        wb.close()


def content_cell(item: dict[str, Any]) -> str | None:
    """A content value as exports show it: a table field as :data:`TABLE_CELL` (not its
    ``[表格]`` placeholder passed off as content), a text DingTalk cut and nobody completed with
    :data:`TRUNCATED_MARK` appended, anything else as stored (``report_contents.state``)."""
    value: str | None = item.get("value")
    state = item.get("state")
    if state == CONTENT_TABLE:
        return TABLE_CELL
    if state == CONTENT_TRUNCATED:
        return (value or "") + TRUNCATED_MARK
    return value


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _write_csv(
    path: str | Path, headers: list[str], rows: Iterator[list[Any]], *, text_columns: int = 0
) -> int:
    n = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([_cell_text(v) for v in row])
            n += 1
    return n


def _write_xlsx(
    path: str | Path,
    sheet: str,
    headers: list[str],
    rows: Iterator[list[Any]],
    *,
    value_range: tuple[int, int] = (0, 0),
) -> int:
    wb = xlsx.Workbook(str(path), {"constant_memory": True})
    try:
        return _sheet(wb, sheet, headers, rows, value_range=value_range)
    finally:
        wb.close()


def _sheet(
    wb: xlsx.Workbook,
    name: str,
    headers: list[str],
    rows: Iterator[list[Any]],
    *,
    value_range: tuple[int, int] = (0, 0),
) -> int:
    """Write one sheet row by row (constant memory): strings as strings, numbers as numbers,
    datetimes as date-time cells, dates as date cells (``yyyy-mm-dd``); within
    ``value_range`` (first column, count) numeric text is written as a number."""
    ws = wb.add_worksheet(name)
    bold = wb.add_format({"bold": True})
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, headers, bold)
    ws.freeze_panes(1, 0)
    first, count = value_range
    # Rows go out as XML directly (xlsx.RowWriter: XlsxWriter's cells without its per-cell calls).
    out = xlsx.RowWriter(
        ws, when=when, day=day, number_columns=range(first, first + count), as_number=as_number
    )
    n = 0
    for r, row in enumerate(rows, start=1):
        out.write(r, row)
        n += 1
    return n


# --------------------------------------------------------------------------------------------
# Compliance
# --------------------------------------------------------------------------------------------
def working_days(conn: Connection, corp_id: str, userid: str, start: date, end: date) -> set[date]:
    """The days ``userid`` is expected to work in ``[start, end]`` (work dates, company zone):
    where the person's attendance schedule is synced (``attendance_schedules``), the days it
    gives a shift — its rest days are not due, its working weekends (调休) are; on days
    without a synced schedule (attendance not synced, or not for that person or day),
    Monday–Friday."""
    return _working(repo_attendance.scheduled_days(conn, corp_id, userid, start, end), start, end)


def _working(scheduled: dict[date, bool], start: date, end: date) -> set[date]:
    """:func:`working_days` from the person's synced ``{work_date: works}``."""
    days: set[date] = set()
    cur = start
    while cur <= end:
        if scheduled.get(cur, cur.weekday() < 5):
            days.add(cur)
        cur += timedelta(days=1)
    return days


def is_weekly(template: str) -> bool:
    """Weekly templates are counted per week: names ending in ``周报``."""
    return template.endswith("周报")


@dataclass
class PersonDay:
    """One person's status for one period (a working day; weekly: the week's last one)."""

    userid: str
    name: str
    dept: str
    day: date
    status: Status


@dataclass
class DeptRate:
    """A department's counts and rates (``rate`` = (submitted + late) / expected)."""

    dept_id: int | None
    name: str
    people: int
    expected: int
    submitted: int
    late: int
    missing: int

    @property
    def rate(self) -> float:
        """Share of expected periods with a report (on time or late)."""
        return (self.submitted + self.late) / self.expected if self.expected else 0.0

    @property
    def on_time_rate(self) -> float:
        """Share of expected periods with an on-time report."""
        return self.submitted / self.expected if self.expected else 0.0


@dataclass
class Compliance:
    """Result of :func:`compliance`: ``days`` (person × period), ``departments``, per person
    counts in ``people`` (``userid → {"name", "dept", "submitted", "late", "missing"}``),
    each person's ``(due date, status)`` in date order in ``periods`` and ``rule``: the rule
    used, when the caller says (``export/report_rules.py``)."""

    template: str
    start: date
    end: date
    weekly: bool
    periods: dict[str, list[tuple[date, Status]]] = field(default_factory=dict)
    departments: list[DeptRate] = field(default_factory=list)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    rule: dict[str, Any] | None = None

    @property
    def days(self) -> list[PersonDay]:
        """Every person × period, ordered by department label, userid and date."""
        return self.days_of(self.periods)

    def days_of(self, userids: Iterable[str]) -> list[PersonDay]:
        """:attr:`days` of some people only (the same order), without building everyone's."""
        wanted = sorted(
            (u for u in set(userids) if u in self.periods),
            key=lambda u: (self.people[u]["dept"], u),
        )
        return [
            PersonDay(u, self.people[u]["name"], self.people[u]["dept"], day, status)
            for u in wanted
            for day, status in self.periods[u]
        ]

    def statuses(self) -> dict[str, dict[str, str]]:
        """``{userid: {"YYYY-MM-DD": status}}`` (what tests compare with the sandbox)."""
        return {
            u: {day.isoformat(): status for day, status in rows} for u, rows in self.periods.items()
        }


def period_windows(
    start: date, end: date, weekly: bool, tz: tzinfo = SHANGHAI
) -> list[tuple[date, datetime, datetime]]:
    """``(period key, from, until)`` of the periods a report may count for in ``[start, end]``:
    the key's report day runs from 12:00 wall time in ``tz`` to 12:00 the next day (the
    ``create_time − 12 h`` rule); weekly templates: from the week's Monday 12:00 to the next
    Monday 12:00, for every week whose Monday is in ``[start − weekday, end]``. ``from``
    inclusive, ``until`` exclusive, aware datetimes."""

    def noon(day: date) -> datetime:
        return datetime.combine(day, PERIOD_START, tzinfo=tz)

    if weekly:
        first = start - timedelta(days=start.weekday())
        step = timedelta(days=7)
    else:
        first, step = start, timedelta(days=1)
    out = []
    key = first
    while key <= end:
        out.append((key, noon(key), noon(key + step)))
        key += step
    return out


def _periods_table(chunk: Sequence[tuple[date, datetime, datetime]], tz: tzinfo) -> Any:
    """The periods as a derived table of literal rows ``(k, lo, hi, due_end)``: ``k`` the
    index in ``chunk``, ``due_end`` the end of the key's day in ``tz`` (a daily period's
    deadline)."""
    return union_all(
        *(
            select(
                literal(n, Integer()).label("k"),
                literal(lo, UTCDateTime()).label("lo"),
                literal(hi, UTCDateTime()).label("hi"),
                literal(day_start(key + timedelta(days=1), tz), UTCDateTime()).label("due_end"),
            )
            for n, (key, lo, hi) in enumerate(chunk)
        )
    ).subquery("periods")


def _per_period(
    conn: Connection,
    corp_id: str,
    template: str,
    windows: Sequence[tuple[date, datetime, datetime]],
    tz: tzinfo,
    where: Sequence[Any],
    on_time: bool,
) -> Iterator[tuple[str, date, Any]]:
    r = reports
    for i in range(0, len(windows), WINDOWS_PER_QUERY):
        chunk = windows[i : i + WINDOWS_PER_QUERY]
        p = _periods_table(chunk, tz)
        first = func.min(r.c.create_time)
        value = case((first < p.c.due_end, 1), else_=0) if on_time else first
        group = [r.c.creator_id, p.c.k, *([p.c.due_end] if on_time else [])]
        query = (
            select(r.c.creator_id, p.c.k, value)
            .select_from(p.join(r, and_(r.c.create_time >= p.c.lo, r.c.create_time < p.c.hi)))
            .where(r.c.corp_id == corp_id, r.c.template_name == template, *where)
            .group_by(*group)
        )
        for userid, n, got in conn.execute(query):
            if userid and got is not None:
                yield str(userid), chunk[int(n)][0], got


def first_reports(
    conn: Connection,
    corp_id: str,
    template: str,
    start: date,
    end: date,
    weekly: bool,
    tz: tzinfo = SHANGHAI,
    where: Sequence[Any] = (),
) -> dict[tuple[str, date], datetime]:
    """``{(creator userid, period key): earliest create_time}`` of ``template``'s reports for
    the periods of :func:`period_windows` (aware UTC datetimes), aggregated in SQL: the
    periods are a derived table of literal rows (:data:`WINDOWS_PER_QUERY` per query) joined
    to ``reports`` on ``from <= create_time < until`` and grouped by creator and period, so a
    range reads one row per person × period instead of every report (SQLite, PostgreSQL and
    MariaDB alike; the index ``(corp_id, template_name, create_time, creator_id)`` covers
    it). ``where``: extra conditions on ``reports`` (a viewer's scope)."""
    windows = period_windows(start, end, weekly, tz)
    return {
        (u, key): got
        for u, key, got in _per_period(conn, corp_id, template, windows, tz, where, False)
    }


def first_on_time(
    conn: Connection,
    corp_id: str,
    template: str,
    start: date,
    end: date,
    tz: tzinfo = SHANGHAI,
    where: Sequence[Any] = (),
) -> dict[tuple[str, date], bool]:
    """Daily templates: ``{(creator userid, day): on time}`` for each person × day of ``[start,
    end]`` with a report — whether :func:`first_reports`' earliest report was created before the
    end of that day in ``tz`` — compared in SQL, so no timestamps are read."""
    windows = period_windows(start, end, False, tz)
    return {
        (u, key): bool(got)
        for u, key, got in _per_period(conn, corp_id, template, windows, tz, where, True)
    }


def first_report_day(
    conn: Connection, corp_id: str, template: str, tz: tzinfo = SHANGHAI
) -> date | None:
    """The report day (company zone ``tz``, the ``create_time − 12 h`` rule) of the first synced
    report of ``template``, or ``None`` without any."""
    first: datetime | None = conn.execute(
        select(func.min(reports.c.create_time)).where(
            reports.c.corp_id == corp_id, reports.c.template_name == template
        )
    ).scalar()
    if first is None:
        return None
    day = first.astimezone(tz).date()
    return (
        day if first >= datetime.combine(day, PERIOD_START, tzinfo=tz) else day - timedelta(days=1)
    )


def _creator_names(
    conn: Connection, corp_id: str, template: str, userids: Sequence[str]
) -> dict[str, str]:
    """The name on the reports of creators the directory does not name."""
    r = reports
    out: dict[str, str] = {}
    for i in range(0, len(userids), BATCH):
        for u, n in conn.execute(
            select(r.c.creator_id, r.c.creator_name)
            .where(
                r.c.corp_id == corp_id,
                r.c.template_name == template,
                r.c.creator_id.in_(userids[i : i + BATCH]),
            )
            .distinct()
        ):
            out[str(u)] = str(n or u)
    return out


def people_of(
    conn: Connection, corp_id: str
) -> tuple[dict[str, Any], dict[int, str], dict[str, list[int]]]:
    """What compliance needs of the directory of ``corp_id``: ``({userid: row with name,
    hired_date, left_at}, {dept_id: name}, {userid: [dept_id]})``."""
    info = {
        str(row.userid): row
        for row in conn.execute(
            select(users.c.userid, users.c.name, users.c.hired_date, users.c.left_at).where(
                users.c.corp_id == corp_id
            )
        )
    }
    dept_names = {
        int(d): str(n or d)
        for d, n in conn.execute(
            select(departments.c.dept_id, departments.c.name).where(
                departments.c.corp_id == corp_id
            )
        )
    }
    memberships: dict[str, list[int]] = defaultdict(list)
    for u, d in conn.execute(
        select(user_departments.c.userid, user_departments.c.dept_id).where(
            user_departments.c.corp_id == corp_id
        )
    ):
        memberships[str(u)].append(int(d))
    return info, dept_names, memberships


def count_in_departments(
    rates: dict[int | None, DeptRate],
    dept_names: dict[int, str],
    depts: Sequence[int],
    counts: dict[str, int],
) -> None:
    """Add one person's ``counts`` (``submitted``/``late``/``missing``) to the rate of each of
    their departments ``depts`` (a person in two departments counts in both), or to
    "(未同步部门)" (key ``None``) without any; ``rates`` is updated in place."""
    keys: list[int | None] = list(depts) if depts else [None]
    for d in keys:
        rate = rates.get(d)
        if rate is None:
            label = dept_names.get(d, str(d)) if d is not None else "(未同步部门)"
            rate = rates[d] = DeptRate(d, label, 0, 0, 0, 0, 0)
        rate.people += 1
        rate.expected += sum(counts.values())
        rate.submitted += counts["submitted"]
        rate.late += counts["late"]
        rate.missing += counts["missing"]


def compliance(
    conn: Connection,
    corp_id: str,
    template: str,
    start: date,
    end: date,
    *,
    dept_id: int | None = None,
    today: date | None = None,
    tz: tzinfo = SHANGHAI,
    people: visibility.Visible | None = None,
) -> Compliance:
    """Per person per working day (weekly templates: per week) ``submitted``/``late``/
    ``missing`` for ``template`` in ``[start, end]``, and per department the rates (see the
    module docstring for the rules). Only days before ``today`` (default: today in
    the company's zone ``tz``) are counted: today's and later reports are not due yet; report
    days are calendar days in ``tz``.

    ``people`` narrows, in SQL, who is counted to the creators it admits as owners (its
    ``everything``, ``owner`` and ``dept_ids`` parts; ``participant`` is ignored: a person
    whose reports one merely receives is not counted, since their missing days would be the
    reports they sent to others). ``None``: everyone (the CLI). A person is counted on all
    their reports of ``template``, so the rule stays the one above whoever asks."""
    weekly = is_weekly(template)
    today = today or local_today(tz)
    result = Compliance(template, start, end, weekly)
    r = reports
    narrowed: list[Any] = []
    if people is not None:
        narrowed.append(visibility.visible_to(people, corp_id, r.c.creator_id))
    # Everyone who ever wrote the template (an index-only read).
    expected = {
        str(u)
        for (u,) in conn.execute(
            select(r.c.creator_id)
            .where(r.c.corp_id == corp_id, r.c.template_name == template, *narrowed)
            .group_by(r.c.creator_id)
        )
        if u
    }
    if dept_id is not None:
        expected &= dept_scope(conn, corp_id, dept_id)
    info, dept_names, memberships = people_of(conn, corp_id)

    nameless = sorted(u for u in expected if u not in info or not info[u].name)
    creators = {u: str(info[u].name) for u in expected if u in info and info[u].name}
    creators.update(_creator_names(conn, corp_id, template, nameless))

    # The first report of each person × period: its time (weekly: the deadline depends on the
    # person's week) or, for daily templates, whether it was on time (compared in SQL).
    first_at: dict[tuple[str, date], datetime] = {}
    on_time: dict[tuple[str, date], bool] = {}
    if weekly:
        first_at = first_reports(conn, corp_id, template, start, end, weekly, tz, narrowed)
    else:
        on_time = first_on_time(conn, corp_id, template, start, end, tz, narrowed)

    # Everyone's days off the Monday–Friday default at once (weekly periods reach into the
    # weeks around the range).
    reach = timedelta(days=6 if weekly else 0)
    schedules = repo_attendance.schedule_exceptions_of(
        conn, corp_id, sorted(creators), start - reach, end + reach
    )
    calendar = _calendar(start, end)  # the range's days with their Monday–Friday default
    deadlines: dict[date, datetime] = {}  # due date → the end of that day (shared by all)
    rates: dict[int | None, DeptRate] = {}
    for userid in sorted(creators):
        row = info.get(userid)
        name = str(row.name) if row is not None and row.name else creators[userid]
        first = start
        last = end
        if row is not None and row.hired_date is not None:
            first = max(first, row.hired_date.astimezone(tz).date())
        if row is not None and row.left_at is not None:
            last = min(last, row.left_at.astimezone(tz).date())
        last = min(last, today - timedelta(days=1))
        depts = memberships.get(userid) or []
        dept_label = ",".join(dept_names.get(d, str(d)) for d in depts)
        counts = {"submitted": 0, "late": 0, "missing": 0}
        rows: list[tuple[date, Status]] = []
        for key, due in _periods(schedules.get(userid, {}), start, end, weekly, calendar):
            if due < first or due > last:
                continue
            status: Status
            if not weekly:
                found = on_time.get((userid, key))
                status = "missing" if found is None else "submitted" if found else "late"
            elif (userid, key) not in first_at:
                status = "missing"
            else:
                deadline = deadlines.get(due)
                if deadline is None:
                    deadline = deadlines[due] = day_start(due + timedelta(days=1), tz)
                status = "submitted" if first_at[(userid, key)] < deadline else "late"
            counts[status] += 1
            rows.append((due, status))
        result.periods[userid] = rows
        result.people[userid] = {"name": name, "dept": dept_label, **counts}
        count_in_departments(rates, dept_names, depts, counts)
    result.departments = sorted(rates.values(), key=lambda d: (d.name, d.dept_id or 0))
    return result


def _calendar(start: date, end: date) -> list[tuple[date, bool]]:
    """Each day of ``[start, end]`` with whether it is Monday–Friday (the default workday)."""
    return [
        (d, d.weekday() < 5) for d in (start + timedelta(n) for n in range((end - start).days + 1))
    ]


def _periods(
    scheduled: dict[date, bool],
    start: date,
    end: date,
    weekly: bool,
    calendar: Sequence[tuple[date, bool]] | None = None,
) -> list[tuple[date, date]]:
    """``(period key, due date)`` for a person with the synced schedule ``scheduled``
    (``{work_date: works}``, :func:`working_days`' rule): each working day, or each week
    whose last working day falls in ``[start, end]`` (key = the week's Monday). ``calendar``:
    :func:`_calendar` of ``[start, end]`` when the caller has it (shared by everyone)."""
    if not weekly:
        span = calendar if calendar is not None else _calendar(start, end)
        if not scheduled:
            return [(d, d) for d, weekday in span if weekday]
        return [(d, d) for d, weekday in span if scheduled.get(d, weekday)]
    monday = start - timedelta(days=start.weekday())
    out = []
    while monday <= end:
        days = _working(scheduled, monday, monday + timedelta(days=6))
        if days:
            due = max(days)
            if start <= due <= end:
                out.append((monday, due))
        monday += timedelta(days=7)
    return out


def write_compliance(result: Compliance, path: str | Path, fmt: Format) -> int:
    """Write a compliance result: CSV (UTF-8 with BOM) of the person × period rows, or xlsx with
    sheets 明细 (details), 个人汇总 (per person) and 部门提交率 (per department). 日期 is a date
    cell (``yyyy-mm-dd``) in xlsx and ISO ``YYYY-MM-DD`` in csv; 提交率 / 按时率 are numeric
    cells (the fraction, 0.75) shown as the console shows them (``0.0%``: 75.0%), a person
    with nothing due has an empty 提交率 (the console's —). Returns the number of detail
    rows."""
    detail_headers = ["部门", "姓名", "UserID", "日期", "状态"]

    def details() -> Iterator[list[Any]]:
        for d in result.days:
            yield [d.dept, d.name, d.userid, d.day, STATUS_LABELS[d.status]]

    if fmt == "csv":
        return _write_csv(path, detail_headers, details())
    if fmt != "xlsx":
        raise ValueError(f"format must be xlsx or csv, not {fmt!r}")
    wb = xlsx.Workbook(str(path), {"constant_memory": True})
    try:
        n = _sheet(wb, "明细", detail_headers, details())
        _rate_sheet(
            wb,
            "个人汇总",
            ["部门", "姓名", "UserID", "应交", "已提交", "迟交", "未提交", "提交率"],
            (
                [p["dept"], p["name"], uid, p["submitted"] + p["late"] + p["missing"],
                 p["submitted"], p["late"], p["missing"], _ratio(p)]
                for uid, p in sorted(result.people.items(), key=lambda kv: (kv[1]["dept"], kv[0]))
            ),
            rates=(7,),
        )  # fmt: skip
        _rate_sheet(
            wb,
            "部门提交率",
            ["部门ID", "部门", "人数", "应交", "已提交", "迟交", "未提交", "提交率", "按时率"],
            (_dept_row(d) for d in result.departments),
            rates=(7, 8),
        )  # fmt: skip
        if result.rule is not None:  # which rule the numbers follow (export/report_rules.py)
            rule = result.rule
            _sheet(
                wb,
                "统计规则",
                ["来源", "规则", "提交时间", "应交人数"],
                iter([[
                    "钉钉统计规则" if rule.get("source") == "dingtalk" else "默认规则",
                    rule.get("text"),
                    "；".join(rule.get("windows") or []),
                    rule.get("must_submit"),
                ]]),
            )  # fmt: skip
    finally:
        wb.close()
    return n


def _dept_row(d: DeptRate) -> list[Any]:
    return [
        d.dept_id,
        d.name,
        d.people,
        d.expected,
        d.submitted,
        d.late,
        d.missing,
        round(d.rate, 4),
        round(d.on_time_rate, 4),
    ]


def _ratio(p: dict[str, Any]) -> float | None:
    """A person's 提交率 (``None``, an empty cell, when nothing was due: the console's —)."""
    expected = p["submitted"] + p["late"] + p["missing"]
    return round((p["submitted"] + p["late"]) / expected, 4) if expected else None


#: How a rate (a fraction, 0.75) shows in xlsx: as the console shows it, 75.0%.
RATE_FORMAT = "0.0%"


def _rate_sheet(
    wb: xlsx.Workbook,
    name: str,
    headers: list[str],
    rows: Iterator[list[Any]],
    *,
    rates: tuple[int, ...],
) -> int:
    """Write one small summary sheet (a row per person or department) with the columns
    ``rates`` as numbers in :data:`RATE_FORMAT` — the value stays the fraction (0.75, sums
    and sorting work), the cell shows 75.0% as the console does. Returns the rows written."""
    ws = wb.add_worksheet(name)
    ws.write_row(0, 0, headers, wb.add_format({"bold": True}))
    ws.freeze_panes(1, 0)
    percent = wb.add_format({"num_format": RATE_FORMAT})
    n = 0
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            ws.write(r, c, value, percent if c in rates else None)
        n += 1
    return n
