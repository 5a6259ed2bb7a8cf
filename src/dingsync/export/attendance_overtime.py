"""Overtime (加班) of the monthly summary, by the company's overtime rule (加班规则).

DingTalk computes 加班 by a rule set in its admin console per day type — 工作日 (a scheduled
working day), 休息日 (a rest day), 节假日 (a public holiday of the person's calendar) — and
serves the result as the 考勤报表's 加班 columns, but not the rule's settings through the APIs
we sync (``分页获取加班规则列表`` gives rule names and ids only). So the rule is configured here
(``DINGSYNC_ATTENDANCE_OVERTIME_RULE``, :func:`parse_rule`) to say what the admin console says,
and :func:`day_overtime` applies it to what we do sync: the results (``/attendance/list``), the
punches (``/attendance/listRecord``), the overtime approvals (``/v1.0/attendance/approvals/query``
``bizType`` 1) and the holidays (``/v1.0/attendance/holidays``).

Per day type, a rule has a calculation (``mode``):

- ``punch`` — 无需审批，按打卡时长计算: on a working day from ``start`` minutes after the off-duty
  check time to the off-duty punch; on a rest day or holiday the first to the last punch;
- ``approval`` — 按审批时长计算: the approved overtime periods of the day;
- ``approval_punch`` — 在审批的时段内，按打卡时长计算: the approved periods cut to the day's first
  .. last punch;

counts in whole ``unit`` minutes (rounded down, nothing below one unit) and converts the time
``to`` 调休 (``rest``: time off in lieu) or 加班费 (``pay``). Options of DingTalk's rule
(:class:`DayRule`; each after the four fields as ``key:value``): 上班前加班 (``before:N``: on a
working day by punch, arriving at least ``N`` minutes before the on-duty time counts from the
punch to it), 扣除休息时间 (``deduct:12:00-13:00,18:00-18:30``: those periods of the work date,
GMT+8, are not overtime), 最小加班时长 (``min:N`` minutes: less is none), 取整 (``round:up`` or
``down``, the default, to whole units) and a daily maximum (``max:N`` minutes, after rounding).
Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from dingsync.config import DEFAULT_OVERTIME_RULE
from dingsync.timeutil import WIRE_TZ

#: The day types of a rule, in DingTalk's order.
DAY_TYPES = ("workday", "restday", "holiday")
MODES = ("punch", "approval", "approval_punch")
CONVERSIONS = ("rest", "pay")

#: The overtime metrics in DingTalk's 月度汇总 order: the total, then per day type 转调休 / 转加班费
#: (hours).
OVERTIME_METRICS: tuple[str, ...] = (
    "overtime_hours",
    "overtime_workday_rest_hours",
    "overtime_workday_pay_hours",
    "overtime_restday_rest_hours",
    "overtime_restday_pay_hours",
    "overtime_holiday_rest_hours",
    "overtime_holiday_pay_hours",
)

OVERTIME_LABELS: dict[str, str] = {
    "overtime_hours": "加班总时长(小时)",
    "overtime_workday_rest_hours": "工作日加班转调休(小时)",
    "overtime_workday_pay_hours": "工作日加班转加班费(小时)",
    "overtime_restday_rest_hours": "休息日加班转调休(小时)",
    "overtime_restday_pay_hours": "休息日加班转加班费(小时)",
    "overtime_holiday_rest_hours": "节假日加班转调休(小时)",
    "overtime_holiday_pay_hours": "节假日加班转加班费(小时)",
}

#: DingTalk report column ``alias`` → overtime metric (the sandbox's aliases; DingTalk's own
#: spelling of the six splits is unconfirmed, docs/attendance.md).
OVERTIME_ALIASES: dict[str, str] = {
    "overtime_duration": "overtime_hours",
    "overtime_workday_to_rest": "overtime_workday_rest_hours",
    "overtime_workday_to_pay": "overtime_workday_pay_hours",
    "overtime_restday_to_rest": "overtime_restday_rest_hours",
    "overtime_restday_to_pay": "overtime_restday_pay_hours",
    "overtime_holiday_to_rest": "overtime_holiday_rest_hours",
    "overtime_holiday_to_pay": "overtime_holiday_pay_hours",
}

#: The default rule (``DINGSYNC_ATTENDANCE_OVERTIME_RULE``): working days by punch from 30
#: minutes after the off-duty time, paid; rest days within the approved period by punches, as
#: time off in lieu; holidays by the approved time, paid; 30-minute units.
DEFAULT_RULE = DEFAULT_OVERTIME_RULE


@dataclass(frozen=True)
class DayRule:
    """The rule of one day type: ``mode`` (:data:`MODES`), ``start`` minutes after the off-duty
    check time (working days, ``punch``), ``unit`` minutes, conversion ``to`` (``rest``/``pay``);
    DingTalk's options: ``before`` — 上班前加班 (working days by punch: an on-duty punch at least
    this many minutes early counts from the punch to the on-duty time; 0: off), ``deduct`` —
    扣除休息时间 (``((start, end), …)`` wall times of the work date, GMT+8), ``minimum`` —
    最小加班时长 (minutes; less is none), ``round_up`` — 取整 up instead of down (to whole
    units), ``maximum`` — the day's most overtime (minutes, after rounding; 0: none)."""

    mode: str
    start: int
    unit: int
    to: str
    before: int = 0
    deduct: tuple[tuple[time, time], ...] = ()
    minimum: int = 0
    round_up: bool = False
    maximum: int = 0

    def minutes(self, raw: int) -> int:
        """The counted minutes of ``raw`` overtime minutes: the minimum, whole units rounded
        down (up with ``round_up``), then the daily maximum."""
        if raw <= 0 or raw < self.minimum:
            return 0
        units = -(-raw // self.unit) if self.round_up else raw // self.unit
        counted = units * self.unit
        return min(counted, self.maximum) if self.maximum else counted


@dataclass(frozen=True)
class OvertimeRule:
    """A company's overtime rule: one :class:`DayRule` per day type."""

    workday: DayRule
    restday: DayRule
    holiday: DayRule

    def of(self, day_type: str) -> DayRule:
        """The rule of ``day_type`` (``workday``, ``restday`` or ``holiday``)."""
        rule: DayRule = getattr(self, day_type)
        return rule


def _clock(text: str) -> time:
    hh, _, mm = text.strip().partition(":")
    return time(int(hh), int(mm))


def _options(name: str, fields: Sequence[str]) -> dict[str, Any]:
    """The ``key:value`` options after a day type's four fields (see :class:`DayRule`)."""
    out: dict[str, Any] = {}
    for field in fields:
        key, _, value = field.partition(":")
        try:
            if key in ("before", "min", "max"):
                number = int(value)
                if number < 0:
                    raise ValueError
                out[{"min": "minimum", "max": "maximum"}.get(key, key)] = number
            elif key == "round" and value in ("up", "down"):
                out["round_up"] = value == "up"
            elif key == "deduct":
                spans = []
                for span in value.split(","):
                    a, _, b = span.partition("-")
                    spans.append((_clock(a), _clock(b)))
                out["deduct"] = tuple(spans)
            else:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"overtime rule for {name}: bad option {field!r} (before:N, deduct:HH:MM-HH:MM[,…],"
                " min:N, round:up|down, max:N)"
            ) from None
    return out


def parse_rule(text: str) -> OvertimeRule:
    """``"workday=punch/30/30/pay; restday=approval_punch/0/30/rest; holiday=approval/0/30/pay"``
    (``<day type>=<mode>/<start minutes>/<unit minutes>/<rest|pay>[/<option>…]``, every day
    type once; options ``before:N``, ``deduct:12:00-13:00,18:00-18:30``, ``min:N``,
    ``round:up|down``, ``max:N`` — :class:`DayRule`) → :class:`OvertimeRule`. Raises
    ``ValueError`` naming what is wrong."""
    parts: dict[str, DayRule] = {}
    for item in filter(None, (p.strip() for p in text.split(";"))):
        name, _, spec = item.partition("=")
        name = name.strip()
        fields = [f.strip() for f in spec.split("/")]
        if name not in DAY_TYPES or name in parts:
            raise ValueError(f"overtime rule: unknown or repeated day type {name!r}")
        if len(fields) < 4 or fields[0] not in MODES or fields[3] not in CONVERSIONS:
            raise ValueError(
                f"overtime rule for {name}: want <{'|'.join(MODES)}>/<start>/<unit>/<rest|pay>,"
                f" got {spec!r}"
            )
        try:
            start, unit = int(fields[1]), int(fields[2])
        except ValueError:
            raise ValueError(f"overtime rule for {name}: minutes must be whole numbers") from None
        if start < 0 or unit < 1:
            raise ValueError(f"overtime rule for {name}: start ≥ 0 and unit ≥ 1 minutes")
        parts[name] = DayRule(fields[0], start, unit, fields[3], **_options(name, fields[4:]))
    missing = [d for d in DAY_TYPES if d not in parts]
    if missing:
        raise ValueError(f"overtime rule: no rule for {', '.join(missing)}")
    return OvertimeRule(parts["workday"], parts["restday"], parts["holiday"])


def units_hours(minutes: float, unit: int) -> float:
    """Whole ``unit``-minute units of ``minutes``, in hours (0 below one unit)."""
    if minutes < unit:
        return 0.0
    return (int(minutes) // unit) * unit / 60


def _floor_minutes(later: datetime, earlier: datetime) -> int:
    return math.floor((later - earlier).total_seconds() / 60)


def _net_minutes(
    periods: Sequence[tuple[datetime, datetime]], deduct: Sequence[tuple[time, time]], day: Any
) -> int:
    """Whole minutes of ``periods`` (each floored, negative ones none) less their overlap with
    the rest periods ``deduct`` of the work date ``day`` (GMT+8 wall times)."""
    windows: list[tuple[datetime, datetime]] = []
    if deduct and day is not None:
        for t0, t1 in deduct:
            lo = datetime.combine(day, t0, WIRE_TZ)
            hi = datetime.combine(day, t1, WIRE_TZ)
            windows.append((lo, hi if hi > lo else hi + timedelta(days=1)))
    total = 0
    for a, b in periods:
        if b <= a:
            continue
        length = b - a
        for lo, hi in windows:
            overlap = min(b, hi) - max(a, lo)
            if overlap > timedelta(0):
                length -= overlap
        total += math.floor(length.total_seconds() / 60)
    return total


def _own(x: dict[str, Any], check_type: str, not_a_punch: Sequence[str]) -> bool:
    return bool(
        x["check_type"] == check_type
        and x["time_result"] != "NotSigned"
        and x["source_type"] not in not_a_punch
        and x["user_check_time"] is not None
        and x["base_check_time"] is not None
    )


def day_overtime(
    day_type: str,
    rule: OvertimeRule,
    results: Sequence[dict[str, Any]] = (),
    punches: Sequence[datetime] = (),
    approvals: Sequence[tuple[datetime, datetime]] = (),
    not_a_punch: Sequence[str] = ("APPROVE", "SYSTEM"),
    work_date: Any = None,
) -> dict[str, float]:
    """The overtime metrics (:data:`OVERTIME_METRICS`, hours) of one person-day of
    ``day_type``: ``results`` (``attendance_results`` dicts of a working day), ``punches``
    (the day's valid punch times, aware), ``approvals`` (approved overtime periods, aware);
    ``not_a_punch``: result ``source_type`` values that are not the person's own punch;
    ``work_date`` (a ``date``): the day whose rest periods are deducted (``deduct``)."""
    r = rule.of(day_type)
    periods: list[tuple[datetime, datetime]] = []
    if r.mode == "punch":
        if day_type == "workday":
            off = next((x for x in results if _own(x, "OffDuty", not_a_punch)), None)
            if off is not None:
                begin = off["base_check_time"] + timedelta(minutes=r.start)
                periods.append((begin, off["user_check_time"]))
            on = next((x for x in results if _own(x, "OnDuty", not_a_punch)), None)
            if r.before and on is not None:
                early = _floor_minutes(on["base_check_time"], on["user_check_time"])
                if early >= r.before:
                    periods.append((on["user_check_time"], on["base_check_time"]))
        elif len(punches) >= 2:
            periods.append((min(punches), max(punches)))
    elif r.mode == "approval":
        periods.extend(approvals)
    elif len(punches) >= 2:  # approval_punch
        first, last = min(punches), max(punches)
        periods.extend((max(a, first), min(b, last)) for a, b in approvals)
    hours = r.minutes(_net_minutes(periods, r.deduct, work_date)) / 60
    out = dict.fromkeys(OVERTIME_METRICS, 0.0)
    if hours:
        out["overtime_hours"] = hours
        out[f"overtime_{day_type}_{r.to}_hours"] = hours
    return out
