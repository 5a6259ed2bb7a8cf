"""The monthly attendance summary (考勤报表) and its xlsx/csv exports.

:func:`monthly_summary` computes, per person, from the synced results (``/attendance/list``),
schedules and leave — never from DingTalk's own report — the columns of DingTalk's 月度汇总 in
DingTalk's order (:data:`METRICS`): scheduled days (应出勤天数), days attended (出勤天数), rest
days (休息天数), work minutes (工作时长), late count and minutes (迟到次数, 迟到时长; minutes
include serious lateness), seriously late count and minutes (严重迟到次数 / 时长), 旷工迟到天数,
early-leave count and minutes (早退次数, 早退时长), missing on-duty / off-duty punches (上班缺卡,
下班缺卡; a day with every check point missing is absent instead; a check point fixed by an
approved 补卡 is neither), absent days (旷工天数), leave hours (请假), 补卡次数, and 请假 per
leave type in the type's unit (``PersonSummary.leave``, ``MonthlySummary.leave_columns``; names
and units from ``vacation/type/list``). A day covered by approved leave is neither absent nor
early (DingTalk's results carry ``APPROVE`` there). 出差时长 (days) and 外出时长 (hours) come
from the synced trip / outing approvals (``/v1.0/attendance/approvals/query``) whose
``approveId`` the results carry; a 出差 day is attended. 加班 (total, and per 工作日 / 休息日 /
节假日 its 转调休 / 转加班费 parts) follows the company's overtime rule
(:mod:`dingsync.export.attendance_overtime`) from the results, punches, overtime approvals and
holidays.

Where DingTalk's report columns were synced (``getcolumnval``), their monthly sums are compared
with ours and every difference is listed in ``disagreements`` — never hidden or overwritten.

Work dates are calendar dates of the company's zone (``tz``: ``Settings.tz``, Asia/Shanghai by
default), as the store keeps them; check times are shown as wall time in that zone.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from dingsync.export.attendance_overtime import (
    DEFAULT_RULE,
    OVERTIME_ALIASES,
    OVERTIME_LABELS,
    OVERTIME_METRICS,
    OvertimeRule,
    day_overtime,
    parse_rule,
)
from dingsync.store import repo_attendance, repo_contacts
from dingsync.store.schema import departments, former_memberships, user_departments, users
from dingsync.timeutil import DAY_RANGE, SHANGHAI, check_day

#: Work dates and punch times are shown in the company's zone, as DingTalk's report does.

METRICS: tuple[str, ...] = (
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
    *OVERTIME_METRICS,
    "leave_hours",
    "make_up_count",
)

#: Column headers of DingTalk's 考勤报表 (月度汇总) for each metric, in DingTalk's order.
METRIC_LABELS: dict[str, str] = {
    "scheduled_days": "应出勤天数",
    "attended_days": "出勤天数",
    "rest_days": "休息天数",
    "work_minutes": "工作时长(分钟)",
    "late_count": "迟到次数",
    "late_minutes": "迟到时长(分钟)",
    "serious_late_count": "严重迟到次数",
    "serious_late_minutes": "严重迟到时长(分钟)",
    "absenteeism_late_days": "旷工迟到天数",
    "early_count": "早退次数",
    "early_minutes": "早退时长(分钟)",
    "missing_on_duty": "上班缺卡次数",
    "missing_off_duty": "下班缺卡次数",
    "absent_days": "旷工天数",
    "trip_days": "出差时长(天)",
    "out_hours": "外出时长(小时)",
    **OVERTIME_LABELS,
    "leave_hours": "请假(小时)",
    "make_up_count": "补卡次数",
}

#: DingTalk report column ``alias`` → the metric it must agree with (getattcolumns).
COLUMN_ALIASES: dict[str, str] = {
    "should_attendance_days": "scheduled_days",
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
    "making_up_lack_times": "make_up_count",
    **OVERTIME_ALIASES,
}

#: Columns of DingTalk's 月度汇总 we do not compute, and why (docs/attendance.md). 加班 is
#: computed by the configured overtime rule (``export.attendance_overtime``).
NOT_COMPUTED: dict[str, str] = {}

#: Units of a leave type (``vacation/type/list`` ``leave_view_unit``) → the header's unit.
LEAVE_UNIT_LABELS = {"day": "天", "halfDay": "天", "hour": "小时"}


@dataclass(frozen=True)
class LeaveColumn:
    """One 请假 column: a leave type (``leave_code``), its name (``vacation/type/list``; the
    code when the types were not synced) and unit (``day`` or ``hour``)."""

    leave_code: str
    name: str
    unit: str

    @property
    def label(self) -> str:
        """The header: ``年假(天)``, ``事假(小时)``."""
        return f"{self.name}({LEAVE_UNIT_LABELS.get(self.unit, self.unit)})"


@dataclass(frozen=True)
class DingTalkColumn:
    """A report column (``getattcolumns``) shown with DingTalk's values: its ``column_id``
    and ``name`` (the header)."""

    column_id: int
    name: str


TIME_RESULT_LABELS = {
    "Normal": "正常",
    "Late": "迟到",
    "SeriousLate": "严重迟到",
    "Absenteeism": "旷工迟到",
    "Early": "早退",
    "NotSigned": "缺卡",
}

#: Sources that are not a person's own punch.
NOT_A_PUNCH = ("APPROVE", "SYSTEM")


@dataclass
class PersonSummary:
    """One person's month: identity and the metrics (see :data:`METRICS`)."""

    userid: str
    name: str
    job_number: str
    departments: str
    group: str
    metrics: dict[str, float]
    #: 请假 per leave type: ``leave_code`` → the leave taken in the type's unit (days or hours).
    leave: dict[str, float] = field(default_factory=dict)
    #: DingTalk's own value of each :attr:`MonthlySummary.dingtalk_columns` (``column_id`` →
    #: the month's sum of its day values; absent when DingTalk sent none for the person).
    dingtalk: dict[int, float] = field(default_factory=dict)


@dataclass
class DailyRow:
    """One person-day of the daily detail: on/off-duty punch times (``HH:MM`` in the company's
    zone, ``""`` when none) and results (Chinese labels as in DingTalk's report)."""

    userid: str
    name: str
    work_date: date
    on_duty_time: str
    on_duty_result: str
    off_duty_time: str
    off_duty_result: str
    #: 关联审批单 (:func:`approvals_text` of :func:`linked_approvals`).
    approvals: str = ""
    #: 班次 (:func:`shift_label`: the shift's name, ``休息`` on a rest day, ``""`` unknown).
    shift: str = ""


@dataclass
class PunchRow:
    """One punch of the 原始记录 sheet (``/attendance/listRecord``): when (aware), the work
    date, check type, result, DingTalk's ``sourceType`` (USER app, DING_ATM/ATM time clock,
    APPROVE approval, …), place (address — a time clock's name —, coordinates when sent),
    whether it was outside the allowed range (外勤) and valid (``is_legal``)."""

    userid: str
    name: str
    user_check_time: datetime
    work_date: date | None
    check_type: str | None
    time_result: str | None
    source_type: str | None
    address: str | None
    latitude: float | None
    longitude: float | None
    outside: bool
    legal: bool
    remark: str | None = None


@dataclass
class Disagreement:
    """A metric where DingTalk's report column sum differs from what the results give."""

    userid: str
    name: str
    metric: str
    column_alias: str
    ours: float
    dingtalk: float


@dataclass
class MonthlySummary:
    """The month ``YYYY-MM`` (``start``..``end``), one row per person, the daily detail, and
    the cross-check (``columns_synced`` false: nothing to compare against)."""

    month: str
    start: date
    end: date
    rows: list[PersonSummary]
    daily: list[DailyRow]
    disagreements: list[Disagreement] = field(default_factory=list)
    columns_synced: bool = False
    #: The company's zone: check times and the report's own timestamp are shown in it.
    tz: tzinfo = SHANGHAI
    #: The 请假 columns, in DingTalk's order (every type the company defines, then codes seen
    #: in leave but not among the synced types).
    leave_columns: list[LeaveColumn] = field(default_factory=list)
    #: The report's columns we do not compute — the company's custom columns (自定义列) and any
    #: other numeric column DingTalk serves — carried with DingTalk's values (synced with
    #: ``DINGSYNC_ATTENDANCE_COLUMNS``), in DingTalk's order, after the 请假 columns.
    dingtalk_columns: list[DingTalkColumn] = field(default_factory=list)
    #: 原始记录: every punch of the month's people (only with ``with_records``), by person and
    #: time.
    records: list[PunchRow] = field(default_factory=list)


def month_range(month: str) -> tuple[date, date]:
    """``"2026-11"`` → ``(2026-11-01, 2026-11-30)``; ``ValueError`` for anything else and
    for a month outside :data:`dingsync.timeutil.DAY_RANGE` (years 1900 … 9998)."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"month must look like 2026-11, got {month!r}") from None
    try:
        check_day(first)
    except ValueError:
        lo, hi = (d.strftime("%Y-%m") for d in DAY_RANGE)
        raise ValueError(f"month {month} is out of range ({lo} … {hi})") from None
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, nxt - timedelta(days=1)


def _people(
    conn: Connection, corp_id: str, only: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    names = {
        int(r.dept_id): r.name or ""
        for r in conn.execute(
            select(departments.c.dept_id, departments.c.name).where(
                departments.c.corp_id == corp_id
            )
        )
    }
    people: dict[str, dict[str, Any]] = {}
    who = select(users.c.userid, users.c.name, users.c.job_number).where(users.c.corp_id == corp_id)
    ud = user_departments
    memberships = select(ud.c.userid, ud.c.dept_id).where(ud.c.corp_id == corp_id)
    if only is not None:  # a page of people (few): only theirs
        who = who.where(users.c.userid.in_(sorted(set(only))))
        memberships = memberships.where(ud.c.userid.in_(sorted(set(only))))
    for r in conn.execute(who):
        people[r.userid] = {"name": r.name or "", "job": r.job_number or "", "depts": []}
    for m in conn.execute(memberships):
        if m.userid in people:
            people[m.userid]["depts"].append(int(m.dept_id))
    # People who left: the departments they left from (their attendance stays in them).
    fm = former_memberships
    for m in conn.execute(
        select(fm.c.userid, fm.c.dept_id)
        .join(users, (users.c.corp_id == fm.c.corp_id) & (users.c.userid == fm.c.userid))
        .where(fm.c.corp_id == corp_id, users.c.status != "active")
    ):
        if m.userid in people and int(m.dept_id) not in people[m.userid]["depts"]:
            people[m.userid]["depts"].append(int(m.dept_id))
    for p in people.values():
        p["dept_names"] = ",".join(names.get(d, str(d)) for d in sorted(p["depts"]))
    return people


def _minutes(later: datetime | None, earlier: datetime | None) -> int:
    if later is None or earlier is None:
        return 0
    return max(0, round((later - earlier).total_seconds() / 60))


def day_metrics(
    results: list[dict[str, Any]],
    leaves: Sequence[tuple[datetime, datetime]] = (),
    trips: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Metrics of one person-day from its result rows (``attendance_results`` dicts), the
    person's approved leave periods (``(start, end)`` aware) and trip/outing approvals
    (``{approve_id: "出差" | "外出"}``). A result fixed by an approval (``sourceType`` APPROVE)
    that is no trip or outing, at a time no leave covers, is a 补卡 (make-up); a day a 出差
    covers is attended; 工作时长 counts the minutes from the on-duty to the off-duty time when
    both are punched or made up. 出差时长 / 外出时长 are added by :func:`monthly_summary`."""
    trips = trips or {}
    out = dict.fromkeys(METRICS, 0.0)
    if not results:
        return out
    signed = [r for r in results if r["time_result"] != "NotSigned"]
    on_trip = any(trips.get(str(r["approve_id"])) == "出差" for r in results)
    if on_trip or any(r["source_type"] not in NOT_A_PUNCH for r in signed):
        out["attended_days"] = 1
    if not signed:
        out["absent_days"] = 1

    def made_up(r: dict[str, Any]) -> bool:
        if r["source_type"] != "APPROVE" or r["time_result"] == "NotSigned":
            return False
        if str(r["approve_id"]) in trips:
            return False
        at = r["base_check_time"]
        return at is None or not any(a <= at <= b for a, b in leaves)

    for r in results:
        tr = r["time_result"]
        if made_up(r):
            out["make_up_count"] += 1
        if tr in ("Late", "SeriousLate"):
            minutes = _minutes(r["user_check_time"], r["base_check_time"])
            out["late_count" if tr == "Late" else "serious_late_count"] += 1
            out["late_minutes"] += minutes
            if tr == "SeriousLate":
                out["serious_late_minutes"] += minutes
        elif tr == "Absenteeism":
            out["absenteeism_late_days"] += 1
        elif tr == "Early":
            out["early_count"] += 1
            out["early_minutes"] += _minutes(r["base_check_time"], r["user_check_time"])
        elif tr == "NotSigned" and signed:
            key = "missing_on_duty" if r["check_type"] == "OnDuty" else "missing_off_duty"
            out[key] += 1
    worked = [
        r
        for r in signed
        if (r["source_type"] not in NOT_A_PUNCH or made_up(r)) and r["user_check_time"]
    ]
    on = next((r for r in worked if r["check_type"] == "OnDuty"), None)
    off = next((r for r in worked if r["check_type"] == "OffDuty"), None)
    if on is not None and off is not None:
        out["work_minutes"] = _minutes(off["user_check_time"], on["user_check_time"])
    return out


#: A day's overall result (:func:`day_result`) → its label, most serious first (the order a
#: calendar legend shows them in).
DAY_RESULT_LABELS: dict[str, str] = {
    "Absent": "旷工",
    "SeriousLate": "严重迟到",
    "Late": "迟到",
    "Early": "早退",
    "Missing": "缺卡",
    "Leave": "请假",
    # A check point covered by an approved business trip / outing (``APPROVE`` with the
    # ``approveId`` of a synced 出差 / 外出 approval): a 出差 day is attended.
    "Trip": "出差",
    "GoOut": "外出",
    "Outside": "外勤",
    "Normal": "正常",
    # A day without check points (a rest day or holiday) listed for its punches or approvals.
    "Rest": "休息",
}


def shift_label(schedules: Sequence[dict[str, Any]], names: Mapping[int, str]) -> str | None:
    """班次 of a person-day from its ``attendance_schedules`` rows: the first working shift's
    name (``names``: shift id → name, ``repo_attendance.shift_names``; its id when unnamed),
    ``休息`` when every row is a rest day; ``None`` without a synced schedule."""
    if not schedules:
        return None
    working = [s for s in schedules if not s["is_rest"]]
    if not working:
        return "休息"
    shift = working[0]["shift_id"]
    return names.get(int(shift), str(shift)) if shift is not None else None


def day_result(results: list[dict[str, Any]], trips: Mapping[str, str] | None = None) -> str:
    """One person-day's overall result from its result rows (``attendance_results`` dicts)
    and the person's trip/outing approvals (``{approve_id: "出差" | "外出"}``, as
    :func:`day_metrics` takes them), a key of :data:`DAY_RESULT_LABELS`: ``Absent`` when every
    check point is missing (as :func:`day_metrics` counts 旷工), else the most serious of
    ``SeriousLate`` (also DingTalk's ``Absenteeism`` lateness), ``Late``, ``Early``,
    ``Missing`` (a check point not punched), ``Leave`` (a check covered by an approval, source
    ``APPROVE``, that is no trip or outing: leave, or a 补卡), ``Trip`` / ``GoOut`` (a check
    covered by a 出差 / 外出 approval), ``Outside`` (punched outside the allowed place), else
    ``Normal``. ``""`` for no rows."""
    if not results:
        return ""
    trips = trips or {}
    found: set[str] = set()
    for r in results:
        tr = r["time_result"]
        if tr in ("SeriousLate", "Absenteeism"):
            found.add("SeriousLate")
        elif tr in ("Late", "Early"):
            found.add(tr)
        elif tr == "NotSigned":
            found.add("Missing")
        if r["source_type"] == "APPROVE":
            kind = trips.get(str(r.get("approve_id")))
            found.add("Trip" if kind == "出差" else "GoOut" if kind == "外出" else "Leave")
        if r["location_result"] == "Outside":
            found.add("Outside")
    if all(r["time_result"] == "NotSigned" for r in results):
        return "Absent"
    return next((k for k in DAY_RESULT_LABELS if k in found), "Normal")


#: ``attendance_approvals.biz_type`` → kind (DingTalk's ``tag_name`` where it has one).
_BIZ_KIND = {1: "加班", 3: "请假"}
CHECK_LABELS = {"OnDuty": "上班", "OffDuty": "下班"}


def linked_approvals(
    work_date: date,
    results: Sequence[dict[str, Any]],
    leaves: Sequence[dict[str, Any]] = (),
    approvals: Sequence[dict[str, Any]] = (),
    leave_names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """关联审批单 of one person-day, as DingTalk's 每日统计 lists them: the approved leave of the
    day (``attendance_leaves`` rows whose work date it is; kind 请假, ``sub_type`` the leave
    type's name from ``leave_names`` {leave_code: name}, else its code), the trips, outings
    and overtime (``attendance_approvals`` rows spanning the day — ``work_date`` to
    ``end_work_date`` — or linked by ``approveId`` from the day's results; kind 出差 / 外出 /
    加班), and each 补卡: a check point fixed by an approval
    (``APPROVE``) that is no trip, outing or overtime and that no leave covers (kind 补卡,
    ``check_type``). Each item: ``{kind, sub_type, begin_time, end_time (aware or None),
    approve_id, proc_inst_id, check_type}``, in time order."""
    names = leave_names or {}
    out: list[dict[str, Any]] = []
    for lv in leaves:
        if lv["work_date"] != work_date:
            continue
        code = lv["leave_code"] or ""
        out.append(
            {
                "kind": "请假",
                "sub_type": names.get(code, code),
                "begin_time": lv["start_time"],
                "end_time": lv["end_time"],
                "approve_id": None,
                "proc_inst_id": None,
                "check_type": None,
            }
        )
    linked_ids = {str(r["approve_id"]) for r in results if r.get("approve_id") is not None}
    bases = [r["base_check_time"] for r in results if r.get("base_check_time") is not None]
    seen: set[str] = set()
    for a in approvals:
        aid = str(a["approve_id"])
        last = a.get("end_work_date") or a["work_date"]
        if aid in seen:
            continue
        if aid not in linked_ids and not (
            a["work_date"] <= work_date <= last and _on_the_day(a, bases)
        ):
            continue
        seen.add(aid)
        out.append(
            {
                "kind": a["tag_name"] or _BIZ_KIND.get(a["biz_type"], str(a["biz_type"])),
                "sub_type": a["sub_type"] if a["sub_type"] != a["tag_name"] else "",
                "begin_time": a["begin_time"],
                "end_time": a["end_time"],
                "approve_id": aid,
                "proc_inst_id": None,
                "check_type": None,
            }
        )
    periods = [(lv["start_time"], lv["end_time"]) for lv in leaves]
    for r in results:
        if r["source_type"] != "APPROVE" or r["time_result"] == "NotSigned":
            continue
        if str(r["approve_id"]) in seen:
            continue
        at = r["base_check_time"]
        if at is not None and any(a <= at <= b for a, b in periods):
            continue  # the leave's own check point
        out.append(
            {
                "kind": "补卡",
                "sub_type": "",
                "begin_time": at,
                "end_time": None,
                "approve_id": None if r["approve_id"] is None else str(r["approve_id"]),
                "proc_inst_id": r["proc_inst_id"],
                "check_type": r["check_type"],
            }
        )
    far = datetime.max.replace(tzinfo=SHANGHAI)
    out.sort(key=lambda x: (x["begin_time"] or far, x["kind"]))
    return out


def _on_the_day(approval: Mapping[str, Any], bases: Sequence[datetime]) -> bool:
    """Whether a trip or outing (``biz_type`` 2) whose dates span a work day that has check
    points (``bases``: their ``base_check_time``) and whose results do not name it belongs to
    that day: only when it overlaps the day's shift (first to last check point). One wholly
    outside it is another work date's — a night shift's outing from 04:30 to 07:30 lies on
    the next calendar day, which may be a work day of its own (its results name it: DingTalk
    fixes the night shift's off-duty check with it). Overtime (``biz_type`` 1, never named by
    results) and a day without check points keep the dates' rule."""
    if approval["biz_type"] != 2 or not bases:
        return True
    begin, end = approval["begin_time"], approval["end_time"]
    return begin is None or end is None or (begin <= max(bases) and end >= min(bases))


def approvals_text(items: Sequence[dict[str, Any]], work_date: date, tz: tzinfo) -> str:
    """关联审批单 as one cell: ``请假(事假) 09:00–13:00；补卡 上班 09:00`` (times in ``tz``,
    ``次日`` for the next day, the date for another day)."""

    def when(moment: datetime | None) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(tz)
        if local.date() == work_date:
            return local.strftime("%H:%M")
        if local.date() == work_date + timedelta(days=1):
            return "次日 " + local.strftime("%H:%M")
        return local.strftime("%m-%d %H:%M")

    parts = []
    for a in items:
        head = a["kind"] + (f"({a['sub_type']})" if a["sub_type"] else "")
        if a["kind"] == "补卡":
            head += " " + CHECK_LABELS.get(a["check_type"] or "", a["check_type"] or "")
            parts.append(f"{head} {when(a['begin_time'])}".strip())
        else:
            parts.append(f"{head} {when(a['begin_time'])}–{when(a['end_time'])}")
    return "；".join(parts)


def _hhmm(moment: datetime | None, work_date: date, tz: tzinfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    text = local.strftime("%H:%M")
    return f"次日 {text}" if local.date() > work_date else text


def _label(r: dict[str, Any] | None, absent: bool) -> str:
    if r is None:
        return ""
    if r["source_type"] == "APPROVE":
        return "请假"
    if absent:
        return "旷工"
    text = TIME_RESULT_LABELS.get(r["time_result"], r["time_result"] or "")
    if r["location_result"] == "Outside":
        text += "(外勤)"
    return text


def monthly_summary(
    conn: Connection,
    corp_id: str,
    month: str,
    dept_id: int | None = None,
    *,
    tz: tzinfo = SHANGHAI,
    userids: Sequence[str] | None = None,
    overtime_rule: OvertimeRule | str | None = None,
    with_records: bool = False,
) -> MonthlySummary:
    """The summary of ``month`` (``YYYY-MM``) for everyone with a schedule or result in it, or
    only the people in department ``dept_id`` and its sub-departments; check times shown in
    the company's zone ``tz``. ``userids``: only these people (one page of the web API's
    ``GET /api/attendance/monthly``; only their rows are read). ``overtime_rule``: the
    company's 加班规则 (``Settings.attendance_overtime_rule``, parsed or as text;
    :data:`DEFAULT_RULE` when ``None``) by which the 加班 columns are computed from results,
    punches, overtime approvals and holidays (``export.attendance_overtime``).
    ``with_records``: also every punch of the month (``records``, the 原始记录 sheet).
    Raises ``ValueError`` for a malformed month or overtime rule."""
    if not isinstance(overtime_rule, OvertimeRule):
        overtime_rule = parse_rule(overtime_rule or DEFAULT_RULE)
    rule = overtime_rule
    start, end = month_range(month)
    page = userids is not None and dept_id is None and len(userids) <= 500
    people = _people(conn, corp_id, userids if page else None)
    wanted: set[str] | None = None
    if dept_id is not None:
        subtree = repo_contacts.department_subtree(conn, corp_id, [dept_id])
        wanted = {u for u, p in people.items() if subtree & set(p["depts"])}
    if userids is not None:
        wanted = set(userids) if wanted is None else wanted & set(userids)
    only = None if userids is None else sorted(set(userids))
    results = repo_attendance.load_results(conn, corp_id, start, end, only)
    schedules = repo_attendance.load_schedules(conn, corp_id, start, end, only)
    leaves = repo_attendance.load_leaves(conn, corp_id, start, end, only)
    values = repo_attendance.load_column_values(conn, corp_id, start, end, only)
    groups = repo_attendance.group_names_by_user(conn, corp_id)

    by_day: dict[str, dict[date, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        by_day[r["userid"]][r["work_date"]].append(r)
    work_dates: dict[str, set[date]] = defaultdict(set)
    scheduled_people: set[str] = set()
    for s in schedules:
        scheduled_people.add(s["userid"])
        if not s["is_rest"]:
            work_dates[s["userid"]].add(s["work_date"])
    rest_dates: dict[str, set[date]] = defaultdict(set)
    for s in schedules:
        if s["is_rest"] and s["work_date"] not in work_dates[s["userid"]]:
            rest_dates[s["userid"]].add(s["work_date"])
    approvals = repo_attendance.load_approvals(
        conn, corp_id, start - timedelta(days=1), end + timedelta(days=1)
    )
    trips_of: dict[str, dict[str, str]] = defaultdict(dict)
    out_hours_of: dict[str, float] = {}
    overtime_of: dict[str, dict[date, list[tuple[datetime, datetime]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for a in approvals:
        if a["biz_type"] == 1 and start <= a["work_date"] <= end:
            overtime_of[a["userid"]][a["work_date"]].append((a["begin_time"], a["end_time"]))
        if a["biz_type"] == 2 and a["tag_name"] in ("出差", "外出"):
            trips_of[a["userid"]][str(a["approve_id"])] = a["tag_name"]
            hours = (a["end_time"] - a["begin_time"]).total_seconds() / 3600
            out_hours_of[str(a["approve_id"])] = round(hours, 4)
    holidays: dict[str, set[date]] = defaultdict(set)
    for h in repo_attendance.load_holidays(conn, corp_id, start, end, only):
        holidays[h["userid"]].add(h["work_date"])
    punches_of: dict[str, dict[date, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    records = repo_attendance.load_records(conn, corp_id, start, end, only)
    for p in records:
        if p["is_legal"] != "N" and p["work_date"] is not None:
            punches_of[p["userid"]][p["work_date"]].append(p["user_check_time"])
    schedules_of: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
    for s in schedules:
        schedules_of[(s["userid"], s["work_date"])].append(s)
    shifts = repo_attendance.shift_names(conn, corp_id)
    leave_types = repo_attendance.load_leave_types(conn, corp_id)
    leave_columns = _leave_columns(leave_types, leaves)
    units = {c.leave_code: c for c in leave_columns}
    hours_per_day = {t["leave_code"]: (t["day_length"] or 800) / 100 for t in leave_types}
    leave_hours: dict[str, float] = defaultdict(float)
    leave_by_type: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    periods: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    leaves_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    approvals_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in approvals:
        approvals_of[a["userid"]].append(a)
    leave_names = {c.leave_code: c.name for c in leave_columns}
    for lv in leaves:
        leaves_of[lv["userid"]].append(lv)
        leave_hours[lv["userid"]] += float(lv["hours"] or 0)
        code = lv["leave_code"] or ""
        leave_by_type[lv["userid"]][code] += _in_unit(
            lv, units[code].unit, hours_per_day.get(code, 8.0)
        )
        periods[lv["userid"]].append((lv["start_time"], lv["end_time"]))

    everyone = set(by_day) | scheduled_people
    if wanted is not None:
        everyone &= wanted
    rows: list[PersonSummary] = []
    daily: list[DailyRow] = []
    for userid in sorted(everyone, key=lambda u: (people.get(u, {}).get("name", ""), u)):
        info = people.get(userid, {"name": "", "job": "", "dept_names": ""})
        metrics = dict.fromkeys(METRICS, 0.0)
        days = by_day.get(userid, {})
        trips = trips_of.get(userid, {})
        counted_outings: set[str] = set()
        person_daily: list[DailyRow] = []
        for day in sorted(days):
            for k, v in day_metrics(days[day], periods.get(userid, ()), trips).items():
                metrics[k] += v
            # 出差: each work day it covers; 外出: its hours, on the first work day it covers.
            for approve_id in sorted({str(r["approve_id"]) for r in days[day]} & set(trips)):
                if trips[approve_id] == "出差":
                    metrics["trip_days"] += 1
                elif approve_id not in counted_outings:
                    counted_outings.add(approve_id)
                    metrics["out_hours"] += out_hours_of[approve_id]
            on = next((r for r in days[day] if r["check_type"] == "OnDuty"), None)
            off = next((r for r in days[day] if r["check_type"] == "OffDuty"), None)
            absent = all(r["time_result"] == "NotSigned" for r in days[day])
            person_daily.append(
                DailyRow(
                    userid,
                    info["name"],
                    day,
                    _hhmm(on["user_check_time"] if on else None, day, tz),
                    _label(on, absent),
                    _hhmm(off["user_check_time"] if off else None, day, tz),
                    _label(off, absent),
                    approvals_text(
                        linked_approvals(
                            day,
                            days[day],
                            leaves_of.get(userid, ()),
                            approvals_of.get(userid, ()),
                            leave_names,
                        ),
                        day,
                        tz,
                    ),
                    shift_label(schedules_of.get((userid, day), ()), shifts) or "",
                )
            )
        # A day without results — a rest day or holiday — with a valid punch, approved leave
        # or a trip, outing or overtime approval is a 每日统计 row too (``休息``, its first
        # and last punch), the same days as ``repo_attendance.list_days``.
        extra = set(punches_of.get(userid, {}))
        extra |= {lv["work_date"] for lv in leaves_of.get(userid, ())}
        scheduled = work_dates.get(userid, set()) | rest_dates.get(userid, set())
        for a in approvals_of.get(userid, ()):
            if a["biz_type"] in repo_attendance.DAY_APPROVAL_TYPES:
                extra |= repo_attendance.approval_days(a, scheduled)
        for day in sorted(d for d in extra - set(days) if start <= d <= end):
            linked = linked_approvals(
                day, [], leaves_of.get(userid, ()), approvals_of.get(userid, ()), leave_names
            )
            text = approvals_text(linked, day, tz)
            shift = shift_label(schedules_of.get((userid, day), ()), shifts)
            label = "" if shift not in (None, "休息") else "休息"
            times = sorted(punches_of.get(userid, {}).get(day, ()))
            first = _hhmm(times[0], day, tz) if times else ""
            last = _hhmm(times[-1], day, tz) if len(times) > 1 else ""
            person_daily.append(
                DailyRow(userid, info["name"], day, first, label, last, label, text, shift or "")
            )
        daily.extend(sorted(person_daily, key=lambda d: d.work_date))
        for k, v in _overtime(
            rule,
            days,
            work_dates[userid] if userid in scheduled_people else set(days),
            holidays.get(userid, set()),
            punches_of.get(userid, {}),
            overtime_of.get(userid, {}),
        ).items():
            metrics[k] += v
        # Scheduled days come from the schedule; without one, from the days with results.
        metrics["scheduled_days"] = float(
            len(work_dates[userid]) if userid in scheduled_people else len(days)
        )
        metrics["leave_hours"] = leave_hours.get(userid, 0.0)
        metrics["rest_days"] = float(len(rest_dates.get(userid, ())))
        mine = leave_by_type.get(userid, {})
        rows.append(
            PersonSummary(
                userid,
                info["name"],
                info.get("job", ""),
                info.get("dept_names", ""),
                groups.get(userid, ""),
                metrics,
                {c.leave_code: round(mine.get(c.leave_code, 0.0), 4) for c in leave_columns},
            )
        )

    summary = MonthlySummary(
        month,
        start,
        end,
        rows,
        daily,
        columns_synced=bool(values),
        tz=tz,
        leave_columns=leave_columns,
    )
    summary.disagreements = cross_check(rows, values)
    summary.dingtalk_columns = _dingtalk_columns(values, rows)
    if with_records:
        shown = {r.userid: r.name for r in rows}
        summary.records = [
            PunchRow(
                p["userid"],
                shown[p["userid"]],
                p["user_check_time"],
                p["work_date"],
                p["check_type"],
                p["time_result"],
                p["source_type"],
                p["user_address"],
                p["user_latitude"],
                p["user_longitude"],
                p["location_result"] == "Outside",
                p["is_legal"] != "N",
                p["outside_remark"] or p["invalid_record_msg"],
            )
            for p in sorted(
                records,
                key=lambda p: (p["userid"], p["user_check_time"], p["id"]),
            )
            if p["userid"] in shown
        ]
    return summary


def _dingtalk_columns(
    values: list[dict[str, Any]], rows: list[PersonSummary]
) -> list[DingTalkColumn]:
    """The synced report columns we do not compute (alias not in :data:`COLUMN_ALIASES`, not
    text — ``sub_type`` 2 —): the company's custom columns and the like, in DingTalk's order
    (column id); each person's monthly sum of DingTalk's day values goes into
    ``PersonSummary.dingtalk`` (a value that is not a number is skipped)."""
    names: dict[int, str] = {}
    sums: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for v in values:
        if v.get("alias") in COLUMN_ALIASES or v.get("column_sub_type") == 2:
            continue
        cid = int(v["column_id"])
        names.setdefault(cid, v.get("column_name") or str(cid))
        try:
            sums[v["userid"]][cid] += float(v["value"] or 0)
        except ValueError:
            continue
    for row in rows:
        row.dingtalk = {cid: round(x, 4) for cid, x in sums.get(row.userid, {}).items()}
    return [DingTalkColumn(cid, names[cid]) for cid in sorted(names)]


def _overtime(
    rule: OvertimeRule,
    days: Mapping[date, list[dict[str, Any]]],
    working: set[date],
    holidays: set[date],
    punches: Mapping[date, list[datetime]],
    approvals: Mapping[date, list[tuple[datetime, datetime]]],
) -> dict[str, float]:
    """One person's month of 加班 (:data:`OVERTIME_METRICS`): each working day by the
    ``workday`` rule, each other day with punches or an overtime approval by the ``holiday``
    rule (a public holiday of the person's calendar) or the ``restday`` rule."""
    out = dict.fromkeys(OVERTIME_METRICS, 0.0)
    for day in sorted(working | set(punches) | set(approvals)):
        if day in working:
            kind = "workday"
        else:
            kind = "holiday" if day in holidays else "restday"
        got = day_overtime(
            kind,
            rule,
            days.get(day, []) if kind == "workday" else (),
            punches.get(day, []),
            approvals.get(day, []),
            NOT_A_PUNCH,
            day,
        )
        for k, v in got.items():
            out[k] += v
    return out


def _leave_columns(types: list[dict[str, Any]], leaves: list[dict[str, Any]]) -> list[LeaveColumn]:
    """The 请假 columns: every synced leave type in DingTalk's order (``day``/``halfDay`` types
    in days, others in hours), then leave codes seen in ``leaves`` without a synced type (named
    by their code, in the unit their leave came in)."""
    out = [
        LeaveColumn(
            t["leave_code"],
            t["leave_name"] or t["leave_code"],
            "day" if t["leave_view_unit"] in ("day", "halfDay") else "hour",
        )
        for t in types
    ]
    known = {c.leave_code for c in out}
    for lv in sorted(leaves, key=lambda r: r["leave_code"] or ""):
        code = lv["leave_code"] or ""
        if code not in known:
            known.add(code)
            unit = "day" if lv["duration_unit"] == "percent_day" else "hour"
            out.append(LeaveColumn(code, code, unit))
    return out


def _in_unit(leave: dict[str, Any], unit: str, hours_per_day: float) -> float:
    """A leave row's duration in ``unit`` (``day``/``hour``): ``duration_percent / 100`` when
    DingTalk sent it in that unit, converted with the type's hours per day otherwise."""
    percent = leave["duration_percent"]
    sent = "day" if leave["duration_unit"] == "percent_day" else "hour"
    if percent is None:
        hours = float(leave["hours"] or 0)
        return hours / hours_per_day if unit == "day" else hours
    value = float(percent) / 100
    if sent == unit:
        return value
    return value / hours_per_day if unit == "day" else value * hours_per_day


def cross_check(rows: list[PersonSummary], values: list[dict[str, Any]]) -> list[Disagreement]:
    """Compare each person's metrics with the monthly sums of DingTalk's report columns
    (``attendance_column_values`` rows with their ``alias``). Every difference is returned."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for v in values:
        alias = v.get("alias")
        if alias not in COLUMN_ALIASES:
            continue
        try:
            number = float(v["value"] or 0)
        except ValueError:
            number = float("nan")
        sums[v["userid"]][alias] += number
    out: list[Disagreement] = []
    for row in rows:
        theirs = sums.get(row.userid)
        if not theirs:
            continue
        for alias, total in sorted(theirs.items()):
            metric = COLUMN_ALIASES[alias]
            ours = row.metrics[metric]
            if not abs(ours - total) < 0.01:
                out.append(Disagreement(row.userid, row.name, metric, alias, ours, total))
    return out


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------
SUMMARY_HEADERS = ["姓名", "考勤组", "部门", "工号", "UserId", *METRIC_LABELS.values()]
DAILY_HEADERS = [
    "姓名",
    "UserId",
    "日期",
    "星期",
    "班次",
    "上班打卡时间",
    "上班打卡结果",
    "下班打卡时间",
    "下班打卡结果",
    "关联审批单",
]
WEEKDAYS = "一二三四五六日"
RECORD_HEADERS = [
    "姓名",
    "UserId",
    "考勤日期",
    "打卡时间",
    "打卡类型",
    "打卡结果",
    "打卡来源",
    "打卡地址",
    "纬度",
    "经度",
    "外勤",
    "有效",
    "备注",
]
#: DingTalk's ``sourceType`` of a punch → how its report names it.
SOURCE_LABELS = {
    "USER": "用户打卡",
    "ATM": "考勤机",
    "DING_ATM": "钉钉考勤机",
    "BEACON": "iBeacon",
    "APPROVE": "审批",
    "SYSTEM": "系统",
    "BOSS": "老板改签",
    "AUTO_CHECK": "自动打卡",
}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)


def summary_headers(summary: MonthlySummary) -> list[str]:
    """The summary sheet's headers: :data:`SUMMARY_HEADERS` (identity, then the metrics in
    DingTalk's order), one 请假 column per leave type (``年假(天)``, ``事假(小时)``), then the
    report columns carried with DingTalk's values (:attr:`MonthlySummary.dingtalk_columns`:
    the company's custom columns …)."""
    return [
        *SUMMARY_HEADERS,
        *(c.label for c in summary.leave_columns),
        *(c.name for c in summary.dingtalk_columns),
    ]


def summary_records(summary: MonthlySummary) -> list[list[Any]]:
    """The summary sheet's data rows (same order as :func:`summary_headers`: the columns of
    :data:`SUMMARY_HEADERS`, then 请假 per leave type, then DingTalk's values of
    :attr:`MonthlySummary.dingtalk_columns` — empty (``None``) where DingTalk sent none)."""
    return [
        [r.name, r.group, r.departments, r.job_number, r.userid]
        + [_number(r.metrics[m]) for m in METRICS]
        + [_number(r.leave.get(c.leave_code, 0.0)) for c in summary.leave_columns]
        + [
            _number(r.dingtalk[c.column_id]) if c.column_id in r.dingtalk else None
            for c in summary.dingtalk_columns
        ]
        for r in summary.rows
    ]


def daily_records(summary: MonthlySummary) -> list[list[Any]]:
    """The daily-detail sheet's data rows (same order as :data:`DAILY_HEADERS`); the work date
    (column 3) is a :class:`~datetime.date` (a date cell in xlsx, ISO ``YYYY-MM-DD`` in csv)."""
    return [
        [
            d.name,
            d.userid,
            d.work_date,
            "星期" + WEEKDAYS[d.work_date.weekday()],
            d.shift,
            d.on_duty_time,
            d.on_duty_result,
            d.off_duty_time,
            d.off_duty_result,
            d.approvals,
        ]
        for d in summary.daily
    ]


def record_records(summary: MonthlySummary) -> list[list[Any]]:
    """The 原始记录 sheet's data rows (same order as :data:`RECORD_HEADERS`): the work date a
    :class:`~datetime.date`, the punch time a naive :class:`~datetime.datetime` in the company's
    zone (date cells in xlsx), coordinates as numbers (``None`` when not sent)."""
    return [
        [
            p.name,
            p.userid,
            p.work_date,
            p.user_check_time.astimezone(summary.tz).replace(tzinfo=None),
            CHECK_LABELS.get(p.check_type or "", p.check_type or ""),
            TIME_RESULT_LABELS.get(p.time_result or "", p.time_result or ""),
            SOURCE_LABELS.get(p.source_type or "", p.source_type or ""),
            p.address or "",
            p.latitude,
            p.longitude,
            "是" if p.outside else "否",
            "是" if p.legal else "否",
            p.remark or "",
        ]
        for p in summary.records
    ]


def write_xlsx(summary: MonthlySummary, path: str | Path) -> Path:
    """Write the 考勤报表-shaped workbook: 月度汇总 (one row per person), 每日统计 (one row
    per person per day), 原始记录 (every punch, when the summary was read ``with_records``) and
    核对差异 (the cross-check). Returns the path."""
    from dingsync.export import xlsx

    out = Path(path)
    wb = xlsx.Workbook(str(out))
    title = wb.add_format({"bold": True, "font_size": 14})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    note = wb.add_format({"italic": True, "font_color": "#666666"})
    period = f"统计日期：{summary.start.isoformat()} 至 {summary.end.isoformat()}"
    made = datetime.now(summary.tz).strftime("%Y-%m-%d %H:%M")

    ws = wb.add_worksheet("月度汇总")
    ws.write(0, 0, f"月度汇总  {period}", title)
    ws.write(1, 0, f"报表生成时间：{made}（由 dingsync 根据打卡结果计算）", note)
    ws.write_row(2, 0, summary_headers(summary), head)
    for i, rec in enumerate(summary_records(summary), start=3):
        ws.write_row(i, 0, rec)
    ws.freeze_panes(3, 1)
    ws.set_column(0, 1, 14)
    ws.set_column(2, 2, 24)
    ws.set_column(3, 4, 22)
    ws.set_column(
        5, 5 + len(METRICS) + len(summary.leave_columns) + len(summary.dingtalk_columns), 11
    )

    wd = wb.add_worksheet("每日统计")
    wd.write(0, 0, f"每日统计  {period}", title)
    wd.write_row(1, 0, DAILY_HEADERS, head)
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    for i, rec in enumerate(daily_records(summary), start=2):
        wd.write_row(i, 0, rec[:2])
        wd.write_datetime(i, 2, rec[2], day)
        wd.write_row(i, 3, rec[3:])
    wd.freeze_panes(2, 1)
    wd.set_column(0, 1, 22)
    wd.set_column(2, 8, 13)
    wd.set_column(9, 9, 40)

    if summary.records:
        wr = wb.add_worksheet("原始记录")
        wr.write(0, 0, f"原始记录  {period}", title)
        wr.write_row(1, 0, RECORD_HEADERS, head)
        moment = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for i, rec in enumerate(record_records(summary), start=2):
            wr.write_row(i, 0, rec[:2])
            if rec[2] is not None:
                wr.write_datetime(i, 2, rec[2], day)
            wr.write_datetime(i, 3, rec[3], moment)
            wr.write_row(i, 4, rec[4:8])
            for col in (8, 9):
                if rec[col] is not None:
                    wr.write_number(i, col, rec[col])
            wr.write_row(i, 10, rec[10:])
        wr.freeze_panes(2, 1)
        wr.set_column(0, 1, 22)
        wr.set_column(2, 3, 19)
        wr.set_column(7, 7, 24)

    wx = wb.add_worksheet("核对差异")
    if not summary.columns_synced:
        wx.write(0, 0, "未同步钉钉报表列（getcolumnval），无法核对。", note)
    elif not summary.disagreements:
        wx.write(0, 0, "与钉钉报表列一致，无差异。", note)
    else:
        wx.write_row(0, 0, ["姓名", "UserId", "指标", "钉钉列", "按打卡结果计算", "钉钉报表"], head)
        for i, d in enumerate(summary.disagreements, start=1):
            wx.write_row(
                i,
                0,
                [d.name, d.userid, METRIC_LABELS[d.metric], d.column_alias, d.ours, d.dingtalk],
            )
    wb.close()
    return out


def write_csv(summary: MonthlySummary, path: str | Path, *, daily: bool = False) -> Path:
    """Write the summary (or, with ``daily``, the daily detail) as UTF-8 CSV with a BOM (so
    Excel reads the Chinese headers). Returns the path."""
    out = Path(path)
    with out.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        if daily:
            writer.writerow(DAILY_HEADERS)
            writer.writerows(daily_records(summary))
        else:
            writer.writerow(summary_headers(summary))
            writer.writerows(summary_records(summary))
    return out
