"""``/api/attendance``: attendance results and per-person summaries filtered by the rules —
everyone their own; the main administrator, the boss and the local ``hr`` role all;
sub-administrators their scope; attendance-group managers their groups.

Routes: ``/results`` (check points), ``/summary`` (counts per ``time_result`` and person),
``/monthly`` (the 考勤报表 monthly summary, the export's computation, one page of people),
``/stats`` (the console's charts), ``/daily`` (one row per person-day) and ``/records``
(punches). The console's 考勤 pages call these same functions.

Who is visible: check-point rows (``/results``, ``/summary``, ``/daily``, ``/stats``) by the
rules' scope on the row (its person, or its attendance group for a group manager); people
(``/monthly``, ``/records`` and a person's calendar) by the same scope on the person (a group
manager: the members of their groups — the people the ``attendance`` export writes).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from dingsync.export import attendance as export_attendance
from dingsync.store import repo_attendance, repo_contacts
from dingsync.timeutil import day_start_ms
from dingsync.web import rules
from dingsync.web.context import WebContext
from dingsync.web.data import (
    CheckType,
    DeptIdQuery,
    LimitQuery,
    OffsetQuery,
    TimeResult,
    UserIdQuery,
    day_bounds,
    dept_filter,
    jsonable,
    visible,
)
from dingsync.web.deps import Caller, Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.export_kinds import MONTH_YEARS, Day
from dingsync.web.models import (
    TYPED,
    AttendanceDay,
    AttendanceMonthly,
    AttendancePunch,
    AttendanceResult,
    AttendanceStats,
    AttendanceSummary,
    Page,
)

router = APIRouter(
    prefix="/api/attendance", tags=["attendance"], responses=responses(*COMMON_ERRORS)
)

_SESSION_ERRORS = SESSION_ERRORS
MAX_SPAN_DAYS = 366


def _span(ctx: WebContext, start: date | None, end: date | None) -> tuple[date, date]:
    """The work dates asked: ``end`` defaults to today in the company's zone (``Settings.tz``)
    — or ``start`` when that is later (a start in the future lists nothing, as the reports and
    approvals lists do, instead of a 422 about an end not given) —, ``start`` to the first of
    ``end``'s month. ``request.invalid`` when ``end`` is before ``start``, the span is longer
    than :data:`MAX_SPAN_DAYS`, or a day has no UTC time (year 1 or 9999)."""
    end = end or ctx.default_end(start)
    start = start or end.replace(day=1)
    if end < start or (end - start) > timedelta(days=MAX_SPAN_DAYS):
        raise WebError(
            "request.invalid", f"need start_date <= end_date, at most {MAX_SPAN_DAYS} days"
        )
    day_bounds(ctx, start, end)  # out-of-range days are a 422, not an OverflowError
    return start, end


@router.get(
    "/results",
    summary="Attendance results (per check)",
    responses=responses(*_SESSION_ERRORS, "request.invalid"),
    response_model=Page[AttendanceResult],
    **TYPED,
)
def results(
    ctx: Ctx,
    caller: CurrentCaller,
    start_date: Annotated[Day | None, Query(description="first work date")] = None,
    end_date: Annotated[Day | None, Query(description="last work date")] = None,
    userid: UserIdQuery = None,
    dept_id: DeptIdQuery = None,
    time_result: Annotated[
        TimeResult | None,
        Query(description="Normal, Early, Late, SeriousLate, Absenteeism or NotSigned"),
    ] = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """``/attendance/list`` rows (work date, check type, time/location result, times in epoch
    ms) for the work dates asked (default: this month so far, days of the company's zone).
    ``work_date`` is epoch ms of 00:00 of the work date in the company's zone (``Settings.tz``),
    as DingTalk's ``workDate`` (the store keeps the calendar date)."""
    start, end = _span(ctx, start_date, end_date)
    scope = rules.scope(caller.viewer, "attendance", "list")
    with ctx.engine.connect() as conn:
        items, total = repo_attendance.list_attendance_results(
            conn,
            ctx.corp_id,
            visible(scope),
            start=start,
            end=end,
            userid=userid,
            dept_ids=dept_filter(ctx, conn, dept_id),
            time_result=time_result,
            limit=min(limit, ctx.options.max_page_size),
            offset=offset,
        )
    out = [
        {**jsonable(i), "work_date": day_start_ms(i["work_date"], ctx.settings.tz)} for i in items
    ]
    return {"items": out, "total": total, "limit": limit, "offset": offset}


@router.get(
    "/summary",
    summary="Attendance per person",
    responses=responses(*_SESSION_ERRORS, "request.invalid"),
    response_model=AttendanceSummary,
    **TYPED,
)
def summary(
    ctx: Ctx,
    caller: CurrentCaller,
    start_date: Annotated[Day | None, Query(description="first work date")] = None,
    end_date: Annotated[Day | None, Query(description="last work date")] = None,
    userid: UserIdQuery = None,
    dept_id: DeptIdQuery = None,
) -> dict[str, Any]:
    """Per visible person: ``days`` with a result, ``checks`` and the count of each
    ``time_result`` over the work dates asked (default: this month so far, days of the
    company's zone)."""
    start, end = _span(ctx, start_date, end_date)
    scope = rules.scope(caller.viewer, "attendance", "list")
    with ctx.engine.connect() as conn:
        people = repo_attendance.attendance_summary(
            conn,
            ctx.corp_id,
            visible(scope),
            start=start,
            end=end,
            userid=userid,
            dept_ids=dept_filter(ctx, conn, dept_id),
        )
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "people": people}


# --------------------------------------------------------------------------------------------
# The 考勤报表 month, its charts, person-days and punches (the console's 考勤 pages)
# --------------------------------------------------------------------------------------------
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
#: The company root department (DingTalk's id 1): the department chart's default level.
ROOT_DEPT = 1
#: The monthly summary's columns, in order (key, 考勤报表 label): add a metric to
#: :data:`dingsync.export.attendance.METRICS` and it is a column here, on the page and in the
#: export.
MONTHLY_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (m, export_attendance.METRIC_LABELS[m]) for m in export_attendance.METRICS
)


#: Key prefix of the 请假 columns in ``metrics`` (``leave.<leave_code>``: the leave type's
#: amount in its unit, labelled ``年假(天)``, ``事假(小时)`` …), after :data:`MONTHLY_COLUMNS`,
#: as in the export.
LEAVE_KEY = "leave."
#: Key prefix of the report columns carried with DingTalk's values (``dingtalk.<column id>``:
#: the company's custom columns …, synced with ``DINGSYNC_ATTENDANCE_COLUMNS``), last; a
#: person DingTalk sent no value for has no key.
DINGTALK_KEY = "dingtalk."

_DAY_KEYS = ("people", "attended", "absent", "late", "early", "missing")
_PERSON_KEYS = ("late", "early", "missing")


def month_span(ctx: WebContext, month: str | None) -> tuple[str, date, date]:
    """``month`` (``YYYY-MM``; default this month in the company's zone) and its first and last
    work dates. ``request.invalid`` for a year outside :data:`MONTH_YEARS`."""
    month = month or ctx.today().strftime("%Y-%m")
    if not MONTH_YEARS[0] <= int(month[:4]) <= MONTH_YEARS[1]:
        raise WebError("request.invalid", f"month: year must be within {MONTH_YEARS}")
    try:
        start, end = export_attendance.month_range(month)
    except ValueError as exc:
        raise WebError("request.invalid", str(exc)) from exc
    return month, start, end


def may_see_person(ctx: WebContext, caller: Caller, userid: str) -> bool:
    """Whether ``caller`` may see ``userid``'s attendance (a person of the directory or of an
    attendance group the rules' scope admits; see the module doc)."""
    scope = rules.scope(caller.viewer, "attendance", "read")
    with ctx.engine.connect() as conn:
        seen = repo_attendance.visible_userids(conn, ctx.corp_id, visible(scope), [userid])
        if seen is None:
            return repo_contacts.get_user(conn, ctx.corp_id, userid) is not None
    return userid in seen


@router.get(
    "/monthly",
    summary="Monthly summary (考勤报表) per person",
    responses=responses(*_SESSION_ERRORS, "request.invalid"),
    response_model=AttendanceMonthly,
    **TYPED,
)
def monthly(
    ctx: Ctx,
    caller: CurrentCaller,
    month: Annotated[
        str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM (default this month)")
    ] = None,
    dept_id: DeptIdQuery = None,
    userid: UserIdQuery = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """The monthly summary of ``month`` (default: this month in the company's zone) — the
    numbers ``dingsync attendance summary`` and the ``attendance`` export compute
    (:func:`dingsync.export.attendance.monthly_summary`): per visible person with a result or
    a schedule in the month (in ``dept_id`` and below when given), by name, ``metrics``
    (应出勤天数, 出勤天数, 迟到次数, 迟到时长 …, then 请假 per leave type as ``leave.<code>``,
    then the company's custom report columns with DingTalk's values as ``dingtalk.<id>``;
    ``metrics`` lists the keys and labels in order, as the export's columns). Paged: the
    people of the page are chosen in SQL, and only their rows are read."""
    month, start, end = month_span(ctx, month)
    scope = rules.scope(caller.viewer, "attendance", "list")
    with ctx.engine.connect() as conn:
        page, total = repo_attendance.month_people(
            conn,
            ctx.corp_id,
            visible(scope),
            start=start,
            end=end,
            dept_ids=dept_filter(ctx, conn, dept_id),
            userid=userid,
            limit=min(limit, ctx.options.max_page_size),
            offset=offset,
        )
        summary = (
            export_attendance.monthly_summary(
                conn,
                ctx.corp_id,
                month,
                tz=ctx.settings.tz,
                userids=page,
                overtime_rule=ctx.settings.attendance_overtime_rule,
            )
            if page
            else None
        )
    rows = summary.rows if summary is not None else []
    leave_columns = summary.leave_columns if summary is not None else []
    dingtalk_columns = summary.dingtalk_columns if summary is not None else []
    by_id = {r.userid: r for r in rows}
    items = [
        {
            "userid": r.userid,
            "name": r.name,
            "job_number": r.job_number,
            "departments": r.departments,
            "group": r.group,
            "metrics": {
                **r.metrics,
                **{
                    LEAVE_KEY + c.leave_code: float(r.leave.get(c.leave_code, 0))
                    for c in leave_columns
                },
                **{
                    DINGTALK_KEY + str(c.column_id): r.dingtalk[c.column_id]
                    for c in dingtalk_columns
                    if c.column_id in r.dingtalk
                },
            },
        }
        for r in (by_id[u] for u in page if u in by_id)
    ]
    columns = [
        *MONTHLY_COLUMNS,
        *((LEAVE_KEY + c.leave_code, c.label) for c in leave_columns),
        *((DINGTALK_KEY + str(c.column_id), c.name) for c in dingtalk_columns),
    ]
    return {
        "month": month,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "metrics": [{"key": k, "label": label} for k, label in columns],
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/stats",
    summary="Attendance statistics of a month (charts)",
    responses=responses(*_SESSION_ERRORS, "request.invalid"),
    response_model=AttendanceStats,
    **TYPED,
)
def stats(
    ctx: Ctx,
    caller: CurrentCaller,
    month: Annotated[
        str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM (default this month)")
    ] = None,
    dept_id: DeptIdQuery = None,
) -> dict[str, Any]:
    """The numbers of the console's attendance charts for ``month`` over the visible results
    (in ``dept_id`` and below when given):

    - ``by_department``: for the direct members of ``dept_id`` (default the company root) and
      each of its sub-departments (with everything below it) that has people with results:
      those people and their ``late`` (迟到, 严重迟到), ``early`` (早退) and ``missing`` (缺卡)
      checks;
    - ``by_day``: each date of the month up to today (company zone; or the last date with
      results): ``people`` with a result (应出勤), ``attended``
      (a punch of their own), ``absent`` (every check missing), ``late``/``early``/``missing``
      checks, ``rate`` = attended / people × 100 (one decimal; ``null`` without people).

    Counted as the monthly summary counts them (:func:`dingsync.export.attendance.day_metrics`).
    """
    month, start, end = month_span(ctx, month)
    v = visible(rules.scope(caller.viewer, "attendance", "list"))
    with ctx.engine.connect() as conn:
        tree = ctx.tree(conn)
        dept_ids = dept_filter(ctx, conn, dept_id)
        rows = repo_attendance.person_days(
            conn, ctx.corp_id, v, start=start, end=end, dept_ids=dept_ids
        )
        counted: dict[date, dict[str, int]] = {}
        per_user: dict[str, dict[str, int]] = {}
        for r in rows:
            missing = r["not_signed"] if r["signed"] else 0  # 缺卡 only on a day not absent
            day_row = counted.setdefault(r["work_date"], dict.fromkeys(_DAY_KEYS, 0))
            day_row["people"] += 1
            day_row["attended"] += int(r["punched"])
            day_row["absent"] += int(not r["signed"])
            user_row = per_user.setdefault(r["userid"], dict.fromkeys(_PERSON_KEYS, 0))
            for key, n in (("late", r["late"]), ("early", r["early"]), ("missing", missing)):
                day_row[key] += n
                user_row[key] += n
        member_of = repo_contacts.memberships_of(conn, ctx.corp_id, sorted(per_user))
    top = dept_id or ROOT_DEPT

    def dept_name(d: int) -> str:
        return str((tree.nodes.get(d) or {}).get("name") or d)

    parts = [(c, dept_name(c), tree.subtree([c])) for c in tree.children.get(top, [])]
    parts.insert(0, (top, dept_name(top), frozenset({top})))
    by_department = []
    for d, name, depts in parts:
        people = [u for u, ds in member_of.items() if ds & depts]
        if not people:
            continue  # only departments with people who have results
        row = {"dept_id": d, "name": name, "people": len(people)}
        for key in ("late", "early", "missing"):
            row[key] = sum(per_user[u][key] for u in people)
        by_department.append(row)
    by_day = []
    day, last = start, max([end if end < ctx.today() else ctx.today(), *counted])
    while day <= last:
        r = counted.get(day) or dict.fromkeys(_DAY_KEYS, 0)
        rate = round(100 * r["attended"] / r["people"], 1) if r["people"] else None
        by_day.append({"date": day.isoformat(), **r, "rate": rate})
        day += timedelta(days=1)
    return {
        "month": month,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "dept_id": dept_id,
        "by_department": by_department,
        "by_day": by_day,
    }


def _linked(
    conn: Any, corp_id: str, days: list[dict[str, Any]]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]], dict[str, str]]:
    """For a page of person-days: the people's leave and approvals around its dates (by
    userid) and the leave types' names (by code) — what :func:`linked_approvals
    <dingsync.export.attendance.linked_approvals>` links to each day."""
    if not days:
        return {}, {}, {}
    people = sorted({d["userid"] for d in days})
    lo = min(d["work_date"] for d in days) - timedelta(days=1)
    hi = max(d["work_date"] for d in days) + timedelta(days=1)
    leaves: dict[str, list[dict[str, Any]]] = {}
    for lv in repo_attendance.load_leaves(conn, corp_id, lo, hi, people):
        leaves.setdefault(lv["userid"], []).append(lv)
    approvals: dict[str, list[dict[str, Any]]] = {}
    for a in repo_attendance.load_approvals(conn, corp_id, lo, hi, people):
        approvals.setdefault(a["userid"], []).append(a)
    names = {
        t["leave_code"]: t["leave_name"] or t["leave_code"]
        for t in repo_attendance.load_leave_types(conn, corp_id)
    }
    return leaves, approvals, names


@router.get(
    "/daily",
    summary="Attendance per person and day",
    responses=responses(*_SESSION_ERRORS, "request.invalid"),
    response_model=Page[AttendanceDay],
    **TYPED,
)
def daily(
    ctx: Ctx,
    caller: CurrentCaller,
    start_date: Annotated[Day | None, Query(description="first work date")] = None,
    end_date: Annotated[Day | None, Query(description="last work date")] = None,
    userid: UserIdQuery = None,
    dept_id: DeptIdQuery = None,
    order: Annotated[
        Literal["desc", "asc"], Query(description="by work date: newest first (desc) or asc")
    ] = "desc",
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """每日统计: one row per person and work date with results (the visible rows of
    ``/results`` for the same filters, grouped), and per day without results — a rest day or
    holiday — on which the person punched or had approved leave, a trip, outing or overtime
    (as DingTalk's 每日统计 and the workbook's sheet list them), by work date then userid: the
    shift (班次, ``休息`` on a rest day), the check points (type, result, place, source, times
    in epoch ms; on a day without results its valid punches, ``base_check_time`` null) and the
    day's result (``day_result``: Absent, SeriousLate, Late, Early, Missing, Leave, Trip,
    GoOut, Outside or Normal — :func:`dingsync.export.attendance.day_result` —, ``Rest`` on a
    day without results; and its label),
    and 关联审批单 (``approvals``: leave, trips, outings, overtime and 补卡 linked to the day,
    :func:`dingsync.export.attendance.linked_approvals`; times epoch ms).
    Dates default to this month so far (company zone). Paged in SQL over person-days."""
    start, end = _span(ctx, start_date, end_date)
    scope = rules.scope(caller.viewer, "attendance", "list")
    with ctx.engine.connect() as conn:
        days, total = repo_attendance.list_days(
            conn,
            ctx.corp_id,
            visible(scope),
            start=start,
            end=end,
            userid=userid,
            dept_ids=dept_filter(ctx, conn, dept_id),
            limit=min(limit, ctx.options.max_page_size),
            offset=offset,
            newest_first=order == "desc",
        )
        names = repo_attendance.user_names(conn, ctx.corp_id, [d["userid"] for d in days])
        shifts = repo_attendance.shift_names(conn, ctx.corp_id) if days else {}
        leaves, approvals, leave_names = _linked(conn, ctx.corp_id, days)
    keys = ("check_type", "time_result", "location_result", "source_type")
    items = []
    for d in days:
        # A day without check points (rest day, holiday) shows its punches and is 休息.
        trips = {
            str(a["approve_id"]): a["tag_name"]
            for a in approvals.get(d["userid"], [])
            if a["biz_type"] == 2 and a["tag_name"] in ("出差", "外出")
        }
        code = export_attendance.day_result(d["results"], trips) if d["results"] else "Rest"
        checks = d["results"] or [{**p, "base_check_time": None} for p in d["punches"]]
        linked = export_attendance.linked_approvals(
            d["work_date"],
            d["results"],
            leaves.get(d["userid"], []),
            approvals.get(d["userid"], []),
            leave_names,
        )
        items.append(
            {
                "userid": d["userid"],
                "name": names.get(d["userid"], ""),
                "work_date": d["work_date"].isoformat(),
                "shift": export_attendance.shift_label(d["schedules"], shifts),
                "checks": [
                    {
                        **{k: r[k] for k in keys},
                        **jsonable(
                            {
                                "base_check_time": r["base_check_time"],
                                "user_check_time": r["user_check_time"],
                            }
                        ),
                    }
                    for r in checks
                ],
                "day_result": code,
                "day_label": export_attendance.DAY_RESULT_LABELS.get(code, code),
                "approvals": [jsonable(a) for a in linked],
            }
        )
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get(
    "/records",
    summary="Punches (打卡记录)",
    responses=responses(*_SESSION_ERRORS, "request.invalid"),
    response_model=Page[AttendancePunch],
    **TYPED,
)
def records(
    ctx: Ctx,
    caller: CurrentCaller,
    start_date: Annotated[Day | None, Query(description="first day punched")] = None,
    end_date: Annotated[Day | None, Query(description="last day punched")] = None,
    userid: UserIdQuery = None,
    dept_id: DeptIdQuery = None,
    check_type: Annotated[CheckType | None, Query(description="OnDuty or OffDuty")] = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """原始记录: every punch (``/attendance/listRecord``, valid or not) of the visible people
    punched on the days asked (default this month so far; days of the company's zone), newest
    first: time (epoch ms), work date, check type, results, source (USER, DING_ATM, ATM,
    APPROVE, …), ``is_legal``, the place DingTalk sent (address, coordinates, accuracy, how it
    was located, the time clock) and ``outside`` (外勤) with its remark."""
    start, end = _span(ctx, start_date, end_date)
    lo, hi = day_bounds(ctx, start, end)
    scope = rules.scope(caller.viewer, "attendance", "list")
    with ctx.engine.connect() as conn:
        rows, total = repo_attendance.list_records(
            conn,
            ctx.corp_id,
            visible(scope),
            start=lo,
            end=hi,
            userid=userid,
            dept_ids=dept_filter(ctx, conn, dept_id),
            check_type=check_type,
            limit=min(limit, ctx.options.max_page_size),
            offset=offset,
        )
        names = repo_attendance.user_names(conn, ctx.corp_id, [r["userid"] for r in rows])
    keys = ("id", "userid", "check_type", "time_result", "location_result", "source_type")
    items = []
    for r in rows:
        raw = r.get("raw") if isinstance(r.get("raw"), dict) else {}
        # Rows synced before migration 0018 have the place only in ``raw``.
        address = r["user_address"] or (raw.get("userAddress") if raw else None)
        items.append(
            {
                **{k: r[k] for k in keys},
                "name": names.get(r["userid"], ""),
                "user_check_time": jsonable({"t": r["user_check_time"]})["t"],
                "work_date": r["work_date"].isoformat() if r["work_date"] else None,
                "is_legal": r["is_legal"],
                "address": str(address) if address else None,
                "latitude": r["user_latitude"],
                "longitude": r["user_longitude"],
                "accuracy": r["user_accuracy"],
                "location_method": r["location_method"],
                "device_sn": r["device_sn"],
                "outside": r["location_result"] == "Outside",
                "outside_remark": r["outside_remark"],
                "proc_inst_id": r["proc_inst_id"],
            }
        )
    return {"items": items, "total": total, "limit": limit, "offset": offset}
