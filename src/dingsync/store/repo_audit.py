"""Repository of the append-only export audit (``web_export_audit``): one row per file an
export wrote, from the web service or the CLI. This module offers no update or delete, and
database triggers refuse them.

Like :mod:`dingsync.store.repo`, every function takes a :class:`~sqlalchemy.Connection` inside
the caller's transaction and never commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, insert, select

from dingsync.store.schema_web import web_export_audit


def append_export_audit(conn: Connection, row: Mapping[str, Any]) -> int:
    """Append one audit row and return its id.

    ``row``: ``corp_id``, ``userid`` (who), ``kind``, ``format`` (``xlsx``/``csv``),
    ``filters`` (JSON), ``row_count``, ``sha256`` (hex of the file), ``byte_size``, optional
    ``client`` and ``created_at`` (default now).
    """
    result = conn.execute(insert(web_export_audit).values(**dict(row)))
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


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


__all__ = ["append_export_audit", "list_export_audit"]
