"""Reads and writes of the ISV tables (``schema_isv.py``): the suite ticket with its
newer-only rule, and each company's authorisation.

:class:`SuiteTicketStore` is the client's ``SuiteTicketSource`` (``dingsync.dingtalk.isv``,
matched structurally: ``store/`` does not import the client). Every write is one short
transaction; the ``*_row`` functions take a ``Connection`` inside the caller's transaction.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, true, update
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.sql import func

from dingsync.store.schema import utcnow
from dingsync.store.schema_isv import isv_corp_auth, isv_suite_tickets


# -- suite tickets -------------------------------------------------------------------------------
def offer_ticket(
    conn: Connection, suite_key: str, ticket: str, ticket_ms: int, source: str = "manual"
) -> bool:
    """Store ``ticket`` (pushed at ``ticket_ms``, epoch ms) for ``suite_key`` unless the stored
    one is as new or newer — one atomic statement (``INSERT … ON CONFLICT DO UPDATE … WHERE``,
    MySQL ``ON DUPLICATE KEY UPDATE`` with ``IF``), so concurrent receivers keep the newest
    whatever order the pushes reach them. Returns whether this ticket is now the stored one.
    Raises ``ValueError`` for an empty ticket."""
    if not ticket:
        raise ValueError("an empty suite_ticket is never stored")
    row = {
        "suite_key": suite_key,
        "ticket": ticket,
        "ticket_ms": int(ticket_ms),
        "source": source,
        "received_at": utcnow(),
    }
    t = isv_suite_tickets
    name = conn.dialect.name
    if name in ("postgresql", "sqlite"):
        ins = (pg_dialect if name == "postgresql" else sqlite_dialect).insert(t).values(row)
        stmt = ins.on_conflict_do_update(
            index_elements=["suite_key"],
            set_={c: ins.excluded[c] for c in ("ticket", "ticket_ms", "source", "received_at")},
            where=t.c.ticket_ms < ins.excluded.ticket_ms,
        )
        conn.execute(stmt)
    elif name in ("mysql", "mariadb"):
        my = mysql_dialect.insert(t).values(row)
        newer = my.inserted.ticket_ms > t.c.ticket_ms
        # ticket_ms last: MySQL evaluates the assignments left to right.
        stmt = my.on_duplicate_key_update(
            [
                ("ticket", func.if_(newer, my.inserted.ticket, t.c.ticket)),
                ("source", func.if_(newer, my.inserted.source, t.c.source)),
                ("received_at", func.if_(newer, my.inserted.received_at, t.c.received_at)),
                ("ticket_ms", func.greatest(t.c.ticket_ms, my.inserted.ticket_ms)),
            ]
        )
        conn.execute(stmt)
    else:  # pragma: no cover - every supported dialect is above
        raise NotImplementedError(name)
    stored = conn.execute(
        select(t.c.ticket, t.c.ticket_ms).where(t.c.suite_key == suite_key)
    ).first()
    return stored is not None and stored.ticket == ticket and stored.ticket_ms == int(ticket_ms)


def ticket_row(conn: Connection, suite_key: str) -> dict[str, Any] | None:
    """``{ticket, ticket_ms, source, received_at}`` of ``suite_key``, or ``None``."""
    row = conn.execute(
        select(isv_suite_tickets).where(isv_suite_tickets.c.suite_key == suite_key)
    ).first()
    return None if row is None else dict(row._mapping)


class SuiteTicketStore:
    """The latest ``suite_ticket`` per suite in ``isv_suite_tickets`` (durable, no TTL).

    ``offer`` and ``current`` run one short transaction each in a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def offer(
        self, suite_key: str, ticket: str, ticket_ms: int, source: str = "manual"
    ) -> bool:
        """:func:`offer_ticket` in its own transaction."""
        return await asyncio.to_thread(self.offer_sync, suite_key, ticket, ticket_ms, source)

    def offer_sync(
        self, suite_key: str, ticket: str, ticket_ms: int, source: str = "manual"
    ) -> bool:
        with self.engine.begin() as conn:
            return offer_ticket(conn, suite_key, ticket, ticket_ms, source)

    async def current(self, suite_key: str) -> str | None:
        """The stored ticket of ``suite_key``, or ``None`` before the first push."""
        return await asyncio.to_thread(self.current_sync, suite_key)

    def current_sync(self, suite_key: str) -> str | None:
        with self.engine.connect() as conn:
            row = ticket_row(conn, suite_key)
        return None if row is None else str(row["ticket"])


class PermanentCodeStore:
    """Each company's permanent code (legacy suites) from ``isv_corp_auth``: the client's
    ``PermanentCodeSource``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def permanent_code(self, suite_key: str, corp_id: str) -> str | None:
        """The stored permanent code of an authorised company, else ``None``."""

        def read() -> str | None:
            with self.engine.connect() as conn:
                row = corp_row(conn, suite_key, corp_id)
            if row is None or row["status"] != "authorised":
                return None
            return row["permanent_code"] or None

        return await asyncio.to_thread(read)


# -- company authorisations ----------------------------------------------------------------------
def _not_older(event_ms: int | None) -> Any:
    """Rows the event at ``event_ms`` may change: no time known on either side, or the event
    is at least as new as the last one applied."""
    if event_ms is None:
        return true()
    return or_(isv_corp_auth.c.last_event_ms.is_(None), isv_corp_auth.c.last_event_ms <= event_ms)


def corp_row(conn: Connection, suite_key: str, corp_id: str) -> dict[str, Any] | None:
    """The ``isv_corp_auth`` row as a dict, or ``None``."""
    row = conn.execute(
        select(isv_corp_auth).where(
            isv_corp_auth.c.suite_key == suite_key, isv_corp_auth.c.corp_id == corp_id
        )
    ).first()
    return None if row is None else dict(row._mapping)


def corp_rows(
    conn: Connection, suite_key: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Every company row (of ``suite_key``, with ``status``), by suite then corp."""
    q = select(isv_corp_auth)
    if suite_key is not None:
        q = q.where(isv_corp_auth.c.suite_key == suite_key)
    if status is not None:
        q = q.where(isv_corp_auth.c.status == status)
    q = q.order_by(isv_corp_auth.c.suite_key, isv_corp_auth.c.corp_id)
    return [dict(r._mapping) for r in conn.execute(q)]


def upsert_authorised(
    conn: Connection,
    suite_key: str,
    corp_id: str,
    fields: dict[str, Any],
    event_ms: int | None,
    *,
    request_sync: bool = True,
) -> bool:
    """Record that ``corp_id`` authorised ``suite_key`` (``org_suite_auth``/``_change``, or
    the legacy activation) with ``fields`` (``corp_name``, ``agent_id``, ``app_id``,
    ``admin_list``, ``auth_user_id``, ``auth_scope``, ``auth_level``, ``permanent_code``,
    ``activated``, ``raw`` — those given). Status becomes ``authorised``, the app ``active``;
    ``sync_requested_at`` is set when the company was not authorised before (or on
    ``request_sync`` with a changed scope). An event older than the last one applied changes
    nothing. Returns whether the row changed."""
    now = utcnow()
    existing = corp_row(conn, suite_key, corp_id)
    allowed = {
        "corp_name", "agent_id", "app_id", "admin_list", "auth_user_id", "auth_scope",
        "auth_level", "permanent_code", "activated", "raw",
    }  # fmt: skip
    values = {k: v for k, v in fields.items() if k in allowed}
    if existing is None:
        conn.execute(
            isv_corp_auth.insert().values(
                suite_key=suite_key,
                corp_id=corp_id,
                status="authorised",
                app_status="active",
                activated=bool(values.pop("activated", False)),
                last_event_ms=event_ms,
                authorised_at=now,
                sync_requested_at=now if request_sync else None,
                created_at=now,
                updated_at=now,
                **values,
            )
        )
        return True
    was = existing["status"] == "authorised"
    scope_changed = "auth_scope" in values and values["auth_scope"] != existing["auth_scope"]
    changes: dict[str, Any] = {
        **values,
        "status": "authorised",
        "app_status": "active",
        "relieved_at": None,
        "updated_at": now,
    }
    if event_ms is not None:
        changes["last_event_ms"] = event_ms
    if not was:
        changes["authorised_at"] = now
    if request_sync and (not was or scope_changed):
        changes["sync_requested_at"] = now
    result = conn.execute(
        update(isv_corp_auth)
        .where(
            isv_corp_auth.c.suite_key == suite_key,
            isv_corp_auth.c.corp_id == corp_id,
            _not_older(event_ms),
        )
        .values(**changes)
    )
    return bool(result.rowcount)


def mark_relieved(conn: Connection, suite_key: str, corp_id: str, event_ms: int | None) -> bool:
    """``org_suite_relieve``/``suite_relieve``: status ``relieved`` (data kept; the permanent
    code dropped). A company never seen gets a row too, so that a late ``org_suite_auth``
    older than the relief changes nothing. Returns whether the row changed."""
    now = utcnow()
    if corp_row(conn, suite_key, corp_id) is None:
        conn.execute(
            isv_corp_auth.insert().values(
                suite_key=suite_key, corp_id=corp_id, status="relieved", app_status="active",
                activated=False, last_event_ms=event_ms, relieved_at=now, created_at=now,
                updated_at=now,
            )
        )  # fmt: skip
        return True
    changes: dict[str, Any] = {
        "status": "relieved",
        "permanent_code": None,
        "relieved_at": now,
        "sync_requested_at": None,
        "updated_at": now,
    }
    if event_ms is not None:
        changes["last_event_ms"] = event_ms
    result = conn.execute(
        update(isv_corp_auth)
        .where(
            isv_corp_auth.c.suite_key == suite_key,
            isv_corp_auth.c.corp_id == corp_id,
            _not_older(event_ms),
        )
        .values(**changes)
    )
    return bool(result.rowcount)


def set_app_status(
    conn: Connection, suite_key: str, corp_id: str, app_status: str, event_ms: int | None
) -> bool:
    """``org_micro_app_stop|restore|remove``: ``app_status`` ``stopped``/``active``/
    ``removed`` on a known company (unknown: nothing). Returns whether the row changed."""
    result = conn.execute(
        update(isv_corp_auth)
        .where(
            isv_corp_auth.c.suite_key == suite_key,
            isv_corp_auth.c.corp_id == corp_id,
            _not_older(event_ms),
        )
        .values(app_status=app_status, updated_at=utcnow())
    )
    return bool(result.rowcount)


def take_sync_requests(conn: Connection, suite_key: str, corp_id: str | None = None) -> list[str]:
    """The companies (of ``suite_key``; only ``corp_id`` when given) whose (first) full sync
    an authorisation asked for, the requests cleared: the caller hands them to the ``corps``
    registry (``corps.full_sync_requested_at``), which keeps them until a full sync succeeds."""
    q = select(isv_corp_auth.c.corp_id).where(
        and_(
            isv_corp_auth.c.suite_key == suite_key,
            isv_corp_auth.c.sync_requested_at.is_not(None),
            isv_corp_auth.c.status == "authorised",
        )
    )
    if corp_id is not None:
        q = q.where(isv_corp_auth.c.corp_id == corp_id)
    ids = [r.corp_id for r in conn.execute(q).all()]
    if ids:
        conn.execute(
            update(isv_corp_auth)
            .where(isv_corp_auth.c.suite_key == suite_key, isv_corp_auth.c.corp_id.in_(ids))
            .values(sync_requested_at=None)
        )
    return ids


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row without its secret (``permanent_code``) and raw payload, datetimes as ISO text —
    what an API or a CLI may show."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in ("permanent_code", "raw"):
            continue
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    out["has_permanent_code"] = bool(row.get("permanent_code"))
    return out


__all__ = [
    "PermanentCodeStore",
    "SuiteTicketStore",
    "corp_row",
    "corp_rows",
    "mark_relieved",
    "offer_ticket",
    "public_row",
    "set_app_status",
    "take_sync_requests",
    "ticket_row",
    "upsert_authorised",
]
