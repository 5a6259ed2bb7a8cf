"""Report compliance by the company's own statistics rule (统计规则), and the rule used.

:func:`compliance_by_rule` is what the CLI, the web API (``/api/reports/stats``) and the
console's 日志统计 call. Where the sync stored a DingTalk rule for the template
(``report_rules``, from ``/v1.0/report/statisticalRules/results`` and, for who must submit,
``/v1.0/report/submitStatisticalResults``), it counts by that rule; otherwise it returns
:func:`dingsync.export.reports.compliance` (today's default rule). Either way
``Compliance.rule`` says which rule was used (:class:`RuleUsed`).

Counting by a DingTalk rule (docs/reports.md, "Statistics rules"):

* **Periods**: one per submit window. ``start_date_time[i]``/``end_date_time[i]`` are
  ``"<n> HH:mm"`` in DingTalk's zone (GMT+8): ``n`` is the ISO weekday (daily and weekly rules)
  or the day of the month (monthly); the end is the first such moment after the start. A
  period is dated on the day its window opens.
* **Who**: the rule's people (``userids``), from their hire date and until they left.
* **Status**: each window claims the person's reports created from its opening until the next
  window opens; the first of them decides — created by the window's end: ``submitted`` (按时),
  after it: ``late`` (迟交); none: ``missing`` (未提交). A period whose window has not closed yet
  and has no report is not counted yet.
* **Rest days**: one definition of a working day for both rules — a daily period dated on a
  day the person's synced attendance schedule gives as rest (``attendance_schedules``: a public
  holiday, a weekend) is not due (docs/reports.md, open point R-7), as under the default rule.
  Days without a synced schedule keep the rule's windows.

This module is kept apart from ``export/reports.py`` (the default rule and the writers) on
purpose: it adds a layer, it does not change the default counting.
"""

from __future__ import annotations

import bisect
import time as _time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from sqlalchemy import Connection, func, select

from dingsync.export.reports import (
    Compliance,
    DeptRate,
    Status,
    compliance,
    count_in_departments,
    dept_scope,
    first_report_day,
    people_of,
)
from dingsync.store import repo_attendance, repo_reports, visibility
from dingsync.store.schema import from_ms, users
from dingsync.store.schema_reports import reports
from dingsync.timeutil import SHANGHAI, WIRE_TZ
from dingsync.timeutil import today as local_today

Period = Literal["daily", "weekly", "monthly"]
#: The longest range of days 日志统计 counts at once (API, console, its export and the CLI).
MAX_DAYS = 92

#: ``periodType`` → our name.
PERIODS: dict[int, Period] = {1: "daily", 2: "weekly", 3: "monthly"}
_WEEKDAYS = "一二三四五六日"

#: The default rule, in words (docs/reports.md, "Compliance").
DEFAULT_RULE_TEXT = (
    "默认规则：工作日（已同步考勤排班时按排班，否则周一至周五）应交；"
    "报告计入创建时间减 12 小时所在的那天（周报：那一周），当天结束后提交为迟交；"
    "应交人：提交过该模板的人（入职后、离职前）"
)


@dataclass(frozen=True)
class Window:
    """One submit window of a rule: opens on day ``start_day`` at ``start``, closes at the
    first ``end_day``/``end`` after that (days: ISO weekday, or day of month)."""

    start_day: int
    start: time
    end_day: int
    end: time


@dataclass
class RuleUsed:
    """Which rule a compliance result used: ``source`` ``"dingtalk"`` (a stored 统计规则,
    ``remind_id``) or ``"default"``; ``period``; the windows in words; how many people the rule
    names (``None`` for the default rule); ``text``, one line for people."""

    source: Literal["dingtalk", "default"]
    text: str
    period: Period | None = None
    remind_id: int | None = None
    windows: list[str] = field(default_factory=list)
    must_submit: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the API's ``rule``)."""
        return {
            "source": self.source,
            "text": self.text,
            "period": self.period,
            "remind_id": self.remind_id,
            "windows": list(self.windows),
            "must_submit": self.must_submit,
        }


def default_rule(template: str) -> RuleUsed:
    """The rule :func:`dingsync.export.reports.compliance` counts by."""
    weekly = template.endswith("周报")
    return RuleUsed("default", DEFAULT_RULE_TEXT, "weekly" if weekly else "daily")


def _parse(entry: Any) -> tuple[int, time]:
    day, _, clock = str(entry).strip().partition(" ")
    hh, _, mm = clock.partition(":")
    return int(day), time(int(hh), int(mm or 0))


def parse_windows(starts: Sequence[Any], ends: Sequence[Any]) -> list[Window]:
    """The windows of ``start_date_time``/``end_date_time``; ``ValueError`` when they do not
    pair up or do not read as ``"<n> HH:mm"``."""
    if not starts or len(starts) != len(ends):
        raise ValueError("start_date_time and end_date_time do not pair up")
    out = []
    for s, e in zip(starts, ends, strict=True):
        (sd, st), (ed, et) = _parse(s), _parse(e)
        out.append(Window(sd, st, ed, et))
    return out


def _day_name(period: Period, n: int) -> str:
    if period == "monthly":
        return f"{n}日"
    return f"周{_WEEKDAYS[(n - 1) % 7]}"


def describe(period: Period, windows: Sequence[Window]) -> list[str]:
    """Each window in words, e.g. ``周一 17:00 → 周二 10:00``."""
    return [
        f"{_day_name(period, w.start_day)} {w.start:%H:%M} → {_day_name(period, w.end_day)} "
        f"{w.end:%H:%M}"
        for w in windows
    ]


def _ms(day: date, clock: time) -> int:
    return int(datetime.combine(day, clock, WIRE_TZ).timestamp() * 1000)


def rule_windows(
    period: Period, windows: Sequence[Window], first: date, last: date
) -> list[tuple[date, int, int]]:
    """``(due day, opens ms, closes ms)`` of every window opening on a day in ``[first,
    last]`` (GMT+8 dates), in time order."""
    found: list[tuple[date, int, int]] = []
    day = first
    while day <= last:
        for w in windows:
            if period == "monthly":
                if day.day != w.start_day:
                    continue
                close = day + timedelta(days=1 if w.end <= w.start else 0)
                while close.day != w.end_day:
                    close += timedelta(days=1)
            else:
                if day.isoweekday() != w.start_day:
                    continue
                ahead = (w.end_day - w.start_day) % 7
                if ahead == 0 and w.end <= w.start:
                    ahead = 7
                close = day + timedelta(days=ahead)
            found.append((day, _ms(day, w.start), _ms(close, w.end)))
        day += timedelta(days=1)
    return sorted(found, key=lambda x: x[1])


def rule_used(stored: dict[str, Any]) -> tuple[RuleUsed, list[Window]] | None:
    """The stored rule (a ``report_rules`` row) read, or ``None`` when it cannot be."""
    period = PERIODS.get(int(stored.get("period_type") or 0))
    if period is None:
        return None
    try:
        windows = parse_windows(
            stored.get("start_date_time") or [], stored.get("end_date_time") or []
        )
    except (ValueError, TypeError):
        return None
    people = list(stored.get("userids") or [])
    words = describe(period, windows)
    label = {"daily": "每天", "weekly": "每周", "monthly": "每月"}[period]
    text = (
        f"钉钉统计规则 #{stored['remind_id']}：{label}，提交时间 {'；'.join(words)}（GMT+8），"
        f"应交 {len(people)} 人"
    )
    used = RuleUsed("dingtalk", text, period, int(stored["remind_id"]), words, len(people))
    return used, windows


def first_period_day(
    conn: Connection, corp_id: str, template: str, tz: tzinfo = SHANGHAI
) -> date | None:
    """The day 日志统计 dates the first synced report of ``template`` under: by the template's
    stored DingTalk rule, the due day of the period whose window claims that report (the
    last window opening at or before its ``create_time``; a period is dated on the day its
    window opens, docs/reports.md R-5 — a monthly period on the 1st when the report came on
    the 4th); by the default rule (or a rule that cannot be read, or a report before every
    window), its report day (:func:`dingsync.export.reports.first_report_day`). ``None``
    without any synced report. Days before it hold no synced report of the template, so their
    未提交 says nothing (the console, the API and the CLI warn, and the default range starts
    there)."""
    first = first_report_day(conn, corp_id, template, tz)
    stored = repo_reports.rule_of(conn, corp_id, template) if first is not None else None
    read = rule_used(stored) if stored is not None else None
    if first is None or read is None:
        return first
    used, windows = read
    assert used.period is not None
    created: datetime | None = conn.execute(
        select(func.min(reports.c.create_time)).where(
            reports.c.corp_id == corp_id, reports.c.template_name == template
        )
    ).scalar()
    assert created is not None
    at = int(created.timestamp() * 1000)
    spans = rule_windows(used.period, windows, first - timedelta(days=62), first + timedelta(1))
    opened = [due for due, opens, _ in spans if opens <= at]
    return opened[-1] if opened else first


def compliance_by_rule(
    conn: Connection,
    corp_id: str,
    template: str,
    start: date,
    end: date,
    *,
    dept_id: int | None = None,
    today: date | None = None,
    tz: tzinfo = SHANGHAI,
    people: visibility.Visible | None = None,
    now_ms: int | None = None,
) -> Compliance:
    """Compliance of ``template`` for the periods dated ``start``..``end`` by the template's
    stored DingTalk rule, else by the default rule (:func:`dingsync.export.reports.compliance`
    with the same arguments); ``result.rule`` (:meth:`RuleUsed.as_dict`) names the rule used.

    By a DingTalk rule: only periods dated before ``today`` (default: today in ``tz``) count,
    and of those only the ones with a report or whose window closed before ``now_ms``
    (default: now); a daily period dated on a rest day of the person's synced attendance
    schedule is not due (as under the default rule). ``dept_id`` narrows to people in that
    department or below, ``people`` to the people a viewer may see as owners (as
    :func:`~dingsync.export.reports.compliance`)."""
    stored = repo_reports.rule_of(conn, corp_id, template)
    read = rule_used(stored) if stored is not None else None
    if read is None:
        result = compliance(
            conn, corp_id, template, start, end, dept_id=dept_id, today=today, tz=tz, people=people
        )
        result.rule = default_rule(template).as_dict()
        return result
    used, windows = read
    assert stored is not None and used.period is not None
    today = today or local_today(tz)
    now = int(_time.time() * 1000) if now_ms is None else now_ms
    result = Compliance(template, start, end, used.period != "daily", rule=used.as_dict())

    wanted = [str(u) for u in stored.get("userids") or []]
    if people is not None and wanted:
        allowed: set[str] = set()
        for i in range(0, len(wanted), 500):
            allowed.update(
                str(u)
                for u in conn.execute(
                    select(users.c.userid).where(
                        users.c.corp_id == corp_id,
                        users.c.userid.in_(wanted[i : i + 500]),
                        visibility.visible_to(people, corp_id, users.c.userid),
                    )
                ).scalars()
            )
        wanted = [u for u in wanted if u in allowed]
    if dept_id is not None:
        scope = dept_scope(conn, corp_id, dept_id)
        wanted = [u for u in wanted if u in scope]

    spans = rule_windows(used.period, windows, start, end + timedelta(days=62))
    counted = [s for s in spans if s[0] <= end]
    if not counted or not wanted:
        return result
    r = reports
    created: dict[str, list[int]] = defaultdict(list)
    lo, hi = from_ms(counted[0][1]), from_ms(spans[-1][1])
    for u, at in conn.execute(
        select(r.c.creator_id, r.c.create_time).where(
            r.c.corp_id == corp_id,
            r.c.template_name == template,
            r.c.create_time >= lo,
            r.c.create_time < hi,
        )
    ):
        if u is not None and at is not None:
            created[str(u)].append(int(at.timestamp() * 1000))
    info, dept_names, memberships = people_of(conn, corp_id)
    # the people's synced schedules: a daily period on a rest day (holiday) is not due
    schedules = (
        repo_attendance.scheduled_days_of(conn, corp_id, sorted(set(wanted)), start, end)
        if used.period == "daily"
        else {}
    )

    rates: dict[int | None, DeptRate] = {}
    for userid in sorted(set(wanted)):
        row = info.get(userid)
        name = str(row.name) if row is not None and row.name else userid
        hired = row.hired_date.astimezone(tz).date() if row is not None and row.hired_date else None
        left = row.left_at.astimezone(tz).date() if row is not None and row.left_at else None
        depts = memberships.get(userid) or []
        dept_label = ",".join(dept_names.get(d, str(d)) for d in depts)
        times = sorted(created.get(userid, []))
        rests = schedules.get(userid, {})
        counts = {"submitted": 0, "late": 0, "missing": 0}
        for i, (due, opens, closes) in enumerate(spans):
            if due > end or due >= today:
                break
            if due < start or (hired is not None and due < hired):
                continue
            if rests.get(due) is False:
                continue  # a rest day (holiday) in the person's synced schedule: not due
            if left is not None and due > left:
                continue
            nxt = spans[i + 1][1] if i + 1 < len(spans) else None
            k = bisect.bisect_left(times, opens)
            claimed = times[k] if k < len(times) and (nxt is None or times[k] < nxt) else None
            status: Status
            if claimed is None:
                if closes > now:
                    continue  # still open: not due yet
                status = "missing"
            else:
                status = "submitted" if claimed <= closes else "late"
            counts[status] += 1
            result.periods.setdefault(userid, []).append((due, status))
        result.people[userid] = {"name": name, "dept": dept_label, **counts}
        count_in_departments(rates, dept_names, depts, counts)
    result.departments = sorted(rates.values(), key=lambda d: (d.name, d.dept_id or 0))
    return result
