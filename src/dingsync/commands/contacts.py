"""CLI commands for the directory (通讯录): ``dingsync contacts summary``. It reads the synced
database (``DINGSYNC_DATABASE_URL`` or ``--database-url``); the corp is ``--corp-id``, else
``DINGTALK_CORP_ID``, else the only corp in the database. ``dingsync sync --only contacts``
fills it.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from dingsync.commands.consoles import console
from dingsync.commands.errors import open_corp

contacts_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Directory (通讯录): what the database holds.",
    no_args_is_help=True,
)

#: ``repo.count_summary`` keys → what the table calls them.
LABELS = {
    "departments": "Departments",
    "removed_departments": "Departments removed",
    "users": "Users (rows)",
    "active_users": "Users in the directory",
    "inactive_users": "Users not seen in the last walk",
    "left_users": "Users who left",
    "multi_department_users": "Users in several departments",
    "memberships": "Department memberships",
    "admins": "Administrators",
    "sub_admins": "Sub-administrators",
    "leavers": "Leavers (departure records)",
    "roles": "Roles",
    "role_members": "Role members (per role)",
}


@contacts_app.command("summary")
def summary_cmd(
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    corp_id: Annotated[
        str | None, typer.Option(help="CorpId (default: configured or only one).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
) -> None:
    """Departments, people, memberships, administrators, leavers and roles stored for the corp
    (row counts, as ``repo.count_summary`` gives them)."""
    from dingsync.store import repo

    engine, corp, _tz = open_corp(database_url, corp_id)
    with engine.connect() as conn:
        counts = repo.count_summary(conn, corp)
    if json_output:
        sys.stdout.write(json.dumps({"corp_id": corp, **counts}, indent=2) + "\n")
        return
    table = Table(title=f"Directory — corp {corp}")
    table.add_column("What")
    table.add_column("Count", justify="right")
    for key, n in counts.items():
        table.add_row(LABELS.get(key, key), str(n))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``dingsync contacts …`` to ``app``."""
    app.add_typer(contacts_app, name="contacts")
