"""Report (日志) exports and submission compliance, from the synced tables.

**Export** (:func:`export_reports`): one row per report of one template created in a date range
(calendar dates in the company's zone — ``tz``, ``Settings.tz``, Asia/Shanghai by
default — both inclusive), optionally only by members of some departments
and their sub-departments, by one creator, and only what a viewer may see (the web service's
visibility scope, applied in SQL with the same conditions as its list API); one column per
template field in the template's order (fields from
``template/getbyname``; without them, the content keys seen, by position; keys not in the
template are appended), plus creator, department, created/modified time and receivers.
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
from datetime import date, datetime, timedelta, tzinfo
from itertools import chain
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Result, and_, or_, select, type_coerce
from sqlalchemy.sql.sqltypes import NULLTYPE

from dingsync.export import local, xlsx
from dingsync.store import repo_attendance, repo_contacts, repo_reports, visibility
from dingsync.store.schema import departments, user_departments, users
from dingsync.store.schema_reports import report_contents, report_receivers, reports
from dingsync.timeutil import SHANGHAI, day_start_ms, from_ms
from dingsync.timeutil import today as local_today

PERIOD_SHIFT = timedelta(hours=12)
Format = Literal["xlsx", "csv"]
Status = Literal["submitted", "late", "missing"]

STATUS_LABELS: dict[str, str] = {"submitted": "已提交", "late": "迟交", "missing": "未提交"}
FIXED_HEADERS = ("日志ID", "模板", "提交人", "提交人UserID", "部门", "提交时间", "修改时间")
TAIL_HEADERS = ("接收人", "日志备注")
_NUMBER = re.compile(r"^-?(0|[1-9]\d{0,14})(\.\d{1,6})?$")
BATCH = 1000


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


def _iter_reports(
    conn: Connection,
    corp_id: str,
    template: str,
    start: date,
    end: date,
    where: Sequence[Any] = (),
    tz: tzinfo = SHANGHAI,
) -> Iterator[list[dict[str, Any]]]:
    """Reports of ``template`` created in ``[start, end]`` (calendar dates in ``tz``) that also meet
    ``where`` (SQL conditions on ``reports``), in creation order, ``BATCH`` at a time (keyset
    paging, so memory stays flat)."""
    lo, hi = day_start(start, tz), day_start(end + timedelta(days=1), tz)
    r = reports
    cols = (
        r.c.report_id,
        r.c.template_name,
        r.c.creator_id,
        r.c.creator_name,
        r.c.dept_name,
        r.c.create_time,
        r.c.modified_time,
        r.c.remark,
    )
    last: tuple[datetime, str] | None = None
    while True:
        cond = [
            r.c.corp_id == corp_id,
            r.c.template_name == template,
            r.c.create_time >= lo,
            r.c.create_time < hi,
            *where,
        ]
        if last is not None:
            cond.append(
                or_(
                    r.c.create_time > last[0],
                    and_(r.c.create_time == last[0], r.c.report_id > last[1]),
                )
            )
        rows = [
            dict(row)
            for row in conn.execute(
                select(*cols).where(*cond).order_by(r.c.create_time, r.c.report_id).limit(BATCH)
            ).mappings()
        ]
        if not rows:
            return
        yield rows
        last = (rows[-1]["create_time"], rows[-1]["report_id"])
        if len(rows) < BATCH:
            return


#: Rows fetched per round trip by the export's streaming queries (server-side cursors where
#: the driver has them; memory stays flat in the export's size).
STREAM_BATCH = 5000


def _stream_reports(
    conn: Connection,
    corp_id: str,
    template: str,
    start: date,
    end: date,
    where: Sequence[Any] = (),
    tz: tzinfo = SHANGHAI,
) -> Iterator[tuple[Any, list[tuple[str, Any]], list[str]]]:
    """Reports of ``template`` created in ``[start, end]`` (calendar dates in ``tz``) that meet
    ``where``, in creation order, each as ``(report columns, [(key, value)] of its contents in
    the order sent, [receiver userid] sorted)``. Three queries in the same order (reports, and
    contents and receivers joined to the same reports) are streamed side by side and merged."""
    lo, hi = day_start(start, tz), day_start(end + timedelta(days=1), tz)
    r, c, t = reports, report_contents, report_receivers
    cond = [
        r.c.corp_id == corp_id,
        r.c.template_name == template,
        r.c.create_time >= lo,
        r.c.create_time < hi,
        *where,
    ]
    order = (r.c.create_time, r.c.report_id)
    # The merge keys on create_time as the driver returns it (no conversion per row: a string
    # on SQLite, a datetime elsewhere), in the order the database sorts it.
    raw_time = type_coerce(r.c.create_time, NULLTYPE)
    raw_id = type_coerce(r.c.report_id, NULLTYPE)
    joined_c = c.join(r, and_(c.c.corp_id == r.c.corp_id, c.c.report_id == r.c.report_id))
    joined_t = t.join(r, and_(t.c.corp_id == r.c.corp_id, t.c.report_id == r.c.report_id))
    stream = {"yield_per": STREAM_BATCH}
    heads = conn.execute(
        select(
            r.c.report_id,
            r.c.template_name,
            r.c.creator_id,
            r.c.creator_name,
            r.c.dept_name,
            r.c.create_time,
            r.c.modified_time,
            r.c.remark,
            raw_time,
            raw_id,
        )
        .where(*cond)
        .order_by(*order)
        .execution_options(**stream)
    )
    contents = _Merged(
        conn.execute(
            select(raw_time, raw_id, c.c.key, c.c.value)
            .select_from(joined_c)
            .where(*cond)
            .order_by(*order, c.c.position)
            .execution_options(**stream)
        )
    )
    receivers = _Merged(
        conn.execute(
            select(raw_time, raw_id, t.c.userid)
            .select_from(joined_t)
            .where(*cond)
            .order_by(*order, t.c.userid)
            .execution_options(**stream)
        )
    )
    for head in chain.from_iterable(heads.partitions()):
        yield head[:8], contents.take(head[8], head[9]), receivers.take(head[8], head[9])


class _Merged:
    """Rows ``(create_time, report_id, *rest)`` of a stream in the reports' order, served one
    report at a time: the rows of one create_time are read together (ties are ordered by
    report_id in the database's collation, which Python cannot repeat), and rows of reports the
    report query did not return (written between the queries) are skipped."""

    def __init__(self, result: Result[Any]) -> None:
        self._rows = chain.from_iterable(result.partitions())
        self._next: Any = next(self._rows, None)
        self._time: Any = None
        self._group: dict[str, list[Any]] = {}

    def take(self, time: Any, report_id: str) -> list[Any]:
        if time != self._time:
            self._load(time)
        return self._group.pop(report_id, [])

    def _load(self, time: Any) -> None:
        group: dict[str, list[Any]] = {}
        row, rows = self._next, self._rows
        while row is not None and row[0] < time:  # a report the report query did not return
            row = next(rows, None)
        while row is not None and row[0] == time:
            value = row[2] if len(row) == 3 else row[2:]
            items = group.get(row[1])
            if items is None:
                group[row[1]] = [value]
            else:
                items.append(value)
            row = next(rows, None)
        self._next, self._time, self._group = row, time, group


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
    names = user_names(conn, corp_id)
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
    index = {c: i for i, c in enumerate(columns)}

    def rows() -> Iterator[list[Any]]:
        width = len(columns)
        for rep, items, receivers in _stream_reports(
            conn, corp_id, template, start, end, where, tz
        ):
            rid, tpl, creator_id, creator_name, dept, created, modified, remark = rep
            values: list[Any] = [None] * width
            for key, value in items:
                i = index.get(key)
                if i is not None and values[i] is None:
                    values[i] = value
            yield [
                rid,
                tpl,
                creator_name or names.get(creator_id or "", creator_id),
                creator_id,
                dept,
                local(created, tz),
                local(modified, tz),
                *values,
                "、".join([names.get(u, u) for u in receivers]),
                remark,
            ]

    if fmt == "csv":
        return _write_csv(path, headers, rows(), text_columns=len(FIXED_HEADERS))
    return _write_xlsx(
        path, "日志", headers, rows(), value_range=(len(FIXED_HEADERS), len(columns))
    )


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
    counts in ``people`` (``userid → {"name", "dept", "submitted", "late", "missing"}``)."""

    template: str
    start: date
    end: date
    weekly: bool
    days: list[PersonDay] = field(default_factory=list)
    departments: list[DeptRate] = field(default_factory=list)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)

    def statuses(self) -> dict[str, dict[str, str]]:
        """``{userid: {"YYYY-MM-DD": status}}`` (what tests compare with the sandbox)."""
        out: dict[str, dict[str, str]] = {}
        for d in self.days:
            out.setdefault(d.userid, {})[d.day.isoformat()] = d.status
        return out


def _period_of(created: datetime, weekly: bool, tz: tzinfo = SHANGHAI) -> tuple[date, date]:
    """(period key, calendar date the report counts for): key is the date, or the week's
    Monday for weekly templates."""
    day = (created.astimezone(tz) - PERIOD_SHIFT).date()
    if weekly:
        return day - timedelta(days=day.weekday()), day
    return day, day


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
    creators = {
        str(u): str(n or u)
        for u, n in conn.execute(
            select(r.c.creator_id, r.c.creator_name)
            .where(r.c.corp_id == corp_id, r.c.template_name == template, *narrowed)
            .distinct()
        )
        if u
    }
    if dept_id is not None:
        scope = dept_scope(conn, corp_id, dept_id)
        creators = {u: n for u, n in creators.items() if u in scope}
    info = {
        row.userid: row
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

    # Reports that may count for the range: created from start 12:00 to (end + 7 days) 12:00.
    lo = day_start(start, tz) + PERIOD_SHIFT - (timedelta(days=7) if weekly else timedelta(0))
    hi = day_start(end + timedelta(days=8 if weekly else 1), tz) + PERIOD_SHIFT
    got: dict[tuple[str, date], list[datetime]] = defaultdict(list)
    for u, created in conn.execute(
        select(r.c.creator_id, r.c.create_time).where(
            r.c.corp_id == corp_id,
            r.c.template_name == template,
            r.c.create_time >= lo,
            r.c.create_time < hi,
        )
    ):
        if u in creators and created is not None:
            key, _ = _period_of(created, weekly, tz)
            got[(str(u), key)].append(created)

    # Everyone's schedules at once (weekly periods reach into the weeks around the range).
    schedules = repo_attendance.scheduled_days_of(
        conn, corp_id, sorted(creators), start - timedelta(days=6), end + timedelta(days=6)
    )
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
        for key, due in _periods(schedules.get(userid, {}), start, end, weekly):
            if due < first or due > last:
                continue
            deadline = deadlines.get(due)
            if deadline is None:
                deadline = deadlines[due] = day_start(due + timedelta(days=1), tz)
            times = got.get((userid, key), [])
            status: Status
            if not times:
                status = "missing"
            elif min(times) < deadline:
                status = "submitted"
            else:
                status = "late"
            counts[status] += 1
            result.days.append(PersonDay(userid, name, dept_label, due, status))
        result.people[userid] = {"name": name, "dept": dept_label, **counts}
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
    result.days.sort(key=lambda p: (p.dept, p.userid, p.day))
    result.departments = sorted(rates.values(), key=lambda d: (d.name, d.dept_id or 0))
    return result


def _periods(
    scheduled: dict[date, bool], start: date, end: date, weekly: bool
) -> list[tuple[date, date]]:
    """``(period key, due date)`` for a person with the synced schedule ``scheduled``
    (``{work_date: works}``, :func:`working_days`' rule): each working day, or each week
    whose last working day falls in ``[start, end]`` (key = the week's Monday)."""
    if not weekly:
        return [(d, d) for d in sorted(_working(scheduled, start, end))]
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
    cell (``yyyy-mm-dd``) in xlsx and ISO ``YYYY-MM-DD`` in csv. Returns the number of detail
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
        _sheet(
            wb,
            "个人汇总",
            ["部门", "姓名", "UserID", "应交", "已提交", "迟交", "未提交", "提交率"],
            (
                [p["dept"], p["name"], uid, p["submitted"] + p["late"] + p["missing"],
                 p["submitted"], p["late"], p["missing"], _ratio(p)]
                for uid, p in sorted(result.people.items(), key=lambda kv: (kv[1]["dept"], kv[0]))
            ),
        )  # fmt: skip
        _sheet(
            wb,
            "部门提交率",
            ["部门ID", "部门", "人数", "应交", "已提交", "迟交", "未提交", "提交率", "按时率"],
            (_dept_row(d) for d in result.departments),
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


def _ratio(p: dict[str, Any]) -> float:
    expected = p["submitted"] + p["late"] + p["missing"]
    return round((p["submitted"] + p["late"]) / expected, 4) if expected else 0.0
