"""Tables for the web service: sessions, the login-code replay cache, local roles and the export
audit. Defined on the shared :data:`dingsync.store.schema.metadata`.

- ``web_sessions``: opaque bearer tokens, stored only as their SHA-256 (hex); expiry and
  revocation times.
- ``web_login_codes``: a DingTalk login code (authCode) already exchanged, for the 60 s
  double-tap rule. Keyed by a SHA-256 of the code; the session token it produced is kept
  encrypted with a key derived from the code itself (AES-GCM), so the row alone reveals nothing.
- ``web_user_roles``: local roles granted on top of DingTalk's (``hr``, ``admin``).
- ``web_export_audit``: one row per export, append-only — triggers on SQLite and PostgreSQL
  refuse ``UPDATE`` and ``DELETE`` (migration ``0005``; :data:`AUDIT_TRIGGER_SQL`) — and
  hash-chained (``prev_hash``, ``row_hash``; migration ``0013``;
  :mod:`dingsync.store.repo_audit`), so a change made past the triggers shows.

Local account status is ``users.local_disabled`` (foundation schema).

Migration: ``migrations/versions/0005_web.py``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    Table,
)

from dingsync.store.nul import NulSafeString, NulSafeText
from dingsync.store.schema import UTCDateTime, json_type, metadata, utcnow

#: Local roles a user may be granted (``web_user_roles.role``).
LOCAL_ROLES = ("hr", "admin")

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", NulSafeString(64), primary_key=True, comment="SHA-256 hex of the token"),
    Column("corp_id", NulSafeString(64), nullable=False),
    Column("userid", NulSafeString(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Index("ix_web_sessions_corp_id_userid", "corp_id", "userid"),
    comment="Web sessions: opaque bearer tokens, stored hashed.",
)

web_login_codes = Table(
    "web_login_codes",
    metadata,
    Column("code_hash", NulSafeString(64), primary_key=True, comment="SHA-256 hex of the authCode"),
    Column("corp_id", NulSafeString(64), nullable=False),
    Column("userid", NulSafeString(64), nullable=False),
    Column("session_hash", NulSafeString(64), nullable=False),
    Column("sealed_token", LargeBinary(), nullable=False, comment="AES-GCM, key from the code"),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_web_login_codes_expires_at", "expires_at"),
    comment="Exchanged login codes for the 60 s double-tap rule.",
)

web_user_roles = Table(
    "web_user_roles",
    metadata,
    Column("corp_id", NulSafeString(64), primary_key=True),
    Column("userid", NulSafeString(64), primary_key=True),
    Column("role", NulSafeString(32), primary_key=True),
    Column("granted_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("granted_by", NulSafeString(64), nullable=True),
    CheckConstraint("role IN ('hr', 'admin')", name="role"),
    comment="Local roles granted on top of DingTalk's.",
)

web_export_audit = Table(
    "web_export_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("corp_id", NulSafeString(64), nullable=False),
    Column("userid", NulSafeString(64), nullable=False, comment="who exported"),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("kind", NulSafeString(32), nullable=False),
    Column("format", NulSafeString(8), nullable=False),
    Column("filters", json_type(), nullable=True),
    Column("row_count", BigInteger, nullable=False),
    Column("sha256", NulSafeString(64), nullable=False, comment="SHA-256 hex of the file"),
    Column("byte_size", BigInteger, nullable=False),
    Column("client", NulSafeText, nullable=True, comment="web, cli …"),
    Column(
        "prev_hash", NulSafeString(64), nullable=True, comment="row_hash of the row before (chain)"
    ),
    Column(
        "row_hash", NulSafeString(64), nullable=True, comment="SHA-256 of prev_hash and this row"
    ),
    Index("ix_web_export_audit_corp_id_created_at", "corp_id", "created_at"),
    comment="Export audit: append-only (triggers refuse UPDATE and DELETE).",
)

#: The refusal message the audit triggers raise.
AUDIT_APPEND_ONLY_MESSAGE = "web_export_audit is append-only"

#: DDL that makes ``web_export_audit`` append-only, per dialect (run by migration 0005).
AUDIT_TRIGGER_SQL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER web_export_audit_no_update BEFORE UPDATE ON web_export_audit "
        f"BEGIN SELECT RAISE(ABORT, '{AUDIT_APPEND_ONLY_MESSAGE}'); END",
        "CREATE TRIGGER web_export_audit_no_delete BEFORE DELETE ON web_export_audit "
        f"BEGIN SELECT RAISE(ABORT, '{AUDIT_APPEND_ONLY_MESSAGE}'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION web_export_audit_refuse() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION '{AUDIT_APPEND_ONLY_MESSAGE}'; "
        "END $$",
        "CREATE TRIGGER web_export_audit_no_update BEFORE UPDATE OR DELETE ON web_export_audit "
        "FOR EACH ROW EXECUTE FUNCTION web_export_audit_refuse()",
        "CREATE TRIGGER web_export_audit_no_truncate BEFORE TRUNCATE ON web_export_audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION web_export_audit_refuse()",
    ),
    "mysql": (
        "CREATE TRIGGER web_export_audit_no_update BEFORE UPDATE ON web_export_audit "
        "FOR EACH ROW SIGNAL SQLSTATE '45000' "
        f"SET MESSAGE_TEXT = '{AUDIT_APPEND_ONLY_MESSAGE}'",
        "CREATE TRIGGER web_export_audit_no_delete BEFORE DELETE ON web_export_audit "
        "FOR EACH ROW SIGNAL SQLSTATE '45000' "
        f"SET MESSAGE_TEXT = '{AUDIT_APPEND_ONLY_MESSAGE}'",
    ),
}

#: DDL that removes the triggers again (downgrade).
AUDIT_TRIGGER_DROP_SQL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "DROP TRIGGER IF EXISTS web_export_audit_no_update",
        "DROP TRIGGER IF EXISTS web_export_audit_no_delete",
    ),
    "postgresql": (
        "DROP TRIGGER IF EXISTS web_export_audit_no_truncate ON web_export_audit",
        "DROP TRIGGER IF EXISTS web_export_audit_no_update ON web_export_audit",
        "DROP FUNCTION IF EXISTS web_export_audit_refuse()",
    ),
    "mysql": (
        "DROP TRIGGER IF EXISTS web_export_audit_no_update",
        "DROP TRIGGER IF EXISTS web_export_audit_no_delete",
    ),
}

__all__ = [
    "AUDIT_APPEND_ONLY_MESSAGE",
    "AUDIT_TRIGGER_DROP_SQL",
    "AUDIT_TRIGGER_SQL",
    "LOCAL_ROLES",
    "metadata",
    "web_export_audit",
    "web_login_codes",
    "web_sessions",
    "web_user_roles",
]
