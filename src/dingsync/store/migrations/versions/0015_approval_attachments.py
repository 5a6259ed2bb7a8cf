"""Approval attachments (审批附件): table ``approval_attachments`` of
``dingsync/store/schema_approvals.py``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

Written by hand to match ``store/schema_approvals.py``; tests/store/test_migrations.py compares.
The table fills on the next sync of each instance (its children are replaced whenever it is
stored); nothing is backfilled here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.String(64), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "approval_attachments",
        _id("corp_id", nullable=False),
        _id("process_instance_id", nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("file_id", sa.String(128), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_type", sa.String(64), nullable=True),
        _id("space_id"),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("component_id", sa.String(128), nullable=True),
        sa.Column("record_seq", sa.Integer(), nullable=True),
        _id("userid"),
        sa.ForeignKeyConstraint(
            ["corp_id", "process_instance_id"],
            ["approval_instances.corp_id", "approval_instances.process_instance_id"],
            name="fk_approval_attachments_instance",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "corp_id", "process_instance_id", "seq", name=op.f("pk_approval_attachments")
        ),
    )
    op.create_index(
        "ix_approval_attachments_file",
        "approval_attachments",
        ["corp_id", "process_instance_id", "file_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_approval_attachments_file", table_name="approval_attachments")
    op.drop_table("approval_attachments")
