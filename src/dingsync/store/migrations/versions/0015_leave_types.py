"""Leave types (假期类型): the company's leave names and units, for the 请假 columns.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

``vacation/type/list`` gives each leave type's code (what ``getleavestatus`` sends), name (what
``getleavetimebynames`` takes) and unit (``day`` / ``halfDay`` / ``hour``); the monthly summary
shows 请假 per type in its unit. Written by hand to match ``store/schema_attendance.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from dingsync.store.schema import json_type

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "attendance_leave_types"


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


def downgrade() -> None:
    op.drop_table(_TABLE)
