"""``/api/approvals``: approval instances (审批) filtered by the rules — the originator,
approvers and cc'd people, the main administrator, sub-administrators for their scope."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dingsync.store import repo_approvals
from dingsync.web import rules
from dingsync.web.data import day_bounds, dept_filter, jsonable, owner_record, visible
from dingsync.web.deps import Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.models import TYPED, ApprovalDetail, ApprovalSummary, Page

router = APIRouter(prefix="/api/approvals", tags=["approvals"], responses=responses(*COMMON_ERRORS))

_SESSION_ERRORS = SESSION_ERRORS


@router.get(
    "",
    summary="Approvals visible to the caller",
    responses=responses(*_SESSION_ERRORS, "request.invalid"),
    response_model=Page[ApprovalSummary],
    **TYPED,
)
def list_approvals(
    ctx: Ctx,
    caller: CurrentCaller,
    process_code: Annotated[
        str | None, Query(max_length=64, description="template's process code")
    ] = None,
    template: Annotated[
        str | None,
        Query(
            max_length=255,
            description="template by process code or name (as the export's filter); an "
            "unknown one lists nothing",
        ),
    ] = None,
    status: Annotated[str | None, Query(max_length=32, description="RUNNING, COMPLETED, …")] = None,
    start_date: Annotated[date | None, Query(description="created on or after")] = None,
    end_date: Annotated[date | None, Query(description="created on or before")] = None,
    originator: Annotated[str | None, Query(max_length=64)] = None,
    dept_id: Annotated[int | None, Query(ge=1, le=2**62, description="originators in")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict[str, Any]:
    """Instances newest first (times in epoch ms); ``total``, ``limit``, ``offset``.
    ``template`` (a process code or a template name) and ``process_code`` must name the same
    template when both are given (422 ``request.invalid`` otherwise)."""
    lo, hi = day_bounds(ctx, start_date, end_date)
    scope = rules.scope(caller.viewer, "approvals", "list")
    with ctx.engine.connect() as conn:
        if template is not None:
            found = repo_approvals.find_template(conn, ctx.corp_id, template)
            if found is None:
                return {"items": [], "total": 0, "limit": limit, "offset": offset}
            if process_code is not None and process_code != found["process_code"]:
                raise WebError(
                    "request.invalid", "process_code and template name different templates"
                )
            process_code = found["process_code"]
        items, total = repo_approvals.list_approvals(
            conn,
            ctx.corp_id,
            visible(scope),
            process_code=process_code,
            status=status,
            start=lo,
            end=hi,
            originator=originator,
            dept_ids=dept_filter(ctx, conn, dept_id),
            limit=min(limit, ctx.options.max_page_size),
            offset=offset,
        )
    return {"items": [jsonable(i) for i in items], "total": total, "limit": limit, "offset": offset}


@router.get(
    "/{instance_id}",
    summary="One approval instance",
    responses=responses(*_SESSION_ERRORS, "not_found"),
    response_model=ApprovalDetail,
    **TYPED,
)
def get_approval(ctx: Ctx, caller: CurrentCaller, instance_id: str) -> dict[str, Any]:
    """One instance with ``form_values``, ``tasks``, ``operation_records`` and ``cc``; 404 when
    unknown or not visible to the caller."""
    with ctx.engine.connect() as conn:
        instance = repo_approvals.get_approval(conn, ctx.corp_id, instance_id)
        if instance is None:
            raise WebError("not_found")
        people = repo_approvals.approval_participants(conn, ctx.corp_id, instance_id)
        record = owner_record(ctx, conn, instance["originator_userid"], people)
    if not rules.can(caller.viewer, "approvals", "read", record):
        raise WebError("not_found")
    out = jsonable(instance)
    for key in ("tasks", "operation_records"):
        out[key] = [jsonable(x) for x in instance[key]]
    return out
