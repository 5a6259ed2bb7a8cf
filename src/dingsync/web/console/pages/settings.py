"""设置 (Settings), administrators: local roles (``hr``, ``admin``), locally disabled accounts,
and the sync (last runs per entity, the settings in force).

Reads and writes go through the admin API's own functions
(:mod:`dingsync.web.routers.admin`: ``GET/PUT/DELETE /api/admin/roles…``,
``GET /api/admin/users/disabled``, ``POST /api/admin/users/{userid}/disable|enable``,
``GET /api/admin/sync``), so the same rules hold: no self-disable, the main administrator
protected, unknown people refused. Every form carries the CSRF token; a refused change comes
back to the page with the API's error code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from dingsync.store import repo_contacts
from dingsync.store.schema import to_ms
from dingsync.web import rules
from dingsync.web.console.render import render
from dingsync.web.console.session import ConsoleSession, CsrfCaller, PageNotFound, page_caller
from dingsync.web.deps import Ctx
from dingsync.web.errors import WebError
from dingsync.web.routers import admin as api_admin
from dingsync.web.routers import directory as api_directory

router = APIRouter(prefix="/console", include_in_schema=False)

ROLE_LABELS = {"hr": "HR（人事）", "admin": "管理员"}
#: What a change did, by the ``done`` query parameter.
DONE = {
    "granted": "已授予角色",
    "revoked": "已撤销角色",
    "disabled": "已停用账号，其会话已失效",
    "enabled": "已启用账号",
}
#: The admin API's refusals, in the page's words.
ERRORS = {
    "admin.self_disable": "不能停用自己的账号。",
    "admin.main_admin_protected": "主管理员的账号受保护，不能在此停用。",
    "not_found": "通讯录中没有这个人（尚未同步？）。",
    "role.unknown": "未知角色。",
    "request.invalid": "请求无效。",
}
SETTING_LABELS = {
    "corp_id": "企业 CorpId",
    "has_credentials": "已配置应用凭证",
    "timezone": "时区",
    "sync_concurrency": "同步并发",
    "qps_per_api": "每个接口 QPS 上限",
    "max_retries": "最大重试次数",
    "contacts_full_compare_hours": "通讯录全量比对间隔（小时，0 = 每次增量）",
    "reports_history_days": "日志回溯天数（全量）",
    "attendance_days": "考勤同步天数",
    "attendance_recent_days": "考勤增量回看天数",
    "approvals_history_days": "审批回溯天数（全量）",
}


@router.get("/settings", response_class=HTMLResponse, name="console_settings")
def settings_page(
    request: Request, ctx: Ctx, session: ConsoleSession = page_caller("settings")
) -> HTMLResponse:
    """Roles, disabled accounts, sync; ``q`` searches people to grant a role or disable."""
    params = request.query_params
    q = (params.get("q") or "").strip()[:64]
    caller = session.caller
    grants = api_admin.roles(ctx, caller)["grants"]
    disabled = api_admin.disabled(ctx, caller)["userids"]
    schedule = api_admin.sync_schedule(ctx, caller)
    found = api_directory.users(ctx, caller, search=q, limit=10)["items"] if q else []
    with ctx.engine.connect() as conn:
        names = repo_contacts.names_of(
            conn,
            ctx.corp_id,
            [g["userid"] for g in grants]
            + [g["granted_by"] for g in grants if g.get("granted_by")]
            + list(disabled),
        )
    roles_of: dict[str, list[str]] = {}
    for g in grants:
        roles_of.setdefault(g["userid"], []).append(g["role"])
        g["granted_ms"] = _iso_ms(g.get("granted_at"))
    return render(
        request,
        session,
        "settings.html",
        active="settings",
        title="设置",
        grants=grants,
        disabled=disabled,
        schedule=schedule,
        names=names,
        q=q,
        found=found,
        roles_of=roles_of,
        role_labels=ROLE_LABELS,
        setting_labels=SETTING_LABELS,
        done=DONE.get(params.get("done", "")),
        error=ERRORS.get(params.get("error", ""), params.get("error")),
        error_code=params.get("error"),
        me=session.userid,
    )


def _iso_ms(value: Any) -> int | None:
    """An ISO 8601 time of the admin API (UTC) as epoch ms (``None`` when unreadable)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return to_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _back(q: str | None, **flag: str) -> RedirectResponse:
    query: dict[str, Any] = {**flag}
    if q:
        query["q"] = q
    return RedirectResponse("/console/settings?" + urlencode(query), status_code=303)


async def _form(request: Request, session: ConsoleSession) -> dict[str, str]:
    if not rules.can_administer(session.viewer):
        raise PageNotFound("settings")
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


@router.post("/settings/roles/{action}", name="console_settings_role")
async def change_role(
    action: str, request: Request, ctx: Ctx, session: CsrfCaller
) -> RedirectResponse:
    """``grant`` or ``revoke`` the form's ``role`` of the form's ``userid``."""
    form = await _form(request, session)
    userid, role = form.get("userid", "")[:64], form.get("role", "")[:32]
    if action not in ("grant", "revoke") or not userid:
        raise WebError("request.invalid", "need grant|revoke and a userid")
    try:
        if action == "grant":
            api_admin.grant(ctx, session.caller, userid, role)
        else:
            api_admin.revoke(ctx, session.caller, userid, role)
    except WebError as exc:
        return _back(form.get("q"), error=exc.code)
    return _back(form.get("q"), done="granted" if action == "grant" else "revoked")


@router.post("/settings/users/{action}", name="console_settings_account")
async def change_account(
    action: str, request: Request, ctx: Ctx, session: CsrfCaller
) -> RedirectResponse:
    """``disable`` or ``enable`` the form's ``userid`` (the admin API's rules)."""
    form = await _form(request, session)
    userid = form.get("userid", "")[:64]
    if action not in ("disable", "enable") or not userid:
        raise WebError("request.invalid", "need disable|enable and a userid")
    try:
        if action == "disable":
            api_admin.disable(ctx, session.caller, userid)
        else:
            api_admin.enable(ctx, session.caller, userid)
    except WebError as exc:
        return _back(form.get("q"), error=exc.code)
    return _back(form.get("q"), done="disabled" if action == "disable" else "enabled")
