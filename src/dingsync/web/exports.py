"""Export kinds of ``POST /api/exports``: which data kind each one belongs to (for the rules)
and how it writes a file for a viewer's export scope.

A kind's ``write(ctx, conn, scope, filters, fmt, path) -> rows`` writes only what ``scope``
admits. The data areas add their kinds here as they land (``reports``, ``attendance``,
``approvals``), using the same writers as their CLI exports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection

from dingsync.export import web as export_web
from dingsync.store import repo_web
from dingsync.web import rules
from dingsync.web.context import WebContext
from dingsync.web.errors import WebError

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


def _scoped_dept(
    ctx: WebContext, conn: Connection, scope: rules.Scope, dept: int | None
) -> int | None:
    """The department an export may cover: any (or none = everyone) with an ``everything``
    scope; otherwise ``dept`` must lie inside the scope (a sub-administrator with one scope
    root may leave it out). Raises ``export.forbidden`` / ``request.invalid``."""
    if scope.everything:
        return dept
    if dept is None:
        roots = [
            d
            for d in scope.depts
            if ctx.tree(conn).nodes.get(d, {}).get("parent_id") not in scope.depts
        ]
        if len(roots) == 1:
            return roots[0]
        raise WebError(
            "request.invalid", "filters.dept_id is required: a department inside your admin scope"
        )
    if dept not in scope.depts:
        raise WebError("export.forbidden", "filters.dept_id is outside your admin scope")
    return dept


def _write_reports(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: dict[str, Any],
    fmt: str,
    path: str,
) -> int:
    from dingsync.export import reports as export_reports

    template = filters.get("template")
    if not isinstance(template, str) or not template:
        raise ValueError("filters.template (a report template name) is required")
    today = ctx.now().date()
    end = _date(filters, "end_date", today)
    start = _date(filters, "start_date", end - timedelta(days=30))
    if end < start:
        raise ValueError("end_date is before start_date")
    dept = _scoped_dept(ctx, conn, scope, _int_or_none(filters.get("dept_id")))
    return int(
        export_reports.export_reports(
            conn,
            ctx.corp_id,
            template,
            start,
            end,
            path,
            _fmt(fmt),
            dept_id=dept,
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
    from dingsync.export import approvals as export_approvals
    from dingsync.store import repo_approvals

    if not scope.everything:
        # The approvals writer has no originator filter yet: only whole-company exports.
        raise WebError(
            "export.forbidden", "approval exports are for the main administrator for now"
        )
    name = filters.get("template")
    if not isinstance(name, str) or not name:
        raise ValueError("filters.template (a process code or template name) is required")
    template = repo_approvals.find_template(conn, ctx.corp_id, name)
    if template is None:
        raise ValueError(f"no approval template {name!r}")
    lo = hi = None
    if filters.get("start_date"):
        lo = datetime.combine(_date(filters, "start_date", date.min), time(), tzinfo=UTC)
    if filters.get("end_date"):
        hi = datetime.combine(
            _date(filters, "end_date", date.max) + timedelta(days=1), time(), tzinfo=UTC
        )
    result = export_approvals.export_approvals(
        conn,
        ctx.corp_id,
        template,
        Path(path),
        _fmt(fmt),
        created_from=lo,
        created_to=hi,
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
            "start_date": "first day, YYYY-MM-DD (default 30 days before end_date)",
            "end_date": "last day, YYYY-MM-DD (default today)",
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
            "template": "process code or template name (required)",
            "start_date": "created on or after, YYYY-MM-DD",
            "end_date": "created on or before, YYYY-MM-DD",
        },
    ),
}
