"""考勤 (Attendance): the 考勤报表 in the console — 月度汇总 with its charts, 每日统计, 原始记录
and a person's month as a calendar.

Every number comes from the attendance API's own functions
(:mod:`dingsync.web.routers.attendance`), called with the viewer's caller, so each person sees
exactly what ``/api/attendance/…`` gives them (their own; the main administrator, the boss and
HR all; a sub-administrator their scope; an attendance-group manager their groups):

- ``GET /console/attendance`` — 月度汇总: ``monthly`` (one page of people, columns from its
  ``metrics`` list) and ``stats`` (the charts: late/early by department, missing punches by day,
  attendance rate by day); the export button (``POST /console/export/attendance``) for those
  who may export attendance.
- ``GET /console/attendance/daily`` — 每日统计: ``daily`` (person-days, paged in SQL).
- ``GET /console/attendance/records`` — 原始记录: ``records`` (punches, paged in SQL).
- ``GET /console/attendance/users/{userid}?month=`` — the person's month as a calendar from
  ``daily``; 404 when the viewer may not see that person's attendance.

Filters are plain GET query parameters (htmx swaps the result part; the page works without
it); an empty field means "not given"; a malformed one (or a date span the API refuses) is an
inline message in the page, status 200 (:mod:`dingsync.web.console.params`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dingsync.export.attendance import DAY_RESULT_LABELS, TIME_RESULT_LABELS
from dingsync.store import repo_contacts
from dingsync.timeutil import from_ms
from dingsync.web import rules
from dingsync.web.console import params
from dingsync.web.console.render import render
from dingsync.web.console.session import ConsoleSession, page_caller
from dingsync.web.context import WebContext
from dingsync.web.data import CheckType
from dingsync.web.deps import Ctx
from dingsync.web.errors import WebError
from dingsync.web.routers import attendance as api
from dingsync.web.routers import directory as api_directory

router = APIRouter(prefix="/console/attendance", include_in_schema=False)

#: Rows per page of each tab.
MONTHLY_PAGE = 20
DAILY_PAGE = 50
RECORDS_PAGE = 50

#: The tabs: key, label, path.
TABS = (
    ("monthly", "月度汇总", "/console/attendance"),
    ("daily", "每日统计", "/console/attendance/daily"),
    ("records", "原始记录", "/console/attendance/records"),
)

CHECK_LABELS = {"OnDuty": "上班", "OffDuty": "下班"}
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
#: A result → the tag's colour class (console.css: ok, warn, bad; "" is blue).
RESULT_TONES = {
    "Normal": "ok",
    "Late": "warn",
    "Early": "warn",
    "Missing": "warn",
    "NotSigned": "warn",
    "SeriousLate": "bad",
    "Absenteeism": "bad",
    "Absent": "bad",
    "Leave": "",
    "Trip": "",
    "GoOut": "",
    "Outside": "",
}


# --------------------------------------------------------------------------------------------
# Query text → values (form fields arrive as text; empty = not given)
# --------------------------------------------------------------------------------------------
def _month(ctx: WebContext, value: str | None, problems: list[str]) -> str:
    """The ``month`` filter (``YYYY-MM``); this month when empty or malformed (the message in
    ``problems``)."""
    given = params.collect(problems, lambda: params.month("月份", value))
    return given or ctx.today().strftime("%Y-%m")


def _shift_month(month: str, delta: int) -> str:
    year, mon = int(month[:4]), int(month[5:7]) + delta
    year, mon = year + (mon - 1) // 12, (mon - 1) % 12 + 1
    return f"{year:04d}-{mon:02d}"


# --------------------------------------------------------------------------------------------
# What every tab shows around its rows
# --------------------------------------------------------------------------------------------
def _departments(ctx: WebContext) -> list[dict[str, Any]]:
    """The department tree as a flat list in order, with each department's depth (for the
    department filter; the directory is visible to everyone)."""
    with ctx.engine.connect() as conn:
        tree = ctx.tree(conn)
    roots = sorted(d for d, n in tree.nodes.items() if n["parent_id"] not in tree.nodes)
    out: list[dict[str, Any]] = []
    stack = [(d, 0) for d in reversed(roots)]
    while stack:
        dept, depth = stack.pop()
        out.append({"id": dept, "name": tree.nodes[dept]["name"] or str(dept), "depth": depth})
        stack.extend((c, depth + 1) for c in reversed(tree.children.get(dept, [])))
    return out


def _pager(request: Request, total: int, limit: int, offset: int) -> dict[str, Any]:
    """Pager links keeping the current filters (``page`` is 1-based)."""
    params = {k: v for k, v in request.query_params.items() if k != "page" and v != ""}

    def link(page: int) -> str:
        return f"{request.url.path}?{urlencode({**params, 'page': page})}"

    page = offset // limit + 1
    pages = max(1, -(-total // limit))
    return {
        "total": total,
        "first": offset + 1 if total else 0,
        "last": min(offset + limit, total),
        "page": page,
        "pages": pages,
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
    }


def _hhmm(ms: int | None, ctx: WebContext, work_date: str | None = None) -> str:
    """Epoch ms → ``HH:MM`` in the company's zone (``次日 HH:MM`` after the work date)."""
    if ms is None:
        return ""
    local = from_ms(int(ms)).astimezone(ctx.settings.tz)
    text = local.strftime("%H:%M")
    if work_date and local.date().isoformat() > work_date:
        return f"次日 {text}"
    return text


def _check_label(check: dict[str, Any]) -> tuple[str, str]:
    """A check point's result label and tone: 请假 for leave, 外勤 added for outside."""
    if check.get("source_type") == "APPROVE":
        return "请假", ""
    tr = check.get("time_result") or ""
    label = TIME_RESULT_LABELS.get(tr, tr)
    if check.get("location_result") == "Outside" and tr != "NotSigned":
        label += "(外勤)"
    return label, RESULT_TONES.get(tr, "")


def _common(
    request: Request, ctx: WebContext, session: ConsoleSession, problems: list[str]
) -> dict[str, Any]:
    return {
        "problems": problems,
        "tabs": TABS,
        "departments": _departments(ctx),
        "may_export": rules.may(session.viewer, "attendance", "export"),
        "check_labels": CHECK_LABELS,
        "source_labels": SOURCE_LABELS,
        "result_tones": RESULT_TONES,
        "hhmm": lambda ms, wd=None: _hhmm(ms, ctx, wd),
        "check_label": _check_label,
        "query": dict(request.query_params),
    }


# --------------------------------------------------------------------------------------------
# Charts (ECharts options from GET /api/attendance/stats)
# --------------------------------------------------------------------------------------------
_COLORS = {"late": "#ff8800", "early": "#7b61ff", "missing": "#f54a45", "rate": "#1677ff"}


#: The chart's note on what each department bar counts (the rule of the stats API).
DEPT_CHART_NOTE = (
    "第一根柱为所选部门（未选时为全公司）的直属成员，不含下级部门；其余每根柱为一个下级部门"
    "及其所有下级部门。同时属于多个部门的人员在每个所属部门各计一次。"
)


def dept_labels(stats: dict[str, Any]) -> list[str]:
    """The department bars' labels: the first bar — the top department itself, when it has
    people — says it counts its direct members only (the others count their subtrees)."""
    top = stats.get("dept_id") or api.ROOT_DEPT
    return [
        f"{d['name']}（直属）" if i == 0 and d["dept_id"] == top else str(d["name"])
        for i, d in enumerate(stats["by_department"])
    ]


def chart_options(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The three charts of 月度汇总 from the stats API's answer (series[0] of each is what the
    tests compare): late and early checks by department (bars), missing punches by day (bars),
    attendance rate by day (line, %)."""
    depts = stats["by_department"]
    days = stats["by_day"]
    labels = [d["date"][5:] for d in days]
    rates = [d["rate"] for d in days if d["rate"] is not None]
    floor = max(0, int(min(rates) // 10 * 10) - 10) if rates else 0
    grid = {"left": 44, "right": 16, "top": 36, "bottom": 28, "containLabel": True}
    tooltip = {"trigger": "axis"}
    return {
        "c-att-dept": {
            "color": [_COLORS["late"], _COLORS["early"]],
            "tooltip": tooltip,
            "legend": {"top": 0},
            "grid": grid,
            "xAxis": {
                "type": "category",
                "data": dept_labels(stats),
                # every department named, tilted so neighbours do not run into each other
                "axisLabel": {"interval": 0, "rotate": 30, "overflow": "truncate", "width": 84},
            },
            "yAxis": {"type": "value", "minInterval": 1, "name": "次"},
            "series": [
                {"name": "迟到", "type": "bar", "data": [d["late"] for d in depts]},
                {"name": "早退", "type": "bar", "data": [d["early"] for d in depts]},
            ],
        },
        "c-att-missing": {
            "color": [_COLORS["missing"]],
            "tooltip": tooltip,
            "legend": {"top": 0},
            "grid": grid,
            "xAxis": {"type": "category", "data": labels},
            "yAxis": {"type": "value", "minInterval": 1, "name": "次"},
            "series": [{"name": "缺卡", "type": "bar", "data": [d["missing"] for d in days]}],
        },
        "c-att-rate": {
            "color": [_COLORS["rate"]],
            "tooltip": {"trigger": "axis", "valueFormatter": None},
            "legend": {"top": 0},
            "grid": grid,
            "xAxis": {"type": "category", "data": labels, "boundaryGap": False},
            "yAxis": {"type": "value", "min": floor, "max": 100, "name": "%"},
            "series": [
                {
                    "name": "出勤率",
                    "type": "line",
                    "smooth": True,
                    "connectNulls": True,
                    "areaStyle": {"opacity": 0.12},
                    "data": [d["rate"] for d in days],
                }
            ],
        },
    }


def _totals(stats: dict[str, Any]) -> dict[str, Any]:
    """The stat cards: person-days due and attended, the month's rate, late/early/missing."""
    days = stats["by_day"]
    due = sum(d["people"] for d in days)
    attended = sum(d["attended"] for d in days)
    return {
        "due": due,
        "attended": attended,
        "rate": round(100 * attended / due, 1) if due else None,
        "late": sum(d["late"] for d in days),
        "early": sum(d["early"] for d in days),
        "missing": sum(d["missing"] for d in days),
        "absent": sum(d["absent"] for d in days),
    }


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------
#: The 月度汇总 metrics that mark a problem (late, early, missing punches, absence): a non-zero
#: value is painted red (``att-hit``). Every other metric — days, work time, rest days,
#: overtime, leave, trips, DingTalk's own columns — is a plain number.
PROBLEM_METRICS: frozenset[str] = frozenset(
    {
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
    }
)


@router.get("", response_class=HTMLResponse, name="console_attendance")
def monthly_page(
    request: Request,
    ctx: Ctx,
    month: str | None = None,
    dept_id: str | None = None,
    page: str | None = None,
    session: ConsoleSession = page_caller("attendance"),
) -> HTMLResponse:
    """月度汇总: the month's summary per person (paged), its charts and the export."""
    problems: list[str] = []
    the_month = _month(ctx, month, problems)
    dept = params.collect(problems, lambda: params.department(ctx, "部门", dept_id))
    summary, number = params.clamped_page(
        lambda offset: api.monthly(
            ctx, session.caller, the_month, dept, None, limit=MONTHLY_PAGE, offset=offset
        ),
        params.page_number(problems, page),
        MONTHLY_PAGE,
    )
    offset = (number - 1) * MONTHLY_PAGE
    stats = api.stats(ctx, session.caller, the_month, dept)
    return render(
        request,
        session,
        "attendance.html",
        active="attendance",
        title="考勤",
        tab="monthly",
        month=the_month,
        dept_id=dept,
        summary=summary,
        problem_metrics=PROBLEM_METRICS,
        stats=stats,
        totals=_totals(stats),
        charts=chart_options(stats),
        dept_chart_note=DEPT_CHART_NOTE,
        pager=_pager(request, summary["total"], MONTHLY_PAGE, offset),
        **_common(request, ctx, session, problems),
    )


#: How many people of the same name the person filter offers to choose from.
PERSON_CHOICES = 10


def resolve_person(
    ctx: WebContext, session: ConsoleSession, text: str | None
) -> tuple[str | None, list[dict[str, Any]]]:
    """The person filter: a userid, or a part of a name looked up in the directory as the
    viewer may list it (``GET /api/users?q=``). Returns ``(userid, choices)``: the userid to
    filter on (``None``: no filter), and when the name fits several people (or nobody) the
    people to choose from (then nothing is listed until one is chosen)."""
    if text is None:
        return None, []
    with ctx.engine.connect() as conn:
        if repo_contacts.get_user(conn, ctx.corp_id, text) is not None:
            return text, []
    found = api_directory.users(
        ctx, session.caller, None, False, text[:64], limit=PERSON_CHOICES, offset=0
    )
    if found["total"] == 1:
        return str(found["items"][0]["userid"]), []
    return text, found["items"]


def _span(
    ctx: WebContext, start: str | None, end: str | None, problems: list[str]
) -> tuple[date, date]:
    """The date filter (default: this month so far, as the API's — the end is today, or the
    start when that is later, so a start in the future lists nothing rather than an end
    before it; a malformed day is dropped with its message in ``problems``). The span itself
    is checked by the API function."""
    first = params.collect(problems, lambda: params.day("开始日期", start))
    last = params.collect(problems, lambda: params.day("结束日期", end))
    last = last or ctx.default_end(first)
    return first or last.replace(day=1), last


@dataclass(frozen=True)
class _DayFilters:
    """The filters 每日统计 and 原始记录 share: the date span, department, person (resolved by
    userid or name, with ``choices`` when several match), as typed, and the page's offset."""

    start: date
    end: date
    dept: int | None
    userid: str | None
    person: str | None
    choices: Any
    offset: int
    #: Messages about malformed filters (shown in the page).
    problems: list[str]


def _day_filters(
    ctx: WebContext,
    session: ConsoleSession,
    start_date: str | None,
    end_date: str | None,
    dept_id: str | None,
    userid: str | None,
    page: str | None,
    page_size: int,
) -> _DayFilters:
    problems: list[str] = []
    start, end = _span(ctx, start_date, end_date, problems)
    typed = params.text(userid)
    person, choices = resolve_person(ctx, session, typed)
    dept = params.collect(problems, lambda: params.department(ctx, "部门", dept_id))
    number = params.page_number(problems, page)
    return _DayFilters(start, end, dept, typed, person, choices, (number - 1) * page_size, problems)


@router.get("/daily", response_class=HTMLResponse, name="console_attendance_daily")
def daily_page(
    request: Request,
    ctx: Ctx,
    start_date: str | None = None,
    end_date: str | None = None,
    dept_id: str | None = None,
    userid: str | None = None,
    page: str | None = None,
    session: ConsoleSession = page_caller("attendance"),
) -> HTMLResponse:
    """每日统计: one row per person and day (shift, check points, the day's result)."""
    f = _day_filters(ctx, session, start_date, end_date, dept_id, userid, page, DAILY_PAGE)
    problems = f.problems
    days, number = params.clamped_page(
        lambda offset: params.attempt(
            problems,
            lambda: api.daily(
                ctx,
                session.caller,
                f.start,
                f.end,
                f.person,
                f.dept,
                "desc",
                limit=DAILY_PAGE,
                offset=offset,
            ),
            params.empty_page(),
        ),
        f.offset // DAILY_PAGE + 1,
        DAILY_PAGE,
    )
    shown = (number - 1) * DAILY_PAGE
    return render(
        request,
        session,
        "attendance.html",
        active="attendance",
        title="考勤",
        tab="daily",
        start_date=f.start,
        end_date=f.end,
        dept_id=f.dept,
        userid=f.userid,
        choices=f.choices,
        rows=days["items"],
        pager=_pager(request, days["total"], DAILY_PAGE, shown),
        day_labels=DAY_RESULT_LABELS,
        **_common(request, ctx, session, problems),
    )


@router.get("/records", response_class=HTMLResponse, name="console_attendance_records")
def records_page(
    request: Request,
    ctx: Ctx,
    start_date: str | None = None,
    end_date: str | None = None,
    dept_id: str | None = None,
    userid: str | None = None,
    check_type: str | None = None,
    page: str | None = None,
    session: ConsoleSession = page_caller("attendance"),
) -> HTMLResponse:
    """原始记录: every punch with its time, result, source and place."""
    f = _day_filters(ctx, session, start_date, end_date, dept_id, userid, page, RECORDS_PAGE)
    problems = f.problems
    kind = params.collect(problems, lambda: params.choice("打卡类型", check_type, CHECK_LABELS))
    punches, number = params.clamped_page(
        lambda offset: params.attempt(
            problems,
            lambda: api.records(
                ctx,
                session.caller,
                f.start,
                f.end,
                f.person,
                f.dept,
                cast("CheckType | None", kind),  # one of CHECK_LABELS: the API's values
                limit=RECORDS_PAGE,
                offset=offset,
            ),
            params.empty_page(),
        ),
        f.offset // RECORDS_PAGE + 1,
        RECORDS_PAGE,
    )
    shown = (number - 1) * RECORDS_PAGE
    return render(
        request,
        session,
        "attendance.html",
        active="attendance",
        title="考勤",
        tab="records",
        start_date=f.start,
        end_date=f.end,
        dept_id=f.dept,
        userid=f.userid,
        choices=f.choices,
        check_type=kind,
        rows=punches["items"],
        pager=_pager(request, punches["total"], RECORDS_PAGE, shown),
        **_common(request, ctx, session, problems),
    )


def calendar_weeks(month: str, days: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The month as weeks of 7 cells (Monday first); a cell is ``{"date", "in_month", "day"}``
    with the person-day of :func:`~dingsync.web.routers.attendance.daily` when there is one."""
    first = date.fromisoformat(month + "-01")
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    by_date = {d["work_date"]: d for d in days}
    cell = first - timedelta(days=first.weekday())
    weeks: list[list[dict[str, Any]]] = []
    while cell <= last:
        week = []
        for _ in range(7):
            week.append(
                {
                    "date": cell,
                    "in_month": cell.month == first.month,
                    "day": by_date.get(cell.isoformat()),
                }
            )
            cell += timedelta(days=1)
        weeks.append(week)
    return weeks


@router.get("/users/{userid}", response_class=HTMLResponse, name="console_attendance_user")
def calendar_page(
    request: Request,
    ctx: Ctx,
    userid: str,
    month: str | None = None,
    session: ConsoleSession = page_caller("attendance"),
) -> HTMLResponse:
    """A person's month as a calendar (each day coloured by its result, check times shown) and
    the month's summary row; 404 when the viewer may not see this person's attendance."""
    if len(userid) > 64 or not api.may_see_person(ctx, session.caller, userid):
        raise WebError("not_found", "no such person")
    problems: list[str] = []
    the_month = _month(ctx, month, problems)
    _, start, end = api.month_span(ctx, the_month)
    days = api.daily(ctx, session.caller, start, end, userid, None, "asc", limit=62, offset=0)
    mine = api.monthly(ctx, session.caller, the_month, None, userid, limit=1, offset=0)
    with ctx.engine.connect() as conn:
        person = repo_contacts.get_user(conn, ctx.corp_id, userid) or {"userid": userid}
    return render(
        request,
        session,
        "attendance_calendar.html",
        active="attendance",
        title="考勤日历",
        month=the_month,
        prev_month=_shift_month(the_month, -1),
        next_month=_shift_month(the_month, 1),
        person=person,
        weeks=calendar_weeks(the_month, days["items"]),
        days=days["items"],
        summary=mine,
        row=(mine["items"] or [None])[0],
        day_labels=DAY_RESULT_LABELS,
        **_common(request, ctx, session, problems),
    )
