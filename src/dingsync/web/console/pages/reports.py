"""日志 (Reports): the reports list, one report, and 日志统计 (submission statistics).

- ``GET /console/reports``: filters (模板, dates, 部门, 提交人) and one page of the reports the
  viewer may list — :func:`dingsync.web.routers.reports.list_reports`, the API's own function,
  so the rows and ``total`` are ``GET /api/reports``'s for the same person and filters. With
  one template chosen its fields are the table's columns (the template's order, then content
  keys not in it: :func:`dingsync.export.reports.template_columns`, as the export writes them).
  An export button (``POST /console/export/reports`` with the filters) for those who may export.
- ``GET /console/reports/{report_id}``: :func:`~dingsync.web.routers.reports.get_report` (404
  for a report the viewer may not read), with names for the receivers and commenters.
- ``GET /console/reports/stats``: :func:`~dingsync.web.routers.reports.report_stats` — the
  numbers ``GET /api/reports/stats`` answers — as a person × day heat map, cards, and the
  departments as a bar chart and a table.

Query parameters are read as text and checked here, so a malformed one shows a message in the
page instead of the API's JSON error; htmx swaps ``#results`` and pushes the URL, and every
page also works as a plain GET without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dingsync.export.reports import STATUS_LABELS, template_columns
from dingsync.store import repo_contacts, repo_reports
from dingsync.web import rules
from dingsync.web.console import params
from dingsync.web.console.render import render
from dingsync.web.console.session import ConsoleSession, page_caller
from dingsync.web.context import WebContext
from dingsync.web.data import day_bounds, visible
from dingsync.web.deps import Ctx
from dingsync.web.errors import WebError
from dingsync.web.routers import reports as api_reports

router = APIRouter(prefix="/console", include_in_schema=False)

#: Reports per page of the list.
PAGE_SIZE = 20
#: People per page of the heat map.
STATS_PAGE_SIZE = 40
#: Days the list covers when no date is given (as the reports export's default).
DEFAULT_LIST_DAYS = 30
#: Heat map values: a status's index here (the chart's visualMap pieces).
STATUS_ORDER = ("submitted", "late", "missing")
STATUS_COLORS = {"submitted": "#34c724", "late": "#ff8800", "missing": "#f54a45"}
WEEKDAYS = "一二三四五六日"


# --------------------------------------------------------------------------------------------
# Filters from the query string
# --------------------------------------------------------------------------------------------
@dataclass
class Filters:
    """The page's filters as typed values, with the messages of those that were malformed."""

    template: str | None = None
    start: date | None = None
    end: date | None = None
    dept_id: int | None = None
    creator: str | None = None
    offset: int = 0
    problems: list[str] = field(default_factory=list)

    def query(self, **override: Any) -> str:
        """The query string of these filters (with ``override``), for links and htmx."""
        values: dict[str, Any] = {
            "template": self.template,
            "start_date": self.start.isoformat() if self.start else None,
            "end_date": self.end.isoformat() if self.end else None,
            "dept_id": self.dept_id,
            "creator": self.creator,
            "offset": self.offset or None,
        }
        values.update(override)
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def read_filters(request: Request, ctx: WebContext) -> Filters:
    """The filters of the request's query string (malformed values and a department the
    synced directory does not have dropped, with a message)."""
    q = request.query_params
    f = Filters()
    p = f.problems
    f.template = params.text(q.get("template"))
    f.start = params.collect(p, lambda: params.day("开始日期", q.get("start_date")))
    f.end = params.collect(p, lambda: params.day("结束日期", q.get("end_date")))
    f.dept_id = params.collect(p, lambda: params.department(ctx, "部门", q.get("dept_id")))
    f.creator = params.text(q.get("creator"), 64)
    f.offset = params.collect(p, lambda: params.integer("页码", q.get("offset"), low=0)) or 0
    return f


def department_options(ctx: WebContext, conn: Any) -> list[dict[str, Any]]:
    """The department tree depth-first as ``[{dept_id, name, depth}]`` (for a select)."""
    tree = ctx.tree(conn)
    roots = [d for d, n in tree.nodes.items() if n["parent_id"] not in tree.nodes]
    out: list[dict[str, Any]] = []
    stack = [(d, 0) for d in sorted(roots, reverse=True)]
    while stack:
        dept, depth = stack.pop()
        node = tree.nodes[dept]
        out.append({"dept_id": dept, "name": node["name"] or str(dept), "depth": depth})
        stack.extend((c, depth + 1) for c in reversed(tree.children.get(dept, [])))
    return out


def names_of(ctx: WebContext, conn: Any, userids: list[str]) -> dict[str, str]:
    """``userid → name`` for these people (also people who left)."""
    unique = sorted(set(userids))
    if not unique:
        return {}
    rows, _ = repo_contacts.list_users(
        conn, ctx.corp_id, userids=unique, include_inactive=True, limit=len(unique)
    )
    return {r["userid"]: r["name"] or r["userid"] for r in rows}


# --------------------------------------------------------------------------------------------
# The list
# --------------------------------------------------------------------------------------------
def page_columns(
    conn: Any, corp_id: str, template: str, contents: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """The table's field columns for ``template``: its synced fields in order (without them,
    every content key stored for it: :func:`dingsync.export.reports.template_columns`, as the
    export's columns), then keys of this page's reports that are not among them."""
    fields = repo_reports.template_fields(conn, corp_id, template)
    columns = fields or template_columns(conn, corp_id, template)
    seen = set(columns)
    for items in contents.values():
        for item in items:
            key = item.get("key")
            if key is not None and key not in seen:
                seen.add(key)
                columns.append(key)
    return columns


def _preview(contents: list[dict[str, Any]]) -> str:
    """The first filled-in fields of a report as ``字段：值`` on one line (the list's 内容
    column without a template)."""
    parts: list[str] = []
    for item in contents:
        value = " ".join((item.get("value") or "").split())
        if value:
            parts.append(f"{item.get('key')}：{value}" if item.get("key") else value)
        if sum(len(p) for p in parts) > 60:
            break
    return " · ".join(parts)[:120]


@router.get("/reports", response_class=HTMLResponse, name="console_reports")
def reports_page(
    request: Request, ctx: Ctx, session: ConsoleSession = page_caller("reports")
) -> HTMLResponse:
    """One page of the reports the viewer may list (``GET /api/reports``'s rows and total)."""
    f = read_filters(request, ctx)
    # The end defaults to today, or to the start when that is later (a start in the future
    # lists nothing, as GET /api/reports answers, rather than "end before start").
    f.end = f.end or ctx.default_end(f.start)
    f.start = f.start or f.end - timedelta(days=DEFAULT_LIST_DAYS)
    error: str | None = None
    page: dict[str, Any] = {"items": [], "total": 0, "limit": PAGE_SIZE, "offset": f.offset}
    try:
        for _ in range(2):  # a page past the end shows the last page instead
            page = api_reports.list_reports(
                ctx,
                session.caller,
                template=f.template,
                start_date=f.start,
                end_date=f.end,
                creator=f.creator,
                dept_id=f.dept_id,
                limit=PAGE_SIZE,
                offset=f.offset,
            )
            if page["items"] or not page["total"] or f.offset < page["total"]:
                break
            f.offset = last_page_offset(int(page["total"]), PAGE_SIZE)
    except WebError as exc:
        error = params.zh(exc)
    items = page["items"]
    scope = rules.scope(session.viewer, "reports", "list")
    with ctx.engine.connect() as conn:
        templates = repo_reports.template_names(conn, ctx.corp_id)
        contents = repo_reports.contents_of(conn, ctx.corp_id, [i["report_id"] for i in items])
        columns = page_columns(conn, ctx.corp_id, f.template, contents) if f.template else []
        lo, hi = day_bounds(ctx, f.start, f.end) if error is None else (None, None)
        people = repo_reports.creators(
            conn, ctx.corp_id, visible(scope), template=f.template, start=lo, end=hi
        )
        departments = department_options(ctx, conn)
        if f.creator and all(p["userid"] != f.creator for p in people):
            name = names_of(ctx, conn, [f.creator]).get(f.creator, f.creator)
            people.insert(0, {"userid": f.creator, "name": name})
    rows = []
    for item in items:
        values: dict[str, str] = {}
        for c in contents.get(item["report_id"], []):
            if c.get("key") is not None:
                values.setdefault(c["key"], c.get("value") or "")
        rows.append({**item, "values": values, "preview": _preview(contents[item["report_id"]])})
    total = int(page["total"])
    return render(
        request,
        session,
        "reports.html",
        active="reports",
        title="日志",
        tab="list",
        f=f,
        error=error,
        problems=f.problems,
        templates=templates,
        columns=columns,
        rows=rows,
        total=total,
        page_size=PAGE_SIZE,
        prev_query=f.query(offset=max(0, f.offset - PAGE_SIZE)) if f.offset > 0 else None,
        next_query=f.query(offset=f.offset + PAGE_SIZE) if f.offset + PAGE_SIZE < total else None,
        people=people,
        departments=departments,
        may_export=rules.may(session.viewer, "reports", "export"),
    )


# --------------------------------------------------------------------------------------------
# 日志统计
# --------------------------------------------------------------------------------------------
def last_page_offset(total: int, size: int) -> int:
    """The offset of the last page of ``total`` rows, ``size`` per page (0 for none)."""
    return max(0, (total - 1) // size * size)


def _short_day(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.month:02d}-{d.day:02d} {WEEKDAYS[d.weekday()]}"


def heatmap_option(stats: dict[str, Any]) -> dict[str, Any]:
    """The ECharts option of the person × day heat map: x the dates, y the page's people (in
    the API's order), points ``{value: [date index, person index, status index], name}`` with
    the status index in :data:`STATUS_ORDER` (visualMap pieces)."""
    dates = stats["dates"]
    x_index = {d: i for i, d in enumerate(dates)}
    people = stats["people"]
    y_index = {p["userid"]: i for i, p in enumerate(people)}
    names = {p["userid"]: p["name"] for p in people}
    data = [
        {
            "value": [x_index[d["day"]], y_index[d["userid"]], STATUS_ORDER.index(d["status"])],
            "name": f"{names[d['userid']]} · {_short_day(d['day'])} · {STATUS_LABELS[d['status']]}",
        }
        for d in stats["days"]
        if d["day"] in x_index and d["userid"] in y_index
    ]
    return {
        "animation": False,
        "tooltip": {"position": "top", "formatter": "{b}"},
        "grid": {"left": 8, "right": 16, "top": 58, "bottom": 8, "containLabel": True},
        "xAxis": {
            "type": "category",
            "data": [_short_day(d).replace(" ", "\n") for d in dates],
            "splitArea": {"show": True},
            "axisLabel": {"fontSize": 11, "color": "#646a73", "interval": 0},
            "axisTick": {"show": False},
            "axisLine": {"show": False},
            "position": "top",
        },
        "yAxis": {
            "type": "category",
            "data": [p["name"] for p in people],
            "inverse": True,
            "splitArea": {"show": True},
            "axisLabel": {"color": "#1f2329"},
            "axisTick": {"show": False},
            "axisLine": {"show": False},
        },
        "visualMap": {
            "type": "piecewise",
            "dimension": 2,
            "orient": "horizontal",
            "right": 0,
            "top": 0,
            "itemWidth": 14,
            "itemHeight": 14,
            "pieces": [
                {"value": i, "label": STATUS_LABELS[s], "color": STATUS_COLORS[s]}
                for i, s in enumerate(STATUS_ORDER)
            ],
        },
        "series": [
            {
                "name": stats["template"],
                "type": "heatmap",
                "data": data,
                "itemStyle": {"borderColor": "#fff", "borderWidth": 2, "borderRadius": 3},
                "emphasis": {"itemStyle": {"borderColor": "#1f2329", "borderWidth": 1}},
            }
        ],
    }


def departments_option(stats: dict[str, Any]) -> dict[str, Any]:
    """The departments' bar chart: stacked 已提交/迟交/未提交 per department (series in
    :data:`STATUS_ORDER`) and the submission rate (%) as a line."""
    depts = stats["departments"]
    series: list[dict[str, Any]] = [
        {
            "name": STATUS_LABELS[s],
            "type": "bar",
            "stack": "periods",
            "barMaxWidth": 36,
            "itemStyle": {"color": STATUS_COLORS[s]},
            "data": [d[s] for d in depts],
        }
        for s in STATUS_ORDER
    ]
    series.append(
        {
            "name": "提交率",
            "type": "line",
            "yAxisIndex": 1,
            "symbolSize": 7,
            "itemStyle": {"color": "#1677ff"},
            "data": [round(d["rate"] * 100, 2) for d in depts],
        }
    )
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        # left: room for the first tilted label, which reaches left of its bar
        "grid": {"left": 44, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {
            "type": "category",
            "data": [d["name"] for d in depts],
            # tilted so neighbours do not run into each other (side by side, 10 departments
            # already did); where even tilted ones would, ECharts leaves some out (the
            # tooltip and the table beside name every one)
            "axisLabel": {
                "interval": 0,
                "rotate": 40,
                "hideOverlap": True,
                "width": 84,
                "overflow": "truncate",
            },
        },
        "yAxis": [
            {"type": "value", "name": "应交", "minInterval": 1},
            {
                "type": "value",
                "name": "提交率 %",
                "min": 0,
                "max": 100,
                "splitLine": {"show": False},
            },
        ],
        "series": series,
    }


def scope_label(viewer: rules.Viewer) -> str:
    """Who the statistics cover for ``viewer``, in words."""
    scope = rules.scope(viewer, "reports", "list")
    if scope.everything:
        return "全公司"
    if scope.depts:
        return "我和我管理范围内的人员"
    return "我自己"


@router.get("/reports/stats", response_class=HTMLResponse, name="console_report_stats")
def report_stats_page(
    request: Request, ctx: Ctx, session: ConsoleSession = page_caller("reports")
) -> HTMLResponse:
    """日志统计: ``GET /api/reports/stats``'s numbers for the viewer as a heat map, cards, a bar
    chart and a table."""
    f = read_filters(request, ctx)
    with ctx.engine.connect() as conn:
        templates = repo_reports.template_names(conn, ctx.corp_id)
        departments = department_options(ctx, conn)
    if f.template is None and templates:
        f.template = "日报" if "日报" in templates else templates[0]
    error: str | None = None
    stats: dict[str, Any] | None = None
    if f.template is not None:
        try:
            for _ in range(2):  # a page past the end shows the last page instead
                stats = api_reports.report_stats(
                    ctx,
                    session.caller,
                    template=f.template,
                    start_date=f.start,
                    end_date=f.end,
                    dept_id=f.dept_id,
                    limit=STATS_PAGE_SIZE,
                    offset=f.offset,
                )
                if not stats["total"] or f.offset < stats["total"]:
                    break
                f.offset = last_page_offset(int(stats["total"]), STATS_PAGE_SIZE)
        except WebError as exc:
            error = params.zh(exc)
    if stats is not None:
        f.start = date.fromisoformat(stats["start_date"])
        f.end = date.fromisoformat(stats["end_date"])
    total = int(stats["total"]) if stats else 0
    return render(
        request,
        session,
        "reports_stats.html",
        active="reports",
        title="日志",
        tab="stats",
        f=f,
        error=error,
        problems=f.problems,
        templates=templates,
        departments=departments,
        stats=stats,
        heatmap=heatmap_option(stats) if stats else None,
        dept_chart=departments_option(stats) if stats else None,
        status_labels=STATUS_LABELS,
        scope_label=scope_label(session.viewer),
        may_export=rules.may(session.viewer, "reports", "export"),
        page_size=STATS_PAGE_SIZE,
        total=total,
        prev_query=f.query(offset=max(0, f.offset - STATS_PAGE_SIZE)) if f.offset > 0 else None,
        next_query=(
            f.query(offset=f.offset + STATS_PAGE_SIZE)
            if f.offset + STATS_PAGE_SIZE < total
            else None
        ),
    )


# --------------------------------------------------------------------------------------------
# One report
# --------------------------------------------------------------------------------------------
@router.get("/reports/{report_id}", response_class=HTMLResponse, name="console_report")
def report_page(
    request: Request,
    report_id: str,
    ctx: Ctx,
    session: ConsoleSession = page_caller("reports"),
) -> HTMLResponse:
    """One report (``GET /api/reports/{report_id}``; an HTML 404 when the viewer may not read
    it): its fields in order, receivers, comments, read/comment/like counts."""
    report = api_reports.get_report(ctx, session.caller, report_id)
    with ctx.engine.connect() as conn:
        names = names_of(
            ctx,
            conn,
            [*report["receivers"], *(c["userid"] for c in report["comments"] if c.get("userid"))],
        )
    return render(
        request,
        session,
        "report_detail.html",
        active="reports",
        title=report.get("template_name") or "日志",
        report=report,
        names=names,
    )
