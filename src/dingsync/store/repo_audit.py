"""Repository of the append-only export audit (``web_export_audit``): one row per file an
export wrote, from the web service or the CLI. This module offers no update or delete, and
database triggers refuse them.

The audit is also a hash chain, so that whoever gets past the triggers (the table's owner can
drop them) leaves a trace: each row stores ``prev_hash`` (the ``row_hash`` of the row before it,
by id, over every company; :data:`GENESIS` for the first) and ``row_hash`` = SHA-256 (hex) of
``prev_hash`` and the row's canonical content (:func:`row_digest`). Editing, deleting or
inserting a row in the middle breaks the chain at that row (:func:`verify_export_audit`, the
``dingsync audit verify`` command). Appends are serialised so that concurrent writers never
read the same tail: a transaction-scoped advisory lock on PostgreSQL, ``GET_LOCK`` on MySQL /
MariaDB (released when the transaction ends), SQLite has a single writer. Neither lock needs a
privilege beyond ``INSERT``/``SELECT`` on the table (docs/web.md shows such a role).

Like :mod:`dingsync.store.repo`, every function takes a :class:`~sqlalchemy.Connection` inside
the caller's transaction and never commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, event, func, insert, select, text

from dingsync.store.schema import utcnow
from dingsync.store.schema_web import web_export_audit

#: ``prev_hash`` of the first row of the chain.
GENESIS = "0" * 64
#: The columns a row's hash covers (everything but ``id`` and the two hashes).
CHAINED = (
    "corp_id",
    "userid",
    "created_at",
    "kind",
    "format",
    "filters",
    "row_count",
    "sha256",
    "byte_size",
    "client",
)
#: Key of the lock that serialises appends (PostgreSQL advisory lock id, MySQL lock name).
_PG_LOCK_KEY = 0x64696E67  # "ding"
_MYSQL_LOCK = "dingsync_export_audit"


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def row_digest(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``prev_hash`` and ``row``'s :data:`CHAINED` columns as canonical JSON
    (sorted keys, UTF-8, ``created_at`` as UTC with microseconds). Missing columns count as
    ``null``."""
    content = {name: _canonical(row.get(name)) for name in CHAINED}
    body = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _lock_chain(conn: Connection) -> None:
    """Serialise appenders until the caller's transaction ends."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    elif dialect in ("mysql", "mariadb"):
        conn.execute(text("SELECT GET_LOCK(:n, 60)"), {"n": _MYSQL_LOCK})

        def release(c: Connection) -> None:
            c.exec_driver_sql(f"SELECT RELEASE_LOCK('{_MYSQL_LOCK}')")

        event.listen(conn, "commit", release, once=True)
        event.listen(conn, "rollback", release, once=True)


def _tail_hash(conn: Connection) -> str:
    """The last row's ``row_hash`` (:data:`GENESIS` when the table is empty).

    On MySQL/MariaDB the read is a locking one (``FOR UPDATE``): InnoDB's plain reads see the
    transaction's snapshot, which may predate the previous appender's commit, and SQLAlchemy's
    ``commit`` event (where ``RELEASE_LOCK`` runs) fires just *before* the commit. A locking read
    sees the newest committed row and waits for an appender's row not committed yet, so two
    appenders never chain to the same tail."""
    query = select(web_export_audit.c.row_hash).order_by(web_export_audit.c.id.desc()).limit(1)
    if conn.dialect.name in ("mysql", "mariadb"):
        query = query.with_for_update()
    last = conn.execute(query).first()
    return GENESIS if last is None or last[0] is None else str(last[0])


def append_export_audit(conn: Connection, row: Mapping[str, Any]) -> int:
    """Append one audit row, chained to the last one, and return its id.

    ``row``: ``corp_id``, ``userid`` (who), ``kind``, ``format`` (``xlsx``/``csv``),
    ``filters`` (JSON), ``row_count``, ``sha256`` (hex of the file), ``byte_size``, optional
    ``client`` and ``created_at`` (aware; default now). ``prev_hash``/``row_hash`` are computed
    here (under the append lock, held until the caller's transaction ends).
    """
    values = {name: row.get(name) for name in CHAINED}
    values["created_at"] = row.get("created_at") or utcnow()
    _lock_chain(conn)
    prev = _tail_hash(conn)
    values["prev_hash"] = prev
    values["row_hash"] = row_digest(prev, values)
    result = conn.execute(insert(web_export_audit).values(**values))
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


@dataclass(frozen=True)
class ChainCheck:
    """Outcome of :func:`verify_export_audit`: ``rows`` checked; ``broken_id`` the first row
    whose hashes do not hold (``None`` when the chain is whole) and ``reason`` why."""

    rows: int
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify_export_audit(conn: Connection) -> ChainCheck:
    """Walk the audit by id and check every link: ``prev_hash`` equals the previous row's
    ``row_hash`` (:data:`GENESIS` for the first) and ``row_hash`` equals :func:`row_digest` of
    the stored row. Stops at the first broken row. Truncating the newest rows leaves no gap to
    find; compare ``rows`` and the last hash with a copy kept elsewhere for that."""
    prev = GENESIS
    n = 0
    for r in conn.execute(select(web_export_audit).order_by(web_export_audit.c.id)).mappings():
        n += 1
        if r["prev_hash"] != prev:
            return ChainCheck(n, int(r["id"]), "prev_hash does not match the row before")
        if r["row_hash"] != row_digest(prev, dict(r)):
            return ChainCheck(n, int(r["id"]), "row_hash does not match the row's content")
        prev = str(r["row_hash"])
    return ChainCheck(n)


def list_export_audit(
    conn: Connection, corp_id: str, *, limit: int = 100, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Audit rows of ``corp_id``, newest first, and the total count."""
    total = int(
        conn.execute(
            select(func.count())
            .select_from(web_export_audit)
            .where(web_export_audit.c.corp_id == corp_id)
        ).scalar_one()
    )
    rows = conn.execute(
        select(web_export_audit)
        .where(web_export_audit.c.corp_id == corp_id)
        .order_by(web_export_audit.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(r) for r in rows], total


__all__ = [
    "GENESIS",
    "ChainCheck",
    "append_export_audit",
    "list_export_audit",
    "row_digest",
    "verify_export_audit",
]
