"""CLI commands for many companies in one deployment: ``dingsync corps list|show|purge`` and
the ``--corp``/``--all`` runs of ``dingsync sync`` (:func:`sync_corps`).

The companies are the configured internal apps (the ``DINGTALK_*`` app and ``[[apps]]`` in
``dingsync.toml``) and those registered through the ISV suite (:mod:`dingsync.corps`); each
command first brings the ``corps`` registry in step with the configuration.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dingsync.commands.consoles import console, err_console
from dingsync.commands.errors import open_engine
from dingsync.config import Settings, load_settings

corps_app = typer.Typer(
    rich_markup_mode="markdown",
    help="The companies this deployment serves: list, show, purge (`dingsync sync --corp`).",
)

_DB_OPTION = typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")


def _settings(database_url: str | None) -> Settings:
    overrides: dict[str, Any] = {}
    if database_url:
        overrides["DINGSYNC_DATABASE_URL"] = database_url
    return load_settings(**overrides)


def _registry(settings: Settings) -> tuple[Any, list[dict[str, Any]]]:
    """The migrated engine and the registry, in step with the configuration (internal apps
    and the configured suite's companies)."""
    from dingsync.corps import sync_registry
    from dingsync.sync.isv import sync_suite_registry

    engine = open_engine(settings.database_url)
    sync_suite_registry(engine, settings)
    return engine, sync_registry(engine, settings)


def _last_run(conn: Any, corp_id: str) -> dict[str, Any] | None:
    from dingsync.store import repo

    runs = repo.list_sync_runs(conn, corp_id, limit=1)
    return runs[0] if runs else None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _corp_summary(conn: Any, row: dict[str, Any], configured: set[str]) -> dict[str, Any]:
    from sqlalchemy import func, select

    from dingsync.store.schema import synced_user, users

    last = _last_run(conn, row["corp_id"])
    # People of the synced directory: not the stub of a userid disabled before it was synced.
    people = conn.execute(
        select(func.count())
        .select_from(users)
        .where(users.c.corp_id == row["corp_id"], synced_user())
    ).scalar_one()
    return {
        "corp_id": row["corp_id"],
        "name": row["name"],
        "mode": row["mode"],
        "status": row["status"],
        "agent_id": row["agent_id"],
        "timezone": row["timezone"],
        "configured": row["corp_id"] in configured,
        "users": int(people),
        "last_sync": None
        if last is None
        else {
            "run_id": last["id"],
            "status": last["status"],
            "started_at": _jsonable(last["started_at"]),
        },
    }


def _local(value: Any) -> str:
    """A stored UTC timestamp (or ISO text) as local time to the second, ``""`` for none."""
    from datetime import UTC, datetime

    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone().strftime("%Y-%m-%d %H:%M:%S"))


def unactivated_corps(settings: Settings, engine: Any) -> tuple[list[str], str | None]:
    """``(corp ids, problem)``: the companies that authorised the configured suite but are not
    activated (``/service/get_unactive_corp``, legacy suites), asked with the suite's app id
    (``DINGTALK_SUITE_APP_ID``, else the one an authorisation recorded). ``([], None)``
    without a suite or an app id; ``([], reason)`` when DingTalk could not be asked."""
    import asyncio

    from dingsync.dingtalk import DingTalkError
    from dingsync.store import isv as repo_isv
    from dingsync.sync.isv import suite_settings

    suite = suite_settings(settings)
    if not suite.has_suite:
        return [], None
    assert suite.suite_key
    app_id = suite.suite_app_id
    if app_id is None:
        with engine.connect() as conn:
            rows = repo_isv.corp_rows(conn, suite.suite_key)
        app_id = next((int(r["app_id"]) for r in rows if r.get("app_id")), None)
    if app_id is None:
        return [], None
    service = suite.service(engine)

    async def ask() -> list[str]:
        async with service.suite:
            found, _more = await service.suite.get_unactive_corps(app_id)
            return found

    try:
        return asyncio.run(ask()), None
    except DingTalkError as exc:
        return [], f"get_unactive_corp failed: {exc}"


def corps_list(
    database_url: Annotated[str | None, _DB_OPTION] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every company of the registry: mode (internal | isv), status (active | relieved |
    stopped; ``unactivated``: authorised the suite but not activated, from DingTalk's
    ``/service/get_unactive_corp``), agent id, timezone, whether an app is configured for it,
    people stored, last sync (local time)."""
    from dingsync.corps import configured_apps

    settings = _settings(database_url)
    engine, rows = _registry(settings)
    configured = set(configured_apps(settings))
    with engine.connect() as conn:
        out = [_corp_summary(conn, r, configured) for r in rows]
    unactivated, problem = unactivated_corps(settings, engine)
    known = {c["corp_id"]: c for c in out}
    for corp_id in unactivated:
        if corp_id in known:
            known[corp_id]["status"] = "unactivated"
        else:
            out.append(
                {"corp_id": corp_id, "name": None, "mode": "isv", "status": "unactivated",
                 "agent_id": None, "timezone": None, "configured": False, "users": 0,
                 "last_sync": None}
            )  # fmt: skip
    if problem:
        err_console.print(f"warning: {problem}", markup=False)
    if json_output:
        console.print_json(json.dumps(out, ensure_ascii=False))
        return
    table = Table(title=f"companies ({len(out)})")
    for col in ("corp_id", "name", "mode", "status", "agent_id", "timezone", "app", "users"):
        table.add_column(col)
    table.add_column("last sync")
    for c in out:
        last = c["last_sync"]
        table.add_row(
            escape(c["corp_id"]),
            escape(c["name"] or ""),
            c["mode"],
            c["status"] if c["status"] == "active" else f"[yellow]{c['status']}[/]",
            escape(str(c["agent_id"] or "")),
            escape(c["timezone"] or settings.timezone),
            "configured" if c["configured"] else "-",
            str(c["users"]),
            ""
            if last is None
            else f"#{last['run_id']} {last['status']} {_local(last['started_at'])}",
        )
    console.print(table)


def corps_show(
    corp: Annotated[str, typer.Argument(help="The company's CorpId.")],
    database_url: Annotated[str | None, _DB_OPTION] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One company: its registry row, its rows per table and its last sync. Exit 2 when the
    registry does not hold it."""
    from dingsync.corps import configured_apps
    from dingsync.store import repo_corps

    settings = _settings(database_url)
    engine, _rows = _registry(settings)
    with engine.connect() as conn:
        row = repo_corps.get_corp(conn, corp)
        if row is None:
            err_console.print(f"error: unknown corp {corp!r} (`dingsync corps list`)", markup=False)
            raise typer.Exit(2)
        out = _corp_summary(conn, row, set(configured_apps(settings)))
        out["app_key"] = row["app_key"]
        out["created_at"] = _jsonable(row["created_at"])
        out["updated_at"] = _jsonable(row["updated_at"])
        out["rows"] = repo_corps.row_counts(conn, corp)
    if json_output:
        console.print_json(json.dumps(out, ensure_ascii=False))
        return
    table = Table(title=f"corp {escape(corp)}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    for key in ("name", "mode", "status", "agent_id", "app_key", "timezone", "configured"):
        table.add_row(key, escape(str(out[key] if out[key] is not None else "")))
    table.add_row("created / updated", f"{_local(out['created_at'])} / {_local(out['updated_at'])}")
    last = out["last_sync"]
    table.add_row("last sync", "-" if last is None else escape(json.dumps(last)))
    table.add_row("rows", "\n".join(f"{t}: {n}" for t, n in sorted(out["rows"].items())))
    console.print(table)


def corps_purge(
    corp: Annotated[str, typer.Argument(help="The company's CorpId.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    database_url: Annotated[str | None, _DB_OPTION] = None,
) -> None:
    """Delete every row of one company from every table (its directory, reports, attendance,
    approvals, events, sessions, sync runs, cached tokens and its registry row) — nothing of
    any other company. The export audit is append-only and kept. Asks first unless ``--yes``;
    exit 2 when nothing of that company is stored, 3 while its sync runs."""
    from dingsync.store import repo_corps
    from dingsync.sync.lease import SyncAlreadyRunning, sync_lease

    settings = _settings(database_url)
    engine = open_engine(settings.database_url)
    with engine.connect() as conn:
        counts = repo_corps.row_counts(conn, corp)
    if not counts:
        err_console.print(f"error: nothing stored for corp {corp!r}", markup=False)
        raise typer.Exit(2)
    kept = {t: n for t, n in counts.items() if t in repo_corps.KEPT_ON_PURGE}
    doomed = sum(n for t, n in counts.items() if t not in kept)
    err_console.print(
        f"corp {corp}: {doomed} rows in {len(counts) - len(kept)} tables will be deleted"
        + (f" (kept, append-only: {', '.join(kept)})" if kept else ""),
        markup=False,
    )
    if not yes and not typer.confirm(f"Delete all data of corp {corp}?", default=False):
        err_console.print("nothing deleted", markup=False)
        raise typer.Exit(1)
    try:
        with sync_lease(engine, corp), engine.begin() as conn:
            deleted = repo_corps.purge_corp(conn, corp)
    except SyncAlreadyRunning as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(3) from None
    console.print_json(json.dumps({"corp_id": corp, "deleted": deleted, "kept": kept}))


def sync_corps(
    settings: Settings,
    corp: str | None,
    all_corps: bool,
    only: list[str] | None,
    incremental: bool,
    resume: bool,
    json_output: bool,
) -> None:
    """``dingsync sync --corp CORP`` (that company; exit 2 when unknown, 4 when relieved or
    stopped) or ``--all`` (every active company in turn, the others listed as skipped; the exit
    code is the first failure's)."""
    from dingsync.cli import _sync_run
    from dingsync.corps import CorpError, build_corp_client, resolve
    from dingsync.corps import all_corps as every_corp

    if corp is not None and all_corps:
        err_console.print("error: --corp and --all exclude each other", markup=False)
        raise typer.Exit(2)
    from dingsync.sync.isv import pending_first_syncs

    engine, _rows = _registry(settings)
    # Companies whose full sync is due (newly authorised or re-scoped ISV companies, or a first
    # sync that failed) get a full run whatever was asked, until one succeeds.
    first = pending_first_syncs(engine, settings)
    try:
        targets = [resolve(engine, settings, corp, active=False)] if corp else None
    except CorpError as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    if targets is None:
        targets = every_corp(engine, settings)
        if not targets:
            err_console.print("error: no company configured", markup=False)
            raise typer.Exit(2)
    failed = 0
    for target in targets:
        if not target.active:
            err_console.print(
                f"corp {target.corp_id} is {target.status}: not synced (its data is kept)",
                markup=False,
            )
            if corp:
                raise typer.Exit(4)
            continue
        kind = "incremental" if incremental and target.corp_id not in first else "full"
        err_console.print(f"syncing corp {target.corp_id} ({target.mode}, {kind})", markup=False)

        def factory(t: Any = target) -> Any:
            return build_corp_client(t, engine)

        try:
            _sync_run(target.settings, engine, only, kind, resume, json_output, factory)
        except typer.Exit as exc:
            if corp or exc.exit_code in (2, 130):
                raise
            failed = failed or int(exc.exit_code or 1)
    if failed:
        raise typer.Exit(failed)


def doctor_corp(settings: Settings, corp: str, json_output: bool) -> None:
    """``dingsync doctor --corp CORP``: the company's registry status and, area by area, each
    permission point the sync needs — ``ok``, ``missing`` (grant it in the developer console:
    the name is printed), ``failed`` or ``skipped``. Exit 2 for an unknown company, 1 when a
    probe is not ok."""
    import asyncio

    from dingsync.corps import CorpError, build_corp_client, resolve
    from dingsync.dingtalk.permissions import probe_permissions

    engine, _rows = _registry(settings)
    try:
        target = resolve(engine, settings, corp, active=False)
    except CorpError as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None

    async def probe() -> list[Any]:
        # No shared token store: ask DingTalk itself, like `dingsync doctor`.
        async with build_corp_client(target, None) as client:
            return await probe_permissions(client)

    results = asyncio.run(probe())
    if json_output:
        out = {
            "corp_id": target.corp_id,
            "mode": target.mode,
            "status": target.status,
            "probes": [r.__dict__ for r in results],
        }
        console.print_json(json.dumps(out, ensure_ascii=False))
    else:
        table = Table(title=f"corp {escape(target.corp_id)} ({target.mode}, {target.status})")
        for col in ("area", "permission", "API", "result"):
            table.add_column(col)
        colour = {"ok": "green", "missing": "red", "failed": "red", "skipped": "yellow"}
        for r in results:
            note = f"grant {r.permission} ({r.title})" if r.status == "missing" else r.detail
            table.add_row(
                r.area,
                escape(r.permission),
                escape(r.api),
                f"[{colour[r.status]}]{r.status}[/] {escape(note)}",
            )
        console.print(table)
    if any(r.status in ("missing", "failed") for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``dingsync corps …`` to ``app``."""
    corps_app.command("list")(corps_list)
    corps_app.command("show")(corps_show)
    corps_app.command("purge")(corps_purge)
    app.add_typer(corps_app, name="corps")
