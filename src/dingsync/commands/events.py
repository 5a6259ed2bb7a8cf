"""CLI commands for events: ``dingsync events stream``, ``dingsync events replay``,
``dingsync events status``.

Registered on the ``dingsync`` app by ``dingsync.cli``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from dingsync.commands.consoles import console, err_console
from dingsync.commands.errors import fail, open_engine, open_synced

events_app = typer.Typer(
    rich_markup_mode="markdown",
    help="DingTalk events: Stream mode consumer, inbox replay and status.",
)


def _settings(database_url: str | None) -> Any:
    from dingsync.sync.events import EventsSettings

    overrides: dict[str, Any] = {}
    if database_url:
        overrides["DINGSYNC_DATABASE_URL"] = database_url
    return EventsSettings(**overrides)


def _require_credentials(settings: Any) -> None:
    if not settings.has_credentials:
        err_console.print(
            "DingTalk credentials missing: set " + ", ".join(settings.missing_credentials()),
            markup=False,
        )
        raise typer.Exit(2)


def _log_info() -> None:
    """Log lines at INFO on stderr (the consumer's connections, events, replays), without the
    schema migration the command runs first (alembic's own INFO lines)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


@events_app.command("stream")
def stream(
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
    idle_timeout: Annotated[
        float, typer.Option(help="Seconds without any frame before reconnecting.")
    ] = 150.0,
    no_drain: Annotated[
        bool,
        typer.Option("--no-drain", help="Do not read the failed-push list and replay at start."),
    ] = False,
    isv: Annotated[
        bool,
        typer.Option(
            "--isv",
            help="Consume the third-party suite's Stream (DINGTALK_SUITE_KEY/SECRET): tickets "
            "and company authorisations (docs/isv.md).",
        ),
    ] = False,
    corp: Annotated[
        list[str] | None,
        typer.Option(
            "--corp",
            help="With [[apps]] configured: only this company (repeatable; default: every "
            "active internal app's company).",
        ),
    ] = None,
) -> None:
    """Consume Stream mode events into the inbox and the database until Ctrl-C.

    With several internal apps (``[[apps]]`` in dingsync.toml / DINGSYNC_APPS): one Stream
    connection per active company, each event stored and processed under its company.
    At start: DingTalk's failed-push list is drained and pending/failed inbox rows are replayed.
    """
    if isv:
        from dingsync.commands.isv import stream_suite

        stream_suite(database_url, idle_timeout)
        return
    settings = _settings(database_url)
    if settings.apps or corp:
        _stream_companies(settings, corp, idle_timeout, no_drain)
        return
    from dingsync.sync.events import EventProcessor
    from dingsync.sync.events_stream import StreamConsumer
    from dingsync.sync.runner import build_client

    _log_info()
    _require_credentials(settings)
    engine = open_engine(settings.database_url)
    corp_id = settings.corp_id or settings.app_key

    async def main() -> None:
        async with build_client(settings, engine) as client:
            processor = EventProcessor(client, engine, corp_id, tz=settings.tz)
            if not no_drain:
                drained = await processor.drain_failed_list()
                replayed = await processor.replay()
                err_console.print(f"failed-push list: {drained} new; replayed {dict(replayed)}")
            consumer = StreamConsumer(
                processor,
                settings.api_url,
                settings.app_key,
                settings.app_secret.get_secret_value(),
                idle_timeout=idle_timeout,
            )
            err_console.print(f"consuming Stream events for {corp_id} (Ctrl-C stops)")
            try:
                await consumer.run()
            finally:
                err_console.print(f"stream stats: {dict(consumer.stats)}", markup=False)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        err_console.print("stopped")


@contextlib.asynccontextmanager
async def company_streams(
    settings: Any,
    engine: Any,
    corp_ids: list[str] | None = None,
    *,
    drain: bool = True,
    **consumer_kw: Any,
) -> AsyncIterator[Any]:
    """A :class:`~dingsync.sync.events_stream.StreamGroup` of the active internal companies of
    the registry (every configured app — the ``DINGTALK_*`` one and ``[[apps]]`` — or those of
    ``corp_ids``): per company its own client (its app's credentials and URLs), its
    ``EventProcessor`` (its ``corp_id`` and zone) and a ``StreamConsumer`` on its app's
    connection expecting its ``corp_id``. ``drain``: first read each app's failed-push list
    and replay its inbox. The clients are closed on exit. Raises ``CorpError`` (unknown or
    inactive company in ``corp_ids``) and ``ValueError`` when no company is left."""
    from dingsync.corps import CorpInactive, build_corp_client, resolve, sync_registry
    from dingsync.corps import all_corps as every_corp
    from dingsync.sync.events import EventProcessor
    from dingsync.sync.events_stream import StreamConsumer, StreamGroup

    sync_registry(engine, settings)
    if corp_ids:
        targets = [resolve(engine, settings, c, active=False) for c in corp_ids]
        for target in targets:
            if not target.active:
                raise CorpInactive(target.corp_id, target.status)
    else:
        targets = [c for c in every_corp(engine, settings) if c.active]
    targets = [c for c in targets if c.mode == "internal"]
    if not targets:
        raise ValueError("no active internal app to consume (the suite's Stream: --isv)")
    async with contextlib.AsyncExitStack() as stack:
        consumers: dict[str, Any] = {}
        for target in targets:
            company = target.settings
            assert company.app_key and company.app_secret  # an internal app's credentials
            client = await stack.enter_async_context(build_corp_client(target, engine))
            processor = EventProcessor(client, engine, target.corp_id, tz=company.tz)
            if drain:
                drained = await processor.drain_failed_list()
                replayed = await processor.replay()
                err_console.print(
                    f"{target.corp_id}: failed-push list {drained} new; replayed {dict(replayed)}",
                    markup=False,
                )
            consumers[target.corp_id] = StreamConsumer(
                processor,
                company.api_url,
                company.app_key,
                company.app_secret.get_secret_value(),
                expect_corp=target.corp_id,
                **consumer_kw,
            )
        yield StreamGroup(consumers)


def _stream_companies(
    settings: Any, corp_ids: list[str] | None, idle_timeout: float, no_drain: bool
) -> None:
    """``dingsync events stream`` with several internal apps: :func:`company_streams` until
    Ctrl-C. Exit 2 for an unknown or inactive company."""
    from dingsync.corps import CorpError

    _log_info()
    engine = open_engine(settings.database_url)

    async def main() -> None:
        async with company_streams(
            settings, engine, corp_ids, drain=not no_drain, idle_timeout=idle_timeout
        ) as group:
            err_console.print(
                f"consuming Stream events for {', '.join(sorted(group.consumers))} "
                "(one connection each; Ctrl-C stops)",
                markup=False,
            )
            try:
                await group.run()
            finally:
                err_console.print(f"stream stats: {group.stats}", markup=False)

    try:
        asyncio.run(main())
    except (CorpError, ValueError) as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console.print("stopped")


class InboxStatus(StrEnum):
    """A status of an inbox row (the same as ``schema_events.INBOX_STATUSES``)."""

    pending = "pending"
    processing = "processing"
    processed = "processed"
    failed = "failed"
    skipped = "skipped"


@events_app.command("replay")
def replay(
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Inbox row id to reprocess (repeatable).")
    ] = None,
    status: Annotated[
        list[InboxStatus] | None,
        typer.Option("--status", help="Reprocess rows in this status (default: failed, pending)."),
    ] = None,
    drain: Annotated[
        bool, typer.Option("--drain", help="First read DingTalk's failed-push list.")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Reprocess failed or chosen inbox rows (each re-reads what it names from DingTalk).

    An ``--id`` the inbox of this corp does not hold is an error (exit 1), before anything is
    reprocessed; ``--status`` takes the inbox statuses (pending, processing, processed, failed,
    skipped)."""
    from dingsync.store import repo_events
    from dingsync.sync.events import EventProcessor
    from dingsync.sync.runner import build_client

    settings = _settings(database_url)
    _require_credentials(settings)
    engine = open_engine(settings.database_url)
    corp_id = settings.corp_id or settings.app_key
    if ids:
        with engine.connect() as conn:
            known = {int(r["id"]) for r in repo_events.list_events(conn, corp_id, ids=ids)}
        unknown = sorted(set(ids) - known)
        if unknown:
            fail(
                f"no inbox row {', '.join(f'#{i}' for i in unknown)} for corp {corp_id}",
                "`dingsync events status` lists the failed rows",
            )

    async def main() -> dict[str, Any]:
        async with build_client(settings, engine) as client:
            processor = EventProcessor(client, engine, corp_id, tz=settings.tz)
            drained = await processor.drain_failed_list() if drain else 0
            await processor.wait_idle()
            statuses = tuple(s.value for s in status) if status else ("failed", "pending")
            results = await processor.replay(ids=ids, statuses=statuses)
            return {"drained": drained, "results": dict(results)}

    out = asyncio.run(main())
    with engine.connect() as conn:
        out["inbox"] = repo_events.count_by_status(conn, corp_id)
    if json_output:
        console.print_json(json.dumps(out))
        return
    title = f"Events replay — corp {corp_id}"
    table = Table(title=title, min_width=len(title))
    table.add_column("What")
    table.add_column("Rows", justify="right")
    table.add_row("new from DingTalk's failed-push list", str(out["drained"]))
    if not out["results"]:
        table.add_row("reprocessed", "0")
    for outcome, n in sorted(out["results"].items()):
        table.add_row(f"reprocessed → {outcome}", str(n))
    console.print(table)
    _print_inbox(corp_id, out["inbox"])


def _print_inbox(corp_id: str, counts: dict[str, int]) -> None:
    """The inbox rows per status as a table (every status, 0 included)."""
    title = f"Event inbox — corp {corp_id}"
    table = Table(title=title, min_width=len(title))
    table.add_column("Status")
    table.add_column("Rows", justify="right")
    for name in InboxStatus:
        table.add_row(name.value, str(counts.get(name.value, 0)))
    console.print(table)


@events_app.command("status")
def status(
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Show this many failed rows.", min=0)] = 10,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Inbox rows per status and the latest failures (no DingTalk call). ``--json``:
    ``{"corp_id", "inbox": {status: rows}, "failed": [{"id", "event_type", "attempts",
    "last_error", "received_at"}]}``."""
    from dingsync.commands.errors import check_corp_held
    from dingsync.commands.web import resolve_corp
    from dingsync.store import repo_events

    settings = _settings(database_url)
    engine = open_synced(settings.database_url)
    # Keyed as the sync and the receiver key it; without credentials: the database's only corp.
    corp_id = settings.corp_id or settings.app_key or resolve_corp(settings, engine)
    with engine.connect() as conn:
        check_corp_held(conn, corp_id)  # a typo'd DINGTALK_CORP_ID is not an empty inbox
        counts = repo_events.count_by_status(conn, corp_id)
        failed = repo_events.list_events(conn, corp_id, statuses=["failed"], limit=limit)
    rows = [
        {
            "id": int(row["id"]),
            "event_type": row["event_type"],
            "attempts": int(row["attempts"] or 0),
            "last_error": row["last_error"],
            "received_at": row.get("received_at"),
        }
        for row in failed
    ]
    if json_output:
        sys.stdout.write(
            json.dumps(
                {"corp_id": corp_id, "inbox": counts, "failed": rows},
                ensure_ascii=False,
                default=str,
                indent=2,
            )
            + "\n"
        )
        return
    _print_inbox(corp_id, counts)
    if rows:
        table = Table(title=f"Failed rows (first {limit}; `dingsync events replay` retries them)")
        for col in ("Id", "Event type", "Attempts", "Last error"):
            table.add_column(col, justify="right" if col in ("Id", "Attempts") else "left")
        for r in rows:
            table.add_row(
                f"#{r['id']}", str(r["event_type"]), str(r["attempts"]), str(r["last_error"] or "")
            )
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``dingsync events …`` to ``app``."""
    app.add_typer(events_app, name="events")
