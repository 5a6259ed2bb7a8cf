"""``/api/attendance``: attendance results and per-person summaries filtered by the rules —
everyone their own; the main administrator, the boss and the local ``hr`` role all;
sub-administrators their scope; attendance-group managers their groups."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dingsync.store import repo_attendance
from dingsync.timeutil import day_start_ms
from dingsync.web import rules
from dingsync.web.context import WebContext
from dingsync.web.data import day_bounds, dept_filter, jsonable, visible
from dingsync.web.deps import Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.models import TYPED, AttendanceResult, AttendanceSummary, Page

router = APIRouter(
    prefix="/api/attendance", tags=["attendance"], responses=responses(*COMMON_ERRORS)
)

_SESSION_ERRORS = SESSION_ERRORS
MAX_SPAN_DAYS = 366


def _span(ctx: WebContext, start: date | None, end: date | None) -> tuple[date, date]:
    """The work dates asked: ``end`` defaults to today in the company's zone (``Settings.tz``),
    ``start`` to the first of ``end``'s month. ``request.invalid`` when ``end`` is before
    ``start``, the span is longer than :data:`MAX_SPAN_DAYS`, or a day has no UTC time (year 1
    or 9999)."""
    end = end or ctx.today()
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
    start_date: Annotated[date | None, Query(description="first work date")] = None,
    end_date: Annotated[date | None, Query(description="last work date")] = None,
    userid: Annotated[str | None, Query(max_length=64)] = None,
    dept_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    time_result: Annotated[str | None, Query(max_length=32, description="Normal, Late, …")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
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
    start_date: Annotated[date | None, Query(description="first work date")] = None,
    end_date: Annotated[date | None, Query(description="last work date")] = None,
    userid: Annotated[str | None, Query(max_length=64)] = None,
    dept_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
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
