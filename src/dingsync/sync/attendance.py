"""Attendance sync (考勤): groups, schedules, results, punches, leave and report columns.

An :class:`~dingsync.sync.incremental.IncrementalEntity` with a work-date cursor. Plan, for
every active person (``users.status = 'active'``, from the directory sync; frozen with the plan)
and the work dates ``start..end`` (calendar days of the company's zone, ``ctx.tz``):

1. Groups (``getsimplegroups``) with their members and managers — one unit.
2. One unit per chunk of ≤ 50 people × ≤ 7 work dates (DingTalk's caps, so each chunk is one
   window of every API): results (``/attendance/list``, paged), schedules
   (``schedule/listbyusers``) and punches (``/attendance/listRecord``, by punch time; the last
   chunk also reads the day after ``end``, where a night shift's off-duty punch lies). The
   chunk's window is *replaced* in one transaction with its checkpoint. Chunks start longest
   window first (:func:`chunk_order`), ``CHUNK_CONCURRENCY`` fetching at a time.
3. One unit per ≤ 100 people: approved leave (``getleavestatus``) over the whole range; one
   unit: the company's leave types (``vacation/type/list``, names and units of 请假); one unit
   per ≤ 50 people: business trips and outings (``/v1.0/attendance/approvals/query``).
4. Optionally (``columns=True``) the report columns (``getattcolumns``) and, per person, their
   per-day values (``getcolumnval``, ≤ 31 days per call) for the cross-check of the monthly
   summary. One call per person per month: off by default to keep large syncs short.

Range: ``end`` is yesterday at the run's frozen ``now``; a full run reads the last ``days`` work
dates; an incremental run (``dingsync sync --incremental``) re-reads from ``recent_days`` before
the watermark (the latest synced work date; results change after corrections and approvals) up
to ``end``. :meth:`AttendanceSync.from_settings` reads ``DINGSYNC_ATTENDANCE_DAYS`` (7),
``DINGSYNC_ATTENDANCE_RECENT_DAYS`` (3) and ``DINGSYNC_ATTENDANCE_COLUMNS`` (off) from
:class:`dingsync.config.Settings`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, select

import dingsync.timeutil as timeutil
from dingsync.config import Settings
from dingsync.dingtalk.attendance import (
    APPROVALS_MAX_USERS,
    BIZ_OVERTIME,
    BIZ_TRIP,
    LEAVE_MAX_USERS,
    LIST_MAX_DAYS,
    LIST_MAX_USERS,
    batches,
)
from dingsync.dingtalk.errors import DingTalkError
from dingsync.dingtalk.models.attendance import (
    AttendanceApproval,
    AttendanceRecord,
    AttendanceResult,
    LeaveStatus,
    ScheduleItem,
    UserHolidays,
    VacationType,
    parse_gmt8,
)
from dingsync.store import repo_attendance
from dingsync.store.schema import admins, from_ms, users
from dingsync.sync.engine import SyncContext
from dingsync.sync.incremental import IncrementalEntity, Plan
from dingsync.timeutil import SHANGHAI, WIRE_TZ, day_start_ms, local_date, split_dates, today

ENTITY = "attendance"
DEFAULT_DAYS = 7
DEFAULT_RECENT_DAYS = 3
#: How far back DingTalk serves punch details (listRecord: 180 days).
MAX_HISTORY_DAYS = 180
#: Checkpoint key of the run's frozen list of people.
PEOPLE_KEY = "@people"
#: Chunks fetching at the same time (enough to keep 20 QPS busy at ~100 ms a call and more;
#: with ``CHUNK_COMMIT_AHEAD``, what bounds the sync's memory whatever the company's size).
CHUNK_CONCURRENCY = 16
#: Chunks fetched and waiting for their commit beyond those fetching: a chunk gives its fetch
#: slot back once fetched, so that ``CHUNK_CONCURRENCY`` chunks keep paging
#: ``/attendance/list`` (the busiest API) while the writer commits the last ones; at most
#: ``CHUNK_CONCURRENCY + CHUNK_COMMIT_AHEAD`` chunks are in memory.
CHUNK_COMMIT_AHEAD = 4
#: The same bound for the other per-people units (leave, trips and holidays, column values),
#: apart from the chunks' so that they run alongside them: without it all of them were fetched
#: at once and waited for PostgreSQL's writer (its writes run in a thread) — 20,000 people's
#: leave, approvals and holidays in memory together, ~80 MB more peak RSS than SQLite.
UNIT_CONCURRENCY = 16
#: Calendar days after the range's last work date that its approvals and leave may fall on: a
#: shift across midnight (DingTalk's 次日, e.g. a night shift's 23:30–07:30) belongs to the
#: work date it starts on, so a trip, outing or leave of the last work date's night shift
#: (an outing 04:30–07:30) lies wholly on the next calendar day. The approvals and leave
#: units fetch and replace ``start`` 00:00 .. ``end`` + this + 1 day 00:00 (GMT+8).
SHIFT_OVERHANG_DAYS = 1


def day_start(day: date, tz: tzinfo = SHANGHAI) -> datetime:
    """00:00 of ``day`` in ``tz`` as an aware UTC datetime."""
    return timeutil.from_ms(day_start_ms(day, tz))


def work_date_of(ms: int | None, tz: tzinfo = SHANGHAI) -> date | None:
    """Epoch ms (a ``workDate``, a leave's start) → its calendar date in the company's zone."""
    return None if ms is None else _local_date(int(ms), tz)


@functools.lru_cache(maxsize=4096)
def _local_date(ms: int, tz: tzinfo) -> date:
    """:func:`~dingsync.timeutil.local_date`, cached: every row of a work date carries the same
    ``workDate`` (its midnight), so a page of 50 rows has a handful of distinct values."""
    return local_date(ms, tz)


# --------------------------------------------------------------------------------------------
# Row mapping
# --------------------------------------------------------------------------------------------
def _raw(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return data


def result_row(r: AttendanceResult, tz: tzinfo = SHANGHAI) -> dict[str, Any]:
    """An ``/attendance/list`` row → ``attendance_results`` row (work date in ``tz``, the
    company's zone). A ``NotSigned`` row's ``userCheckTime`` is only the base time, so it is
    stored as NULL (kept in ``raw``)."""
    return {
        "id": r.id,
        "userid": r.user_id,
        "work_date": work_date_of(r.work_date, tz),
        "check_type": r.check_type,
        "time_result": r.time_result,
        "location_result": r.location_result,
        "source_type": r.source_type,
        "group_id": r.group_id,
        "plan_id": r.plan_id,
        "record_id": r.record_id,
        "approve_id": r.approve_id,
        "proc_inst_id": r.proc_inst_id,
        "base_check_time": from_ms(r.base_check_time),
        "user_check_time": None if r.time_result == "NotSigned" else from_ms(r.user_check_time),
        "raw": _raw(r),
    }


def record_row(r: AttendanceRecord, tz: tzinfo = SHANGHAI) -> dict[str, Any]:
    """An ``/attendance/listRecord`` punch → ``attendance_records`` row (work date in ``tz``)."""
    return {
        "id": r.id,
        "userid": r.user_id,
        "user_check_time": from_ms(r.user_check_time),
        "work_date": work_date_of(r.work_date, tz),
        "check_type": r.check_type,
        "time_result": r.time_result,
        "location_result": r.location_result,
        "source_type": r.source_type,
        "is_legal": r.is_legal,
        "invalid_record_type": r.invalid_record_type,
        "invalid_record_msg": r.invalid_record_msg,
        "user_address": r.user_address,
        "user_latitude": r.user_latitude,
        "user_longitude": r.user_longitude,
        "user_accuracy": r.user_accuracy,
        "location_method": r.location_method,
        "device_sn": r.device_sn,
        "outside_remark": r.outside_remark,
        "proc_inst_id": r.proc_inst_id,
        "raw": _raw(r),
    }


@functools.lru_cache(maxsize=65536)
def _gmt8_utc(text: str | None) -> datetime | None:
    """``yyyy-MM-dd HH:mm:ss`` GMT+8 → aware UTC (cached: schedules repeat the same times)."""
    parsed = parse_gmt8(text)
    return parsed.astimezone(UTC) if parsed else None


def schedule_row(s: ScheduleItem) -> dict[str, Any]:
    """A ``schedule/listbyusers`` row → ``attendance_schedules`` row."""
    work = _gmt8_utc(s.work_date)
    return {
        "userid": s.userid,
        "work_date": work.astimezone(WIRE_TZ).date() if work else s.work_day,
        "check_type": s.check_type or "OnDuty",
        "schedule_id": s.id,
        "group_id": s.group_id,
        "shift_id": s.shift_id,
        "is_rest": (s.is_rest or "N").upper() == "Y",
        "plan_check_time": _gmt8_utc(s.plan_check_time),
        "raw": _raw(s),
    }


def leave_row(item: LeaveStatus, tz: tzinfo = SHANGHAI) -> dict[str, Any]:
    """A ``getleavestatus`` item → ``attendance_leaves`` row (work date: the start's date in
    ``tz``)."""
    return {
        "userid": item.userid,
        "start_time": from_ms(item.start_time),
        "end_time": from_ms(item.end_time),
        "leave_code": item.leave_code or "",
        "work_date": work_date_of(item.start_time, tz),
        "duration_unit": item.duration_unit,
        "duration_percent": item.duration_percent,
        "hours": item.hours,
        "raw": _raw(item),
    }


# Rows as tuples from the wire dicts (the attendance chunk's hot path: ~100 rows per call)
def result_values(item: dict[str, Any], tz: tzinfo = SHANGHAI) -> tuple[Any, ...]:
    """An ``/attendance/list`` item as ``client.attendance.list_result_items`` gives it →
    the ``attendance_results`` row of :func:`result_row` as a tuple in
    :data:`~dingsync.store.repo_attendance.RESULT_COLUMNS` order: the same values, with the
    check times left as epoch ms (the writer converts them) and ``raw`` the item itself."""
    get = item.get
    time_result = get("timeResult")
    return (
        item["id"],
        item["userId"],
        _local_date(item["workDate"], tz),
        item["checkType"],
        time_result,
        get("locationResult"),
        get("sourceType"),
        get("groupId"),
        get("planId"),
        get("recordId"),
        get("approveId"),
        get("procInstId"),
        get("baseCheckTime"),
        None if time_result == "NotSigned" else get("userCheckTime"),
        item,
    )


def record_values(item: dict[str, Any], tz: tzinfo = SHANGHAI) -> tuple[Any, ...]:
    """An ``/attendance/listRecord`` item (``list_record_items``) → the row of
    :func:`record_row` as a tuple in :data:`~dingsync.store.repo_attendance.RECORD_COLUMNS`
    order (punch time as epoch ms, ``raw`` the item; see :func:`result_values`)."""
    get = item.get
    work_date = get("workDate")
    return (
        item["id"],
        item["userId"],
        item["userCheckTime"],
        None if work_date is None else _local_date(work_date, tz),
        get("checkType"),
        get("timeResult"),
        get("locationResult"),
        get("sourceType"),
        get("isLegal"),
        get("invalidRecordType"),
        get("invalidRecordMsg"),
        get("userAddress"),
        get("userLatitude"),
        get("userLongitude"),
        get("userAccuracy"),
        get("locationMethod"),
        get("deviceSN"),
        get("outsideRemark"),
        get("procInstId"),
        item,
    )


@functools.lru_cache(maxsize=65536)
def _gmt8_day(text: str) -> date:
    """``yyyy-MM-dd HH:mm:ss`` GMT+8 → its calendar date (``ValueError`` if unparsable,
    ``AssertionError`` for an empty text, as :attr:`ScheduleItem.work_day` does)."""
    work = _gmt8_utc(text)
    if work is None:
        parsed = parse_gmt8(text)
        assert parsed is not None
        return parsed.date()
    return work.astimezone(WIRE_TZ).date()


def schedule_values(item: dict[str, Any]) -> tuple[Any, ...]:
    """A ``schedule/listbyusers`` item (``list_schedule_items``) → the row of
    :func:`schedule_row` as a tuple in
    :data:`~dingsync.store.repo_attendance.SCHEDULE_COLUMNS` order (``raw`` the item)."""
    get = item.get
    return (
        item["userid"],
        _gmt8_day(item["work_date"]),
        get("check_type") or "OnDuty",
        get("id"),
        get("group_id"),
        get("shift_id"),
        (get("is_rest") or "N").upper() == "Y",
        _gmt8_utc(get("plan_check_time")),
        item,
    )


def end_work_date(begin: datetime, end: datetime, tz: tzinfo = SHANGHAI) -> date:
    """The last work date an approval from ``begin`` to ``end`` (aware) covers, in ``tz``: the
    date of the last moment before ``end``, less a day when that moment's time of day is
    earlier than ``begin``'s (the approval ends in the morning after its last work date, as
    a night shift's 23:30–07:30 does); never before ``begin``'s date."""
    first = begin.astimezone(tz)
    last = max(first, (end - timedelta(seconds=1)).astimezone(tz))
    day = last.date()
    if day > first.date() and last.time() < first.time():
        day -= timedelta(days=1)
    return day


def approval_row(a: AttendanceApproval, tz: tzinfo = SHANGHAI) -> dict[str, Any]:
    """An ``approvals/query`` item → ``attendance_approvals`` row (work date: ``begin_time``'s
    date in ``tz`` — an earlier work date once that date's results name it, e.g. a night
    shift's outing after midnight: ``repo_attendance.rebase_named_approvals``;
    ``end_work_date``: the work date of ``end_time`` — its date, less a day when it falls at
    an earlier time of day than ``begin_time``, as a shift across midnight does: a trip from
    Friday 09:00 to Monday 18:00 spans Friday..Monday, a night shift's trip from 23:30 to 07:30
    the next day is one work date, one ending at 00:00 does not reach the next day)."""
    begin, end = a.begin, a.end
    assert begin is not None and end is not None
    return {
        "userid": a.user_id,
        "approve_id": a.approve_id,
        "biz_type": a.biz_type,
        "tag_name": a.tag_name,
        "sub_type": a.sub_type,
        "begin_time": begin,
        "end_time": end,
        "work_date": begin.astimezone(tz).date(),
        "duration_unit": a.duration_unit,
        "end_work_date": end_work_date(begin, end, tz),
        "raw": _raw(a),
    }


def holiday_rows(items: Iterable[UserHolidays]) -> list[dict[str, Any]]:
    """``/v1.0/attendance/holidays`` items → ``attendance_holidays`` rows (the work date is the
    GMT+8 day of DingTalk's ``workDate``)."""
    return [
        {
            "userid": item.user_id,
            "work_date": work_date_of(h.work_date, WIRE_TZ),
            "holiday_name": h.holiday_name,
            "holiday_type": h.holiday_type,
        }
        for item in items
        for h in item.holidays
    ]


def chunk_order(
    groups: list[list[str]], windows: list[tuple[date, date]]
) -> list[tuple[list[str], date, date]]:
    """Every chunk (a group of people × a date window) in the order the sync starts them: the
    longest windows first, so the short ones (a range's last, partial week: fewer
    ``/attendance/list`` pages each) fill the end of the run. ``/attendance/list`` is the
    busiest API and each chunk pages it one page after another: a chunk started last that is
    also a long one finishes alone, the limit unused (the tail beyond the rate-limit bound)."""
    ordered = sorted(windows, key=lambda w: (w[0] - w[1], w[0]))  # longest, then earliest
    return [(group, a, b) for a, b in ordered for group in groups]


# --------------------------------------------------------------------------------------------
# The entity
# --------------------------------------------------------------------------------------------
class AttendanceSync(IncrementalEntity):
    """The ``attendance`` sync entity (see the module docstring for the plan).

    ``days``: work dates of a full run (ending yesterday in the company's zone, ``ctx.tz``);
    ``recent_days``: how far an incremental run reaches back before the watermark (the latest
    synced work date); ``columns``: also sync report columns and their values; ``end``: last
    work date (default yesterday).
    """

    name = ENTITY
    cursor = "date"

    def __init__(
        self,
        *,
        days: int = DEFAULT_DAYS,
        recent_days: int = DEFAULT_RECENT_DAYS,
        columns: bool = False,
        end: date | None = None,
    ) -> None:
        self.days = max(1, days)
        self.recent_days = max(1, recent_days)
        self.overlap = self.recent_days - 1  # days re-read before the watermark, inclusive
        self.columns = columns
        self.end = end
        self._fetch_slots = asyncio.Semaphore(CHUNK_CONCURRENCY)
        self._chunk_slots = asyncio.Semaphore(CHUNK_CONCURRENCY + CHUNK_COMMIT_AHEAD)
        self._unit_slots = asyncio.Semaphore(UNIT_CONCURRENCY)

    @classmethod
    def from_settings(cls, settings: Settings) -> AttendanceSync:
        """The entity as ``DINGSYNC_ATTENDANCE_*`` configure it (see :class:`Settings`)."""
        return cls(
            days=settings.attendance_days,
            recent_days=settings.attendance_recent_days,
            columns=settings.attendance_columns,
        )

    # -- the range -----------------------------------------------------------------------------
    def range_end(self, now_ms: int, tz: tzinfo) -> date:
        """``end``, else yesterday in ``tz`` at the run's ``now``."""
        return self.end or today(tz, now=timeutil.from_ms(now_ms)) - timedelta(days=1)

    def full_start(self, end: Any, now_ms: int, tz: tzinfo) -> date:
        """``days`` work dates ending at ``end``."""
        last: date = end
        return last - timedelta(days=self.days - 1)

    def earliest(self, end: Any) -> date:
        """DingTalk serves punches for 180 days and results for about half a year."""
        last: date = end
        return last - timedelta(days=MAX_HISTORY_DAYS - 1)

    def _people(self, conn: Connection, corp_id: str) -> tuple[list[str], str]:
        ids = [
            r.userid
            for r in conn.execute(
                select(users.c.userid)
                .where(users.c.corp_id == corp_id, users.c.status == "active")
                .order_by(users.c.userid)
            )
        ]
        op = conn.execute(
            select(admins.c.userid)
            .where(admins.c.corp_id == corp_id, admins.c.sys_level == 1)
            .limit(1)
        ).scalar()
        return ids, str(op or (ids[0] if ids else ""))

    async def _frozen_people(self, ctx: SyncContext) -> tuple[list[str], str]:
        """The people (and the operator) of this run, frozen like the plan: a resumed run cuts
        the same chunks even when the directory changed in between."""
        stored = ctx.load_done(ENTITY).get(PEOPLE_KEY)
        if isinstance(stored, dict):
            return list(stored["people"]), str(stored["op"])
        with ctx.engine.connect() as conn:
            people, op_user = self._people(conn, ctx.corp_id)
        frozen = {"people": people, "op": op_user}
        await ctx.commit_unit(ENTITY, PEOPLE_KEY, lambda conn: None, frozen)
        return people, op_user

    async def run_units(self, ctx: SyncContext, plan: Plan) -> None:
        """Groups, then every chunk, leave and (optionally) column values concurrently."""
        start, end = plan.dates
        people, op_user = await self._frozen_people(ctx)
        if not people:
            return
        # A few chunks at a time, not all: each pages sequentially, so all chunks at once would
        # all finish at the very end and leave every write for after the last fetch; a bounded
        # set finishes one by one and their writes overlap the fetching (and memory stays low).
        self._fetch_slots = asyncio.Semaphore(CHUNK_CONCURRENCY)
        self._chunk_slots = asyncio.Semaphore(CHUNK_CONCURRENCY + CHUNK_COMMIT_AHEAD)
        self._unit_slots = asyncio.Semaphore(UNIT_CONCURRENCY)
        chunks = chunk_order(
            batches(people, LIST_MAX_USERS), split_dates(start, end, LIST_MAX_DAYS)
        )
        leave_groups = batches(people, LEAVE_MAX_USERS)
        tasks: list[Any] = [self._groups(ctx, op_user, start, end)]
        tasks += [self._chunk(ctx, op_user, g, a, b, end) for g, a, b in chunks]
        tasks += [self._leaves(ctx, g, start, end) for g in leave_groups]
        tasks.append(self._leave_types(ctx, op_user, start, end))
        approval_groups = batches(people, APPROVALS_MAX_USERS)
        tasks += [self._approvals(ctx, g, start, end) for g in approval_groups]
        total = 2 + len(chunks) + len(leave_groups) + len(approval_groups)
        if self.columns:
            tasks.append(self._columns(ctx, people, start, end))
            total += 1 + len(people)
        ctx.progress.add_total(ENTITY, total)
        await ctx.gather(tasks)
        # Trips and outings named by an earlier work date's results (a night shift's outing
        # after midnight) take that work date; every unit of the range is stored by now.
        last = end + timedelta(days=SHIFT_OVERHANG_DAYS)
        await ctx.write(
            lambda conn: repo_attendance.rebase_named_approvals(conn, ctx.corp_id, start, last)
        )

    # -- units ---------------------------------------------------------------------------------
    async def _groups(self, ctx: SyncContext, op_user: str, start: date, end: date) -> None:
        client = ctx.client

        async def fetch() -> tuple[list[Any], dict[int, list[str]]]:
            groups = await client.attendance.iter_groups().to_list()
            members = await asyncio.gather(
                *(
                    client.attendance.iter_group_member_userids(g.group_id, op_user).to_list()
                    for g in groups
                )
            )
            return groups, {g.group_id: m for g, m in zip(groups, members, strict=True)}

        def write(conn: Connection, data: tuple[list[Any], dict[int, list[str]]]) -> None:
            groups, members = data
            rows = [
                {
                    "group_id": g.group_id,
                    "group_name": g.group_name,
                    "type": g.type,
                    "is_default": g.is_default,
                    "member_count": g.member_count,
                    "default_class_id": g.default_class_id,
                    "owner_user_id": g.owner_user_id,
                    "work_day_list": list(g.work_day_list),
                    "raw": _raw(g),
                }
                for g in groups
            ]
            managers = {g.group_id: list(g.manager_list) for g in groups}
            repo_attendance.replace_groups(conn, ctx.corp_id, rows, members, managers)
            ctx.counts["attendance_groups"] += len(rows)
            ctx.counts["attendance_group_members"] += sum(len(m) for m in members.values())

        await ctx.unit(ENTITY, f"groups:{start}:{end}", fetch, write)
        ctx.progress.advance(ENTITY)

    async def _chunk(
        self,
        ctx: SyncContext,
        op_user: str,
        people: list[str],
        a: date,
        b: date,
        end: date,
    ) -> None:
        api = ctx.client.attendance
        # Punches are read by punch time; the last chunk also reads the day after the range,
        # where a night shift's off-duty (and very late on-duty) punch of ``end`` lies.
        punch_to = b + timedelta(days=1) if b == end else b

        async def fetch() -> tuple[list[Any], list[Any], list[Any]]:
            # Wire dicts validated like the models (``plain_item``), not models: the rows are
            # built from them directly and ``raw`` is the item itself.
            async with self._fetch_slots:
                results, schedules, records = await asyncio.gather(
                    api.list_result_items(people, a, b),
                    api.list_schedule_items(op_user, people, a, b),
                    api.list_record_items(people, a, punch_to),
                )
            return results, schedules, records

        def write(conn: Connection, data: tuple[list[Any], list[Any], list[Any]]) -> None:
            results, schedules, records = data
            cid, tz = ctx.corp_id, ctx.tz
            ctx.counts["attendance_results"] += repo_attendance.replace_result_tuples(
                conn, cid, people, a, b, [result_values(r, tz) for r in results]
            )
            ctx.counts["attendance_schedules"] += repo_attendance.replace_schedule_tuples(
                conn, cid, people, a, b, [schedule_values(s) for s in schedules]
            )
            ctx.counts["attendance_records"] += repo_attendance.replace_record_tuples(
                conn,
                cid,
                people,
                day_start(a, tz),
                day_start(punch_to + timedelta(days=1), tz),
                [record_values(r, tz) for r in records],
            )

        # The chunk's slot is held until it is committed, not only while it is fetched: when
        # the writer is slower than the fetches (PostgreSQL's writes run in a thread), fetched
        # chunks would otherwise pile up in memory waiting for it — 640 MB at 2,000 people.
        # Its fetch slot is given back once fetched (``CHUNK_COMMIT_AHEAD``).
        async with self._chunk_slots:
            await ctx.unit(ENTITY, f"chunk:{a}:{b}:{people[0]}:{people[-1]}", fetch, write)
        ctx.progress.advance(ENTITY)

    async def _approvals(self, ctx: SyncContext, people: list[str], start: date, end: date) -> None:
        """Business trips, outings (``bizType`` 2) and overtime (``bizType`` 1) of ``people``
        over the range (``/v1.0/attendance/approvals/query``), and the public holidays of
        their calendars (``/v1.0/attendance/holidays``), replaced in one transaction: 出差时长 /
        外出时长, which ``APPROVE`` results they cover, and 加班 by the day type. Either refused
        (no permission): that part is left as it was. The approvals' window runs
        ``SHIFT_OVERHANG_DAYS`` past ``end`` (those of the last work date's night shift)."""
        last = end + timedelta(days=SHIFT_OVERHANG_DAYS)

        async def fetch() -> tuple[list[AttendanceApproval] | None, list[UserHolidays] | None]:
            api = ctx.client.attendance
            try:
                approvals = await api.list_approvals(
                    people, start, last, biz_types=(BIZ_TRIP, BIZ_OVERTIME)
                )
            except DingTalkError:
                approvals = None
            try:
                holidays = await api.list_holidays(people, start, end)
            except DingTalkError:
                holidays = None
            return approvals, holidays

        def write(
            conn: Connection,
            got: tuple[list[AttendanceApproval] | None, list[UserHolidays] | None],
        ) -> None:
            items, holidays = got
            if items is not None:
                rows = [approval_row(i, ctx.tz) for i in items if i.begin and i.end]
                ctx.counts["attendance_approvals"] += repo_attendance.replace_approvals(
                    conn,
                    ctx.corp_id,
                    people,
                    day_start(start, ctx.tz),
                    day_start(last + timedelta(days=1), ctx.tz),
                    rows,
                )
            if holidays is not None:
                ctx.counts["attendance_holidays"] += repo_attendance.replace_holidays(
                    conn, ctx.corp_id, people, start, end, holiday_rows(holidays)
                )

        async with self._unit_slots:  # held until the commit, as a chunk's slot is
            await ctx.unit(
                ENTITY, f"approvals:{start}:{end}:{people[0]}:{people[-1]}", fetch, write
            )
        ctx.progress.advance(ENTITY)

    async def _leave_types(self, ctx: SyncContext, op_user: str, start: date, end: date) -> None:
        """The company's leave types (``vacation/type/list``): names and units of the 请假
        columns. Without the holiday permission (``qyapi_holiday_readonly``) DingTalk refuses:
        the types are then left as they were and the summary labels leave by code."""

        async def fetch() -> list[VacationType] | None:
            try:
                return await ctx.client.attendance.list_vacation_types(op_user)
            except DingTalkError:  # e.g. 60011/88 no permission: keep what was synced
                return None

        def write(conn: Connection, types: list[VacationType] | None) -> None:
            if types is None:
                return
            rows = [
                {
                    "leave_code": t.leave_code,
                    "leave_name": t.leave_name,
                    "leave_view_unit": t.leave_view_unit,
                    "day_length": t.hours_in_per_day,
                    "position": i,
                    "raw": _raw(t),
                }
                for i, t in enumerate(types)
            ]
            ctx.counts["attendance_leave_types"] += repo_attendance.replace_leave_types(
                conn, ctx.corp_id, rows
            )

        await ctx.unit(ENTITY, f"leave_types:{start}:{end}", fetch, write)
        ctx.progress.advance(ENTITY)

    async def _leaves(self, ctx: SyncContext, people: list[str], start: date, end: date) -> None:
        """Approved leave of ``people`` (``getleavestatus``) overlapping ``start`` 00:00 ..
        ``end`` + ``SHIFT_OVERHANG_DAYS`` + 1 day 00:00 (the last work date's night shift
        included), replacing what is stored over that window."""
        last = end + timedelta(days=SHIFT_OVERHANG_DAYS)

        async def fetch() -> list[LeaveStatus]:
            return await ctx.client.attendance.list_leave_status(people, start, last)

        def write(conn: Connection, items: list[LeaveStatus]) -> None:
            ctx.counts["attendance_leaves"] += repo_attendance.replace_leaves(
                conn,
                ctx.corp_id,
                people,
                day_start(start, ctx.tz),
                day_start(last + timedelta(days=1), ctx.tz),
                [leave_row(i, ctx.tz) for i in items],
            )

        async with self._unit_slots:  # held until the commit, as a chunk's slot is
            await ctx.unit(ENTITY, f"leaves:{start}:{end}:{people[0]}:{people[-1]}", fetch, write)
        ctx.progress.advance(ENTITY)

    async def _columns(self, ctx: SyncContext, people: list[str], start: date, end: date) -> None:
        api = ctx.client.attendance
        columns = await api.list_columns()
        with_id = [c for c in columns if c.id is not None]

        def write_defs(conn: Connection) -> None:
            repo_attendance.upsert_columns(
                conn,
                ctx.corp_id,
                [
                    {
                        "column_id": c.id,
                        "name": c.name,
                        "alias": c.alias,
                        "type": c.type,
                        "sub_type": c.sub_type,
                        "status": c.status,
                        "raw": _raw(c),
                    }
                    for c in with_id
                ],
            )

        await ctx.write(write_defs)
        ctx.progress.advance(ENTITY)
        ids = [int(c.id) for c in with_id if c.id is not None]
        if not ids:
            return

        async def person(userid: str) -> None:
            async def fetch() -> list[Any]:
                return await api.get_column_values(userid, ids, start, end)

            def write(conn: Connection, values: list[Any]) -> None:
                rows = []
                for col in values:
                    for v in col.values:
                        parsed = parse_gmt8(v.date)
                        if parsed is None:
                            continue
                        rows.append(
                            {
                                "column_id": col.column_id,
                                "work_date": parsed.date(),
                                "value": v.value,
                            }
                        )
                ctx.counts["attendance_column_values"] += repo_attendance.replace_column_values(
                    conn, ctx.corp_id, userid, start, end, rows
                )

            async with self._unit_slots:  # held until the commit, as a chunk's slot is
                await ctx.unit(ENTITY, f"columns:{userid}:{start}:{end}", fetch, write)
            ctx.progress.advance(ENTITY)

        await ctx.gather(person(u) for u in people)

    # -- summary -------------------------------------------------------------------------------
    def summary(self, conn: Connection, corp_id: str) -> dict[str, int]:
        """Rows stored per attendance table (for the demo/sync summary table)."""
        return repo_attendance.count_summary(conn, corp_id)
