"""Export kinds of ``POST /api/exports``: which data kind each one belongs to (for the rules)
and how it writes a file for a viewer's export scope.

A kind's ``write(ctx, conn, scope, filters, fmt, path) -> rows`` writes only what ``scope``
admits. The data areas add their kinds here as they land (``reports``, ``attendance``,
``approvals``), using the same writers as their CLI exports. ``reports`` and ``approvals`` take
the filters of their list APIs and hand the writers the scope as a
:class:`~dingsync.store.repo_web.Visible`, which they apply in SQL with the list APIs' own
conditions: an export holds exactly the rows the same person lists with the same filters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection

from dingsync.export import web as export_web
from dingsync.store import repo_web
from dingsync.web import rules
from dingsync.web.context import WebContext
from dingsync.web.data import day_bounds, dept_filter, visible

Writer = Callable[[WebContext, Connection, rules.Scope, dict[str, Any], str, str], int]


@dataclass(frozen=True)
class ExportKind:
    """``name`` (the API's ``kind``), ``data`` (the rules' data kind), ``write``, and the
    filters it accepts (name → description)."""

    name: str
    data: rules.DataKind
    write: Writer
    filters: dict[str, str]


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    return int(value)


def _write_users(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: dict[str, Any],
    fmt: str,
    path: str,
) -> int:
    tree = ctx.tree(conn)
    dept = _int_or_none(filters.get("dept_id"))
    dept_ids: set[int] | None = None
    if dept is not None:
        dept_ids = set(tree.subtree([dept])) if filters.get("recursive", True) else {dept}
    if not scope.everything:
        dept_ids = set(scope.depts) if dept_ids is None else dept_ids & set(scope.depts)
    return export_web.export_users(
        conn,
        ctx.corp_id,
        path,
        fmt,
        dept_ids=None if dept_ids is None else sorted(dept_ids),
        include_inactive=bool(filters.get("include_inactive", False)),
    )


def _fmt(fmt: str) -> Literal["xlsx", "csv"]:
    return "csv" if fmt == "csv" else "xlsx"


def _date(filters: dict[str, Any], key: str, default: date) -> date:
    value = filters.get(key)
    if value in (None, ""):
        return default
    return date.fromisoformat(str(value))


def _str_or_none(filters: dict[str, Any], key: str, max_length: int = 255) -> str | None:
    value = filters.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise ValueError(f"filters.{key} must be a string of at most {max_length} characters")
    return value


def _visible(scope: rules.Scope) -> repo_web.Visible | None:
    """The export scope as the writers' visibility filter (``None``: everything)."""
    return None if scope.everything else visible(scope)


def _dept_ids(ctx: WebContext, conn: Connection, filters: dict[str, Any]) -> list[int] | None:
    """``filters.dept_id`` and its sub-departments, as the list APIs take it."""
    dept = _int_or_none(filters.get("dept_id"))
    if dept is not None and not 1 <= dept <= 2**62:
        raise ValueError("filters.dept_id must be a department id (1 … 2^62)")
    return dept_filter(ctx, conn, dept)


def _write_reports(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: dict[str, Any],
    fmt: str,
    path: str,
) -> int:
    """Reports of one template: exactly the rows ``GET /api/reports`` lists to the same person
    with the same filters (``template``, ``start_date``, ``end_date``, ``creator``,
    ``dept_id``) — the same SQL conditions, the viewer's scope applied in SQL."""
    from dingsync.export import reports as export_reports

    template = _str_or_none(filters, "template")
    if template is None:
        raise ValueError("filters.template (a report template name) is required")
    today = ctx.now().date()
    end = _date(filters, "end_date", today)
    start = _date(filters, "start_date", end - timedelta(days=30))
    if end < start:
        raise ValueError("end_date is before start_date")
    return int(
        export_reports.export_reports(
            conn,
            ctx.corp_id,
            template,
            start,
            end,
            path,
            _fmt(fmt),
            dept_ids=_dept_ids(ctx, conn, filters),
            creator=_str_or_none(filters, "creator", 64),
            visible=_visible(scope),
        )
    )


def _write_attendance(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: dict[str, Any],
    fmt: str,
    path: str,
) -> int:
    from dingsync.export import attendance as export_attendance

    month = filters.get("month") or ctx.now().strftime("%Y-%m")
    dept = _int_or_none(filters.get("dept_id"))
    summary = export_attendance.monthly_summary(conn, ctx.corp_id, str(month), dept_id=dept)
    if not scope.everything:
        allowed: set[str] = set()
        if scope.depts:
            members = repo_web.list_users(
                conn, ctx.corp_id, dept_ids=sorted(scope.depts), include_inactive=True, limit=10**9
            )[0]
            allowed |= {m["userid"] for m in members}
        if scope.groups:
            allowed |= repo_web.attendance_group_userids(
                conn, ctx.corp_id, [int(g) for g in scope.groups]
            )
        summary.rows = [r for r in summary.rows if r.userid in allowed]
        summary.daily = [d for d in summary.daily if d.userid in allowed]
        summary.disagreements = [d for d in summary.disagreements if d.userid in allowed]
    if fmt == "csv":
        export_attendance.write_csv(summary, path)
    else:
        export_attendance.write_xlsx(summary, path)
    return len(summary.rows)


def _write_approvals(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: dict[str, Any],
    fmt: str,
    path: str,
) -> int:
    """Instances of one template: exactly the rows ``GET /api/approvals`` lists to the same
    person with the same filters (``process_code`` — or ``template``, a code or a name —,
    ``status``, ``start_date``, ``end_date``, ``originator``, ``dept_id``): the same SQL
    conditions, the viewer's scope applied in SQL. csv: only the main file is returned (the
    detail rows' file is dropped)."""
    from dingsync.export import approvals as export_approvals
    from dingsync.store import repo_approvals

    name = _str_or_none(filters, "template") or _str_or_none(filters, "process_code", 64)
    if name is None:
        raise ValueError("filters.template (a process code or template name) is required")
    template = repo_approvals.find_template(conn, ctx.corp_id, name)
    if template is None:
        raise ValueError(f"no approval template {name!r}")
    code = _str_or_none(filters, "process_code", 64)
    if code is not None and code != template["process_code"]:
        raise ValueError("filters.process_code and filters.template name different templates")
    start = _date(filters, "start_date", date.min) if filters.get("start_date") else None
    end = _date(filters, "end_date", date.max) if filters.get("end_date") else None
    lo, hi = day_bounds(ctx, start, end)
    result = export_approvals.export_approvals(
        conn,
        ctx.corp_id,
        template,
        Path(path),
        _fmt(fmt),
        created_from=lo,
        created_to=hi,
        status=_str_or_none(filters, "status", 32),
        originator=_str_or_none(filters, "originator", 64),
        dept_ids=_dept_ids(ctx, conn, filters),
        visible=_visible(scope),
    )
    for extra in result.paths[1:]:  # csv: the detail rows go to a second file
        extra.unlink(missing_ok=True)
    return int(result.rows)


KINDS: dict[str, ExportKind] = {
    "users": ExportKind(
        "users",
        "directory",
        _write_users,
        {
            "dept_id": "only members of this department",
            "recursive": "with its sub-departments (default true)",
            "include_inactive": "also people no longer in the directory",
        },
    ),
    "reports": ExportKind(
        "reports",
        "reports",
        _write_reports,
        {
            "template": "report template name (required)",
            "start_date": "created on or after, YYYY-MM-DD (default 30 days before end_date)",
            "end_date": "created on or before, YYYY-MM-DD (default today)",
            "creator": "creator userid",
            "dept_id": "creators in this department and below",
        },
    ),
    "attendance": ExportKind(
        "attendance",
        "attendance",
        _write_attendance,
        {
            "month": "YYYY-MM (default this month)",
            "dept_id": "people in this department and below",
        },
    ),
    "approvals": ExportKind(
        "approvals",
        "approvals",
        _write_approvals,
        {
            "template": "process code or template name (this or process_code is required)",
            "process_code": "process code of the template",
            "status": "RUNNING, COMPLETED, TERMINATED, …",
            "start_date": "created on or after, YYYY-MM-DD",
            "end_date": "created on or before, YYYY-MM-DD",
            "originator": "originator userid",
            "dept_id": "originators in this department and below",
        },
    ),
}
