"""CLI of the web service: ``dingsync serve``, ``dingsync users disable|enable|disabled``,
``dingsync roles grant|revoke|list``. Registered on the ``dingsync`` app by ``dingsync.cli``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dingsync.config import Settings, load_settings

console = Console()

users_app = typer.Typer(help="Local account status: a disabled user cannot log in.")
roles_app = typer.Typer(help="Local roles granted on top of DingTalk's (hr, admin).")

DatabaseUrl = Annotated[str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")]


def _settings(database_url: str | None) -> Settings:
    overrides = {"DINGSYNC_DATABASE_URL": database_url} if database_url else {}
    return load_settings(**overrides)


def _corp(settings: Settings) -> str:
    return settings.corp_id or settings.app_key or "default"


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the web API (login, directory, data, exports; docs at /docs) until interrupted."""
    from dingsync.sync.runner import open_database
    from dingsync.web import create_app
    from dingsync.web.server import serve as run

    settings = _settings(database_url)
    if not settings.has_credentials:
        console.print(
            "[yellow]no DingTalk credentials configured[/]: logins will fail "
            f"(missing {', '.join(settings.missing_credentials())}); `dingsync demo` serves the "
            "sandbox company instead"
        )
    app = create_app(settings, engine=open_database(settings))
    console.print(f"dingsync web on http://{host}:{port} (API docs: http://{host}:{port}/docs)")
    run(app, host=host, port=port)


def _set_disabled(userid: str, disabled: bool, database_url: str | None) -> None:
    from dingsync.store import repo_web
    from dingsync.store.schema import utcnow
    from dingsync.sync.runner import open_database

    settings = _settings(database_url)
    engine = open_database(settings)
    with engine.begin() as conn:
        known = repo_web.set_local_disabled(conn, _corp(settings), userid, disabled)
        revoked = 0
        if disabled:
            revoked = repo_web.revoke_user_sessions(conn, _corp(settings), userid, utcnow())
    state = "disabled" if disabled else "enabled"
    note = "" if known else " (not synced yet: the flag applies when they first log in)"
    extra = f"; {revoked} session(s) revoked" if revoked else ""
    console.print(f"{userid}: {state}{note}{extra}")


@users_app.command("disable")
def users_disable(userid: str, database_url: DatabaseUrl = None) -> None:
    """Disable USERID locally: no login, whatever DingTalk says; live sessions are revoked."""
    _set_disabled(userid, True, database_url)


@users_app.command("enable")
def users_enable(userid: str, database_url: DatabaseUrl = None) -> None:
    """Lift a local disable of USERID."""
    _set_disabled(userid, False, database_url)


@users_app.command("disabled")
def users_disabled(database_url: DatabaseUrl = None) -> None:
    """List the locally disabled userids."""
    from dingsync.store import repo_web
    from dingsync.sync.runner import open_database

    settings = _settings(database_url)
    with open_database(settings).connect() as conn:
        for userid in repo_web.list_disabled(conn, _corp(settings)):
            console.print(userid)


@roles_app.command("grant")
def roles_grant(userid: str, role: str, database_url: DatabaseUrl = None) -> None:
    """Grant ROLE (hr: all attendance and directory export; admin: admin API, export audit)."""
    from dingsync.store import repo_web
    from dingsync.sync.runner import open_database

    settings = _settings(database_url)
    try:
        with open_database(settings).begin() as conn:
            repo_web.grant_role(conn, _corp(settings), userid, role, granted_by="cli")
    except ValueError as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    console.print(f"{userid}: granted {role}")


@roles_app.command("revoke")
def roles_revoke(userid: str, role: str, database_url: DatabaseUrl = None) -> None:
    """Take ROLE away from USERID."""
    from dingsync.store import repo_web
    from dingsync.sync.runner import open_database

    settings = _settings(database_url)
    with open_database(settings).begin() as conn:
        had = repo_web.revoke_role(conn, _corp(settings), userid, role)
    console.print(f"{userid}: {'revoked' if had else 'did not have'} {role}")


@roles_app.command("list")
def roles_list(database_url: DatabaseUrl = None) -> None:
    """Every local role grant."""
    from dingsync.store import repo_web
    from dingsync.sync.runner import open_database

    settings = _settings(database_url)
    with open_database(settings).connect() as conn:
        grants = repo_web.list_roles(conn, _corp(settings))
    table = Table("userid", "role", "granted at", "by")
    for g in grants:
        table.add_row(g["userid"], g["role"], str(g["granted_at"]), g["granted_by"] or "")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``users`` and ``roles`` to ``app``."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(roles_app, name="roles")
