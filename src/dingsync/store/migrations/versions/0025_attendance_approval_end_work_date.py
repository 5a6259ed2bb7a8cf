"""attendance_approvals.end_work_date: the last work date an approval covers.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07

A business trip from a Friday to a Monday is one approval (``/v1.0/attendance/approvals/query``)
whose ``work_date`` is the Friday; 每日统计 (``repo_attendance.list_days``) lists the rest days
it spans too, with the approval linked. ``end_work_date`` is the work date of its
``end_time`` (GMT+8), so the days an approval spans are ``work_date..end_work_date`` in plain
SQL on every dialect. Rows synced before it have none (read as ``work_date``) until the next
sync of their range rewrites them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "attendance_approvals",
        sa.Column(
            "end_work_date",
            sa.Date(),
            nullable=True,
            comment="work date of end_time (the last day the approval covers)",
        ),
    )


def downgrade() -> None:
    op.drop_column("attendance_approvals", "end_work_date")
