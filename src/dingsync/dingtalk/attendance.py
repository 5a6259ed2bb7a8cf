"""Attendance (考勤): results, punches, groups, schedules, report columns, leave — one method
per endpoint (attendance.md), with every DingTalk cap split here, never by callers.

Any list of people and any date range go in; the fewest calls the API shapes allow come out:
users in batches of the API's maximum (50, 100 or 1), dates in windows of the API's maximum
(7 days inclusive, 31 days, 180 days), pages of the maximum size (50, 20, 10). Chunks run
concurrently; the client core paces each path with its rate limiter and retries failures.

Dates: a ``date`` is a work date in Asia/Shanghai; DingTalk's date strings are
``yyyy-MM-dd HH:mm:ss`` in GMT+8 and are produced here from the date itself, so the machine's
time zone never matters. Epoch-ms parameters are computed from GMT+8 wall times.

Errors (after the core's retries): ``InvalidArgumentError`` for 400002/41041/41100/850012/
850015, ``PermissionDeniedError`` for 60011, other ``DingTalkError`` subclasses as classified in
:mod:`dingsync.dingtalk.errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import dingsync.timeutil as timeutil
from dingsync.dingtalk.models._base import plain_items
from dingsync.dingtalk.models.attendance import (
    AttendanceApproval,
    AttendanceColumn,
    AttendanceGroup,
    AttendanceRecord,
    AttendanceResult,
    ColumnDayValue,
    ColumnValues,
    DaySchedule,
    GroupSummary,
    LeaveStatus,
    LeaveTimeColumn,
    ScheduleItem,
    UpdateData,
    UserGroup,
    UserHolidays,
    VacationType,
)
from dingsync.dingtalk.paging import Marker, Pager, cursor_pager, offset_pager

if TYPE_CHECKING:
    from dingsync.dingtalk._base import DingTalkClient

T = TypeVar("T")

#: ``/attendance/list`` and ``listRecord``: users per call, days per window (inclusive), page.
LIST_MAX_USERS = 50
LIST_MAX_DAYS = 7
LIST_PAGE = 50
#: ``schedule/listbyusers``: users per call and days per window.
SCHEDULE_MAX_USERS = 50
SCHEDULE_MAX_DAYS = 7
#: ``getcolumnval`` / ``getleavetimebynames``: ids (names) per call and days per window.
COLUMN_MAX_IDS = 20
COLUMN_MAX_DAYS = 31
#: ``getleavestatus``: users per call, days per window, page size (doc max 20, EB-43).
LEAVE_MAX_USERS = 100
LEAVE_MAX_DAYS = 180
LEAVE_PAGE = 20
#: ``/v1.0/attendance/approvals/query``: users per call and days per window (DingTalk's caps
#: are unconfirmed, EB-44: the SDK's; these are conservative).
APPROVALS_MAX_USERS = 50
APPROVALS_MAX_DAYS = 31
#: ``bizTypes`` of approvals/query: overtime, trip/outing, leave.
BIZ_OVERTIME, BIZ_TRIP, BIZ_LEAVE = 1, 2, 3
#: ``getsimplegroups`` page size.
GROUPS_PAGE = 10
#: ``listschedule`` page size (max 200).
DAY_SCHEDULE_PAGE = 200


def gmt8_string(day: date | datetime, *, end_of_day: bool = False) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8 (the wire's zone). A ``date`` gives 00:00:00 (or
    23:59:59 with ``end_of_day``); an aware ``datetime`` is converted to GMT+8 (a naive one is
    refused)."""
    if isinstance(day, datetime):
        return timeutil.format_ms(timeutil.to_ms(day))
    return timeutil.format_ms(gmt8_ms(day, end_of_day=end_of_day))


def gmt8_ms(day: date, *, end_of_day: bool = False) -> int:
    """Epoch ms of ``day`` 00:00:00 GMT+8 (or 23:59:59.000 with ``end_of_day``)."""
    start = timeutil.day_start_ms(day, timeutil.WIRE_TZ)
    return start + (timeutil.DAY_MS - 1000 if end_of_day else 0)


#: Work dates cut into windows of at most ``days`` (:func:`dingsync.timeutil.split_dates`).
date_windows = timeutil.split_dates


def batches(items: Iterable[T], size: int) -> list[list[T]]:
    """``items`` without duplicates (first occurrence kept) in lists of at most ``size``."""
    unique = list(dict.fromkeys(items))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


#: A page's items parsed at once (``items`` → parsed items).
ParsePage = Callable[[list[Any]], list[T]]


def _each(parse: Callable[[Any], T]) -> ParsePage[T]:
    """``parse`` applied to each item of a page."""

    def parse_page(items: list[Any]) -> list[T]:
        return [parse(item) for item in items]

    return parse_page


def _plain_results(items: list[Any]) -> list[dict[str, Any]]:
    return plain_items(AttendanceResult, items)


def _plain_records(items: list[Any]) -> list[dict[str, Any]]:
    return plain_items(AttendanceRecord, items)


def _plain_schedules(items: list[Any]) -> list[dict[str, Any]]:
    return plain_items(ScheduleItem, items)


async def _gather_lists(coros: Sequence[Any]) -> list[Any]:
    results = await asyncio.gather(*coros)
    return [item for part in results for item in part]


class AttendanceAPI:
    """``client.attendance``: the 考勤 endpoints of attendance.md §1–§7."""

    def __init__(self, client: DingTalkClient) -> None:
        self._client = client

    # -- results (/attendance/list) ------------------------------------------------------------
    async def list_results(
        self, userids: Iterable[str], work_date_from: date, work_date_to: date
    ) -> list[AttendanceResult]:
        """Every check-point result of ``userids`` on the work dates ``work_date_from`` ..
        ``work_date_to`` (inclusive, Asia/Shanghai). ``POST /attendance/list``, split into
        ≤ 50 users × ≤ 7-day windows, each paged with ``limit`` 50 while ``hasMore``.
        ``NotSigned`` rows (no punch) are included; a row appears once."""
        return await self._results(
            userids, work_date_from, work_date_to, _each(AttendanceResult.model_validate)
        )

    async def list_result_items(
        self, userids: Iterable[str], work_date_from: date, work_date_to: date
    ) -> list[dict[str, Any]]:
        """:meth:`list_results` as wire dicts: each item what ``AttendanceResult.raw()`` would
        give (camelCase names, epoch ms, unknown fields kept), validated the same way
        (:func:`~dingsync.dingtalk.models._base.plain_item`) without building models — the
        attendance sync's path (~100 rows a page)."""
        return await self._results(userids, work_date_from, work_date_to, _plain_results)

    async def _results(
        self,
        userids: Iterable[str],
        work_date_from: date,
        work_date_to: date,
        parse: ParsePage[T],
    ) -> list[T]:
        plan = [
            (users, a, b)
            for users in batches(userids, LIST_MAX_USERS)
            for a, b in date_windows(work_date_from, work_date_to, LIST_MAX_DAYS)
        ]
        return await _gather_lists([self._results_chunk(u, a, b, parse) for u, a, b in plan])

    async def _results_chunk(
        self, users: list[str], start: date, end: date, parse: ParsePage[T]
    ) -> list[T]:
        async def call(offset: int) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/attendance/list",
                json={
                    "workDateFrom": gmt8_string(start),
                    "workDateTo": gmt8_string(end),
                    "userIdList": users,
                    "offset": offset,
                    "limit": LIST_PAGE,
                    "isI18n": False,
                },
            )

        pager = offset_pager(
            call,
            result_key=None,
            list_key="recordresult",
            has_more_key="hasMore",
            parse_page=parse,
        )
        return await pager.to_list()

    # -- punches (/attendance/listRecord) ------------------------------------------------------
    async def list_records(
        self, userids: Iterable[str], check_date_from: date, check_date_to: date
    ) -> list[AttendanceRecord]:
        """Every punch (valid or not) of ``userids`` whose *punch time* falls on
        ``check_date_from`` 00:00:00 .. ``check_date_to`` 23:59:59 GMT+8.
        ``POST /attendance/listRecord``, split into ≤ 50 users × ≤ 7-day windows (no paging).
        A night shift's off-duty punch lies on the day after its work date: widen the range."""
        return await self._records(
            userids, check_date_from, check_date_to, _each(AttendanceRecord.model_validate)
        )

    async def list_record_items(
        self, userids: Iterable[str], check_date_from: date, check_date_to: date
    ) -> list[dict[str, Any]]:
        """:meth:`list_records` as wire dicts (what ``AttendanceRecord.raw()`` would give;
        see :meth:`list_result_items`)."""
        return await self._records(userids, check_date_from, check_date_to, _plain_records)

    async def _records(
        self,
        userids: Iterable[str],
        check_date_from: date,
        check_date_to: date,
        parse: ParsePage[T],
    ) -> list[T]:
        plan = [
            (users, a, b)
            for users in batches(userids, LIST_MAX_USERS)
            for a, b in date_windows(check_date_from, check_date_to, LIST_MAX_DAYS)
        ]
        return await _gather_lists([self._records_chunk(u, a, b, parse) for u, a, b in plan])

    async def _records_chunk(
        self, users: list[str], start: date, end: date, parse: ParsePage[T]
    ) -> list[T]:
        body = await self._client.oapi(
            "POST",
            "/attendance/listRecord",
            json={
                "userIds": users,
                "checkDateFrom": gmt8_string(start),
                "checkDateTo": gmt8_string(end, end_of_day=True),
                "isI18n": False,
            },
        )
        return parse(list(body.get("recordresult") or []))

    async def get_update_data(self, userid: str, work_date: date) -> UpdateData:
        """One user's results, punches and approvals of one work date.
        ``POST /topapi/attendance/getupdatedata``."""
        body = await self._client.oapi(
            "POST",
            "/topapi/attendance/getupdatedata",
            json={"userid": userid, "work_date": gmt8_string(work_date)},
        )
        return UpdateData.model_validate(body.get("result") or {})

    # -- groups --------------------------------------------------------------------------------
    def iter_groups(self) -> Pager[AttendanceGroup]:
        """Every attendance group in detail (classes, managers, work days).
        ``POST /topapi/attendance/getsimplegroups``, ``size`` 10 per page."""

        async def call(offset: int) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/topapi/attendance/getsimplegroups",
                json={"offset": offset, "size": GROUPS_PAGE},
            )

        return offset_pager(
            call,
            AttendanceGroup.model_validate,
            result_key="result",
            list_key="groups",
            has_more_key="has_more",
        )

    def iter_group_member_userids(self, group_id: int, op_user_id: str) -> Pager[str]:
        """Userids of a group's members. ``POST /topapi/attendance/group/memberusers/list``
        (cursor paging; ``op_user_id``: an administrator's userid)."""

        async def call(cursor: Marker) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/topapi/attendance/group/memberusers/list",
                json={"op_user_id": op_user_id, "group_id": group_id, "cursor": cursor},
            )

        return cursor_pager(
            call,
            str,
            result_key="result",
            list_key="result",
            has_more_key="has_more",
            next_key="cursor",
        )

    def iter_group_summaries(self, op_user_id: str) -> Pager[GroupSummary]:
        """Every group as ``{id, name}``. ``POST /topapi/attendance/group/minimalism/list``
        (``cursor`` paging; ``op_user_id``: an administrator's userid)."""

        async def call(cursor: Marker) -> dict[str, Any]:
            body: dict[str, Any] = {"op_user_id": op_user_id}
            if cursor:
                body["cursor"] = cursor
            return await self._client.oapi(
                "POST", "/topapi/attendance/group/minimalism/list", json=body
            )

        return cursor_pager(
            call,
            GroupSummary.model_validate,
            result_key="result",
            list_key="result",
            has_more_key="has_more",
            next_key="cursor",
        )

    async def get_user_group(self, userid: str) -> UserGroup:
        """The person's group and its classes. ``POST /topapi/attendance/getusergroup``."""
        body = await self._client.oapi(
            "POST", "/topapi/attendance/getusergroup", json={"userid": userid}
        )
        return UserGroup.model_validate(body.get("result") or {})

    # -- schedules -----------------------------------------------------------------------------
    def iter_day_schedules(self, work_date: date) -> Pager[DaySchedule]:
        """Every scheduled check point of the whole org on ``work_date`` (Asia/Shanghai).
        ``POST /topapi/attendance/listschedule`` (``workDate`` camelCase, ``size`` 200 per page;
        DingTalk serves it only to orgs under 10,000 people)."""

        async def call(offset: int) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/topapi/attendance/listschedule",
                json={
                    "workDate": gmt8_string(work_date),
                    "offset": offset,
                    "size": DAY_SCHEDULE_PAGE,
                },
            )

        return offset_pager(
            call,
            DaySchedule.model_validate,
            result_key="result",
            list_key="schedules",
            has_more_key="has_more",
        )

    async def list_schedules(
        self, op_user_id: str, userids: Iterable[str], work_date_from: date, work_date_to: date
    ) -> list[ScheduleItem]:
        """Schedules (排班, rest days included with ``is_rest`` Y) of ``userids`` on the work
        dates ``work_date_from`` .. ``work_date_to``. ``POST
        /topapi/attendance/schedule/listbyusers``, split into ≤ 50 users × ≤ 7-day windows
        (sent as epoch ms of 00:00:00 .. 23:59:59 GMT+8)."""
        return await self._schedules(
            op_user_id, userids, work_date_from, work_date_to, _each(ScheduleItem.model_validate)
        )

    async def list_schedule_items(
        self, op_user_id: str, userids: Iterable[str], work_date_from: date, work_date_to: date
    ) -> list[dict[str, Any]]:
        """:meth:`list_schedules` as wire dicts (what ``ScheduleItem.raw()`` would give; see
        :meth:`list_result_items`)."""
        return await self._schedules(
            op_user_id, userids, work_date_from, work_date_to, _plain_schedules
        )

    async def _schedules(
        self,
        op_user_id: str,
        userids: Iterable[str],
        work_date_from: date,
        work_date_to: date,
        parse: ParsePage[T],
    ) -> list[T]:
        plan = [
            (users, a, b)
            for users in batches(userids, SCHEDULE_MAX_USERS)
            for a, b in date_windows(work_date_from, work_date_to, SCHEDULE_MAX_DAYS)
        ]

        async def one(users: list[str], a: date, b: date) -> list[T]:
            body = await self._client.oapi(
                "POST",
                "/topapi/attendance/schedule/listbyusers",
                json={
                    "op_user_id": op_user_id,
                    "userids": ",".join(users),
                    "from_date_time": gmt8_ms(a),
                    "to_date_time": gmt8_ms(b, end_of_day=True),
                },
            )
            return parse(list(body.get("result") or []))

        return await _gather_lists([one(u, a, b) for u, a, b in plan])

    # -- report columns ------------------------------------------------------------------------
    async def list_columns(self) -> list[AttendanceColumn]:
        """The attendance report's column definitions (leave columns have no ``id``).
        ``POST /topapi/attendance/getattcolumns``."""
        body = await self._client.oapi("POST", "/topapi/attendance/getattcolumns", json={})
        result = body.get("result") or {}
        return [AttendanceColumn.model_validate(c) for c in result.get("columns") or []]

    async def get_column_values(
        self, userid: str, column_ids: Iterable[int], work_date_from: date, work_date_to: date
    ) -> list[ColumnValues]:
        """Per-day values of report columns for one user, one :class:`ColumnValues` per column
        with the days of every window merged; values are numeric strings per day in the
        column's unit (days, counts, minutes, hours — docs/attendance.md "DingTalk's report
        columns"). ``POST /topapi/attendance/getcolumnval``, split into ≤ 20 column ids ×
        ≤ 31-day windows (DingTalk: > 31 days → 850012, a bad id → 850015)."""
        plan = [
            (ids, a, b)
            for ids in batches(column_ids, COLUMN_MAX_IDS)
            for a, b in date_windows(work_date_from, work_date_to, COLUMN_MAX_DAYS)
        ]

        async def one(ids: list[int], a: date, b: date) -> list[ColumnValues]:
            body = await self._client.oapi(
                "POST",
                "/topapi/attendance/getcolumnval",
                json={
                    "userid": userid,
                    "column_id_list": ",".join(str(i) for i in ids),
                    "from_date": gmt8_string(a),
                    "to_date": gmt8_string(b),
                },
            )
            out = []
            for item in (body.get("result") or {}).get("column_vals") or []:
                vo = item.get("column_vo") or {}
                out.append(
                    ColumnValues(
                        column_id=int(vo.get("id") or 0),
                        values=[
                            ColumnDayValue.model_validate(v) for v in item.get("column_vals") or []
                        ],
                    )
                )
            return out

        merged: dict[int, ColumnValues] = {}
        for part in await _gather_lists([one(i, a, b) for i, a, b in plan]):
            if part.column_id in merged:
                merged[part.column_id].values.extend(part.values)
            else:
                merged[part.column_id] = part
        return list(merged.values())

    async def get_leave_time_by_names(
        self, userid: str, leave_names: Iterable[str], work_date_from: date, work_date_to: date
    ) -> list[LeaveTimeColumn]:
        """Per-day leave values by leave name (事假, 病假 …) for one user, in the unit of the
        leave type (days or hours, see :meth:`list_vacation_types`); values are numeric
        strings per day (``"0.0"`` when none). ``POST /topapi/attendance/getleavetimebynames``,
        ≤ 20 names × ≤ 31-day windows (nothing older than 225 days)."""
        plan = [
            (names, a, b)
            for names in batches(leave_names, COLUMN_MAX_IDS)
            for a, b in date_windows(work_date_from, work_date_to, COLUMN_MAX_DAYS)
        ]

        async def one(names: list[str], a: date, b: date) -> list[LeaveTimeColumn]:
            body = await self._client.oapi(
                "POST",
                "/topapi/attendance/getleavetimebynames",
                json={
                    "userid": userid,
                    "leave_names": ",".join(names),
                    "from_date": gmt8_string(a),
                    "to_date": gmt8_string(b),
                },
            )
            return [
                LeaveTimeColumn(
                    name=str((c.get("columnvo") or {}).get("name")),
                    values=[ColumnDayValue.model_validate(v) for v in c.get("columnvals") or []],
                )
                for c in (body.get("result") or {}).get("columns") or []
            ]

        merged: dict[str, LeaveTimeColumn] = {}
        for part in await _gather_lists([one(n, a, b) for n, a, b in plan]):
            if part.name in merged:
                merged[part.name].values.extend(part.values)
            else:
                merged[part.name] = part
        return list(merged.values())

    async def list_approvals(
        self,
        userids: Iterable[str],
        work_date_from: date,
        work_date_to: date,
        biz_types: Sequence[int] = (BIZ_TRIP,),
    ) -> list[AttendanceApproval]:
        """Approvals that bear on attendance of ``userids`` overlapping ``work_date_from``
        00:00 .. ``work_date_to`` 24:00 GMT+8 — by default business trips and outings (出差 /
        外出, ``bizType`` 2), whose covered check points carry ``APPROVE`` and the approval's
        ``approveId``. ``POST /v1.0/attendance/approvals/query {userIds (comma list), bizTypes,
        fromDateTime, toDateTime (ms)}`` on the new host, split into ≤ 50 users × ≤ 31-day
        windows (caps unconfirmed, EB-44); one approval spanning windows is returned once."""
        plan = [
            (users, a, b)
            for users in batches(userids, APPROVALS_MAX_USERS)
            for a, b in date_windows(work_date_from, work_date_to, APPROVALS_MAX_DAYS)
        ]

        async def one(users: list[str], a: date, b: date) -> list[AttendanceApproval]:
            body = await self._client.api(
                "POST",
                "/v1.0/attendance/approvals/query",
                json={
                    "userIds": ",".join(users),
                    "bizTypes": list(biz_types),
                    "fromDateTime": gmt8_ms(a),
                    "toDateTime": gmt8_ms(b, end_of_day=True),
                },
            )
            return [AttendanceApproval.model_validate(r) for r in body.get("result") or []]

        seen: dict[tuple[str, str], AttendanceApproval] = {}
        for item in await _gather_lists([one(u, a, b) for u, a, b in plan]):
            seen.setdefault((item.user_id, item.approve_id), item)
        return list(seen.values())

    async def list_holidays(
        self, userids: Iterable[str], work_date_from: date, work_date_to: date
    ) -> list[UserHolidays]:
        """The public holidays (节假日) of each of ``userids``' calendars within
        ``work_date_from``..``work_date_to`` (work dates, GMT+8): what makes a rest day a
        holiday for the overtime rule (节假日加班). ``POST /v1.0/attendance/holidays {userIds[],
        workDateFrom, workDateTo (ms)}`` on the new host, split into ≤ 50 users × ≤ 31-day
        windows (caps unconfirmed, EB-44); the lists of one person's windows are merged."""
        plan = [
            (users, a, b)
            for users in batches(userids, APPROVALS_MAX_USERS)
            for a, b in date_windows(work_date_from, work_date_to, APPROVALS_MAX_DAYS)
        ]

        async def one(users: list[str], a: date, b: date) -> list[UserHolidays]:
            body = await self._client.api(
                "POST",
                "/v1.0/attendance/holidays",
                json={
                    "userIds": users,
                    "workDateFrom": gmt8_ms(a),
                    "workDateTo": gmt8_ms(b, end_of_day=True),
                },
            )
            return [UserHolidays.model_validate(r) for r in body.get("result") or []]

        merged: dict[str, UserHolidays] = {}
        for item in await _gather_lists([one(u, a, b) for u, a, b in plan]):
            mine = merged.setdefault(item.user_id, UserHolidays(user_id=item.user_id))
            known = {h.work_date for h in mine.holidays}
            mine.holidays += [h for h in item.holidays if h.work_date not in known]
        return list(merged.values())

    async def list_vacation_types(self, op_userid: str) -> list[VacationType]:
        """The company's leave types (假期类型) with their unit (``leave_view_unit`` ``day``,
        ``halfDay`` or ``hour``): the names ``getleavetimebynames`` takes and the codes
        ``getleavestatus`` sends. ``POST /topapi/attendance/vacation/type/list {op_userid,
        vacation_source "all"}``; ``op_userid`` must be an OA administrator (permission
        ``qyapi_holiday_readonly``)."""
        body = await self._client.oapi(
            "POST",
            "/topapi/attendance/vacation/type/list",
            json={"op_userid": op_userid, "vacation_source": "all"},
        )
        return [VacationType.model_validate(t) for t in body.get("result") or []]

    # -- leave ---------------------------------------------------------------------------------
    async def list_leave_status(
        self, userids: Iterable[str], work_date_from: date, work_date_to: date
    ) -> list[LeaveStatus]:
        """Approved leave of ``userids`` overlapping ``work_date_from`` 00:00 ..
        ``work_date_to`` 24:00 GMT+8. ``POST /topapi/attendance/getleavestatus``, split into
        ≤ 100 users × ≤ 180-day windows, ``size`` 20 per page. A leave overlapping two windows
        is returned once."""
        plan = [
            (users, a, b)
            for users in batches(userids, LEAVE_MAX_USERS)
            for a, b in date_windows(work_date_from, work_date_to, LEAVE_MAX_DAYS)
        ]

        async def one(users: list[str], a: date, b: date) -> list[LeaveStatus]:
            start_ms = gmt8_ms(a)
            end_ms = gmt8_ms(b + timedelta(days=1))

            async def call(offset: int) -> dict[str, Any]:
                return await self._client.oapi(
                    "POST",
                    "/topapi/attendance/getleavestatus",
                    json={
                        "userid_list": ",".join(users),
                        "start_time": start_ms,
                        "end_time": end_ms,
                        "offset": offset,
                        "size": LEAVE_PAGE,
                    },
                )

            pager = offset_pager(
                call,
                LeaveStatus.model_validate,
                result_key="result",
                list_key="leave_status",
                has_more_key="has_more",
            )
            return await pager.to_list()

        seen: dict[tuple[str, int, int, str | None], LeaveStatus] = {}
        for item in await _gather_lists([one(u, a, b) for u, a, b in plan]):
            seen.setdefault((item.userid, item.start_time, item.end_time, item.leave_code), item)
        return list(seen.values())
