"""``/api/reports``: reports (日志) filtered by the rules — the creator, the receivers, the main
administrator, sub-administrators for people in their scope — and ``/api/reports/stats``
(日志统计), the submission compliance of the people whose reports the caller may see."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Connection

from dingsync.export import report_rules
from dingsync.store import repo_reports
from dingsync.web import rules
from dingsync.web.context import WebContext
from dingsync.web.data import OffsetQuery, day_bounds, dept_filter, jsonable, owner_record, visible
from dingsync.web.deps import Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.export_kinds import Day
from dingsync.web.models import TYPED, Page, ReportDetail, ReportStats, ReportSummary

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=responses(*COMMON_ERRORS))

_SESSION_ERRORS = SESSION_ERRORS


@router.get(
    "",
    summary="Reports visible to the caller",
    responses=responses(*_SESSION_ERRORS),
    response_model=Page[ReportSummary],
    **TYPED,
)
def list_reports(
    ctx: Ctx,
    caller: CurrentCaller,
    template: Annotated[str | None, Query(max_length=255, description="template name")] = None,
    start_date: Annotated[Day | None, Query(description="created on or after")] = None,
    end_date: Annotated[Day | None, Query(description="created on or before")] = None,
    creator: Annotated[str | None, Query(max_length=64, description="creator userid")] = None,
    dept_id: Annotated[int | None, Query(ge=1, le=2**62, description="creators in")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Reports newest first: ``report_id, template_name, creator_id, creator_name, dept_name,
    create_time, modified_time`` (epoch ms); ``total``, ``limit``, ``offset``."""
    lo, hi = day_bounds(ctx, start_date, end_date)
    scope = rules.scope(caller.viewer, "reports", "list")
    with ctx.engine.connect() as conn:
        items, total = repo_reports.list_reports(
            conn,
            ctx.corp_id,
            visible(scope),
            template=template,
            start=lo,
            end=hi,
            creator=creator,
            dept_ids=dept_filter(ctx, conn, dept_id),
            limit=min(limit, ctx.options.max_page_size),
            offset=offset,
        )
    return {"items": [jsonable(i) for i in items], "total": total, "limit": limit, "offset": offset}


#: The longest range ``/api/reports/stats`` answers for (days, both ends included).
STATS_MAX_DAYS = report_rules.MAX_DAYS
#: Its default range: the 28 days before today.
STATS_DEFAULT_DAYS = 28


def require_template(ctx: WebContext, conn: Connection, template: str) -> None:
    """Raise ``request.invalid`` (422) naming the company's synced templates when ``template``
    is not one of them (日志统计 and the report exports: an unknown name is a mistake, not an
    empty result)."""
    known = repo_reports.template_names(conn, ctx.corp_id)
    if template not in known:
        raise WebError(
            "request.invalid",
            f"no report template {template!r}; known: {', '.join(known) or 'none synced'}",
        )


def stats_range(
    ctx: WebContext, conn: Connection, template: str, start_date: date | None, end_date: date | None
) -> tuple[date, date]:
    """日志统计's days for ``template``: ``end_date`` (default yesterday in the company's zone)
    and ``start_date`` (default :data:`STATS_DEFAULT_DAYS` days up to ``end_date``, but not
    before the day of the first synced report of the template: days before the synced history
    would all count as missing). Raises ``request.invalid`` for an unknown template, an end
    before the start, a range over :data:`STATS_MAX_DAYS` days or days out of range."""
    require_template(ctx, conn, template)
    try:
        end = end_date or ctx.today() - timedelta(days=1)
        start = start_date
        if start is None:
            start = end - timedelta(days=STATS_DEFAULT_DAYS - 1)
            first = report_rules.first_period_day(conn, ctx.corp_id, template, ctx.settings.tz)
            if first is not None and start < first <= end:
                start = first
        if end < start:
            raise WebError("request.invalid", "end_date is before start_date")
        if (end - start).days >= STATS_MAX_DAYS:
            raise WebError("request.invalid", f"the range is longer than {STATS_MAX_DAYS} days")
        # The compliance rule reads reports up to a week around the range.
        day_bounds(ctx, start - timedelta(days=7), end + timedelta(days=8))
    except OverflowError as exc:
        raise WebError("request.invalid", "start_date/end_date out of range") from exc
    return start, end


def _rates(expected: int, submitted: int, late: int) -> dict[str, float]:
    """``rate`` and ``on_time_rate`` (4 decimals, as the compliance workbook writes them)."""
    if not expected:
        return {"rate": 0.0, "on_time_rate": 0.0}
    return {
        "rate": round((submitted + late) / expected, 4),
        "on_time_rate": round(submitted / expected, 4),
    }


def _counts(submitted: int, late: int, missing: int) -> dict[str, Any]:
    expected = submitted + late + missing
    return {
        "expected": expected,
        "submitted": submitted,
        "late": late,
        "missing": missing,
        **_rates(expected, submitted, late),
    }


@router.get(
    "/stats",
    summary="日志统计: who submitted a template on each working day",
    responses=responses(*_SESSION_ERRORS),
    response_model=ReportStats,
    **TYPED,
)
def report_stats(
    ctx: Ctx,
    caller: CurrentCaller,
    template: Annotated[str, Query(min_length=1, max_length=255, description="template name")],
    start_date: Annotated[
        Day | None,
        Query(
            description="first day (default the 28 days up to end_date, from the first synced "
            "report of the template on)"
        ),
    ] = None,
    end_date: Annotated[
        Day | None, Query(description="last day, inclusive (default yesterday)")
    ] = None,
    dept_id: Annotated[
        int | None, Query(ge=1, le=2**62, description="people in this department and below")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="people per page")] = 50,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Per person per period ``submitted``/``late``/``missing`` and the totals per
    department, by the rule of ``dingsync reports compliance``
    (:func:`dingsync.export.report_rules.compliance_by_rule`): the template's 统计规则 synced
    from DingTalk (its periods, submit windows and people) where there is one, else the
    default rule (working days from the synced attendance schedule, Monday–Friday where none
    is; weekly templates — names ending in 周报 — per week; a report counts for the date of its
    creation minus 12 h and is late after that day). ``rule`` says which was used.

    Who is counted: the people whose reports the caller may list as a whole — themselves,
    the people in a sub-administrator's departments, everyone for the main administrator
    (the ``reports``/``list`` scope without its "received" part: a sender's missing days
    would be the reports they sent to someone else). Days are calendar days in the company's
    zone (``Settings.tz``); days from today on are not counted. People are ordered by
    department, name, userid; ``limit``/``offset`` page them (``days`` holds the page's
    people only), ``totals`` and ``departments`` cover everyone counted.

    ``first_synced_day``: the day the template's first synced report is counted for (its
    rule period's day, :func:`dingsync.export.report_rules.first_period_day`; ``None``
    without any) — days before it were never synced, so their "missing" says nothing (the
    console warns when the range starts before it).

    Errors: ``request.invalid`` (422) for an unknown template, ``end_date`` before
    ``start_date`` or a range over :data:`STATS_MAX_DAYS` days."""
    today = ctx.today()
    scope = rules.scope(caller.viewer, "reports", "list")
    people = dataclasses.replace(visible(scope), participant=None)
    with ctx.engine.connect() as conn:
        start, end = stats_range(ctx, conn, template, start_date, end_date)
        first_synced = report_rules.first_period_day(conn, ctx.corp_id, template, ctx.settings.tz)
        result = report_rules.compliance_by_rule(
            conn,
            ctx.corp_id,
            template,
            start,
            end,
            dept_id=dept_id,
            today=today,
            tz=ctx.settings.tz,
            people=people,
        )
    ordered = sorted(result.people.items(), key=lambda kv: (kv[1]["dept"], kv[1]["name"], kv[0]))
    page = ordered[offset : offset + limit]
    on_page = {userid for userid, _ in page}
    last_counted = min(end, today - timedelta(days=1))
    totals = [0, 0, 0]
    for p in result.people.values():
        totals[0] += p["submitted"]
        totals[1] += p["late"]
        totals[2] += p["missing"]
    return {
        "template": template,
        "weekly": result.weekly,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "counted_until": last_counted.isoformat() if last_counted >= start else None,
        "first_synced_day": first_synced.isoformat() if first_synced is not None else None,
        "dates": [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)],
        "totals": _counts(*totals),
        "departments": [
            {
                "dept_id": d.dept_id,
                "name": d.name,
                "people": d.people,
                **_counts(d.submitted, d.late, d.missing),
            }
            for d in result.departments
        ],
        "people": [
            {
                "userid": userid,
                "name": p["name"],
                "dept": p["dept"],
                **_counts(p["submitted"], p["late"], p["missing"]),
            }
            for userid, p in page
        ],
        "days": [
            {"userid": d.userid, "day": d.day.isoformat(), "status": d.status}
            for d in result.days_of(on_page)
        ],
        "total": len(ordered),
        "limit": limit,
        "offset": offset,
        "rule": result.rule,
    }


@router.get(
    "/{report_id}",
    summary="One report",
    responses=responses(*_SESSION_ERRORS, "not_found"),
    response_model=ReportDetail,
    **TYPED,
)
def get_report(ctx: Ctx, caller: CurrentCaller, report_id: str) -> dict[str, Any]:
    """One report with its ``contents`` (template fields in order), ``receivers``,
    ``comments`` and ``statistics`` (read/comment/like counts of the synced lists; ``null``
    when the report's lists were not synced — ``DINGSYNC_REPORTS_DETAILS``); 404 when unknown
    or not visible to the caller."""
    with ctx.engine.connect() as conn:
        report = repo_reports.get_report(conn, ctx.corp_id, report_id)
        if report is None:
            raise WebError("not_found")
        record = owner_record(ctx, conn, report["creator_id"], set(report["receivers"]))
        if not rules.can(caller.viewer, "reports", "read", record):
            raise WebError("not_found")
        # counts only where the lists were synced: never a 0 that only means "not read"
        synced = report.get("details_synced_at") is not None
        report["statistics"] = (
            repo_reports.statistics_of(conn, ctx.corp_id, report_id) if synced else None
        )
    out = jsonable(report)
    out["comments"] = [jsonable(c) for c in report["comments"]]
    return out
