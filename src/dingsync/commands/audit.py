"""CLI of the export audit: ``dingsync audit verify`` checks its hash chain. Registered on the
``dingsync`` app by :func:`dingsync.commands.register_all`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from dingsync.commands.errors import (
    database_failure,
    debugging,
    fail,
    missing_sqlite_file,
    open_engine,
    redact_url,
)
from dingsync.config import load_settings

console = Console()
err_console = Console(stderr=True)

#: How to go on when the database holds no export audit.
_HINT = (
    "point DINGSYNC_DATABASE_URL (or --database-url) at the service's database; "
    "`dingsync migrate` creates the schema of a new one"
)

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
    migration), so a role with SELECT on the audit may run it: a database without the audit
    (no SQLite file, a schema never migrated) is exit 2, and nothing is created."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from dingsync.store import repo_audit
    from dingsync.store.schema_web import web_export_audit

    overrides = {"DINGSYNC_DATABASE_URL": database_url} if database_url else {}
    settings = load_settings(**overrides)
    url = settings.database_url
    missing = missing_sqlite_file(url)
    if missing is not None:
        fail(f"no export audit in {redact_url(url)} (no file {missing})", _HINT, exit_code=2)
    engine = open_engine(url, migrate=False)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(web_export_audit.name):
                fail(
                    f"no export audit in {redact_url(url)}: the schema is not migrated",
                    _HINT,
                    exit_code=2,
                )
            check = repo_audit.verify_export_audit(conn)
    except SQLAlchemyError as exc:  # the server does not answer, a permission, …
        if debugging():
            raise
        raise database_failure(url, exc) from exc
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
