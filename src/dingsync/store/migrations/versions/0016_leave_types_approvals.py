"""Leave types (假期类型) and attendance approvals (出差 / 外出), for the 考勤报表 columns.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

``vacation/type/list`` gives each leave type's code (what ``getleavestatus`` sends), name (what
``getleavetimebynames`` takes) and unit (``day`` / ``halfDay`` / ``hour``); the monthly summary
shows 请假 per type in its unit. ``/v1.0/attendance/approvals/query`` gives the business trips
and outings (``bizType`` 2) whose ``approveId`` the covered results carry: 出差时长, 外出时长.
Written by hand to match ``store/schema_attendance.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from dingsync.store.schema import json_type

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "attendance_leave_types"
_WORK_DATE = "work date: the calendar date in Asia/Shanghai (DingTalk's workDate)"


def _ts() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column(
            "leave_code", sa.String(128), nullable=False, comment="getleavestatus leave_code"
        ),
        sa.Column(
            "leave_name",
            sa.String(255),
            nullable=True,
            comment="the name getleavetimebynames takes",
        ),
        sa.Column("leave_view_unit", sa.String(16), nullable=True, comment="day | halfDay | hour"),
        sa.Column(
            "day_length",
            sa.Integer(),
            nullable=True,
            comment="hours_in_per_day: hours in a leave day × 100",
        ),
        sa.Column(
            "position",
            sa.Integer(),
            nullable=True,
            comment="order in DingTalk's list (the report's column order)",
        ),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", json_type(), nullable=True),
        sa.PrimaryKeyConstraint("corp_id", "leave_code", name=op.f("pk_attendance_leave_types")),
        comment="Leave types (假期类型, vacation/type/list): names and units of the 请假 columns.",
    )
    op.create_table(
        "attendance_approvals",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("userid", sa.String(64), nullable=False),
        sa.Column(
            "approve_id",
            sa.String(64),
            nullable=False,
            comment="the approveId results linked to it carry",
        ),
        sa.Column(
            "biz_type", sa.Integer(), nullable=True, comment="1 overtime, 2 trip/outing, 3 leave"
        ),
        sa.Column("tag_name", sa.String(32), nullable=True, comment="出差 / 外出 / 加班 / 请假"),
        sa.Column("sub_type", sa.String(255), nullable=True),
        sa.Column("begin_time", _ts(), nullable=False),
        sa.Column("end_time", _ts(), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False, comment=_WORK_DATE + " of begin_time"),
        sa.Column("duration_unit", sa.String(16), nullable=True, comment="DAY | HOUR | …"),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", json_type(), nullable=True),
        sa.PrimaryKeyConstraint(
            "corp_id", "userid", "approve_id", name=op.f("pk_attendance_approvals")
        ),
        comment="Approvals bearing on attendance (/v1.0/attendance/approvals/query): trips, "
        "outings.",
    )


def downgrade() -> None:
    op.drop_table("attendance_approvals")
    op.drop_table(_TABLE)
