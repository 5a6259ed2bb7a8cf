"""``/api/exports``: audited exports (xlsx/csv) and the audit log.

Each export is written for the caller's export scope (the rules), hashed, recorded in the
append-only audit (who, when, kind, filters, rows, SHA-256, size) and then streamed.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.background import BackgroundTask

from dingsync.export import file_digest
from dingsync.store import repo_audit, repo_contacts
from dingsync.store.schema import to_ms
from dingsync.web import rules
from dingsync.web.context import WebContext
from dingsync.web.data import LimitQuery, OffsetQuery
from dingsync.web.deps import AdminCaller, Caller, Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.export_kinds import KINDS, ExportKind
from dingsync.web.login import describe
from dingsync.web.models import TYPED, AuditChain, AuditEntry, ExportKinds, Page, file_response

router = APIRouter(prefix="/api/exports", tags=["exports"], responses=responses(*COMMON_ERRORS))

_SESSION_ERRORS = SESSION_ERRORS
_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class ExportRequest(BaseModel):
    """``kind`` (see ``GET /api/exports/kinds``), its ``filters`` and the file ``format``."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=32, description="users, reports, attendance or approvals")
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "per kind (GET /api/exports/kinds), checked strictly — unknown keys and wrong "
            "types are a 422: users {dept_id, recursive, include_inactive}; reports "
            "{template (required), start_date, end_date, creator, dept_id}; attendance "
            "{month, dept_id}; approvals {template or process_code (one required), status, "
            "start_date, end_date, originator, dept_id}; dates YYYY-MM-DD, month YYYY-MM "
            "(the company's zone), dept_id an integer, booleans true/false"
        ),
    )
    format: Literal["xlsx", "csv"] = "xlsx"


def _filters(kind: ExportKind, raw: dict[str, Any]) -> Any:
    """``raw`` validated by the kind's filter model; 422 ``request.invalid`` naming the
    field(s) otherwise."""
    try:
        return kind.model.model_validate(raw)
    except ValidationError as exc:
        details = [
            {"loc": ["body", "filters", *e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        named = "; ".join(
            f"filters.{'.'.join(str(p) for p in d['loc'][2:]) or '(object)'}: {d['msg']}"
            for d in details
        )
        raise WebError("request.invalid", f"invalid filters: {named}", details=details) from exc


@router.get(
    "/kinds",
    summary="Export kinds",
    responses=responses(*_SESSION_ERRORS),
    response_model=ExportKinds,
    **TYPED,
)
def kinds(caller: CurrentCaller) -> dict[str, Any]:
    """The kinds, their filters, and whether the caller may export each."""
    return {
        "kinds": [
            {
                "kind": k.name,
                "filters": k.filters,
                "allowed": rules.may(caller.viewer, k.data, "export"),
            }
            for k in KINDS.values()
        ]
    }


@router.post(
    "",
    summary="Export a file (audited)",
    response_class=FileResponse,
    responses={
        200: file_response("the file (xlsx or csv, as asked)", _MEDIA["xlsx"], "text/csv"),
        **responses(*_SESSION_ERRORS, "export.kind_unknown", "export.forbidden", "request.invalid"),
    },
)
def create_export(body: ExportRequest, ctx: Ctx, caller: CurrentCaller) -> FileResponse:
    """Write the export for what the caller may export, append the audit row, stream the file.
    Headers: ``X-Export-Audit-Id``, ``X-Export-Rows``, ``X-Export-SHA256``."""
    return export_file(ctx, caller, body.kind, body.filters, body.format, client="web")


def export_file(
    ctx: WebContext,
    caller: Caller,
    kind_name: str,
    raw_filters: dict[str, Any],
    fmt: Literal["xlsx", "csv"],
    *,
    client: str,
) -> FileResponse:
    """The audited export of ``POST /api/exports`` (also the console's): ``kind_name``'s
    writer over the caller's export scope with ``raw_filters`` (checked strictly), the audit
    row (``client``: ``web`` or ``console``), and the file as a streamed response.

    Raises ``export.kind_unknown``, ``export.forbidden``, ``request.invalid`` (also for a
    ``dept_id`` the synced directory does not have: no file, no audit row).
    """
    kind = KINDS.get(kind_name)
    if kind is None:
        raise WebError(
            "export.kind_unknown", f"unknown export kind {kind_name!r}; known: {', '.join(KINDS)}"
        )
    scope = rules.scope(caller.viewer, kind.data, "export")
    if scope.nothing:
        raise WebError("export.forbidden")
    filters = _filters(kind, raw_filters)
    dept = getattr(filters, "dept_id", None)
    if dept is not None:
        with ctx.engine.connect() as conn:
            known = dept in ctx.tree(conn).nodes
        if not known:  # refused, not an empty file under an audit row
            raise WebError(
                "request.invalid", f"unknown department {dept}: not in the synced directory"
            )
    fd, path = tempfile.mkstemp(prefix="dingsync-export-", suffix=f".{fmt}")
    os.close(fd)
    try:
        with ctx.engine.connect() as conn:
            try:
                rows = kind.write(ctx, conn, scope, filters, fmt, path)
            except (TypeError, ValueError, OverflowError) as exc:
                raise WebError("request.invalid", f"invalid filters: {exc}") from exc
        sha, size = file_digest(path)
        with ctx.write() as conn:
            audit_id = repo_audit.append_export_audit(
                conn,
                {
                    "corp_id": ctx.corp_id,
                    "userid": caller.userid,
                    "created_at": ctx.now(),
                    "kind": kind.name,
                    "format": fmt,
                    "filters": {
                        "requested": filters.model_dump(mode="json", exclude_unset=True),
                        "applied": filters.resolved(ctx).model_dump(mode="json", exclude_none=True),
                        "scope": describe(scope),
                    },
                    "row_count": rows,
                    "sha256": sha,
                    "byte_size": size,
                    "client": client,
                },
            )
    except BaseException:
        os.unlink(path)
        raise
    stamp = ctx.local_now().strftime("%Y%m%d-%H%M%S")
    return FileResponse(
        path,
        media_type=_MEDIA[fmt],
        filename=f"{kind.name}-{stamp}.{fmt}",
        headers={
            "X-Export-Audit-Id": str(audit_id),
            "X-Export-Rows": str(rows),
            "X-Export-SHA256": sha,
        },
        background=BackgroundTask(os.unlink, path),
    )


@router.get(
    "/audit",
    summary="The export audit (administrators)",
    responses=responses("session.missing", "session.invalid", "session.expired", "forbidden"),
    response_model=Page[AuditEntry],
    **TYPED,
)
def audit(
    ctx: Ctx,
    caller: AdminCaller,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Audit rows, newest first: ``id, userid, created_at`` (epoch ms), ``kind, format,
    filters, row_count, sha256, byte_size, client``. Read-only: no path changes them."""
    with ctx.engine.connect() as conn:
        rows, total = repo_audit.list_export_audit(conn, ctx.corp_id, limit=limit, offset=offset)
        names = repo_contacts.names_of(conn, ctx.corp_id, [r["userid"] for r in rows])
    items = [
        {
            **{k: v for k, v in r.items() if k not in ("corp_id", "created_at")},
            "created_at": to_ms(r["created_at"]),
            "user_name": names.get(r["userid"]),
        }
        for r in rows
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get(
    "/audit/verify",
    summary="Check the export audit's hash chain (administrators)",
    responses=responses("session.missing", "session.invalid", "session.expired", "forbidden"),
    response_model=AuditChain,
    **TYPED,
)
def audit_verify(ctx: Ctx, caller: AdminCaller) -> dict[str, Any]:
    """What ``dingsync audit verify`` checks: every row links to the one before and matches
    its hash. ``ok``, ``rows`` checked, the first broken row's ``broken_id`` and ``reason``."""
    with ctx.engine.connect() as conn:
        check = repo_audit.verify_export_audit(conn)
    return {
        "ok": check.ok,
        "rows": check.rows,
        "broken_id": check.broken_id,
        "reason": check.reason,
    }
