"""Reports (日志): tables of ``dingsync/store/schema_reports.py``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Written by hand to match ``store/schema_reports.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.types.TypeEngine[Any]:
    """schema.UTCDateTime at the database level."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _id(name: str, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.String(64), **kw)


def _report_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["corp_id", "report_id"],
        ["reports.corp_id", "reports.report_id"],
        name=op.f(f"fk_{table}_corp_id_report_id_reports"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "report_templates",
        _id("corp_id", nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        _id("report_code", nullable=True),
        _id("template_id", nullable=True),
        sa.Column("icon_url", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("default_receivers", _json(), nullable=True),
        sa.Column("fields_synced", sa.Boolean(), nullable=False),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.PrimaryKeyConstraint("corp_id", "name", name=op.f("pk_report_templates")),
    )
    op.create_table(
        "report_template_fields",
        _id("corp_id", nullable=False),
        sa.Column("template_name", sa.String(255), nullable=False),
        sa.Column("sort", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("field_name", sa.String(255), nullable=False),
        sa.Column("type", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corp_id", "template_name"],
            ["report_templates.corp_id", "report_templates.name"],
            name=op.f("fk_report_template_fields_corp_id_template_name_report_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "corp_id", "template_name", "sort", name=op.f("pk_report_template_fields")
        ),
    )
    op.create_table(
        "reports",
        _id("corp_id", nullable=False),
        _id("report_id", nullable=False),
        sa.Column("template_name", sa.String(255), nullable=True),
        _id("creator_id", nullable=True),
        sa.Column("creator_name", sa.String(255), nullable=True),
        sa.Column("dept_name", sa.Text(), nullable=True),
        sa.Column("create_time", _ts(), nullable=True),
        sa.Column("modified_time", _ts(), nullable=True),
        sa.Column("remark", sa.Text(), nullable=True),
        sa.Column("images", _json(), nullable=True),
        sa.Column("latitude", sa.String(32), nullable=True),
        sa.Column("longitude", sa.String(32), nullable=True),
        sa.Column("receivers_synced", sa.Boolean(), nullable=False),
        sa.Column("details_synced_at", _ts(), nullable=True),
        sa.Column("last_seen_run_id", sa.Integer(), nullable=True),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.PrimaryKeyConstraint("corp_id", "report_id", name=op.f("pk_reports")),
    )
    op.create_index(
        "ix_reports_corp_id_template_name_create_time",
        "reports",
        ["corp_id", "template_name", "create_time"],
        unique=False,
    )
    op.create_index(
        "ix_reports_corp_id_creator_id_create_time",
        "reports",
        ["corp_id", "creator_id", "create_time"],
        unique=False,
    )
    op.create_index(
        "ix_reports_corp_id_modified_time", "reports", ["corp_id", "modified_time"], unique=False
    )
    op.create_table(
        "report_contents",
        _id("corp_id", nullable=False),
        _id("report_id", nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(255), nullable=True),
        sa.Column("sort", sa.String(16), nullable=True),
        sa.Column("type", sa.String(16), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        _report_fk("report_contents"),
        sa.PrimaryKeyConstraint(
            "corp_id", "report_id", "position", name=op.f("pk_report_contents")
        ),
    )
    op.create_table(
        "report_receivers",
        _id("corp_id", nullable=False),
        _id("report_id", nullable=False),
        _id("userid", nullable=False),
        _report_fk("report_receivers"),
        sa.PrimaryKeyConstraint("corp_id", "report_id", "userid", name=op.f("pk_report_receivers")),
    )
    op.create_index(
        "ix_report_receivers_corp_id_userid",
        "report_receivers",
        ["corp_id", "userid"],
        unique=False,
    )
    op.create_table(
        "report_comments",
        _id("corp_id", nullable=False),
        _id("report_id", nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        _id("userid", nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("create_time_text", sa.String(32), nullable=True),
        sa.Column("created_at", _ts(), nullable=True),
        _report_fk("report_comments"),
        sa.PrimaryKeyConstraint(
            "corp_id", "report_id", "position", name=op.f("pk_report_comments")
        ),
    )
    op.create_table(
        "report_user_stats",
        _id("corp_id", nullable=False),
        _id("report_id", nullable=False),
        sa.Column("type", sa.SmallInteger(), autoincrement=False, nullable=False),
        _id("userid", nullable=False),
        _report_fk("report_user_stats"),
        sa.PrimaryKeyConstraint(
            "corp_id", "report_id", "type", "userid", name=op.f("pk_report_user_stats")
        ),
    )


def downgrade() -> None:
    op.drop_table("report_user_stats")
    op.drop_table("report_comments")
    op.drop_index("ix_report_receivers_corp_id_userid", table_name="report_receivers")
    op.drop_table("report_receivers")
    op.drop_table("report_contents")
    op.drop_index("ix_reports_corp_id_modified_time", table_name="reports")
    op.drop_index("ix_reports_corp_id_creator_id_create_time", table_name="reports")
    op.drop_index("ix_reports_corp_id_template_name_create_time", table_name="reports")
    op.drop_table("reports")
    op.drop_table("report_template_fields")
    op.drop_table("report_templates")
