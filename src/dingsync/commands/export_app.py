"""The shared ``dingsync export <kind>`` sub-app: each area adds its command to it, and records
what it wrote in the export audit with :func:`audit_cli_export`."""

from __future__ import annotations

import getpass
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from dingsync.export import file_digest

export_app = typer.Typer(
    rich_markup_mode="markdown", help="Export data to xlsx/csv.", no_args_is_help=True
)


class FileFormat(StrEnum):
    """``--format`` of a file export (anything else is a usage error, exit 2)."""

    xlsx = "xlsx"
    csv = "csv"


class ViewFormat(StrEnum):
    """``--format`` of a report that prints a table or writes a file."""

    table = "table"
    xlsx = "xlsx"
    csv = "csv"


#: The file formats a file name's suffix names (case-insensitive).
SUFFIX_FORMATS = {".xlsx": FileFormat.xlsx, ".csv": FileFormat.csv}

#: ``--format``'s help on the commands that write a file.
FILE_FORMAT_HELP = "xlsx or csv (default: the --output file's suffix; xlsx without --output)."
#: ``--format``'s help on the commands that print a table or write a file.
VIEW_FORMAT_HELP = (
    "table, xlsx or csv (default: the --output file's suffix, .xlsx or .csv; table without "
    "--output)."
)


def file_format(given: FileFormat | None, output: Path | None) -> FileFormat:
    """The format a file export writes: ``--format`` when given, else the ``--output`` file's
    suffix (``.xlsx`` / ``.csv``, :data:`SUFFIX_FORMATS`), else xlsx (no ``--output``: the
    default file name then carries it). Raises :class:`typer.BadParameter` (a usage error, exit
    2) for an output suffix that names no format when ``--format`` is not given (``r.txt``
    would get xlsx bytes under a text name), and for a ``.xlsx`` / ``.csv`` suffix that
    ``--format`` contradicts."""
    named = SUFFIX_FORMATS.get(output.suffix.lower()) if output is not None else None
    if given is not None:
        if output is not None and named is not None and named != given:
            raise typer.BadParameter(
                f"--format {given.value} would write {given.value} into {output.name!r}: "
                f"name the file .{given.value}, or drop --format to write {named.value}",
                param_hint="'--format'",
            )
        return given
    if output is None:
        return FileFormat.xlsx
    if named is None:
        raise typer.BadParameter(
            f"cannot tell the format from {output.name!r}: name the file .xlsx or .csv, or "
            "pass --format xlsx|csv",
            param_hint="'--output' / '-o'",
        )
    return named


def view_format(given: ViewFormat | None, output: Path | None) -> ViewFormat:
    """The format of a command that prints a table or writes a file: ``table`` without
    ``--output`` (and no ``--format``); with ``--output``, as :func:`file_format`. Raises
    :class:`typer.BadParameter` (exit 2) as :func:`file_format` does, and for ``--format
    table`` with ``--output`` (a table is printed, never written: the file would silently not
    be written)."""
    if given is ViewFormat.table:
        if output is not None:
            raise typer.BadParameter(
                "--format table prints the table and writes no file: drop --output, or pass "
                "--format xlsx|csv",
                param_hint="'--format'",
            )
        return given
    if given is None and output is None:
        return ViewFormat.table
    picked = file_format(None if given is None else FileFormat(given.value), output)
    return ViewFormat(picked.value)


def require_departments(conn: Any, corp_id: str, dept_ids: Sequence[int] | int | None) -> None:
    """``--dept`` ids must be departments the store knows for ``corp_id`` (an unknown id would
    silently give an empty file): a usage error (exit 2) naming the unknown ones."""
    from sqlalchemy import select

    from dingsync.store.schema import departments

    wanted = [dept_ids] if isinstance(dept_ids, int) else list(dept_ids or [])
    if not wanted:
        return
    known = {
        int(d)
        for (d,) in conn.execute(
            select(departments.c.dept_id).where(
                departments.c.corp_id == corp_id, departments.c.dept_id.in_(wanted)
            )
        )
    }
    unknown = [d for d in wanted if d not in known]
    if unknown:
        raise typer.BadParameter(
            f"no department {', '.join(map(str, unknown))} in organisation {corp_id} "
            "(see `GET /api/departments` or the departments table)",
            param_hint="--dept",
        )


def cli_user() -> str:
    """Who runs the CLI, as the audit's ``userid``: ``cli:<OS user>`` (at most 64 chars)."""
    try:
        name = getpass.getuser()
    except Exception:  # no login name and no passwd entry (some containers)
        name = "unknown"
    return f"cli:{name}"[:64]


def audit_cli_export(
    engine: Any,
    corp_id: str,
    kind: str,
    fmt: str,
    filters: Mapping[str, Any],
    rows: int,
    paths: Sequence[str | Path],
) -> int:
    """Append the audit row of a CLI export (DESIGN.md §7: every export path is audited) and
    return its id: who (:func:`cli_user`), when, ``kind``, ``format``, ``filters`` (as given,
    plus the file names), ``row_count``, and the SHA-256 and size of the first file in
    ``paths`` (the export itself; further files — an approvals csv's detail rows — are
    recorded with their own SHA-256 in ``filters.files``). ``client`` is ``cli``."""
    from dingsync.store import repo_audit
    from dingsync.store.schema import utcnow

    files = []
    for p in paths:
        sha, size = file_digest(p)
        files.append({"name": Path(p).name, "sha256": sha, "byte_size": size})
    with engine.begin() as conn:
        return repo_audit.append_export_audit(
            conn,
            {
                "corp_id": corp_id,
                "userid": cli_user(),
                "created_at": utcnow(),
                "kind": kind,
                "format": fmt,
                "filters": {"requested": dict(filters), "scope": "all", "files": files},
                "row_count": int(rows),
                "sha256": files[0]["sha256"],
                "byte_size": files[0]["byte_size"],
                "client": "cli",
            },
        )
