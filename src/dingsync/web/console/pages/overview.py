"""概览 (Overview): the state of the sync and of the data, for administrators and ``hr``.

- ``GET /console/overview`` — the latest sync runs (running with progress and ETA, refreshed
  by htmx polling every 3 s while a run is going; done; partial with the skipped and
  quarantined units and why; failed with the reason and what to do), the rows the viewer may
  see per area and the event inbox's health. All of it is
  :func:`dingsync.web.routers.admin.overview` — the function ``GET /api/admin/overview``
  answers with.
- ``POST /console/overview/sync`` (administrators, CSRF) — 立即同步:
  :func:`dingsync.web.routers.admin.start_sync`, the function of ``POST /api/admin/sync``;
  then back to the page, which shows the run.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from dingsync.web import rules
from dingsync.web.console.render import render
from dingsync.web.console.session import ConsoleSession, CsrfCaller, PageNotFound, page_caller
from dingsync.web.deps import Ctx
from dingsync.web.routers import admin as api_admin

router = APIRouter(prefix="/console", include_in_schema=False)

#: Labels of the run states and the tag class of each.
STATES = {
    "running": ("同步中", ""),
    "queued": ("排队中", ""),
    "done": ("已完成", "ok"),
    "partial": ("部分完成", "warn"),
    "failed": ("失败", "bad"),
    "interrupted": ("已中断", "warn"),
}
ENTITY_LABELS = {
    "contacts": "通讯录",
    "reports": "日志",
    "attendance": "考勤",
    "approvals": "审批",
    "events": "事件",
}
KIND_LABELS = {"full": "全量", "incremental": "增量"}
#: The run counts a done run shows, with their labels.
COUNT_LABELS = {
    "departments": "部门",
    "memberships": "任职",
    "reports": "日志",
    "attendance_results": "考勤结果",
    "attendance_records": "打卡",
    "approval_instances": "审批",
    "leavers": "离职",
}
MESSAGES = {
    "started": ("已开始同步。", "ok"),
    "running": ("同步正在进行中，请等待它结束。", "warn"),
}


@router.get("/overview", response_class=HTMLResponse, name="console_overview")
def overview_page(
    request: Request, ctx: Ctx, session: ConsoleSession = page_caller("overview")
) -> HTMLResponse:
    """The page (also its own htmx polling target: ``#live``)."""
    data = api_admin.overview(ctx, session.caller)
    message = MESSAGES.get(request.query_params.get("sync", ""))
    return render(
        request,
        session,
        "overview.html",
        active="overview",
        title="概览",
        data=data,
        states=STATES,
        entity_labels=ENTITY_LABELS,
        kind_labels=KIND_LABELS,
        count_labels=COUNT_LABELS,
        message=message,
        sync_param=request.query_params.get("sync", "") if message else "",
        may_sync=rules.can_administer(session.viewer),
    )


@router.post("/overview/sync", name="console_sync_now")
async def sync_now(request: Request, ctx: Ctx, session: CsrfCaller) -> RedirectResponse:
    """立即同步 (administrators): start an incremental run, or say one is going."""
    if not rules.can_administer(session.viewer):
        raise PageNotFound("overview/sync")
    answer = await api_admin.start_sync(ctx, session.caller)
    flag = "started" if answer["started"] else "running"
    return RedirectResponse(f"/console/overview?sync={flag}", status_code=303)
