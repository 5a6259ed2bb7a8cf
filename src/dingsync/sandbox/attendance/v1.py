"""The new-family (v1.0, ``api.dingtalk.com``) attendance endpoints of attendance.md §9, with the
shapes of DingTalk's official v1.0 SDK: camelCase bodies, answers under ``result``, errors as HTTP
400 ``{code, requestid, message}`` (``Missing<name>`` for an absent field, ``parameter.error``
for a bad one). Limits are unconfirmed (EB-44): report columns take ≤ 20 ids over ≤ 31 days (as
``getcolumnval``), groups are paged by ``nextToken``/``maxResults`` ≤ 10 (as
``getsimplegroups``), leave records by ``pageNumber``/``pageSize`` ≤ 50.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.attendance.columns import ColumnHandlers
from dingsync.sandbox.attendance.groups import GroupHandlers
from dingsync.sandbox.attendance.limits import COLUMN_MAX_DAYS, COLUMN_MAX_IDS, GROUPS_MAX_SIZE
from dingsync.sandbox.attendance.world import COLUMNS
from dingsync.sandbox.call import json_object
from dingsync.sandbox.wire import ApiError
from dingsync.timeutil import DAY_MS, WIRE_TZ, day_start_ms, format_ms, local_date

if TYPE_CHECKING:
    from dingsync.sandbox.call import Call

#: ``bizType`` of a leave approval (as ``getupdatedata``'s ``approve_list``).
LEAVE_BIZ_TYPE = 3
#: ``bizType`` of a business trip or outing (出差 / 外出).
TRIP_BIZ_TYPE = 2
#: ``bizType`` of an overtime approval (加班).
OVERTIME_BIZ_TYPE = 1
LEAVE_PAGE_MAX = 50


def _bad(what: str) -> ApiError:
    return ApiError(400, "parameter.error", f"参数错误: {what}")


def _required(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) in (None, "", []):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")


def _int(body: dict[str, Any], name: str, *, lo: int = 0, hi: int | None = None) -> int:
    value = body.get(name)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise _bad(name)
    if hi is not None and value > hi:
        raise _bad(name)
    return value


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if isinstance(value, str):  # a comma list (approvals/query's userIds)
        value = [v for v in value.split(",") if v]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise _bad(name)
    return [str(v) for v in value]


def camel(value: Any) -> Any:
    """``value`` with every snake_case key turned camelCase (lists and dicts, recursively)."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m[1].upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


class V1Handlers(GroupHandlers, ColumnHandlers):
    """``/v1.0/attendance/*`` handlers (attendance.md §9)."""

    def v1_column_values(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/attendance/columnValues/query {columnIdList[], fromDate, toDate (ms),
        userIds[]}`` → ``result[{userId, columnData[{id, columnValues[{date (ms of the
        Shanghai day), value}]}]}]``."""
        body = json_object(call)
        _required(body, "columnIdList", "fromDate", "toDate", "userIds")
        start_ms, end_ms = _int(body, "fromDate"), _int(body, "toDate")
        start, end = local_date(start_ms, WIRE_TZ), local_date(end_ms, WIRE_TZ)
        if end < start or (end - start).days > COLUMN_MAX_DAYS:
            raise _bad("fromDate/toDate 跨度不能超过31天")
        known = {cid for cid, _ in COLUMNS.values()}
        try:
            ids = [int(x) for x in _strings(body, "columnIdList")]
        except ValueError:
            raise _bad("columnIdList") from None
        if len(ids) > COLUMN_MAX_IDS or any(i not in known for i in ids):
            raise _bad("columnIdList")
        result = []
        for userid in _strings(body, "userIds"):
            if not self.state.in_data_scope(userid):
                continue
            data = [
                {
                    "id": cid,
                    "columnValues": [
                        {"date": day_start_ms(d, WIRE_TZ), "value": v} for d, v in vals
                    ],
                }
                for cid, vals in self.column_values(userid, ids, start, end)
            ]
            result.append({"userId": userid, "columnData": data})
        return {"result": result}

    def v1_group_details(self, call: Call) -> dict[str, Any]:
        """``GET /v1.0/attendance/groupDetails?nextToken=&maxResults=`` (``nextToken`` an
        offset, default 0; ``maxResults`` ≤ 10) → ``result{groups[…camelCase getsimplegroups
        records], hasMore}``."""
        q = {k: v for k, v in call.query.items() if v != ""}
        offset = _int(q, "nextToken") if "nextToken" in q else 0
        size = _int(q, "maxResults", lo=1, hi=GROUPS_MAX_SIZE) if "maxResults" in q else 10
        groups = camel(self.simple_groups(offset, size))
        return {"result": {"groups": groups, "hasMore": offset + size < len(self.world.groups)}}

    def v1_approvals(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/attendance/approvals/query {userIds (comma list), bizTypes[],
        fromDateTime, toDateTime (ms)}`` → ``result[{approveId, beginTime, endTime
        ("yyyy-MM-dd HH:mm:ss" GMT+8), bizType, subType, tagName, durationUnit,
        calculateModel, userId}]``: approved leave (``bizType`` 3, ``tagName`` 请假) and business
        trips / outings (``bizType`` 2, ``tagName`` 出差 / 外出, ``durationUnit`` DAY / HOUR)
        and overtime (``bizType`` 1, ``tagName`` 加班, hours) overlapping the window, of the
        ``bizTypes`` asked (all when empty)."""
        body = json_object(call)
        _required(body, "userIds", "fromDateTime", "toDateTime")
        users = set(_strings(body, "userIds"))
        start, end = _int(body, "fromDateTime"), _int(body, "toDateTime")
        if end < start:
            raise _bad("fromDateTime/toDateTime")
        types = body.get("bizTypes")
        if types is not None and not isinstance(types, list):
            raise _bad("bizTypes")
        wanted = (
            {int(t) for t in types} if types else {OVERTIME_BIZ_TYPE, TRIP_BIZ_TYPE, LEAVE_BIZ_TYPE}
        )
        found = [
            {
                "approveId": str(lv.approve_id),
                "beginTime": format_ms(lv.start_ms),
                "bizType": LEAVE_BIZ_TYPE,
                "calculateModel": 1,
                "durationUnit": "HOUR",
                "endTime": format_ms(lv.end_ms),
                "subType": lv.leave_type,
                "tagName": "请假",
                "userId": lv.userid,
            }
            for lv in self.leaves
            if LEAVE_BIZ_TYPE in wanted
            and lv.userid in users
            and lv.start_ms <= end
            and lv.end_ms >= start
            and self.state.in_data_scope(lv.userid)
        ]
        found += [
            {
                "approveId": str(tr.approve_id),
                "beginTime": format_ms(tr.start_ms),
                "bizType": TRIP_BIZ_TYPE,
                "calculateModel": 1,
                "durationUnit": tr.unit,
                "endTime": format_ms(tr.end_ms),
                "subType": tr.kind,
                "tagName": tr.kind,
                "userId": tr.userid,
            }
            for tr in self.world.trips
            if TRIP_BIZ_TYPE in wanted
            and tr.userid in users
            and tr.start_ms <= end
            and tr.end_ms >= start
            and self.state.in_data_scope(tr.userid)
        ]
        found += [
            {
                "approveId": str(ot.approve_id),
                "beginTime": format_ms(ot.start_ms),
                "bizType": OVERTIME_BIZ_TYPE,
                "calculateModel": 1,
                "durationUnit": "HOUR",
                "endTime": format_ms(ot.end_ms),
                "subType": "加班",
                "tagName": "加班",
                "userId": ot.userid,
            }
            for ot in self.world.overtimes
            if OVERTIME_BIZ_TYPE in wanted
            and ot.userid in users
            and ot.start_ms <= end
            and ot.end_ms >= start
            and self.state.in_data_scope(ot.userid)
        ]
        return {"result": found}

    def v1_leave_records(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/attendance/vacations/records/query {opUserId, leaveCode, userIds[],
        pageNumber (from 0), pageSize ≤ 50}`` → ``{result{hasMore, leaveRecords[{recordId,
        userId, leaveCode, startTime, endTime (ms), leaveStatus "success", leaveViewUnit
        "hour", recordNumPerHour (hours × 100), calType, leaveRecordType, gmtCreate,
        gmtModified, opUserId}]}, success}``."""
        body = json_object(call)
        _required(body, "opUserId", "leaveCode", "userIds", "pageSize")
        code = str(body["leaveCode"])
        users = set(_strings(body, "userIds"))
        page = _int(body, "pageNumber") if body.get("pageNumber") is not None else 0
        size = _int(body, "pageSize", lo=1, hi=LEAVE_PAGE_MAX)
        mine = [lv for lv in self.leaves if lv.leave_code == code and lv.userid in users]
        chunk = mine[page * size : (page + 1) * size]
        records = [
            {
                "recordId": str(lv.approve_id),
                "userId": lv.userid,
                "leaveCode": lv.leave_code,
                "startTime": lv.start_ms,
                "endTime": lv.end_ms,
                "leaveStatus": "success",
                "leaveViewUnit": "hour",
                "recordNumPerHour": round(lv.hours * 100),
                "calType": "add",
                "leaveRecordType": "leave",
                "gmtCreate": lv.start_ms - DAY_MS,
                "gmtModified": lv.start_ms - DAY_MS,
                "opUserId": str(body["opUserId"]),
            }
            for lv in chunk
        ]
        more = (page + 1) * size < len(mine)
        return {"result": {"hasMore": more, "leaveRecords": records}, "success": True}

    def v1_holidays(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/attendance/holidays {userIds[], workDateFrom, workDateTo (ms)}`` →
        ``result[{userId, holidays[{holidayName, holidayType "festival", workDate (ms of the
        Shanghai day)}]}]``: the calendar's public holidays in the window."""
        body = json_object(call)
        _required(body, "userIds", "workDateFrom", "workDateTo")
        start = local_date(_int(body, "workDateFrom"), WIRE_TZ)
        end = local_date(_int(body, "workDateTo"), WIRE_TZ)
        if end < start:
            raise _bad("workDateFrom/workDateTo")
        days = [d for d in self.world.holidays if start <= d <= end]
        holidays = [
            {
                "holidayName": "公共假日",
                "holidayType": "festival",
                "workDate": day_start_ms(d, WIRE_TZ),
            }
            for d in days
        ]
        return {
            "result": [
                {"userId": u, "holidays": [dict(h) for h in holidays]}
                for u in _strings(body, "userIds")
            ]
        }

    def v1_checkin_records(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/attendance/checkin/records/query {operatorUserId, userIdList[],
        startTime, endTime (ms), nextToken, maxResults}`` → ``result{pageList[], nextToken}``:
        sign-in (签到) records — not attendance punches; the sandbox generates none."""
        body = json_object(call)
        _required(body, "operatorUserId", "userIdList", "startTime", "endTime", "maxResults")
        _strings(body, "userIdList")
        if _int(body, "endTime") < _int(body, "startTime"):
            raise _bad("startTime/endTime")
        _int(body, "maxResults", lo=1, hi=100)
        token = _int(body, "nextToken") if body.get("nextToken") is not None else 0
        return {"result": {"pageList": [], "nextToken": token}}
