"""Handlers of leave: leave status of people over a span, vacation types and quotas."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.attendance.limits import (
    ERR_PARAM,
    LEAVE_STATUS_MAX_DAYS,
    LEAVE_STATUS_MAX_SIZE,
    LEAVE_STATUS_MAX_USERS,
    QUOTA_MAX_SIZE,
)
from dingsync.sandbox.attendance.state import AttendanceState
from dingsync.sandbox.attendance.world import (
    HOURS_PER_DAY,
    LEAVE_QUOTA_HOURS,
    VACATION_TYPES,
    date_ms,
    leave_in_unit,
)
from dingsync.sandbox.wire import OapiError
from dingsync.timeutil import (
    DAY_MS,
    WIRE_TZ,
    local_date,
)

if TYPE_CHECKING:
    from dingsync.sandbox.call import Call


class LeaveHandlers(AttendanceState):
    """Leave status, vacation types and quotas."""

    # -- leave status ----------------------------------------------------------------------------
    def getleavestatus(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getleavestatus``: ≤ 100 users, ≤ 180 days, size ≤ 100.
        Durations in the leave type's unit × 100: ``percent_day`` for a type by the day (年假),
        ``percent_hour`` otherwise."""
        p = call.params
        users = p.text_list("userid_list", required=True) or []
        if len(users) > LEAVE_STATUS_MAX_USERS:
            raise OapiError(ERR_PARAM, "无效的参数: userid_list最多100个")
        start_ms = p.integer("start_time", required=True, lo=0)
        end_ms = p.integer("end_time", required=True, lo=0)
        offset = p.integer("offset", required=True, lo=0)
        size = p.integer("size", required=True, lo=1, hi=LEAVE_STATUS_MAX_SIZE)
        assert start_ms is not None and end_ms is not None
        assert offset is not None and size is not None
        if end_ms < start_ms:
            raise OapiError(ERR_PARAM, "无效的参数: end_time 不能早于 start_time")
        if end_ms - start_ms > LEAVE_STATUS_MAX_DAYS * DAY_MS:
            raise OapiError(ERR_PARAM, "无效的参数: 时间跨度不能超过180天")
        found = []
        for userid in self._in_scope(users):
            for lv in self.world.leaves_by_user.get(userid, []):
                if lv.start_ms < end_ms and lv.end_ms > start_ms:
                    found.append(
                        {
                            "duration_percent": round(leave_in_unit(lv) * 100),
                            "duration_unit": "percent_day"
                            if VACATION_TYPES.get(lv.leave_type, ("", "hour"))[1] == "day"
                            else "percent_hour",
                            "end_time": lv.end_ms,
                            "start_time": lv.start_ms,
                            "leave_code": lv.leave_code,
                            "userid": userid,
                        }
                    )
        page = found[offset : offset + size]
        return {
            "result": {"has_more": offset + size < len(found), "leave_status": page},
            "success": True,
        }

    def vacation_types(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/vacation/type/list {op_userid, vacation_source?}``: the
        company's leave types (事假, 病假, 调休 by the hour; 年假 by the day; 8 hours a day —
        ``hours_in_per_day`` 800) — ``result[{leave_code, leave_name, leave_view_unit, biz_type,
        hours_in_per_day, natural_day_leave "false", freedom_leave (no balance), paid_leave,
        source "inner", when_can_leave}]``. ``vacation_source`` other than ``all`` or empty →
        400002."""
        p = call.params
        p.text("op_userid", required=True)
        source = p.text("vacation_source")
        if source not in (None, "all"):
            raise p.bad("vacation_source")
        out = [
            {
                "biz_type": "general_leave",
                "freedom_leave": name not in LEAVE_QUOTA_HOURS,
                "hours_in_per_day": HOURS_PER_DAY * 100,
                "leave_code": code,
                "leave_name": name,
                "leave_view_unit": unit,
                "natural_day_leave": "false",
                "paid_leave": name != "事假",
                "source": "inner",
                "when_can_leave": "entry",
            }
            for name, (code, unit) in VACATION_TYPES.items()
        ]
        return {"result": out, "success": True}

    def vacation_quotas(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/vacation/quota/list {leave_code, op_userid, userids,
        offset, size ≤ 50}``: balances of a leave type with a quota (年假: 40 hours per calendar
        year; the used part is the approved leave of that type that year, the same leave
        ``getleavestatus`` serves) — ``result{has_more, leave_quotas[{quota_id, userid,
        leave_code, quota_cycle "YYYY", quota_num_per_hour / used_num_per_hour (hundredths of an
        hour), quota_num_per_day / used_num_per_day (hundredths of an 8-hour day), start_time,
        end_time (ms, the year in GMT+8)}]}``. Types without a balance (事假, 病假) or unknown
        codes have none. ``size`` over 50 → 400002."""
        p = call.params
        leave_code = p.text("leave_code", required=True)
        p.text("op_userid", required=True)
        users = p.text_list("userids", required=True) or []
        offset = p.integer("offset", required=True, lo=0)
        size = p.integer("size", required=True, lo=1, hi=QUOTA_MAX_SIZE)
        assert offset is not None and size is not None
        name = next((n for n, (c, _) in VACATION_TYPES.items() if c == leave_code), None)
        quota_hours = LEAVE_QUOTA_HOURS.get(name or "")
        rows: list[dict[str, Any]] = []
        if quota_hours is not None:
            anchor_year = local_date(self.state.company.anchor_ms, WIRE_TZ).year
            for userid in self._in_scope(users):
                if userid not in self.state.company.users:
                    continue
                used: dict[int, float] = {anchor_year: 0.0}
                for lv in self.world.leaves_by_user.get(userid, []):
                    if lv.leave_type == name:
                        used[lv.work_date.year] = used.get(lv.work_date.year, 0.0) + lv.hours
                for year in sorted(used):
                    rows.append(
                        {
                            "end_time": date_ms(date(year + 1, 1, 1)) - 1000,
                            "leave_code": leave_code,
                            "quota_cycle": str(year),
                            "quota_id": f"{leave_code}-{userid}-{year}",
                            "quota_num_per_day": round(quota_hours / HOURS_PER_DAY * 100),
                            "quota_num_per_hour": round(quota_hours * 100),
                            "start_time": date_ms(date(year, 1, 1)),
                            "used_num_per_day": round(used[year] / HOURS_PER_DAY * 100),
                            "used_num_per_hour": round(used[year] * 100),
                            "userid": userid,
                        }
                    )
        page = rows[offset : offset + size]
        return {
            "result": {"has_more": offset + size < len(rows), "leave_quotas": page},
            "success": True,
        }
