"""Attendance (考勤) repositories over :mod:`dingsync.store.schema_attendance`.

Like :mod:`dingsync.store.repo`: functions take a ``Connection`` inside the caller's transaction
and never commit; rows are dicts keyed by column name; writes use the set-based
:func:`dingsync.store.repo.upsert`.

A synced window is *replaced*: DingTalk rewrites results after corrections and approvals (a
row may disappear or get a new id), so ``replace_*`` deletes what the window held for those
people and writes what DingTalk returned now. Work dates are ``datetime.date`` (Asia/Shanghai) in
and out, and stored as such: ``work_date`` columns are SQL ``DATE`` (migration 0009). A row may
also give its work date as an aware instant (DingTalk's ``workDate``, 00:00 Asia/Shanghai): it is
stored as its Asia/Shanghai calendar date (:func:`work_date_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    union,
    update,
)

from dingsync.store import repo, visibility
from dingsync.store.prebuilt import DriverSelect
from dingsync.store.schema import user_departments, users
from dingsync.store.schema_attendance import (
    attendance_approvals,
    attendance_column_values,
    attendance_columns,
    attendance_group_managers,
    attendance_group_members,
    attendance_groups,
    attendance_holidays,
    attendance_leave_types,
    attendance_leaves,
    attendance_records,
    attendance_results,
    attendance_schedules,
)
from dingsync.timeutil import SHANGHAI, day_start_ms, from_ms, local_date, to_ms

Row = dict[str, Any]
_IN_MAX = 500


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), _IN_MAX):
        yield values[i : i + _IN_MAX]


def work_date_at(day: date, tz: tzinfo = SHANGHAI) -> datetime:
    """The instant a work date starts: 00:00 of ``day`` in the company zone ``tz`` (aware, UTC)
    — the instant DingTalk's ``workDate`` (epoch ms) names. Not how it is stored (a ``DATE``)."""
    return from_ms(day_start_ms(day, tz))


def work_date_of(moment: datetime, tz: tzinfo = SHANGHAI) -> date:
    """An aware instant (e.g. DingTalk's ``workDate``) → its calendar date in the company zone
    ``tz``. Raises ``ValueError`` for a naive datetime (its zone would be a guess)."""
    return local_date(to_ms(moment), tz)


def _stored(row: Row) -> Row:
    """``row`` with its ``work_date`` as a calendar date: an instant is turned into its
    Asia/Shanghai date (a ``DATE`` column would otherwise keep the instant's UTC date)."""
    day = row.get("work_date")
    if isinstance(day, datetime):
        return {**row, "work_date": work_date_of(day)}
    return row


def _with_corp(corp_id: str, rows: Iterable[Row]) -> list[Row]:
    return [{**_stored(r), "corp_id": corp_id} for r in rows]


# --------------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------------
def replace_groups(
    conn: Connection,
    corp_id: str,
    groups: Iterable[Row],
    members: dict[int, list[str]],
    managers: dict[int, list[str]],
) -> int:
    """Upsert ``attendance_groups`` rows and set each listed group's members and managers to
    exactly ``members[group_id]`` / ``managers[group_id]``. Returns the groups written."""
    group_rows = _with_corp(corp_id, groups)
    n = repo.upsert(conn, attendance_groups, group_rows, ["corp_id", "group_id"])
    for table, mapping in (
        (attendance_group_members, members),
        (attendance_group_managers, managers),
    ):
        for group_id, userids in mapping.items():
            conn.execute(
                delete(table).where(table.c.corp_id == corp_id, table.c.group_id == group_id)
            )
            repo.upsert(
                conn,
                table,
                [{"corp_id": corp_id, "group_id": group_id, "userid": u} for u in userids],
                ["corp_id", "group_id", "userid"],
            )
    return n


# --------------------------------------------------------------------------------------------
# Windows of results, schedules, punches, leave, column values
# --------------------------------------------------------------------------------------------
def _delete_for_users(
    conn: Connection, t: Table, corp_id: str, userids: Sequence[str], *bounds: tuple[str, str, Any]
) -> None:
    """Delete ``t``'s rows of ``userids`` within ``bounds`` (``(column, operator, value)``, see
    :func:`dingsync.store.repo.delete_in_window`): a window about to be rewritten (DingTalk
    rewrites results, schedules, punches and leave after corrections)."""
    repo.delete_in_window(conn, t, corp_id, "userid", userids, *bounds)


def _delete_work_date_window(
    conn: Connection, t: Table, corp_id: str, userids: Sequence[str], start: date, end: date
) -> None:
    """Delete ``t``'s rows of ``userids`` on work dates ``start..end``."""
    _delete_for_users(
        conn, t, corp_id, userids, ("work_date", ">=", start), ("work_date", "<=", end)
    )


def replace_results(
    conn: Connection,
    corp_id: str,
    userids: Sequence[str],
    start: date,
    end: date,
    rows: Iterable[Row],
) -> int:
    """Replace the results of ``userids`` on work dates ``start..end`` with ``rows``."""
    t = attendance_results
    _delete_work_date_window(conn, t, corp_id, userids, start, end)
    return repo.upsert(conn, t, _with_corp(corp_id, rows), ["corp_id", "id"])


def replace_schedules(
    conn: Connection,
    corp_id: str,
    userids: Sequence[str],
    start: date,
    end: date,
    rows: Iterable[Row],
) -> int:
    """Replace the schedules of ``userids`` on work dates ``start..end`` with ``rows``."""
    t = attendance_schedules
    _delete_work_date_window(conn, t, corp_id, userids, start, end)
    return repo.upsert(
        conn, t, _with_corp(corp_id, rows), ["corp_id", "userid", "work_date", "check_type"]
    )


def replace_records(
    conn: Connection,
    corp_id: str,
    userids: Sequence[str],
    start: datetime,
    end: datetime,
    rows: Iterable[Row],
) -> int:
    """Replace the punches of ``userids`` punched in ``[start, end)`` (aware) with ``rows``."""
    t = attendance_records
    _delete_for_users(
        conn, t, corp_id, userids, ("user_check_time", ">=", start), ("user_check_time", "<", end)
    )
    return repo.upsert(conn, t, _with_corp(corp_id, rows), ["corp_id", "id"])


#: Column order of the tuples :func:`replace_result_tuples` takes (``corp_id`` is added).
RESULT_COLUMNS = (
    "id",
    "userid",
    "work_date",
    "check_type",
    "time_result",
    "location_result",
    "source_type",
    "group_id",
    "plan_id",
    "record_id",
    "approve_id",
    "proc_inst_id",
    "base_check_time",
    "user_check_time",
    "raw",
)
#: Column order of the tuples :func:`replace_record_tuples` takes (``corp_id`` is added).
RECORD_COLUMNS = (
    "id",
    "userid",
    "user_check_time",
    "work_date",
    "check_type",
    "time_result",
    "location_result",
    "source_type",
    "is_legal",
    "invalid_record_type",
    "invalid_record_msg",
    "user_address",
    "user_latitude",
    "user_longitude",
    "user_accuracy",
    "location_method",
    "device_sn",
    "outside_remark",
    "proc_inst_id",
    "raw",
)
#: Column order of the tuples :func:`replace_schedule_tuples` takes (``corp_id`` is added).
SCHEDULE_COLUMNS = (
    "userid",
    "work_date",
    "check_type",
    "schedule_id",
    "group_id",
    "shift_id",
    "is_rest",
    "plan_check_time",
    "raw",
)


#: The columns a chunk's window ``DELETE`` selects on (:func:`repo.analyze_when_grown`).
_WINDOW_COLUMNS = ("corp_id", "userid", "work_date")


def _tuples_with_corp(corp_id: str, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [(corp_id, *row) for row in rows]


def replace_result_tuples(
    conn: Connection,
    corp_id: str,
    userids: Sequence[str],
    start: date,
    end: date,
    rows: Iterable[Sequence[Any]],
) -> int:
    """:func:`replace_results` for rows given as tuples in :data:`RESULT_COLUMNS` order
    (``work_date`` a ``date``; ``base_check_time``/``user_check_time`` aware datetimes or epoch
    ms; ``raw`` the JSON value): the same rows stored, through
    :func:`dingsync.store.repo.upsert_tuples` (values processed column by column)."""
    t = attendance_results
    tuples = _tuples_with_corp(corp_id, rows)
    repo.analyze_when_grown(conn, t, len(tuples), _WINDOW_COLUMNS)
    _delete_work_date_window(conn, t, corp_id, userids, start, end)
    return repo.upsert_tuples(conn, t, ("corp_id", *RESULT_COLUMNS), tuples, ["corp_id", "id"])


def replace_record_tuples(
    conn: Connection,
    corp_id: str,
    userids: Sequence[str],
    start: datetime,
    end: datetime,
    rows: Iterable[Sequence[Any]],
) -> int:
    """:func:`replace_records` for rows given as tuples in :data:`RECORD_COLUMNS` order
    (``user_check_time`` an aware datetime or epoch ms; see :func:`replace_result_tuples`)."""
    t = attendance_records
    tuples = _tuples_with_corp(corp_id, rows)
    repo.analyze_when_grown(conn, t, len(tuples), ("corp_id", "userid", "user_check_time"))
    _delete_for_users(
        conn, t, corp_id, userids, ("user_check_time", ">=", start), ("user_check_time", "<", end)
    )
    return repo.upsert_tuples(conn, t, ("corp_id", *RECORD_COLUMNS), tuples, ["corp_id", "id"])


def replace_schedule_tuples(
    conn: Connection,
    corp_id: str,
    userids: Sequence[str],
    start: date,
    end: date,
    rows: Iterable[Sequence[Any]],
) -> int:
    """:func:`replace_schedules` for rows given as tuples in :data:`SCHEDULE_COLUMNS` order
    (see :func:`replace_result_tuples`)."""
    t = attendance_schedules
    tuples = _tuples_with_corp(corp_id, rows)
    repo.analyze_when_grown(conn, t, len(tuples), _WINDOW_COLUMNS)
    _delete_work_date_window(conn, t, corp_id, userids, start, end)
    return repo.upsert_tuples(
        conn,
        t,
        ("corp_id", *SCHEDULE_COLUMNS),
        tuples,
        ["corp_id", "userid", "work_date", "check_type"],
    )


def replace_leaves(
    conn: Connection,
    corp_id: str,
    userids: Sequence[str],
    start: datetime,
    end: datetime,
    rows: Iterable[Row],
) -> int:
    """Replace the leave of ``userids`` overlapping ``[start, end)`` (aware) with ``rows``."""
    t = attendance_leaves
    _delete_for_users(conn, t, corp_id, userids, ("start_time", "<", end), ("end_time", ">", start))
    return repo.upsert(
        conn, t, _with_corp(corp_id, rows), ["corp_id", "userid", "start_time", "leave_code"]
    )


def upsert_columns(conn: Connection, corp_id: str, rows: Iterable[Row]) -> int:
    """Upsert report column definitions (only those with an id)."""
    return repo.upsert(
        conn, attendance_columns, _with_corp(corp_id, rows), ["corp_id", "column_id"]
    )


def replace_leave_types(conn: Connection, corp_id: str, rows: Iterable[Row]) -> int:
    """Replace the company's leave types (``vacation/type/list``) with ``rows``
    (``leave_code, leave_name, leave_view_unit, day_length, position, raw``)."""
    t = attendance_leave_types
    conn.execute(delete(t).where(t.c.corp_id == corp_id))
    return repo.upsert(conn, t, _with_corp(corp_id, rows), ["corp_id", "leave_code"])


def replace_approvals(
    conn: Connection,
    corp_id: str,
    userids: Sequence[str],
    start: datetime,
    end: datetime,
    rows: Iterable[Row],
) -> int:
    """Replace the approvals (trips, outings, overtime) of ``userids`` overlapping ``[start, end)``
    (aware) with ``rows``."""
    t = attendance_approvals
    _delete_for_users(conn, t, corp_id, userids, ("begin_time", "<", end), ("end_time", ">", start))
    return repo.upsert(conn, t, _with_corp(corp_id, rows), ["corp_id", "userid", "approve_id"])


def rebase_named_approvals(conn: Connection, corp_id: str, start: date, end: date) -> int:
    """Give the trips and outings whose stored work dates (``work_date`` — ``begin_time``'s
    date — to ``end_work_date``) lie on ``start..end`` the work date of the results that name
    them (``attendance_results.approve_id``) when that is earlier: a night shift's outing from
    04:30 to 07:30 belongs to the work date the shift began on, the day before its own date,
    and DingTalk fixes that work date's off-duty check with it. The span moves back by as many
    days and never ends before the last work date naming it (a trip from Saturday 04:30 to
    Monday named by Friday's and Monday's results: Friday..Monday). Returns the rows changed;
    run after the range's results and approvals are stored (the attendance sync's last step)."""
    r, a = attendance_results, attendance_approvals
    named: dict[tuple[str, str], tuple[date, date]] = {}
    for row in conn.execute(
        select(r.c.userid, r.c.approve_id, func.min(r.c.work_date), func.max(r.c.work_date))
        .where(
            r.c.corp_id == corp_id,
            r.c.work_date >= start - timedelta(days=1),
            r.c.work_date <= end,
            r.c.approve_id.is_not(None),
        )
        .group_by(r.c.userid, r.c.approve_id)
    ):
        named[(row[0], str(row[1]))] = (row[2], row[3])
    if not named:
        return 0
    changed = 0
    for row in conn.execute(
        select(a.c.userid, a.c.approve_id, a.c.work_date, a.c.end_work_date).where(
            a.c.corp_id == corp_id, a.c.work_date >= start, a.c.work_date <= end
        )
    ):
        dates = named.get((row.userid, row.approve_id))
        if dates is None or dates[0] >= row.work_date:
            continue
        first, last_named = dates
        shift = row.work_date - first
        last = max((row.end_work_date or row.work_date) - shift, last_named, first)
        conn.execute(
            update(a)
            .where(a.c.corp_id == corp_id, a.c.userid == row.userid)
            .where(a.c.approve_id == row.approve_id)
            .values(work_date=first, end_work_date=last)
        )
        changed += 1
    return changed


def replace_holidays(
    conn: Connection,
    corp_id: str,
    userids: Sequence[str],
    start: date,
    end: date,
    rows: Iterable[Row],
) -> int:
    """Replace the public holidays of ``userids`` on work dates ``start..end`` with ``rows``
    (``userid, work_date, holiday_name, holiday_type``)."""
    t = attendance_holidays
    _delete_work_date_window(conn, t, corp_id, userids, start, end)
    return repo.upsert(conn, t, _with_corp(corp_id, rows), ["corp_id", "userid", "work_date"])


def load_holidays(
    conn: Connection, corp_id: str, start: date, end: date, userids: Sequence[str] | None = None
) -> list[Row]:
    """Public holidays (``userid, work_date, holiday_name, holiday_type``) on ``start..end``."""
    return _select_window(conn, attendance_holidays, corp_id, start, end, userids)


def load_records(
    conn: Connection, corp_id: str, start: date, end: date, userids: Sequence[str] | None = None
) -> list[Row]:
    """Punches (``/attendance/listRecord`` rows) whose work date is in ``start..end``."""
    return _select_window(conn, attendance_records, corp_id, start, end, userids)


def load_approvals(
    conn: Connection, corp_id: str, start: date, end: date, userids: Sequence[str] | None = None
) -> list[Row]:
    """Approvals (trips, outings, overtime) whose work dates overlap ``start..end``: from the
    work date of ``begin_time`` to ``end_work_date`` (that of ``end_time``; ``work_date`` for
    rows synced before migration 0024) — a trip from Friday to Monday is read for any of the
    four days."""
    t = attendance_approvals
    cond = [
        t.c.corp_id == corp_id,
        t.c.work_date <= end,
        func.coalesce(t.c.end_work_date, t.c.work_date) >= start,
    ]
    out: list[Row] = []
    for part in [None] if userids is None else list(_chunks(list(userids))):
        stmt = select(t).where(*cond, *([] if part is None else [t.c.userid.in_(part)]))
        out.extend(dict(r) for r in conn.execute(stmt).mappings())
    return out


def approval_days(approval: Row, dates: Iterable[date]) -> set[date]:
    """The work dates of ``dates`` (a person's scheduled days) that ``approval`` (an
    ``attendance_approvals`` row) spans — ``work_date..end_work_date`` — and its own work date:
    the 每日统计 days it is on (:func:`_day_keys` selects the same in SQL)."""
    first = approval["work_date"]
    last = approval.get("end_work_date") or first
    return {first} | {d for d in dates if first <= d <= last}


def load_leave_types(conn: Connection, corp_id: str) -> list[Row]:
    """The company's leave types in DingTalk's order: ``{leave_code, leave_name,
    leave_view_unit, day_length (hours_in_per_day), position}`` (empty before they were synced)."""
    t = attendance_leave_types
    stmt = (
        select(t.c.leave_code, t.c.leave_name, t.c.leave_view_unit, t.c.day_length, t.c.position)
        .where(t.c.corp_id == corp_id)
        .order_by(t.c.position, t.c.leave_code)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def replace_column_values(
    conn: Connection, corp_id: str, userid: str, start: date, end: date, rows: Iterable[Row]
) -> int:
    """Replace one person's column values on ``start..end`` with ``rows``."""
    t = attendance_column_values
    conn.execute(
        delete(t).where(
            t.c.corp_id == corp_id,
            t.c.userid == userid,
            t.c.work_date >= start,
            t.c.work_date <= end,
        )
    )
    return repo.upsert(
        conn,
        t,
        [{**_stored(r), "corp_id": corp_id, "userid": userid} for r in rows],
        ["corp_id", "userid", "column_id", "work_date"],
    )


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------
def scheduled_days(
    conn: Connection, corp_id: str, userid: str, start: date, end: date
) -> dict[date, bool]:
    """``{work_date: works}`` for each work date in ``start..end`` (inclusive) with a synced
    schedule of ``userid``: ``True`` when some check of the day is not a rest day (a shift),
    ``False`` on a rest day. Dates without a synced schedule are absent."""
    t = attendance_schedules
    out: dict[date, bool] = {}
    for work_date, is_rest in conn.execute(
        select(t.c.work_date, t.c.is_rest).where(
            t.c.corp_id == corp_id,
            t.c.userid == userid,
            t.c.work_date >= start,
            t.c.work_date <= end,
        )
    ):
        out[work_date] = out.get(work_date, False) or not is_rest
    return out


def scheduled_days_of(
    conn: Connection, corp_id: str, userids: Sequence[str], start: date, end: date
) -> dict[str, dict[date, bool]]:
    """:func:`scheduled_days` for many people in one query per 500 of them:
    ``{userid: {work_date: works}}`` (people without a synced schedule in the range absent)."""
    t = attendance_schedules
    out: dict[str, dict[date, bool]] = {}
    for chunk in _chunks(sorted(set(userids))):
        for userid, work_date, is_rest in conn.execute(
            select(t.c.userid, t.c.work_date, t.c.is_rest).where(
                t.c.corp_id == corp_id,
                t.c.userid.in_(chunk),
                t.c.work_date >= start,
                t.c.work_date <= end,
            )
        ):
            days = out.setdefault(str(userid), {})
            days[work_date] = days.get(work_date, False) or not is_rest
    return out


def schedule_exceptions_of(
    conn: Connection, corp_id: str, userids: Sequence[str], start: date, end: date
) -> dict[str, dict[date, bool]]:
    """:func:`scheduled_days_of` without the days that agree with Monday–Friday: ``{userid:
    {work_date: works}}`` only where a synced schedule makes a weekday a rest day or a weekend
    day a working day (holidays, 调休). Days absent are Monday–Friday work days either way, so a
    caller with that default gets the same answer from far fewer rows: the days are grouped and
    compared in SQL (the weekend dates of the range are passed as literals — no dialect's
    day-of-week function)."""
    t = attendance_schedules
    weekend: list[date] = []
    day = start
    while day <= end:
        if day.weekday() >= 5:
            weekend.append(day)
        day += timedelta(days=1)
    works = func.max(case((t.c.is_rest, 0), else_=1))
    default = case((t.c.work_date.in_(weekend), 0), else_=1) if weekend else literal(1)
    out: dict[str, dict[date, bool]] = {}
    for chunk in _chunks(sorted(set(userids))):
        for userid, work_date, on in conn.execute(
            select(t.c.userid, t.c.work_date, works)
            .where(
                t.c.corp_id == corp_id,
                t.c.userid.in_(chunk),
                t.c.work_date >= start,
                t.c.work_date <= end,
            )
            .group_by(t.c.userid, t.c.work_date)
            .having(works != default)
        ):
            out.setdefault(str(userid), {})[work_date] = bool(on)
    return out


def working_days(
    conn: Connection, corp_id: str, userid: str, start: date, end: date
) -> set[date] | None:
    """The work dates in ``start..end`` (inclusive) on which ``userid`` is scheduled to work
    (a synced schedule that is not a rest day), or ``None`` when no schedule at all is synced
    for that person in the range (then the caller must not assume anything)."""
    days = scheduled_days(conn, corp_id, userid, start, end)
    if not days:
        return None
    return {day for day, works in days.items() if works}


def _select_window(
    conn: Connection,
    table: Any,
    corp_id: str,
    start: date,
    end: date,
    userids: Sequence[str] | None,
) -> list[Row]:
    cond = [
        table.c.corp_id == corp_id,
        table.c.work_date >= start,
        table.c.work_date <= end,
    ]
    out: list[Row] = []
    if userids is None:
        out.extend(dict(r) for r in conn.execute(select(table).where(and_(*cond))).mappings())
    else:
        for part in _chunks(list(userids)):
            stmt = select(table).where(and_(*cond, table.c.userid.in_(part)))
            out.extend(dict(r) for r in conn.execute(stmt).mappings())
    return out


def load_results(
    conn: Connection, corp_id: str, start: date, end: date, userids: Sequence[str] | None = None
) -> list[Row]:
    """Results on work dates ``start..end`` (all people, or ``userids``)."""
    return _select_window(conn, attendance_results, corp_id, start, end, userids)


def load_schedules(
    conn: Connection, corp_id: str, start: date, end: date, userids: Sequence[str] | None = None
) -> list[Row]:
    """Schedules on work dates ``start..end``."""
    return _select_window(conn, attendance_schedules, corp_id, start, end, userids)


def load_leaves(
    conn: Connection, corp_id: str, start: date, end: date, userids: Sequence[str] | None = None
) -> list[Row]:
    """Leave whose work date is in ``start..end``."""
    return _select_window(conn, attendance_leaves, corp_id, start, end, userids)


def load_column_values(
    conn: Connection, corp_id: str, start: date, end: date, userids: Sequence[str] | None = None
) -> list[Row]:
    """Column values on ``start..end`` joined with their column's ``alias``, ``name``
    (``column_name``) and ``sub_type`` (``column_sub_type``; 2 = text)."""
    rows = _select_window(conn, attendance_column_values, corp_id, start, end, userids)
    cols = {
        r.column_id: (r.alias, r.name, r.sub_type)
        for r in conn.execute(
            select(attendance_columns).where(attendance_columns.c.corp_id == corp_id)
        )
    }
    for r in rows:
        r["alias"], r["column_name"], r["column_sub_type"] = cols.get(
            r["column_id"], (None, None, None)
        )
    return rows


def group_names_by_user(conn: Connection, corp_id: str) -> dict[str, str]:
    """userid → the name of the attendance group the person belongs to."""
    m, g = attendance_group_members, attendance_groups
    stmt = (
        select(m.c.userid, g.c.group_name)
        .join(g, and_(g.c.corp_id == m.c.corp_id, g.c.group_id == m.c.group_id))
        .where(m.c.corp_id == corp_id)
    )
    return {r.userid: r.group_name or "" for r in conn.execute(stmt)}


def count_summary(conn: Connection, corp_id: str) -> dict[str, int]:
    """Rows stored per attendance table for ``corp_id`` (the demo/sync summary)."""
    tables = {
        "attendance_groups": attendance_groups,
        "attendance_group_members": attendance_group_members,
        "attendance_schedules": attendance_schedules,
        "attendance_results": attendance_results,
        "attendance_records": attendance_records,
        "attendance_leaves": attendance_leaves,
        "attendance_approvals": attendance_approvals,
        "attendance_leave_types": attendance_leave_types,
        "attendance_column_values": attendance_column_values,
    }
    return {
        name: int(conn.execute(select(func.count()).where(t.c.corp_id == corp_id)).scalar_one())
        for name, t in tables.items()
    }


# --------------------------------------------------------------------------------------------
# Read queries of the web API and the exports, filtered by a viewer's scope
# --------------------------------------------------------------------------------------------
def _work_date_range(column: Any, start: date | None, end: date | None) -> list[Any]:
    """Conditions for work dates ``start``..``end`` (inclusive) on a ``work_date`` column (a
    ``DATE``: the Asia/Shanghai calendar date, migration 0009)."""
    out: list[Any] = []
    if start is not None:
        out.append(column >= start)
    if end is not None:
        out.append(column <= end)
    return out


def list_attendance_results(
    conn: Connection,
    corp_id: str,
    visible: visibility.Visible,
    *,
    start: date | None = None,
    end: date | None = None,
    userid: str | None = None,
    dept_ids: Sequence[int] | None = None,
    time_result: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Attendance results (``/attendance/list`` rows) visible to ``visible``, by work date then
    user, and the total. ``start``/``end``: work dates (Asia/Shanghai calendar dates),
    inclusive; ``work_date`` comes back as a ``datetime.date``, times as aware UTC."""

    a = attendance_results
    cond: list[Any] = [
        a.c.corp_id == corp_id,
        visibility.visible_to(visible, corp_id, a.c.userid, group_col=a.c.group_id),
    ]
    cond += _work_date_range(a.c.work_date, start, end)
    if userid is not None:
        cond.append(a.c.userid == userid)
    if dept_ids is not None:
        cond.append(a.c.userid.in_(visibility.members_in(corp_id, dept_ids)))
    if time_result is not None:
        cond.append(a.c.time_result == time_result)
    total = int(conn.execute(select(func.count()).select_from(a).where(*cond)).scalar_one())
    rows = conn.execute(
        select(
            a.c.id,
            a.c.userid,
            a.c.work_date,
            a.c.check_type,
            a.c.time_result,
            a.c.location_result,
            a.c.source_type,
            a.c.group_id,
            a.c.base_check_time,
            a.c.user_check_time,
            a.c.proc_inst_id,
        )
        .where(*cond)
        .order_by(a.c.work_date, a.c.userid, a.c.base_check_time, a.c.id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(x) for x in rows], total


def attendance_summary(
    conn: Connection,
    corp_id: str,
    visible: visibility.Visible,
    *,
    start: date,
    end: date,
    userid: str | None = None,
    dept_ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Per person, for work dates ``start``..``end`` (Asia/Shanghai calendar dates, inclusive):
    ``days`` (with a result), ``checks`` and the count of each ``time_result`` (``Normal``,
    ``Late``, ``Early``, ``NotSigned``, …)."""

    a = attendance_results
    cond: list[Any] = [
        a.c.corp_id == corp_id,
        *_work_date_range(a.c.work_date, start, end),
        visibility.visible_to(visible, corp_id, a.c.userid, group_col=a.c.group_id),
    ]
    if userid is not None:
        cond.append(a.c.userid == userid)
    if dept_ids is not None:
        cond.append(a.c.userid.in_(visibility.members_in(corp_id, dept_ids)))
    out: dict[str, dict[str, Any]] = {}
    for row in conn.execute(
        select(a.c.userid, a.c.time_result, func.count())
        .where(*cond)
        .group_by(a.c.userid, a.c.time_result)
        .order_by(a.c.userid)
    ):
        entry = out.setdefault(row[0], {"userid": row[0], "checks": 0, "results": {}})
        entry["checks"] += int(row[2])
        entry["results"][row[1] or "Unknown"] = int(row[2])
    days: dict[str, int] = {
        str(r[0]): int(r[1])
        for r in conn.execute(
            select(a.c.userid, func.count(a.c.work_date.distinct()))
            .where(*cond)
            .group_by(a.c.userid)
        )
    }
    for userid_, entry in out.items():
        entry["days"] = int(days.get(userid_, 0))
    return list(out.values())


# --------------------------------------------------------------------------------------------
# The console's and the API's month, day and punch views (GET /api/attendance/monthly, /daily,
# /records, /stats), filtered by a viewer's scope in SQL and paged with LIMIT/OFFSET
# --------------------------------------------------------------------------------------------
#: ``time_result`` values counted as lateness (DingTalk's Late, SeriousLate, Absenteeism).
LATE_RESULTS = ("Late", "SeriousLate", "Absenteeism")
#: ``source_type`` values that are not a person's own punch (leave, the system).
NOT_A_PUNCH = ("APPROVE", "SYSTEM")


def people_visible(v: visibility.Visible, corp_id: str, userid_col: Any) -> Any:
    """The SQL condition "``userid_col`` is a person whose attendance ``v`` admits": everyone;
    the viewer (``owner``); members of ``dept_ids``; members of the attendance groups
    ``group_ids`` (``attendance_group_members``) — the people the ``attendance`` export of the
    same scope writes. For tables without a group column (punches, people of a month)."""
    cond = visibility.visible_to(v, corp_id, userid_col)
    if v.everything or not v.group_ids:
        return cond
    m = attendance_group_members
    members = select(m.c.userid).where(
        m.c.corp_id == corp_id, m.c.group_id.in_(sorted(v.group_ids))
    )
    return or_(cond, userid_col.in_(members))


def visible_userids(
    conn: Connection, corp_id: str, v: visibility.Visible, userids: Sequence[str] | None = None
) -> set[str] | None:
    """The people of ``userids`` (or of the directory and the attendance groups) whose
    attendance ``v`` admits (:func:`people_visible`); ``None`` when ``v`` admits everyone."""
    if v.everything:
        return None
    ud, m = user_departments, attendance_group_members
    known = union(
        select(ud.c.userid.label("userid")).where(ud.c.corp_id == corp_id),
        select(m.c.userid.label("userid")).where(m.c.corp_id == corp_id),
        select(users.c.userid.label("userid")).where(users.c.corp_id == corp_id),
    ).subquery()
    stmt = select(known.c.userid).where(people_visible(v, corp_id, known.c.userid))
    if userids is not None:
        stmt = stmt.where(known.c.userid.in_(sorted(set(userids))))
    return {str(u) for u in conn.execute(stmt).scalars()}


def month_people(
    conn: Connection,
    corp_id: str,
    v: visibility.Visible,
    *,
    start: date,
    end: date,
    dept_ids: Sequence[int] | None = None,
    userid: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[str], int]:
    """The people of the monthly summary (:func:`dingsync.export.attendance.monthly_summary`:
    everyone with a result or a schedule on work dates ``start..end``) that ``v`` admits
    (:func:`people_visible`), in ``dept_ids`` when given, by name then userid: one page of
    userids and the total. People are those of the directory (``users``, leavers included —
    the sync reads attendance for them), each checked with two index lookups (``EXISTS``)."""
    a, s, u = attendance_results, attendance_schedules, users
    has = or_(
        exists().where(
            a.c.corp_id == corp_id,
            a.c.userid == u.c.userid,
            *_work_date_range(a.c.work_date, start, end),
        ),
        exists().where(
            s.c.corp_id == corp_id,
            s.c.userid == u.c.userid,
            *_work_date_range(s.c.work_date, start, end),
        ),
    )
    cond: list[Any] = [u.c.corp_id == corp_id, has, people_visible(v, corp_id, u.c.userid)]
    if dept_ids is not None:
        cond.append(u.c.userid.in_(visibility.members_in(corp_id, dept_ids)))
    if userid is not None:
        cond.append(u.c.userid == userid)
    total = int(conn.execute(select(func.count()).select_from(u).where(*cond)).scalar_one())
    page = conn.execute(
        select(u.c.userid)
        .where(*cond)
        .order_by(func.coalesce(u.c.name, ""), u.c.userid)
        .limit(limit)
        .offset(offset)
    ).scalars()
    return [str(x) for x in page], total


def _results_cond(
    corp_id: str,
    v: visibility.Visible,
    start: date | None,
    end: date | None,
    userid: str | None,
    dept_ids: Sequence[int] | None,
) -> list[Any]:
    """The conditions of :func:`list_attendance_results` (``GET /api/attendance/results``)."""
    a = attendance_results
    cond: list[Any] = [
        a.c.corp_id == corp_id,
        visibility.visible_to(v, corp_id, a.c.userid, group_col=a.c.group_id),
        *_work_date_range(a.c.work_date, start, end),
    ]
    if userid is not None:
        cond.append(a.c.userid == userid)
    if dept_ids is not None:
        cond.append(a.c.userid.in_(visibility.members_in(corp_id, dept_ids)))
    return cond


#: ``attendance_approvals.biz_type`` of the approvals that make a day without results a
#: 每日统计 row: 1 overtime (加班), 2 trips and outings (出差 / 外出).
DAY_APPROVAL_TYPES = (1, 2)


def _valid_punch(t: Any) -> Any:
    """A punch that counts (``is_legal`` not ``N``; DingTalk leaves it out on some rows)."""
    return or_(t.c.is_legal.is_(None), t.c.is_legal != "N")


def _day_keys(
    corp_id: str,
    v: visibility.Visible,
    start: date,
    end: date,
    userid: str | None,
    dept_ids: Sequence[int] | None,
) -> Any:
    """``SELECT work_date, userid`` of every person-day of 每日统计 visible to ``v``: a day with
    results (the rows of ``GET /api/attendance/results``), and a day without any — a rest day
    or holiday — on which the person punched (a valid punch), had approved leave or a trip,
    outing or overtime approval (its work date, or a scheduled day it spans up to its
    ``end_work_date``), as DingTalk's 每日统计 lists them (UNION: each key once)."""
    parts: list[Any] = [
        select(attendance_results.c.work_date, attendance_results.c.userid).where(
            *_results_cond(corp_id, v, start, end, userid, dept_ids)
        )
    ]
    for t, extra in (
        (attendance_records, [_valid_punch(attendance_records)]),
        (attendance_leaves, []),
        (attendance_approvals, [attendance_approvals.c.biz_type.in_(DAY_APPROVAL_TYPES)]),
    ):
        cond: list[Any] = [
            t.c.corp_id == corp_id,
            t.c.work_date.is_not(None),
            people_visible(v, corp_id, t.c.userid),
            *_work_date_range(t.c.work_date, start, end),
            *extra,
        ]
        if userid is not None:
            cond.append(t.c.userid == userid)
        if dept_ids is not None:
            cond.append(t.c.userid.in_(visibility.members_in(corp_id, dept_ids)))
        parts.append(select(t.c.work_date, t.c.userid).where(*cond))
    # The scheduled days (rest days included) an approval spans past its first: the Saturday
    # and Sunday of a trip from Friday to Monday. Only approvals that end after their first day
    # and overlap the range can add one, and they are few: the conditions on ``a`` alone let
    # the database start from them and look each one's days up by the schedules' key (userid,
    # work_date), instead of matching every schedule of the range against every approval that
    # began before it (~0.4 s at 2,000 people × 30 days on SQLite).
    a, s = attendance_approvals, attendance_schedules
    cond = [
        a.c.corp_id == corp_id,
        a.c.biz_type.in_(DAY_APPROVAL_TYPES),
        a.c.end_work_date.is_not(None),
        a.c.end_work_date > a.c.work_date,
        s.c.corp_id == corp_id,
        people_visible(v, corp_id, s.c.userid),
        *_work_date_range(s.c.work_date, start, end),
        s.c.work_date > a.c.work_date,
        s.c.work_date <= a.c.end_work_date,
    ]
    if start is not None:
        cond.append(a.c.end_work_date >= start)
    if end is not None:
        cond.append(a.c.work_date < end)
    if userid is not None:
        cond.append(s.c.userid == userid)
    if dept_ids is not None:
        cond.append(s.c.userid.in_(visibility.members_in(corp_id, dept_ids)))
    joined = s.join(a, and_(a.c.corp_id == s.c.corp_id, a.c.userid == s.c.userid))
    parts.append(select(s.c.work_date, s.c.userid).select_from(joined).where(*cond))
    return union(*parts).subquery()


def list_days(
    conn: Connection,
    corp_id: str,
    v: visibility.Visible,
    *,
    start: date,
    end: date,
    userid: str | None = None,
    dept_ids: Sequence[int] | None = None,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = True,
) -> tuple[list[dict[str, Any]], int]:
    """Person-days of 每日统计 visible to ``v``: every day with results (the rows ``GET
    /api/attendance/results`` gives the same viewer with the same filters, grouped by person
    and work date) and every day without results — a rest day or holiday — with a valid punch,
    approved leave, or a trip, outing or overtime approval (:func:`_day_keys`). One page of
    ``{"userid", "work_date", "results": [result rows by check time], "schedules": [schedule
    rows], "punches": [valid punches by time, only on a day without results]}`` — by work date
    (newest first unless ``newest_first`` is false) then userid — and the total number of
    person-days. Only the page's rows are read."""
    a = attendance_results
    cond = _results_cond(corp_id, v, start, end, userid, dept_ids)
    keys = _day_keys(corp_id, v, start, end, userid, dept_ids)
    total = int(conn.execute(select(func.count()).select_from(keys)).scalar_one())
    order = keys.c.work_date.desc() if newest_first else keys.c.work_date
    page = [
        (r.work_date, str(r.userid))
        for r in conn.execute(
            select(keys.c.work_date, keys.c.userid)
            .order_by(order, keys.c.userid)
            .limit(limit)
            .offset(offset)
        )
    ]
    if not page:
        return [], total
    wanted = set(page)
    people = sorted({u for _, u in page})
    lo, hi = min(d for d, _ in page), max(d for d, _ in page)
    by_key: dict[tuple[date, str], dict[str, Any]] = {
        k: {"userid": k[1], "work_date": k[0], "results": [], "schedules": [], "punches": []}
        for k in page
    }
    for part in _chunks(people):
        rows = conn.execute(
            select(a)
            .where(*cond, a.c.userid.in_(part), a.c.work_date >= lo, a.c.work_date <= hi)
            .order_by(a.c.base_check_time, a.c.id)
        ).mappings()
        for r in rows:
            if (r["work_date"], r["userid"]) in wanted:
                by_key[(r["work_date"], r["userid"])]["results"].append(dict(r))
        s = attendance_schedules
        for r in conn.execute(
            select(s)
            .where(
                s.c.corp_id == corp_id,
                s.c.userid.in_(part),
                s.c.work_date >= lo,
                s.c.work_date <= hi,
            )
            .order_by(s.c.plan_check_time)
        ).mappings():
            if (r["work_date"], r["userid"]) in wanted:
                by_key[(r["work_date"], r["userid"])]["schedules"].append(dict(r))
        p = attendance_records
        for r in conn.execute(
            select(p)
            .where(
                p.c.corp_id == corp_id,
                p.c.userid.in_(part),
                p.c.work_date >= lo,
                p.c.work_date <= hi,
                _valid_punch(p),
            )
            .order_by(p.c.user_check_time, p.c.id)
        ).mappings():
            day = by_key.get((r["work_date"], r["userid"]))
            if day is not None:
                day["punches"].append(dict(r))
    for day in by_key.values():
        if day["results"]:
            day["punches"] = []  # a day with results shows its check points
    return [by_key[k] for k in page], total


def list_records(
    conn: Connection,
    corp_id: str,
    v: visibility.Visible,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    userid: str | None = None,
    dept_ids: Sequence[int] | None = None,
    check_type: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Punches (``/attendance/listRecord`` rows) of people ``v`` admits (:func:`people_visible`)
    punched in ``[start, end)`` (aware), newest first, and the total."""
    t = attendance_records
    cond: list[Any] = [t.c.corp_id == corp_id, people_visible(v, corp_id, t.c.userid)]
    if start is not None:
        cond.append(t.c.user_check_time >= start)
    if end is not None:
        cond.append(t.c.user_check_time < end)
    if userid is not None:
        cond.append(t.c.userid == userid)
    if dept_ids is not None:
        cond.append(t.c.userid.in_(visibility.members_in(corp_id, dept_ids)))
    if check_type is not None:
        cond.append(t.c.check_type == check_type)
    total = int(conn.execute(select(func.count()).select_from(t).where(*cond)).scalar_one())
    rows = conn.execute(
        select(t)
        .where(*cond)
        .order_by(t.c.user_check_time.desc(), t.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(r) for r in rows], total


def person_days(
    conn: Connection,
    corp_id: str,
    v: visibility.Visible,
    *,
    start: date,
    end: date,
    dept_ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Per person-day with results visible to ``v`` (the results API's rows) on work dates
    ``start..end``: ``userid``, ``work_date``, ``late`` (Late, SeriousLate, Absenteeism),
    ``early`` and ``not_signed`` / ``signed`` check counts, and ``punched`` (attended: true
    when some signed check is the person's own punch, not leave or the system, or some check
    carries the ``approveId`` of a synced 出差 approval — a trip day is attended) — what
    :func:`dingsync.export.attendance.day_metrics` counts, in one grouped SQL query (the
    charts of ``GET /api/attendance/stats`` are sums of these)."""
    a = attendance_results
    tr = func.coalesce(a.c.time_result, "")
    src = func.coalesce(a.c.source_type, "")
    signed = tr != "NotSigned"
    ap = attendance_approvals
    trip_ids = select(ap.c.approve_id).where(
        ap.c.corp_id == corp_id, ap.c.biz_type == 2, ap.c.tag_name == "出差"
    )

    def count(when: Any) -> Any:
        return func.sum(case((when, 1), else_=0))

    stmt = (
        select(
            a.c.userid,
            a.c.work_date,
            count(tr.in_(LATE_RESULTS)),
            count(tr == "Early"),
            count(tr == "NotSigned"),
            count(signed),
            func.max(
                case(
                    (and_(signed, src.not_in(NOT_A_PUNCH)), 1),
                    # results carry approveId as a number, approvals store its text
                    (cast(a.c.approve_id, String(64)).in_(trip_ids), 1),
                    else_=0,
                )
            ),
        )
        .where(*_results_cond(corp_id, v, start, end, None, dept_ids))
        .group_by(a.c.userid, a.c.work_date)
    )
    keys = ("late", "early", "not_signed", "signed")
    return [
        {
            "userid": str(r[0]),
            "work_date": r[1],
            **{k: int(x or 0) for k, x in zip(keys, r[2:6], strict=True)},
            "punched": bool(r[6]),
        }
        for r in conn.execute(stmt)
    ]


def shift_names(conn: Connection, corp_id: str) -> dict[int, str]:
    """Shift (班次) id → name, from the synced groups' classes (``selected_class`` of
    ``getsimplegroups``: ``class_id``, ``class_name``)."""
    out: dict[int, str] = {}
    g = attendance_groups
    for (raw,) in conn.execute(select(g.c.raw).where(g.c.corp_id == corp_id)):
        for cls in (raw or {}).get("selected_class") or []:
            if isinstance(cls, dict) and cls.get("class_id") is not None:
                out[int(cls["class_id"])] = str(cls.get("class_name") or cls["class_id"])
    return out


def user_names(conn: Connection, corp_id: str, userids: Sequence[str]) -> dict[str, str]:
    """userid → name for ``userids`` (people not in the directory are left out)."""
    out: dict[str, str] = {}
    for part in _chunks(sorted(set(userids))):
        for r in conn.execute(
            select(users.c.userid, users.c.name).where(
                users.c.corp_id == corp_id, users.c.userid.in_(part)
            )
        ):
            out[str(r.userid)] = r.name or ""
    return out


# Every login and authenticated request asks it (the viewer): compiled once, run through the
# driver (:mod:`dingsync.store.prebuilt`).
_MANAGED_GROUPS = DriverSelect(
    select(attendance_group_managers.c.group_id).where(
        attendance_group_managers.c.corp_id == bindparam("corp"),
        attendance_group_managers.c.userid == bindparam("uid"),
    )
)


def managed_attendance_groups(conn: Connection, corp_id: str, userid: str) -> list[int]:
    """Attendance groups ``userid`` manages (``attendance_group_managers``)."""
    rows = _MANAGED_GROUPS.execute(conn, {"corp": corp_id, "uid": userid})
    return [int(g) for (g,) in rows]


def attendance_group_userids(conn: Connection, corp_id: str, group_ids: Sequence[int]) -> set[str]:
    """Members of the given attendance groups (``attendance_group_members``)."""
    m = attendance_group_members
    if not group_ids:
        return set()
    return set(
        conn.execute(
            select(m.c.userid).where(m.c.corp_id == corp_id, m.c.group_id.in_(sorted(group_ids)))
        ).scalars()
    )


def attendance_days(
    conn: Connection, corp_id: str, visible: visibility.Visible, *, start: date, end: date
) -> int:
    """Person-days with a result visible to ``visible`` for work dates ``start``..``end``
    (inclusive): the sum of :func:`attendance_summary`'s ``days`` over its people, counted in
    SQL (``COUNT`` of distinct ``(userid, work_date)``)."""
    a = attendance_results
    cond: list[Any] = [
        a.c.corp_id == corp_id,
        *_work_date_range(a.c.work_date, start, end),
        visibility.visible_to(visible, corp_id, a.c.userid, group_col=a.c.group_id),
    ]
    pairs = select(a.c.userid, a.c.work_date).where(*cond).distinct().subquery()
    return int(conn.execute(select(func.count()).select_from(pairs)).scalar_one())
