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
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, or_, select, update

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


class UnknownCorpStatus(ValueError):
    """A status or mode outside :data:`CORP_STATUSES` / :data:`CORP_MODES`."""


def _get_corp_statement() -> Any:
    return select(*(c for c in corps.c if c.name != "raw")).where(
        corps.c.corp_id == bindparam("corp")
    )


_GET_CORP = _get_corp_statement()


def get_corp(conn: Connection, corp_id: str) -> Row | None:
    """The registry row of ``corp_id`` (``corp_id``, ``name``, ``mode``, ``status``,
    ``agent_id``, ``app_key``, ``timezone``, ``created_at``, ``updated_at``) or ``None``."""
    row = conn.execute(_GET_CORP, {"corp": corp_id}).mappings().first()
    return None if row is None else dict(row)


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
    "KEPT_ON_PURGE",
    "UnknownCorpStatus",
    "corp_tables",
    "get_corp",
    "list_corps",
    "purge_corp",
    "register_corp",
    "row_counts",
    "set_status",
]
