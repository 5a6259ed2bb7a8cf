"""导出记录 (Export audit), administrators: every export — who (with their name), when, what
kind, filters, rows, SHA-256, format, client (``web``/``cli``/``console``) — paged in SQL by
``GET /api/exports/audit``'s function, and the audit's hash chain as ``GET
/api/exports/audit/verify`` (what ``dingsync audit verify`` checks) reports it: 链完整, or 链断裂
at the first broken row."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dingsync.web.console import params
from dingsync.web.console.render import render
from dingsync.web.console.session import ConsoleSession, page_caller
from dingsync.web.deps import Ctx
from dingsync.web.routers import exports as api_exports

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 20
KIND_LABELS = {
    "users": "通讯录",
    "reports": "日志",
    "report_stats": "日志统计",
    "attendance": "考勤",
    "attendance_results": "考勤结果",
    "attendance_records": "打卡记录",
    "approvals": "审批",
}
CLIENT_LABELS = {"web": "API", "cli": "命令行", "console": "控制台"}


@router.get("/exports", response_class=HTMLResponse, name="console_exports")
def exports_page(
    request: Request, ctx: Ctx, session: ConsoleSession = page_caller("exports")
) -> HTMLResponse:
    """One page of the audit (``page``), newest first, and the chain's state."""
    problems: list[str] = []
    data, page = params.clamped_page(
        lambda offset: api_exports.audit(ctx, session.caller, limit=PAGE_SIZE, offset=offset),
        params.page_number(problems, request.query_params.get("page")),
        PAGE_SIZE,
    )
    chain = api_exports.audit_verify(ctx, session.caller)
    pages = params.last_page(data["total"], PAGE_SIZE)

    def link(**change: Any) -> str:
        return f"/console/exports?page={change.get('page', page)}"

    return render(
        request,
        session,
        "exports.html",
        active="exports",
        title="导出记录",
        data=data,
        chain=chain,
        page=page,
        pages=pages,
        link=link,
        kind_labels=KIND_LABELS,
        client_labels=CLIENT_LABELS,
        problems=problems,
    )
