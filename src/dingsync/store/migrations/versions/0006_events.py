"""Events: the ``event_inbox`` table of ``dingsync/store/schema_events.py``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Written by hand to match ``store/schema_events.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
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
        "event_inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column(
            "event_id",
            sa.String(128),
            nullable=False,
            comment="eventId/BizId or a payload hash",
        ),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column(
            "source",
            sa.String(16),
            nullable=False,
            comment="http | stream | failed_list | manual",
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("event_time", _ts(), nullable=True, comment="when DingTalk says it happened"),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("processed_at", _ts(), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'processed', 'failed', 'skipped')",
            name=op.f("ck_event_inbox_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_inbox")),
        sa.UniqueConstraint("corp_id", "event_id", name=op.f("uq_event_inbox_corp_id_event_id")),
        comment="Every received DingTalk event, stored before it is acknowledged.",
    )
    op.create_index(
        "ix_event_inbox_corp_id_status", "event_inbox", ["corp_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_event_inbox_corp_id_status", table_name="event_inbox")
    op.drop_table("event_inbox")
