"""审批 (Approvals): the instances a viewer may see, one instance, and 审批统计.

- ``GET /console/approvals`` — the list of ``GET /api/approvals`` (the router function itself,
  :func:`dingsync.web.routers.approvals.list_approvals`: the same rules, the same SQL, paged in
  SQL) filtered by template (``process_code``), ``status``, ``result``, creation dates,
  originator's department (``dept_id``, sub-departments included) and ``originator``. The filter
  form is a plain GET form that htmx upgrades (the rows swap in place, the URL is pushed). An
  export form (``POST /console/export/approvals``, the API's audited export) is shown to those
  :func:`dingsync.web.rules.may` let export approvals, with the current filters.
- ``GET /console/approvals/stats`` — charts of :func:`dingsync.web.routers.approvals.
  approval_stats` (``GET /api/approvals/stats``): count and approval rate by template, and the
  cycle-time histogram, for a date range, department and template.
- ``GET /console/approvals/{process_instance_id}`` — one instance as
  :func:`dingsync.web.routers.approvals.get_approval` answers it (404 when the viewer may not
  see it — the API's check), with its form in the template's order (detail tables as tables,
  cells matched by component id then label as the export does), the task list and the
  operation records (remarks, attachment names).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import Connection, select

from dingsync.store import repo_approvals
from dingsync.store.schema import users
from dingsync.web import rules
from dingsync.web.console import params
from dingsync.web.console.render import render
from dingsync.web.console.session import ConsoleSession, page_caller
from dingsync.web.context import WebContext
from dingsync.web.deps import Ctx
from dingsync.web.routers import approvals as api_approvals

router = APIRouter(prefix="/console", include_in_schema=False)

#: Rows per page of the list.
PAGE_SIZE = 20
#: DingTalk's instance statuses in its console's words.
STATUS_LABELS = {
    "NEW": "新创建",
    "RUNNING": "审批中",
    "COMPLETED": "已完成",
    "TERMINATED": "已撤销",
    "CANCELED": "已取消",
}
#: Results of a finished instance.
RESULT_LABELS = {"agree": "已同意", "refuse": "已拒绝"}
#: Task states (``task_status``/``task_result``).
TASK_LABELS = {
    "RUNNING": "审批中",
    "NEW": "未启动",
    "COMPLETED": "已完成",
    "PAUSED": "暂停",
    "CANCELED": "已取消",
    "TERMINATED": "已终止",
    "AGREE": "已同意",
    "REFUSE": "已拒绝",
    "REDIRECTED": "已转交",
}
#: Operation records' ``operation_type`` in DingTalk's words.
OPERATION_LABELS = {
    "START_PROCESS_INSTANCE": "发起审批",
    "EXECUTE_TASK_NORMAL": "审批",
    "EXECUTE_TASK_AGENT": "代理审批",
    "APPEND_TASK_BEFORE": "前加签",
    "APPEND_TASK_AFTER": "后加签",
    "REDIRECT_TASK": "转交",
    "FINISH_PROCESS_INSTANCE": "审批结束",
    "TERMINATE_PROCESS_INSTANCE": "撤销",
    "ADD_REMARK": "评论",
    "REDIRECT_PROCESS": "退回",
    "PROCESS_CC": "抄送",
}
OPERATION_RESULTS = {"AGREE": "同意", "REFUSE": "拒绝", "NONE": ""}


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------
def user_names(conn: Connection, corp_id: str, ids: set[str]) -> dict[str, str]:
    """``{userid: name}`` of the stored people among ``ids`` (one query)."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = conn.execute(
        select(users.c.userid, users.c.name).where(
            users.c.corp_id == corp_id, users.c.userid.in_(sorted(ids))
        )
    )
    return {r[0]: r[1] for r in rows if r[1]}


def dept_options(ctx: WebContext, conn: Connection) -> list[tuple[int, str]]:
    """``(dept_id, indented name)`` of every active department, depth first in DingTalk's
    order (the root first)."""
    tree = ctx.tree(conn)
    roots = [d for d, n in tree.nodes.items() if n["parent_id"] not in tree.nodes]
    out: list[tuple[int, str]] = []
    stack = [(d, 0) for d in sorted(roots, reverse=True)]
    while stack:
        dept, depth = stack.pop()
        out.append((dept, "\u3000" * depth + (tree.nodes[dept]["name"] or str(dept))))
        stack.extend((c, depth + 1) for c in reversed(tree.children.get(dept, [])))
    return out


def _templates(conn: Connection, corp_id: str) -> list[dict[str, Any]]:
    return [
        {"process_code": t["process_code"], "name": t["name"] or t["process_code"]}
        for t in repo_approvals.load_templates(conn, corp_id)
    ]


# --------------------------------------------------------------------------------------------
# 审批列表
# --------------------------------------------------------------------------------------------
@router.get("/approvals", response_class=HTMLResponse, name="console_approvals")
def approvals_page(
    request: Request,
    ctx: Ctx,
    session: ConsoleSession = page_caller("approvals"),
    process_code: str | None = None,
    status: str | None = None,
    result: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    dept_id: str | None = None,
    originator: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    """The instances ``GET /api/approvals`` lists to the viewer with these filters, newest
    first, :data:`PAGE_SIZE` a page (``page`` from 1)."""
    problems: list[str] = []
    filters: dict[str, Any] = {
        "process_code": params.text(process_code),
        "status": params.collect(
            problems, lambda: params.choice("审批状态", status, STATUS_LABELS)
        ),
        "result": params.collect(
            problems, lambda: params.choice("审批结果", result, RESULT_LABELS)
        ),
        "start_date": params.collect(problems, lambda: params.day("开始日期", start_date)),
        "end_date": params.collect(problems, lambda: params.day("结束日期", end_date)),
        "dept_id": params.collect(problems, lambda: params.integer("发起人部门", dept_id)),
        "originator": params.text(originator),
    }
    answer, number = params.clamped_page(
        lambda offset: params.attempt(
            problems,
            lambda: api_approvals.list_approvals(
                ctx, session.caller, limit=PAGE_SIZE, offset=offset, **filters
            ),
            params.empty_page(),
        ),
        params.page_number(problems, page),
        PAGE_SIZE,
    )
    items = answer["items"]
    with ctx.engine.connect() as conn:
        names = user_names(conn, ctx.corp_id, {i["originator_userid"] for i in items})
        templates = _templates(conn, ctx.corp_id)
        depts = dept_options(ctx, conn)
        if filters["originator"]:
            names.update(user_names(conn, ctx.corp_id, {filters["originator"]}))
    template_names = {t["process_code"]: t["name"] for t in templates}
    query = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in filters.items()}
    query = {k: v for k, v in query.items() if v is not None}
    total = answer["total"]
    pages = params.last_page(total, PAGE_SIZE)

    def page_url(n: int) -> str:
        return "/console/approvals?" + urlencode({**query, "page": n})

    return render(
        request,
        session,
        "approvals.html",
        active="approvals",
        title="审批",
        tab="list",
        items=items,
        total=total,
        page=number,
        pages=pages,
        page_url=page_url,
        filters=query,
        names=names,
        templates=templates,
        template_names=template_names,
        depts=depts,
        statuses=STATUS_LABELS,
        results=RESULT_LABELS,
        may_export=rules.may(session.viewer, "approvals", "export"),
        problems=problems,
        stats_url="/console/approvals/stats?"
        + urlencode({k: v for k, v in query.items() if k in STATS_FILTERS}),
    )


# --------------------------------------------------------------------------------------------
# 审批统计
# --------------------------------------------------------------------------------------------
STATS_FILTERS = ("start_date", "end_date", "dept_id", "process_code")
_BLUE, _GREEN, _ORANGE = "#1677ff", "#34c724", "#ff8800"


def stats_charts(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ECharts options of the statistics page from ``GET /api/approvals/stats``'s answer:
    ``by_template`` (bars: instances; line: approval rate in %, right axis) and ``cycle``
    (histogram of cycle time). Series data are the API's numbers as they are (the rate's line
    is the API's ``approval_rate`` × 100, ``None`` where nothing finished)."""
    names = [t["name"] for t in stats["templates"]]
    by_template = {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["发起数", "已完成", "通过率"], "bottom": 0},
        "grid": {"left": 48, "right": 56, "top": 36, "bottom": 60},
        "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0}},
        "yAxis": [
            {"type": "value", "name": "单数", "minInterval": 1},
            {
                "type": "value",
                "name": "通过率",
                "min": 0,
                "max": 100,
                "axisLabel": {"formatter": "{value}%"},
            },
        ],
        "series": [
            {
                "name": "发起数",
                "type": "bar",
                "barMaxWidth": 36,
                "itemStyle": {"color": _BLUE},
                "data": [t["instances"] for t in stats["templates"]],
            },
            {
                "name": "已完成",
                "type": "bar",
                "barMaxWidth": 36,
                "itemStyle": {"color": "#9fc3ff"},
                "data": [t["finished"] for t in stats["templates"]],
            },
            {
                "name": "通过率",
                "type": "line",
                "yAxisIndex": 1,
                "itemStyle": {"color": _GREEN},
                "connectNulls": True,
                "data": [
                    None if t["approval_rate"] is None else round(t["approval_rate"] * 100, 2)
                    for t in stats["templates"]
                ],
            },
        ],
    }
    cycle = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 48, "right": 24, "top": 24, "bottom": 32},
        "xAxis": {
            "type": "category",
            "data": [b["label"] for b in stats["cycle_time"]],
            "axisLabel": {"interval": 0, "fontSize": 11},
        },
        "yAxis": {"type": "value", "name": "单数", "minInterval": 1},
        "series": [
            {
                "name": "审批耗时",
                "type": "bar",
                "barMaxWidth": 48,
                "itemStyle": {"color": _ORANGE},
                "label": {"show": True, "position": "top"},
                "data": [b["count"] for b in stats["cycle_time"]],
            }
        ],
    }
    return {"by_template": by_template, "cycle": cycle}


def empty_stats() -> dict[str, Any]:
    """``GET /api/approvals/stats``'s answer with nothing counted (the page of a refused
    filter, e.g. an end before the start)."""
    return {
        "start_date": None,
        "end_date": None,
        "dept_id": None,
        "process_code": None,
        "instances": 0,
        "finished": 0,
        "agree": 0,
        "approval_rate": None,
        "templates": [],
        "cycle_time": [
            {"key": key, "label": label, "min_hours": lo, "max_hours": hi, "count": 0}
            for key, label, lo, hi in api_approvals.CYCLE_BUCKETS
        ],
    }


@router.get("/approvals/stats", response_class=HTMLResponse, name="console_approval_stats")
def approval_stats_page(
    request: Request,
    ctx: Ctx,
    session: ConsoleSession = page_caller("approvals"),
    start_date: str | None = None,
    end_date: str | None = None,
    dept_id: str | None = None,
    process_code: str | None = None,
) -> HTMLResponse:
    """审批统计: the numbers of ``GET /api/approvals/stats`` for the viewer and these filters
    (the router function itself), as charts and a table. Without dates: the last 30 days."""
    problems: list[str] = []
    start = params.collect(problems, lambda: params.day("开始日期", start_date))
    end = params.collect(problems, lambda: params.day("结束日期", end_date))
    if "start_date" not in request.query_params and "end_date" not in request.query_params:
        end = ctx.today()
        start = date.fromordinal(end.toordinal() - 29)
    filters: dict[str, Any] = {
        "start_date": start,
        "end_date": end,
        "dept_id": params.collect(problems, lambda: params.integer("发起人部门", dept_id)),
        "process_code": params.text(process_code),
    }
    stats = params.attempt(
        problems,
        lambda: api_approvals.approval_stats(ctx, session.caller, **filters),
        empty_stats(),
    )
    with ctx.engine.connect() as conn:
        templates = _templates(conn, ctx.corp_id)
        depts = dept_options(ctx, conn)
    query = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in filters.items()}
    query = {k: v for k, v in query.items() if v is not None}
    finished_total = sum(b["count"] for b in stats["cycle_time"])
    return render(
        request,
        session,
        "approvals_stats.html",
        active="approvals",
        title="审批",
        tab="stats",
        stats=stats,
        charts=stats_charts(stats),
        filters=query,
        templates=templates,
        depts=depts,
        finished_total=finished_total,
        problems=problems,
        list_url="/console/approvals?" + urlencode(query),
    )


# --------------------------------------------------------------------------------------------
# 审批详情
# --------------------------------------------------------------------------------------------
def _range_labels(label: str | None) -> str:
    """A date-range field's label: DingTalk sends ``["开始时间","结束时间"]`` as its label."""
    if label and label.strip().startswith("["):
        try:
            names = json.loads(label)
        except ValueError:
            return label
        if isinstance(names, list):
            return " ~ ".join(str(n) for n in names)
    return label or "时间"


def _parsed(row: dict[str, Any] | None) -> Any:
    if row is None:
        return None
    if row.get("parsed") is not None:
        return row["parsed"]
    try:
        return json.loads(row.get("value") or "")
    except ValueError:
        return row.get("value")


def _display(component: str, row: dict[str, Any] | None, names: dict[str, str]) -> dict[str, Any]:
    """One form value for the page: ``{"kind": text|money|list|files|photos|people|empty,
    "text"|"entries": …}``."""
    if row is None:
        return {"kind": "empty"}
    parsed = _parsed(row)
    value = row.get("value")
    if component == "MoneyField":
        try:
            return {"kind": "money", "text": f"¥{float(str(value).replace(',', '')):,.2f}"}
        except ValueError:
            return {"kind": "text", "text": value}
    if component == "DDDateRangeField" and isinstance(parsed, list):
        return {"kind": "text", "text": " ~ ".join(str(p) for p in parsed)}
    if component == "DDAttachment":
        files = parsed if isinstance(parsed, list) else []
        items = [
            str(f.get("fileName") or f.get("file_name") or f.get("fileId") or "附件")
            for f in files
            if isinstance(f, dict)
        ]
        return {"kind": "files", "entries": items} if items else {"kind": "empty"}
    if component == "DDPhotoField":
        photos = [str(p) for p in parsed] if isinstance(parsed, list) else []
        return {"kind": "photos", "entries": photos} if photos else {"kind": "empty"}
    if component == "InnerContactField":
        people = [str(p) for p in parsed] if isinstance(parsed, list) else []
        return {"kind": "people", "entries": [names.get(p, p) for p in people]}
    if component in ("DDMultiSelectField", "DepartmentField") and isinstance(parsed, list):
        return {"kind": "text", "text": "、".join(str(p) for p in parsed)}
    if value in (None, "", "null"):
        return {"kind": "empty"}
    return {"kind": "text", "text": value}


def detail_table(
    field: dict[str, Any],
    value_row: dict[str, Any] | None,
    detail_rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """A detail table (明细) for the page: ``columns`` (labels) and ``rows`` (cell texts).

    Columns are the table field's children in the schema's order; a stored row's cells are
    keyed by the child's component id when DingTalk sent one, else by its label
    (:func:`dingsync.store.repo_approvals.cell_key`), so a cell is read by id, then by label —
    as the export reads them; cells the schema does not name become extra columns, headed by
    their label from the parsed value."""
    columns: list[tuple[str, str | None, str]] = []  # (key, label, component)
    for child in field.get("children") or []:
        key = child.get("id") or child.get("label") or ""
        if key and all(c[0] != key for c in columns):
            columns.append((key, child.get("label"), child.get("component_name") or ""))
    seq = value_row["seq"] if value_row else None
    mine = [
        d
        for d in detail_rows
        if (seq is not None and d["field_seq"] == seq)
        or (seq is None and field.get("id") and d["component_id"] == field.get("id"))
    ]
    mine.sort(key=lambda d: d["row_no"])
    labels: dict[str, str] = {}
    parsed = _parsed(value_row)
    if isinstance(parsed, list):
        for r in parsed:
            if isinstance(r, list):
                for n, c in enumerate(r):
                    if isinstance(c, dict):
                        labels.setdefault(repo_approvals.cell_key(c, n), str(c.get("name") or ""))
    known = {c[0] for c in columns} | {c[1] for c in columns if c[1]}
    for d in mine:
        for key in d["cells"] or {}:
            if key not in known:
                known.add(key)
                columns.append((key, labels.get(key) or key, ""))
    rows = []
    for d in mine:
        cells = d["cells"] if isinstance(d["cells"], dict) else {}
        line = []
        for key, label, component in columns:
            cell = cells.get(key, cells.get(label) if label else None)
            if component == "MoneyField" and cell not in (None, ""):
                try:
                    cell = f"{float(str(cell).replace(',', '')):,.2f}"
                except ValueError:
                    pass
            elif isinstance(cell, list | dict):
                cell = json.dumps(cell, ensure_ascii=False)
            line.append({"text": "" if cell is None else str(cell), "num": component in NUMERIC})
        rows.append(line)
    return {
        "columns": [{"label": c[1] or c[0], "num": c[2] in NUMERIC} for c in columns],
        "rows": rows,
    }


NUMERIC = frozenset({"NumberField", "MoneyField"})


def form_sections(
    fields: list[dict[str, Any]],
    values: list[dict[str, Any]],
    detail_rows: list[dict[str, Any]],
    names: dict[str, str],
) -> list[dict[str, Any]]:
    """The form as the page shows it: the template's fields in schema order (text notes
    left out), each with its value matched by component id then label; values of components
    the template no longer has after them, by their label. Each item: ``label``, ``kind``
    (``table`` for a detail table, with ``table``), ``value`` (see :func:`_display`)."""
    by_id = {v["component_id"]: v for v in values if v["component_id"]}
    by_name = {v["name"]: v for v in values if v["name"]}
    used: set[int] = set()
    out: list[dict[str, Any]] = []
    for f in fields:
        component = f.get("component_name") or ""
        if component == "TextNote":
            continue
        row = by_id.get(f.get("id")) if f.get("id") else None
        if row is None and f.get("label"):
            row = by_name.get(f["label"])
        if row is not None:
            used.add(row["seq"])
        label = (
            _range_labels(f.get("label"))
            if component == "DDDateRangeField"
            else (f.get("label") or f.get("id") or component)
        )
        if component == "TableField":
            out.append(
                {"label": label, "kind": "table", "table": detail_table(f, row, detail_rows)}
            )
        else:
            out.append({"label": label, "kind": "value", "value": _display(component, row, names)})
    for v in values:
        if v["seq"] in used or v["component_type"] == "TextNote":
            continue
        component = v["component_type"] or ""
        field = {"id": v["component_id"], "label": v["name"], "children": []}
        if component == "TableField":
            table = detail_table(field, v, detail_rows)
            out.append({"label": v["name"] or v["component_id"], "kind": "table", "table": table})
        else:
            out.append(
                {
                    "label": v["name"] or v["component_id"] or component,
                    "kind": "value",
                    "value": _display(component, v, names),
                }
            )
    return out


@router.get(
    "/approvals/{process_instance_id}", response_class=HTMLResponse, name="console_approval"
)
def approval_page(
    request: Request,
    ctx: Ctx,
    process_instance_id: str,
    session: ConsoleSession = page_caller("approvals"),
) -> HTMLResponse:
    """One instance: what ``GET /api/approvals/{process_instance_id}`` answers the viewer
    (the router function itself: an HTML 404 when unknown or not visible), with its form
    in the template's order, detail tables, tasks and operation records."""
    instance = api_approvals.get_approval(ctx, session.caller, process_instance_id)
    pid = instance["process_instance_id"]
    with ctx.engine.connect() as conn:
        values = repo_approvals.load_children(conn, ctx.corp_id, [pid], "form_values")[pid]
        details = repo_approvals.load_children(conn, ctx.corp_id, [pid], "detail_rows")[pid]
        records = repo_approvals.load_children(conn, ctx.corp_id, [pid], "operation_records")[pid]
        template = next(
            (
                t
                for t in repo_approvals.load_templates(conn, ctx.corp_id)
                if t["process_code"] == instance["process_code"]
            ),
            None,
        )
        people: set[str] = {instance.get("originator_userid") or ""}
        people |= {t.get("userid") or "" for t in instance["tasks"]}
        people |= {r.get("userid") or "" for r in records}
        people |= set(instance.get("cc") or [])
        people |= {a.get("userid") or "" for a in instance.get("attachments") or []}
        for v in values:
            if v["component_type"] == "InnerContactField" and isinstance(_parsed(v), list):
                people |= {str(p) for p in _parsed(v)}
        names = user_names(conn, ctx.corp_id, people)
    fields = list((template or {}).get("fields") or [])
    timeline = []
    for r in records:
        files = [
            str(a.get("file_name") or a.get("fileName") or a.get("file_id") or "附件")
            for a in (r.get("attachments") or [])
            if isinstance(a, dict)
        ]
        timeline.append(
            {
                "userid": r["userid"],
                "name": names.get(r["userid"] or "", r["userid"]),
                "time": r["date"],
                "type": r["operation_type"],
                "action": OPERATION_LABELS.get(r["operation_type"] or "", r["operation_type"]),
                "result": r["operation_result"],
                "result_label": OPERATION_RESULTS.get(
                    r["operation_result"] or "", r["operation_result"]
                ),
                "remark": r["remark"],
                "files": files,
            }
        )
    pending = [t for t in instance["tasks"] if t.get("task_status") in ("RUNNING", "NEW")]
    return render(
        request,
        session,
        "approval.html",
        active="approvals",
        title=instance.get("title") or "审批详情",
        instance=instance,
        template_name=(template or {}).get("name") or instance["process_code"],
        form=form_sections(fields, values, details, names),
        tasks=instance["tasks"],
        timeline=timeline,
        pending=pending,
        names=names,
        statuses=STATUS_LABELS,
        results=RESULT_LABELS,
        task_labels=TASK_LABELS,
    )


__all__ = [
    "PAGE_SIZE",
    "approval_page",
    "approval_stats_page",
    "approvals_page",
    "detail_table",
    "form_sections",
    "router",
    "stats_charts",
]


@router.get(
    "/approvals/{process_instance_id}/attachments/{file_id}",
    name="console_approval_attachment",
)
async def approval_attachment(
    ctx: Ctx,
    process_instance_id: str,
    file_id: str,
    session: ConsoleSession = page_caller("approvals"),
) -> StreamingResponse:
    """One attachment's file: ``GET /api/approvals/{id}/attachments/{file_id}`` itself (the
    same read check — an HTML 404 for whoever may not read the instance — grant, link, stream)
    for the console's session."""
    return await api_approvals.download_attachment(
        ctx, session.caller, process_instance_id, file_id
    )
