"""Attendance (考勤) in the sandbox: a generated world of groups, schedules, punches, results,
leave and report columns, and the DingTalk handlers that serve it (attendance.md).

Generation (:func:`generate_attendance`) is pure and deterministic for ``(company, seed, days)``:

- three attendance groups (考勤组) with managers: a fixed 09:00–18:00 shift, a flexible
  10:00–19:00 shift (30 minutes of permitted lateness) and a night shift 23:30–次日07:30 whose
  off-duty check point (and any late on-duty punch) falls on the next calendar day;
- schedules (排班) for every active person over the ``days`` work dates before the anchor:
  Monday–Friday working, weekends and one public holiday (the first Wednesday) resting;
- per person per working day a realistic mix: normal, late (minutes), seriously late, early
  leave, a missing on- or off-duty punch (the ``NotSigned`` result row is still there), absent
  (both check points ``NotSigned``), approved leave (full or half day, ``sourceType`` APPROVE)
  and punches outside the location; plus a few invalid punches in the punch details;
- 补卡 (make-up) approvals: on 40 % of the days with one missing punch (a separate random
  stream) the missing check point is fixed — ``Normal`` at its base time, ``sourceType``
  APPROVE, counted in 补卡次数 instead of 缺卡;
- leave types with units (``VACATION_TYPES``: 事假, 病假, 调休 by the hour, 年假 by the day) and
  overtime by the group's rule (``OVERTIME_*``: from 30 minutes after the off-duty time, in
  30-minute units).

The report columns (``getattcolumns``/``getcolumnval``/``getleavetimebynames``) are computed
from the same person-days (``world.day_metrics``), so DingTalk's report and the synced results
agree by construction.

Work dates are calendar dates in Asia/Shanghai; every time on the wire is epoch ms or a
``yyyy-MM-dd HH:mm:ss`` string in GMT+8. :class:`AttendanceArea` is registered in
``sandbox/areas.py``; ``area.leaves`` exposes the approved leave periods (for the approvals
area) and ``stats()`` the monthly truth per person.

Punch mutation (``POST /sandbox/mutate/attendance/punch``, :meth:`AttendanceArea.punch`; every
field optional): ``{userid, check_time (epoch ms, default the sandbox clock's now), check_type
(OnDuty/OffDuty), location_result (Normal/Outside), location_method (MAP/WIFI/ATM), device_sn,
check_by_user}``. The punch goes to the scheduled check point nearest in time (within 12 hours,
on the punch's calendar date or the day before — a night shift's off-duty punch lands on the
previous work date; ``check_type`` restricts the choice, otherwise it is "by time of day"). A
work date outside the generated history is scheduled on demand (weekends rest; ``NotSigned``
rows until punched), and a person in no attendance group joins the default one (总部考勤组).
The check point's result is recomputed the way generation computes it (late / seriously late
from the class's permitted and serious minutes, early leave, whole minutes rounded up). The
first on-duty and the last off-duty punch decide; any other punch (and one on a rest day, or
under an approved leave) stays a valid punch in ``/attendance/listRecord`` and
``getupdatedata`` without deciding a result. Every punch is announced to ``area.listeners`` as
``("attendance_check_record", item)`` — a ``DataList`` item of events.md §2.4 (``address,
checkTime, corpId, groupId, latitude, longitude, bizId, locationMethod, userId, deviceSN,
locationResult, checkByUser``); the ``events`` area pushes it. An unknown ``userid`` is 404
(60121), a bad field 400.


Modules: ``world`` (the model), ``generator``, ``wire`` (rows and parameters), ``state`` (the
area's live state), ``mutations`` (the punch), handlers by concern (``records``, ``groups``,
``schedules``, ``columns``, ``leave``, ``v1`` — the new-family endpoints of attendance.md §9),
``limits`` and ``area`` (:class:`AttendanceArea`). Rest days and the public holiday come from
the sandbox's calendar (``sandbox/workdays.py``), which the reports area follows too.
"""

from dingsync.sandbox.attendance.area import AttendanceArea
from dingsync.sandbox.attendance.generator import generate_attendance
from dingsync.sandbox.attendance.world import (
    LEAVE_TYPES,
    METRICS,
    VACATION_TYPES,
    AttendanceWorld,
    CheckPoint,
    Group,
    Leave,
    PersonDay,
    ShiftClass,
    date_ms,
)

__all__ = [
    "LEAVE_TYPES",
    "METRICS",
    "VACATION_TYPES",
    "AttendanceArea",
    "AttendanceWorld",
    "CheckPoint",
    "Group",
    "Leave",
    "PersonDay",
    "ShiftClass",
    "date_ms",
    "generate_attendance",
]
