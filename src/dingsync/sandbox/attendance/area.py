"""The attendance area of a sandbox: state, handlers and the punch mutation in one object, and
the DingTalk routes it serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dingsync.sandbox.attendance.columns import ColumnHandlers
from dingsync.sandbox.attendance.groups import GroupHandlers
from dingsync.sandbox.attendance.leave import LeaveHandlers
from dingsync.sandbox.attendance.mutations import AttendanceMutations
from dingsync.sandbox.attendance.records import RecordHandlers
from dingsync.sandbox.attendance.schedules import ScheduleHandlers
from dingsync.sandbox.attendance.v1 import V1Handlers

if TYPE_CHECKING:
    from dingsync.sandbox.app import Route
    from dingsync.sandbox.wire import Family


class AttendanceArea(
    AttendanceMutations,
    RecordHandlers,
    V1Handlers,
    GroupHandlers,
    ScheduleHandlers,
    ColumnHandlers,
    LeaveHandlers,
):
    """The attendance area of a sandbox (see ``dingsync.sandbox.areas``).

    Attributes: ``world`` (:class:`AttendanceWorld`), ``leaves`` (every approved leave period,
    a list of :class:`Leave` — userid, ``start_ms``/``end_ms``, ``leave_type``, ``leave_code``,
    ``hours``, ``work_date``, ``proc_inst_id``, ``approve_id``), ``knobs``:
    ``attendance_corrupt_column`` — ``None`` or ``{"userid", "alias", "date": "yyyy-MM-dd",
    "delta": n}``: that person's value of that report column on that day is served off by
    ``delta`` (for the cross-check test); ``attendance_overtime_rule`` — ``None`` (the default
    :data:`~dingsync.sandbox.attendance.world.OVERTIME_RULE`) or a rule text as
    ``DINGSYNC_ATTENDANCE_OVERTIME_RULE`` takes it, options included
    (:func:`~dingsync.sandbox.attendance.world.parse_overtime_rule`): the company's 加班规则
    by which ``getcolumnval``'s 加班 columns and the truth are computed. ``listeners`` hear
    every punch made through :meth:`punch` as ``(event_type, data_item)`` and may answer a
    dict (the ``events`` area answers the emitted event, which the mutation route returns).
    """

    # -- routes ----------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        from dingsync.sandbox.app import Route

        t: Family = "topapi"
        o: Family = "oapi"
        a: Family = "api"
        return [
            Route("/attendance/list", o, "POST", self.attendance_list),
            Route("/attendance/listRecord", o, "POST", self.attendance_list_record),
            Route("/topapi/attendance/getupdatedata", t, "POST", self.getupdatedata),
            Route("/topapi/attendance/getsimplegroups", t, "POST", self.getsimplegroups),
            Route("/topapi/attendance/group/memberusers/list", t, "POST", self.group_members),
            Route("/topapi/attendance/schedule/listbyusers", t, "POST", self.schedule_listbyusers),
            Route("/topapi/attendance/getattcolumns", t, "POST", self.getattcolumns),
            Route("/topapi/attendance/getcolumnval", t, "POST", self.getcolumnval),
            Route("/topapi/attendance/getleavetimebynames", t, "POST", self.getleavetimebynames),
            Route("/topapi/attendance/getleavestatus", t, "POST", self.getleavestatus),
            Route("/topapi/attendance/group/minimalism/list", t, "POST", self.group_minimalism),
            Route("/topapi/attendance/group/query", t, "POST", self.group_query),
            Route("/topapi/attendance/group/search", t, "POST", self.group_search),
            Route("/topapi/attendance/getusergroup", t, "POST", self.getusergroup),
            Route("/topapi/attendance/listschedule", t, "POST", self.listschedule),
            Route("/topapi/attendance/schedule/listbyday", t, "POST", self.schedule_listbyday),
            Route("/topapi/attendance/schedule/shift/listbydays", t, "POST", self.shift_listbydays),
            Route("/topapi/attendance/isopensmartreport", t, "POST", self.isopensmartreport),
            Route("/topapi/attendance/vacation/type/list", t, "POST", self.vacation_types),
            Route("/topapi/attendance/vacation/quota/list", t, "POST", self.vacation_quotas),
            Route("/v1.0/attendance/columnValues/query", a, "POST", self.v1_column_values),
            Route("/v1.0/attendance/groupDetails", a, "GET", self.v1_group_details),
            Route("/v1.0/attendance/approvals/query", a, "POST", self.v1_approvals),
            Route("/v1.0/attendance/vacations/records/query", a, "POST", self.v1_leave_records),
            Route("/v1.0/attendance/holidays", a, "POST", self.v1_holidays),
            Route("/v1.0/attendance/checkin/records/query", a, "POST", self.v1_checkin_records),
        ]
