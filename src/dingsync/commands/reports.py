"""CLI commands for reports (日志): ``dingsync export reports`` and ``dingsync reports
compliance``. Both read the synced database (``DINGSYNC_DATABASE_URL`` or ``--database-url``);
the corp is ``--corp-id``, else ``DINGTALK_CORP_ID``, else the only corp in the database.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dingsync.commands.consoles import console, err_console
from dingsync.commands.errors import fail, open_corp
from dingsync.commands.export_app import (
    FILE_FORMAT_HELP,
    VIEW_FORMAT_HELP,
    FileFormat,
    ViewFormat,
    audit_cli_export,
    export_app,
    file_format,
    require_departments,
    view_format,
)

reports_app = typer.Typer(
    rich_markup_mode="markdown", help="Reports (日志): submission compliance.", no_args_is_help=True
)

TemplateOpt = Annotated[str, typer.Option("--template", help="Template name, e.g. 日报.")]
FromOpt = Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, Asia/Shanghai).")]
ToOpt = Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD, inclusive).")]
DeptOpt = Annotated[
    int | None, typer.Option("--dept", help="Only this department and those below it.")
]
DbOpt = Annotated[str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")]
CorpOpt = Annotated[str | None, typer.Option(help="CorpId (default: configured or only one).")]


def _day(text: str, option: str) -> date:
    """``--from``/``--to`` as a date; exit 2 when it is not one or lies outside
    :data:`dingsync.timeutil.DAY_RANGE` (nothing is read or written then)."""
    from dingsync.timeutil import check_day

    try:
        day = date.fromisoformat(text)
    except ValueError:
        err_console.print(f"error: {option} must be a date like 2026-11-01, not {text!r}")
        raise typer.Exit(2) from None
    try:
        return check_day(day, option)
    except ValueError as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(2) from None


def _range(from_: str, to: str) -> tuple[date, date]:
    """``--from``/``--to`` as dates; exit 2 when one is not a date or the range is reversed
    (the API answers the same with 422)."""
    start, end = _day(from_, "--from"), _day(to, "--to")
    if end < start:
        err_console.print(f"error: --to {end} is before --from {start}")
        raise typer.Exit(2)
    return start, end


def _require_template(conn: Any, corp: str, template: str) -> None:
    """Exit 2 naming the known templates when ``template`` is none of them (a typo would
    otherwise look like an empty export)."""
    from dingsync.store.repo_reports import template_names

    known = template_names(conn, corp)
    if template not in known:
        fail(
            f"no report template {template!r}; known: {', '.join(known) or 'none synced'}",
            exit_code=2,
        )


@export_app.command("reports")
def export_reports_cmd(
    template: TemplateOpt,
    from_: FromOpt,
    to: ToOpt,
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    dept: Annotated[
        list[int] | None,
        typer.Option("--dept", help="Only these departments and those below them (repeatable)."),
    ] = None,
    format_: Annotated[FileFormat | None, typer.Option("--format", help=FILE_FORMAT_HELP)] = None,
    database_url: DbOpt = None,
    corp_id: CorpOpt = None,
) -> None:
    """One row per report of a template: its fields as columns, creator, department, times,
    receivers."""
    from dingsync.export.reports import export_reports
    from dingsync.store.repo_contacts import department_subtree

    fmt = file_format(format_, output).value
    start, end = _range(from_, to)
    engine, corp, tz = open_corp(database_url, corp_id)
    with engine.connect() as conn:
        _require_template(conn, corp, template)
        require_departments(conn, corp, dept)
        depts = department_subtree(conn, corp, dept) if dept else None
        n = export_reports(
            conn,
            corp,
            template,
            start,
            end,
            output,
            fmt,  # type: ignore[arg-type]
            dept_ids=depts,
            tz=tz,
        )
    requested: dict[str, Any] = {
        "template": template,
        "start_date": str(start),
        "end_date": str(end),
    }
    if dept:
        requested["dept_id"] = list(dept)
    audit_id = audit_cli_export(engine, corp, "reports", fmt, requested, n, [output])
    err_console.print(f"wrote {n} {template} reports to {output} (export audit #{audit_id})")


def _warn_unsynced(template: str, start: date, first: date | None) -> None:
    """Warn (stderr) as the console's 日志统计 does when days of the range were never synced:
    their 未提交 says nothing (``first``: the template's first synced report day, or None)."""
    if first is None:
        err_console.print(
            f"warning: no report of {template} is synced: every day counts as 未提交; run"
            " `dingsync sync` first",
            markup=False,
        )
    elif start < first:
        err_console.print(
            f"warning: {template}'s first synced report counts for {first}; {start} … "
            f"{first - timedelta(days=1)} hold no synced report of it (older ones were not"
            f" synced, or there were none), so their 未提交 says nothing — start at {first}"
            " or sync earlier reports",
            markup=False,
        )


@reports_app.command("compliance")
def compliance_cmd(
    template: TemplateOpt,
    from_: FromOpt,
    to: ToOpt,
    dept: DeptOpt = None,
    format_: Annotated[ViewFormat | None, typer.Option("--format", help=VIEW_FORMAT_HELP)] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File for xlsx/csv.")
    ] = None,
    database_url: DbOpt = None,
    corp_id: CorpOpt = None,
) -> None:
    """Per person per working day: submitted / late / missing; per department the rate. A file
    written (xlsx/csv) is recorded in the export audit as the web's 日志统计 export is (kind
    ``compliance``, client ``cli``, one row per person and day); a table printed is not."""
    from dingsync.export.report_rules import MAX_DAYS, compliance_by_rule, first_period_day
    from dingsync.export.reports import STATUS_LABELS, write_compliance

    fmt = view_format(format_, output).value
    if fmt != "table" and output is None:
        err_console.print("error: -o FILE is needed for xlsx/csv")
        raise typer.Exit(2)
    start, end = _range(from_, to)
    if (end - start).days >= MAX_DAYS:
        err_console.print(
            f"error: {start} … {end} is longer than {MAX_DAYS} days (日志统计's limit, as in the"
            " console and the API): split the range"
        )
        raise typer.Exit(2)
    engine, corp, tz = open_corp(database_url, corp_id)
    with engine.connect() as conn:
        _require_template(conn, corp, template)
        require_departments(conn, corp, dept)
        first = first_period_day(conn, corp, template, tz)
        result = compliance_by_rule(conn, corp, template, start, end, dept_id=dept, tz=tz)
    _warn_unsynced(template, start, first)
    rule_text = (result.rule or {}).get("text", "")
    if fmt != "table":
        assert output is not None
        n = write_compliance(result, output, fmt)  # type: ignore[arg-type]
        requested: dict[str, Any] = {
            "template": template,
            "start_date": str(start),
            "end_date": str(end),
        }
        if dept is not None:
            requested["dept_id"] = dept
        audit_id = audit_cli_export(engine, corp, "compliance", fmt, requested, n, [output])
        err_console.print(
            f"wrote {n} rows ({len(result.people)} people) to {output} (export audit #{audit_id})"
        )
        err_console.print(f"规则: {rule_text}", markup=False)
        return
    console.print(f"规则: {rule_text}", markup=False)
    unit = (
        "周期"
        if (result.rule or {}).get("source") == "dingtalk"
        else "周"
        if result.weekly
        else "工作日"
    )
    table = Table(title=f"{template} 提交情况 {start} – {end}（按{unit}）")
    for col in ("部门", "人数", "应交", "已提交", "迟交", "未提交", "提交率", "按时率"):
        table.add_column(col, justify="left" if col == "部门" else "right")
    for d in result.departments:
        table.add_row(
            d.name,
            str(d.people),
            str(d.expected),
            str(d.submitted),
            str(d.late),
            str(d.missing),
            f"{d.rate:.1%}",
            f"{d.on_time_rate:.1%}",
        )
    console.print(table)
    missing = [p for p in result.days if p.status == "missing"]
    people = Table(title=f"{STATUS_LABELS['missing']}（{len(missing)}）")
    for col in ("部门", "姓名", "UserID", "日期"):
        people.add_column(col)
    for p in missing[:200]:
        people.add_row(p.dept, p.name, p.userid, p.day.isoformat())
    console.print(people)
    if len(missing) > 200:
        console.print(f"… {len(missing) - 200} more; use --format xlsx|csv for all")


def register(app: typer.Typer) -> None:
    """Add ``dingsync reports …`` (``export reports`` is on the shared export sub-app)."""
    app.add_typer(reports_app, name="reports")
