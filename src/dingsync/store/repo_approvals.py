"""Repositories of the approval tables (:mod:`dingsync.store.schema_approvals`).

Like :mod:`dingsync.store.repo`: every function takes a ``Connection`` inside the caller's
transaction, rows are dicts keyed by column name, writes are set-based (``repo.upsert`` and
chunked ``DELETE … IN``). Times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from dingsync.store import repo
from dingsync.store.schema_approvals import (
    INSTANCE_CHILDREN,
    approval_cc,
    approval_detail_rows,
    approval_form_values,
    approval_instances,
    approval_operation_records,
    approval_tasks,
    approval_templates,
)

Row = Mapping[str, Any]

#: Keys of an instance bundle besides ``instance`` and the child table they fill.
CHILD_KEYS = {
    "form_values": approval_form_values,
    "detail_rows": approval_detail_rows,
    "tasks": approval_tasks,
    "operation_records": approval_operation_records,
    "cc": approval_cc,
}


def upsert_templates(conn: Connection, corp_id: str, rows: Iterable[Row]) -> int:
    """Insert or update ``approval_templates`` rows (key ``process_code``); returns the count."""
    return repo.upsert(
        conn, approval_templates, repo._for_corp(corp_id, rows), ["corp_id", "process_code"]
    )


def store_instances(conn: Connection, corp_id: str, bundles: Sequence[Mapping[str, Any]]) -> int:
    """Store instances with all their children.

    Each bundle is ``{"instance": row, "form_values": [...], "detail_rows": [...], "tasks":
    [...], "operation_records": [...], "cc": [...]}`` (child rows without the key columns, which
    are filled in). The instance row is upserted; its children are replaced (deleted, then
    inserted), so storing the same answer twice leaves the same rows. Returns the number of
    instances written.
    """
    if not bundles:
        return 0
    instances = repo._for_corp(corp_id, [b["instance"] for b in bundles])
    repo.upsert(conn, approval_instances, instances, ["corp_id", "process_instance_id"])
    ids = sorted({r["process_instance_id"] for r in instances})
    for table in INSTANCE_CHILDREN:
        for chunk in repo._in_chunks(conn, ids):
            conn.execute(
                delete(table).where(
                    table.c.corp_id == corp_id, table.c.process_instance_id.in_(list(chunk))
                )
            )
    for key, table in CHILD_KEYS.items():
        rows: list[dict[str, Any]] = []
        for bundle in bundles:
            pid = bundle["instance"]["process_instance_id"]
            for child in bundle.get(key) or []:
                rows.append({**child, "corp_id": corp_id, "process_instance_id": pid})
        for chunk in repo._batched(rows, repo.MAX_ROWS_PER_STATEMENT):
            conn.execute(insert(table), list(chunk))
    return len(ids)


def known_instance_ids(conn: Connection, corp_id: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are stored already."""
    out: set[str] = set()
    for chunk in repo._in_chunks(conn, list(ids)):
        out.update(
            conn.execute(
                select(approval_instances.c.process_instance_id).where(
                    approval_instances.c.corp_id == corp_id,
                    approval_instances.c.process_instance_id.in_(list(chunk)),
                )
            ).scalars()
        )
    return out


def unfinished_instance_ids(
    conn: Connection, corp_id: str, process_code: str | None = None
) -> list[str]:
    """Ids of stored instances still in approval (status ``NEW``/``RUNNING``), oldest first."""
    t = approval_instances
    where = [t.c.corp_id == corp_id, t.c.status.in_(("NEW", "RUNNING"))]
    if process_code is not None:
        where.append(t.c.process_code == process_code)
    return list(
        conn.execute(
            select(t.c.process_instance_id).where(*where).order_by(t.c.create_time)
        ).scalars()
    )


def load_templates(conn: Connection, corp_id: str) -> list[dict[str, Any]]:
    """Every stored template of ``corp_id``, by name."""
    t = approval_templates
    rows = conn.execute(select(t).where(t.c.corp_id == corp_id).order_by(t.c.name)).mappings()
    return [dict(r) for r in rows]


def find_template(conn: Connection, corp_id: str, name_or_code: str) -> dict[str, Any] | None:
    """A template by ``process_code`` or exact name (then by name prefix); ``None`` if none."""
    templates = load_templates(conn, corp_id)
    for exact in (True, False):
        for t in templates:
            name = t["name"] or ""
            if exact and name_or_code in (t["process_code"], name):
                return t
            if not exact and name.startswith(name_or_code):
                return t
    return None


def load_instances(
    conn: Connection,
    corp_id: str,
    process_code: str | None = None,
    *,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[dict[str, Any]]:
    """Instances (rows of ``approval_instances``) ordered by create time, filtered by template
    and by ``created_from <= create_time < created_to``."""
    t = approval_instances
    where = [t.c.corp_id == corp_id]
    if process_code is not None:
        where.append(t.c.process_code == process_code)
    if created_from is not None:
        where.append(t.c.create_time >= created_from)
    if created_to is not None:
        where.append(t.c.create_time < created_to)
    rows = conn.execute(
        select(t).where(*where).order_by(t.c.create_time, t.c.process_instance_id)
    ).mappings()
    return [dict(r) for r in rows]


def load_children(
    conn: Connection, corp_id: str, ids: Sequence[str], key: str
) -> dict[str, list[dict[str, Any]]]:
    """Child rows (``key`` in :data:`CHILD_KEYS`) of the instances ``ids``, per instance, in
    DingTalk's order."""
    table = CHILD_KEYS[key]
    order = [c for c in ("seq", "field_seq", "row_no", "userid") if c in table.c]
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for chunk in repo._in_chunks(conn, list(ids)):
        rows = conn.execute(
            select(table)
            .where(table.c.corp_id == corp_id, table.c.process_instance_id.in_(list(chunk)))
            .order_by(table.c.process_instance_id, *(table.c[c] for c in order))
        ).mappings()
        for r in rows:
            out[r["process_instance_id"]].append(dict(r))
    return out


def counts(conn: Connection, corp_id: str) -> dict[str, int]:
    """Rows per approval table for ``corp_id`` (the sync summary)."""
    out = {}
    for name, table in (
        ("approval_templates", approval_templates),
        ("approval_instances", approval_instances),
        ("approval_form_values", approval_form_values),
        ("approval_detail_rows", approval_detail_rows),
        ("approval_tasks", approval_tasks),
        ("approval_operation_records", approval_operation_records),
        ("approval_cc", approval_cc),
    ):
        out[name] = int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.corp_id == corp_id)
            ).scalar_one()
        )
    return out


def status_rows(
    conn: Connection, corp_id: str, process_code: str | None = None
) -> list[dict[str, Any]]:
    """``process_code, status, result, create_time, finish_time`` of every instance (stats)."""
    t = approval_instances
    where = [t.c.corp_id == corp_id]
    if process_code is not None:
        where.append(t.c.process_code == process_code)
    rows = conn.execute(
        select(t.c.process_code, t.c.status, t.c.result, t.c.create_time, t.c.finish_time).where(
            *where
        )
    ).mappings()
    return [dict(r) for r in rows]


__all__ = [
    "CHILD_KEYS",
    "counts",
    "find_template",
    "known_instance_ids",
    "load_children",
    "load_instances",
    "load_templates",
    "status_rows",
    "store_instances",
    "unfinished_instance_ids",
    "upsert_templates",
]
