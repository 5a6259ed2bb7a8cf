"""Handlers of punch results and records: ``/attendance/list``, ``/attendance/listRecord``,
``/topapi/attendance/getupdatedata``.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.attendance.limits import (
    ERR_DATE,
    ERR_PARAM,
    ERR_SPAN,
    LIST_MAX_LIMIT,
    LIST_MAX_USERS,
    MAX_SPAN_DAYS,
)
from dingsync.sandbox.attendance.state import AttendanceState
from dingsync.sandbox.attendance.wire import (
    parse_day,
    parse_wire_date,
    parse_wire_ms,
    punch_place,
    record_row,
    result_rows,
)
from dingsync.sandbox.attendance.world import wall_ms
from dingsync.sandbox.wire import OapiError, PlainJSON, plain_rows
from dingsync.timeutil import (
    DAY_MS,
    WIRE_TZ,
    format_ms,
    local_date,
)

if TYPE_CHECKING:
    from dingsync.sandbox.call import Call


class RecordHandlers(AttendanceState):
    """Punch results and records of a person-day range."""

    # -- /attendance/list ------------------------------------------------------------------------
    def attendance_list(self, call: Call) -> dict[str, Any]:
        """``POST /attendance/list``: results per check point; 50 users, 7 days, limit 50."""
        p = call.params
        start = parse_wire_date(p, "workDateFrom")
        end = parse_wire_date(p, "workDateTo")
        if end < start:
            raise OapiError(ERR_DATE, "时间参数不合法: workDateTo早于workDateFrom")
        if (end - start).days >= MAX_SPAN_DAYS:
            raise OapiError(ERR_SPAN, "时间跨度太大")
        users = p.text_list("userIdList", required=True) or []
        if len(users) > LIST_MAX_USERS:
            raise OapiError(ERR_PARAM, "无效的参数: userIdList最多50个")
        offset = p.integer("offset", required=True, lo=0)
        limit = p.integer("limit", required=True, lo=1, hi=LIST_MAX_LIMIT)
        if p.boolean("isI18n", default=False):
            return {"recordresult": [], "hasMore": False}
        assert offset is not None and limit is not None
        scoped = self._in_scope(users)

        def build() -> list[dict[str, Any]]:
            corp_id = self.corp_id
            return [
                row
                for userid in scoped
                for day in self._days(userid, start, end)
                for row in result_rows(corp_id, day)
            ]

        rows, plain = self._window_rows("results", scoped, start, end, build)
        page = rows[offset : offset + limit]
        body = {"recordresult": page, "hasMore": offset + limit < len(rows)}
        return PlainJSON(body) if plain else body

    # -- /attendance/listRecord ------------------------------------------------------------------
    def attendance_list_record(self, call: Call) -> dict[str, Any]:
        """``POST /attendance/listRecord``: every punch in a punch-time window (≤ 7 days)."""
        p = call.params
        start_ms = parse_wire_ms(p, "checkDateFrom")
        end_ms = parse_wire_ms(p, "checkDateTo")
        if end_ms < start_ms:
            raise OapiError(ERR_DATE, "时间参数不合法: checkDateTo早于checkDateFrom")
        start_day = local_date(start_ms, WIRE_TZ)
        end_day = local_date(end_ms, WIRE_TZ)
        if (end_day - start_day).days >= MAX_SPAN_DAYS:
            raise OapiError(ERR_SPAN, "时间跨度太大")
        users = p.text_list("userIds", required=True) or []
        if len(users) > LIST_MAX_USERS:
            raise OapiError(ERR_PARAM, "无效的参数: userIds最多50个")
        if p.boolean("isI18n", default=False):
            return {"recordresult": []}
        rows = []
        for userid in self._in_scope(users):
            times = self.world.punch_times.get(userid, [])
            lo = bisect.bisect_left(times, start_ms)
            hi = bisect.bisect_right(times, end_ms)
            for _, day, item in self.world.punches[userid][lo:hi] if times else []:
                rows.append(record_row(self.corp_id, day, item))
        body = {"recordresult": rows}
        return PlainJSON(body) if plain_rows(rows) else body

    # -- getupdatedata ---------------------------------------------------------------------------
    def getupdatedata(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getupdatedata {userid, work_date}``: one user-day."""
        p = call.params
        userid = p.text("userid", required=True)
        work_date = parse_day(p, "work_date")
        assert userid is not None
        self.state.require_data_scope(userid)
        days = self._days(userid, work_date, work_date)
        results: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        approvals: list[dict[str, Any]] = []
        if days:
            day = days[0]
            for pt in day.points:
                item: dict[str, Any] = {
                    "record_id": pt.record_id,
                    "source_type": pt.wire_source,
                    "plan_check_time": format_ms(pt.base_ms),
                    "class_id": day.group.shift.class_id,
                    "location_method": "MAP",
                    "location_result": pt.location_result,
                    "plan_id": pt.plan_id,
                    "group_id": day.group.group_id,
                    "user_check_time": format_ms(pt.user_ms or pt.base_ms),
                    "check_type": pt.check_type,
                    "time_result": pt.time_result,
                }
                if pt.record_id is None:
                    del item["record_id"]
                if pt.proc_inst_id:
                    item["procInst_id"] = pt.proc_inst_id
                if pt.source_type == "USER" and pt.user_ms is not None:
                    item["user_address"] = punch_place(pt.location_result)[0]
                results.append(item)
            punches = [pt for pt in day.points if pt.source_type == "USER" and pt.user_ms]
            for pt in punches:
                assert pt.user_ms is not None
                records.append(
                    {
                        "record_id": pt.record_id,
                        "user_check_time": format_ms(pt.user_ms),
                        "valid_matched": True,
                        "user_accuracy": "65.0",
                        "source_type": pt.wire_source,
                        "user_longitude": "120.017139",
                        "user_latitude": "30.285413",
                    }
                )
            for extra in day.extra:
                _, lat, lon = punch_place(extra.location_result)
                assert extra.user_ms is not None
                records.append(
                    {
                        "record_id": extra.record_id,
                        "user_check_time": format_ms(extra.user_ms),
                        "valid_matched": False,
                        "user_accuracy": "65.0",
                        "source_type": "DING_ATM" if extra.machine else "USER",
                        "user_longitude": f"{lon:.6f}",
                        "user_latitude": f"{lat:.6f}",
                    }
                )
            for ip in day.invalid:
                records.append(
                    {
                        "record_id": ip.record_id,
                        "user_check_time": format_ms(ip.user_ms),
                        "valid_matched": False,
                        "source_type": "USER",
                        "invalid_record_msg": ip.message,
                        "invalid_record_type": "Other",
                    }
                )
            if day.leave is not None:
                lv = day.leave
                approvals.append(
                    {
                        "duration_unit": "HOUR",
                        "duration": f"{lv.hours:.1f}",
                        "sub_type": lv.leave_type,
                        "tag_name": "请假",
                        "procInst_id": lv.proc_inst_id,
                        "begin_time": format_ms(lv.start_ms),
                        "biz_type": 3,
                        "end_time": format_ms(lv.end_ms),
                        "gmt_finished": format_ms(lv.start_ms - DAY_MS),
                    }
                )
            if day.trip is not None:
                tr = day.trip
                approvals.append(
                    {
                        "duration_unit": tr.unit,
                        "duration": f"{tr.amount:.1f}",
                        "sub_type": tr.kind,
                        "tag_name": tr.kind,
                        "procInst_id": tr.proc_inst_id,
                        "begin_time": format_ms(tr.start_ms),
                        "biz_type": 2,
                        "end_time": format_ms(tr.end_ms),
                        "gmt_finished": format_ms(tr.start_ms - DAY_MS),
                    }
                )
            if day.overtime is not None:
                ot = day.overtime
                approvals.append(
                    {
                        "duration_unit": "HOUR",
                        "duration": f"{ot.hours:.1f}",
                        "sub_type": "加班",
                        "tag_name": "加班",
                        "procInst_id": ot.proc_inst_id,
                        "begin_time": format_ms(ot.start_ms),
                        "biz_type": 1,
                        "end_time": format_ms(ot.end_ms),
                        "gmt_finished": format_ms(ot.start_ms - DAY_MS),
                    }
                )
        on = days[0].group.shift.on_minute if days else 9 * 60
        return {
            "result": {
                "approve_list": approvals,
                "attendance_result_list": results,
                "corpId": self.corp_id,
                "work_date": format_ms(wall_ms(work_date, on)),
                "userid": userid,
                "check_record_list": records,
            },
            "success": True,
        }
