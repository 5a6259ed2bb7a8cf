"""导出记录 (Export audit), administrators: every export — who (with their name), when, what
kind, filters, rows, SHA-256, format, client (``web``/``cli``/``console``) — paged in SQL by
``GET /api/exports/audit``'s function, and the audit's hash chain as ``GET
/api/exports/audit/verify`` (what ``dingsync audit verify`` checks) reports it: 链完整, or 链断裂
at the first broken row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dingsync.web.console import params
from dingsync.web.console.pages.approvals import RESULT_LABELS, STATUS_LABELS, user_names
from dingsync.web.console.render import render
from dingsync.web.console.session import ConsoleSession, page_caller
from dingsync.web.deps import Ctx
from dingsync.web.routers import exports as api_exports

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 20
KIND_LABELS = {
    "users": "通讯录",
    "reports": "日志",
    "compliance": "日志统计",
    "report_stats": "日志统计",
    "attendance": "考勤",
    "attendance_results": "考勤结果",
    "attendance_records": "打卡记录",
    "approvals": "审批",
}
CLIENT_LABELS = {"web": "API", "cli": "命令行", "console": "控制台"}
#: An export's filters in the words of the console's filter forms, in this order.
FILTER_LABELS = {
    "template": "模板",
    "process_code": "模板编码",
    "month": "月份",
    "start_date": "开始日期",
    "end_date": "结束日期",
    "dept_id": "部门",
    "recursive": "含子部门",
    "include_inactive": "含离职人员",
    "creator": "提交人",
    "originator": "发起人",
    "userid": "人员",
    "status": "审批状态",
    "result": "审批结果",
    "details": "明细",
    "files": "文件",
}
#: The approvals export's ``details`` layouts.
DETAILS_LABELS = {"sheet": "单独工作表", "rows": "逐行展开"}
#: The parts of an export's scope (``dingsync.web.login.describe``), in Chinese.
SCOPE_LABELS = {
    "all": "全部",
    "none": "无",
    "own": "本人",
    "participant": "参与",
    "departments": "管辖部门",
    "groups": "负责的考勤组",
}


def scope_label(scope: Any) -> str:
    """An audit row's ``scope`` (``"all"``, ``"none"`` or a list of parts) in Chinese:
    ``全部``, or the parts joined by ``、`` (``本人、参与、管辖部门``); unknown parts as given,
    ``""`` for none recorded."""
    if scope is None or scope == "" or scope == []:
        return ""
    parts = scope if isinstance(scope, list) else [scope]
    return "、".join(SCOPE_LABELS.get(str(p), str(p)) for p in parts)


#: The audit's own keys beside the filters (shown apart or not at all).
_NOT_FILTERS = ("scope", "requested", "applied")


def filter_tags(
    filters: Any, dept_name: Callable[[int], str], person_name: Callable[[str], str]
) -> list[tuple[str, str]]:
    """``(label, value)`` of an audit row's filters as the console words them: the filters
    applied (a web or console export: defaults filled in) or as given (a CLI export, whose
    ``requested`` is all it has), keys by :data:`FILTER_LABELS`, departments and people by
    name, yes/no, statuses and layouts in Chinese, a CLI export's files by name; a
    ``process_code`` beside a template's name is left out (the same template). Keys not known
    here show as ``key=value``."""
    f: Mapping[str, Any] = filters if isinstance(filters, Mapping) else {}
    shown = f.get("applied")
    if not isinstance(shown, Mapping):
        given = f.get("requested")
        shown = {**(given if isinstance(given, Mapping) else {}), **f}
    items = {k: v for k, v in shown.items() if v is not None and k not in _NOT_FILTERS}
    if "template" in items:
        items.pop("process_code", None)
    order = list(FILTER_LABELS)
    out: list[tuple[str, str]] = []
    for key in sorted(items, key=lambda k: (order.index(k) if k in order else len(order), k)):
        out.append((FILTER_LABELS.get(key, key), _value(key, items[key], dept_name, person_name)))
    return out


def _value(
    key: str, value: Any, dept_name: Callable[[int], str], person_name: Callable[[str], str]
) -> str:
    many = value if isinstance(value, list) else [value]
    if isinstance(value, bool):
        return "是" if value else "否"
    if key == "dept_id":
        return "、".join(dept_name(int(d)) if isinstance(d, int) else str(d) for d in many)
    if key in ("creator", "originator", "userid"):
        return "、".join(person_name(str(u)) for u in many)
    if key == "status":
        return STATUS_LABELS.get(str(value), str(value))
    if key == "result":
        return RESULT_LABELS.get(str(value), str(value))
    if key == "details":
        return DETAILS_LABELS.get(str(value), str(value))
    if key == "files":
        return "、".join(str(x.get("name")) if isinstance(x, Mapping) else str(x) for x in many)
    return "、".join(str(v) for v in many)


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
    with ctx.engine.connect() as conn:
        tree = ctx.tree(conn)
        people = {
            str(u)
            for e in data["items"]
            if isinstance(e.get("filters"), Mapping)
            for block in (e["filters"], e["filters"].get("requested"), e["filters"].get("applied"))
            if isinstance(block, Mapping)
            for k in ("creator", "originator", "userid")
            if block.get(k) is not None
            for u in (block[k] if isinstance(block[k], list) else [block[k]])
        }
        names = user_names(conn, ctx.corp_id, people)

    def dept_name(dept_id: int) -> str:
        node = tree.nodes.get(dept_id)
        return (node["name"] or str(dept_id)) if node else str(dept_id)

    tags = {
        e["id"]: filter_tags(e.get("filters"), dept_name, lambda u: names.get(u, u))
        for e in data["items"]
    }
    scopes = {
        e["id"]: scope_label(e["filters"].get("scope"))
        for e in data["items"]
        if isinstance(e.get("filters"), Mapping)
    }

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
        tags=tags,
        scopes=scopes,
        problems=problems,
    )
