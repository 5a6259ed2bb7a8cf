"""Indexes for 日志统计 (report compliance): who submitted a template, and each person's first
report per period, read from indexes alone.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06

- ``reports (corp_id, template_name, creator_id)``: the people expected to write a template
  (everyone who ever did) without visiting the table (SQLite chose the creator index and read
  every row of the company for it).
- ``reports (corp_id, template_name, create_time, creator_id)`` replaces ``(corp_id,
  template_name, create_time)`` (same prefix, so the same queries use it) and covers the earliest
  report per person × period (``export.reports.first_reports``) without visiting the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "ix_reports_corp_id_template_name_create_time"
_COVERING = "ix_reports_corp_id_template_name_create_time_creator_id"
_CREATORS = "ix_reports_corp_id_template_name_creator_id"


def upgrade() -> None:
    op.create_index(_COVERING, "reports", ["corp_id", "template_name", "create_time", "creator_id"])
    op.drop_index(_OLD, table_name="reports")
    op.create_index(_CREATORS, "reports", ["corp_id", "template_name", "creator_id"])


def downgrade() -> None:
    op.drop_index(_CREATORS, table_name="reports")
    op.create_index(_OLD, "reports", ["corp_id", "template_name", "create_time"])
    op.drop_index(_COVERING, table_name="reports")
