"""Indexes for 每日统计's days without results: punches, leave and approvals by work date.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07

``GET /api/attendance/daily`` (``repo_attendance.list_days``) pages over the UNION of the
person-days with results and those with a valid punch, approved leave or a trip, outing or
overtime approval (rest days and holidays, as DingTalk's 每日统计 lists them). These
``(corp_id, work_date, userid)`` indexes let each part read only the range asked for, from the
index alone (``attendance_records`` had only ``(corp_id, userid, user_check_time)``).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_attendance_records_corp_id_work_date_userid": "attendance_records",
    "ix_attendance_leaves_corp_id_work_date_userid": "attendance_leaves",
    "ix_attendance_approvals_corp_id_work_date_userid": "attendance_approvals",
}


def upgrade() -> None:
    for name, table in _INDEXES.items():
        op.create_index(name, table, ["corp_id", "work_date", "userid"])


def downgrade() -> None:
    for name, table in _INDEXES.items():
        op.drop_index(name, table_name=table)
