"""``/api/reports``: reports (日志) filtered by the rules — the creator, the receivers, the main
administrator, sub-administrators for people in their scope."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dingsync.store import repo_reports
from dingsync.web import rules
from dingsync.web.data import day_bounds, dept_filter, jsonable, owner_record, visible
from dingsync.web.deps import Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.models import TYPED, Page, ReportDetail, ReportSummary

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
    start_date: Annotated[date | None, Query(description="created on or after")] = None,
    end_date: Annotated[date | None, Query(description="created on or before")] = None,
    creator: Annotated[str | None, Query(max_length=64, description="creator userid")] = None,
    dept_id: Annotated[int | None, Query(ge=1, le=2**62, description="creators in")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
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


@router.get(
    "/{report_id}",
    summary="One report",
    responses=responses(*_SESSION_ERRORS, "not_found"),
    response_model=ReportDetail,
    **TYPED,
)
def get_report(ctx: Ctx, caller: CurrentCaller, report_id: str) -> dict[str, Any]:
    """One report with its ``contents`` (template fields in order), ``receivers`` and
    ``comments``; 404 when unknown or not visible to the caller."""
    with ctx.engine.connect() as conn:
        report = repo_reports.get_report(conn, ctx.corp_id, report_id)
        if report is None:
            raise WebError("not_found")
        record = owner_record(ctx, conn, report["creator_id"], set(report["receivers"]))
    if not rules.can(caller.viewer, "reports", "read", record):
        raise WebError("not_found")
    out = jsonable(report)
    out["comments"] = [jsonable(c) for c in report["comments"]]
    return out
