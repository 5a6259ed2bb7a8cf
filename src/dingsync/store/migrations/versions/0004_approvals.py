"""Approvals (审批): tables of ``dingsync/store/schema_approvals.py``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Written by hand to match ``store/schema_approvals.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _id(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.String(64), nullable=nullable)


def _key() -> list[sa.Column[Any]]:
    return [_id("corp_id", nullable=False), _id("process_instance_id", nullable=False)]


def _fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["corp_id", "process_instance_id"],
        ["approval_instances.corp_id", "approval_instances.process_instance_id"],
        name=f"fk_{table}_instance",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "approval_templates",
        _id("corp_id", nullable=False),
        _id("process_code", nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("icon_url", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("dir_name", sa.String(255), nullable=True),
        sa.Column("form_uuid", sa.String(64), nullable=True),
        sa.Column("schema_status", sa.String(32), nullable=True),
        sa.Column("fields", _json(), nullable=True),
        sa.Column("gmt_modified", _ts(), nullable=True),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.PrimaryKeyConstraint("corp_id", "process_code", name=op.f("pk_approval_templates")),
    )
    op.create_table(
        "approval_instances",
        *_key(),
        _id("process_code", nullable=False),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("business_id", sa.String(64), nullable=True),
        _id("originator_userid"),
        _id("originator_dept_id"),
        sa.Column("originator_dept_name", sa.String(255), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("result", sa.String(32), nullable=True),
        sa.Column("create_time", _ts(), nullable=True),
        sa.Column("finish_time", _ts(), nullable=True),
        sa.Column("biz_action", sa.String(32), nullable=True),
        _id("main_process_instance_id"),
        sa.Column("attached_process_instance_ids", _json(), nullable=True),
        sa.Column("approver_userids", _json(), nullable=True),
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.PrimaryKeyConstraint(
            "corp_id", "process_instance_id", name=op.f("pk_approval_instances")
        ),
    )
    op.create_index(
        "ix_approval_instances_code_create",
        "approval_instances",
        ["corp_id", "process_code", "create_time"],
        unique=False,
    )
    op.create_index(
        "ix_approval_instances_status", "approval_instances", ["corp_id", "status"], unique=False
    )
    op.create_table(
        "approval_form_values",
        *_key(),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("component_id", sa.String(128), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("component_type", sa.String(64), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("ext_value", sa.Text(), nullable=True),
        sa.Column("parsed", _json(), nullable=True),
        _fk("approval_form_values"),
        sa.PrimaryKeyConstraint(
            "corp_id", "process_instance_id", "seq", name=op.f("pk_approval_form_values")
        ),
    )
    op.create_table(
        "approval_detail_rows",
        *_key(),
        sa.Column("field_seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("row_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("component_id", sa.String(128), nullable=True),
        sa.Column("field_name", sa.String(255), nullable=True),
        sa.Column("cells", _json(), nullable=True),
        _fk("approval_detail_rows"),
        sa.PrimaryKeyConstraint(
            "corp_id",
            "process_instance_id",
            "field_seq",
            "row_no",
            name=op.f("pk_approval_detail_rows"),
        ),
    )
    op.create_table(
        "approval_tasks",
        *_key(),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        _id("taskid"),
        _id("userid"),
        sa.Column("task_status", sa.String(32), nullable=True),
        sa.Column("task_result", sa.String(32), nullable=True),
        sa.Column("create_time", _ts(), nullable=True),
        sa.Column("finish_time", _ts(), nullable=True),
        sa.Column("activity_id", sa.String(128), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        _fk("approval_tasks"),
        sa.PrimaryKeyConstraint(
            "corp_id", "process_instance_id", "seq", name=op.f("pk_approval_tasks")
        ),
    )
    op.create_table(
        "approval_operation_records",
        *_key(),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        _id("userid"),
        sa.Column("date", _ts(), nullable=True),
        sa.Column("operation_type", sa.String(64), nullable=True),
        sa.Column("operation_result", sa.String(32), nullable=True),
        sa.Column("remark", sa.Text(), nullable=True),
        sa.Column("attachments", _json(), nullable=True),
        _fk("approval_operation_records"),
        sa.PrimaryKeyConstraint(
            "corp_id", "process_instance_id", "seq", name=op.f("pk_approval_operation_records")
        ),
    )
    op.create_table(
        "approval_cc",
        *_key(),
        _id("userid", nullable=False),
        _fk("approval_cc"),
        sa.PrimaryKeyConstraint(
            "corp_id", "process_instance_id", "userid", name=op.f("pk_approval_cc")
        ),
    )


def downgrade() -> None:
    op.drop_table("approval_cc")
    op.drop_table("approval_operation_records")
    op.drop_table("approval_tasks")
    op.drop_table("approval_detail_rows")
    op.drop_table("approval_form_values")
    op.drop_index("ix_approval_instances_status", table_name="approval_instances")
    op.drop_index("ix_approval_instances_code_create", table_name="approval_instances")
    op.drop_table("approval_instances")
    op.drop_table("approval_templates")
