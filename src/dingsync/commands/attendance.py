"""CLI commands for attendance (考勤): ``dingsync attendance summary`` and
``dingsync export attendance``.

Registered on the ``dingsync`` app by ``dingsync.cli`` (``register``); both read the database
(``DINGSYNC_DATABASE_URL`` or ``--database-url``) filled by ``dingsync sync``/``demo``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dingsync.commands.consoles import console, err_console
from dingsync.commands.errors import check_corp_held, open_synced
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

attendance_app = typer.Typer(
    rich_markup_mode="markdown", help="Attendance (考勤): monthly summary.", no_args_is_help=True
)


def _month(value: str) -> str:
    """``--month``: checked before anything is opened — ``YYYY-MM`` with a year in 1900 …
    9998 (:func:`dingsync.export.attendance.month_range`), else a usage error (exit 2)."""
    from dingsync.export.attendance import month_range

    try:
        month_range(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


MonthOpt = Annotated[
    str, typer.Option("--month", help="Month as YYYY-MM, e.g. 2026-11.", callback=_month)
]
DeptOpt = Annotated[
    int | None, typer.Option("--dept", help="Only this department and its sub-departments.")
]
DbOpt = Annotated[str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")]
CorpOpt = Annotated[
    str | None, typer.Option(help="CorpId (default: DINGTALK_CORP_ID or the last synced corp).")
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="File to write (default: in ./).")
]


def _open(database_url: str | None, corp_id: str | None, dept: int | None) -> tuple[Any, Any, str]:
    """The settings, the engine and the corp to read (the last synced one by default)."""
    from sqlalchemy import select

    from dingsync.config import load_settings
    from dingsync.store.schema import sync_runs

    overrides = {"DINGSYNC_DATABASE_URL": database_url} if database_url else {}
    settings = load_settings(**overrides)
    engine = open_synced(settings.database_url)
    with engine.connect() as conn:
        cid = corp_id or settings.corp_id
        if cid:
            check_corp_held(conn, cid)
        else:
            cid = conn.execute(
                select(sync_runs.c.corp_id).order_by(sync_runs.c.id.desc()).limit(1)
            ).scalar()
        if not cid:
            err_console.print("error: no synced organisation; run `dingsync sync` or `demo` first")
            raise typer.Exit(2)
        require_departments(conn, str(cid), dept)
    return settings, engine, str(cid)


def _load(
    database_url: str | None,
    corp_id: str | None,
    month: str,
    dept: int | None,
    *,
    with_records: bool = False,
) -> tuple[Any, Any, str]:
    """The monthly summary, the engine and the corp it was read for."""
    from dingsync.export.attendance import monthly_summary

    settings, engine, cid = _open(database_url, corp_id, dept)
    with engine.connect() as conn:
        try:
            return (
                monthly_summary(
                    conn,
                    cid,
                    month,
                    dept,
                    tz=settings.tz,
                    overtime_rule=settings.attendance_overtime_rule,
                    with_records=with_records,
                ),
                engine,
                cid,
            )
        except ValueError as exc:
            err_console.print(f"error: {exc}")
            raise typer.Exit(2) from exc


def _write(summary: Any, fmt: str, output: Path | None) -> Path:
    from dingsync.export.attendance import write_csv, write_xlsx

    path = output or Path(f"attendance-{summary.month}.{fmt}")
    if fmt == "xlsx":
        return write_xlsx(summary, path)
    return write_csv(summary, path)


def _print_table(summary: Any) -> None:
    from dingsync.export.attendance import METRIC_LABELS, summary_records

    table = Table(title=f"考勤月度汇总 {summary.start} — {summary.end} ({len(summary.rows)} 人)")
    leave = [c.label for c in summary.leave_columns]
    for header in ["姓名", "UserId", *METRIC_LABELS.values(), *leave]:
        table.add_column(header, justify="right" if header not in ("姓名", "UserId") else "left")
    for rec in summary_records(summary):
        table.add_row(rec[0], rec[4], *(str(v) for v in rec[5:]))
    console.print(table)
    _print_check(summary)


def _print_check(summary: Any) -> None:
    from dingsync.export.attendance import METRIC_LABELS

    if not summary.columns_synced:
        console.print("cross-check: DingTalk report columns not synced (nothing to compare)")
    elif not summary.disagreements:
        console.print("cross-check: every person agrees with DingTalk's report columns")
    else:
        console.print(
            f"[bold red]cross-check: {len(summary.disagreements)} disagreement(s) "
            "with DingTalk's report columns[/]"
        )
        for d in summary.disagreements:
            console.print(
                f"  {d.name} ({d.userid}) {METRIC_LABELS[d.metric]}: computed {d.ours:g}, "
                f"DingTalk {d.dingtalk:g}"
            )


@attendance_app.command("summary")
def summary_command(
    month: MonthOpt,
    dept: DeptOpt = None,
    format_: Annotated[ViewFormat | None, typer.Option("--format", help=VIEW_FORMAT_HELP)] = None,
    output: OutputOpt = None,
    database_url: DbOpt = None,
    corp_id: CorpOpt = None,
) -> None:
    """Per person, DingTalk's 月度汇总 columns in its order (应出勤天数 … 补卡次数, then 请假 per
    leave type in its unit) — computed from the synced results, schedules, leave and trip
    approvals, and checked against DingTalk's report columns when they were synced. A file
    written (xlsx/csv) is recorded in the export audit as ``dingsync export attendance`` records
    its own (kind ``attendance``, client ``cli``); a table printed is not."""
    fmt = view_format(format_, output).value
    summary, engine, cid = _load(database_url, corp_id, month, dept)
    if fmt == "table":
        _print_table(summary)
        return
    path = _write(summary, fmt, output)
    audit_id = _audit(engine, cid, fmt, month, dept, summary, path)
    console.print(f"wrote {path} ({_holds(summary, fmt)}; export audit #{audit_id})")
    _print_check(summary)


def _holds(summary: Any, fmt: str) -> str:
    """What a written file holds, for the ``wrote …`` line: a csv only the 月度汇总 rows (one
    per person), an xlsx also the 每日统计 sheet's rows."""
    people = f"{len(summary.rows)} people"
    if fmt != "xlsx":
        return people
    return f"{people}, {len(summary.daily)} 每日统计 rows"


def _audit(
    engine: Any, corp_id: str, fmt: str, month: str, dept: int | None, summary: Any, path: Path
) -> int:
    """The export audit row of a monthly summary written to ``path``: kind ``attendance``,
    filters ``month`` (and ``dept_id``), one row per person."""
    requested: dict[str, Any] = {"month": month}
    if dept is not None:
        requested["dept_id"] = dept
    return audit_cli_export(
        engine, corp_id, "attendance", fmt, requested, len(summary.rows), [path]
    )


@export_app.command("attendance")
def export_attendance(
    month: MonthOpt,
    dept: DeptOpt = None,
    format_: Annotated[FileFormat | None, typer.Option("--format", help=FILE_FORMAT_HELP)] = None,
    output: OutputOpt = None,
    database_url: DbOpt = None,
    corp_id: CorpOpt = None,
) -> None:
    """The monthly attendance summary as an xlsx shaped like DingTalk's 考勤报表 (月度汇总 +
    每日统计 + 原始记录 + 核对差异 sheets) or as csv (月度汇总)."""
    fmt = file_format(format_, output).value
    summary, engine, cid = _load(database_url, corp_id, month, dept, with_records=fmt == "xlsx")
    path = _write(summary, fmt, output)
    audit_id = _audit(engine, cid, fmt, month, dept, summary, path)
    console.print(f"wrote {path} ({_holds(summary, fmt)}; export audit #{audit_id})")
    _print_check(summary)


async def crosscheck_month(
    conn: Any,
    client: Any,
    corp_id: str,
    month: str,
    dept_id: int | None = None,
    *,
    tz: Any,
    overtime_rule: str | None = None,
) -> Any:
    """The month's summary (``YYYY-MM``; optionally department ``dept_id`` and below) against
    DingTalk's own report, cell by cell: the summary
    (:func:`dingsync.export.attendance.monthly_summary`), DingTalk's report read live for its
    active people (:func:`dingsync.sync.attendance_report.fetch_report`), compared by
    :func:`dingsync.export.attendance_check.compare` → a ``CrossCheck``. Raises ``ValueError``
    for a malformed month or overtime rule (``overtime_rule``: the company's 加班规则, default
    ``Settings``' default), ``DingTalkError`` when DingTalk refuses."""
    from dingsync.export.attendance import monthly_summary
    from dingsync.export.attendance_check import active_people, compare, report_request
    from dingsync.sync.attendance_report import fetch_report

    summary = monthly_summary(conn, corp_id, month, dept_id, tz=tz, overtime_rule=overtime_rule)
    people = active_people(conn, corp_id, summary)
    aliases, leave_names = report_request(summary)
    report = await fetch_report(
        client, people, summary.start, summary.end, aliases=aliases, leave_names=leave_names
    )
    return compare(summary, report, people)


@attendance_app.command("crosscheck")
def crosscheck_command(
    month: MonthOpt,
    dept: DeptOpt = None,
    database_url: DbOpt = None,
    corp_id: CorpOpt = None,
) -> None:
    """Compare the monthly summary with DingTalk's own 考勤报表, cell by cell: DingTalk's
    column values (getcolumnval, getleavetimebynames) of every person for every column both
    sides have. Prints "N cells checked, N agree" and every disagreement with both values;
    exits 1 when any cell disagrees (2 on a usage or DingTalk error)."""
    import asyncio

    from dingsync.dingtalk import DingTalkError
    from dingsync.sync.runner import MissingCredentials, build_client

    settings, engine, cid = _open(database_url, corp_id, dept)

    async def main() -> Any:
        async with build_client(settings, engine) as client:
            with engine.connect() as conn:
                return await crosscheck_month(
                    conn,
                    client,
                    cid,
                    month,
                    dept,
                    tz=settings.tz,
                    overtime_rule=settings.attendance_overtime_rule,
                )

    try:
        check = asyncio.run(main())
    except MissingCredentials as exc:
        err_console.print(f"DingTalk credentials missing: set {exc}", markup=False)
        raise typer.Exit(2) from exc
    except ValueError as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from exc
    except DingTalkError as exc:
        err_console.print(f"DingTalk refused: {exc}", markup=False)
        raise typer.Exit(2) from exc
    console.print(
        f"考勤报表 {month}: {len(check.summary.rows) - len(check.skipped_people)} people × "
        f"{len(check.compared)} columns ({', '.join(check.compared)})",
        markup=False,
    )
    if check.not_compared:
        console.print(
            f"not compared (we do not compute them): {', '.join(check.not_compared)}",
            markup=False,
        )
    if check.skipped_people:
        console.print(
            f"not checked (no longer active): {len(check.skipped_people)} people", markup=False
        )
    for d in check.disagreements:
        console.print(
            f"  {d.name} ({d.userid}) {d.column}: ours {d.ours:g}, DingTalk {d.dingtalk:g}",
            markup=False,
        )
    console.print(check.headline(), markup=False)
    if not check.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``dingsync attendance …`` to ``app`` (``export attendance`` is on the export app)."""
    app.add_typer(attendance_app, name="attendance")
