"""Export kinds of ``POST /api/exports``: which data kind each one belongs to (for the rules)
and how it writes a file for a viewer's export scope.

A kind's ``write(ctx, conn, scope, filters, fmt, path) -> rows`` writes only what ``scope``
admits; ``filters`` is the kind's strict pydantic model (:class:`UsersFilters`,
:class:`ReportsFilters`, :class:`ComplianceFilters`, :class:`AttendanceFilters`,
:class:`ApprovalsFilters`: unknown keys, wrong types — ``"false"`` for a bool, ``1.5`` for an
id —, out-of-range ids and malformed dates are refused with a 422 naming the field). Default
dates are days of the company's zone (``Settings.tz``), never the host's. The data areas add
their kinds here as they land (``reports``, ``compliance`` — 日志统计 —, ``attendance``,
``approvals``), using the same writers as their CLI exports. ``reports`` and
``approvals`` take the filters of their list APIs and hand the writers the scope as a
:class:`~dingsync.store.visibility.Visible`, which they apply in SQL with the list APIs' own
conditions: an export holds exactly the rows the same person lists with the same filters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)
from sqlalchemy import Connection

from dingsync.export import contacts as export_contacts
from dingsync.store import repo_attendance, visibility
from dingsync.timeutil import check_day
from dingsync.web import rules
from dingsync.web.context import WebContext
from dingsync.web.data import ApprovalResult, ApprovalStatus, day_bounds, dept_filter, visible

Writer = Callable[[WebContext, Connection, rules.Scope, Any, str, str], int]

# --------------------------------------------------------------------------------------------
# Filters: one strict model per kind (unknown keys, "false" strings, 1.5, out-of-range ids and
# malformed dates are a 422 ``request.invalid`` naming the field; null means "not given")
# --------------------------------------------------------------------------------------------
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: Years a ``month`` filter may name (work dates are stored as UTC instants).
MONTH_YEARS = (1900, 9998)


def _iso_day(value: Any) -> Any:
    """``YYYY-MM-DD`` (a string, exactly) → :class:`date` in
    :data:`~dingsync.timeutil.DAY_RANGE` (years 1900 … 9998, as the console and the CLI
    take); anything else is refused."""
    if isinstance(value, date):
        return check_day(value)
    if not isinstance(value, str) or not _DAY.match(value):
        raise ValueError("must be a date string YYYY-MM-DD")
    return check_day(date.fromisoformat(value))  # ValueError for 2026-13-01, 2026-02-30


def _iso_month(value: Any) -> Any:
    """``YYYY-MM`` (two-digit month, a year in :data:`MONTH_YEARS`)."""
    if not isinstance(value, str):
        raise ValueError("must be a month string YYYY-MM")
    match = _MONTH.match(value)
    if match is None:
        raise ValueError("must be a month string YYYY-MM (e.g. 2026-11)")
    if not MONTH_YEARS[0] <= int(match.group(1)) <= MONTH_YEARS[1]:
        raise ValueError(f"year must be within {MONTH_YEARS[0]} … {MONTH_YEARS[1]}")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]
Month = Annotated[str, BeforeValidator(_iso_month)]
DeptId = Annotated[StrictInt, Field(ge=1, le=2**62)]
UserId = Annotated[StrictStr, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[StrictStr, StringConstraints(min_length=1, max_length=255)]
Code = Annotated[StrictStr, StringConstraints(min_length=1, max_length=64)]


class _Filters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def resolved(self, ctx: WebContext) -> _Filters:
        """These filters with their defaults filled in (what the export applies and the audit
        records as ``applied``)."""
        return self


class UsersFilters(_Filters):
    """Filters of the ``users`` export."""

    dept_id: DeptId | None = Field(None, description="only members of this department")
    recursive: StrictBool = Field(True, description="with its sub-departments (default true)")
    include_inactive: StrictBool = Field(
        False, description="also people no longer in the directory (default false)"
    )


class ReportsFilters(_Filters):
    """Filters of the ``reports`` export (as ``GET /api/reports``)."""

    template: Name = Field(description="report template name (required)")
    start_date: Day | None = Field(
        None, description="created on or after, YYYY-MM-DD (default 30 days before end_date)"
    )
    end_date: Day | None = Field(
        None,
        description="created on or before, YYYY-MM-DD (default today in the company's zone: "
        "DINGSYNC_TIMEZONE, Asia/Shanghai unless set; a later start_date: that day)",
    )
    creator: UserId | None = Field(None, description="creator userid")
    dept_id: DeptId | None = Field(None, description="creators in this department and below")

    def resolved(self, ctx: WebContext) -> ReportsFilters:
        """``end_date`` today in the company's zone (``Settings.tz``) — or ``start_date`` when
        that is later: a start in the future is an empty export, as ``GET /api/reports``
        lists nothing, not a 422 "end_date is before start_date" about a day not given —,
        ``start_date`` 30 days before ``end_date``."""
        end = self.end_date or ctx.default_end(self.start_date)
        start = self.start_date or end - timedelta(days=30)
        return self.model_copy(update={"start_date": start, "end_date": end})


class ComplianceFilters(_Filters):
    """Filters of the ``compliance`` export (日志统计, as ``GET /api/reports/stats``)."""

    template: Name = Field(description="report template name (required)")
    start_date: Day | None = Field(
        None,
        description="first day, YYYY-MM-DD (default the 28 days up to end_date, from the "
        "template's first synced report on)",
    )
    end_date: Day | None = Field(
        None,
        description="last day, inclusive, YYYY-MM-DD (default yesterday in the company's zone)",
    )
    dept_id: DeptId | None = Field(None, description="people in this department and below")

    def resolved(self, ctx: WebContext) -> ComplianceFilters:
        """``end_date`` yesterday in the company's zone (``Settings.tz``); a missing
        ``start_date`` stays the stats page's default (28 days up to ``end_date``, not before
        the template's first synced report: :func:`dingsync.web.routers.reports.stats_range`)."""
        return self.model_copy(
            update={"end_date": self.end_date or ctx.today() - timedelta(days=1)}
        )


class AttendanceFilters(_Filters):
    """Filters of the ``attendance`` export."""

    month: Month | None = Field(
        None,
        description="YYYY-MM (default this month in the company's zone: DINGSYNC_TIMEZONE, "
        "Asia/Shanghai unless set)",
    )
    dept_id: DeptId | None = Field(None, description="people in this department and below")

    def resolved(self, ctx: WebContext) -> AttendanceFilters:
        """``month``: this month in the company's zone (``Settings.tz``) by default."""
        return self.model_copy(update={"month": self.month or ctx.today().strftime("%Y-%m")})


class ApprovalsFilters(_Filters):
    """Filters of the ``approvals`` export (as ``GET /api/approvals``)."""

    template: Name | None = Field(
        None, description="process code or template name (this or process_code is required)"
    )
    process_code: Code | None = Field(None, description="process code of the template")
    status: ApprovalStatus | None = Field(
        None, description="NEW, RUNNING, COMPLETED, TERMINATED (withdrawn) or CANCELED"
    )
    start_date: Day | None = Field(None, description="created on or after, YYYY-MM-DD")
    end_date: Day | None = Field(None, description="created on or before, YYYY-MM-DD")
    originator: UserId | None = Field(None, description="originator userid")
    dept_id: DeptId | None = Field(None, description="originators in this department and below")
    result: ApprovalResult | None = Field(None, description="agree or refuse (finished ones)")
    details: Literal["sheet", "rows"] = Field(
        "sheet",
        description="detail tables (明细): sheet — a second xlsx sheet (csv: left out); rows — "
        "flattened one row per detail row, as DingTalk's own export",
    )

    @model_validator(mode="after")
    def _one_template(self) -> ApprovalsFilters:
        if self.template is None and self.process_code is None:
            raise ValueError("template (a process code or template name) is required")
        return self


@dataclass(frozen=True)
class ExportKind:
    """``name`` (the API's ``kind``), ``data`` (the rules' data kind), ``write``, and the
    ``model`` of the filters it accepts (:attr:`filters`: name → description)."""

    name: str
    data: rules.DataKind
    write: Writer
    model: type[_Filters]
    filters: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        described = {name: info.description or "" for name, info in self.model.model_fields.items()}
        object.__setattr__(self, "filters", described)


def _write_users(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: UsersFilters,
    fmt: str,
    path: str,
) -> int:
    tree = ctx.tree(conn)
    dept_ids: set[int] | None = None
    if filters.dept_id is not None:
        dept = filters.dept_id
        dept_ids = set(tree.subtree([dept])) if filters.recursive else {dept}
    # The filter and the scope are two conditions on the person (as the attendance, reports
    # and approvals exports and the list APIs apply them): a member of the filtered department
    # in scope through another of their departments is exported.
    return export_contacts.export_users(
        conn,
        ctx.corp_id,
        path,
        fmt,
        dept_ids=None if dept_ids is None else sorted(dept_ids),
        scope_dept_ids=None if scope.everything else sorted(scope.depts),
        include_inactive=filters.include_inactive,
    )


def _fmt(fmt: str) -> Literal["xlsx", "csv"]:
    return "csv" if fmt == "csv" else "xlsx"


def _visible(scope: rules.Scope) -> visibility.Visible | None:
    """The export scope as the writers' visibility filter (``None``: everything)."""
    return None if scope.everything else visible(scope)


def _write_reports(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: ReportsFilters,
    fmt: str,
    path: str,
) -> int:
    """Reports of one template: exactly the rows ``GET /api/reports`` lists to the same person
    with the same filters (``template``, ``start_date``, ``end_date``, ``creator``,
    ``dept_id``) — the same SQL conditions, the viewer's scope applied in SQL. ``end_date``
    defaults to today in the company's zone (``Settings.tz``), ``start_date`` to 30 days
    before it. A template the company has not synced is ``request.invalid`` (422), as on the
    CLI."""
    from dingsync.export import reports as export_reports
    from dingsync.web.routers.reports import require_template

    filters = filters.resolved(ctx)
    start, end = filters.start_date, filters.end_date
    assert start is not None and end is not None
    day_bounds(ctx, start, end)  # end before start, or a day out of range: request.invalid
    require_template(ctx, conn, filters.template)
    return int(
        export_reports.export_reports(
            conn,
            ctx.corp_id,
            filters.template,
            start,
            end,
            path,
            _fmt(fmt),
            dept_ids=dept_filter(ctx, conn, filters.dept_id),
            creator=filters.creator,
            visible=_visible(scope),
            tz=ctx.settings.tz,
        )
    )


def _write_compliance(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: ComplianceFilters,
    fmt: str,
    path: str,
) -> int:
    """日志统计 of one template: the numbers ``GET /api/reports/stats`` (and the console page,
    and ``dingsync reports compliance``) give the same person with the same filters — one
    computation, :func:`dingsync.export.report_rules.compliance_by_rule` (the template's synced
    DingTalk 统计规则, else the default rule), over the people whose reports the scope admits
    as their owner's (not reports merely received) — written by
    :func:`~dingsync.export.reports.write_compliance`: csv the person × day rows; xlsx also
    个人汇总, 部门提交率 (numbers as numbers) and 统计规则. Rows counted: the person × day
    rows. Unknown template or a range over the page's limit: ``request.invalid`` (422)."""
    import dataclasses

    from dingsync.export import report_rules
    from dingsync.export import reports as export_reports
    from dingsync.web.routers.reports import stats_range

    filters = filters.resolved(ctx)
    start, end = stats_range(ctx, conn, filters.template, filters.start_date, filters.end_date)
    seen = _visible(scope)
    result = report_rules.compliance_by_rule(
        conn,
        ctx.corp_id,
        filters.template,
        start,
        end,
        dept_id=filters.dept_id,
        today=ctx.today(),
        tz=ctx.settings.tz,
        people=None if seen is None else dataclasses.replace(seen, participant=None),
    )
    return export_reports.write_compliance(result, path, _fmt(fmt))


def _write_attendance(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: AttendanceFilters,
    fmt: str,
    path: str,
) -> int:
    """The monthly summary of ``month`` (default: this month in the company's zone) for the people
    the scope admits (:func:`dingsync.store.repo_attendance.visible_userids`: the people
    ``GET /api/attendance/monthly`` lists to the same viewer)."""
    from dingsync.export import attendance as export_attendance

    month = filters.resolved(ctx).month
    assert month is not None
    summary = export_attendance.monthly_summary(
        conn,
        ctx.corp_id,
        month,
        dept_id=filters.dept_id,
        tz=ctx.settings.tz,
        overtime_rule=ctx.settings.attendance_overtime_rule,
        with_records=fmt != "csv",
    )
    # The people the scope admits (as GET /api/attendance/monthly lists them).
    allowed = repo_attendance.visible_userids(conn, ctx.corp_id, visible(scope))
    if allowed is not None:
        summary.rows = [r for r in summary.rows if r.userid in allowed]
        summary.daily = [d for d in summary.daily if d.userid in allowed]
        summary.disagreements = [d for d in summary.disagreements if d.userid in allowed]
        summary.records = [p for p in summary.records if p.userid in allowed]
    if fmt == "csv":
        export_attendance.write_csv(summary, path)
    else:
        export_attendance.write_xlsx(summary, path)
    return len(summary.rows)


def _write_approvals(
    ctx: WebContext,
    conn: Connection,
    scope: rules.Scope,
    filters: ApprovalsFilters,
    fmt: str,
    path: str,
) -> int:
    """Instances of one template: exactly the rows ``GET /api/approvals`` lists to the same
    person with the same filters (``process_code`` — or ``template``, a code or a name —,
    ``status``, ``result``, ``start_date``, ``end_date``, ``originator``, ``dept_id``): the same SQL
    conditions, the viewer's scope applied in SQL. Columns: DingTalk's export's first columns,
    then the form's fields (:mod:`dingsync.export.approvals`). ``details``: ``sheet`` — xlsx
    has a 明细 sheet, csv only the main file (the detail rows' file is dropped); ``rows`` — one
    row per detail row (then the rows counted are the file's rows)."""
    from dingsync.export import approvals as export_approvals
    from dingsync.store import repo_approvals

    name = filters.template or filters.process_code
    assert name is not None  # the model requires one
    template = repo_approvals.find_template(conn, ctx.corp_id, name)
    if template is None:
        raise ValueError(f"no approval template {name!r}")
    code = filters.process_code
    if code is not None and code != template["process_code"]:
        raise ValueError("filters.process_code and filters.template name different templates")
    lo, hi = day_bounds(ctx, filters.start_date, filters.end_date)
    result = export_approvals.export_approvals(
        conn,
        ctx.corp_id,
        template,
        Path(path),
        _fmt(fmt),
        created_from=lo,
        created_to=hi,
        status=filters.status,
        result=filters.result,
        originator=filters.originator,
        dept_ids=dept_filter(ctx, conn, filters.dept_id),
        visible=_visible(scope),
        tz=ctx.settings.tz,
        details=filters.details,
    )
    for extra in result.paths[1:]:  # csv: the detail rows go to a second file
        extra.unlink(missing_ok=True)
    return int(result.rows)


KINDS: dict[str, ExportKind] = {
    "users": ExportKind("users", "directory", _write_users, UsersFilters),
    "reports": ExportKind("reports", "reports", _write_reports, ReportsFilters),
    "compliance": ExportKind("compliance", "reports", _write_compliance, ComplianceFilters),
    "attendance": ExportKind("attendance", "attendance", _write_attendance, AttendanceFilters),
    "approvals": ExportKind("approvals", "approvals", _write_approvals, ApprovalsFilters),
}
