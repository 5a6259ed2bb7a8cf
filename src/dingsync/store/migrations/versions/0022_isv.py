"""Third-party (ISV) suites: ``isv_suite_tickets`` and ``isv_corp_auth`` of
``dingsync/store/schema_isv.py``.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06

Written by hand to match ``store/schema_isv.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "isv_suite_tickets",
        sa.Column("suite_key", sa.String(64), nullable=False),
        sa.Column("ticket", sa.Text(), nullable=False),
        sa.Column(
            "ticket_ms", sa.BigInteger(), nullable=False, comment="epoch ms DingTalk pushed it"
        ),
        sa.Column("source", sa.String(16), nullable=False, comment="http | stream | manual"),
        sa.Column("received_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("suite_key", name=op.f("pk_isv_suite_tickets")),
        comment="The latest suite_ticket of each third-party suite (no TTL).",
    )
    op.create_table(
        "isv_corp_auth",
        sa.Column("suite_key", sa.String(64), nullable=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("corp_name", sa.String(255), nullable=True),
        sa.Column("agent_id", sa.BigInteger(), nullable=True),
        sa.Column("app_id", sa.BigInteger(), nullable=True),
        sa.Column("admin_list", _json(), nullable=True),
        sa.Column("auth_user_id", sa.String(64), nullable=True),
        sa.Column("auth_scope", _json(), nullable=True),
        sa.Column("auth_level", sa.BigInteger(), nullable=True),
        sa.Column(
            "permanent_code", sa.Text(), nullable=True, comment="legacy suites only; a secret"
        ),
        sa.Column("activated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("app_status", sa.String(16), nullable=False),
        sa.Column(
            "last_event_ms",
            sa.BigInteger(),
            nullable=True,
            comment="newest event applied, epoch ms",
        ),
        sa.Column("authorised_at", _ts(), nullable=True),
        sa.Column("relieved_at", _ts(), nullable=True),
        sa.Column("sync_requested_at", _ts(), nullable=True),
        sa.Column("raw", _json(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.CheckConstraint(
            "status IN ('authorised', 'relieved')", name=op.f("ck_isv_corp_auth_status")
        ),
        sa.CheckConstraint(
            "app_status IN ('active', 'stopped', 'removed')",
            name=op.f("ck_isv_corp_auth_app_status"),
        ),
        sa.PrimaryKeyConstraint("suite_key", "corp_id", name=op.f("pk_isv_corp_auth")),
        comment="Each company's authorisation of a third-party suite.",
    )
    op.create_index("ix_isv_corp_auth_corp_id", "isv_corp_auth", ["corp_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_isv_corp_auth_corp_id", table_name="isv_corp_auth")
    op.drop_table("isv_corp_auth")
    op.drop_table("isv_suite_tickets")
