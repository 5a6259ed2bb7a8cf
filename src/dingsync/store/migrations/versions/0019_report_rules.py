"""Report statistics rules (``report_rules``), the state of a content value
(``report_contents.state``: a table field or a text DingTalk cut) and a report's read/comment/
like counts (``reports.read_num`` …).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

Written by hand to match ``store/schema_reports.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: ``reports`` columns for ``report/statistics``' counts.
_COUNTS = ("read_num", "comment_num", "comment_user_num", "like_num")


def _ts() -> sa.types.TypeEngine[Any]:
    """schema.UTCDateTime at the database level."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "report_rules",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("template_name", sa.String(255), nullable=False),
        sa.Column("remind_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("template_id", sa.String(64), nullable=True),
        sa.Column("period_type", sa.Integer(), nullable=True),
        sa.Column("start_date_time", _json(), nullable=True),
        sa.Column("end_date_time", _json(), nullable=True),
        sa.Column("userids", _json(), nullable=True),
        sa.Column("creator_id", sa.String(64), nullable=True),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corp_id", "template_name"],
            ["report_templates.corp_id", "report_templates.name"],
            name=op.f("fk_report_rules_corp_id_template_name_report_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "corp_id", "template_name", "remind_id", name=op.f("pk_report_rules")
        ),
    )
    op.add_column("report_contents", sa.Column("state", sa.String(16), nullable=True))
    for name in _COUNTS:
        op.add_column("reports", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        for name in _COUNTS:
            batch.drop_column(name)
    with op.batch_alter_table("report_contents") as batch:
        batch.drop_column("state")
    op.drop_table("report_rules")
