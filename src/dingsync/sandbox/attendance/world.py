"""The attendance world: shifts, groups, check points, punches, leave, person-days, the report
columns and their metrics, and the monthly truth (:class:`AttendanceWorld`).

Work dates are calendar dates in Asia/Shanghai; times are epoch ms.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dingsync.timeutil import (
    WIRE_TZ,
    day_start_ms,
    format_ms,
)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


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

    def check_times(self, day: date) -> tuple[int, int]:
        """Epoch ms of the on- and off-duty check points of ``day`` (GMT+8; a night shift's
        off duty falls on the next day)."""
        return wall_ms(day, self.on_minute), wall_ms(
            day, self.off_minute + (1440 if self.across else 0)
        )


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
    #: A missing punch fixed by an approved 补卡 (make-up) request: ``source_type`` APPROVE,
    #: ``Normal`` at the base time, with the approval's ids.
    make_up: bool = False
    #: Punched on the group's 钉钉考勤机 (time clock) rather than in the app: served with
    #: ``sourceType`` DING_ATM, the machine's name as the address and no coordinates.
    machine: bool = False

    @property
    def wire_source(self) -> str:
        """DingTalk's ``sourceType`` of this check point (``source_type``, or ``DING_ATM`` for
        a time-clock punch)."""
        return "DING_ATM" if self.machine else self.source_type

    @classmethod
    def not_signed(cls, result_id: int, plan_id: int, check_type: str, base_ms: int) -> CheckPoint:
        """A check point nobody punched at (``NotSigned``, ``SYSTEM``)."""
        return cls(
            result_id,
            plan_id,
            check_type,
            base_ms,
            None,
            "NotSigned",
            "NotSigned",
            "SYSTEM",
            None,
        )


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
    machine: bool = False


#: The time clock (钉钉考勤机) of 总部考勤组: its serial number and name (its punches' address).
MACHINE_SN = "DAT-2026-0001"
MACHINE_NAME = "总部前台考勤机"


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
class Trip:
    """An approved business trip (出差, whole days: ``amount`` the natural days from ``start_ms``
    to ``end_ms`` — 1 for one work day, 4 for Friday to Monday) or outing (外出, ``amount``
    hours before the off-duty time): ``biz_type`` 2 in DingTalk's approvals, the check points
    it covers carry ``APPROVE`` and its ``approve_id``. ``work_date`` is its first day; every
    :class:`PersonDay` it spans (rest days included) has it as ``trip``."""

    userid: str
    kind: str
    start_ms: int
    end_ms: int
    work_date: date
    amount: float
    proc_inst_id: str
    approve_id: int

    @property
    def unit(self) -> str:
        """``DAY`` for a trip, ``HOUR`` for an outing (``durationUnit``)."""
        return "DAY" if self.kind == "出差" else "HOUR"


@dataclass(slots=True)
class Overtime:
    """An approved overtime request (加班, ``bizType`` 1, ``tagName`` 加班) on a rest day or a
    public holiday: ``start_ms``..``end_ms`` (GMT+8 wall times), ``hours`` the approved
    duration; ``work_date`` the day it is on. What it counts depends on the rule of the day
    type (:data:`OVERTIME_RULE`): the approved time, or the part of it between the day's first
    and last punch."""

    userid: str
    start_ms: int
    end_ms: int
    work_date: date
    hours: float
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
    trip: Trip | None = None
    overtime: Overtime | None = None
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

#: Every leave type the company defines (``vacation/type/list``): name → (leave_code, unit).
#: The unit (``leave_view_unit``) is how the type is asked for and reported — ``day`` (年假) or
#: ``hour``; 调休 exists but nobody took it in the generated history (leave is drawn from
#: :data:`LEAVE_TYPES` only, so the draw stays as it was).
VACATION_TYPES: dict[str, tuple[str, str]] = {
    "事假": (LEAVE_TYPES["事假"], "hour"),
    "病假": (LEAVE_TYPES["病假"], "hour"),
    "年假": (LEAVE_TYPES["年假"], "day"),
    "调休": ("d4e0a0f0-5a5b-4cb1-a4f1-inlieu000004", "hour"),
}

#: Leave types with a balance (vacation/quota/list): name → quota hours per calendar year.
#: The others are 不需要余额控制 (``freedom_leave``) and have no quota.
LEAVE_QUOTA_HOURS: dict[str, float] = {"年假": 40.0}
HOURS_PER_DAY = 8


def leave_in_unit(leave: Leave) -> float:
    """A leave's duration in its type's unit: days (8 hours a day) for a ``day`` type, else
    hours — what ``getleavetimebynames`` reports and ``getleavestatus`` sends × 100."""
    unit = VACATION_TYPES.get(leave.leave_type, ("", "hour"))[1]
    return leave.hours / HOURS_PER_DAY if unit == "day" else leave.hours


@dataclass(frozen=True, slots=True)
class OvertimeDayRule:
    """The overtime rule (加班规则) of one day type (工作日 / 休息日 / 节假日), as DingTalk's
    admin console sets it: ``mode`` — ``punch`` (无需审批，按打卡时长计算: on a working day, from
    ``start_minutes`` after the off-duty check time to the off-duty punch), ``approval`` (按审批
    时长计算) or ``approval_punch`` (在审批的时段内，按打卡时长计算: the approved period cut to
    the day's first..last punch); the time counts in whole ``unit_minutes`` (rounded down) and
    is converted ``to`` 调休 (``rest``, time off in lieu) or 加班费 (``pay``). Options:
    ``before_minutes`` (上班前加班: an on-duty punch at least that early counts up to the
    on-duty time), ``deduct`` (扣除休息时间: ``(from, to)`` minutes after midnight of the work
    date, GMT+8), ``min_minutes`` (最小加班时长), ``round_up`` (取整 up), ``max_minutes`` (the
    day's most, after rounding)."""

    mode: str
    start_minutes: int
    unit_minutes: int
    to: str
    before_minutes: int = 0
    deduct: tuple[tuple[int, int], ...] = ()
    min_minutes: int = 0
    round_up: bool = False
    max_minutes: int = 0

    def counted(self, periods: list[tuple[int, int]], day: date) -> float:
        """Hours counted of the overtime ``periods`` (epoch ms) of work date ``day``."""
        minutes = 0
        for a, b in periods:
            if b <= a:
                continue
            length = b - a
            for lo, hi in self.deduct:
                w0 = wall_ms(day, lo)
                w1 = wall_ms(day, hi if hi > lo else hi + 24 * 60)
                length -= max(0, min(b, w1) - max(a, w0))
            minutes += length // MINUTE_MS
        if minutes <= 0 or minutes < self.min_minutes:
            return 0.0
        unit = self.unit_minutes
        whole = (minutes + unit - 1) // unit if self.round_up else minutes // unit
        got = whole * unit
        if self.max_minutes:
            got = min(got, self.max_minutes)
        return got / 60


def parse_overtime_rule(text: str) -> dict[str, OvertimeDayRule]:
    """The sandbox's reading of an overtime rule text (the ``attendance_overtime_rule`` knob,
    the same text as ``DINGSYNC_ATTENDANCE_OVERTIME_RULE``): ``<day type>=<mode>/<start>/
    <unit>/<rest|pay>[/before:N][/deduct:HH:MM-HH:MM,…][/min:N][/round:up|down][/max:N]`` for
    each of ``workday``, ``restday``, ``holiday``. ``ValueError`` when malformed."""
    out: dict[str, OvertimeDayRule] = {}
    for item in (x.strip() for x in text.split(";")):
        if not item:
            continue
        name, _, spec = item.partition("=")
        f = [x.strip() for x in spec.split("/")]
        opts: dict[str, object] = {}
        for o in f[4:]:
            key, _, value = o.partition(":")
            if key == "before":
                opts["before_minutes"] = int(value)
            elif key == "min":
                opts["min_minutes"] = int(value)
            elif key == "max":
                opts["max_minutes"] = int(value)
            elif key == "round":
                opts["round_up"] = value == "up"
            elif key == "deduct":
                spans = []
                for span in value.split(","):
                    a, _, b = span.partition("-")
                    ha, _, ma = a.partition(":")
                    hb, _, mb = b.partition(":")
                    spans.append((int(ha) * 60 + int(ma), int(hb) * 60 + int(mb)))
                opts["deduct"] = tuple(spans)
            else:
                raise ValueError(f"unknown overtime option {o!r}")
        out[name.strip()] = OvertimeDayRule(f[0], int(f[1]), int(f[2]), f[3], **opts)  # type: ignore[arg-type]
    if set(out) != {"workday", "restday", "holiday"}:
        raise ValueError("an overtime rule names workday, restday and holiday")
    return out


#: The sandbox company's overtime rule (one for every group): working days by punch from 30
#: minutes after the off-duty time, paid; rest days within the approved period by punches, as
#: time off in lieu; public holidays by the approved time, paid. Every day type in 30-minute
#: units. Reported in hours.
OVERTIME_RULE: dict[str, OvertimeDayRule] = {
    "workday": OvertimeDayRule("punch", 30, 30, "pay"),
    "restday": OvertimeDayRule("approval_punch", 0, 30, "rest"),
    "holiday": OvertimeDayRule("approval", 0, 30, "pay"),
}
OVERTIME_START_MINUTES = OVERTIME_RULE["workday"].start_minutes
OVERTIME_UNIT_MINUTES = OVERTIME_RULE["workday"].unit_minutes

#: The overtime split metrics in DingTalk's order: (day type, conversion) → metric.
OVERTIME_SPLITS: dict[tuple[str, str], str] = {
    ("workday", "rest"): "overtime_workday_rest_hours",
    ("workday", "pay"): "overtime_workday_pay_hours",
    ("restday", "rest"): "overtime_restday_rest_hours",
    ("restday", "pay"): "overtime_restday_pay_hours",
    ("holiday", "rest"): "overtime_holiday_rest_hours",
    ("holiday", "pay"): "overtime_holiday_pay_hours",
}


#: Report columns (getattcolumns), in DingTalk's order: alias → (id, name). Values per day
#: agree with the punches. Units of the day values: days, counts, minutes (时长 of lateness,
#: early leave and work), hours (加班).
COLUMNS: dict[str, tuple[int, str]] = {
    "should_attendance_days": (129339038, "应出勤天数"),
    "making_up_lack_times": (129339039, "补卡次数"),
    "attendance_days": (129339040, "出勤天数"),
    "attendance_rest_days": (129339049, "休息天数"),
    "attendance_work_time": (129339050, "工作时长"),
    "late_times": (129339041, "迟到次数"),
    "late_minute": (129339042, "迟到时长"),
    "serious_late_times": (129339043, "严重迟到次数"),
    "serious_late_minute": (129339051, "严重迟到时长"),
    "absenteeism_late_days": (129339052, "旷工迟到天数"),
    "leave_early_times": (129339044, "早退次数"),
    "leave_early_minute": (129339045, "早退时长"),
    "on_work_lack_card_times": (129339046, "上班缺卡次数"),
    "off_work_lack_card_times": (129339047, "下班缺卡次数"),
    "absenteeism_days": (129339048, "旷工天数"),
    "business_trip_time": (129339053, "出差时长"),
    "out_time": (129339054, "外出时长"),
    "overtime_duration": (129339055, "加班总时长"),
    "overtime_workday_to_rest": (129339056, "工作日加班转调休"),
    "overtime_workday_to_pay": (129339057, "工作日加班转加班费"),
    "overtime_restday_to_rest": (129339058, "休息日加班转调休"),
    "overtime_restday_to_pay": (129339059, "休息日加班转加班费"),
    "overtime_holiday_to_rest": (129339060, "节假日加班转调休"),
    "overtime_holiday_to_pay": (129339061, "节假日加班转加班费"),
    # The company's own columns (自定义列), after DingTalk's: formulas its admin defined.
    "custom_meal_allowance_times": (129339062, "餐补次数"),
    "custom_night_allowance_days": (129339063, "夜班补贴天数"),
}

#: The company's custom report columns (自定义列): served by ``getattcolumns`` with ``type`` 1
#: (the sandbox's marking; DingTalk's is unconfirmed) and values by ``getcolumnval``. 餐补次数:
#: a working day with at least 9.5 hours from the on-duty to the off-duty punch; 夜班补贴天数: a
#: day attended on the night shift.
CUSTOM_COLUMNS = ("custom_meal_allowance_times", "custom_night_allowance_days")
MEAL_ALLOWANCE_MINUTES = 570

#: Monthly metrics (the truth and our summary use the same names).
METRICS = (
    "scheduled_days",
    "attended_days",
    "rest_days",
    "work_minutes",
    "late_count",
    "late_minutes",
    "serious_late_count",
    "serious_late_minutes",
    "absenteeism_late_days",
    "early_count",
    "early_minutes",
    "missing_on_duty",
    "missing_off_duty",
    "absent_days",
    "trip_days",
    "out_hours",
    "overtime_hours",
    *OVERTIME_SPLITS.values(),
    "leave_hours",
    "make_up_count",
    "meal_allowance_count",
    "night_allowance_days",
)

#: Which column carries which metric (for day values).
COLUMN_METRIC = {
    "should_attendance_days": "scheduled_days",
    "making_up_lack_times": "make_up_count",
    "attendance_days": "attended_days",
    "attendance_rest_days": "rest_days",
    "attendance_work_time": "work_minutes",
    "late_times": "late_count",
    "late_minute": "late_minutes",
    "serious_late_times": "serious_late_count",
    "serious_late_minute": "serious_late_minutes",
    "absenteeism_late_days": "absenteeism_late_days",
    "leave_early_times": "early_count",
    "leave_early_minute": "early_minutes",
    "on_work_lack_card_times": "missing_on_duty",
    "off_work_lack_card_times": "missing_off_duty",
    "absenteeism_days": "absent_days",
    "business_trip_time": "trip_days",
    "out_time": "out_hours",
    "overtime_duration": "overtime_hours",
    "overtime_workday_to_rest": "overtime_workday_rest_hours",
    "overtime_workday_to_pay": "overtime_workday_pay_hours",
    "overtime_restday_to_rest": "overtime_restday_rest_hours",
    "overtime_restday_to_pay": "overtime_restday_pay_hours",
    "overtime_holiday_to_rest": "overtime_holiday_rest_hours",
    "overtime_holiday_to_pay": "overtime_holiday_pay_hours",
    "custom_meal_allowance_times": "meal_allowance_count",
    "custom_night_allowance_days": "night_allowance_days",
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


def day_metrics(day: PersonDay, rule: dict[str, OvertimeDayRule] | None = None) -> dict[str, float]:
    """The monthly metrics one person-day contributes (a rest day only counts as 休息天数).

    Lateness minutes (迟到时长) include seriously late ones; 严重迟到时长 is their part. 工作时长
    (minutes) runs from the on-duty to the off-duty time on a day whose two check points are
    both the person's punches or fixed by 补卡; a 出差 day counts as attended (出勤) and its days
    as 出差时长, a 外出 its hours as 外出时长; 加班 follows the overtime rule
    (``rule``, default :data:`OVERTIME_RULE`)."""
    rules = rule or OVERTIME_RULE
    out = dict.fromkeys(METRICS, 0.0)
    if day.is_rest:
        out["rest_days"] = 1
        _add_overtime(out, day, rules)
        return out
    out["scheduled_days"] = 1
    punched = [p for p in day.points if p.source_type == "USER"]
    signed = [p for p in day.points if p.time_result != "NotSigned"]
    trip = day.trip
    if punched or (trip is not None and trip.kind == "出差"):  # a trip day is attended
        out["attended_days"] = 1
    if trip is not None:
        # 出差时长: each work day a trip covers (a trip over a weekend spans several days).
        out["trip_days" if trip.kind == "出差" else "out_hours"] = (
            1.0 if trip.kind == "出差" else trip.amount
        )
    if not signed:
        out["absent_days"] = 1
    for p in day.points:
        if p.make_up:
            out["make_up_count"] += 1
        if p.time_result == "Late":
            out["late_count"] += 1
            out["late_minutes"] += p.minutes
        elif p.time_result == "SeriousLate":
            out["serious_late_count"] += 1
            out["late_minutes"] += p.minutes
            out["serious_late_minutes"] += p.minutes
        elif p.time_result == "Absenteeism":
            out["absenteeism_late_days"] += 1
        elif p.time_result == "Early":
            out["early_count"] += 1
            out["early_minutes"] += p.minutes
        elif p.time_result == "NotSigned" and signed:
            out["missing_on_duty" if p.check_type == "OnDuty" else "missing_off_duty"] += 1
    worked = [p for p in day.points if p.source_type == "USER" or p.make_up]
    on = next((p for p in worked if p.check_type == "OnDuty"), None)
    off = next((p for p in worked if p.check_type == "OffDuty"), None)
    if on is not None and off is not None and on.user_ms and off.user_ms:
        out["work_minutes"] = max(0, round((off.user_ms - on.user_ms) / MINUTE_MS))
    work = rules["workday"]
    periods: list[tuple[int, int]] = []
    if off is not None and off.source_type == "USER" and off.user_ms:
        periods.append((off.base_ms + work.start_minutes * MINUTE_MS, off.user_ms))
    if work.before_minutes and on is not None and on.source_type == "USER" and on.user_ms:
        if (on.base_ms - on.user_ms) // MINUTE_MS >= work.before_minutes:
            periods.append((on.user_ms, on.base_ms))
    hours = work.counted(periods, day.work_date)
    out["overtime_hours"] = hours
    out[OVERTIME_SPLITS[("workday", work.to)]] = hours
    if day.leave is not None:
        out["leave_hours"] = day.leave.hours
    if out["work_minutes"] >= MEAL_ALLOWANCE_MINUTES:
        out["meal_allowance_count"] = 1
    if out["attended_days"] and day.group.shift.across:
        out["night_allowance_days"] = 1
    return out


def overtime_hours(
    day: PersonDay, rules: dict[str, OvertimeDayRule] | None = None
) -> tuple[str, float]:
    """``(day type, hours)`` of the approved overtime of a rest day or holiday ``day`` by
    :data:`OVERTIME_RULE` (``("", 0.0)`` without one): the approved minutes, or for
    ``approval_punch`` the approved period cut to the day's first..last punch, in whole
    units."""
    ot = day.overtime
    kind = "holiday" if day.holiday else "restday"
    rule = (rules or OVERTIME_RULE)[kind]
    punches = sorted(x.user_ms for x in day.extra if x.user_ms is not None)
    if rule.mode == "punch":  # no approval needed: the first to the last punch
        if len(punches) < 2:
            return kind, 0.0
        return kind, rule.counted([(punches[0], punches[-1])], day.work_date)
    if ot is None:
        return "", 0.0
    start, end = ot.start_ms, ot.end_ms
    if rule.mode == "approval_punch":
        if len(punches) < 2:
            return kind, 0.0
        start, end = max(start, punches[0]), min(end, punches[-1])
    return kind, rule.counted([(start, end)], day.work_date)


def _add_overtime(out: dict[str, float], day: PersonDay, rules: dict[str, OvertimeDayRule]) -> None:
    kind, hours = overtime_hours(day, rules)
    if hours:
        out["overtime_hours"] += hours
        out[OVERTIME_SPLITS[(kind, rules[kind].to)]] += hours


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
        # One trip per approval (a trip over a weekend is on every day it spans).
        self.trips: list[Trip] = list(
            {d.trip.approve_id: d.trip for d in days if d.trip is not None}.values()
        )
        self.overtimes: list[Overtime] = [d.overtime for d in days if d.overtime is not None]
        self.leaves_by_user: dict[str, list[Leave]] = {}
        for lv in self.leaves:
            self.leaves_by_user.setdefault(lv.userid, []).append(lv)
        # Punch details (listRecord) by user, sorted by punch time.
        self.punches: dict[str, list[tuple[int, PersonDay, Punch]]] = {}
        for d in days:
            items: list[tuple[int, PersonDay, Punch]] = [
                (p.user_ms, d, p)
                for p in d.points
                if (p.source_type == "USER" or p.make_up) and p.user_ms
            ]
            items.extend((ip.user_ms, d, ip) for ip in d.invalid)
            items.extend((x.user_ms, d, x) for x in d.extra if x.user_ms)
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

    def monthly_truth(
        self, rule: dict[str, OvertimeDayRule] | None = None
    ) -> dict[str, dict[str, dict[str, float]]]:
        """``{"YYYY-MM": {userid: {metric: value}}}`` over every generated person-day (加班 by
        ``rule``, default :data:`OVERTIME_RULE`)."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for userid, per_day in self.by_user.items():
            for day in per_day.values():
                month = day.work_date.strftime("%Y-%m")
                bucket = out.setdefault(month, {}).setdefault(userid, dict.fromkeys(METRICS, 0.0))
                for k, v in day_metrics(day, rule).items():
                    bucket[k] += v
        return out


def wall_ms(day: date, minute: int) -> int:
    """Epoch ms of ``day`` 00:00 GMT+8 plus ``minute`` minutes."""
    return day_start_ms(day, WIRE_TZ) + minute * MINUTE_MS


@functools.lru_cache(maxsize=4096)
def date_ms(day: date) -> int:
    """Epoch ms of 00:00 GMT+8 of ``day`` (DingTalk's ``workDate``; memoised: a pure function
    every answer row calls)."""
    return day_start_ms(day, WIRE_TZ)


@functools.lru_cache(maxsize=16384)
def wire_text(ms: int) -> str:
    """``format_ms(ms)`` (``yyyy-MM-dd HH:mm:ss`` GMT+8) of an int epoch ms, memoised: the
    schedule answers repeat a few hundred plan times and work dates across thousands of rows."""
    return format_ms(ms)
