"""CLI of the export audit: ``dingsync audit verify`` checks its hash chain. Registered on the
``dingsync`` app by :func:`dingsync.commands.register_all`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from dingsync.commands.errors import open_engine
from dingsync.config import load_settings

console = Console()
err_console = Console(stderr=True)

audit_app = typer.Typer(
    rich_markup_mode="markdown", help="The export audit (who exported what, when): check it."
)


@audit_app.command("verify")
def verify(
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
) -> None:
    """Walk the export audit's hash chain. Exit 0 when every row links to the one before and
    matches its hash; exit 1 naming the first broken row otherwise. Reads only (no
    migration), so a role with SELECT on the audit may run it."""
    from dingsync.store import repo_audit

    overrides = {"DINGSYNC_DATABASE_URL": database_url} if database_url else {}
    settings = load_settings(**overrides)
    engine = open_engine(settings.database_url, migrate=False)
    try:
        with engine.connect() as conn:
            check = repo_audit.verify_export_audit(conn)
    finally:
        engine.dispose()
    if check.ok:
        console.print(f"export audit: {check.rows} rows, hash chain intact")
        return
    err_console.print(
        f"export audit: chain broken at row id {check.broken_id} ({check.reason}); "
        f"{check.rows - 1} rows before it are intact"
    )
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``dingsync audit …`` to ``app``."""
    app.add_typer(audit_app, name="audit")
