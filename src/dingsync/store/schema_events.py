"""Tables for events: the inbox every received DingTalk event is written to before it is ACKed.

Defined on the shared :data:`dingsync.store.schema.metadata`.

Migrations: ``migrations/versions/0006_events.py``; ``0012_event_lease.py`` (``lease_until``).

``event_inbox``: one row per (``corp_id``, ``event_id``) — the unique key is what makes a
retried, duplicated or redelivered event be processed once. ``status``: ``pending`` (stored, not
yet processed), ``processing``, ``processed``, ``failed`` (``attempts``/``last_error`` say why;
``dingsync events replay`` retries it), ``skipped`` (nothing to do, e.g. an event kind whose area
is not built). ``payload`` is the normalised event (``Event.to_json()``) including the raw body.
``event_id`` is DingTalk's id as sent when it fits 128 characters, else its first 63 characters,
``#`` and the SHA-256 of the whole id (:func:`dingsync.store.repo_events.inbox_key`).
``lease_until``: while ``processing``, when the worker's claim expires; a row still
``processing`` after it (the worker died) goes back to ``pending``.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Index,
    Integer,
    Table,
    UniqueConstraint,
)

from dingsync.store.nul import NulSafeString, NulSafeText
from dingsync.store.schema import UTCDateTime, json_type, metadata, utcnow

INBOX_STATUSES = ("pending", "processing", "processed", "failed", "skipped")
INBOX_SOURCES = ("http", "stream", "failed_list", "manual")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


event_inbox = Table(
    "event_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("corp_id", NulSafeString(64), nullable=False),
    Column(
        "event_id", NulSafeString(128), nullable=False, comment="eventId/BizId or a payload hash"
    ),
    Column("event_type", NulSafeString(64), nullable=False),
    Column(
        "source", NulSafeString(16), nullable=False, comment="http | stream | failed_list | manual"
    ),
    Column("status", NulSafeString(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", NulSafeText),
    Column("event_time", UTCDateTime(), comment="when DingTalk says it happened"),
    Column("received_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("processed_at", UTCDateTime()),
    Column(
        "lease_until",
        UTCDateTime(),
        comment="processing: the claim expires then and the row goes back to pending",
    ),
    Column("payload", json_type(), nullable=False),
    CheckConstraint(_in("status", INBOX_STATUSES), name="status"),
    UniqueConstraint("corp_id", "event_id"),
    Index("ix_event_inbox_corp_id_status", "corp_id", "status"),
    comment="Every received DingTalk event, stored before it is acknowledged.",
)

__all__ = ["INBOX_SOURCES", "INBOX_STATUSES", "event_inbox", "metadata"]
