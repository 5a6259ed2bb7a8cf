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
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, select

from dingsync.store import repo, visibility
from dingsync.store.schema_attendance import (
    attendance_approvals,
    attendance_column_values,
    attendance_columns,
    attendance_group_managers,
    attendance_group_members,
    attendance_groups,
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
    conn: Connection, t: Table, corp_id: str, userids: Sequence[str], *window: Any
) -> None:
    """Delete ``t``'s rows of ``userids`` matching ``window`` (a window about to be rewritten:
    DingTalk rewrites results, schedules, punches and leave after corrections)."""
    for part in _chunks(list(userids)):
        conn.execute(delete(t).where(t.c.corp_id == corp_id, t.c.userid.in_(part), *window))


def _delete_work_date_window(
    conn: Connection, t: Table, corp_id: str, userids: Sequence[str], start: date, end: date
) -> None:
    """Delete ``t``'s rows of ``userids`` on work dates ``start..end``."""
    _delete_for_users(
        conn,
        t,
        corp_id,
        userids,
        t.c.work_date >= start,
        t.c.work_date <= end,
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
        conn, t, corp_id, userids, t.c.user_check_time >= start, t.c.user_check_time < end
    )
    return repo.upsert(conn, t, _with_corp(corp_id, rows), ["corp_id", "id"])


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
    _delete_for_users(conn, t, corp_id, userids, t.c.start_time < end, t.c.end_time > start)
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
    """Replace the approvals (trips, outings) of ``userids`` overlapping ``[start, end)``
    (aware) with ``rows``."""
    t = attendance_approvals
    _delete_for_users(conn, t, corp_id, userids, t.c.begin_time < end, t.c.end_time > start)
    return repo.upsert(conn, t, _with_corp(corp_id, rows), ["corp_id", "userid", "approve_id"])


def load_approvals(
    conn: Connection, corp_id: str, start: date, end: date, userids: Sequence[str] | None = None
) -> list[Row]:
    """Approvals (trips, outings) whose work date (of ``begin_time``) is in ``start..end``."""
    return _select_window(conn, attendance_approvals, corp_id, start, end, userids)


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
    """Column values on ``start..end`` joined with their column's ``alias`` and ``name``."""
    rows = _select_window(conn, attendance_column_values, corp_id, start, end, userids)
    cols = {
        r.column_id: (r.alias, r.name)
        for r in conn.execute(
            select(attendance_columns).where(attendance_columns.c.corp_id == corp_id)
        )
    }
    for r in rows:
        r["alias"], r["column_name"] = cols.get(r["column_id"], (None, None))
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


def managed_attendance_groups(conn: Connection, corp_id: str, userid: str) -> list[int]:
    """Attendance groups ``userid`` manages (``attendance_group_managers``)."""
    m = attendance_group_managers
    return [
        int(g)
        for g in conn.execute(
            select(m.c.group_id).where(m.c.corp_id == corp_id, m.c.userid == userid)
        ).scalars()
    ]


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
