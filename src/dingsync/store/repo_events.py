"""Repository of the event inbox (``event_inbox``) and the per-user directory writes that event
handlers need.

Like :mod:`dingsync.store.repo`, every function takes a ``Connection`` inside the caller's
transaction and never commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from dingsync.store import repo
from dingsync.store.schema import (
    admins,
    departments,
    leavers,
    user_departments,
    users,
    utcnow,
)
from dingsync.store.schema_events import event_inbox
from dingsync.store.schema_roles import role_members

#: Statuses ``dingsync events replay`` picks by default.
REPLAYABLE = ("failed", "pending")

#: How long a worker's claim on a row lasts (:func:`claim_event`): a row still ``processing``
#: after it belongs to a worker that died, and goes back to ``pending``.
DEFAULT_LEASE = timedelta(minutes=10)

#: The longest ``event_id`` stored as sent (the column's width).
EVENT_ID_MAX = 128


def inbox_key(event_id: str) -> str:
    """The inbox's de-duplication key of DingTalk's ``event_id``: the id itself when it fits
    :data:`EVENT_ID_MAX` characters, else its first 63 characters, ``#`` and the SHA-256 (hex)
    of the whole id — 128 characters that differ whenever the ids differ."""
    if len(event_id) <= EVENT_ID_MAX:
        return event_id
    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{event_id[: EVENT_ID_MAX - len(digest) - 1]}#{digest}"


def insert_event(
    conn: Connection,
    *,
    corp_id: str,
    event_id: str,
    event_type: str,
    source: str,
    payload: dict[str, Any],
    event_time: datetime | None = None,
) -> int | None:
    """Insert a received event as ``pending`` unless (``corp_id``, ``event_id``) is already in the
    inbox. Returns the new row's id, or ``None`` for a duplicate (insert-or-ignore on the
    unique key, so two concurrent deliveries give one row). A long ``event_id`` is keyed by
    :func:`inbox_key` (the whole id counts)."""
    event_id = inbox_key(event_id)
    stmt: Any = repo.upsert_statement(conn.dialect, event_inbox, ["corp_id", "event_id"], [])
    params = {
        "corp_id": corp_id,
        "event_id": event_id,
        "event_type": event_type[:64],
        "source": source,
        "status": "pending",
        "attempts": 0,
        "event_time": event_time,
        "received_at": utcnow(),
        "payload": payload,
    }
    if conn.dialect.name in ("postgresql", "sqlite"):
        # RETURNING gives a row only when this statement inserted (rowcount is unreliable for
        # ON CONFLICT DO NOTHING across drivers).
        row = conn.execute(stmt.returning(event_inbox.c.id), params).first()
        return int(row[0]) if row is not None else None
    # MySQL/MariaDB: SQLAlchemy connects with CLIENT_FOUND_ROWS, so the rowcount of a duplicate
    # absorbed by ON DUPLICATE KEY UPDATE is 1 as for an insert; the insert id (the OK packet's
    # LAST_INSERT_ID) is the new row's id, and 0 when nothing was inserted.
    result = conn.execute(stmt, params)
    row_id = result.lastrowid
    return int(row_id) if row_id else None


def _lease_expired(now: datetime) -> Any:
    """``processing`` rows whose lease ended before ``now`` (or that never had one: left by a
    version before leases)."""
    return and_(
        event_inbox.c.status == "processing",
        or_(event_inbox.c.lease_until.is_(None), event_inbox.c.lease_until < now),
    )


def claim_event(
    conn: Connection,
    row_id: int,
    statuses: Sequence[str] = ("pending",),
    *,
    lease: timedelta = DEFAULT_LEASE,
) -> bool:
    """Move row ``row_id`` from one of ``statuses`` (or from ``processing`` whose lease
    expired) to ``processing`` with a lease of ``lease`` from now, and count an attempt.
    ``False`` when another worker holds it or it is done (a compare-and-set)."""
    now = utcnow()
    n = conn.execute(
        update(event_inbox)
        .where(
            event_inbox.c.id == row_id,
            or_(event_inbox.c.status.in_(list(statuses)), _lease_expired(now)),
        )
        .values(status="processing", attempts=event_inbox.c.attempts + 1, lease_until=now + lease)
    ).rowcount
    return bool(n)


def requeue_expired(conn: Connection, corp_id: str) -> list[int]:
    """Put ``corp_id``'s ``processing`` rows whose lease expired (their worker died) back to
    ``pending``, noting why in ``last_error``. Returns their ids (oldest first)."""
    expired = _lease_expired(utcnow())
    ids = [
        int(i)
        for i in conn.execute(
            select(event_inbox.c.id)
            .where(event_inbox.c.corp_id == corp_id, expired)
            .order_by(event_inbox.c.id)
        ).scalars()
    ]
    if ids:
        conn.execute(
            update(event_inbox)
            .where(event_inbox.c.id.in_(ids), expired)
            .values(
                status="pending",
                lease_until=None,
                last_error="requeued: the processing lease expired (the worker stopped)",
            )
        )
    return ids


def finish_event(conn: Connection, row_id: int, status: str, error: str | None = None) -> None:
    """Record the outcome of processing: ``processed``, ``skipped``, ``failed`` (with ``error``,
    cut to 2,000 characters) or ``pending`` (left for later); the lease ends."""
    conn.execute(
        update(event_inbox)
        .where(event_inbox.c.id == row_id)
        .values(
            status=status,
            last_error=error[:2000] if error else None,
            processed_at=utcnow() if status in ("processed", "skipped") else None,
            lease_until=None,
        )
    )


def get_event(conn: Connection, row_id: int) -> dict[str, Any] | None:
    """One inbox row as a dict, or ``None``."""
    row = conn.execute(select(event_inbox).where(event_inbox.c.id == row_id)).mappings().first()
    return dict(row) if row else None


def list_events(
    conn: Connection,
    corp_id: str,
    *,
    statuses: Iterable[str] | None = None,
    ids: Iterable[int] | None = None,
    event_types: Iterable[str] | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Inbox rows of ``corp_id`` (oldest first), filtered by status, id or event type."""
    stmt = select(event_inbox).where(event_inbox.c.corp_id == corp_id)
    if statuses is not None:
        stmt = stmt.where(event_inbox.c.status.in_(list(statuses)))
    if ids is not None:
        stmt = stmt.where(event_inbox.c.id.in_(list(ids)))
    if event_types is not None:
        stmt = stmt.where(event_inbox.c.event_type.in_(list(event_types)))
    stmt = stmt.order_by(event_inbox.c.id).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def count_by_status(conn: Connection, corp_id: str) -> dict[str, int]:
    """``{status: rows}`` of ``corp_id``'s inbox."""
    rows = conn.execute(
        select(event_inbox.c.status, func.count())
        .where(event_inbox.c.corp_id == corp_id)
        .group_by(event_inbox.c.status)
    )
    return {status: int(n) for status, n in rows}


# --------------------------------------------------------------------------------------------
# Per-entity directory writes used by the event handlers
# --------------------------------------------------------------------------------------------
def replace_user_memberships(
    conn: Connection, corp_id: str, userid: str, rows: Iterable[dict[str, Any]]
) -> int:
    """Make ``rows`` (``dept_id``, ``dept_order``, ``is_leader``) the complete membership of one
    user (the ``users`` row must exist). Returns the number of memberships removed."""
    prepared = [
        {"corp_id": corp_id, "userid": userid, **{k: v for k, v in r.items() if k != "userid"}}
        for r in rows
    ]
    repo.upsert(conn, user_departments, prepared, ["corp_id", "userid", "dept_id"])
    keep = [int(r["dept_id"]) for r in prepared]
    gone = [user_departments.c.userid == userid]
    if keep:
        gone.append(user_departments.c.dept_id.not_in(keep))
    repo.keep_former_memberships(conn, corp_id, *gone)
    stmt = delete(user_departments).where(user_departments.c.corp_id == corp_id, *gone)
    return int(conn.execute(stmt).rowcount or 0)


def mark_user_left(conn: Connection, corp_id: str, userid: str, left_at: datetime | None) -> bool:
    """A user left the organisation (``user_leave_org``): ``status='left'``, ``left_at``, and
    their department and role memberships deleted (as a full walk would). Returns False if the
    user is unknown."""
    n = conn.execute(
        update(users)
        .where(users.c.corp_id == corp_id, users.c.userid == userid)
        .values(status="left", left_at=left_at, synced_at=utcnow(), content_hash=None)
    ).rowcount
    repo.keep_former_memberships(conn, corp_id, user_departments.c.userid == userid)
    conn.execute(
        delete(user_departments).where(
            user_departments.c.corp_id == corp_id, user_departments.c.userid == userid
        )
    )
    # DingTalk takes a departed person out of every role (角色) too.
    conn.execute(
        delete(role_members).where(
            role_members.c.corp_id == corp_id, role_members.c.userid == userid
        )
    )
    return bool(n)


def user_known(conn: Connection, corp_id: str, userid: str) -> bool:
    """True when ``userid`` has a ``users`` row (any status) or a ``leavers`` row in
    ``corp_id``: someone this database has seen."""
    for table in (users, leavers):
        found = conn.execute(
            select(table.c.userid).where(table.c.corp_id == corp_id, table.c.userid == userid)
        ).first()
        if found is not None:
            return True
    return False


def is_admin(conn: Connection, corp_id: str, userid: str) -> bool:
    """True when ``userid`` is stored as an administrator (main or sub) of ``corp_id``."""
    row = conn.execute(
        select(admins.c.userid).where(admins.c.corp_id == corp_id, admins.c.userid == userid)
    ).first()
    return row is not None


def mark_department_removed(conn: Connection, corp_id: str, dept_id: int) -> bool:
    """A department was deleted (``org_dept_remove``): ``status='removed'`` (the row is kept)
    and its memberships deleted. Returns False if the department is unknown."""
    n = conn.execute(
        update(departments)
        .where(departments.c.corp_id == corp_id, departments.c.dept_id == dept_id)
        .values(status="removed", synced_at=utcnow())
    ).rowcount
    repo.keep_former_memberships(conn, corp_id, user_departments.c.dept_id == dept_id)
    conn.execute(
        delete(user_departments).where(
            user_departments.c.corp_id == corp_id, user_departments.c.dept_id == dept_id
        )
    )
    return bool(n)


def has_events(conn: Connection, corp_id: str) -> bool:
    """True when ``corp_id`` has ever received an event (HTTP callback, Stream, failed list):
    events are configured, so the directory follows DingTalk between full walks."""
    return (
        conn.execute(
            select(event_inbox.c.id).where(event_inbox.c.corp_id == corp_id).limit(1)
        ).first()
        is not None
    )


__all__ = [
    "DEFAULT_LEASE",
    "EVENT_ID_MAX",
    "REPLAYABLE",
    "claim_event",
    "count_by_status",
    "finish_event",
    "get_event",
    "has_events",
    "inbox_key",
    "insert_event",
    "is_admin",
    "list_events",
    "mark_department_removed",
    "mark_user_left",
    "replace_user_memberships",
    "requeue_expired",
    "user_known",
]


def inbox_health(conn: Connection, corp_id: str, since: datetime) -> dict[str, Any]:
    """The inbox at a glance (the console's 概览): ``received_since`` (rows received at or
    after ``since``, an aware datetime — the start of today in the company's zone),
    ``by_status`` (``{status: rows}``), ``failed``, ``pending`` (pending or processing),
    ``oldest_pending`` (``received_at`` of the oldest pending/processing row, or ``None``)."""
    by_status = count_by_status(conn, corp_id)
    received = int(
        conn.execute(
            select(func.count())
            .select_from(event_inbox)
            .where(event_inbox.c.corp_id == corp_id, event_inbox.c.received_at >= since)
        ).scalar_one()
    )
    oldest = conn.execute(
        select(func.min(event_inbox.c.received_at)).where(
            event_inbox.c.corp_id == corp_id,
            event_inbox.c.status.in_(("pending", "processing")),
        )
    ).scalar()
    return {
        "received_since": received,
        "by_status": by_status,
        "failed": int(by_status.get("failed", 0)),
        "pending": int(by_status.get("pending", 0) + by_status.get("processing", 0)),
        "oldest_pending": oldest,
    }
