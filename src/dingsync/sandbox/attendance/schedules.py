"""Handlers of schedules (排班) and shifts: by users, by day, ``listschedule``, shifts by days."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.attendance.limits import (
    ERR_PARAM,
    LIST_MAX_USERS,
    LISTSCHEDULE_MAX_SIZE,
    MAX_SPAN_DAYS,
    SHIFT_DAYS_MAX_USERS,
)
from dingsync.sandbox.attendance.state import AttendanceState
from dingsync.sandbox.attendance.wire import parse_day
from dingsync.sandbox.attendance.world import date_ms, wire_text
from dingsync.sandbox.wire import OapiError, PlainJSON, plain_rows
from dingsync.timeutil import (
    DAY_MS,
    WIRE_TZ,
    format_ms,
    local_date,
)

if TYPE_CHECKING:
    from dingsync.sandbox.call import Call
    from dingsync.sandbox.wire import Params


class ScheduleHandlers(AttendanceState):
    """Schedules and shifts of people over dates."""

    # -- schedules -------------------------------------------------------------------------------
    @staticmethod
    def _users_and_days(p: Params, max_users: int) -> tuple[list[str], date, date]:
        """The ``op_user_id``/``userids``/``from_date_time``/``to_date_time`` body of the schedule
        APIs: the userids (≤ ``max_users``) and the Asia/Shanghai days from..to (span < 7 days);
        400002 otherwise."""
        p.text("op_user_id", required=True)
        users: list[str] = p.text_list("userids", required=True) or []
        if len(users) > max_users:
            raise OapiError(ERR_PARAM, f"无效的参数: userids最多{max_users}个")
        start_ms = p.integer("from_date_time", required=True, lo=0)
        end_ms = p.integer("to_date_time", required=True, lo=0)
        assert start_ms is not None and end_ms is not None
        if end_ms < start_ms or end_ms - start_ms >= MAX_SPAN_DAYS * DAY_MS:
            raise OapiError(ERR_PARAM, "无效的参数: 时间跨度不能超过7天")
        start = local_date(start_ms, WIRE_TZ)
        end = local_date(end_ms, WIRE_TZ)
        return users, start, end

    def schedule_listbyusers(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/schedule/listbyusers``: ≤ 50 users, ≤ 7 days (ms)."""
        users, start, end = self._users_and_days(call.params, LIST_MAX_USERS)
        rows = []
        for userid in self._in_scope(users):
            for day in self._days(userid, start, end):
                wd = wire_text(date_ms(day.work_date))
                base = {
                    "group_id": day.group.group_id,
                    "userid": userid,
                    "work_date": wd,
                    "id": day.schedule_id,
                    "shift_version": day.group.shift.class_setting_id,
                }
                if day.is_rest:
                    rows.append(
                        {
                            **base,
                            "check_type": "OnDuty",
                            "plan_check_time": wd,
                            "shift_id": 0,
                            "is_rest": "Y",
                        }
                    )
                    continue
                for pt in day.points:
                    rows.append(
                        {
                            **base,
                            "check_type": pt.check_type,
                            "plan_check_time": wire_text(pt.base_ms),
                            "shift_id": day.group.shift.class_id,
                            "is_rest": "N",
                        }
                    )
        body = {"result": rows, "success": True}
        return PlainJSON(body) if plain_rows(rows) else body

    def listschedule(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/listschedule {workDate, offset?, size? ≤ 200}``: the whole
        org's check points of one work date (``yyyy-MM-dd`` or ``yyyy-MM-dd HH:mm:ss``, only the
        date counts; a bad one → 41100; ``size`` over 200 → 400002), people in userid order —
        ``result{has_more, schedules[{plan_id, check_type, userid, class_id, class_setting_id,
        plan_check_time, group_id, approve_id?}]}``. Rest days have no check points."""
        p = call.params
        work_date = parse_day(p, "workDate")
        offset = p.integer("offset", lo=0, default=0)
        size = p.integer("size", lo=1, hi=LISTSCHEDULE_MAX_SIZE, default=LISTSCHEDULE_MAX_SIZE)
        assert offset is not None and size is not None
        rows: list[dict[str, Any]] = []
        for userid in sorted(self.world.by_user):
            day = self.world.by_user[userid].get(work_date)
            if day is None or day.is_rest or not self.state.in_data_scope(userid):
                continue
            shift = day.group.shift
            for pt in day.points:
                row: dict[str, Any] = {
                    "check_type": pt.check_type,
                    "class_id": shift.class_id,
                    "class_setting_id": shift.class_setting_id,
                    "group_id": day.group.group_id,
                    "plan_check_time": format_ms(pt.base_ms),
                    "plan_id": pt.plan_id,
                    "userid": userid,
                }
                if pt.approve_id is not None:
                    row["approve_id"] = pt.approve_id
                rows.append(row)
        page = rows[offset : offset + size]
        return {"result": {"has_more": offset + size < len(rows), "schedules": page}}

    def schedule_listbyday(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/schedule/listbyday {op_user_id, user_id, date_time (ms)}``:
        the person's check points of that work date (Asia/Shanghai) — ``result[{id (plan id),
        user_id, corp_id, group_id, class_id, class_name, class_setting_id, check_type,
        plan_check_time, base_check_time, work_date, is_rest "N", check_date_time? (the punch),
        approve_id?}]``; a rest day is one row with ``is_rest`` ``Y`` and ``class_id`` 0; no
        schedule → ``[]``. Out of the data scope → 50002."""
        p = call.params
        p.text("op_user_id", required=True)
        userid = p.text("user_id", required=True)
        at_ms = p.integer("date_time", required=True, lo=0)
        assert userid is not None and at_ms is not None
        self.state.require_data_scope(userid)
        work_date = local_date(at_ms, WIRE_TZ)
        day = self.world.by_user.get(userid, {}).get(work_date)
        if day is None:
            return {"result": [], "success": True}
        shift = day.group.shift
        base = {
            "corp_id": self.corp_id,
            "group_id": day.group.group_id,
            "user_id": userid,
            "work_date": format_ms(date_ms(work_date)),
        }
        if day.is_rest:
            row = {
                **base,
                "id": day.schedule_id,
                "class_id": 0,
                "check_type": "OnDuty",
                "plan_check_time": format_ms(date_ms(work_date)),
                "is_rest": "Y",
            }
            return {"result": [row], "success": True}
        rows = []
        for pt in day.points:
            item: dict[str, Any] = {
                **base,
                "id": pt.plan_id,
                "class_id": shift.class_id,
                "class_name": shift.name,
                "class_setting_id": shift.class_setting_id,
                "check_type": pt.check_type,
                "plan_check_time": format_ms(pt.base_ms),
                "base_check_time": format_ms(pt.base_ms),
                "is_rest": "N",
            }
            if pt.source_type == "USER" and pt.user_ms is not None:
                item["check_date_time"] = format_ms(pt.user_ms)
            if pt.approve_id is not None:
                item["approve_id"] = pt.approve_id
            rows.append(item)
        return {"result": rows, "success": True}

    def shift_listbydays(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/schedule/shift/listbydays {op_user_id, userids (≤ 20),
        from_date_time, to_date_time (ms, span ≤ 7 days)}``: one summary per person per
        scheduled work date — ``result[{userid, work_date "yyyy-MM-dd 00:00:00", corp_id,
        group_id, shift_ids[], shift_names[], shift_versions[]}]`` (empty lists on a rest
        day). Over 20 users or 7 days → 400002."""
        users, start, end = self._users_and_days(call.params, SHIFT_DAYS_MAX_USERS)
        rows = []
        for userid in self._in_scope(users):
            for day in self._days(userid, start, end):
                shift = day.group.shift
                rows.append(
                    {
                        "corp_id": self.corp_id,
                        "group_id": day.group.group_id,
                        "shift_ids": [] if day.is_rest else [shift.class_id],
                        "shift_names": [] if day.is_rest else [shift.name],
                        "shift_versions": [] if day.is_rest else [shift.class_setting_id],
                        "userid": userid,
                        "work_date": format_ms(date_ms(day.work_date)),
                    }
                )
        return {"result": rows, "success": True}
