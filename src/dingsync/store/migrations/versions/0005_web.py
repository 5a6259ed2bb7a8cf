"""Web service: sessions, login-code replay cache, local roles, append-only export audit.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Written by hand to match ``dingsync/store/schema_web.py``; tests/store/test_migrations.py
compares. The export audit's append-only triggers (SQLite, PostgreSQL, MySQL) are created here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

from dingsync.store.schema_web import AUDIT_TRIGGER_DROP_SQL, AUDIT_TRIGGER_SQL

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.types.TypeEngine[Any]:
    """schema.UTCDateTime at the database level."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _dialect() -> str:
    name = op.get_bind().dialect.name
    return "mysql" if name == "mariadb" else name


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False, comment="SHA-256 hex of the token"),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("userid", sa.String(64), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
        comment="Web sessions: opaque bearer tokens, stored hashed.",
    )
    op.create_index(
        "ix_web_sessions_corp_id_userid", "web_sessions", ["corp_id", "userid"], unique=False
    )

    op.create_table(
        "web_login_codes",
        sa.Column(
            "code_hash", sa.String(64), nullable=False, comment="SHA-256 hex of the authCode"
        ),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("userid", sa.String(64), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column(
            "sealed_token", sa.LargeBinary(), nullable=False, comment="AES-GCM, key from the code"
        ),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_web_login_codes")),
        comment="Exchanged login codes for the 60 s double-tap rule.",
    )
    op.create_index(
        "ix_web_login_codes_expires_at", "web_login_codes", ["expires_at"], unique=False
    )

    op.create_table(
        "web_user_roles",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("userid", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("granted_at", _ts(), nullable=False),
        sa.Column("granted_by", sa.String(64), nullable=True),
        sa.CheckConstraint("role IN ('hr', 'admin')", name=op.f("ck_web_user_roles_role")),
        sa.PrimaryKeyConstraint("corp_id", "userid", "role", name=op.f("pk_web_user_roles")),
        comment="Local roles granted on top of DingTalk's.",
    )

    op.create_table(
        "web_export_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("userid", sa.String(64), nullable=False, comment="who exported"),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("filters", _json(), nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, comment="SHA-256 hex of the file"),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("client", sa.Text(), nullable=True, comment="web, cli …"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_export_audit")),
        comment="Export audit: append-only (triggers refuse UPDATE and DELETE).",
    )
    op.create_index(
        "ix_web_export_audit_corp_id_created_at",
        "web_export_audit",
        ["corp_id", "created_at"],
        unique=False,
    )
    for statement in AUDIT_TRIGGER_SQL.get(_dialect(), ()):
        op.execute(statement)


def downgrade() -> None:
    for statement in AUDIT_TRIGGER_DROP_SQL.get(_dialect(), ()):
        op.execute(statement)
    op.drop_index("ix_web_export_audit_corp_id_created_at", table_name="web_export_audit")
    op.drop_table("web_export_audit")
    op.drop_table("web_user_roles")
    op.drop_index("ix_web_login_codes_expires_at", table_name="web_login_codes")
    op.drop_table("web_login_codes")
    op.drop_index("ix_web_sessions_corp_id_userid", table_name="web_sessions")
    op.drop_table("web_sessions")
