"""Handlers of the attendance report (智能考勤报表): columns, column values, leave time by names,
whether the smart report is open.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.attendance.limits import (
    COLUMN_MAX_DAYS,
    COLUMN_MAX_IDS,
    ERR_COLUMN_IDS,
    ERR_COLUMN_SPAN,
    ERR_PARAM,
)
from dingsync.sandbox.attendance.state import AttendanceState
from dingsync.sandbox.attendance.wire import dates_between, parse_wire_date
from dingsync.sandbox.attendance.world import (
    COLUMN_METRIC,
    COLUMNS,
    CUSTOM_COLUMNS,
    VACATION_TYPES,
    day_metrics,
    leave_in_unit,
)
from dingsync.sandbox.wire import OapiError

if TYPE_CHECKING:
    from dingsync.sandbox.call import Call


class ColumnHandlers(AttendanceState):
    """Report columns and their values per person-day."""

    # -- report columns --------------------------------------------------------------------------
    def getattcolumns(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getattcolumns``: the report's column definitions."""
        columns = [
            {
                "alias": alias,
                "expression_id": cid - 5000,
                "id": cid,
                "name": name,
                "status": 0,
                "sub_type": 0,
                "type": 1 if alias in CUSTOM_COLUMNS else 0,
            }
            for alias, (cid, name) in COLUMNS.items()
        ]
        for name in VACATION_TYPES:  # leave columns come without an id (read via §4.4)
            columns.append({"alias": "leave_", "name": name, "status": 0, "sub_type": 0, "type": 0})
        return {"result": {"columns": columns}}

    def _span_31(self, call: Call) -> tuple[str, date, date]:
        p = call.params
        userid = p.text("userid", required=True)
        start = parse_wire_date(p, "from_date")
        end = parse_wire_date(p, "to_date")
        assert userid is not None
        if end < start or (end - start).days > COLUMN_MAX_DAYS:
            raise OapiError(ERR_COLUMN_SPAN, "无错误信息")
        self.state.require_data_scope(userid)
        return userid, start, end

    def getcolumnval(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getcolumnval``: one user, ≤ 20 column ids, ≤ 31 days."""
        userid, start, end = self._span_31(call)
        raw_ids = call.params.text_list("column_id_list", required=True) or []
        by_id = {cid: alias for alias, (cid, _) in COLUMNS.items()}
        try:
            ids = [int(x) for x in raw_ids]
        except ValueError:
            raise OapiError(ERR_COLUMN_IDS, "系统异常，请稍后重试") from None
        if len(ids) > COLUMN_MAX_IDS or any(i not in by_id for i in ids):
            raise OapiError(ERR_COLUMN_IDS, "系统异常，请稍后重试")
        out = [
            {
                "column_vals": [
                    {"date": f"{d.isoformat()} 00:00:00", "value": value} for d, value in vals
                ],
                "column_vo": {"id": cid},
            }
            for cid, vals in self.column_values(userid, ids, start, end)
        ]
        return {"result": {"column_vals": out}}

    def column_values(
        self, userid: str, ids: list[int], start: date, end: date
    ) -> list[tuple[int, list[tuple[date, str]]]]:
        """``[(column id, [(work date, value "x.y")])]`` of ``userid`` for every date of
        ``start..end`` (0.0 where nothing is scheduled); ``ids`` are known column ids.
        Honours the ``attendance_corrupt_column`` knob."""
        by_id = {cid: alias for alias, (cid, _) in COLUMNS.items()}
        days = {d.work_date: d for d in self._days(userid, start, end)}
        corrupt = self.state.area_knobs.get("attendance_corrupt_column") or None
        rule = self.overtime_rule()
        out = []
        for cid in ids:
            alias = by_id[cid]
            metric = COLUMN_METRIC[alias]
            vals = []
            for d in dates_between(start, end):
                value = day_metrics(days[d], rule)[metric] if d in days else 0.0
                if (
                    corrupt
                    and corrupt.get("userid") == userid
                    and corrupt.get("alias") == alias
                    and corrupt.get("date") == d.isoformat()
                ):
                    value += float(corrupt.get("delta", 1))
                vals.append((d, _fmt(value)))
            out.append((cid, vals))
        return out

    def getleavetimebynames(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getleavetimebynames``: per-day leave time by leave name, in
        the type's unit (days for 年假, hours otherwise; ``"0.0"`` for an unknown name)."""
        userid, start, end = self._span_31(call)
        names = call.params.text_list("leave_names", required=True) or []
        if len(names) > COLUMN_MAX_IDS:
            raise OapiError(ERR_PARAM, "无效的参数: leave_names最多20个")
        days = {d.work_date: d for d in self._days(userid, start, end)}
        out = []
        for name in names:
            vals = []
            for d in dates_between(start, end):
                lv = days[d].leave if d in days else None
                value = leave_in_unit(lv) if lv is not None and lv.leave_type == name else 0.0
                vals.append({"date": f"{d.isoformat()} 00:00:00", "value": _fmt(value)})
            out.append(
                {
                    "columnvals": vals,
                    "columnvo": {
                        "alias": "leave_",
                        "name": name,
                        "status": 0,
                        "sub_type": 0,
                        "type": 0,
                    },
                }
            )
        return {"result": {"columns": out}}

    def isopensmartreport(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/isopensmartreport`` (no body): ``result{smart_report}`` —
        always true in the sandbox (``getattcolumns`` answers)."""
        return {"result": {"smart_report": True}}


def _fmt(value: float) -> str:
    """A day value as DingTalk writes it: one decimal (``"1.0"``, ``"35.0"``), more when the
    value needs them (half a day of 年假 is ``"0.5"``, 0.0625 days ``"0.0625"``)."""
    text = f"{value:.1f}"
    return text if float(text) == value else repr(round(value, 6))
