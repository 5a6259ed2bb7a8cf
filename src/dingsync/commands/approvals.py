"""CLI commands for approvals (审批): ``dingsync export approvals`` and ``dingsync approvals
stats``. Both read the database only (run ``dingsync sync`` first).

Registered on the ``dingsync`` app by ``dingsync.cli``.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from dingsync.commands.consoles import console
from dingsync.commands.errors import check_corp_held, fail, open_synced
from dingsync.commands.export_app import (
    FILE_FORMAT_HELP,
    FileFormat,
    audit_cli_export,
    export_app,
    file_format,
    require_departments,
)


class DetailsLayout(StrEnum):
    """Where ``dingsync export approvals`` writes the detail tables (明细)."""

    sheet = "sheet"
    rows = "rows"


approvals_app = typer.Typer(
    rich_markup_mode="markdown", help="Approvals (审批): statistics.", no_args_is_help=True
)


def _engine(database_url: str | None) -> Any:
    from dingsync.config import load_settings

    overrides = {"DINGSYNC_DATABASE_URL": database_url} if database_url else {}
    settings = load_settings(**overrides)
    return open_synced(settings.database_url), settings


def _corp_id(conn: Any, given: str | None) -> str:
    """The corp to read: ``--corp-id``, else ``DINGTALK_CORP_ID``, else the only one stored."""
    from sqlalchemy import select

    from dingsync.store.schema_approvals import approval_templates

    if given:
        check_corp_held(conn, given)
        return given
    corps = list(conn.execute(select(approval_templates.c.corp_id).distinct()).scalars())
    if len(corps) == 1:
        return str(corps[0])
    if not corps:
        raise typer.BadParameter("no approvals stored yet: run `dingsync sync` first")
    raise typer.BadParameter(f"several corps stored ({', '.join(corps)}): give --corp-id")


def _checked_day(value: str | None) -> str | None:
    """``--from``/``--to``, checked before anything is opened: a ``YYYY-MM-DD`` day in
    :data:`dingsync.timeutil.DAY_RANGE`, else a usage error (exit 2)."""
    from dingsync.timeutil import check_day

    if not value:
        return value
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None
    try:
        check_day(day)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


def _day(value: str | None, tz: tzinfo, *, end: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (a calendar day of the company zone ``tz``, checked by
    :func:`_checked_day`) → aware instant; ``end`` → the next midnight."""
    if not value:
        return None
    day = date.fromisoformat(value)
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(0), tz)


def _require_template(conn: Any, corp_id: str, template: str) -> dict[str, Any]:
    """The stored approval template named ``template`` (its name or process code); else one
    ``error: no approval template …; known: …`` line and exit 2, as ``export reports`` says
    an unknown report template (a typo is not an empty export)."""
    from dingsync.store import repo_approvals

    tpl = repo_approvals.find_template(conn, corp_id, template)
    if tpl is None:
        names = sorted(
            str(t["name"] or t["process_code"])
            for t in repo_approvals.load_templates(conn, corp_id)
        )
        fail(
            f"no approval template {template!r}; known: {', '.join(names) or 'none synced'}",
            exit_code=2,
        )
    return dict(tpl)


@export_app.command("approvals")
def export_approvals_cmd(
    template: Annotated[
        str, typer.Option("--template", "-t", help="Template name or process code (e.g. 报销).")
    ],
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="First create day, YYYY-MM-DD (company zone).", callback=_checked_day
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", help="Last create day, YYYY-MM-DD (inclusive).", callback=_checked_day
        ),
    ] = None,
    format_: Annotated[
        FileFormat | None, typer.Option("--format", "-f", help=FILE_FORMAT_HELP)
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    dept: Annotated[
        list[int] | None,
        typer.Option(
            "--dept", help="Only originators in these departments and below (repeatable)."
        ),
    ] = None,
    details: Annotated[
        DetailsLayout,
        typer.Option(
            "--details",
            help="Detail tables (明细): 'sheet' — a second sheet (xlsx) or file (csv); 'rows' "
            "— flattened one row per detail row, as DingTalk's own export.",
        ),
    ] = DetailsLayout.sheet,
    corp_id: Annotated[
        str | None, typer.Option(help="Corp to export (default: the only one).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
) -> None:
    """Export one template's approval instances: DingTalk's export columns (审批编号, 标题,
    审批状态 … 当前处理人姓名), then a column per form field; detail tables (明细) in a second
    sheet (xlsx) or file (csv), or with ``--details rows`` one row per detail row."""
    from dingsync.export.approvals import export_approvals
    from dingsync.store.repo_contacts import department_subtree

    fmt = file_format(format_, output).value
    engine, settings = _engine(database_url)
    created_from, created_to = _day(from_, settings.tz), _day(to, settings.tz, end=True)
    if created_from is not None and created_to is not None and created_to <= created_from:
        # as ``export reports`` (and the API's 422): a reversed range is a mistake, not an
        # empty file with an audit row
        raise typer.BadParameter(f"--to {to} is before --from {from_}")
    with engine.connect() as conn:
        cid = _corp_id(conn, corp_id or settings.corp_id)
        tpl = _require_template(conn, cid, template)
        require_departments(conn, cid, dept)
        path = output or Path(f"approvals-{tpl['name'] or tpl['process_code']}.{fmt}")
        result = export_approvals(
            conn,
            cid,
            tpl,
            path,
            fmt,  # type: ignore[arg-type]
            created_from=created_from,
            created_to=created_to,
            dept_ids=department_subtree(conn, cid, dept) if dept else None,
            tz=settings.tz,
            details=details.value,
        )
    requested: dict[str, Any] = {"template": template, "process_code": tpl["process_code"]}
    if details.value != "sheet":
        requested["details"] = details.value
    requested.update({k: v for k, v in (("start_date", from_), ("end_date", to)) if v})
    if dept:
        requested["dept_id"] = list(dept)
    audit_id = audit_cli_export(
        engine, cid, "approvals", fmt, requested, result.rows, list(result.paths)
    )
    files = ", ".join(str(p) for p in result.paths)
    if details.value == "rows":
        typer.echo(
            f"{result.rows} rows ({result.detail_rows} detail rows, one row each) → {files} "
            f"(export audit #{audit_id})"
        )
    else:
        typer.echo(
            f"{result.rows} instances, {result.detail_rows} detail rows → {files} "
            f"(export audit #{audit_id})"
        )
    if result.extra_columns:
        typer.echo(
            "columns not in the template's form (kept from older instances): "
            + ", ".join(result.extra_columns)
        )


@approvals_app.command("stats")
def stats_cmd(
    template: Annotated[
        str | None, typer.Option("--template", "-t", help="Only this template (name or code).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    corp_id: Annotated[str | None, typer.Option(help="Corp (default: the only one).")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
) -> None:
    """Counts by status and result, approval rate and cycle time (create → finish) p50/p90 per
    template."""
    from rich.table import Table

    from dingsync.export.approvals import approval_stats

    engine, settings = _engine(database_url)
    with engine.connect() as conn:
        cid = _corp_id(conn, corp_id or settings.corp_id)
        code = None
        if template:
            code = _require_template(conn, cid, template)["process_code"]
        stats = approval_stats(conn, cid, code)
    if json_output:
        sys.stdout.write(json.dumps(stats, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"Approvals — corp {cid}")
    for col in (
        "Template",
        "Instances",
        "By status",
        "By result",
        "Approval rate",
        "Cycle p50 (h)",
        "Cycle p90 (h)",
    ):
        table.add_column(
            col, justify="right" if col not in ("Template", "By status", "By result") else "left"
        )
    for s in stats:
        rate = "" if s["approval_rate"] is None else f"{s['approval_rate'] * 100:.1f} %"
        table.add_row(
            s["template"],
            str(s["instances"]),
            "\n".join(f"{k} {v}" for k, v in s["by_status"].items()),
            "\n".join(f"{k or '(none)'} {v}" for k, v in s["by_result"].items()),
            rate,
            "" if s["cycle_p50_h"] is None else f"{s['cycle_p50_h']:.1f}",
            "" if s["cycle_p90_h"] is None else f"{s['cycle_p90_h']:.1f}",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``dingsync approvals …`` to ``app`` (``dingsync export approvals`` is on the shared
    export sub-app)."""
    app.add_typer(approvals_app, name="approvals")
