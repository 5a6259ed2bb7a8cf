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
``to`` 调休 (``rest``: time off in lieu) or 加班费 (``pay``). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dingsync.config import DEFAULT_OVERTIME_RULE

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
    check time (working days, ``punch``), ``unit`` minutes, conversion ``to`` (``rest``/``pay``)."""

    mode: str
    start: int
    unit: int
    to: str


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


def parse_rule(text: str) -> OvertimeRule:
    """``"workday=punch/30/30/pay; restday=approval_punch/0/30/rest; holiday=approval/0/30/pay"``
    (``<day type>=<mode>/<start minutes>/<unit minutes>/<rest|pay>``, every day type once) →
    :class:`OvertimeRule`. Raises ``ValueError`` naming what is wrong."""
    parts: dict[str, DayRule] = {}
    for item in filter(None, (p.strip() for p in text.split(";"))):
        name, _, spec = item.partition("=")
        name = name.strip()
        fields = [f.strip() for f in spec.split("/")]
        if name not in DAY_TYPES or name in parts:
            raise ValueError(f"overtime rule: unknown or repeated day type {name!r}")
        if len(fields) != 4 or fields[0] not in MODES or fields[3] not in CONVERSIONS:
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
        parts[name] = DayRule(fields[0], start, unit, fields[3])
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


def day_overtime(
    day_type: str,
    rule: OvertimeRule,
    results: Sequence[dict[str, Any]] = (),
    punches: Sequence[datetime] = (),
    approvals: Sequence[tuple[datetime, datetime]] = (),
    not_a_punch: Sequence[str] = ("APPROVE", "SYSTEM"),
) -> dict[str, float]:
    """The overtime metrics (:data:`OVERTIME_METRICS`, hours) of one person-day of
    ``day_type``: ``results`` (``attendance_results`` dicts of a working day), ``punches``
    (the day's valid punch times, aware), ``approvals`` (approved overtime periods, aware);
    ``not_a_punch``: result ``source_type`` values that are not the person's own punch."""
    r = rule.of(day_type)
    minutes = 0
    if r.mode == "punch":
        if day_type == "workday":
            off = next(
                (
                    x
                    for x in results
                    if x["check_type"] == "OffDuty"
                    and x["time_result"] != "NotSigned"
                    and x["source_type"] not in not_a_punch
                    and x["user_check_time"] is not None
                    and x["base_check_time"] is not None
                ),
                None,
            )
            if off is not None:
                minutes = _floor_minutes(off["user_check_time"], off["base_check_time"]) - r.start
        elif len(punches) >= 2:
            minutes = _floor_minutes(max(punches), min(punches))
    elif r.mode == "approval":
        minutes = sum(_floor_minutes(b, a) for a, b in approvals)
    elif len(punches) >= 2:  # approval_punch
        first, last = min(punches), max(punches)
        for a, b in approvals:
            lo, hi = max(a, first), min(b, last)
            if hi > lo:
                minutes += _floor_minutes(hi, lo)
    hours = units_hours(minutes, r.unit)
    out = dict.fromkeys(OVERTIME_METRICS, 0.0)
    if hours:
        out["overtime_hours"] = hours
        out[f"overtime_{day_type}_{r.to}_hours"] = hours
    return out
