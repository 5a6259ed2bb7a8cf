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
  and punches outside the location; plus a few invalid punches in the punch details.

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
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse

from dingsync.sandbox.mutations import (
    BadMutation,
    MutationBody,
    MutationConflict,
    MutationError,
    UserId,
    fields_of,
    read_body,
    unknown,
    validate,
)
from dingsync.sandbox.wire import OapiError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from dingsync.sandbox.app import Route
    from dingsync.sandbox.company import Company
    from dingsync.sandbox.handlers import Call
    from dingsync.sandbox.state import SandboxState
    from dingsync.sandbox.wire import Family, Params

GMT8 = timezone(timedelta(hours=8))
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Caps (errors-and-limits.md §6.4) and the errcodes the sandbox answers (EB-40..EB-43).
LIST_MAX_USERS = 50
LIST_MAX_LIMIT = 50
MAX_SPAN_DAYS = 7
COLUMN_MAX_IDS = 20
COLUMN_MAX_DAYS = 31
LEAVE_STATUS_MAX_USERS = 100
LEAVE_STATUS_MAX_SIZE = 100
LEAVE_STATUS_MAX_DAYS = 180
GROUPS_MAX_SIZE = 10
MEMBERS_PAGE = 100
MINIMALISM_PAGE = 100
LISTSCHEDULE_MAX_SIZE = 200
SHIFT_DAYS_MAX_USERS = 20
QUOTA_MAX_SIZE = 50
ERR_SPAN = 41041
ERR_DATE = 41100
ERR_PARAM = 400002
ERR_COLUMN_SPAN = 850012
ERR_COLUMN_IDS = 850015


# ---------------------------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ShiftClass:
    """A class (班次): on/off check times (minutes after midnight; ``across`` = off duty falls on
    the next day), lateness thresholds (minutes) and the working minutes it counts."""

    class_id: int
    name: str
    on_minute: int
    off_minute: int
    across: int
    permit_late_minutes: int
    serious_late_minutes: int
    work_minutes: int
    class_setting_id: int


@dataclass(slots=True)
class Group:
    """An attendance group (考勤组): its class, managers and member userids."""

    group_id: int
    name: str
    shift: ShiftClass
    managers: list[str]
    members: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CheckPoint:
    """One scheduled check point of a person-day and what happened at it.

    ``user_ms`` is the punch (``None`` = no punch, ``NotSigned``); ``source_type`` is ``USER``
    for a punch, ``SYSTEM`` for ``NotSigned``, ``APPROVE`` when an approved leave covers it.
    ``minutes`` is the late (on duty) or early (off duty) minutes, 0 otherwise.
    """

    result_id: int
    plan_id: int
    check_type: str
    base_ms: int
    user_ms: int | None
    time_result: str
    location_result: str
    source_type: str
    record_id: int | None
    minutes: int = 0
    approve_id: int | None = None
    proc_inst_id: str | None = None
    #: Punches made through the mutation API carry DingTalk's ``bizId``, how they were made and
    #: the time clock's serial number (generated punches leave them unset / ``MAP``).
    biz_id: str | None = None
    location_method: str = "MAP"
    device_sn: str | None = None


@dataclass(slots=True)
class FreePunch:
    """A valid punch that belongs to no check point (a punch on a rest day): served by
    ``listRecord`` and ``getupdatedata`` with the day's work date, no plan and no result."""

    record_id: int
    user_ms: int
    check_type: str
    location_result: str
    biz_id: str
    location_method: str = "MAP"
    device_sn: str | None = None


@dataclass(slots=True)
class Leave:
    """An approved leave period (请假): epoch-ms ``start_ms``/``end_ms`` (GMT+8 wall times),
    ``leave_type`` (事假/病假/年假), ``leave_code``, ``hours`` (duration) and the approval ids.
    ``work_date`` is the work day it covers."""

    userid: str
    start_ms: int
    end_ms: int
    leave_type: str
    leave_code: str
    hours: float
    work_date: date
    proc_inst_id: str
    approve_id: int


@dataclass(slots=True)
class InvalidPunch:
    """A punch DingTalk keeps in the details but does not count (``isLegal`` N)."""

    record_id: int
    user_ms: int
    message: str


#: Anything ``/attendance/listRecord`` serves as one punch.
Punch = CheckPoint | InvalidPunch | FreePunch


@dataclass(slots=True)
class PersonDay:
    """One person on one scheduled work date: group, rest flag, check points, leave."""

    userid: str
    work_date: date
    group: Group
    is_rest: bool
    holiday: bool
    schedule_id: int
    points: list[CheckPoint] = field(default_factory=list)
    leave: Leave | None = None
    invalid: list[InvalidPunch] = field(default_factory=list)
    #: Valid punches that decide no result: superseded ones (a later on-duty or an earlier
    #: off-duty punch), punches under an approved leave, punches on a rest day.
    extra: list[CheckPoint | FreePunch] = field(default_factory=list)
    _rows: list[dict[str, Any]] | None = None


LEAVE_TYPES: dict[str, str] = {
    "事假": "d4e0a0f0-5a5b-4cb1-a4f1-personal0001",
    "病假": "d4e0a0f0-5a5b-4cb1-a4f1-sick00000002",
    "年假": "d4e0a0f0-5a5b-4cb1-a4f1-annual000003",
}

#: Leave types with a balance (vacation/quota/list): name → quota hours per calendar year.
#: The others are 不需要余额控制 (``freedom_leave``) and have no quota.
LEAVE_QUOTA_HOURS: dict[str, float] = {"年假": 40.0}
HOURS_PER_DAY = 8

#: Report columns (getattcolumns): alias → (id, name). Values per day agree with the punches.
COLUMNS: dict[str, tuple[int, str]] = {
    "should_attendance_days": (129339038, "应出勤天数"),
    "attendance_days": (129339040, "出勤天数"),
    "late_times": (129339041, "迟到次数"),
    "late_minute": (129339042, "迟到时长"),
    "serious_late_times": (129339043, "严重迟到次数"),
    "leave_early_times": (129339044, "早退次数"),
    "leave_early_minute": (129339045, "早退时长"),
    "on_work_lack_card_times": (129339046, "上班缺卡次数"),
    "off_work_lack_card_times": (129339047, "下班缺卡次数"),
    "absenteeism_days": (129339048, "旷工天数"),
}

#: Monthly metrics (the truth and our summary use the same names).
METRICS = (
    "scheduled_days",
    "attended_days",
    "late_count",
    "late_minutes",
    "serious_late_count",
    "early_count",
    "early_minutes",
    "missing_on_duty",
    "missing_off_duty",
    "absent_days",
    "leave_hours",
)

#: Which column carries which metric (for day values).
COLUMN_METRIC = {
    "should_attendance_days": "scheduled_days",
    "attendance_days": "attended_days",
    "late_times": "late_count",
    "late_minute": "late_minutes",
    "serious_late_times": "serious_late_count",
    "leave_early_times": "early_count",
    "leave_early_minute": "early_minutes",
    "on_work_lack_card_times": "missing_on_duty",
    "off_work_lack_card_times": "missing_off_duty",
    "absenteeism_days": "absent_days",
}

OUTCOMES: tuple[tuple[str, float], ...] = (
    ("leave_full", 0.02),
    ("leave_half", 0.01),
    ("absent", 0.01),
    ("miss_on", 0.02),
    ("miss_off", 0.02),
    ("late", 0.07),
    ("serious", 0.015),
    ("early", 0.03),
)


def day_metrics(day: PersonDay) -> dict[str, float]:
    """The monthly metrics one person-day contributes (0 for a rest day)."""
    out = dict.fromkeys(METRICS, 0.0)
    if day.is_rest:
        return out
    out["scheduled_days"] = 1
    punched = [p for p in day.points if p.source_type == "USER"]
    signed = [p for p in day.points if p.time_result != "NotSigned"]
    if punched:
        out["attended_days"] = 1
    if not signed:
        out["absent_days"] = 1
    for p in day.points:
        if p.time_result == "Late":
            out["late_count"] += 1
            out["late_minutes"] += p.minutes
        elif p.time_result == "SeriousLate":
            out["serious_late_count"] += 1
            out["late_minutes"] += p.minutes
        elif p.time_result == "Early":
            out["early_count"] += 1
            out["early_minutes"] += p.minutes
        elif p.time_result == "NotSigned" and signed:
            out["missing_on_duty" if p.check_type == "OnDuty" else "missing_off_duty"] += 1
    if day.leave is not None:
        out["leave_hours"] = day.leave.hours
    return out


class AttendanceWorld:
    """The generated attendance data of one company, indexed for the handlers."""

    def __init__(self, groups: list[Group], days: list[PersonDay], dates: list[date]) -> None:
        self.groups = groups
        self.groups_by_id = {g.group_id: g for g in groups}
        self.dates = dates
        self.holidays = sorted({d.work_date for d in days if d.holiday})
        self.by_user: dict[str, dict[date, PersonDay]] = {}
        for d in days:
            self.by_user.setdefault(d.userid, {})[d.work_date] = d
        self.leaves: list[Leave] = [d.leave for d in days if d.leave is not None]
        self.leaves_by_user: dict[str, list[Leave]] = {}
        for lv in self.leaves:
            self.leaves_by_user.setdefault(lv.userid, []).append(lv)
        # Punch details (listRecord) by user, sorted by punch time.
        self.punches: dict[str, list[tuple[int, PersonDay, Punch]]] = {}
        for d in days:
            items: list[tuple[int, PersonDay, Punch]] = [
                (p.user_ms, d, p) for p in d.points if p.source_type == "USER" and p.user_ms
            ]
            items.extend((ip.user_ms, d, ip) for ip in d.invalid)
            self.punches.setdefault(d.userid, []).extend(items)
        for items in self.punches.values():
            items.sort(key=lambda t: t[0])
        self.punch_times = {u: [t[0] for t in items] for u, items in self.punches.items()}

    def add_punch(self, day: PersonDay, item: CheckPoint | FreePunch) -> None:
        """Index a new punch of ``day.userid`` (``item.user_ms``, epoch ms) for ``listRecord``."""
        assert item.user_ms is not None
        times = self.punch_times.setdefault(day.userid, [])
        items = self.punches.setdefault(day.userid, [])
        at = bisect.bisect_right(times, item.user_ms)
        times.insert(at, item.user_ms)
        items.insert(at, (item.user_ms, day, item))

    def monthly_truth(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{"YYYY-MM": {userid: {metric: value}}}`` over every generated person-day."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for userid, per_day in self.by_user.items():
            for day in per_day.values():
                month = day.work_date.strftime("%Y-%m")
                bucket = out.setdefault(month, {}).setdefault(userid, dict.fromkeys(METRICS, 0.0))
                for k, v in day_metrics(day).items():
                    bucket[k] += v
        return out


def _wall_ms(day: date, minute: int) -> int:
    """Epoch ms of ``day`` 00:00 GMT+8 plus ``minute`` minutes."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=GMT8)
    return int(midnight.timestamp() * 1000) + minute * MINUTE_MS


def date_ms(day: date) -> int:
    """Epoch ms of 00:00 GMT+8 of ``day`` (DingTalk's ``workDate``)."""
    return _wall_ms(day, 0)


def wire_time(ms: int) -> str:
    """Epoch ms → ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    return datetime.fromtimestamp(ms / 1000, GMT8).strftime(WIRE_FORMAT)


def generate_attendance(company: Company, seed: int, days: int) -> AttendanceWorld:
    """Generate groups, schedules, punches and leave for ``company`` (deterministic)."""
    rng = random.Random(f"dingsync-attendance:{seed}:{days}")
    anchor_day = datetime.fromtimestamp(company.anchor_ms / 1000, GMT8).date()
    dates = [anchor_day - timedelta(days=n) for n in range(days, 0, -1)]
    holiday = next((d for d in dates if d.weekday() == 2), None)

    fixed = ShiftClass(700001, "A 09:00-18:00", 9 * 60, 18 * 60, 0, 0, 30, 480, 588001)
    flexible = ShiftClass(700002, "弹性 10:00-19:00", 10 * 60, 19 * 60, 0, 30, 60, 480, 588002)
    night = ShiftClass(
        700003, "夜班 23:30-次日07:30", 23 * 60 + 30, 7 * 60 + 30, 1, 0, 30, 480, 588003
    )

    people = sorted(u.userid for u in company.users.values() if u.active)
    order = people[:]
    rng.shuffle(order)
    n_night = max(1, round(len(order) * 0.08)) if len(order) >= 3 else 0
    n_flex = max(1, round(len(order) * 0.30)) if len(order) >= 2 else 0
    g_fixed = Group(600001, "总部考勤组", fixed, [])
    g_flex = Group(600002, "研发弹性考勤组", flexible, [])
    g_night = Group(600003, "夜班考勤组", night, [])
    g_night.members = sorted(order[:n_night])
    g_flex.members = sorted(order[n_night : n_night + n_flex])
    g_fixed.members = sorted(order[n_night + n_flex :])
    groups = [g_fixed, g_flex, g_night]
    for g in groups:
        if g.members:
            g.managers = sorted(rng.sample(g.members, min(2, len(g.members))))
    group_of = {u: g for g in groups for u in g.members}

    ids = {"result": 100_000_000_000, "record": 42_000_000_000, "plan": 145_000_000_000}
    ids.update(approve=2_376_000_000, schedule=56_676_000_000)

    def next_id(kind: str) -> int:
        ids[kind] += 1
        return ids[kind]

    out: list[PersonDay] = []
    forced_night = g_night.members[0] if g_night.members else None
    for userid in people:
        group = group_of[userid]
        shift = group.shift
        first_workday = True
        for day in dates:
            rest = day.weekday() >= 5 or day == holiday
            pd = PersonDay(userid, day, group, rest, day == holiday, next_id("schedule"))
            out.append(pd)
            if rest:
                continue
            on_base = _wall_ms(day, shift.on_minute)
            off_base = _wall_ms(day, shift.off_minute + (1440 if shift.across else 0))
            draw = rng.random()
            outcome = "normal"
            acc = 0.0
            for name, p in OUTCOMES:
                acc += p
                if draw < acc:
                    outcome = name
                    break
            if userid == forced_night and first_workday:
                outcome = "serious_0030"  # a seriously late punch at 00:30 of the next day
            first_workday = False
            pd.points = _make_points(rng, pd, shift, outcome, on_base, off_base, next_id)
            if outcome in ("leave_full", "leave_half"):
                leave_type = rng.choice(sorted(LEAVE_TYPES))
                hours = shift.work_minutes / 60 if outcome == "leave_full" else 4.0
                end = off_base if outcome == "leave_full" else on_base + 4 * HOUR_MS
                approve = pd.points[0].approve_id or next_id("approve")
                pd.leave = Leave(
                    userid,
                    on_base,
                    end,
                    leave_type,
                    LEAVE_TYPES[leave_type],
                    hours,
                    day,
                    pd.points[0].proc_inst_id or "",
                    approve,
                )
            if rng.random() < 0.02:
                at = on_base + rng.randrange(60, 240) * MINUTE_MS
                pd.invalid.append(InvalidPunch(next_id("record"), at, "需要二次确认"))
    return AttendanceWorld(groups, out, dates)


def _make_points(
    rng: random.Random,
    pd: PersonDay,
    shift: ShiftClass,
    outcome: str,
    on_base: int,
    off_base: int,
    next_id: Any,
) -> list[CheckPoint]:
    def punch(check_type: str, base: int, user: int, result: str, minutes: int) -> CheckPoint:
        location = "Outside" if rng.random() < 0.03 else "Normal"
        return CheckPoint(
            next_id("result"),
            next_id("plan"),
            check_type,
            base,
            user,
            result,
            location,
            "USER",
            next_id("record"),
            minutes,
        )

    def missing(check_type: str, base: int) -> CheckPoint:
        return CheckPoint(
            next_id("result"),
            next_id("plan"),
            check_type,
            base,
            None,
            "NotSigned",
            "NotSigned",
            "SYSTEM",
            None,
        )

    def approved(check_type: str, base: int, approve_id: int, proc: str) -> CheckPoint:
        return CheckPoint(
            next_id("result"),
            next_id("plan"),
            check_type,
            base,
            base,
            "Normal",
            "Normal",
            "APPROVE",
            next_id("record"),
            0,
            approve_id,
            proc,
        )

    def on_time() -> CheckPoint:
        early_by = rng.randrange(1, 25)
        if shift.permit_late_minutes:  # flexible: anywhere in the permitted window is normal
            delta = rng.randrange(-20, shift.permit_late_minutes + 1)
        else:
            delta = -early_by
        return punch("OnDuty", on_base, on_base + delta * MINUTE_MS, "Normal", 0)

    def off_time() -> CheckPoint:
        return punch("OffDuty", off_base, off_base + rng.randrange(0, 90) * MINUTE_MS, "Normal", 0)

    if outcome in ("leave_full", "leave_half"):
        approve_id = next_id("approve")
        proc = f"{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}"
        on = approved("OnDuty", on_base, approve_id, proc)
        off = (
            approved("OffDuty", off_base, approve_id, proc)
            if outcome == "leave_full"
            else off_time()
        )
        return [on, off]
    if outcome == "absent":
        return [missing("OnDuty", on_base), missing("OffDuty", off_base)]
    if outcome == "miss_on":
        return [missing("OnDuty", on_base), off_time()]
    if outcome == "miss_off":
        return [on_time(), missing("OffDuty", off_base)]
    if outcome in ("late", "serious", "serious_0030"):
        permit, serious = shift.permit_late_minutes, shift.serious_late_minutes
        if outcome == "late":
            minutes = rng.randrange(permit + 1, serious)
        elif outcome == "serious":
            minutes = rng.randrange(serious, serious + 90)
        else:
            minutes = 60
        result = "Late" if minutes < serious else "SeriousLate"
        on = punch("OnDuty", on_base, on_base + minutes * MINUTE_MS, result, minutes)
        return [on, off_time()]
    if outcome == "early":
        minutes = rng.randrange(5, 91)
        return [
            on_time(),
            punch("OffDuty", off_base, off_base - minutes * MINUTE_MS, "Early", minutes),
        ]
    return [on_time(), off_time()]


# ---------------------------------------------------------------------------------------------
# Wire shapes
# ---------------------------------------------------------------------------------------------
def _result_rows(corp_id: str, day: PersonDay) -> list[dict[str, Any]]:
    """The ``/attendance/list`` rows of a person-day (cached on the day)."""
    if day._rows is None:
        rows = []
        for p in day.points:
            row: dict[str, Any] = {
                "checkType": p.check_type,
                "corpId": corp_id,
                "locationResult": p.location_result,
                "baseCheckTime": p.base_ms,
                "groupId": day.group.group_id,
                "timeResult": p.time_result,
                "userId": day.userid,
                "workDate": date_ms(day.work_date),
                "sourceType": p.source_type,
                "userCheckTime": p.user_ms if p.user_ms is not None else p.base_ms,
                "planId": p.plan_id,
                "id": p.result_id,
            }
            if p.record_id is not None:
                row["recordId"] = p.record_id
            if p.approve_id is not None:
                row["approveId"] = p.approve_id
                row["procInstId"] = p.proc_inst_id
            rows.append(row)
        day._rows = rows
    return day._rows


def punch_place(location_result: str) -> tuple[str, float, float]:
    """``(address, latitude, longitude)`` the sandbox gives a punch with ``location_result``
    (``Outside`` is a customer's site a few km away)."""
    if location_result == "Outside":
        return "浙江省杭州市余杭区", 30.385413, 120.117139
    return "浙江省杭州市", 30.285413, 120.017139


def _record_row(corp_id: str, day: PersonDay, item: Punch) -> dict[str, Any]:
    shift = day.group.shift
    if isinstance(item, InvalidPunch):
        return {
            "gmtModified": item.user_ms,
            "userAccuracy": 65,
            "workDate": date_ms(day.work_date),
            "id": item.record_id,
            "invalidRecordType": "Other",
            "corpId": corp_id,
            "userLongitude": 120.017019,
            "gmtCreate": item.user_ms,
            "invalidRecordMsg": item.message,
            "userId": day.userid,
            "userAddress": "浙江省杭州市",
            "userLatitude": 30.285622,
            "sourceType": "USER",
            "userCheckTime": item.user_ms,
            "locationMethod": "MAP",
            "isLegal": "N",
        }
    outside = item.location_result == "Outside"
    address, latitude, longitude = punch_place(item.location_result)
    row: dict[str, Any] = {"gmtModified": item.user_ms}
    if isinstance(item, CheckPoint):
        row["baseCheckTime"] = item.base_ms
    row["groupId"] = day.group.group_id
    row["timeResult"] = item.time_result if isinstance(item, CheckPoint) else "Normal"
    row["userAccuracy"] = 65 if not outside else 120
    if isinstance(item, CheckPoint):
        row["classId"] = shift.class_id
    row["workDate"] = date_ms(day.work_date)
    if isinstance(item, CheckPoint):
        row["planId"] = item.plan_id
    row["id"] = item.record_id
    row["checkType"] = item.check_type
    if isinstance(item, CheckPoint):
        row["planCheckTime"] = item.base_ms
    row.update(
        {
            "corpId": corp_id,
            "locationResult": item.location_result,
            "userLongitude": longitude,
            "isLegal": "Y",
            "gmtCreate": item.user_ms,
            "userId": day.userid,
            "userAddress": address,
            "userLatitude": latitude,
            "sourceType": "USER",
            "userCheckTime": item.user_ms,
            "locationMethod": item.location_method,
            "baseAddress": "浙江省杭州市",
        }
    )
    if outside:
        row["outsideRemark"] = "拜访客户"
    if item.biz_id:
        row["bizId"] = item.biz_id
    if item.device_sn:
        row["deviceSN"] = item.device_sn
    return row


def _judge(shift: ShiftClass, check_type: str, base_ms: int, user_ms: int) -> tuple[str, int]:
    """``(timeResult, minutes)`` of a punch at ``user_ms`` for a check point at ``base_ms``
    (epoch ms): on duty ``Normal`` up to the class's permitted lateness, then ``Late``, and
    ``SeriousLate`` from its serious minutes on; off duty ``Early`` before the base time.
    Minutes are whole minutes rounded up, counted from the base time (as generation does)."""
    if check_type == "OnDuty":
        late_ms = user_ms - base_ms
        if late_ms <= shift.permit_late_minutes * MINUTE_MS:
            return "Normal", 0
        minutes = -(-late_ms // MINUTE_MS)
        return ("Late" if minutes < shift.serious_late_minutes else "SeriousLate"), minutes
    early_ms = base_ms - user_ms
    if early_ms <= 0:
        return "Normal", 0
    return "Early", -(-early_ms // MINUTE_MS)


def _class_json(shift: ShiftClass) -> dict[str, Any]:
    off = f"1970-01-01 {shift.off_minute // 60:02d}:{shift.off_minute % 60:02d}:00"
    on = f"1970-01-01 {shift.on_minute // 60:02d}:{shift.on_minute % 60:02d}:00"
    return {
        "class_id": shift.class_id,
        "class_name": shift.name,
        "sections": [
            {
                "times": [
                    {"across": 0, "check_time": on, "check_type": "OnDuty"},
                    {"across": shift.across, "check_time": off, "check_type": "OffDuty"},
                ]
            }
        ],
        "setting": {
            "absenteeism_late_minutes": -1,
            "class_setting_id": shift.class_setting_id,
            "is_off_duty_free_check": "N",
            "permit_late_minutes": shift.permit_late_minutes,
            "serious_late_minutes": shift.serious_late_minutes,
            "work_time_minutes": shift.work_minutes,
        },
    }


def _parse_wire_date(params: Any, name: str) -> date:
    """A required ``yyyy-MM-dd HH:mm:ss`` (GMT+8) parameter's date part; 41100 otherwise."""
    value = params.data.get(name)
    if value is None or value == "":
        raise OapiError(ERR_DATE, f"时间参数不合法: 缺少{name}")
    try:
        return datetime.strptime(str(value), WIRE_FORMAT).date()
    except ValueError:
        raise OapiError(ERR_DATE, f"时间参数不合法: {name}") from None


def _parse_day(params: Any, name: str) -> date:
    """A required date parameter, ``yyyy-MM-dd`` or ``yyyy-MM-dd HH:mm:ss`` (GMT+8; only the
    date part is used: getupdatedata's doc shows the first, its curl and SDK send the second,
    ``listschedule`` likewise); 41100 otherwise."""
    value = params.data.get(name)
    if value is None or value == "":
        raise OapiError(ERR_DATE, f"时间参数不合法: 缺少{name}")
    text = str(value).strip()
    for fmt in (WIRE_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise OapiError(ERR_DATE, f"时间参数不合法: {name}")


def _parse_wire_ms(params: Any, name: str) -> int:
    value = params.data.get(name)
    if value is None or value == "":
        raise OapiError(ERR_DATE, f"时间参数不合法: 缺少{name}")
    try:
        moment = datetime.strptime(str(value), WIRE_FORMAT).replace(tzinfo=GMT8)
    except ValueError:
        raise OapiError(ERR_DATE, f"时间参数不合法: {name}") from None
    return int(moment.timestamp() * 1000)


def _dates_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# ---------------------------------------------------------------------------------------------
# The area
# ---------------------------------------------------------------------------------------------
class PunchBody(MutationBody):
    """``POST /sandbox/mutate/attendance/punch``: every field optional. ``check_time`` epoch ms
    (a JSON integer or a string of digits)."""

    userid: UserId | None = None
    check_time: (
        Annotated[StrictInt, Field(ge=0)]
        | Annotated[StrictStr, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,16}$")]
        | None
    ) = None
    check_type: Literal["OnDuty", "OffDuty"] | None = None
    location_result: Literal["Normal", "Outside"] | None = None
    location_method: Literal["MAP", "WIFI", "ATM"] | None = None
    device_sn: Annotated[StrictStr, StringConstraints(max_length=64)] | None = None
    check_by_user: StrictBool | None = None


class AttendanceArea:
    """The attendance area of a sandbox (see ``dingsync.sandbox.areas``).

    Attributes: ``world`` (:class:`AttendanceWorld`), ``leaves`` (every approved leave period,
    a list of :class:`Leave` — userid, ``start_ms``/``end_ms``, ``leave_type``, ``leave_code``,
    ``hours``, ``work_date``, ``proc_inst_id``, ``approve_id``), ``knobs``:
    ``attendance_corrupt_column`` — ``None`` or ``{"userid", "alias", "date": "yyyy-MM-dd",
    "delta": n}``: that person's value of that report column on that day is served off by
    ``delta`` (for the cross-check test). ``listeners`` hear every punch made through
    :meth:`punch` as ``(event_type, data_item)`` and may answer a dict (the ``events`` area
    answers the emitted event, which the mutation route returns).
    """

    def __init__(self, state: SandboxState) -> None:
        self.knobs: dict[str, Any] = {"attendance_corrupt_column": None}
        self.state = state
        self.world = generate_attendance(state.company, state.config.seed, state.config.days)
        self.leaves: list[Leave] = list(self.world.leaves)
        self._truth: dict[str, Any] | None = None
        #: ``(event_type, DataList item) -> answer | None``, called after each punch.
        self.listeners: list[Callable[[str, dict[str, Any]], dict[str, Any] | None]] = []
        self.rng = random.Random(f"dingsync-attendance-mutations:{state.config.seed}")
        self._ids: dict[str, int] | None = None

    @property
    def corp_id(self) -> str:
        return self.state.app.corp_id

    # -- truth -----------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts and the monthly truth per person (``monthly[YYYY-MM][userid][metric]``)."""
        if self._truth is None:
            w = self.world
            days = [d for per in w.by_user.values() for d in per.values()]
            self._truth = {
                "groups": len(w.groups),
                "group_members": sum(len(g.members) for g in w.groups),
                "work_date_from": w.dates[0].isoformat() if w.dates else None,
                "work_date_to": w.dates[-1].isoformat() if w.dates else None,
                "holidays": [d.isoformat() for d in w.holidays],
                "schedules": sum(1 if d.is_rest else len(d.points) for d in days),
                "results": sum(len(d.points) for d in days),
                "records": sum(len(v) for v in w.punches.values()),
                "leaves": len(w.leaves),
                "monthly": w.monthly_truth(),
            }
        return self._truth

    # -- the punch mutation ----------------------------------------------------------------------
    def punch(
        self,
        userid: str | None = None,
        check_time: int | None = None,
        check_type: str | None = None,
        location_result: str | None = None,
        location_method: str | None = None,
        device_sn: str | None = None,
        check_by_user: bool = True,
    ) -> dict[str, Any]:
        """Record a punch of ``userid`` at ``check_time`` (epoch ms; default the sandbox clock)
        and announce it to :attr:`listeners` (see the module docstring for where it lands).

        Returns ``{"punch": {...}, "item": {...}, "answers": [...]}``: ``punch`` names the
        userid, ``work_date`` (``yyyy-MM-dd``, Asia/Shanghai), ``check_type``, ``time_result``,
        ``minutes``, ``record_id``, ``result_id`` (``None`` when it decides no check point),
        ``decides`` (it is now the result's punch), ``check_time``, ``biz_id``; ``item`` is the
        event's ``DataList`` item; ``answers`` what the listeners returned. Raises ``KeyError``
        (``"userid"``) for a person the company does not have (leavers included) and
        ``ValueError`` for a bad field or a person who has not activated DingTalk."""
        if check_type not in (None, "OnDuty", "OffDuty"):
            raise ValueError("check_type must be OnDuty or OffDuty")
        location = location_result or "Normal"
        if location not in ("Normal", "Outside"):
            raise ValueError("location_result must be Normal or Outside")
        method = location_method or "MAP"
        if method not in ("MAP", "WIFI", "ATM"):
            raise ValueError("location_method must be MAP, WIFI or ATM")
        if check_time is not None and (isinstance(check_time, bool) or check_time < 0):
            raise ValueError("check_time must be epoch milliseconds")
        with self.state.lock:
            company = self.state.company
            if userid is None:
                pool = sorted(u for g in self.world.groups for u in g.members if u in company.users)
                if not pool:
                    raise MutationConflict("nobody can punch")
                userid = self.rng.choice(pool)
            user = company.users.get(userid)
            if user is None:
                raise unknown("user", "userid", userid)
            if not user.active:
                raise MutationConflict(f"{userid} has not activated DingTalk and cannot punch")
            at_ms = self.state.clock.now_ms() if check_time is None else int(check_time)
            group = self._group_of(userid)
            day, index = self._locate(userid, group, at_ms, check_type)
            record_id = self._next_id("record")
            biz_id = f"{self.rng.getrandbits(48):012X}"
            decides = False
            result_id: int | None = None
            minutes = 0
            item: CheckPoint | FreePunch
            if index is None:
                hour = datetime.fromtimestamp(at_ms / 1000, GMT8).hour
                kind = check_type or ("OnDuty" if hour < 12 else "OffDuty")
                item = FreePunch(record_id, at_ms, kind, location, biz_id, method, device_sn)
                time_result = "Normal"
                day.extra.append(item)
            else:
                point = day.points[index]
                time_result, minutes = _judge(group.shift, point.check_type, point.base_ms, at_ms)
                kind = point.check_type
                item = CheckPoint(
                    point.result_id,
                    point.plan_id,
                    kind,
                    point.base_ms,
                    at_ms,
                    time_result,
                    location,
                    "USER",
                    record_id,
                    minutes,
                    biz_id=biz_id,
                    location_method=method,
                    device_sn=device_sn,
                )
                if point.source_type == "SYSTEM" or (
                    point.source_type == "USER"
                    and point.user_ms is not None
                    and (at_ms < point.user_ms if kind == "OnDuty" else at_ms > point.user_ms)
                ):
                    decides = True
                    result_id = point.result_id
                    day.points[index] = item
                    if point.source_type == "USER":
                        day.extra.append(point)  # the superseded punch stays a punch
                else:
                    day.extra.append(item)
            self.world.by_user.setdefault(userid, {})[day.work_date] = day
            self.world.add_punch(day, item)
            day._rows = None
            self._truth = None
            address, latitude, longitude = punch_place(location)
            data_item: dict[str, Any] = {
                "address": address,
                "checkTime": at_ms,
                "corpId": self.corp_id,
                "groupId": group.group_id,
                "latitude": latitude,
                "longitude": longitude,
                "bizId": biz_id,
                "locationMethod": method,
                "userId": userid,
                "deviceSN": device_sn or "",
                "locationResult": location,
                "checkByUser": bool(check_by_user),
            }
        answers = [
            answer
            for listener in list(self.listeners)
            if (answer := listener("attendance_check_record", dict(data_item))) is not None
        ]
        return {
            "punch": {
                "userid": userid,
                "work_date": day.work_date.isoformat(),
                "check_type": kind,
                "time_result": time_result,
                "minutes": minutes,
                "record_id": record_id,
                "result_id": result_id,
                "decides": decides,
                "check_time": at_ms,
                "biz_id": biz_id,
            },
            "item": data_item,
            "answers": answers,
        }

    def _next_id(self, kind: str) -> int:
        """A fresh id of ``kind`` (``result``, ``record``, ``plan``, ``schedule``) above every
        generated one."""
        if self._ids is None:
            ids = {"result": 0, "record": 0, "plan": 0, "schedule": 0}
            for per in self.world.by_user.values():
                for d in per.values():
                    ids["schedule"] = max(ids["schedule"], d.schedule_id)
                    for pt in d.points:
                        ids["result"] = max(ids["result"], pt.result_id)
                        ids["plan"] = max(ids["plan"], pt.plan_id)
                        ids["record"] = max(ids["record"], pt.record_id or 0)
                    for ip in d.invalid:
                        ids["record"] = max(ids["record"], ip.record_id)
            self._ids = ids
        self._ids[kind] += 1
        return self._ids[kind]

    def _group_of(self, userid: str) -> Group:
        """The person's attendance group; someone in none joins the default group."""
        for day in self.world.by_user.get(userid, {}).values():
            return day.group
        for g in self.world.groups:
            if userid in g.members:
                return g
        default = self.world.groups_by_id.get(600001) or self.world.groups[0]
        bisect.insort(default.members, userid)
        return default

    def _day_for(self, userid: str, group: Group, day: date) -> PersonDay:
        """The stored person-day, or a new one scheduled like generation (weekends and the
        generated holidays rest; working days get ``NotSigned`` check points). Not stored."""
        known = self.world.by_user.get(userid, {}).get(day)
        if known is not None:
            return known
        holiday = day in self.world.holidays
        rest = day.weekday() >= 5 or holiday
        pd = PersonDay(userid, day, group, rest, holiday, self._next_id("schedule"))
        if not rest:
            shift = group.shift
            on_base = _wall_ms(day, shift.on_minute)
            off_base = _wall_ms(day, shift.off_minute + (1440 if shift.across else 0))
            pd.points = [
                CheckPoint(
                    self._next_id("result"),
                    self._next_id("plan"),
                    check,
                    base,
                    None,
                    "NotSigned",
                    "NotSigned",
                    "SYSTEM",
                    None,
                )
                for check, base in (("OnDuty", on_base), ("OffDuty", off_base))
            ]
        return pd

    def _locate(
        self, userid: str, group: Group, at_ms: int, check_type: str | None
    ) -> tuple[PersonDay, int | None]:
        """The person-day and the index of the check point a punch at ``at_ms`` belongs to:
        the nearest scheduled point (of ``check_type`` if given) within 12 hours on the punch's
        calendar date or the day before; ``None`` (a free punch on the calendar date) else."""
        calendar = datetime.fromtimestamp(at_ms / 1000, GMT8).date()
        best: tuple[int, PersonDay, int] | None = None
        for d in (calendar - timedelta(days=1), calendar):
            day = self._day_for(userid, group, d)
            if day.is_rest:
                continue
            for i, pt in enumerate(day.points):
                if check_type is not None and pt.check_type != check_type:
                    continue
                distance = abs(at_ms - pt.base_ms)
                if distance <= 12 * HOUR_MS and (best is None or distance < best[0]):
                    best = (distance, day, i)
        if best is not None:
            return best[1], best[2]
        return self._day_for(userid, group, calendar), None

    def control_routes(self, app: FastAPI) -> None:
        """``POST /sandbox/mutate/attendance/punch`` (see the module docstring): answers the
        emitted event like the contacts mutations, plus ``punch``; without an events area
        ``{"punch": …, "item": …}``. 400 ``{"errcode": 400002, …}`` for a malformed body or
        field, 404 ``{"errcode": 60121, …}`` for an unknown userid, 409 for a person who
        cannot punch (not activated) — see ``dingsync.sandbox.mutations``."""

        async def punch(request: Request) -> JSONResponse:
            try:
                body = validate(PunchBody, await read_body(request))
                kwargs = fields_of(body)
                if "check_time" in kwargs:
                    kwargs["check_time"] = int(kwargs["check_time"])
                outcome = self.punch(**kwargs)
            except MutationError as exc:
                return exc.response()
            except (ValueError, TypeError) as exc:
                return BadMutation(str(exc)).response()
            answer: dict[str, Any] = dict(outcome["answers"][0]) if outcome["answers"] else {}
            if not answer:
                answer["item"] = outcome["item"]
            answer["punch"] = outcome["punch"]
            return JSONResponse(answer)

        app.add_api_route("/sandbox/mutate/attendance/punch", punch, methods=["POST"])

    # -- routes ----------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        from dingsync.sandbox.app import Route

        t: Family = "topapi"
        o: Family = "oapi"
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
        ]

    def _in_scope(self, userids: list[str]) -> list[str]:
        """``userids`` without duplicates and without people outside the app's data scope
        (silently left out, EB-31)."""
        return [u for u in dict.fromkeys(userids) if self.state.in_data_scope(u)]

    def _days(self, userid: str, start: date, end: date) -> list[PersonDay]:
        per = self.world.by_user.get(userid)
        if not per:
            return []
        return [per[d] for d in _dates_between(start, end) if d in per]

    # -- /attendance/list ------------------------------------------------------------------------
    def attendance_list(self, call: Call) -> dict[str, Any]:
        """``POST /attendance/list``: results per check point; 50 users, 7 days, limit 50."""
        p = call.params
        start = _parse_wire_date(p, "workDateFrom")
        end = _parse_wire_date(p, "workDateTo")
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
        rows: list[dict[str, Any]] = []
        for userid in self._in_scope(users):
            for day in self._days(userid, start, end):
                rows.extend(_result_rows(self.corp_id, day))
        page = rows[offset : offset + limit]
        return {"recordresult": page, "hasMore": offset + limit < len(rows)}

    # -- /attendance/listRecord ------------------------------------------------------------------
    def attendance_list_record(self, call: Call) -> dict[str, Any]:
        """``POST /attendance/listRecord``: every punch in a punch-time window (≤ 7 days)."""
        p = call.params
        start_ms = _parse_wire_ms(p, "checkDateFrom")
        end_ms = _parse_wire_ms(p, "checkDateTo")
        if end_ms < start_ms:
            raise OapiError(ERR_DATE, "时间参数不合法: checkDateTo早于checkDateFrom")
        start_day = datetime.fromtimestamp(start_ms / 1000, GMT8).date()
        end_day = datetime.fromtimestamp(end_ms / 1000, GMT8).date()
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
                rows.append(_record_row(self.corp_id, day, item))
        return {"recordresult": rows}

    # -- getupdatedata ---------------------------------------------------------------------------
    def getupdatedata(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getupdatedata {userid, work_date}``: one user-day."""
        p = call.params
        userid = p.text("userid", required=True)
        work_date = _parse_day(p, "work_date")
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
                    "source_type": pt.source_type,
                    "plan_check_time": wire_time(pt.base_ms),
                    "class_id": day.group.shift.class_id,
                    "location_method": "MAP",
                    "location_result": pt.location_result,
                    "plan_id": pt.plan_id,
                    "group_id": day.group.group_id,
                    "user_check_time": wire_time(pt.user_ms or pt.base_ms),
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
                        "user_check_time": wire_time(pt.user_ms),
                        "valid_matched": True,
                        "user_accuracy": "65.0",
                        "source_type": "USER",
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
                        "user_check_time": wire_time(extra.user_ms),
                        "valid_matched": False,
                        "user_accuracy": "65.0",
                        "source_type": "USER",
                        "user_longitude": f"{lon:.6f}",
                        "user_latitude": f"{lat:.6f}",
                    }
                )
            for ip in day.invalid:
                records.append(
                    {
                        "record_id": ip.record_id,
                        "user_check_time": wire_time(ip.user_ms),
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
                        "begin_time": wire_time(lv.start_ms),
                        "biz_type": 3,
                        "end_time": wire_time(lv.end_ms),
                        "gmt_finished": wire_time(lv.start_ms - DAY_MS),
                    }
                )
        on = days[0].group.shift.on_minute if days else 9 * 60
        return {
            "result": {
                "approve_list": approvals,
                "attendance_result_list": results,
                "corpId": self.corp_id,
                "work_date": wire_time(_wall_ms(work_date, on)),
                "userid": userid,
                "check_record_list": records,
            },
            "success": True,
        }

    # -- groups ----------------------------------------------------------------------------------
    def getsimplegroups(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getsimplegroups {offset, size ≤ 10}``."""
        p = call.params
        offset = p.integer("offset", lo=0, default=0)
        size = p.integer("size", lo=1, hi=GROUPS_MAX_SIZE, default=GROUPS_MAX_SIZE)
        assert offset is not None and size is not None
        groups = self.world.groups[offset : offset + size]
        admin = self.state.company.main_admin_userid
        out = []
        for g in groups:
            s = g.shift
            work = [str(s.class_id)] * 7
            work[0] = work[6] = "0"
            on = f"{s.on_minute // 60:02d}:{s.on_minute % 60:02d}"
            off = f"{s.off_minute // 60:02d}:{s.off_minute % 60:02d}"
            off_text = f"次日{off}" if s.across else off
            out.append(
                {
                    "classes_list": [
                        f"周一、二、三、四、五 {s.name} {on}-{off_text} ",
                        "周六、日 休息",
                    ],
                    "default_class_id": s.class_id,
                    "dept_name_list": [],
                    "group_id": g.group_id,
                    "group_name": g.name,
                    "is_default": g.group_id == 600001,
                    "manager_list": list(g.managers),
                    "member_count": len(g.members),
                    "owner_user_id": admin,
                    "selected_class": [_class_json(s)],
                    "type": "FIXED",
                    "work_day_list": work,
                    "enable_emp_select_class": False,
                    "disable_check_without_schedule": False,
                    "disable_check_when_rest": True,
                }
            )
        return {
            "result": {
                "groups": out,
                "has_more": offset + size < len(self.world.groups),
            }
        }

    def group_members(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/group/memberusers/list {op_user_id, group_id, cursor}``."""
        p = call.params
        p.text("op_user_id", required=True)
        group_id = p.integer("group_id", required=True)
        cursor = p.integer("cursor", lo=0, default=0)
        assert cursor is not None
        group = self.world.groups_by_id.get(int(group_id or 0))
        if group is None:
            raise OapiError(ERR_PARAM, "考勤组不存在")
        page = group.members[cursor : cursor + MEMBERS_PAGE]
        more = cursor + MEMBERS_PAGE < len(group.members)
        result: dict[str, Any] = {"has_more": more, "result": page}
        if more:
            result["cursor"] = cursor + MEMBERS_PAGE
        return {"result": result, "success": True}

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
        start = datetime.fromtimestamp(start_ms / 1000, GMT8).date()
        end = datetime.fromtimestamp(end_ms / 1000, GMT8).date()
        return users, start, end

    def schedule_listbyusers(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/schedule/listbyusers``: ≤ 50 users, ≤ 7 days (ms)."""
        users, start, end = self._users_and_days(call.params, LIST_MAX_USERS)
        rows = []
        for userid in self._in_scope(users):
            for day in self._days(userid, start, end):
                wd = wire_time(date_ms(day.work_date))
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
                            "plan_check_time": wire_time(pt.base_ms),
                            "shift_id": day.group.shift.class_id,
                            "is_rest": "N",
                        }
                    )
        return {"result": rows, "success": True}

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
                "type": 0,
            }
            for alias, (cid, name) in COLUMNS.items()
        ]
        for name in LEAVE_TYPES:  # leave columns come without an id (read via §4.4)
            columns.append({"alias": "leave_", "name": name, "status": 0, "sub_type": 0, "type": 0})
        return {"result": {"columns": columns}}

    def _span_31(self, call: Call) -> tuple[str, date, date]:
        p = call.params
        userid = p.text("userid", required=True)
        start = _parse_wire_date(p, "from_date")
        end = _parse_wire_date(p, "to_date")
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
        days = {d.work_date: d for d in self._days(userid, start, end)}
        corrupt = self.state.area_knobs.get("attendance_corrupt_column") or None
        out = []
        for cid in ids:
            alias = by_id[cid]
            metric = COLUMN_METRIC[alias]
            vals = []
            for d in _dates_between(start, end):
                value = day_metrics(days[d])[metric] if d in days else 0.0
                if (
                    corrupt
                    and corrupt.get("userid") == userid
                    and corrupt.get("alias") == alias
                    and corrupt.get("date") == d.isoformat()
                ):
                    value += float(corrupt.get("delta", 1))
                vals.append({"date": f"{d.isoformat()} 00:00:00", "value": f"{value:.1f}"})
            out.append({"column_vals": vals, "column_vo": {"id": cid}})
        return {"result": {"column_vals": out}}

    def getleavetimebynames(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getleavetimebynames``: per-day leave hours by leave name."""
        userid, start, end = self._span_31(call)
        names = call.params.text_list("leave_names", required=True) or []
        if len(names) > COLUMN_MAX_IDS:
            raise OapiError(ERR_PARAM, "无效的参数: leave_names最多20个")
        days = {d.work_date: d for d in self._days(userid, start, end)}
        out = []
        for name in names:
            vals = []
            for d in _dates_between(start, end):
                lv = days[d].leave if d in days else None
                hours = lv.hours if lv is not None and lv.leave_type == name else 0.0
                vals.append({"date": f"{d.isoformat()} 00:00:00", "value": f"{hours:.1f}"})
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

    # -- leave status ----------------------------------------------------------------------------
    def getleavestatus(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getleavestatus``: ≤ 100 users, ≤ 180 days, size ≤ 100."""
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
        if end_ms < start_ms or end_ms - start_ms > LEAVE_STATUS_MAX_DAYS * DAY_MS:
            raise OapiError(ERR_PARAM, "无效的参数: 时间跨度不能超过180天")
        found = []
        for userid in self._in_scope(users):
            for lv in self.world.leaves_by_user.get(userid, []):
                if lv.start_ms < end_ms and lv.end_ms > start_ms:
                    found.append(
                        {
                            "duration_percent": round(lv.hours * 100),
                            "duration_unit": "percent_hour",
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

    # -- groups, schedules and holidays beyond the sync's needs (attendance.md §4.1, §6–§8) -------
    def _group_for(self, userid: str) -> Group | None:
        """The person's attendance group without side effects (``None``: in no group)."""
        for day in self.world.by_user.get(userid, {}).values():
            return day.group
        for g in self.world.groups:
            if userid in g.members:
                return g
        return None

    def _group_or_error(self, group_id: int | None) -> Group:
        group = self.world.groups_by_id.get(int(group_id or 0))
        if group is None:
            raise OapiError(ERR_PARAM, "考勤组不存在")
        return group

    def group_minimalism(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/group/minimalism/list {op_user_id, cursor?}``: group
        summaries ``result.result[{id, name}]`` in group-id order, 100 a page; ``cursor`` is the
        last id of the page (as in the sample), the next page starts after it."""
        p = call.params
        p.text("op_user_id", required=True)
        cursor = p.integer("cursor", lo=0, default=0)
        assert cursor is not None
        ordered = sorted(self.world.groups, key=lambda g: g.group_id)
        rest = [g for g in ordered if g.group_id > cursor] if cursor else ordered
        page = rest[:MINIMALISM_PAGE]
        result: dict[str, Any] = {
            "has_more": len(rest) > MINIMALISM_PAGE,
            "result": [{"id": g.group_id, "name": g.name} for g in page],
        }
        if page:
            result["cursor"] = page[-1].group_id
        return {"result": result, "success": True}

    def group_query(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/group/query {op_user_id, group_id}``: one group —
        ``result{id, name, type, member_count, manager_list (comma-separated userids),
        owner_user_id, shift_ids[], work_day_list[7 numbers, Sunday..Saturday, 0 = rest, else
        the class id], address_list[], wifis[]}``. Unknown group → 400002."""
        p = call.params
        p.text("op_user_id", required=True)
        group = self._group_or_error(p.integer("group_id", required=True))
        s = group.shift
        work = [s.class_id] * 7
        work[0] = work[6] = 0
        return {
            "result": {
                "id": group.group_id,
                "name": group.name,
                "type": "FIXED",
                "member_count": len(group.members),
                "manager_list": ",".join(group.managers),
                "owner_user_id": self.state.company.main_admin_userid,
                "shift_ids": [s.class_id],
                "work_day_list": work,
                "address_list": [punch_place("Normal")[0]],
                "wifis": [],
            },
            "success": True,
        }

    def group_search(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/group/search {op_user_id, group_name}``: groups whose name
        contains ``group_name``, ``result[{id, name}]`` (empty list when none)."""
        p = call.params
        p.text("op_user_id", required=True)
        name = p.text("group_name", required=True) or ""
        found = [
            {"id": g.group_id, "name": g.name}
            for g in sorted(self.world.groups, key=lambda g: g.group_id)
            if name in g.name
        ]
        return {"result": found, "success": True}

    def getusergroup(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getusergroup {userid}``: the person's group with its
        classes ``result{group_id, name, type, classes[{class_id, name, sections[].times[]
        {across, check_time "1970-01-01 HH:mm:ss", check_type}, setting{}}]}`` (the sample has
        no ``success``). Out of the data scope → 50002; not in the company → 60121; a person in
        no group (not activated) → ``type`` ``NONE`` with no classes."""
        userid = call.params.text("userid", required=True)
        assert userid is not None
        self.state.require_data_scope(userid)
        if userid not in self.state.company.users:
            raise OapiError(60121, "找不到该用户")
        group = self._group_for(userid)
        if group is None:
            return {"result": {"classes": [], "group_id": 0, "name": "", "type": "NONE"}}
        klass = _class_json(group.shift)
        return {
            "result": {
                "classes": [
                    {
                        "class_id": klass["class_id"],
                        "name": klass["class_name"],
                        "sections": klass["sections"],
                        "setting": {},
                    }
                ],
                "group_id": group.group_id,
                "name": group.name,
                "type": "FIXED",
            }
        }

    def listschedule(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/listschedule {workDate, offset?, size? ≤ 200}``: the whole
        org's check points of one work date (``yyyy-MM-dd`` or ``yyyy-MM-dd HH:mm:ss``, only the
        date counts; a bad one → 41100; ``size`` over 200 → 400002), people in userid order —
        ``result{has_more, schedules[{plan_id, check_type, userid, class_id, class_setting_id,
        plan_check_time, group_id, approve_id?}]}``. Rest days have no check points."""
        p = call.params
        work_date = _parse_day(p, "workDate")
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
                    "plan_check_time": wire_time(pt.base_ms),
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
        work_date = datetime.fromtimestamp(at_ms / 1000, GMT8).date()
        day = self.world.by_user.get(userid, {}).get(work_date)
        if day is None:
            return {"result": [], "success": True}
        shift = day.group.shift
        base = {
            "corp_id": self.corp_id,
            "group_id": day.group.group_id,
            "user_id": userid,
            "work_date": wire_time(date_ms(work_date)),
        }
        if day.is_rest:
            row = {
                **base,
                "id": day.schedule_id,
                "class_id": 0,
                "check_type": "OnDuty",
                "plan_check_time": wire_time(date_ms(work_date)),
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
                "plan_check_time": wire_time(pt.base_ms),
                "base_check_time": wire_time(pt.base_ms),
                "is_rest": "N",
            }
            if pt.source_type == "USER" and pt.user_ms is not None:
                item["check_date_time"] = wire_time(pt.user_ms)
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
                        "work_date": wire_time(date_ms(day.work_date)),
                    }
                )
        return {"result": rows, "success": True}

    def isopensmartreport(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/isopensmartreport`` (no body): ``result{smart_report}`` —
        always true in the sandbox (``getattcolumns`` answers)."""
        return {"result": {"smart_report": True}}

    def vacation_types(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/vacation/type/list {op_userid, vacation_source?}``: the
        leave types the area's leave uses (事假, 病假, 年假; by the hour, 8 hours a day —
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
                "leave_view_unit": "hour",
                "natural_day_leave": "false",
                "paid_leave": name != "事假",
                "source": "inner",
                "when_can_leave": "entry",
            }
            for name, code in LEAVE_TYPES.items()
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
        name = next((n for n, c in LEAVE_TYPES.items() if c == leave_code), None)
        quota_hours = LEAVE_QUOTA_HOURS.get(name or "")
        rows: list[dict[str, Any]] = []
        if quota_hours is not None:
            anchor_year = datetime.fromtimestamp(self.state.company.anchor_ms / 1000, GMT8).year
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
