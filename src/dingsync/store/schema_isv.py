"""Tables of third-party (ISV) suites: the latest ``suite_ticket`` per suite and each
company's authorisation. Defined on the shared :data:`dingsync.store.schema.metadata`;
migration ``migrations/versions/0022_isv.py``.

``isv_suite_tickets``: one row per suite. ``ticket_ms`` is when DingTalk pushed the ticket
(the event's ``TimeStamp``/``eventBornTime``, epoch ms); a ticket replaces the stored one only
when its ``ticket_ms`` is newer (``dingsync.store.isv.offer_ticket``), so receivers getting
pushes out of order keep the newest. No TTL: a ticket lives until the next one.

``isv_corp_auth``: one row per (``suite_key``, ``corp_id``). ``status`` ``authorised`` /
``relieved``; ``app_status`` ``active`` / ``stopped`` / ``removed`` (the company's
administrator stopped or removed the app); ``agent_id`` (the suite's app in that company),
``admin_list`` (userids), ``auth_scope`` (``{authedDept: [dept_id], authedUser: [userid]}``),
``auth_user_id`` (who authorised); ``permanent_code`` only for legacy suites (a secret: never
logged or exported); ``activated`` (legacy ``activate_suite`` done); ``last_event_ms``: the
newest event applied (an older one arriving late changes nothing); ``sync_requested_at``:
when a (first) full sync was asked for, cleared by whoever runs it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Column, Index, Table

from dingsync.store.nul import NulSafeString, NulSafeText
from dingsync.store.schema import UTCDateTime, json_type, metadata, utcnow

CORP_STATUSES = ("authorised", "relieved")
APP_STATUSES = ("active", "stopped", "removed")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


isv_suite_tickets = Table(
    "isv_suite_tickets",
    metadata,
    Column("suite_key", NulSafeString(64), primary_key=True),
    Column("ticket", NulSafeText, nullable=False),
    Column("ticket_ms", BigInteger, nullable=False, comment="epoch ms DingTalk pushed it"),
    Column("source", NulSafeString(16), nullable=False, comment="http | stream | manual"),
    Column("received_at", UTCDateTime(), nullable=False, default=utcnow),
    comment="The latest suite_ticket of each third-party suite (no TTL).",
)

isv_corp_auth = Table(
    "isv_corp_auth",
    metadata,
    Column("suite_key", NulSafeString(64), primary_key=True),
    Column("corp_id", NulSafeString(64), primary_key=True),
    Column("corp_name", NulSafeString(255)),
    Column("agent_id", BigInteger),
    Column("app_id", BigInteger),
    Column("admin_list", json_type()),
    Column("auth_user_id", NulSafeString(64)),
    Column("auth_scope", json_type()),
    Column("auth_level", BigInteger),
    Column("permanent_code", NulSafeText, comment="legacy suites only; a secret"),
    Column("activated", Boolean, nullable=False, default=False),
    Column("status", NulSafeString(16), nullable=False, default="authorised"),
    Column("app_status", NulSafeString(16), nullable=False, default="active"),
    Column("last_event_ms", BigInteger, comment="newest event applied, epoch ms"),
    Column("authorised_at", UTCDateTime()),
    Column("relieved_at", UTCDateTime()),
    Column("sync_requested_at", UTCDateTime()),
    Column("raw", json_type()),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow),
    CheckConstraint(_in("status", CORP_STATUSES), name="status"),
    CheckConstraint(_in("app_status", APP_STATUSES), name="app_status"),
    comment="Each company's authorisation of a third-party suite.",
)

Index("ix_isv_corp_auth_corp_id", isv_corp_auth.c.corp_id)

__all__ = ["APP_STATUSES", "CORP_STATUSES", "isv_corp_auth", "isv_suite_tickets"]
