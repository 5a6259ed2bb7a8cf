"""The companies registry (``corps``) and what a company owns across the schema.

A row of ``corps`` is one DingTalk organisation (``corp_id``) this deployment serves:
``mode`` ``internal`` (an internal app of ours, from the configuration) or ``isv`` (a company
that authorised our third-party suite), ``status`` ``active`` | ``relieved`` | ``stopped``,
``agent_id``, ``timezone`` (IANA name, ``NULL`` = the deployment's default) and ``name``.

Every other company-owned table carries ``corp_id`` (DESIGN.md §4); :func:`purge_corp` deletes a
company's rows from all of them. The export audit (``web_export_audit``) is append-only by
design (DESIGN.md §7: no path updates or deletes it, the database refuses it) and is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, or_, select, update

from dingsync.areas import AREA_NAMES
from dingsync.store.prebuilt import DriverSelect
from dingsync.store.repo import upsert
from dingsync.store.schema import (
    CORP_MODES,
    CORP_STATUSES,
    corps,
    metadata,
    sync_runs,
    token_cache,
    utcnow,
)

Row = dict[str, Any]

#: Append-only tables a purge leaves alone (their rows are the record of who exported what).
KEPT_ON_PURGE = frozenset({"web_export_audit"})

_COLUMNS = ("corp_id", "name", "mode", "status", "agent_id", "app_key", "timezone")

#: The entities a full sync of a company must cover to settle its request: the data areas.
FULL_SYNC_ENTITIES: tuple[str, ...] = AREA_NAMES


class UnknownCorpStatus(ValueError):
    """A status or mode outside :data:`CORP_STATUSES` / :data:`CORP_MODES`."""


def _get_corp_statement() -> Any:
    return select(*(c for c in corps.c if c.name != "raw")).where(
        corps.c.corp_id == bindparam("corp")
    )


_GET_CORP = _get_corp_statement()
_CORP_STATUS = DriverSelect(select(corps.c.status).where(corps.c.corp_id == bindparam("corp")))


def get_corp(conn: Connection, corp_id: str) -> Row | None:
    """The registry row of ``corp_id`` (``corp_id``, ``name``, ``mode``, ``status``,
    ``agent_id``, ``app_key``, ``timezone``, ``created_at``, ``updated_at``) or ``None``."""
    row = conn.execute(_GET_CORP, {"corp": corp_id}).mappings().first()
    return None if row is None else dict(row)


def corp_status(conn: Connection, corp_id: str) -> str | None:
    """The registry status of ``corp_id`` (``active``, ``relieved``, ``stopped``), or ``None``
    when the registry does not hold it — one column through the driver (every login and every
    authenticated request asks it)."""
    row = _CORP_STATUS.first(conn, {"corp": corp_id})
    return None if row is None else str(row[0])


def list_corps(conn: Connection) -> list[Row]:
    """Every registry row (as :func:`get_corp`), ordered by ``corp_id``."""
    rows = conn.execute(select(corps).order_by(corps.c.corp_id)).mappings()
    return [{k: v for k, v in r.items() if k != "raw"} for r in rows]


def register_corp(conn: Connection, row: Row) -> None:
    """Insert or update the registry row ``row`` (``corp_id`` required; ``mode`` and
    ``status`` checked; columns not given are left as they are). ``updated_at`` is now.

    Raises :class:`UnknownCorpStatus` for a mode or status the registry does not know.
    """
    if row.get("mode") is not None and row["mode"] not in CORP_MODES:
        raise UnknownCorpStatus(f"unknown corp mode {row['mode']!r} (known: {CORP_MODES})")
    if row.get("status") is not None and row["status"] not in CORP_STATUSES:
        raise UnknownCorpStatus(f"unknown corp status {row['status']!r} (known: {CORP_STATUSES})")
    values = {k: row[k] for k in _COLUMNS if k in row}
    values["updated_at"] = utcnow()
    upsert(conn, corps, [values], ["corp_id"])


def set_status(conn: Connection, corp_id: str, status: str) -> bool:
    """Set the ``status`` of a registered company; ``False`` when it is not registered.

    Raises :class:`UnknownCorpStatus` for a status outside :data:`CORP_STATUSES`.
    """
    if status not in CORP_STATUSES:
        raise UnknownCorpStatus(f"unknown corp status {status!r} (known: {CORP_STATUSES})")
    result = conn.execute(
        update(corps).where(corps.c.corp_id == corp_id).values(status=status, updated_at=utcnow())
    )
    return bool(result.rowcount)


def request_full_sync(conn: Connection, corp_id: str, at: datetime | None = None) -> bool:
    """Record that company ``corp_id`` needs a full sync (newly authorised, scope changed):
    ``full_sync_requested_at`` becomes ``at`` (default now) unless a later request is already
    recorded. The request stays until :func:`settle_full_sync` finds a full sync of every
    entity that started after it and succeeded. Returns whether the company is registered."""
    at = at or utcnow()
    result = conn.execute(
        update(corps)
        .where(
            corps.c.corp_id == corp_id,
            or_(corps.c.full_sync_requested_at.is_(None), corps.c.full_sync_requested_at < at),
        )
        .values(full_sync_requested_at=at)
    )
    if result.rowcount:
        return True
    return get_corp(conn, corp_id) is not None


def full_syncs_due(conn: Connection) -> dict[str, datetime]:
    """``{corp_id: requested at}`` of the active companies whose full sync is still due."""
    rows = conn.execute(
        select(corps.c.corp_id, corps.c.full_sync_requested_at).where(
            corps.c.status == "active", corps.c.full_sync_requested_at.is_not(None)
        )
    ).all()
    return {r.corp_id: r.full_sync_requested_at for r in rows}


def full_sync_missing(conn: Connection, corp_id: str, since: datetime) -> list[str]:
    """The entities of :data:`FULL_SYNC_ENTITIES` with no succeeded ``full`` run of
    ``corp_id`` that started at or after ``since`` (a run syncing several entities counts for
    each)."""
    rows = conn.execute(
        select(sync_runs.c.entities, sync_runs.c.started_at).where(
            sync_runs.c.corp_id == corp_id,
            sync_runs.c.kind == "full",
            sync_runs.c.status == "succeeded",
        )
    ).all()
    done: set[str] = set()
    for entities, started in rows:
        if started is not None and _aware(started) >= _aware(since):
            done.update(entities or [])
    return [e for e in FULL_SYNC_ENTITIES if e not in done]


def settle_full_sync(conn: Connection, corp_id: str) -> bool:
    """Clear ``corp_id``'s full sync request when every entity had a full run that started
    after it and succeeded (:func:`full_sync_missing`); returns whether none is due now."""
    row = conn.execute(
        select(corps.c.full_sync_requested_at).where(corps.c.corp_id == corp_id)
    ).first()
    if row is None or row.full_sync_requested_at is None:
        return True
    since = row.full_sync_requested_at
    if full_sync_missing(conn, corp_id, since):
        return False
    conn.execute(
        update(corps)
        .where(corps.c.corp_id == corp_id, corps.c.full_sync_requested_at == since)
        .values(full_sync_requested_at=None)
    )
    return True


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def corp_tables() -> list[Table]:
    """Every table with a ``corp_id`` column, children before parents (the order a delete
    must take when foreign keys hold)."""
    return [t for t in reversed(metadata.sorted_tables) if "corp_id" in t.c]


def row_counts(conn: Connection, corp_id: str, tables: Iterable[Table] | None = None) -> Row:
    """``{table name: rows of corp_id}`` for the company-owned tables (non-zero only)."""
    out: Row = {}
    for table in tables if tables is not None else corp_tables():
        n = conn.execute(
            select(func.count()).select_from(table).where(table.c.corp_id == corp_id)
        ).scalar_one()
        if n:
            out[table.name] = int(n)
    return out


def purge_corp(conn: Connection, corp_id: str) -> dict[str, int]:
    """Delete every row of ``corp_id`` from every company-owned table (the registry row last;
    sync checkpoints go with their runs), inside the caller's transaction. Returns
    ``{table name: rows deleted}`` (non-zero only). Tables of :data:`KEPT_ON_PURGE` are left
    alone. Other companies' rows are never touched: each statement is filtered by
    ``corp_id``."""
    deleted: dict[str, int] = {}
    tables = [t for t in corp_tables() if t.name not in KEPT_ON_PURGE]
    # The registry row last and the runs (whose checkpoints cascade) after their children.
    tables.sort(key=lambda t: (t is corps, t is sync_runs))
    from dingsync.store.schema import sync_checkpoints

    runs = select(sync_runs.c.id).where(sync_runs.c.corp_id == corp_id)
    n = conn.execute(delete(sync_checkpoints).where(sync_checkpoints.c.run_id.in_(runs))).rowcount
    if n:
        deleted[sync_checkpoints.name] = int(n)
    for table in tables:
        n = conn.execute(delete(table).where(table.c.corp_id == corp_id)).rowcount
        if n:
            deleted[table.name] = int(n)
    # Cached tokens and tickets of the company (``<app>@<corp_id>[:…]``, see token_key; an ISV
    # company's ``isv:<suite>:corp:<corp_id>[:…]``).
    corp = _escape_like(corp_id)
    n = conn.execute(
        delete(token_cache).where(
            or_(
                token_cache.c.cache_key.like(f"%@{corp}", escape="\\"),
                token_cache.c.cache_key.like(f"%@{corp}:%", escape="\\"),
                token_cache.c.cache_key.like(f"isv:%:corp:{corp}", escape="\\"),
                token_cache.c.cache_key.like(f"isv:%:corp:{corp}:%", escape="\\"),
            )
        )
    ).rowcount
    if n:
        deleted[token_cache.name] = int(n)
    return deleted


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


__all__ = [
    "FULL_SYNC_ENTITIES",
    "KEPT_ON_PURGE",
    "UnknownCorpStatus",
    "corp_tables",
    "full_sync_missing",
    "full_syncs_due",
    "get_corp",
    "list_corps",
    "purge_corp",
    "register_corp",
    "request_full_sync",
    "row_counts",
    "set_status",
    "settle_full_sync",
]
