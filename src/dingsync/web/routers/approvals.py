"""``/api/approvals``: approval instances (审批) filtered by the rules — the originator,
approvers and cc'd people, the main administrator, sub-administrators for their scope — and
their attachments, fetched from DingTalk on demand, and their statistics
(``/api/approvals/stats``, 审批统计) over the same instances."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from dingsync.dingtalk import DingTalkError
from dingsync.store import repo_approvals
from dingsync.web import rules
from dingsync.web.data import (
    ApprovalResult,
    ApprovalStatus,
    OffsetQuery,
    UserIdQuery,
    day_bounds,
    dept_filter,
    jsonable,
    owner_record,
    visible,
)
from dingsync.web.deps import Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.export_kinds import Day
from dingsync.web.models import TYPED, ApprovalDetail, ApprovalStats, ApprovalSummary, Page

log = logging.getLogger(__name__)

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
    status: Annotated[
        ApprovalStatus | None,
        Query(description="NEW, RUNNING, COMPLETED, TERMINATED (withdrawn) or CANCELED"),
    ] = None,
    start_date: Annotated[Day | None, Query(description="created on or after")] = None,
    end_date: Annotated[Day | None, Query(description="created on or before")] = None,
    originator: UserIdQuery = None,
    dept_id: Annotated[int | None, Query(ge=1, le=2**62, description="originators in")] = None,
    result: Annotated[
        ApprovalResult | None, Query(description="agree or refuse (finished ones)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Instances newest first (times in epoch ms); ``total``, ``limit``, ``offset``.
    ``template`` (a process code or a template name) and ``process_code`` must name the same
    template when both are given (422 ``request.invalid`` otherwise); a ``status`` or ``result``
    outside :data:`ApprovalStatus` / :data:`ApprovalResult` is a 422 ``request.invalid``."""
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
            result=result,
            limit=min(limit, ctx.options.max_page_size),
            offset=offset,
        )
    return {"items": [jsonable(i) for i in items], "total": total, "limit": limit, "offset": offset}


#: The cycle-time histogram's buckets: ``(key, label, min hours, max hours or None)``.
CYCLE_BUCKETS: tuple[tuple[str, str, float, float | None], ...] = (
    ("lt1h", "<1小时", 0, 1),
    ("1to4h", "1–4小时", 1, 4),
    ("4to24h", "4–24小时", 4, 24),
    ("1to3d", "1–3天", 24, 72),
    ("gt3d", ">3天", 72, None),
)


def _rate(agree: int, finished: int) -> float | None:
    return round(agree / finished, 4) if finished else None


@router.get(
    "/stats",
    summary="Approval statistics (审批统计) over what the caller may list",
    responses=responses(*_SESSION_ERRORS, "request.invalid"),
    response_model=ApprovalStats,
    **TYPED,
)
def approval_stats(
    ctx: Ctx,
    caller: CurrentCaller,
    start_date: Annotated[Day | None, Query(description="created on or after")] = None,
    end_date: Annotated[Day | None, Query(description="created on or before")] = None,
    dept_id: Annotated[
        int | None, Query(ge=1, le=2**62, description="originators in this department and below")
    ] = None,
    process_code: Annotated[
        str | None, Query(max_length=64, description="one template's process code")
    ] = None,
) -> dict[str, Any]:
    """Counts over the instances ``GET /api/approvals`` lists to the caller with the same
    filters (created in ``start_date``..``end_date``, days of the company's zone; originators
    in ``dept_id`` and below; template ``process_code``), aggregated in SQL:

    - ``templates``: per template (every stored template when no ``process_code`` is given,
      zeros included; by name) ``instances``, ``running``, ``agree``, ``refuse``, ``finished``
      (agree + refuse) and ``approval_rate`` = agree ÷ finished (``None`` without finished
      ones); ``instances``/``finished``/``agree``/``approval_rate`` totals beside;
    - ``cycle_time``: instances finished with a decision by ``finish_time − create_time``
      in :data:`CYCLE_BUCKETS` (<1 h, 1–4 h, 4–24 h, 1–3 days, >3 days).

    422 ``request.invalid`` when ``end_date`` is before ``start_date``."""
    lo, hi = day_bounds(ctx, start_date, end_date)
    scope = rules.scope(caller.viewer, "approvals", "list")
    with ctx.engine.connect() as conn:
        where = repo_approvals.approval_conditions(
            ctx.corp_id,
            visible(scope),
            process_code=process_code,
            start=lo,
            end=hi,
            dept_ids=dept_filter(ctx, conn, dept_id),
        )
        rows = {r["process_code"]: r for r in repo_approvals.stats_by_template(conn, where)}
        edges = [int(b[2] * 3600) for b in CYCLE_BUCKETS[1:]]
        cycle = repo_approvals.cycle_time_buckets(conn, where, edges)
        names = {
            t["process_code"]: t["name"] for t in repo_approvals.load_templates(conn, ctx.corp_id)
        }
    codes = set(rows) | (set(names) if process_code is None else {process_code} & set(names))
    templates = []
    for code in codes:
        r = rows.get(code) or dict.fromkeys(
            ("instances", "running", "agree", "refuse", "finished"), 0
        )
        templates.append(
            {
                "process_code": code,
                "name": names.get(code) or code,
                **{k: r[k] for k in ("instances", "running", "agree", "refuse", "finished")},
                "approval_rate": _rate(r["agree"], r["finished"]),
            }
        )
    templates.sort(key=lambda t: (t["name"], t["process_code"]))
    agree = sum(t["agree"] for t in templates)
    finished = sum(t["finished"] for t in templates)
    return {
        "start_date": start_date.isoformat() if start_date else None,
        "end_date": end_date.isoformat() if end_date else None,
        "dept_id": dept_id,
        "process_code": process_code,
        "instances": sum(t["instances"] for t in templates),
        "finished": finished,
        "agree": agree,
        "approval_rate": _rate(agree, finished),
        "templates": templates,
        "cycle_time": [
            {"key": key, "label": label, "min_hours": lo_h, "max_hours": hi_h, "count": n}
            for (key, label, lo_h, hi_h), n in zip(CYCLE_BUCKETS, cycle, strict=True)
        ],
    }


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
    out["attachments"] = [
        {**a, "download": f"/api/approvals/{quote(instance_id)}/attachments/{quote(a['file_id'])}"}
        for a in instance["attachments"]
    ]
    return out


def _readable(ctx: Ctx, caller: CurrentCaller, instance_id: str) -> dict[str, Any] | None:
    """The instance's row when it exists and the rules let the caller read it (the same check
    as ``GET /api/approvals/{id}``), else ``None``."""
    with ctx.engine.connect() as conn:
        instance = repo_approvals.get_approval(conn, ctx.corp_id, instance_id)
        if instance is None:
            return None
        people = repo_approvals.approval_participants(conn, ctx.corp_id, instance_id)
        record = owner_record(ctx, conn, instance["originator_userid"], people)
    return instance if rules.can(caller.viewer, "approvals", "read", record) else None


def _file_name(attachment: dict[str, Any]) -> str:
    """The name to save the file under: DingTalk's ``fileName``, with ``.fileType`` added when
    the name lacks it (DingTalk's own link names client uploads ``#….file``)."""
    name = str(attachment["file_name"] or attachment["file_id"])
    kind = attachment["file_type"]
    if kind and not name.lower().endswith("." + str(kind).lower()):
        name = f"{name}.{kind}"
    return name


@router.get(
    "/{instance_id}/attachments/{file_id}",
    summary="Download one attachment of an approval instance",
    responses={
        200: {
            "description": "the file's bytes",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        **responses(
            *_SESSION_ERRORS, "not_found", "attachment.unavailable", "attachment.too_large"
        ),
    },
    response_class=StreamingResponse,
)
async def download_attachment(
    ctx: Ctx, caller: CurrentCaller, instance_id: str, file_id: str
) -> StreamingResponse:
    """The file ``file_id`` of instance ``instance_id``, streamed from DingTalk to the caller
    (its download link never leaves the service). Who: whoever may read the instance —
    originator, approvers, cc'd people, administrators in scope (404 ``not_found`` for anyone
    else, as for an unknown instance or a file the stored instance does not list).

    How (DingTalk's recipe, ``docs/approvals.md`` "Attachments"): a form file is first granted
    to the caller (``POST /v1.0/workflow/processInstances/spaces/files/authDownload``; a refused
    grant is logged, the link request decides), then ``POST /v1.0/workflow/processInstances/
    spaces/files/urls/download`` (``withCommentAttatchment`` for a comment's file) gives a link
    valid 15 minutes, which is read and passed on. ``Content-Disposition`` names the file
    (UTF-8), ``Content-Type`` from its name. 502 ``attachment.unavailable`` when DingTalk gives
    no link or the link does not answer 200; 413 ``attachment.too_large`` over
    ``DINGSYNC_WEB_MAX_ATTACHMENT_BYTES`` (announced size; a stream that grows past it is cut)."""
    instance = _readable(ctx, caller, instance_id)
    if instance is None:
        raise WebError("not_found")
    with ctx.engine.connect() as conn:
        attachment = repo_approvals.find_attachment(conn, ctx.corp_id, instance_id, file_id)
    if attachment is None:
        raise WebError("not_found")
    client = ctx.client
    comment = attachment["source"] == "comment"
    if not comment and attachment["space_id"]:
        try:
            await client.approvals.authorize_download(
                caller.userid, [(file_id, attachment["space_id"])]
            )
        except DingTalkError as exc:
            log.warning("attachment grant refused for %s: %s", instance_id, exc)
    try:
        link = await client.approvals.get_download_url(
            instance_id, file_id, with_comment_attachment=comment
        )
    except DingTalkError as exc:
        log.warning("no attachment link for %s: %s", instance_id, exc)
        raise WebError("attachment.unavailable") from None
    if not link.download_uri:
        raise WebError("attachment.unavailable")
    cap = ctx.options.max_attachment_bytes
    stack = AsyncExitStack()
    try:
        upstream = await stack.enter_async_context(client.stream_get(link.download_uri))
        if upstream.status_code != 200:
            log.warning("attachment link of %s answered %s", instance_id, upstream.status_code)
            raise WebError("attachment.unavailable")
        length = upstream.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            raise WebError("attachment.too_large")
    except BaseException:
        await stack.aclose()
        raise

    async def body() -> AsyncIterator[bytes]:
        sent = 0
        try:
            async for chunk in upstream.aiter_bytes():
                sent += len(chunk)
                if sent > cap:  # grew past the cap without announcing it: cut, never buffer
                    log.warning("attachment of %s cut at %d bytes", instance_id, cap)
                    break
                yield chunk
        finally:
            await stack.aclose()

    name = _file_name(attachment)
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if length is not None and length.isdigit():
        headers["Content-Length"] = length
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(body(), media_type=media, headers=headers)
