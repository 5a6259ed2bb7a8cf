"""CLI of the web service: ``dingsync serve``, ``dingsync users disable|enable|disabled``,
``dingsync roles grant|revoke|list``. Registered on the ``dingsync`` app by ``dingsync.cli``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from dingsync.commands.consoles import console, err_console
from dingsync.commands.errors import CliFailure, check_corp_held, open_engine, open_synced
from dingsync.config import Settings, load_settings

users_app = typer.Typer(
    rich_markup_mode="markdown", help="Local account status: a disabled user cannot log in."
)
roles_app = typer.Typer(
    rich_markup_mode="markdown", help="Local roles granted on top of DingTalk's (hr, admin)."
)

DatabaseUrl = Annotated[str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")]


def _settings(database_url: str | None) -> Settings:
    """The settings; with a third-party suite configured (``DINGTALK_SUITE_KEY``), as
    :class:`~dingsync.sync.isv.IsvSettings`, so that the service serves the companies that
    authorised it (``corps.is_multi``)."""
    from dingsync.sync.isv import suite_settings

    overrides = {"DINGSYNC_DATABASE_URL": database_url} if database_url else {}
    base = load_settings(**overrides)
    settings = suite_settings(base)
    return settings if settings.has_suite else base


def _stored_corps(engine: Any) -> list[str]:
    """The organisations the database holds (``corps``, else ``users``), sorted."""
    from sqlalchemy import select

    from dingsync.store.schema import corps, users

    with engine.connect() as conn:
        ids = sorted(str(c) for c in conn.execute(select(corps.c.corp_id)).scalars())
        if not ids:
            ids = sorted(str(c) for c in conn.execute(select(users.c.corp_id).distinct()).scalars())
    return ids


def resolve_corp(settings: Settings, engine: Any) -> str:
    """The organisation a local command acts on: ``DINGTALK_CORP_ID`` when set, else the only
    one the database holds (``corps``, else ``users``). Exits 2 with an error naming
    ``DINGTALK_CORP_ID`` when the database holds none or several, or when it holds others but
    not ``DINGTALK_CORP_ID``'s (:func:`check_corp_held`)."""
    if settings.corp_id:
        with engine.connect() as conn:
            check_corp_held(conn, settings.corp_id)
        return settings.corp_id
    ids = _stored_corps(engine)
    if len(ids) == 1:
        return ids[0]
    if not ids:
        err_console.print(
            "error: the database holds no organisation yet: run `dingsync sync` (or `dingsync "
            "demo`) first, or set DINGTALK_CORP_ID"
        )
    else:
        err_console.print(
            f"error: the database holds {len(ids)} organisations ({', '.join(ids)}): set "
            "DINGTALK_CORP_ID to the one to act on"
        )
    raise typer.Exit(2)


def _open(database_url: str | None, *, reading: bool = False) -> tuple[Any, str]:
    """The migrated engine and the organisation (:func:`resolve_corp`); ``reading``: a
    command that only lists, refused on a database with nothing synced (:func:`open_synced`)."""
    settings = _settings(database_url)
    engine = (open_synced if reading else open_engine)(settings.database_url)
    return engine, resolve_corp(settings, engine)


def _require_user(conn: Any, corp_id: str, userid: str, *, allow_stub: bool = False) -> None:
    """Exit 1 with a clear error unless ``userid`` in ``corp_id`` was synced from DingTalk.
    ``allow_stub``: the row a pre-emptive ``users disable`` left for a user not synced yet
    counts too (so it can be enabled again)."""
    from dingsync.store import repo_contacts

    if not repo_contacts.known_user(conn, corp_id, userid, allow_stub=allow_stub):
        err_console.print(
            f"error: no user {userid!r} in organisation {corp_id} (not synced yet? run "
            "`dingsync sync`)"
        )
        raise typer.Exit(1)


def worker_app(database_url: str | None, corp_id: str | None) -> Any:
    """The app one worker of ``serve --workers N`` serves (called in the worker process): the
    settings read again from the environment the worker inherited, ``corp_id`` the company
    the supervisor resolved (``None``: as configured), the database already migrated by the
    supervisor."""
    from dingsync.web import create_app
    from dingsync.web.server import gc_for_serving

    settings = _settings(database_url)
    if corp_id and not settings.apps and not settings.corp_id:
        settings = settings.model_copy(update={"corp_id": corp_id})
    app = create_app(settings, engine=open_engine(settings.database_url, migrate=False))
    gc_for_serving()
    return app


def _run(
    app: Any, host: str, port: int, workers: int, database_url: str | None, corp_id: str | None
) -> None:
    """Serve ``app`` in this process, or ``workers`` processes each building its own
    (:func:`worker_app`). Raises :class:`CliFailure` (exit 1) when ``host:port`` cannot be
    listened on (a port in use: one line, before the banner), and when the workers keep dying
    before they serve (:class:`~dingsync.web.server.WorkerStartupError`: the service stops
    instead of restarting them forever)."""
    from dingsync.web.server import listen_problem

    problem = listen_problem(host, port)
    if problem:
        raise CliFailure(
            f"cannot listen on {host}:{port}: {problem}",
            "stop what holds the port, or pass another --port / --host",
        )
    console.print(
        f"dingsync web on http://{host}:{port} (API docs: http://{host}:{port}/docs)"
        + (f", {workers} worker processes" if workers > 1 else "")
    )
    if workers > 1:
        from functools import partial

        from dingsync.config import load_settings, metrics_directory, workers_replay_wait
        from dingsync.web.server import WorkerStartupError, serve_workers

        # A double tap may reach two workers: the one DingTalk refuses waits for the other's
        # session (WebOptions.replay_wait_s; the spawned workers inherit the environment).
        workers_replay_wait()
        if not load_settings().metrics_dir:
            # Each worker counts its own requests: /metrics, answered by any one of them, adds
            # them up only through prometheus_client's multiprocess files, whose directory the
            # spawned workers inherit.
            metrics_directory()
        try:
            serve_workers(partial(worker_app, database_url, corp_id), workers, host=host, port=port)
        except WorkerStartupError as exc:
            raise CliFailure(
                f"the workers do not start: {exc}",
                "each worker's own error is printed above; fix it and start again",
            ) from exc
        return
    from dingsync.web.server import serve as run

    run(app(), host=host, port=port)


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    database_url: DatabaseUrl = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes on the one port (about one per core); they share the "
            "access token, the JSAPI ticket and sessions through the database (or Redis).",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Serve the web API (login, directory, data, exports; docs at /docs) until interrupted."""
    from dingsync.web import create_app
    from dingsync.web.options import WebOptions

    settings = _settings(database_url)
    WebOptions()  # a DINGSYNC_WEB_* setting that does not validate: exit 2 before the banner
    if settings.apps:  # several companies ([[apps]]): each login names its own (corpId)
        from dingsync.corps import sync_registry

        engine = open_engine(settings.database_url)
        served = [r["corp_id"] for r in sync_registry(engine, settings)]
        console.print(f"serving {len(served)} companies: {', '.join(served)}")
        _run(lambda: create_app(settings, engine=engine), host, port, workers, database_url, None)
        return
    if not settings.has_credentials:
        console.print(
            "[yellow]no DingTalk credentials configured[/]: logins will fail "
            f"(missing {', '.join(settings.missing_credentials())}); `dingsync demo` serves the "
            "sandbox company instead"
        )
    engine = open_engine(settings.database_url)
    if not settings.corp_id:
        stored = _stored_corps(engine)
        if len(stored) == 1:  # the synced organisation, as the other local commands do
            settings = settings.model_copy(update={"corp_id": stored[0]})
        elif stored:
            resolve_corp(settings, engine)  # several: exits 2 naming DINGTALK_CORP_ID
        else:
            console.print(
                "[yellow]DINGTALK_CORP_ID is not set[/] and nothing is synced yet: set it so "
                "logins and the sync share one organisation"
            )
    _run(
        lambda: create_app(settings, engine=engine),
        host,
        port,
        workers,
        database_url,
        settings.corp_id,
    )


def _set_disabled(userid: str, disabled: bool, database_url: str | None) -> None:
    """Disable or enable ``userid`` in the resolved organisation. Disabling a user not synced
    yet is allowed (the flag holds when they first log in, docs/web.md); enabling one is an
    error (exit 1). Disabling DingTalk's main administrator is done, with a warning."""
    from dingsync.store import repo_contacts, repo_local_access, repo_sessions
    from dingsync.store.schema import utcnow

    engine, corp = _open(database_url)
    with engine.begin() as conn:
        if not disabled:
            _require_user(conn, corp, userid, allow_stub=True)
        level, _scope = repo_contacts.admin_info(conn, corp, userid)
        known = repo_local_access.set_local_disabled(conn, corp, userid, disabled)
        revoked = 0
        if disabled:
            revoked = repo_sessions.revoke_user_sessions(conn, corp, userid, utcnow())
    if disabled and level == 1:
        err_console.print(
            f"[yellow]warning[/]: {userid} is DingTalk's main administrator of {corp}; the web "
            "admin API refuses this, and nobody but a local `admin` can use it now "
            f"(`dingsync users enable {userid}` undoes it)"
        )
    state = "disabled" if disabled else "enabled"
    note = "" if known else " (not synced yet: the flag applies when they first log in)"
    extra = f"; {revoked} session(s) revoked" if revoked else ""
    console.print(f"{userid}: {state} in {corp}{note}{extra}")


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
    from dingsync.store import repo_local_access

    engine, corp = _open(database_url, reading=True)
    with engine.connect() as conn:
        for userid in repo_local_access.list_disabled(conn, corp):
            console.print(userid)


@roles_app.command("grant")
def roles_grant(userid: str, role: str, database_url: DatabaseUrl = None) -> None:
    """Grant ROLE (hr: all attendance and directory export; admin: admin API, export audit)
    to a synced user (exit 1 for an unknown USERID, 2 for an unknown ROLE)."""
    from dingsync.store import repo_local_access
    from dingsync.store.schema_web import LOCAL_ROLES

    if role not in LOCAL_ROLES:
        err_console.print(f"error: unknown role {role!r}; known: {', '.join(LOCAL_ROLES)}")
        raise typer.Exit(2)
    engine, corp = _open(database_url)
    with engine.begin() as conn:
        _require_user(conn, corp, userid)
        repo_local_access.grant_role(conn, corp, userid, role, granted_by="cli")
    console.print(f"{userid}: granted {role} in {corp}")


@roles_app.command("revoke")
def roles_revoke(userid: str, role: str, database_url: DatabaseUrl = None) -> None:
    """Take ROLE away from USERID."""
    from dingsync.store import repo_local_access

    engine, corp = _open(database_url)
    with engine.begin() as conn:
        had = repo_local_access.revoke_role(conn, corp, userid, role)
    console.print(f"{userid}: {'revoked' if had else 'did not have'} {role}")


@roles_app.command("list")
def roles_list(database_url: DatabaseUrl = None) -> None:
    """Every local role grant."""
    from dingsync.store import repo_local_access

    engine, corp = _open(database_url, reading=True)
    with engine.connect() as conn:
        grants = repo_local_access.list_roles(conn, corp)
    from dingsync.commands.corps import _local

    table = Table("userid", "role", "granted at (local)", "by")
    for g in grants:
        table.add_row(g["userid"], g["role"], _local(g["granted_at"]), g["granted_by"] or "")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``users`` and ``roles`` to ``app``."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(roles_app, name="roles")
